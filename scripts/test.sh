#!/usr/bin/env bash
# Sets everything up (scripts/setup.sh), then runs every check CI runs: ruff, mypy --strict,
# the package check (scripts/check_package.sh), the docs site's strict build (mkdocs.yml), and
# the whole pytest suite (unit tests and integration tests against real beanstalkd servers) with
# its branch-coverage floor. Arguments go to pytest.
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
echo "== docs"
# --strict: any warning fails, among them a snippet, link or API name that leads nowhere. The
# build fetches nothing (see mkdocs.yml); NO_MKDOCS_2_WARNING quiets a notice about MkDocs 2.
NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict --quiet
echo "== pytest, measuring branch coverage"
# coverage runs pytest rather than pytest-cov running inside it, so that measuring starts
# before pytest imports jackd's plugin (see [tool.coverage] in pyproject.toml).
.venv/bin/python -m coverage erase
.venv/bin/python -m coverage run -m pytest "$@"
# The floor (fail_under) holds for the whole suite; a run of some tests only reports.
.venv/bin/python -m coverage report ${1:+--fail-under=0}
