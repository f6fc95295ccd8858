#!/usr/bin/env bash
# Install what Sijill needs on Debian 12 (as root or with sudo): system packages, then a virtualenv.
# Idempotent and quick when everything is present: apt runs only for missing packages, pip only when
# pyproject.toml changed since the last install.
#   scripts/install.sh          what the app needs
#   scripts/install.sh --test   plus what the tests need (browsers, servers, tokens, PDF tools)
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
WITH_TEST=0
[[ "${1:-}" == "--test" ]] && WITH_TEST=1

APP_PACKAGES=(
  tesseract-ocr tesseract-ocr-ara tesseract-ocr-eng tesseract-ocr-script-arab
  fonts-noto-core fonts-hosny-amiri
  poppler-utils
  libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b
  python3-venv
)
TEST_PACKAGES=(
  chromium
  postgresql redis-server
  softhsm2 opensc
  zbar-tools
  wrk
  ghostscript unpaper
)

packages=("${APP_PACKAGES[@]}")
(( WITH_TEST )) && packages+=("${TEST_PACKAGES[@]}")
# npm for axe-core: Debian's nodejs and npm only where no npm is on the machine (a Node.js from another source, such
# as NodeSource's, ships its own npm and conflicts with Debian's npm package).
if (( WITH_TEST )) && ! command -v npm >/dev/null 2>&1; then packages+=(nodejs npm); fi

missing=()
for pkg in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if (( ${#missing[@]} )); then
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  echo "install: apt packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "install: Sijill needs Python 3.11 or newer; $PYTHON is $("$PYTHON" --version 2>&1)." >&2
  exit 1
fi

if [[ ! -x "$VENV/bin/python" ]]; then
  echo "install: creating virtualenv $VENV"
  "$PYTHON" -m venv "$VENV"
fi

extras=""
(( WITH_TEST )) && extras="[test]"
stamp="$VENV/.sijill-installed"
want="$(sha256sum pyproject.toml | cut -d' ' -f1)$extras"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  echo "install: python packages$extras"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -e ".$extras"
  echo "$want" > "$stamp"
fi

# axe-core, injected into every page of the browser tests' walk (tests/test_browser_walk.py) to check accessibility.
AXE_VERSION=4.14.1
if (( WITH_TEST )) && [[ ! -f "$VENV/node/node_modules/axe-core/axe.min.js" ]]; then
  echo "install: npm axe-core@$AXE_VERSION"
  npm install --silent --no-audit --no-fund --prefix "$VENV/node" "axe-core@$AXE_VERSION" >/dev/null
fi
