"""Disk full, read-only directory, a lock held too long: a typed error naming the path, the
file on disk untouched, and the change kept in memory for this process."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import agnost
from agnost import StorageError
from agnost.storage import StoredAuth, _fileio
from agnost.storage.filestore import FileStore

from .conftest import (
    CANARY,
    CLIENT_KEY,
    ENV_URL,
    SESSION,
    USER,
    run_worker,
    set_aside,
    temp_files,
)

NEW_SESSION = {**SESSION, "token": "new-token"}


class DiskFull:
    """Make ``os.write`` or ``os.fsync`` fail with ENOSPC, but only on the store's temp files.

    A real full disk cannot be made portably; this fails at the exact system calls a full
    disk fails (the tmpfs test below does it for real where it can mount one).
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch, call: str) -> None:
        self.temp_fds: set[int] = set()
        self.failures = 0
        real_open, real_call = os.open, getattr(os, call)

        def tracking_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
            fd = real_open(path, flags, *args, **kwargs)
            if str(path).endswith(".tmp"):
                self.temp_fds.add(fd)
            return fd

        def failing(fd: int, *args: Any) -> Any:
            if fd in self.temp_fds:
                self.failures += 1
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return real_call(fd, *args)

        monkeypatch.setattr(os, "open", tracking_open)
        monkeypatch.setattr(os, call, failing)


@pytest.mark.parametrize("call", ["write", "fsync"])
def test_disk_full_leaves_the_file_byte_identical_and_keeps_the_change_in_memory(
    store: FileStore,
    make_store: Callable[..., FileStore],
    monkeypatch: pytest.MonkeyPatch,
    call: str,
) -> None:
    store.save({"session": SESSION, "user": USER})
    before = store.path.read_bytes()
    full = DiskFull(monkeypatch, call)

    with pytest.raises(StorageError) as raised:
        store.save({"session": NEW_SESSION})

    assert full.failures == 1
    assert raised.value.path == str(store.path)
    assert "No space left on device" in str(raised.value)
    assert CANARY not in str(raised.value) and "new-token" not in str(raised.value)
    assert store.path.read_bytes() == before
    assert temp_files(store.path.parent) == []
    assert store.load() == StoredAuth(session=NEW_SESSION, user=USER)  # this process
    assert make_store().load() == StoredAuth(session=SESSION, user=USER)  # the disk

    monkeypatch.undo()  # space again: the next save writes the pending change too
    store.save({"user": {"_id": "later"}})
    assert make_store().load() == StoredAuth(session=NEW_SESSION, user={"_id": "later"})


def test_changes_that_could_not_be_written_merge_with_what_others_saved(
    store: FileStore, make_store: Callable[..., FileStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    store.save({"session": SESSION})
    DiskFull(monkeypatch, "write")
    with pytest.raises(StorageError):
        store.save({"user": USER})
    monkeypatch.undo()
    make_store().save({"session": NEW_SESSION})  # another process, once space is back

    assert store.load() == StoredAuth(session=NEW_SESSION, user=USER)


def test_a_clear_that_cannot_be_written_still_signs_this_process_out(
    store: FileStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.save({"session": SESSION, "user": USER})

    def refuse(path: Any, *args: Any, **kwargs: Any) -> None:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))

    monkeypatch.setattr(os, "unlink", refuse)
    with pytest.raises(StorageError):
        store.clear(if_token=CANARY)

    assert store.load() == StoredAuth()
    monkeypatch.undo()
    assert store.clear() is False  # nothing left to remove, but the file goes
    assert not store.path.exists()


# --- real faults, where this machine lets the test make them --------------------------------


def _mount_tmpfs(where: Path, options: str) -> bool:
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or not shutil.which("mount"):
        return False
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True
    )
    return done.returncode == 0


@contextlib.contextmanager
def tmpfs(where: Path, options: str) -> Iterator[Path]:
    if not _mount_tmpfs(where, options):
        pytest.skip("mounting a small tmpfs needs root and mount(8)")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=True)


def test_a_really_full_disk(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "small", "size=64k,mode=0700") as mount:
        store = FileStore(ENV_URL, CLIENT_KEY, data_dir=mount)
        store.save({"session": SESSION, "user": USER})
        before = store.path.read_bytes()
        filler = mount / "filler"
        with open(filler, "wb", buffering=0) as fill, contextlib.suppress(OSError):
            while True:
                fill.write(b"\0" * 4096)
        big_user = {**USER, "bio": "x" * 16384}

        with pytest.raises(StorageError, match="No space left on device"):
            store.save({"user": big_user})

        assert store.path.read_bytes() == before
        assert temp_files(store.path.parent) == []
        assert store.load().user == big_user
        filler.unlink()
        store.save({"session": NEW_SESSION})
        assert FileStore(ENV_URL, CLIENT_KEY, data_dir=mount).load() == StoredAuth(
            session=NEW_SESSION, user=big_user
        )


@pytest.fixture
def read_only_data_dir(tmp_path: Path) -> Iterator[Path]:
    """A data directory holding a saved session, then made read-only."""
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # Permission bits do not stop root; a read-only mount does.
        with tmpfs(tmp_path / "ro", "size=1m,mode=0700") as mount:
            FileStore(ENV_URL, CLIENT_KEY, data_dir=mount).save({"session": SESSION})
            subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
            yield mount
    else:
        data_dir = tmp_path / "ro"
        FileStore(ENV_URL, CLIENT_KEY, data_dir=data_dir).save({"session": SESSION})
        (data_dir / "sessions").chmod(0o500)
        try:
            yield data_dir
        finally:
            (data_dir / "sessions").chmod(0o700)


def test_a_read_only_directory_reads_fine_and_refuses_writes_with_the_path(
    read_only_data_dir: Path,
) -> None:
    store = FileStore(ENV_URL, CLIENT_KEY, data_dir=read_only_data_dir)
    assert store.load().session == SESSION

    with pytest.raises(StorageError) as raised:
        store.save({"user": USER})

    assert raised.value.path == str(store.path)
    assert store.load() == StoredAuth(session=SESSION, user=USER)
    with pytest.raises(StorageError):
        store.clear(if_token=CANARY)
    assert store.load() == StoredAuth()
    assert FileStore(ENV_URL, CLIENT_KEY, data_dir=read_only_data_dir).load().session == SESSION


def test_a_client_over_a_read_only_directory_signs_in_for_this_process(
    read_only_data_dir: Path,
) -> None:
    store = FileStore(ENV_URL, CLIENT_KEY, data_dir=read_only_data_dir)
    with agnost.create_client(ENV_URL, CLIENT_KEY, storage=store) as client:
        session = agnost.from_wire(agnost.Session, NEW_SESSION)
        with pytest.raises(StorageError):
            client.auth.set_session(session)
        assert client.auth.get_session() == session


def test_a_lock_held_too_long_by_another_process_is_a_storage_error(
    store: FileStore, make_store: Callable[..., FileStore]
) -> None:
    store.save({"session": SESSION})
    holder = run_worker("hold-lock", str(store.path.with_suffix(".lock")), "3")
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        impatient = make_store(lock_timeout=0.2)

        with pytest.raises(StorageError, match="timed out waiting for the lock"):
            impatient.save({"user": USER})

        assert impatient.load() == StoredAuth(session=SESSION, user=USER)
    finally:
        holder.kill()
        holder.communicate()
    assert make_store().load() == StoredAuth(session=SESSION)


def test_an_unreadable_file_reads_as_the_last_state_seen_with_one_warning(
    store: FileStore,
    make_store: Callable[..., FileStore],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    store.save({"session": SESSION})
    assert store.load().session == SESSION
    make_store().save({"user": USER})

    def refuse(directory: _fileio.PrivateDir, name: str, limit: int) -> Any:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(directory.path / name))

    monkeypatch.setattr(_fileio, "read_file", refuse)  # root cannot be denied for real
    for _ in range(5):
        assert store.load() == StoredAuth(session=SESSION)

    assert len(caplog.records) == 1 and "Permission denied" in caplog.text
    assert CANARY not in caplog.text
    monkeypatch.undo()
    assert store.load() == StoredAuth(session=SESSION, user=USER)


def test_a_corrupt_file_is_not_moved_while_another_process_holds_the_lock(
    make_store: Callable[..., FileStore], caplog: pytest.LogCaptureFixture
) -> None:
    store = make_store(lock_timeout=0.2)
    store.path.parent.mkdir(parents=True)
    store.path.write_bytes(b"garbage")
    holder = run_worker("hold-lock", str(store.path.with_suffix(".lock")), "3")
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        assert store.load() == StoredAuth()
        assert store.load() == StoredAuth()
    finally:
        holder.kill()
        holder.communicate()

    assert store.path.read_bytes() == b"garbage"  # left for a later call to set aside
    assert len(caplog.records) == 1 and "could not be moved aside" in caplog.text
    assert store.load() == StoredAuth()
    assert [p.read_bytes() for p in set_aside(store.path.parent)] == [b"garbage"]
