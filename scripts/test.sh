#!/usr/bin/env bash
# Sets everything up (scripts/setup.sh), then runs every check CI runs: ruff, mypy --strict,
# the package check (scripts/check_package.sh), and the whole pytest suite (unit tests and
# integration tests against real beanstalkd servers).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy --strict"
.venv/bin/mypy
echo "== package"
bash scripts/check_package.sh
echo "== pytest"
.venv/bin/python -m pytest "$@"
