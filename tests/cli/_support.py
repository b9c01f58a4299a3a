"""What the command-line tests share: running ``python -m agnost ...`` in a child process, and
the environment it gets."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agnost.emulator import Emulator

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery"


def without_agnost_vars(**extra: str) -> dict[str, str]:
    """This process's environment minus every ``AGNOST_`` variable, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGNOST_")}
    env.update(extra)
    return env


def emulator_env(
    emulator: Emulator, data_dir: Path, extra: dict[str, str] | None = None, *, clean: bool = False
) -> dict[str, str]:
    """The environment of a command against ``emulator`` storing in ``data_dir``: this
    process's own (if ``clean``, without its ``AGNOST_`` variables and on ROOT's PYTHONPATH),
    the emulator's URL and client key, then ``extra``."""
    env = without_agnost_vars(PYTHONPATH=str(ROOT)) if clean else dict(os.environ)
    env.update(
        AGNOST_ENV_URL=emulator.base_url,
        AGNOST_CLIENT_KEY=emulator.client_key,
        AGNOST_DATA_DIR=str(data_dir),
    )
    env.update(extra or {})
    return env


def run_agnost(
    *args: str,
    env: dict[str, str],
    stdin: str | bytes | None = None,
    text: bool = True,
    timeout: float = 60,
) -> subprocess.CompletedProcess[Any]:
    """Run ``python -m agnost *args`` to the end; its exit status and output (str if
    ``text``, else bytes)."""
    return subprocess.run(
        [sys.executable, "-m", "agnost", *args],
        input=stdin,
        capture_output=True,
        text=text,
        env=env,
        timeout=timeout,
        check=False,
    )


def cli_runner(
    emulator: Emulator, data_dir: Path, *, text: bool = True, clean: bool = False
) -> Callable[..., Any]:
    """``run(*args, stdin=..., env=...)``: ``python -m agnost *args`` against ``emulator``
    with ``data_dir`` as its data directory (see ``emulator_env``), ``env`` added."""

    def run(
        *args: str, stdin: str | bytes | None = None, env: dict[str, str] | None = None
    ) -> Any:
        if stdin is None:
            stdin = "" if text else b""
        child_env = emulator_env(emulator, data_dir, env, clean=clean)
        return run_agnost(*args, env=child_env, stdin=stdin, text=text)

    return run
