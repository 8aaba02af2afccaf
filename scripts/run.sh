#!/usr/bin/env bash
# The README's first command: install, prepare the database and demo data, then start the portal,
# JupyterHub with its proxy, and a grading worker on loopback. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
# ACADEMY_RUN_PREPARED=1: the install, the demo data and the datasets are there already (tests, a service
# manager restarting it); skip those steps and only start.
PREPARED="${ACADEMY_RUN_PREPARED:-0}"
[ "$PREPARED" = 1 ] || ./scripts/install.sh

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
if [ "$PREPARED" = 1 ]; then :; elif $FLASK academy seed-demo; then :; else echo "(demo data already present)"; fi

echo "==> datasets into $ACADEMY_DATA_DIR"
if [ "$PREPARED" = 1 ]; then
  echo "(skipped: ACADEMY_RUN_PREPARED=1)"
elif [ -n "${ACADEMY_DATASETS_FROM:-}" ]; then
  $FLASK academy datasets fetch --from "$ACADEMY_DATASETS_FROM" || echo "!! dataset import failed (see above)"
else
  $FLASK academy datasets fetch || echo "!! could not fetch every dataset from its canonical source (see above); labs that need it will say so"
fi

# Job control: background services keep the default SIGINT (a script's background jobs otherwise ignore
# it), so JupyterHub's stop of its services (SIGINT first) ends them at once instead of after timeouts; and
# each service runs in a process group of its own, so a stop reaches its workers too.
set -m
pids=()
# Stopping (Ctrl-C, or the SIGTERM a service manager sends to this script alone): each service gets SIGTERM
# (its whole process group: gunicorn's and Celery's workers too) and STOP_GRACE seconds to stop cleanly;
# then whatever is left of everything this script started is killed, down to the hub's proxy and managed
# services (they run in sessions of their own, out of reach of a process-group signal). Without the deadline
# a stop could wait minutes: gunicorn for open connections (30 s), a grading worker for its running job (a
# killed job is graded again: jobs are acknowledged only when done), the hub for services that ignore SIGINT.
STOP_GRACE="${ACADEMY_STOP_GRACE:-5}"
descendants() {  # every process below this one (one ps call: a busy machine must not slow the stop down)
  ps -e -o pid=,ppid= | awk -v root="$1" '{ kids[$2] = kids[$2] " " $1 }
    END { n = split(kids[root], q, " "); for (i = 1; i <= n; i++) { print q[i]; m = split(kids[q[i]], more, " ");
          for (j = 1; j <= m; j++) q[++n] = more[j] } }'
}
running() {  # whether any of these processes still runs (a zombie waiting for its parent's wait does not)
  [ $# -gt 0 ] && ps -o stat= -p "$(IFS=,; echo "$*")" 2>/dev/null | grep -qv '^Z'
}
now_ms() { local t="${EPOCHREALTIME/[.,]/}"; echo $((t / 1000)); }
stopping=0
stop() {
  [ "$stopping" = 0 ] || return 0
  stopping=1
  echo "==> stopping"
  local everyone p deadline
  everyone=($(descendants $$))
  deadline=$(($(now_ms) + STOP_GRACE * 1000))
  for p in "${pids[@]}"; do kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null || true; done
  while running "${everyone[@]}" && [ "$(now_ms)" -lt "$deadline" ]; do sleep 0.2; done
  everyone+=($(descendants $$))
  if running "${everyone[@]}"; then
    echo "==> still running after ${STOP_GRACE} s: killing what is left"
    for p in "${pids[@]}"; do kill -KILL -- "-$p" 2>/dev/null || true; done
    kill -KILL "${everyone[@]}" 2>/dev/null || true
  fi
  wait 2>/dev/null || true
}
trap stop EXIT
trap 'stop; exit 0' INT TERM

echo "==> portal on $ACADEMY_PORTAL_URL"
# gunicorn.conf.py: the settings that are not per-machine (the keep-alive timeout a class start needs).
PROMETHEUS_MULTIPROC_DIR="$(metrics_dir portal)" .venv/bin/gunicorn --config gunicorn.conf.py \
  --bind "${ACADEMY_PORTAL_BIND:-127.0.0.1:5000}" --workers "$portal_workers" --threads 8 --access-logfile - wsgi:app &
pids+=($!)
echo "==> JupyterHub on $ACADEMY_HUB_URL"
# SIGINT back to its default even where this script was started with it ignored (nohup, a script's `&`): the
# hub stops its managed services with SIGINT first, and a service that ignores it costs the stop 10 s each.
env --default-signal=INT .venv/bin/jupyterhub -f jupyterhub_config.py &
pids+=($!)
echo "==> grading worker"
# It may post results and nothing else: its own token, never the master secret (which mints every token).
worker_token="$($FLASK grading service-token results)"
env -u ACADEMY_GRADER_TOKEN ACADEMY_WORKER_TOKEN="$worker_token" PROMETHEUS_MULTIPROC_DIR="$(metrics_dir worker)" \
  ACADEMY_WORKER_METRICS_PORT="${ACADEMY_WORKER_METRICS_PORT:-9101}" \
  .venv/bin/celery -A academy.grading.celery_app worker --loglevel=INFO --concurrency=2 -Q cpu,gpu &
pids+=($!)
echo "==> scheduled jobs: a portal worker (queue portal, the portal's settings) and beat"
.venv/bin/celery -A academy.scheduled.celery_app worker --loglevel=INFO --concurrency=1 -Q portal -n portal@%h &
pids+=($!)
.venv/bin/celery -A academy.scheduled.celery_app beat --loglevel=INFO -s "$ACADEMY_VAR_DIR/celerybeat-schedule" &
pids+=($!)
echo "==> ready: open $ACADEMY_PORTAL_URL (demo logins above; Ctrl-C stops everything)"
wait -n
