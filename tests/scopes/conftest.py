"""Fixtures of the scope tests: the two flavours (every test taking ``flavour`` runs as
``[sync]`` and ``[async]``), and the data directory every client would write its session
file to, to check that nothing is ever written there."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.clients._support import FLAVOURS, Flavour


@pytest.fixture(params=FLAVOURS)
def flavour(request: pytest.FixtureRequest) -> Iterator[Flavour]:
    with Flavour(request.param) as chosen:
        yield chosen


@pytest.fixture
def data_dir(_private_data_dir: Path) -> Path:
    """``$AGNOST_DATA_DIR`` of this test (set by the suite's conftest): empty at the start."""
    assert list(_private_data_dir.rglob("*")) == []
    return _private_data_dir
