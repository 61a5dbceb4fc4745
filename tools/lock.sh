#!/usr/bin/env bash
# Refresh the lock: re-resolve every extra for every supported Python (uv.lock, with hashes), then
# export the requirement files the README (demo, test) and the Dockerfile (image) install from. Usage: bash tools/lock.sh [--upgrade]
set -euo pipefail
cd "$(dirname "$0")/.."
command -v uv >/dev/null 2>&1 || python -m pip install -q uv
uv lock "$@"
uv export -q --frozen --no-emit-project --extra demo -o requirements/demo.txt
uv export -q --frozen --no-emit-project --extra test -o requirements/test.txt
uv export -q --frozen --no-emit-project --extra service --extra gallery -o requirements/image.txt
