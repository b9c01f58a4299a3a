"""The official JavaScript client, installed with npm into a cache directory once per version.

The cache is ``$AGNOST_NPM_CACHE`` or ``<temp dir>/agnost-interop``; each version gets its own
folder, filled through a temporary sibling and renamed, under a file lock, so parallel runs and
interrupted installs never leave a half-installed client behind.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock

ALTOGIC_VERSION = "2.3.9"
SCRIPT = Path(__file__).with_name("official_client.cjs")


def _cache_root() -> Path:
    return Path(
        os.environ.get("AGNOST_NPM_CACHE") or Path(tempfile.gettempdir()) / "agnost-interop"
    )


def install_altogic(version: str = ALTOGIC_VERSION) -> Path:
    """Return a ``node_modules`` holding ``altogic@version``, installing it if needed."""
    root = _cache_root()
    root.mkdir(parents=True, exist_ok=True)
    target = root / f"altogic-{version}"
    modules = target / "node_modules"
    with FileLock(str(root / f"altogic-{version}.lock")):
        if (modules / "altogic" / "package.json").is_file():
            return modules
        staging = Path(tempfile.mkdtemp(prefix=f"altogic-{version}-", dir=root))
        try:
            (staging / "package.json").write_text('{"private": true}')
            subprocess.run(
                [
                    "npm",
                    "install",
                    "--no-audit",
                    "--no-fund",
                    "--loglevel=error",
                    f"altogic@{version}",
                ],
                cwd=staging,
                check=True,
                capture_output=True,
                text=True,
                timeout=600,
            )
            shutil.rmtree(target, ignore_errors=True)
            staging.rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    installed = json.loads((modules / "altogic" / "package.json").read_text())
    assert installed["version"] == version
    return modules


OfficialClient = Callable[..., Any]


@pytest.fixture(scope="session")
def altogic_modules() -> Path:
    """``node_modules`` with the official client; skips when Node.js or npm is missing."""
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"the interop tests need {' and '.join(missing)} on PATH")
    return install_altogic()


@pytest.fixture
def official_client(altogic_modules: Path) -> OfficialClient:
    """Run one command of official_client.cjs; returns its JSON report, fails on its failure."""

    def run(command: str, base_url: str, client_key: str, argument: Any = None) -> Any:
        env = {**os.environ, "NODE_PATH": str(altogic_modules)}
        args = ["node", str(SCRIPT), command, base_url, client_key]
        if argument is not None:
            args.append(json.dumps(argument))
        done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{command} failed:\n{done.stderr}"
        return json.loads(done.stdout)

    return run
