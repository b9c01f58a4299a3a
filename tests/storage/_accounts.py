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
from collections.abc import Callable, Iterator
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


def fork_as_other(work: Callable[[], int]) -> tuple[int, int]:
    """Run ``work`` in a forked child that is the second account; return the child's pid
    and the read end of a pipe carrying the number ``work`` returned (as ASCII digits).

    A fork, not a new interpreter: this interpreter may live where the second account cannot
    run it (a virtualenv under root's 0700 home). ``work`` must only make system calls.
    """
    uid, gid = other_account()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child, whose coverage is not collected
        status = 1
        try:
            os.close(read_end)
            os.setgroups([])
            os.setresgid(gid, gid, gid)
            os.setresuid(uid, uid, uid)
            os.write(write_end, str(work()).encode("ascii"))
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    return pid, read_end


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
