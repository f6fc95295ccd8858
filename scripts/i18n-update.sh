#!/usr/bin/env bash
# Refresh web/translations/en from the Arabic source strings (templates and code under web/).
# Then fill in every empty msgstr: tests/test_web.py fails while any message lacks its English.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
pot=$(mktemp --suffix=.pot)
trap 'rm -f "$pot"' EXIT
"$VENV/bin/pybabel" extract -F web/babel.cfg -k N_ -k _l --no-location --sort-output -o "$pot" web
"$VENV/bin/pybabel" update -i "$pot" -d web/translations -l en --no-fuzzy-matching --ignore-obsolete -w 120
# Arabic is the source language, so web/translations/ar holds only the plural messages (ngettext): each needs all six
# of Arabic's CLDR forms (zero, one, two, 3-10, 11-99, 100+). tests/test_grammar.py fails while any form is empty.
"$VENV/bin/python" - "$pot" <<'PY'
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

with open(sys.argv[1], "rb") as fh:
    template = read_po(fh)
plurals = Catalog(locale="ar", project="Sijill", version="0.1")
for message in template:
    if message.id and message.pluralizable:
        plurals.add(message.id, flags=message.flags)
target = Path("web/translations/ar/LC_MESSAGES/messages.po")
if target.exists():
    with target.open("rb") as fh:
        catalog = read_po(fh, locale="ar")
else:
    target.parent.mkdir(parents=True, exist_ok=True)
    catalog = Catalog(locale="ar", project="Sijill", version="0.1")
catalog.update(plurals, no_fuzzy_matching=True)
catalog.obsolete.clear()
with target.open("wb") as fh:
    write_po(fh, catalog, omit_header=False, sort_output=True)
PY
