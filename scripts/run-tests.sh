#!/usr/bin/env bash
# The README's test command after installation: lint, type-check, then the whole suite against real servers
# (PostgreSQL and Redis are started by the test fixtures when none answers on loopback; SeaweedFS S3 always is).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}

echo "== ruff"
"$VENV/bin/ruff" check .
echo "== mypy"
"$VENV/bin/mypy"
echo "== pytest"
exec "$VENV/bin/pytest" -q -ra "$@"
