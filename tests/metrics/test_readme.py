"""The README lists every metric name the code exposes, and no other."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest.importorskip("prometheus_client")

from jackd.metrics import metric_names

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_lists_every_metric() -> None:
    text = README.read_text()
    section = text[text.index("## The web console and metrics") : text.index("## Development")]
    listed = re.findall(r"^\| `((?:beanstalkd|jackd)_\w+)` \|", section, re.M)
    assert sorted(listed) == sorted(metric_names())
    assert len(listed) == len(set(listed))
