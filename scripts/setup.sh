#!/usr/bin/env bash
# Installs what jackd's demo, tests and benchmarks need on a Debian machine (run as root, or
# with sudo available): Debian's beanstalkd, stunnel4 (the TLS tests put it in front of
# beanstalkd), tmux (the jackd top tests run it in a real terminal), Chromium and chromedriver
# (the web console's browser tests drive a real headless one), redis-server (the job queues
# bench/ compares jackd's workers with run on it) and Python venv support, then a virtualenv in
# .venv holding jackd (editable) with its dev extras. Safe to run again: it only adds what is
# missing.
set -euo pipefail
cd "$(dirname "$0")/.."

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi

updated=""
apt_install() {
  echo "setup: installing Debian packages: $*"
  if [ -z "$updated" ]; then
    $sudo apt-get update -qq
    updated=yes
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

need=()
command -v beanstalkd >/dev/null 2>&1 || need+=(beanstalkd)
command -v stunnel4 >/dev/null 2>&1 || command -v stunnel >/dev/null 2>&1 || need+=(stunnel4)
command -v tmux >/dev/null 2>&1 || need+=(tmux)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v python3 >/dev/null 2>&1 || need+=(python3 python3-venv)
if [ ${#need[@]} -gt 0 ]; then apt_install "${need[@]}"; fi

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  if ! python3 -m venv .venv >/dev/null 2>&1; then
    # Debian's python3 ships without venv support until python3-venv is installed.
    rm -rf .venv
    apt_install python3-venv
    python3 -m venv .venv
  fi
fi
echo "setup: installing jackd and its dev extras into .venv"
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
.venv/bin/python -c 'import jackd' # fail here, not later, if the install did not work
