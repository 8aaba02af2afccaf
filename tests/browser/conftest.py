"""A real portal server on a loopback port, seeded with the demo data, and headless Chromium."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def demo_portal(var: Path, server_env: dict[str, str] | None = None) -> Iterator[str]:
    """Run the portal as users get it (gunicorn, CSRF on) on SQLite with the demo data in var; yield its URL.

    server_env is given to the server only (not to the seed): e.g. a mail server the seed must not send through.
    """
    port = free_port()
    # Links the portal writes for elsewhere (a certificate's QR code, e-mail) are built on its own address.
    env = {**os.environ, "ACADEMY_VAR_DIR": str(var), "DATABASE_URL": f"sqlite:///{var / 'portal.sqlite'}",
           "ACADEMY_PORTAL_URL": f"http://127.0.0.1:{port}"}
    env.pop("ACADEMY_TEST_DATABASE", None)
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    subprocess.run([*flask, "db", "upgrade"], cwd=REPO, env=env, check=True, capture_output=True)
    subprocess.run([*flask, "academy", "seed-demo"], cwd=REPO, env=env, check=True, capture_output=True)
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "4", "wsgi:app"],
        cwd=REPO, env={**env, **(server_env or {})}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if server.poll() is not None:
                    raise RuntimeError(server.stderr.read().decode())
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture(scope="session")
def portal_url(tmp_path_factory):
    """The portal with the demo data, shared by the browser tests."""
    with demo_portal(tmp_path_factory.mktemp("portal-var")) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    # Module scope: Playwright's sync API keeps an event loop running while it is open, which
    # would break later tests that start their own (the hub tests call asyncio.run).
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/test.sh installs Debian's chromium")
    # Imported here: Playwright is needed only where the browser tests run.
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, tmp_path):
    context = browser.new_context(locale="ko-KR", viewport={"width": 390, "height": 844})  # a phone
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def screenshot_dir():
    path = Path(os.environ.get("ACADEMY_SCREENSHOTS", "")) if os.environ.get("ACADEMY_SCREENSHOTS") else None
    if path:
        path.mkdir(parents=True, exist_ok=True)
    return path
