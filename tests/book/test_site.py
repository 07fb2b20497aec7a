"""The book builds, and its pages work in a real browser.

Runs after `make book` in ``make test``, so every chapter is already executed (once, by
``scripts/execute.py``) and the build only renders it.
"""

from __future__ import annotations

import functools
import http.server
import os
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest
from browser import Chromium, find_chromium

ROOT = Path(__file__).resolve().parents[2]
HTML = ROOT / "_build" / "html"
CHAPTERS = {  # page -> figures it must show (measured)
    "notebooks/grokking.html": 9,
    "notebooks/grokking_network.html": 7,
    "notebooks/grokking_phase_diagram.html": 1,
    "notebooks/induction_heads.html": 7,
    "notebooks/icl_regression.html": 7,
    "notebooks/ode_circuits.html": 9,
    "notebooks/learning_coefficient.html": 4,
    "notebooks/repeated_data.html": 3,
}
CIRCUITSVIS_VIEWS = {
    "notebooks/induction_heads.html": 1,
    "notebooks/ode_circuits.html": 1,
}  # page -> CircuitsVis views it shows
# pydata-sphinx-theme reports a first visit (nothing in localStorage yet) with console.error
# before choosing the default colour mode; that is the theme's normal start, not a fault.
BENIGN_CONSOLE = ("Got invalid theme mode: . Resetting to auto.",)
# MathJax 2's HTML-CSS output probes for web fonts with an @font-face on about:blank, which
# Chromium reports; the formulas are then typeset with the STIX-Web fonts (asserted below)
MATHJAX_FONT_PROBE = "Access to font at 'about:blank' from origin"


@pytest.fixture(scope="session")
def build():
    """Build the book exactly as `make book` does; return the build's exit code and log.

    In `make test` the book was just built, so the chapters come from the execution cache. Every
    page is read again (``--all``, about 10 s), so that a chapter the cache failed to match would
    be executed here, and the test below would see it.
    """
    env = {**os.environ, "TOYLAB_STATIC": "1", "TOYLAB_PROGRESS": "off"}
    execute = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "execute.py"), "--book"],
        capture_output=True,
        text=True,
        env=env,
    )
    if execute.returncode != 0:
        return execute.returncode, execute.stdout + execute.stderr
    jb = Path(sys.executable).with_name("jupyter-book")
    proc = subprocess.run(
        [str(jb), "build", str(ROOT), "--all", "--warningiserror", "--keep-going"],
        capture_output=True,
        text=True,
        env=env,
    )
    return proc.returncode, proc.stdout + proc.stderr


def test_book_builds_without_warnings(build):
    code, log = build
    assert code == 0, "jupyter-book build failed:\n" + log[-5000:]
    assert "Executing notebook" not in log, "the build executed a chapter itself (a second time)"
    for page in ["index.html", "book/intro.html", "book/references.html", *CHAPTERS]:
        assert (HTML / page).exists(), f"{page} was not built"


@pytest.fixture(scope="session")
def site(build):
    if build[0] != 0:
        pytest.skip("the book did not build")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(HTML))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="session")
def browser():
    binary = find_chromium()
    if binary is None:
        pytest.skip(
            "no Chromium found: install it (Debian: `apt-get install chromium`) "
            "to check the built pages in a headless browser"
        )
    chromium = Chromium(binary)
    yield chromium
    chromium.close()


FIGURES_JS = """Array.from(document.querySelectorAll('.cell_output img'))
  .filter(i => i.complete && i.naturalWidth > 0).length"""
BROKEN_IMAGES_JS = """Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0))
  .map(i => i.src.slice(0, 80))"""


def console_errors(report):
    return [
        m
        for m in report.console_errors
        if m not in BENIGN_CONSOLE and not m.startswith(MATHJAX_FONT_PROBE)
    ]


# MathJax 2's HTML-CSS output asks for one TeX font before it settles on the STIX-Web fonts
# that the packaged copy ships (book/_ext/mathjax_local.py); the formulas are typeset without it
BENIGN_MISSING = ("/_static/mathjax/fonts/HTML-CSS/TeX/",)


def local_failures(report, site):
    return [
        url
        for url in report.failed_requests
        if urlparse(url.split()[0]).netloc == urlparse(site).netloc
        and not any(part in url for part in BENIGN_MISSING)
    ]


# the page has loaded and every CircuitsVis view has drawn (polled until true, with a deadline)
# and MathJax has typeset every formula (no raw \( left in the text)
RAW_MATH_JS = (
    "document.body.innerText.includes('\\\\(') || document.body.innerText.includes('\\\\[')"
)
TYPESET_JS = "document.querySelectorAll('.MathJax, .MathJax_Display').length"
# MathJax 2 has finished when its queue is empty (pages without formulas do not load it)
MATHJAX_DONE_JS = (
    "(!window.MathJax || !MathJax.Hub || "
    "(MathJax.isReady && !MathJax.Hub.queue.pending && !MathJax.Hub.queue.running))"
)
READY_JS = (
    "document.readyState === 'complete' && Array.from("
    "document.querySelectorAll('.toylab-circuitsvis')).every(d => d.querySelectorAll('*').length > 10)"
    f" && {MATHJAX_DONE_JS} && !({RAW_MATH_JS})"
)


@pytest.mark.parametrize("page, n_figures", CHAPTERS.items())
def test_chapter_page_shows_its_figures_without_errors(site, browser, page, n_figures):
    report = browser.load(
        f"{site}/{page}",
        {
            "title": "document.querySelector('h1') && document.querySelector('h1').textContent",
            "figures": FIGURES_JS,
            "broken": BROKEN_IMAGES_JS,
            "animation": "document.querySelectorAll('.animation img, img[id^=_anim_img]').length",
            "colab": "Array.from(document.querySelectorAll('a')).some(a => a.href.includes('colab.research.google.com'))",
            # each CircuitsVis view's container, and how much the bundle drew into it
            "circuitsvis": "Array.from(document.querySelectorAll('.toylab-circuitsvis')).map(d => d.querySelectorAll('*').length)",
            "circuitsvis_src": "Array.from(document.scripts).map(s => s.src).filter(s => s.includes('circuitsvis'))",
            "raw_math": RAW_MATH_JS,
            "typeset": TYPESET_JS,
        },
        ready=READY_JS,
    )
    assert report.ready, (
        f"{page} was not ready (loaded, CircuitsVis drawn, formulas typeset) within the deadline"
    )
    assert not report.exceptions, f"JavaScript errors on {page}: {report.exceptions}"
    assert not console_errors(report), f"console errors on {page}: {console_errors(report)}"
    assert not local_failures(report, site), (
        f"missing files on {page}: {local_failures(report, site)}"
    )
    assert report.values["title"], "the page has no title"
    assert report.values["figures"] >= n_figures, (
        f"only {report.values['figures']} figures rendered"
    )
    assert not report.values["broken"], f"images that did not load: {report.values['broken']}"
    assert report.values["animation"] >= 1, "the training animation is missing"
    assert report.values["colab"], "no Colab launch link"
    views = report.values["circuitsvis"]
    assert len(views) == CIRCUITSVIS_VIEWS.get(page, 0), f"CircuitsVis views on {page}: {views}"
    assert all(n > 10 for n in views), f"a CircuitsVis view stayed empty: {views}"
    if views:  # served by the site itself, not a CDN
        assert report.values["circuitsvis_src"] == [f"{site}/_static/circuitsvis.js"], (
            report.values["circuitsvis_src"]
        )
    # the formulas are typeset by the site's own MathJax, with no network
    assert not report.values["raw_math"], f"raw LaTeX left on {page}: MathJax did not typeset it"
    assert report.values["typeset"] > 0, f"no typeset formula on {page}"
    external = [
        u
        for u in report.requests
        if urlparse(u).scheme in ("http", "https") and urlparse(u).netloc != urlparse(site).netloc
    ]
    assert not external, f"{page} needs the network: {external}"


def test_front_page_shows_the_figure_the_grokking_chapter_computed(site, browser):
    report = browser.load(
        f"{site}/book/intro.html",
        {
            "figures": "Array.from(document.querySelectorAll('article img'))"
            ".filter(i => i.complete && i.naturalWidth > 0).length",
            "broken": BROKEN_IMAGES_JS,
        },
    )
    assert report.values["figures"] == 1, "the glued grokking figure is missing from the front page"
    assert not report.values["broken"], report.values["broken"]


@pytest.mark.parametrize(
    "page",
    [
        "book/intro.html",
        "book/margins.html",
        "book/notation.html",
        "book/glossary.html",
        "book/references.html",
    ],
)
def test_prose_pages_load_without_errors(site, browser, page):
    report = browser.load(f"{site}/{page}", {"title": "document.querySelector('h1').textContent"})
    assert not report.exceptions and not console_errors(report), (
        report.exceptions,
        console_errors(report),
    )
    assert not local_failures(report, site)
    assert report.values["title"]


def test_the_margins_page_shows_every_claim_of_every_chapter(site, browser):
    """'How sure is each claim?' renders one table row per claim, from the committed records."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import margins  # benchmarks/margins.py

    n_claims = sum(
        len(margins.chapter_claims(ROOT / "notebooks" / f"{c}.py")) for c in margins.chapters()
    )
    report = browser.load(
        f"{site}/book/margins.html",
        {
            "title": "document.querySelector('h1').textContent",
            "tables": "document.querySelectorAll('article table').length",
            "rows": "document.querySelectorAll('article table tbody tr').length",
            "recorded": "Array.from(document.querySelectorAll('article table tbody tr'))"
            ".filter(r => !r.textContent.includes('not recorded')).length",
        },
    )
    assert not report.exceptions and not console_errors(report), report.exceptions
    assert "How sure is each claim" in report.values["title"]
    assert report.values["tables"] == len(margins.chapters())
    assert report.values["rows"] == n_claims
    assert report.values["recorded"] == n_claims, "every claim has records"
