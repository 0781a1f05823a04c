"""The book's citable pages, generated at build time: results, claims ledger, errata, how to cite.

Each page has a source in ``book/`` with a marker comment that :func:`fill_pages` replaces in the
staged copy:

- ``results.md`` (``<!-- results-table -->``): every reproduced number of the build
  (:mod:`bookbuild.registry`), one table per chapter, each row with a stable anchor
  ``results.html#<chapter>-<key>``; the same rows as JSON and CSV downloads, and each chapter's
  provenance receipt (:mod:`bookbuild.receipts`);
- ``claims.md`` (``<!-- claims-table -->``): the ledger in ``book/claims.yaml``: every numbered
  statement and experiment of the paper, the section and the tests that check it, its status;
- ``errata.md`` (``<!-- errata-list -->``): the entries of ``book/errata.yaml``, their
  counterexamples filled with numbers from the results registry (``[[chapter/key|format]]``);
- ``cite.md`` (``<!-- cite-entries -->``): BibTeX for the paper and for this companion (version
  from ``CITATION.cff``, the commit and its date), and how to cite one result by its key.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from bookbuild.registry import (
    STATUSES,
    ChapterResults,
    Row,
    gather,
    params_hash,
    rows_csv,
    rows_json,
)
from contexture.runtime.formatting import fmt, fmt_tol
from contexture.runtime.provenance import git_commit

__all__ = ["MARKERS", "CLAIM_STATUSES", "PageError", "load_claims", "load_errata",
           "label_role", "fill_placeholders", "results_markdown", "claims_markdown",
           "errata_markdown", "cite_markdown", "fill_pages"]

MARKERS = {"results.md": "<!-- results-table -->", "claims.md": "<!-- claims-table -->",
           "errata.md": "<!-- errata-list -->", "cite.md": "<!-- cite-entries -->"}
CLAIM_STATUSES = ("reproduced", "corrected", "not reproduced", "not covered")
_PLACEHOLDER = re.compile(r"\[\[([a-z0-9_]+)/([a-z0-9_]+)(?:\|([^\]]+))?\]\]")
_DOWNLOADS = "_results"


class PageError(ValueError):
    """A ledger, errata entry or placeholder that does not resolve; the message says which."""


# ----------------------------------------------------------------------------- data files

def _load_list(book_dir: Path, name: str, key: str) -> list[dict[str, Any]]:
    data = yaml.safe_load((book_dir / name).read_text(encoding="utf-8")) or {}
    entries = data.get(key)
    if not isinstance(entries, list):
        raise PageError(f"book/{name}: expected a top-level {key!r} list")
    return entries


def load_claims(book_dir: Path) -> list[dict[str, Any]]:
    """The claims of ``book/claims.yaml`` (a list of mappings; see that file's header)."""
    return _load_list(book_dir, "claims.yaml", "claims")


def load_errata(book_dir: Path) -> list[dict[str, Any]]:
    """The entries of ``book/errata.yaml``."""
    return _load_list(book_dir, "errata.yaml", "errata")


def label_role(book_dir: Path, section: str) -> tuple[str, str, str]:
    """``(role, chapter, label)`` for ``section`` = ``chapter#label``: ``prf:ref`` for a proof
    box label, ``ref`` for a target or a figure name, ``doc`` for a bare chapter.

    Raises :class:`PageError` when the chapter or the label does not exist.
    """
    chapter, _, label = section.partition("#")
    source = book_dir / "chapters" / f"{chapter}.md"
    if not source.is_file():
        raise PageError(f"section {section!r}: no chapter book/chapters/{chapter}.md")
    if not label:
        return "doc", chapter, ""
    text = source.read_text(encoding="utf-8")
    if re.search(rf"^:label:\s*{re.escape(label)}\s*$", text, flags=re.M):
        return "prf:ref", chapter, label
    if re.search(rf"^(\({re.escape(label)}\)=|:name:\s*{re.escape(label)})\s*$", text,
                 flags=re.M):
        return "ref", chapter, label
    raise PageError(f"section {section!r}: label {label!r} is not defined in "
                    f"book/chapters/{chapter}.md")


def _chapter_short(chapter: str) -> str:
    """``ch05_optimality`` -> ``Ch. 5``; other pages keep their file name."""
    m = re.match(r"ch(\d+)_", chapter)
    return f"Ch. {int(m.group(1))}" if m else chapter


def _section_link(book_dir: Path, section: str | None, text: str | None,
                  present: set[str]) -> str:
    """A checked cross-reference to ``chapter#label`` (text: the chapter's number if None)."""
    if not section:
        return "–"
    role, chapter, label = label_role(book_dir, section)
    text = text or _chapter_short(chapter)
    if chapter not in present:  # a partial build: the page is not there to link to
        return f"{text} (`{chapter}`, not in this build)"
    if role == "doc":
        return f"{{doc}}`{text} <chapters/{chapter}>`"
    return f"{{{role}}}`{text} <{label}>`"


# ----------------------------------------------------------------------------- values

def _value_text(value: Any, digits: int = 4) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int | float):
        return fmt(value, digits)
    if isinstance(value, list):
        shown = ", ".join(_value_text(v, 3) for v in value[:4])
        return f"[{shown}{', …' if len(value) > 4 else ''}] ({len(value)} values)"
    return str(value)


def _rows_by_key(chapters: list[ChapterResults]) -> dict[str, Row]:
    return {r.cite_key: r for c in chapters for r in c.rows}


def fill_placeholders(text: str, chapters: list[ChapterResults], *, where: str) -> str:
    """Replace ``[[chapter/key]]`` (``[[chapter/key|.3f]]``) by the recorded values.

    A key of a chapter that is not in this build reads "(not computed in this build)"; a key that
    its chapter did not record raises :class:`PageError`.
    """
    entries = {c.chapter: c.entries for c in chapters}

    def one(m: re.Match[str]) -> str:
        chapter, key, spec = m.groups()
        if chapter not in entries:
            return "(not computed in this build)"
        if key not in entries[chapter]:
            raise PageError(f"{where}: [[{chapter}/{key}]] was not recorded by {chapter}")
        value = entries[chapter][key]["value"]
        if spec:
            return format(value, spec)
        return _value_text(value)

    return _PLACEHOLDER.sub(one, text)


# ----------------------------------------------------------------------------- results page

def _chapter_title(book_dir: Path, chapter: str) -> str:
    source = book_dir / "chapters" / f"{chapter}.md"
    if source.is_file():
        for line in source.read_text(encoding="utf-8").splitlines():
            if line.startswith("# "):
                return line[2:].strip()
    return chapter


def _row_html(r: Row) -> str:
    esc = html.escape
    ours = _value_text(r.value)
    if r.interval:
        seeds = f", {r.n_seeds} seeds" if r.n_seeds else ""
        ours += f" [{fmt(r.interval[0], 3)}, {fmt(r.interval[1], 3)}{seeds}]"
    what = r.note or r.key.replace("_", " ")
    if r.kind == "check":
        what = f"check: {what}"
        if r.lhs is not None and r.rhs is not None:
            what += f" (sides {fmt(r.lhs, 4)} and {fmt(r.rhs, 4)})"
    paper = "" if r.paper is None else _value_text(r.paper)
    diff = "" if r.difference is None else fmt(r.difference, 3)
    tol = "" if r.tol is None else fmt_tol(float(r.tol))
    chapter, _, anchor = r.section.partition("#")
    href = f"chapters/{chapter}.html" + (f"#{anchor}" if anchor else "")
    status = r.status.replace(" ", "-")
    text = "" if isinstance(r.value, int | float) else ' class="text-value"'  # may wrap
    return (f'<tr id="{esc(r.id)}"><td><a class="result-key" href="#{esc(r.id)}">'
            f'{esc(r.key)}</a><br><span class="result-what">{esc(what)}</span></td>'
            f"<td{text}>{esc(ours)}</td><td{text}>{esc(paper)}</td><td>{esc(diff)}</td>"
            f"<td>{esc(tol)}</td>"
            f'<td class="status status-{status}">{esc(r.status)}</td>'
            f'<td><a class="result-section" href="{esc(href)}">section</a></td></tr>')


def results_markdown(chapters: list[ChapterResults], book_dir: Path, profile: str,
                     downloads: str = _DOWNLOADS) -> str:
    """The body of the results page (see the module docstring)."""
    rows = [r for c in chapters for r in c.rows]
    counts = Counter(r.status for r in rows)
    summary = ", ".join(f"{counts.get(s, 0):,} {s}" for s in STATUSES)
    lines = [
        f"This build (profile **`{profile}`**, commit **`{git_commit()}`**) records "
        f"**{len(rows):,}** reproduced numbers in {sum(bool(c.rows) for c in chapters)} chapters: "
        f"{summary}.",
        "",
        f"Download every row: {{download}}`results.json <{downloads}/results.json>` · "
        f"{{download}}`results.csv <{downloads}/results.csv>`.",
        "",
    ]
    for c in (c for c in chapters if c.rows):  # a chapter of settings only has no table
        prov = c.provenance
        title = _chapter_title(book_dir, c.chapter)
        receipt = Path(downloads) / "receipts" / f"{c.chapter}.json"
        lines += [
            f"## {title}", "",
            f"Computed by {{doc}}`chapters/{c.chapter}` (`{c.chapter}`) at commit "
            f"`{prov.get('commit', 'unknown')}`, profile `{prov.get('profile', profile)}`, "
            f"parameter hash `{params_hash(prov.get('parameters'))}`, seed "
            f"`{prov.get('seed')}`, on {prov.get('device', 'an unrecorded device')}; "
            f"provenance receipt: {{download}}`{c.chapter}.json <{receipt.as_posix()}>`.", "",
        ]
        head = "".join(f"<th>{h}</th>" for h in ("Result", "Ours", "Paper", "Difference",
                                                 "Tolerance", "Status", "Where"))
        body = "".join(_row_html(r) for r in c.rows)
        lines += [f'<div class="table-wrapper"><table class="results-table registry-table">'
                  f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>", ""]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- ledger

def _table_cell(text: str) -> str:
    """Text for a Markdown table cell: a ``|`` inside ``$…$`` math becomes ``\\vert{}``, one
    outside it is escaped, so that neither splits the cell."""
    parts = str(text).split("$")
    return "$".join(part.replace("|", r"\vert{}") if i % 2 else part.replace("|", r"\|")
                    for i, part in enumerate(parts))


def claims_markdown(claims: list[dict[str, Any]], chapters: list[ChapterResults],
                    book_dir: Path, present: set[str]) -> str:
    """The body of the claims ledger page: one row per claim of ``book/claims.yaml``.

    ``present`` names the chapters in this build (links to the others become plain text).
    """
    rows = _rows_by_key(chapters)
    counts = Counter(c.get("status") for c in claims)
    lines = [
        f"{len(claims)} claims: " + ", ".join(f"{counts.get(s, 0)} {s}"
                                              for s in CLAIM_STATUSES) + ".", "",
        ":::{div} claims-ledger", "",
        "| Claim | Where | Checked by | Tests | Status |",
        "|---|---|---|---|---|",
    ]
    for claim in claims:
        name, title = claim["claim"], claim.get("title", "")
        section = _section_link(book_dir, claim.get("section"), None, present)
        checks = []
        for key in claim.get("checks") or []:
            row = rows.get(key)
            short = key.split("/", 1)[1]
            if row is not None:
                checks.append(f'<a href="results.html#{row.id}"><code>{short}</code></a>')
            else:
                checks.append(f"`{short}`")
        tests = ", ".join(f"`{t.split('::')[-1]}`" for t in claim.get("tests") or []) or "–"
        status = claim["status"]
        note = claim.get("note")
        status_cell = f"**{status}**" + (f": {_table_cell(note)}" if note else "")
        label = _table_cell(f"{name}: {title}" if title else name)
        lines.append(f"| {label} | {section} | {', '.join(checks) or '–'} | {tests} | "
                     f"{status_cell} |")
    return "\n".join([*lines, "", ":::"]) + "\n"


# ----------------------------------------------------------------------------- errata

def errata_markdown(errata: list[dict[str, Any]], chapters: list[ChapterResults],
                    book_dir: Path, present: set[str]) -> str:
    """The body of the errata page: printed statement, counterexample, corrected reading."""
    lines: list[str] = []
    for e in errata:
        where = f"errata entry {e.get('statement')!r}"
        link = _section_link(book_dir, e.get("section"), "the section that shows it", present)
        lines += [
            f"## {e['statement']}", "",
            f"**As printed.** {e['printed'].strip()}", "",
            "**Counterexample.** "
            + fill_placeholders(e["counterexample"].strip(), chapters, where=where), "",
            f"**Corrected reading.** {e['corrected'].strip()}", "",
            f"Computed in {link}.", "",
        ]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- citation

def _commit_date(root: Path) -> str:
    try:
        return subprocess.run(["git", "-C", str(root), "log", "-1", "--format=%cs"],
                              capture_output=True, text=True, timeout=10,
                              check=True).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def cite_markdown(root: Path, chapters: list[ChapterResults], profile: str) -> str:
    """BibTeX for the paper and the companion, and how to cite one result by its key."""
    cff = yaml.safe_load((root / "CITATION.cff").read_text(encoding="utf-8"))
    pref = cff["preferred-citation"]
    authors = " and ".join(f"{a['family-names']}, {a['given-names']}" for a in pref["authors"]
                           ).replace("ı", "{\\i}")  # BibTeX spells the dotless i {\i}
    arxiv = next((i["value"].split(":", 1)[1] for i in pref.get("identifiers", [])
                  if str(i.get("value", "")).startswith("arXiv:")), "")
    commit, date = git_commit(), _commit_date(root)
    companion_authors = " and ".join(a.get("name") or f"{a['family-names']}, {a['given-names']}"
                                     for a in cff["authors"])
    example = next((r for c in chapters for r in c.rows if r.paper is not None),
                   next((r for c in chapters for r in c.rows), None))
    lines = [
        "## The paper", "",
        "Cite the paper for its results:", "",
        "```bibtex",
        "@inproceedings{zhai2025contextures,",
        f"  title     = {{{pref['title']}}},",
        f"  author    = {{{authors}}},",
        f"  booktitle = {{{pref['collection-title']}}},",
        "  series    = {Proceedings of Machine Learning Research},",
        f"  volume    = {{{pref['volume']}}},",
        f"  pages     = {{{pref['start']}--{pref['end']}}},",
        f"  year      = {{{pref['year']}}},",
        f"  eprint    = {{{arxiv}}},",
        "  archivePrefix = {arXiv},",
        "}",
        "```", "",
        "## This companion", "",
        "Cite the companion for a number it reproduced, with the version and the commit the "
        "number was computed at (this page is generated by the build, so they are the ones of "
        "the pages you are reading):", "",
        "```bibtex",
        "@software{contextures_companion,",
        f"  title   = {{{cff['title']}}},",
        f"  author  = {{{{{companion_authors}}}}},",
        f"  version = {{{cff['version']}}},",
        f"  note    = {{commit {commit}, profile {profile}}},",
        f"  date    = {{{date}}},",
        "}",
        "```", "",
        "## One result", "",
        "Every reproduced number has a stable key `<chapter>/<key>` and an anchor on the "
        "{doc}`results page <results>`: `results.html#<chapter>-<key>`. Cite the key with the "
        "companion entry above and the profile, for example:", "",
    ]
    if example is not None:
        lines += [
            f"> {example.note or example.key.replace('_', ' ')}: "
            f"{_value_text(example.value)} (companion result "
            f"`{example.cite_key}`, profile `{profile}`, commit `{commit}`; "
            f"<a href=\"results.html#{example.id}\">results.html#{example.id}</a>).", "",
        ]
    lines += [
        "The key stays the same from one version to the next; the value is the one of the "
        "commit you cite. Its provenance receipt (parameters, seeds, library and lock-file "
        "hashes, package versions, device) is linked from the chapter's table on the results "
        "page, and `make verify PROFILE=<profile>` re-executes the chapters and says whether "
        "each number still comes out the same.", "",
    ]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- staging

def fill_pages(src: Path, book_dir: Path, root: Path, results_dir: Path, receipts_dir: Path,
               profile: str, chapters_built: list[str]) -> None:
    """Fill the marker of every citable page present in the staged tree ``src``."""
    built = set(chapters_built)
    chapters = [c for c in gather(results_dir, book_dir) if c.chapter in built]
    downloads = src / _DOWNLOADS
    if downloads.exists():
        shutil.rmtree(downloads)
    (downloads / "receipts").mkdir(parents=True)
    (downloads / "results.json").write_text(rows_json(chapters))
    (downloads / "results.csv").write_text(rows_csv(chapters))
    for c in chapters:
        receipt = receipts_dir / f"{c.chapter}.json"
        target = downloads / "receipts" / f"{c.chapter}.json"
        if receipt.is_file():
            shutil.copyfile(receipt, target)
        else:
            target.write_text('{"receipt": "none: this chapter ran before receipts were '
                              'written; rebuild it with --force"}\n')
    makers = {
        "results.md": lambda: results_markdown(chapters, book_dir, profile),
        "claims.md": lambda: claims_markdown(load_claims(book_dir), chapters, book_dir, built),
        "errata.md": lambda: errata_markdown(load_errata(book_dir), chapters, book_dir, built),
        "cite.md": lambda: cite_markdown(root, chapters, profile),
    }
    for name, make in makers.items():
        page = src / name
        if page.is_file():
            text = page.read_text(encoding="utf-8")
            page.write_text(text.replace(MARKERS[name], make()), encoding="utf-8")
