#!/usr/bin/env bash
# Sets everything up (scripts/setup.sh), then runs the demo: a producer and a worker over
# 10,000 jobs, against a private beanstalkd unless BEANSTALKD_URL names a server.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/python examples/demo.py "$@"
