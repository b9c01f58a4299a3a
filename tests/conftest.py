"""Test-wide settings: no test ever touches the real session store of this machine."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _private_data_dir(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    # Clients default to the file store; without this, a test that forgets storage= would
    # read and write the developer's own ~/.local/share/agnost.
    path = tmp_path_factory.mktemp("agnost-data")
    monkeypatch.setenv("AGNOST_DATA_DIR", str(path))
    return path
