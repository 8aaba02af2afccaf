"""Fixtures of the hub tests: the real portal + hub + proxy stack, and headless Chromium."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.hub.stack import REPO, Stack

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    proxy = REPO / "node_modules" / ".bin" / "configurable-http-proxy"
    if not proxy.exists():
        pytest.fail(f"{proxy} is missing: run `npm ci --prefix .` (scripts/install.sh does)")
    stack = Stack(tmp_path_factory.mktemp("hub-stack")).start_or_explain()
    yield stack
    stack.stop()


@pytest.fixture(scope="module")
def chromium():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/test.sh installs Debian's chromium")
    # Imported here: Playwright is needed only where the browser tests run.
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
