"""Fixtures of the client tests: a recording server, a second origin, and the two flavours.

Every test that takes ``flavour`` runs twice, as ``test_x[sync]`` and ``test_x[async]``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ._support import FLAVOURS, Flavour, RecordingServer


@pytest.fixture(autouse=True)
def _private_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A client made without a store must never touch the real user's data directory.
    monkeypatch.setenv("AGNOST_DATA_DIR", str(tmp_path / "agnost-data"))


@pytest.fixture
def server() -> Iterator[RecordingServer]:
    with RecordingServer() as running:
        yield running


@pytest.fixture
def other_origin() -> Iterator[RecordingServer]:
    """A second server, standing for another origin a redirect may point to."""
    with RecordingServer() as running:
        yield running


@pytest.fixture(params=FLAVOURS)
def flavour(request: pytest.FixtureRequest) -> Iterator[Flavour]:
    with Flavour(request.param) as chosen:
        yield chosen
