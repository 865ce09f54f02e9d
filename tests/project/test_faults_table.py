"""docs/FAULTS.md names a test for every fault it promises a behaviour for: each must exist."""

from __future__ import annotations

import re

import pytest

from pipelines.config import PROJECT_ROOT

pytestmark = pytest.mark.unit

NAMED = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`")


def test_every_test_the_fault_table_names_exists():
    table = (PROJECT_ROOT / "docs" / "FAULTS.md").read_text()
    rows = [line for line in table.splitlines() if re.match(r"\| \d+ \|", line)]
    named = [NAMED.search(row) for row in rows]
    assert len(rows) >= 30
    missing = [f"{m[1]}::{m[2]}" for m in filter(None, named)
               if not re.search(rf"^(async )?def {m[2]}\(", (PROJECT_ROOT / m[1]).read_text(), re.M)]
    assert missing == []
    numbers = [int(row.split("|")[1]) for row in rows]
    assert numbers == list(range(1, len(rows) + 1)), "rows numbered in order"
    unnamed = [row for row, m in zip(rows, named, strict=True) if m is None]
    assert all(row.rstrip(" |").endswith("the same test") for row in unnamed), unnamed
    assert named[0] is not None
