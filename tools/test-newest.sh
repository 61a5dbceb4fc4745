#!/usr/bin/env bash
# For maintainers, not CI: the test suite against the newest versions the registry serves today (no lock,
# no caps), in a fresh venv in a temporary folder, so a coming break shows before `bash tools/lock.sh
# --upgrade`. Usage: bash tools/test-newest.sh [pytest args...]; the log is kept in newest-versions.log.
set -uo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d /tmp/facerec-newest.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
python3 -m venv "$tmp/venv"
. "$tmp/venv/bin/activate"
cpu_wheel=$(ls /opt/wheels/torch-*+cpu-*.whl 2>/dev/null | head -n 1)
[ -n "$cpu_wheel" ] && python -m pip install -q "$cpu_wheel"
python -m pip install -q --upgrade pip
python -m pip install -q --upgrade --upgrade-strategy eager -e ".[test]" || exit 1
python -m pip freeze > newest-versions.txt
python -m pytest -q "$@" 2>&1 | tee newest-versions.log
exit "${PIPESTATUS[0]}"
