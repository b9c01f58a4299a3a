"""A real second account for the cross-account tests, and a shared directory both can use.

The account (``agnost-attacker``) is made with ``useradd`` the first time it is needed and
kept: making it again is a no-op. Commands run as it in a separate process
(``subprocess`` with ``user=``/``group=``), so the files it makes really are its own.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ACCOUNT = "agnost-attacker"


def other_account() -> tuple[int, int]:
    """The uid and gid of the second account, made if missing; skips where it cannot be."""
    if os.name != "posix" or os.geteuid() != 0:
        pytest.skip("acting as a second account needs root (CI runs as root)")
    import pwd

    try:
        entry = pwd.getpwnam(ACCOUNT)
    except KeyError:
        useradd = shutil.which("useradd")
        if useradd is None:
            pytest.skip("no useradd to make a second account")
        # Exit status 9 means another test process made it meanwhile: fine either way.
        subprocess.run(
            [useradd, "--system", "--no-create-home", "--user-group", ACCOUNT],
            capture_output=True,
            check=False,
        )
        entry = pwd.getpwnam(ACCOUNT)
    return entry.pw_uid, entry.pw_gid


def as_other(script: str, *args: str | Path, stdin: bytes = b"") -> None:
    """Run the shell ``script`` as the second account (``args`` are ``$1``, ``$2``...)."""
    uid, gid = other_account()
    subprocess.run(
        ["/bin/sh", "-ec", script, "sh", *map(str, args)],
        user=uid,
        group=gid,
        extra_groups=[],
        input=stdin,
        env={"PATH": "/usr/bin:/bin"},
        cwd="/",
        capture_output=True,
        check=True,
        timeout=30,
    )


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A fresh directory like ``/tmp``: root's, world-writable and sticky, that the second
    account can reach (pytest's own temp directories are private to this account)."""
    other_account()
    path = Path(tempfile.mkdtemp(prefix="agnost-shared-", dir="/tmp"))
    try:
        path.chmod(0o1777)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
