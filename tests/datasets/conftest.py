"""Fixtures for the dataset catalogue tests: the shared data, a small copy of it, a local HTTP server."""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "datasets"


@pytest.fixture
def shared_data() -> Path:
    """Return the verified shared copy of every dataset."""
    return SHARED_DATA.resolve()


@pytest.fixture
def small_copy(tmp_path: Path, shared_data: Path) -> Path:
    """Return a folder <tmp>/src holding a private copy of two small datasets."""
    src = tmp_path / "src"
    for dataset_id in ("ai4i2020", "steel_plates_faults"):
        shutil.copytree(shared_data / dataset_id, src / dataset_id)
    return src


@pytest.fixture
def http_root(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """Serve a temporary folder over HTTP on 127.0.0.1 and yield (folder, base URL)."""
    root = tmp_path / "www"
    root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep test output clean
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
