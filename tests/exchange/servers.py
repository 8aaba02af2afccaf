"""A trainee's jupyter server as the hub starts it (the trainee config layer, the academy extensions), for tests."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[2]
SINGLEUSER = REPO / "deploy" / "singleuser"


@contextmanager
def trainee_server(home: Path, token: str, env: dict[str, str]) -> Iterator[str]:
    """Run a jupyter server rooted at home, reached with token; yield its URL, stop it afterwards."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTERHUB_")}
    environment.update({"PYTHONPATH": str(REPO),
                        "JUPYTER_CONFIG_PATH": f"{SINGLEUSER / 'trainee'}{os.pathsep}{SINGLEUSER}",
                        "JUPYTER_CONFIG_DIR": str(home / ".jupyter"), "JUPYTER_DATA_DIR": str(home / ".local"),
                        "JUPYTER_RUNTIME_DIR": str(home / ".runtime"), **env})
    process = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "server", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
         f"--IdentityProvider.token={token}", "--allow-root", f"--ServerApp.root_dir={home}"],
        env=environment, cwd=home, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                if requests.get(f"{url}/api", timeout=1).ok:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline and process.poll() is None, "jupyter server did not start"
            time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
