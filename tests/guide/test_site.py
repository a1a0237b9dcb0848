"""The workshop site builds with --strict and every page renders in headless Chromium.

A page fails on a console error, an uncaught exception, a request that fails or leaves the machine,
a link to a page or anchor that does not exist, or a Mermaid diagram left unrendered. Screenshots go
to ``workshop/_screenshots/`` (test artefacts, not committed).
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlparse

import pytest
import yaml

from tests.assembly import synthesize_kit

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = ROOT / "workshop" / "_screenshots"
BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("guide")
    synthesize_kit(work / "cdk.out")
    env = os.environ | {"KMSLAB_CDK_OUT": str(work / "cdk.out"), "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(work / "site")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return work / "site"


@pytest.fixture(scope="module")
def served(site: Path) -> Iterator[str]:
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass


def _pages(site: Path) -> list[str]:
    return sorted(p.relative_to(site).as_posix() for p in site.rglob("index.html") if "assets" not in p.parts)


def test_every_page_of_the_nav_is_built(site: Path) -> None:
    config = yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=_IgnoreTags)
    nav = [next(iter(item.values())) for item in config["nav"]]
    chapters = sorted(p.name for p in (ROOT / "workshop").glob("[0-9][0-9]-*.md"))
    assert set(chapters) <= set(nav)  # no chapter left out of the nav
    expected = {"index.html" if page == "index.md" else f"{page.removesuffix('.md')}/index.html" for page in nav}
    assert set(_pages(site)) == expected


class _IgnoreTags(yaml.SafeLoader):
    """mkdocs.yml holds ``!!python/name:`` tags; the nav needs none of them."""


_IgnoreTags.add_multi_constructor("tag:yaml.org,2002:python/", lambda loader, suffix, node: None)


def test_the_architecture_diagram_comes_from_the_templates(site: Path) -> None:
    intro = (site / "index.html").read_text()
    assert '<pre class="mermaid">' in intro
    for stack in ("KmslabKeys", "KmslabStorage", "KmslabTrail", "KmslabAnalytics", "KmslabAlerting"):
        assert f"subgraph {stack}" in intro
    assert "<!-- kmslab:architecture -->" not in intro


def test_every_page_renders_in_chromium(site: Path, served: str) -> None:
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Debian's chromium is needed: `make test` installs it"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    checked_links: dict[str, int] = {}
    origin = urlparse(served).netloc
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        current = {"url": ""}
        page.on("console", lambda m: m.type == "error" and problems.append(f"{current['url']}: console: {m.text}"))
        page.on("pageerror", lambda e: problems.append(f"{current['url']}: exception: {e}"))
        page.on("requestfailed", lambda r: problems.append(f"{current['url']}: request failed: {r.url}"))
        page.route(
            "**/*",
            lambda route: route.continue_() if urlparse(route.request.url).netloc == origin else route.abort(),
        )
        for rel in _pages(site):
            url = urljoin(served, rel.removesuffix("index.html"))
            current["url"] = url
            response = page.goto(url, wait_until="networkidle")
            assert response is not None and response.status == 200, url
            if page.locator("pre.mermaid").count():
                page.wait_for_selector("pre.mermaid svg, .mermaid svg", timeout=15_000)
                if page.locator(".mermaid .error-icon, .mermaid [aria-roledescription=error]").count():
                    problems.append(f"{url}: Mermaid reported a syntax error")
            name = rel.removesuffix("index.html").strip("/") or "index"
            page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
            for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)"):
                target, fragment = urldefrag(href)
                if urlparse(target).netloc != origin:
                    continue
                if target not in checked_links:
                    checked_links[target] = page.request.get(target).status
                if checked_links[target] != 200:
                    problems.append(f"{url}: broken link {href}")
                elif (
                    fragment
                    and target.rstrip("/") == url.rstrip("/")
                    and not page.locator(f"[id='{fragment}']").count()
                ):
                    problems.append(f"{url}: missing anchor #{fragment}")
        browser.close()
    assert not problems, "\n".join(problems)
    assert checked_links, "the pages link to each other"
