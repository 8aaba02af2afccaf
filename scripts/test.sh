#!/usr/bin/env bash
# The README's second command: install what the tests need, then run the whole suite on SQLite
# and the database-facing part again on PostgreSQL (a scratch database the tests create and drop).
set -euo pipefail
cd "$(dirname "$0")/.."
ACADEMY_WITH_BROWSER=1 ./scripts/install.sh
.venv/bin/pip install -q --disable-pip-version-check -r requirements-test.txt

# The services this machine runs: start them if they are down (CI starts from the same machine).
if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start || true
fi
if ! redis-cli -h 127.0.0.1 ping >/dev/null 2>&1; then
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
fi

export ACADEMY_VAR_DIR="$(mktemp -d)"
trap 'rm -rf "$ACADEMY_VAR_DIR"' EXIT
export PYTHONDONTWRITEBYTECODE=1

echo "==> tests on SQLite"
ACADEMY_TEST_DATABASE=sqlite .venv/bin/python -m pytest "$@"

echo "==> database-facing tests on PostgreSQL"
ACADEMY_TEST_DATABASE=postgresql .venv/bin/python -m pytest -m "not browser" \
  --ignore=tests/labs --ignore=tests/datasets --ignore=tests/grading "$@"
