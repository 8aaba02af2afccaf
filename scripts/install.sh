#!/usr/bin/env bash
# Install everything the platform needs into the project folder (idempotent):
# system packages where we are root, the Python venv, the JupyterHub proxy, compiled translations.
set -euo pipefail
cd "$(dirname "$0")/.."

SYSTEM_PACKAGES="bubblewrap fonts-nanum postgresql-client"   # sandbox for grading; Korean font for pages and charts;
# pg_dump/pg_restore for `flask academy backup/restore` on PostgreSQL
if [ "${ACADEMY_WITH_BROWSER:-0}" = 1 ]; then SYSTEM_PACKAGES="$SYSTEM_PACKAGES chromium"; fi

missing=""
for p in $SYSTEM_PACKAGES; do
  # Any installed client version counts (postgresql-client-15 without the metapackage); backup picks the server's.
  if [ "$p" = postgresql-client ] && command -v pg_restore >/dev/null; then continue; fi
  dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "==> installing system packages:$missing"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
  else
    echo "!! please install these Debian packages as root:$missing" >&2
  fi
fi

# The OS user each course's formgrader and grade sync run as when JupyterHub runs as root: it may write its
# gradebooks and nothing that the hub, the portal or the grading worker run (see README, Security).
FORMGRADER_USER="${ACADEMY_FORMGRADER_USER:-academy-formgrader}"
if [ "$(id -u)" = 0 ] && [ "$FORMGRADER_USER" != root ] && ! id -u "$FORMGRADER_USER" >/dev/null 2>&1; then
  echo "==> system user $FORMGRADER_USER (formgraders)"
  useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$FORMGRADER_USER"
fi

if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  python3 -m venv .venv
fi
echo "==> Python packages (requirements.txt)"
.venv/bin/pip install -q --disable-pip-version-check -r requirements.txt

if [ -f package.json ]; then
  echo "==> JupyterHub proxy (npm)"
  if [ -f package-lock.json ]; then npm ci --silent --no-audit --no-fund; else npm install --silent --no-audit --no-fund; fi
fi

echo "==> trainees' JupyterLab extension (labextension/: Check and Submit in the notebook, courses on the launcher)"
# Built once, and again only when a source file is newer than the build (a rebuild takes a minute).
built=labextension/built/@academy/lab/package.json
if [ ! -f "$built" ] || [ -n "$(find labextension/src labextension/style labextension/package.json labextension/package-lock.json labextension/tsconfig.json -newer "$built" 2>/dev/null | head -1)" ]; then
  (cd labextension && npm ci --silent --no-audit --no-fund \
    && JUPYTERLAB_STAGING="$(../.venv/bin/python -c 'import jupyterlab, os; print(os.path.join(os.path.dirname(jupyterlab.__file__), "staging"))')" \
       npm run --silent build >/dev/null)
fi

echo "==> translations"
ACADEMY_VAR_DIR="${ACADEMY_VAR_DIR:-$PWD/var}" .venv/bin/flask --app wsgi academy compile-translations >/dev/null
echo "==> installed"
