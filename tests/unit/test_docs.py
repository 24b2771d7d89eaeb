"""The docs site's sources: the API reference covers the public names, pages show real code.

Building the site (mkdocs build --strict, run by scripts/test.sh) catches a missing snippet
file or section, a broken link and a reference to a name that does not exist; these tests
catch what the build cannot: a public name left out of the reference, and an example that no
page shows.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
REFERENCE = DOCS / "reference"

_DIRECTIVE = re.compile(r"^::: ([\w.]+)$", re.MULTILINE)
_SNIPPET = re.compile(r'^--8<-- "([^"]+)"$', re.MULTILINE)


def documented() -> set[str]:
    return {m[1] for page in REFERENCE.glob("*.md") for m in _DIRECTIVE.finditer(page.read_text())}


@pytest.mark.parametrize("module", ["jackd", "jackd.aio", "jackd.testing", "jackd.observe"])
def test_reference_documents_every_public_name(module: str) -> None:
    names = set(importlib.import_module(module).__all__) - {"__version__"}
    if module in documented():  # the whole module, as ::: jackd.observe renders its __all__
        return
    missing = {f"{module}.{name}" for name in names} - documented()
    assert not missing, f"docs/reference/ has no '::: NAME' for {sorted(missing)}"


def test_reference_documents_public_names_only() -> None:
    private = {name for name in documented() if any(p.startswith("_") for p in name.split("."))}
    assert not private


def test_reference_documents_every_fixture() -> None:
    plugin = importlib.import_module("jackd.testing.plugin")
    fixtures = {
        name
        for name, value in vars(plugin).items()
        if not name.startswith("_") and hasattr(value, "_fixture_function_marker")
    }
    assert {"beanstalkd", "jackd_client"} <= fixtures  # pytest still marks fixtures this way
    missing = {f"jackd.testing.plugin.{name}" for name in fixtures} - documented()
    assert not missing


def test_every_page_is_in_the_nav() -> None:
    # mkdocs build --strict fails on a page left out of the nav too (validation.omitted_files);
    # this says which, without building.
    nav = (ROOT / "mkdocs.yml").read_text()
    pages = {str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md")}
    missing = {page for page in pages if f": {page}" not in nav}
    assert not missing


def test_snippets_name_files_that_exist() -> None:
    for page in DOCS.rglob("*.md"):
        for m in _SNIPPET.finditer(page.read_text()):
            path = m[1].split(":", 1)[0]
            assert (ROOT / path).is_file(), f"{page.relative_to(ROOT)} includes {m[1]!r}"
