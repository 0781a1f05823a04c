"""The built smoke book in a real browser (Debian chromium driven by Playwright).

On every page: HTTP 200, no broken image, every internal link resolves, math is typeset and no
raw TeX is left, every figure has a caption and real alt text, nothing is clipped, no page
cites notes a reader cannot open, and no request leaves 127.0.0.1. On a phone (390 px) the menu
and the contents buttons open their sidebars and no page scrolls sideways; on a desktop the
sidebar collapses and reopens; one search field only. Screenshots (index, chapter 1, chapter 1
on a phone and in dark mode) are kept under ``build/smoke/screenshots``.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import threading
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlparse

import pytest
import yaml

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
CHAPTER = "chapters/ch01_contexts.html"
# Notes a reader cannot open (the word is assembled so that this file does not contain it).
NOTES_WORD = re.compile(r"\b" + "dig" + "est" + r"\b", re.IGNORECASE)
# Hosts of the buttons that need a public repository (Binder, Colab, the repository and issues).
REPOSITORY_HOSTS = ("mybinder.org", "colab.research.google.com", "github.com")

pytestmark = [pytest.mark.book, pytest.mark.browser]

# Text a reader sees: the article without typeset math, code and scripts. Raw TeX left there
# means a formula was not typeset (a `$` the parser missed, a `\(` MathJax did not process).
_PROSE_JS = """() => {
  const root = (document.querySelector('article') || document.body).cloneNode(true);
  root.querySelectorAll('mjx-container, mjx-assistive-mml, pre, code, kbd, samp, script, style,'
                        + ' textarea, div.highlight').forEach(e => e.remove());
  return root.textContent;
}"""
# Everything on the page a reader can see or hear: all text, code included, and the alt, title
# and aria-label attributes (asset URLs with cache-busting query strings are not text).
_ALL_TEXT_JS = """() => {
  const root = document.documentElement.cloneNode(true);
  root.querySelectorAll('script, style, link, meta').forEach(e => e.remove());
  const attrs = [...root.querySelectorAll('[alt], [title], [aria-label]')].map(e =>
      [e.getAttribute('alt'), e.getAttribute('title'), e.getAttribute('aria-label')].join(' '));
  return root.textContent + ' ' + attrs.join(' ') + ' ' + document.title;
}"""
# Images of the article's content (Sphinx copies them to _images/; theme icons live elsewhere):
# inside a figure or not, its caption, and the alt text.
_FIGURES_JS = """() => [...document.querySelectorAll('article img[src*="_images/"]')].map(i => {
  const fig = i.closest('figure');
  const cap = fig ? fig.querySelector('figcaption') : null;
  return {src: i.getAttribute('src') || '', alt: (i.getAttribute('alt') || '').trim(),
          figure: !!fig, caption: cap ? cap.textContent.trim() : ''};
})"""
# Content of the article that sticks out of the window and is not inside a box that scrolls
# sideways: it is cut off (by a container with hidden overflow) or widens the page.
_CLIPPED_JS = """() => {
  const out = [];
  const scrolls = e => {
    for (let p = e.parentElement; p; p = p.parentElement) {
      const s = getComputedStyle(p).overflowX;
      if ((s === 'auto' || s === 'scroll') && p.clientWidth > 0) return true;
    }
    return false;
  };
  for (const e of document.querySelectorAll('article *')) {
    if (e.closest('mjx-assistive-mml, .visually-hidden, .sr-only')) continue;
    const r = e.getBoundingClientRect();
    if (r.width > 0 && r.height > 0 && r.right > innerWidth + 1 && !scrolls(e)) {
      out.push(`${e.tagName.toLowerCase()}.${e.className} (right edge ${Math.round(r.right)} px)`);
    }
  }
  return out.slice(0, 5);
}"""
# Visible search fields (the search dialog itself is hidden until it is opened).
_SEARCH_FIELDS_JS = """() => [...document.querySelectorAll(
    'form.bd-search, .search-button-field, input[type=search]')]
  .filter(e => !e.closest('.search-button__wrapper') && e.offsetParent !== null
               && getComputedStyle(e).visibility !== 'hidden')
  .map(e => e.className || e.tagName)"""


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest output clean
        pass


class _Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):  # a page left before it finished loading
        pass


@pytest.fixture(scope="module")
def server(smoke_html: Path):
    handler = functools.partial(_Quiet, directory=str(smoke_html))
    httpd = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("Debian chromium is required in CI (apt-get install chromium)")
        pytest.skip("Debian chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield b
        b.close()


@pytest.fixture(scope="module")
def shots(smoke_html: Path) -> Path:
    folder = smoke_html.parents[1] / "screenshots"
    folder.mkdir(exist_ok=True)
    return folder


def _pages(html: Path) -> list[str]:
    return sorted(p.relative_to(html).as_posix() for p in html.rglob("*.html")
                  if not p.relative_to(html).parts[0].startswith("_"))


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def _context(browser, external: list[str] | None = None, **options):
    """A browser context that lets no request leave 127.0.0.1 (blocked ones go to ``external``).

    The generous timeout is for waiting on a loaded shared machine, not a performance limit.
    """
    context = browser.new_context(**options)
    context.set_default_timeout(120_000)
    blocked = external if external is not None else []

    def guard(route):
        host = urlparse(route.request.url).hostname
        if route.request.url.startswith(("data:", "blob:")) or host == "127.0.0.1":
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    return context


def _open(page, url: str):
    """Load ``url`` and wait until its math is typeset; return the response."""
    response = page.goto(url, wait_until="load")
    page.wait_for_load_state("networkidle")
    if page.locator(".math").count():
        page.wait_for_function("() => window.MathJax && MathJax.startup"
                               " && MathJax.startup.promise")
        page.evaluate("() => MathJax.startup.promise")
    return response


def _in_view(page, selector: str) -> bool:
    """Whether the first element matching ``selector`` is shown inside the window."""
    box = page.locator(selector).first.bounding_box()
    width = page.evaluate("() => innerWidth")
    return (page.locator(selector).first.is_visible() and box is not None
            and box["width"] > 0 and box["x"] >= -1 and box["x"] + box["width"] <= width + 1)


def _click_visible(page, selector: str) -> None:
    buttons = page.locator(selector)
    visible = [buttons.nth(i) for i in range(buttons.count()) if buttons.nth(i).is_visible()]
    assert visible, f"no visible {selector!r} button"
    visible[0].click()
    page.wait_for_timeout(500)  # let the slide-in transition finish before measuring


def _repository_url(root: Path) -> str:
    config = yaml.safe_load((root / "book" / "_config.yml").read_text())
    return str((config.get("repository") or {}).get("url") or "")


def _figure_problems(figures: list[dict]) -> list[str]:
    problems = []
    for f in figures:
        name = f["src"].rsplit("/", 1)[-1]
        if not f["figure"]:
            problems.append(f"{name}: an image outside a numbered, captioned figure")
        elif not f["caption"]:
            problems.append(f"{name}: figure without a caption")
        # Sphinx fills a missing alt with the image's own path, which describes nothing.
        if not f["alt"] or f["alt"] == f["src"] or re.search(r"\.(png|jpe?g|svg|gif)$", f["alt"]):
            problems.append(f"{name}: no alt text (alt={f['alt']!r})")
    return problems


def test_pages_links_images_math_and_no_external_requests(smoke_html, server, browser, shots,
                                                          root):
    pages = _pages(smoke_html)
    assert "index.html" in pages and CHAPTER in pages
    placeholders = not _repository_url(root)
    external: list[str] = []
    checked: dict[str, int] = {}
    failures: list[str] = []
    context = _context(browser, external, viewport=DESKTOP)
    page = context.new_page()
    typeset_pages = 0
    for rel in pages:
        url = urljoin(server, rel)
        response = _open(page, url)
        assert response is not None and response.status == 200, f"{rel}: HTTP {response}"
        assert page.locator("p.build-info code").count() >= 1, f"{rel}: no commit in the footer"
        broken = page.eval_on_selector_all(
            "img", "imgs => imgs.filter(i => !(i.complete && i.naturalWidth > 0))"
                   ".map(i => i.src)")
        assert not broken, f"{rel}: broken images {broken}"
        if page.locator(".math").count():
            assert page.locator("mjx-container").count() > 0, f"{rel}: math not typeset"
            typeset_pages += 1
        prose = page.evaluate(_PROSE_JS)
        for raw in ("$", "\\(", "\\[", "\\begin{"):
            if raw in prose:
                at = prose.index(raw)
                failures.append(f"{rel}: raw TeX {raw!r} left in the text: "
                                f"{' '.join(prose[max(0, at - 60):at + 40].split())!r}")
        if NOTES_WORD.search(page.evaluate(_ALL_TEXT_JS)):
            failures.append(f"{rel}: the page cites notes a reader cannot open")
        failures += [f"{rel}: {p}" for p in _figure_problems(page.evaluate(_FIGURES_JS))]
        failures += [f"{rel}: clipped at {DESKTOP['width']} px: {c}"
                     for c in page.evaluate(_CLIPPED_JS)]
        hrefs = page.eval_on_selector_all("a[href]", "as => as.map(a => a.href)")
        if placeholders:  # no repository yet: no button may lead to a dead or placeholder page
            dead = sorted({h for h in hrefs if urlparse(h).hostname in REPOSITORY_HOSTS})
            if dead:
                failures.append(f"{rel}: links that need a public repository: {dead[:3]}")
        for href in hrefs:
            target, _ = urldefrag(href)
            if not target.startswith(server) or target in checked:
                continue
            checked[target] = _status(target)
            assert checked[target] == 200, f"{rel}: broken internal link {href}"
        if rel in ("index.html", CHAPTER):
            page.screenshot(path=str(shots / rel.replace("/", "_").replace(".html", ".png")),
                            full_page=True)
    context.close()
    assert typeset_pages >= 1, "no page with typeset math was found"
    assert not external, f"requests left the machine: {sorted(set(external))[:10]}"
    assert not failures, f"{len(failures)} problems:\n" + "\n".join(failures)
    assert (shots / "index.png").exists() and (shots / "chapters_ch01_contexts.png").exists()


def test_phone_menu_contents_and_no_sideways_scrolling(smoke_html, server, browser, shots):
    context = _context(browser, viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    _open(page, urljoin(server, CHAPTER))
    sidebar, contents = ".bd-sidebar-primary", ".bd-sidebar-secondary"
    assert not _in_view(page, sidebar), "the menu is open before it is asked for"
    page.screenshot(path=str(shots / "chapters_ch01_contexts_390px.png"), full_page=False)

    _click_visible(page, ".primary-toggle")
    assert _in_view(page, sidebar), "the menu button does not open the chapter list"
    links = page.locator(f"{sidebar} nav a")
    shown = [links.nth(i).inner_text().strip() for i in range(links.count())
             if links.nth(i).is_visible()]
    numbered = [t for t in shown if re.match(r"[1-7]\. \S", t)]
    assert len(numbered) == 7, f"the menu does not list chapters 1-7, numbered: {shown}"
    page.screenshot(path=str(shots / "chapters_ch01_contexts_390px_menu.png"))
    # a tap on the shaded page beside the open menu closes it
    page.locator("label.overlay-primary").click(position={"x": PHONE["width"] - 20, "y": 400})
    page.wait_for_timeout(500)
    assert not _in_view(page, sidebar), "a tap beside the menu does not close it"

    _click_visible(page, ".secondary-toggle")
    assert _in_view(page, contents), "the contents button does not open the page's contents"
    assert page.locator(f"{contents} a.nav-link").first.is_visible()
    assert len(page.evaluate(_SEARCH_FIELDS_JS)) <= 1, "more than one search field"
    context.close()

    context = _context(browser, viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    wide: list[str] = []
    for rel in _pages(smoke_html):
        _open(page, urljoin(server, rel))
        scroll, width = page.evaluate(
            "() => [document.documentElement.scrollWidth, innerWidth]")
        if scroll > width:
            wide.append(f"{rel}: the page is {scroll} px wide in a {width} px window")
        wide += [f"{rel}: clipped at {PHONE['width']} px: {c}" for c in page.evaluate(_CLIPPED_JS)]
    context.close()
    assert not wide, "sideways scrolling or clipped content on a phone:\n" + "\n".join(wide)


def test_desktop_sidebar_collapses_and_reopens_one_search_field(server, browser, shots):
    context = _context(browser, viewport=DESKTOP)
    page = context.new_page()
    _open(page, urljoin(server, CHAPTER))
    sidebar = ".bd-sidebar-primary"
    assert _in_view(page, sidebar), "the sidebar is not shown on a desktop"
    fields = page.evaluate(_SEARCH_FIELDS_JS)
    assert len(fields) == 1, f"expected one search field, found {fields}"
    _click_visible(page, ".primary-toggle")
    assert not _in_view(page, sidebar), "the sidebar button does not collapse the sidebar"
    _click_visible(page, ".primary-toggle")
    assert _in_view(page, sidebar), "the sidebar button does not reopen the sidebar"
    context.close()

    context = _context(browser, viewport=DESKTOP, color_scheme="dark")
    page = context.new_page()
    _open(page, urljoin(server, CHAPTER))
    assert page.evaluate("() => document.documentElement.dataset.theme") == "dark"
    page.screenshot(path=str(shots / "chapters_ch01_contexts_dark.png"), full_page=False)
    context.close()
    assert (shots / "chapters_ch01_contexts_dark.png").exists()


def test_chapter_one_shows_theorem_box_figure_and_glued_number(smoke_html, root):
    page = (smoke_html / "chapters" / "ch01_contexts.html").read_text()
    assert 'class="proof' in page or "theorem" in page
    assert "Lemma 4" in page
    assert "<img" in page
    assert "Parameters used" in page
    assert "pasted-text" in page, "glued numbers are rendered with {glue:text}"
    assert 'href="../_sources/chapters/ch01_contexts.ipynb"' in page, "download of the notebook"
    if _repository_url(root):  # launch buttons only once there is a repository to launch from
        assert "mybinder.org" in page and "colab.research.google.com" in page


def _title(source: Path) -> str:
    """The first level-1 heading of a chapter source (after its jupytext front matter)."""
    return next(line[2:].strip() for line in source.read_text().split("\n---", 1)[-1].splitlines()
                if line.startswith("# "))


def test_intro_is_a_map_and_status_shows_titles_and_parameters(smoke_html, root):
    page = (smoke_html / "intro.html").read_text()
    for chapter in ("ch01_contexts", "ch02_supervised", "ch03_self_supervised", "ch04_manifold",
                    "ch05_optimality", "ch06_scaling", "ch07_association_tau", "datasets"):
        assert f'href="chapters/{chapter}.html' in page, f"the introduction does not link {chapter}"
    for remark in ("ch02-caveat-thm-7", "ch03-rem-cor9", "ch03-rem-thm10-slips",
                   "ch04-rem-thm12-caveat", "ch05-rem-def13", "ch05-rem-thm14", "ch05-rem-prop20",
                   "ch05-rem-thm24"):
        assert f"#{remark}" in page, f"the table of failures does not link {remark}"
    assert 'href="https://arxiv.org/abs/2505.01557"' in page
    assert 'href="https://arxiv.org/abs/2505.01557"' in (smoke_html / "references.html").read_text()

    status = (smoke_html / "status.html").read_text()
    smoke = yaml.safe_load((root / "book" / "params" / "smoke.yaml").read_text())["chapters"]
    for chapter, overrides in smoke.items():
        if not (smoke_html / "chapters" / f"{chapter}.html").exists():
            continue
        title = _title(root / "book" / "chapters" / f"{chapter}.md")
        assert title in status, f"the status page does not show the title {title!r}"
        for name in overrides or {}:
            assert f"<code class=\"docutils literal notranslate\"><span class=\"pre\">{name}" \
                   f"</span></code>" in status, f"status page: no parameter {name} of {chapter}"


def test_no_machine_paths_in_the_built_book(smoke_html, root):
    # Neither the pages nor the downloadable notebooks may show where the book was built.
    project = str(root.resolve())
    offenders = []
    for path in sorted(smoke_html.rglob("*")):
        if path.is_file() and path.suffix in {".html", ".ipynb", ".txt", ".md", ".json"}:
            text = path.read_text(errors="replace")
            if project in text or "site-packages" in text:
                offenders.append(str(path.relative_to(smoke_html)))
    assert not offenders, f"machine paths in: {offenders[:10]}"


CITABLE_PAGES = ("results.html", "claims.html", "errata.html", "cite.html")


def test_every_result_anchor_and_section_link_resolves(smoke_html, server, browser):
    """The citable pages: every row of the results page has its own anchor, and every link of
    these pages that points at an anchor (a result, a section, a proof box, a figure) lands on
    an element with that id, in the browser."""
    context = _context(browser, viewport=DESKTOP)
    page = context.new_page()
    links: dict[str, set[str]] = {}
    for rel in CITABLE_PAGES:
        url = urljoin(server, rel)
        assert _open(page, url).status == 200, rel
        for href in page.eval_on_selector_all("article a[href]", "as => as.map(a => a.href)"):
            target, fragment = urldefrag(href)
            if target.startswith(server) and fragment:
                links.setdefault(target, set()).add(fragment)
        if rel == "results.html":
            ids = page.eval_on_selector_all("tr[id]", "rs => rs.map(r => r.id)")
            assert ids and len(ids) == len(set(ids)), "result rows need unique anchors"
            download = page.eval_on_selector_all(
                "a.download", "as => as.map(a => a.href).filter(h => h.endsWith('.json'))")
            rows = json.loads(urllib.request.urlopen(
                next(h for h in download if h.endswith("results.json")), timeout=10).read())
            assert [r["id"] for r in rows["results"]] == ids, "the JSON download = the table"
    missing = []
    for target, fragments in sorted(links.items()):
        page.goto(target, wait_until="load")
        ids = set(page.eval_on_selector_all("[id]", "es => es.map(e => e.id)"))
        missing += [f"{target.removeprefix(server)}#{f}" for f in sorted(fragments - ids)]
    context.close()
    assert sum(len(f) for f in links.values()) > 100, "too few anchored links on the pages"
    assert not missing, f"{len(missing)} anchors do not resolve: {missing[:10]}"
