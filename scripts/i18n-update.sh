#!/usr/bin/env bash
# Refresh web/translations/en from the Arabic source strings (templates and code under web/).
# Then fill in every empty msgstr: tests/test_web.py fails while any message lacks its English.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
pot=$(mktemp --suffix=.pot)
trap 'rm -f "$pot"' EXIT
"$VENV/bin/pybabel" extract -F web/babel.cfg -k N_ --no-location --sort-output -o "$pot" web
"$VENV/bin/pybabel" update -i "$pot" -d web/translations -l en --no-fuzzy-matching --ignore-obsolete
