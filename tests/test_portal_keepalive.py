"""The portal's gunicorn keeps an idle connection open longer than a sign-in's hop to the hub and back.

With gunicorn's default keep-alive (2 s), a class start lost trainees: the portal closed a connection just as
the trainee's next request (/oauth/authorize, after the hub's redirects) arrived on it, a TCP reset
(BENCHMARKS.md, "Class-start burst"). Checked once without gunicorn.conf.py's keepalive: the second request on
the connection failed (the server had closed it after 2 s).
"""
from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time

import pytest

from tests.hub.stack import REPO, free_port

pytestmark = pytest.mark.slow


def test_an_idle_connection_is_still_served_after_five_seconds(tmp_path):
    port = free_port()
    env = {**os.environ, "ACADEMY_VAR_DIR": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path / 'p.sqlite'}"}
    env.pop("ACADEMY_TEST_DATABASE", None)
    # As scripts/run.sh starts it (its per-machine flags aside), from another folder: the file is named, not found.
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "--config", str(REPO / "gunicorn.conf.py"),
                               "--chdir", str(REPO), "--bind", f"127.0.0.1:{port}", "--threads", "2", "wsgi:app"],
                              cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, server.stderr.read().decode()[-2000:]
                time.sleep(0.2)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/healthz")
        first = connection.getresponse()
        first.read()
        assert first.status == 200
        time.sleep(5)
        connection.request("GET", "/healthz")  # the same socket: http.client does not reconnect by itself
        assert connection.getresponse().status == 200
        connection.close()
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_run_script_starts_the_portal_with_that_file():
    assert "gunicorn --config gunicorn.conf.py" in (REPO / "scripts" / "run.sh").read_text()
