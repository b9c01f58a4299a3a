"""Fixtures for the file-store tests: every test gets its own data directory."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import agnost
from agnost.storage.filestore import FileStore
from tests import samples

ENV_URL = "https://demo.agnost.test/e:42"
CLIENT_KEY = "client-key-0123"
#: A token no message, log or repr may ever show.
CANARY = "canary-token-5b2f0c9e8d7a4e1bb7f1c3d2a6e9f0aa"

SESSION: dict[str, Any] = {**samples.SESSION, "token": CANARY}
USER: dict[str, Any] = {
    **samples.USER,
    # Custom fields an app adds to its user model: they must survive untouched.
    "plan": {"tier": "pro", "seats": 12, "ratio": 0.1, "big": 2**70, "tags": ["a", None]},
}

REPO_ROOT = Path(agnost.__file__).resolve().parents[1]
WORKER = Path(__file__).with_name("procs.py")


@pytest.fixture(autouse=True)
def _private_default_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Never touch the real user's data directory, even through the default store.
    monkeypatch.setenv("AGNOST_DATA_DIR", str(tmp_path / "default-data"))


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def make_store(data_dir: Path) -> Callable[..., FileStore]:
    def make(**options: Any) -> FileStore:
        options.setdefault("data_dir", data_dir)
        return FileStore(ENV_URL, CLIENT_KEY, **options)

    return make


@pytest.fixture
def store(make_store: Callable[..., FileStore]) -> FileStore:
    return make_store()


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def temp_files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


def set_aside(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if ".corrupt-" in p.name)


def run_worker(
    *args: str, env: dict[str, str] | None = None, **popen: Any
) -> subprocess.Popen[str]:
    """Start ``procs.py`` in a fresh interpreter that imports this checkout of agnost."""
    child_env = dict(os.environ if env is None else env)
    child_env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO_ROOT), child_env.get("PYTHONPATH", "")) if p
    )
    return subprocess.Popen(
        [sys.executable, str(WORKER), *args],
        env=child_env,
        stdout=subprocess.PIPE,
        text=True,
        **popen,
    )
