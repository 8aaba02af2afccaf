#!/usr/bin/env bash
# The README's first command: install, prepare the database and demo data, then start the portal,
# JupyterHub with its proxy, and a grading worker on loopback. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install.sh

export ACADEMY_VAR_DIR="${ACADEMY_VAR_DIR:-$PWD/var}"
mkdir -p "$ACADEMY_VAR_DIR"
# Secrets for this one machine, made once and kept in var/ (never in the repository).
secret() { local f="$ACADEMY_VAR_DIR/$1"; [ -s "$f" ] || (umask 077; openssl rand -hex 32 >"$f"); cat "$f"; }
export ACADEMY_HUB_CLIENT_ID="${ACADEMY_HUB_CLIENT_ID:-jupyterhub}"
export ACADEMY_HUB_CLIENT_SECRET="${ACADEMY_HUB_CLIENT_SECRET:-$(secret hub_client_secret)}"
export ACADEMY_HUB_API_TOKEN="${ACADEMY_HUB_API_TOKEN:-$(secret hub_api_token)}"
# The master secret of the grading tokens: the portal and the hub hold it; the worker gets only its own token.
export ACADEMY_GRADER_TOKEN="${ACADEMY_GRADER_TOKEN:-$(secret grader_token)}"
export JUPYTERHUB_CRYPT_KEY="${JUPYTERHUB_CRYPT_KEY:-$(secret hub_crypt_key)}"
export ACADEMY_PORTAL_URL="${ACADEMY_PORTAL_URL:-http://127.0.0.1:5000}"
export ACADEMY_HUB_URL="${ACADEMY_HUB_URL:-http://127.0.0.1:8000}"
export ACADEMY_DATA_DIR="${ACADEMY_DATA_DIR:-$ACADEMY_VAR_DIR/data}"
export PATH="$PWD/node_modules/.bin:$PATH"
# Scrapers send this token to the portal's /metrics and the worker's metrics port (README "Metrics").
export ACADEMY_METRICS_TOKEN="${ACADEMY_METRICS_TOKEN:-$(secret metrics_token)}"
# One portal worker per core; their rate-limit counts must be shared, so they live in Redis (README "Settings").
portal_workers="${ACADEMY_PORTAL_WORKERS:-$(nproc)}"
limits_chosen="${ACADEMY_RATELIMIT_STORAGE_URI:-}"
export ACADEMY_RATELIMIT_STORAGE_URI="${ACADEMY_RATELIMIT_STORAGE_URI:-redis://127.0.0.1:6379/1}"
if [[ "$ACADEMY_RATELIMIT_STORAGE_URI" == redis* ]] && ! .venv/bin/python -c \
    'import redis, sys; redis.Redis.from_url(sys.argv[1], socket_timeout=3).ping()' "$ACADEMY_RATELIMIT_STORAGE_URI" 2>/dev/null; then
  if [ -n "$limits_chosen" ]; then
    echo "!! Redis at $ACADEMY_RATELIMIT_STORAGE_URI (ACADEMY_RATELIMIT_STORAGE_URI) is unreachable: start it first" >&2
    exit 1
  fi
  # Per-process counters with several workers would allow each limit once per worker: one worker instead.
  echo "!! no Redis at $ACADEMY_RATELIMIT_STORAGE_URI: the portal runs ONE worker with in-memory rate limits (apt install redis-server for $portal_workers)"
  export ACADEMY_RATELIMIT_STORAGE_URI="memory://" && portal_workers=1
fi
# Each multi-process server's metric values, summed at each scrape; emptied at every start (stale pids would count).
metrics_dir() { rm -rf "$ACADEMY_VAR_DIR/metrics/$1" && mkdir -p "$ACADEMY_VAR_DIR/metrics/$1" && echo "$ACADEMY_VAR_DIR/metrics/$1"; }
FLASK=".venv/bin/flask --app wsgi"

echo "==> database"
$FLASK db upgrade >/dev/null
if $FLASK academy seed-demo; then :; else echo "(demo data already present)"; fi

echo "==> datasets into $ACADEMY_DATA_DIR"
if [ -n "${ACADEMY_DATASETS_FROM:-}" ]; then
  $FLASK academy datasets fetch --from "$ACADEMY_DATASETS_FROM" || echo "!! dataset import failed (see above)"
else
  $FLASK academy datasets fetch || echo "!! could not fetch every dataset from its canonical source (see above); labs that need it will say so"
fi

# Job control: background services keep the default SIGINT (a script's background jobs otherwise ignore
# it), so JupyterHub's stop of its services (SIGINT first) ends them at once instead of after timeouts.
set -m
pids=()
stop() { echo "==> stopping"; for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait; }
trap stop EXIT INT TERM

echo "==> portal on $ACADEMY_PORTAL_URL"
PROMETHEUS_MULTIPROC_DIR="$(metrics_dir portal)" \
  .venv/bin/gunicorn --bind 127.0.0.1:5000 --workers "$portal_workers" --threads 8 --access-logfile - wsgi:app &
pids+=($!)
echo "==> JupyterHub on $ACADEMY_HUB_URL"
.venv/bin/jupyterhub -f jupyterhub_config.py &
pids+=($!)
echo "==> grading worker"
# It may post results and nothing else: its own token, never the master secret (which mints every token).
worker_token="$($FLASK grading service-token results)"
env -u ACADEMY_GRADER_TOKEN ACADEMY_WORKER_TOKEN="$worker_token" PROMETHEUS_MULTIPROC_DIR="$(metrics_dir worker)" \
  ACADEMY_WORKER_METRICS_PORT="${ACADEMY_WORKER_METRICS_PORT:-9101}" \
  .venv/bin/celery -A academy.grading.celery_app worker --loglevel=INFO --concurrency=2 -Q cpu,gpu &
pids+=($!)
echo "==> ready: open $ACADEMY_PORTAL_URL (demo logins above; Ctrl-C stops everything)"
wait -n
