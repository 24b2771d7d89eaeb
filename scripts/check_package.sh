#!/usr/bin/env bash
# Builds jackd's sdist and wheel and checks them as the package index and a user will see them:
# twine check --strict (metadata, and the README rendered), no relative links in the README,
# py.typed and the pytest plugin in the wheel, and an install into a fresh virtualenv with no
# extras, where jackd, jackd.aio and jackd.testing import and nothing else got installed.
# Needs the dev extras (scripts/setup.sh); scripts/test.sh runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
py="$PWD/.venv/bin/python"

work="$(mktemp -d "${TMPDIR:-/tmp}/jackd-package.XXXXXX")"
trap 'rm -rf "$work"' EXIT

echo "package: building the sdist and the wheel"
# --no-isolation: build with the dev extra's hatchling, so that every install step stays in
# scripts/setup.sh and this runs without the package index.
if ! "$py" -m build --no-isolation --outdir "$work/dist" . >"$work/build.log" 2>&1; then
  cat "$work/build.log"
  exit 1
fi
sdist=("$work"/dist/jackd-*.tar.gz)
wheel=("$work"/dist/jackd-*.whl)

echo "package: twine check --strict"
"$py" -m twine check --strict "${sdist[0]}" "${wheel[0]}"

# Relative links and in-page anchors do not work on the package index page.
"$py" - README.md <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
bad = re.findall(r"\]\((?!https?://)([^)]*)\)|^\[[^\]]+\]:\s*(?!https?://)(\S+)", text, re.M)
if bad:
    sys.exit(f"README links that are not absolute: {[a or b for a, b in bad]}")
EOF

"$py" - "${wheel[0]}" <<'EOF'
import re, sys, zipfile
wheel = zipfile.ZipFile(sys.argv[1])
names = set(wheel.namelist())
missing = {
    "jackd/py.typed", "jackd/testing/plugin.py", "jackd/testing/server.py",
    # The console serves these from the package: without them it has no pages.
    "jackd/web/templates/base.html", "jackd/web/static/console.js", "jackd/web/static/console.css",
} - names
if missing:
    sys.exit(f"the wheel lacks {sorted(missing)}")
if any(not name.startswith(("jackd/", "jackd-")) for name in names):
    sys.exit(f"the wheel holds files outside jackd/: {sorted(names)}")
(entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
if not re.search(r"^\[pytest11\]\njackd = jackd\.testing\.plugin$", wheel.read(entry_points).decode(), re.M):
    sys.exit("the wheel does not register the pytest plugin (pytest11 entry point)")
if not re.search(r"^\[console_scripts\]\njackd = jackd\.cli:main$", wheel.read(entry_points).decode(), re.M):
    sys.exit("the wheel does not install the jackd command (console_scripts entry point)")
(metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
if "Provides-Extra: cli" not in wheel.read(metadata).decode():
    sys.exit("the wheel has no cli extra")
EOF

echo "package: installing the wheel into a fresh virtualenv, without extras"
# Without pip of its own (making one costs seconds): this venv's pip installs into it, and
# then it holds nothing but what the wheel brought.
"$py" -m venv --without-pip "$work/venv"
venv_py="$work/venv/bin/python"
pip=("$py" -m pip --python "$venv_py" --disable-pip-version-check)
# --no-index: a dependency, had one crept in, could not be fetched and the install would fail.
"${pip[@]}" install --quiet --no-index "${wheel[0]}"
installed="$("${pip[@]}" list --format=freeze 2>/dev/null)"
version="$("$py" -c 'import re; print(re.search(r"__version__ = \"(.+)\"", open("src/jackd/__init__.py").read())[1])')"
if [ "$installed" != "jackd==$version" ]; then
  echo "package: the fresh virtualenv should hold jackd $version alone, but holds:"
  echo "$installed"
  exit 1
fi
# From elsewhere, so that the source tree is not on sys.path.
(cd "$work" && "$venv_py" - "$version" <<'EOF'
import importlib.metadata, sys
import jackd, jackd.aio, jackd.testing
from jackd.testing import BeanstalkdServer
assert jackd.__file__.startswith(sys.prefix), jackd.__file__
assert jackd.__version__ == importlib.metadata.version("jackd") == sys.argv[1]
assert "pytest" not in sys.modules, "importing jackd imported pytest"
plugins = importlib.metadata.entry_points(group="pytest11")
assert [p.value for p in plugins if p.name == "jackd"] == ["jackd.testing.plugin"]
print(f"package: jackd {jackd.__version__} OK: sdist and wheel built, checked and installed")
EOF
)
# Without the cli extra the jackd command is there, and says how to get what it needs.
set +e
said="$(cd "$work" && "$work/venv/bin/jackd" worker myapp.jobs:worker 2>&1)"
code=$?
set -e
if [ "$code" -ne 2 ] || [ "$said" != "jackd: the jackd command needs the cli extra: pip install 'jackd[cli]'" ]; then
  echo "package: without click, jackd should say how to install the cli extra and exit 2;"
  echo "it exited $code saying: $said"
  exit 1
fi
echo "package: without the cli extra, the jackd command says how to install it"
