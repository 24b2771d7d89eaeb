"""The docs page on metrics lists every metric name the code exposes, and no other."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest.importorskip("prometheus_client")

from jackd.metrics import metric_names

PAGE = Path(__file__).resolve().parents[2] / "docs" / "web.md"


def test_the_docs_list_every_metric() -> None:
    section = PAGE.read_text()
    listed = re.findall(r"^\| `((?:beanstalkd|jackd)_\w+)` \|", section, re.M)
    assert sorted(listed) == sorted(metric_names())
    assert len(listed) == len(set(listed))
