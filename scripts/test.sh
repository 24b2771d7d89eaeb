#!/usr/bin/env bash
# Sets everything up (scripts/setup.sh), then runs every check CI runs: ruff, mypy --strict,
# and the whole pytest suite (unit tests and integration tests against real beanstalkd servers).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy --strict"
.venv/bin/mypy
echo "== pytest"
.venv/bin/python -m pytest "$@"
