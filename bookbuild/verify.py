"""``python -m bookbuild verify`` and ``python -m bookbuild golden``: is every number the same?

``verify`` re-executes chapters (all, or ``--chapters``) with a profile into their own build folder
(``build/verify/<profile>``, so the book's build is untouched), then compares every reproduced
number with the golden file of that profile (``tests/golden/<profile>.json``; without one, with
the last build of the profile) and prints, per key, what changed beyond its tolerance. The exit
status is 1 if anything changed, disappeared, appeared or failed. Sweep cells are read from the
content-addressed sweep store, as the book does; ``--fresh-sweeps`` recomputes them too.

``golden`` writes the golden file of a profile from its last build and prints the diff against
the previous file (``--check`` prints it and exits 1 on differences without writing).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from bookbuild.execute import (
    ChapterFailed,
    Layout,
    discover_chapters,
    execute_chapter,
    prepare_run,
    scoped_environ,
)
from bookbuild.golden import compare, format_differences, golden_values, load_golden, write_golden
from bookbuild.params import ParameterError, load_profile
from bookbuild.registry import gather
from contexture.runtime.provenance import git_commit
from contexture.sweeps import STORE_ENV

__all__ = ["add_verify_parsers", "golden_path", "cmd_verify", "cmd_golden"]


def golden_path(root: Path, profile: str) -> Path:
    """Where the golden values of ``profile`` live."""
    return root / "tests" / "golden" / f"{profile}.json"


def _layout(root: Path, build_dir: Path, data_dir: str | None) -> Layout:
    return Layout(book_dir=root / "book", build_dir=build_dir, library_dir=root / "contexture",
                  lock_file=root / "requirements.lock",
                  data_dir=Path(data_dir) if data_dir else root / "data")


def _shown(path: Path, root: Path) -> str:
    return str(path.relative_to(root) if path.is_relative_to(root) else path)


def _reference(root: Path, profile: str, golden: str | None) -> tuple[dict, str]:
    path = Path(golden).resolve() if golden else golden_path(root, profile)
    if golden or path.is_file():
        return load_golden(path)["values"], f"golden file {_shown(path, root)}"
    built = gather(root / "build" / profile / "results", root / "book")
    if not built:
        raise ParameterError(f"no golden file {path.relative_to(root)} and no build of profile "
                             f"{profile!r} to compare with; build it first "
                             f"(`python -m bookbuild build --profile {profile}`)")
    return golden_values(built), f"the last build of profile {profile!r} (no golden file)"


def cmd_verify(args: argparse.Namespace) -> int:
    root = Path(args.root).resolve()
    profile = args.profile
    book = root / "book"
    chapters = discover_chapters(book)
    names = args.chapters or list(chapters)
    unknown = [n for n in names if n not in chapters]
    if unknown:
        raise ParameterError(f"unknown chapter(s) {unknown}; known chapters: "
                             f"{', '.join(chapters)}")
    reference, source = _reference(root, profile, args.golden)
    build_dir = root / "build" / "verify" / profile
    layout = _layout(root, build_dir, args.data_dir)
    values = load_profile(layout.params_dir / f"{profile}.yaml")
    runs = [prepare_run(chapters[n], profile, values.get(n, {}), {}, layout) for n in names]
    shutil.rmtree(build_dir / "results", ignore_errors=True)
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="contexture-verify-sweeps-") as fresh_store, \
            scoped_environ({STORE_ENV: fresh_store} if args.fresh_sweeps else {}):
        for run in runs:
            try:
                execute_chapter(run, layout, force=True)
            except ChapterFailed as exc:
                failures.append(f"{run.chapter.name}: failed\n{exc}")
    fresh = gather(build_dir / "results", book, chapters=names)
    diffs = compare(reference, fresh)
    print(f"\nverify: profile {profile!r}, commit {git_commit()}, compared with {source}")
    for c in fresh:
        n_diff = sum(d.chapter == c.chapter for d in diffs)
        print(f"  {c.chapter:<28} {len(c.rows):5d} numbers  "
              + ("same" if not n_diff else f"{n_diff} differ"))
    if diffs:
        print("\n" + format_differences(diffs))
    for failure in failures:
        print("\n" + failure)
    ok = not diffs and not failures
    print("\nverify: " + ("every number is the same (within its tolerance)" if ok else
                         f"{len(diffs)} difference(s), {len(failures)} failed chapter(s)"))
    return 0 if ok else 1


def cmd_golden(args: argparse.Namespace) -> int:
    root = Path(args.root).resolve()
    book = root / "book"
    results = root / "build" / args.profile / "results"
    expected = set(discover_chapters(book))
    built = gather(results, book)
    missing = sorted(expected - {c.chapter for c in built})
    if not built:
        raise ParameterError(f"no results in {results.relative_to(root)}: build the profile "
                             f"first (`python -m bookbuild build --profile {args.profile}`)")
    path = Path(args.golden).resolve() if args.golden else golden_path(root, args.profile)
    fresh = golden_values(built)
    old = load_golden(path)["values"] if path.is_file() else {}
    diffs = compare(old, built) if old else []
    gone = sorted(set(old) - {c.chapter for c in built})
    print(f"golden values of profile {args.profile!r} from {results.relative_to(root)} "
          f"({sum(len(v) for v in fresh.values())} numbers, {len(fresh)} chapters)")
    if missing:
        print(f"note: no results for {missing} (not built, or they record nothing)")
    if gone:
        print(f"chapters dropped from the golden file: {gone}")
    if diffs:
        print(format_differences(diffs))
    else:
        print(f"no differences from {_shown(path, root)}" if old else "no previous golden file")
    if args.check:
        return 1 if diffs or gone else 0
    write_golden(path, args.profile, git_commit(), fresh)
    print(f"wrote {_shown(path, root)}")
    return 0


def add_verify_parsers(sub: argparse._SubParsersAction) -> None:
    """Register ``verify`` and ``golden`` on the ``python -m bookbuild`` command line."""
    v = sub.add_parser("verify", help="re-execute chapters and compare every number with the "
                                      "golden values (exit 1 if anything changed)")
    v.add_argument("--profile", default="default", help="smoke, default or paper")
    v.add_argument("--chapters", nargs="*", help="only these chapters")
    v.add_argument("--golden", default=None,
                   help="golden file (default: tests/golden/<profile>.json)")
    v.add_argument("--fresh-sweeps", action="store_true",
                   help="recompute sweep cells instead of reading the sweep store")
    v.set_defaults(func=cmd_verify)
    g = sub.add_parser("golden", help="write the golden values of a profile from its last build "
                                      "and print the diff")
    g.add_argument("--profile", default="smoke", help="the profile built before")
    g.add_argument("--golden", default=None,
                   help="golden file (default: tests/golden/<profile>.json)")
    g.add_argument("--check", action="store_true", help="only print the diff; exit 1 if any")
    g.set_defaults(func=cmd_golden)
