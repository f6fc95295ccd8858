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
# -n: pytest-xdist workers. Many tests wait on real servers and processes, so one more worker than the two cores of
# the CI machines keeps both busy (measured in docs/PERFORMANCE.md); SIJILL_TEST_WORKERS=0 runs in one process.
# --durations: the slowest tests are named in every run, so the suite can be kept well under 15 minutes.
exec "$VENV/bin/pytest" -q -ra -n "${SIJILL_TEST_WORKERS:-3}" --durations=15 "$@"
