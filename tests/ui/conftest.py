"""A real JupyterLab (127.0.0.1, free port, no token) driven by Playwright in Debian's Chromium.

Screenshots go to test-output/ui/ at the repository root (git-ignored), to look at.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lab_helpers import CHROMIUM, CHROMIUM_ARGS, OUTPUT, jupyterlab


@pytest.fixture(scope="session")
def lab(dashboard_url: str, tmp_path_factory: pytest.TempPathFactory):
    """(URL, root folder) of a JupyterLab whose kernels talk to the test Ray head."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (scripts/test.sh does)")
    root = tmp_path_factory.mktemp("lab")
    with jupyterlab(dashboard_url, root) as url:
        yield url, root


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    dialogs: list[str] = []
    pg.on("dialog", lambda d: (dialogs.append(d.message), d.accept()))
    pg.dialogs = dialogs
    yield pg
    OUTPUT.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(OUTPUT / f"{request.node.name}.png"))
    context.close()
