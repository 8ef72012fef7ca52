#!/usr/bin/env bash
# Set up a development environment in .venv (Python >= 3.10): trustaudit with every extra and dev tools.
# System packages for PDF rendering (WeasyPrint) and PDF text extraction are installed when run as root
# on Debian/Ubuntu; otherwise install them yourself (see README).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && [ -z "${TRUSTAUDIT_SKIP_APT:-}" ]; then
  pkgs="libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core poppler-utils"
  if ! dpkg -s $pkgs >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq $pkgs >/dev/null
  fi
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade uv
.venv/bin/uv pip install --python .venv/bin/python -q -e ".[all,dev,service-test]"
echo "setup done: .venv ready"
