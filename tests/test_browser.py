"""The built smoke book in a real browser (Debian chromium driven by Playwright).

Every page returns 200, no image is broken, every internal link resolves, math is typeset
(MathJax output present, no raw TeX delimiters left), and no request leaves 127.0.0.1.
Screenshots of the index and chapter 1 are kept under ``build/smoke/screenshots``.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlparse

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = [pytest.mark.book, pytest.mark.browser]


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest output clean
        pass


@pytest.fixture(scope="module")
def server(smoke_html: Path):
    handler = functools.partial(_Quiet, directory=str(smoke_html))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
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


def _pages(html: Path) -> list[str]:
    return sorted(p.relative_to(html).as_posix() for p in html.rglob("*.html")
                  if not p.relative_to(html).parts[0].startswith("_"))


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def test_pages_links_images_math_and_no_external_requests(smoke_html, server, browser):
    pages = _pages(smoke_html)
    assert "index.html" in pages and "chapters/ch01_contexts.html" in pages
    external: list[str] = []
    checked: dict[str, int] = {}
    shots = smoke_html.parents[1] / "screenshots"
    shots.mkdir(exist_ok=True)
    context = browser.new_context()

    def guard(route):
        host = urlparse(route.request.url).hostname
        if route.request.url.startswith(("data:", "blob:")) or host == "127.0.0.1":
            route.continue_()
        else:
            external.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    page = context.new_page()
    typeset_pages = 0
    for rel in pages:
        url = urljoin(server, rel)
        response = page.goto(url, wait_until="load")
        assert response is not None and response.status == 200, f"{rel}: HTTP {response}"
        page.wait_for_load_state("networkidle")
        assert page.locator("p.build-info code").count() >= 1, f"{rel}: no commit in the footer"
        broken = page.eval_on_selector_all(
            "img", "imgs => imgs.filter(i => !(i.complete && i.naturalWidth > 0))"
                   ".map(i => i.src)")
        assert not broken, f"{rel}: broken images {broken}"
        if page.locator(".math").count():
            page.wait_for_function("() => window.MathJax && MathJax.startup"
                                   " && MathJax.startup.promise", timeout=30000)
            page.evaluate("() => MathJax.startup.promise")
            assert page.locator("mjx-container").count() > 0, f"{rel}: math not typeset"
            text = page.inner_text("article")
            for raw in ("\\(", "\\[", "$$"):
                assert raw not in text, f"{rel}: raw TeX {raw!r} left in the page"
            typeset_pages += 1
        hrefs = page.eval_on_selector_all("a[href]", "as => as.map(a => a.href)")
        for href in hrefs:
            target, _ = urldefrag(href)
            if not target.startswith(server) or target in checked:
                continue
            checked[target] = _status(target)
            assert checked[target] == 200, f"{rel}: broken internal link {href}"
        if rel in ("index.html", "chapters/ch01_contexts.html"):
            page.screenshot(path=str(shots / rel.replace("/", "_").replace(".html", ".png")),
                            full_page=True)
    context.close()
    assert typeset_pages >= 1, "no page with typeset math was found"
    assert not external, f"requests left the machine: {sorted(set(external))[:10]}"
    assert (shots / "index.png").exists() and (shots / "chapters_ch01_contexts.png").exists()


def test_chapter_one_shows_theorem_box_figure_and_glued_number(smoke_html):
    page = (smoke_html / "chapters" / "ch01_contexts.html").read_text()
    assert 'class="proof' in page or "theorem" in page
    assert "Lemma 4" in page
    assert "<img" in page
    assert "Parameters used" in page
    assert "pasted-text" in page, "glued numbers are rendered with {glue:text}"
    assert "launch-buttons" in page or "colab" in page.lower(), "launch buttons are configured"
    assert 'href="../_sources/chapters/ch01_contexts.ipynb"' in page, "download of the notebook"


def test_no_machine_paths_in_the_built_book(smoke_html):
    # Neither the pages nor the downloadable notebooks may show where the book was built.
    root = str(smoke_html.parents[3].resolve())
    offenders = []
    for path in sorted(smoke_html.rglob("*")):
        if path.is_file() and path.suffix in {".html", ".ipynb", ".txt", ".md", ".json"}:
            text = path.read_text(errors="replace")
            if root in text or "site-packages" in text:
                offenders.append(str(path.relative_to(smoke_html)))
    assert not offenders, f"machine paths in: {offenders[:10]}"
