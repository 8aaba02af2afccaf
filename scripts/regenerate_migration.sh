#!/usr/bin/env bash
# Rebuild the single initial migration from the models (only while no database outside
# development has been created from an earlier one; after the first release, add migrations).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp="$(mktemp -d)"
rm -f migrations/versions/*_initial_schema.py
ACADEMY_VAR_DIR="$tmp" DATABASE_URL="sqlite:///$tmp/empty.sqlite" .venv/bin/flask --app wsgi db migrate -m "initial schema" >/dev/null
.venv/bin/python scripts/_patch_cycle.py migrations/versions/*_initial_schema.py
ACADEMY_VAR_DIR="$tmp" DATABASE_URL="sqlite:///$tmp/empty.sqlite" .venv/bin/flask --app wsgi db upgrade >/dev/null
ACADEMY_VAR_DIR="$tmp" DATABASE_URL="sqlite:///$tmp/empty.sqlite" .venv/bin/flask --app wsgi db check
rm -rf "$tmp"
