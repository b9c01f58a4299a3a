"""What the second review of the file store's hardening found (issue 8), each with a real
second account, real files and real processes.

- A data directory swapped for another account's after the check, even under the lock,
  neither loses the stored session nor gets anything written into it nor has anything of it
  loaded: the directory checked is the directory used (held open, names resolved in it).
- A data directory that is a symlink no other account can change, to a private directory
  of ours, is used (a symlink planted by someone else stays refused).
- A directory the store makes is made owner-only through a descriptor, so a symlink put in
  its place never makes us chmod another account's directory.
- A lock file that is not a regular file fails every save, naming it, and loses nothing.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import shutil
import stat
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agnost import StorageError
from agnost.storage import StoredAuth, _fileio
from agnost.storage.filestore import FileStore

from ._accounts import as_other, fork_as_other, other_account, shared_tmp
from .conftest import CANARY, CLIENT_KEY, ENV_URL, SESSION, USER, mode

__all__ = ["shared_tmp"]  # a fixture, used by name

POSIX_ONLY = pytest.mark.skipif(os.name != "posix", reason="POSIX owners and modes")

_LIBC = ctypes.CDLL(None, use_errno=True) if os.name == "posix" else None
_AT_FDCWD, _RENAME_EXCHANGE = -100, 2
EXCHANGE = pytest.mark.skipif(
    _LIBC is None or not hasattr(_LIBC, "renameat2"),
    reason="renameat2 (Linux), the atomic swap an attacker would use",
)

PLANTED_TOKEN = "planted-token-0d9c8b7a6f5e4d3c2b1a"
NEW_USER = {**USER, "name": "Ada, renamed"}
#: How long the other account swaps directories in the real race.
RACE_SECONDS = 1.5


def _exchange(first: Path, second: Path) -> None:
    """Swap two names atomically, as ``renameat2(RENAME_EXCHANGE)`` does."""
    assert _LIBC is not None
    done = _LIBC.renameat2(_AT_FDCWD, bytes(first), _AT_FDCWD, bytes(second), _RENAME_EXCHANGE)
    if done != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), str(first))


def _snapshot(root: Path) -> dict[str, tuple[int, int, bytes | str]]:
    """Every entry under ``root`` (``root`` itself included): owner, mode, content or target."""
    found: dict[str, tuple[int, int, bytes | str]] = {}
    for path in [root, *sorted(root.rglob("*"))]:
        info = os.lstat(path)
        content: bytes | str = ""
        if stat.S_ISLNK(info.st_mode):
            content = os.readlink(path)
        elif stat.S_ISREG(info.st_mode):
            content = path.read_bytes()
        found[str(path.relative_to(root))] = (info.st_uid, stat.S_IMODE(info.st_mode), content)
    return found


def _store(data_dir: Path) -> FileStore:
    return FileStore(ENV_URL, CLIENT_KEY, data_dir=data_dir)


@pytest.fixture
def above() -> Iterator[Path]:
    """A directory of the second account's holding the victim's data directory ``agnost``
    (signed in), and the attacker's own tree ``fake`` (with a planted session that others
    can read) and ``link``, a symlink to it, ready to be swapped with ``agnost``."""
    uid, gid = other_account()
    top = Path(tempfile.mkdtemp(prefix="agnost-above-", dir="/tmp"))
    try:
        os.chown(top, uid, gid)
        top.chmod(0o755)
        victim = _store(top / "agnost")
        victim.save({"session": SESSION, "user": USER})
        planted = {"version": 1, "session": {"token": PLANTED_TOKEN}, "user": {"_id": "them"}}
        as_other(
            'mkdir -m 777 "$1/fake" "$1/fake/sessions"; cat > "$1/fake/sessions/$2";'
            ' chmod 644 "$1/fake/sessions/$2"; ln -s fake "$1/link"',
            top,
            victim.path.name,
            stdin=json.dumps(planted).encode(),
        )
        victim.close()
        yield top
    finally:
        shutil.rmtree(top, ignore_errors=True)


# --- F1: a directory swapped after the check --------------------------------------------------


@POSIX_ONLY
@EXCHANGE
@pytest.mark.parametrize("moment", ["swapped back before the write", "still swapped at the write"])
def test_a_data_dir_swapped_under_the_lock_loses_nothing_and_gets_nothing_written(
    moment: str, above: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data, link = above / "agnost", above / "link"
    theirs = _snapshot(above / "fake")
    store = _store(data)
    real_remove, real_replace = _fileio.remove_stale_temps, _fileio.replace_atomically

    # The swaps happen where the other account's renames could land: under the lock, right
    # after the directories were checked, and again just before the new file is written.
    def swap_then_remove(*args: Any) -> None:
        _exchange(data, link)
        real_remove(*args)

    def swap_back_then_replace(*args: Any) -> Any:
        _exchange(data, link)
        return real_replace(*args)

    monkeypatch.setattr(_fileio, "remove_stale_temps", swap_then_remove)
    if moment == "swapped back before the write":
        monkeypatch.setattr(_fileio, "replace_atomically", swap_back_then_replace)
    try:
        store.save({"user": NEW_USER})
    finally:
        monkeypatch.undo()
        if data.is_symlink():
            _exchange(data, link)

    assert _store(data).load() == StoredAuth(session=SESSION, user=NEW_USER)
    assert _snapshot(above / "fake") == theirs  # nothing written, moved or tightened there


@POSIX_ONLY
@EXCHANGE
def test_the_account_owning_the_directory_above_gains_nothing_by_racing_swaps(
    above: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data, link = above / "agnost", above / "link"
    theirs = _snapshot(above / "fake")

    def swap_for_a_while() -> int:
        swaps, end = 0, time.monotonic() + RACE_SECONDS
        while time.monotonic() < end:
            _exchange(data, link)
            _exchange(data, link)  # an even number: the real directory ends where it was
            swaps += 2
        return swaps

    attacker, result = fork_as_other(swap_for_a_while)
    writer = _store(data)
    loaded: Counter[str | None] = Counter()
    saved, refused, rounds = USER, 0, 0
    with caplog.at_level(logging.CRITICAL):
        while os.waitpid(attacker, os.WNOHANG) == (0, 0):
            rounds += 1
            reader = _store(data)
            loaded[reader.load().token] += 1
            reader.close()
            if rounds % 10 == 0:
                user = {"_id": "u", "round": rounds}
                try:
                    writer.save({"user": user})
                    saved = user
                except StorageError:
                    refused += 1
    swaps = int(os.read(result, 100) or b"0")
    os.close(result)
    writer.close()

    assert swaps > 0
    assert set(loaded) <= {CANARY, None}  # loads amid a swap read as signed out, at worst
    assert loaded[CANARY] > 0 and refused < rounds // 10
    # The session survives every save that ran amid the swaps, and the last one stuck.
    assert _store(data).load() == StoredAuth(session=SESSION, user=saved)
    assert _snapshot(above / "fake") == theirs


# --- F2: a symlinked data directory ------------------------------------------------------------


@POSIX_ONLY
def test_a_data_dir_that_is_our_symlink_to_a_private_dir_of_ours_is_used(tmp_path: Path) -> None:
    # ~/.local/share/agnost moved to a bigger disk and linked back (or folded by GNU stow).
    target = tmp_path / "disk2" / "agnost"
    target.mkdir(parents=True, mode=0o700)
    share = tmp_path / "home" / ".local" / "share"
    share.mkdir(parents=True, mode=0o700)
    (share / "agnost").symlink_to(target)
    store = _store(share / "agnost")

    store.save({"session": SESSION, "user": USER})

    assert (target / "sessions" / store.path.name).is_file()
    assert mode(target / "sessions") == 0o700
    assert (share / "agnost").is_symlink()
    assert _store(share / "agnost").load() == StoredAuth(session=SESSION, user=USER)


def _our_link_in_a_sticky_dir(shared: Path, ours: Path) -> Path:
    # The sticky bit keeps others from renaming or removing a link of ours.
    (shared / "data").symlink_to(ours)
    return shared / "data"


def _our_link_in_a_dir_others_can_write(shared: Path, ours: Path) -> Path:
    holder = shared / "open"
    holder.mkdir()
    holder.chmod(0o777)
    (holder / "data").symlink_to(ours)
    return holder / "data"


def _our_link_in_their_dir(shared: Path, ours: Path) -> Path:
    as_other('mkdir -m 755 "$1"', shared / "theirs")
    (shared / "theirs" / "data").symlink_to(ours)
    return shared / "theirs" / "data"


def _their_link_in_a_sticky_dir(shared: Path, ours: Path) -> Path:
    as_other('ln -s "$2" "$1"', shared / "data", ours)
    return shared / "data"


def _our_link_to_their_dir(shared: Path, ours: Path) -> Path:
    as_other('mkdir -m 755 "$1"', shared / "their-data")
    (shared / "data").symlink_to(shared / "their-data")
    return shared / "data"


def _our_link_to_a_dir_others_can_write(shared: Path, ours: Path) -> Path:
    ours.chmod(0o777)
    (shared / "data").symlink_to(ours)
    return shared / "data"


LINKS = {
    "our link in a sticky shared dir": (_our_link_in_a_sticky_dir, True),
    "our link in a dir others can write": (_our_link_in_a_dir_others_can_write, False),
    "our link in a dir of another account's": (_our_link_in_their_dir, False),
    "their link in a sticky shared dir": (_their_link_in_a_sticky_dir, False),
    "our link to a dir of another account's": (_our_link_to_their_dir, False),
    "our link to a dir others can write": (_our_link_to_a_dir_others_can_write, False),
}


@POSIX_ONLY
@pytest.mark.parametrize("layout", LINKS)
def test_a_symlinked_data_dir_is_used_only_if_no_other_account_can_change_it(
    layout: str, shared_tmp: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    make, usable = LINKS[layout]
    ours = tmp_path / "ours"
    ours.mkdir(mode=0o700)
    data = make(shared_tmp, ours)
    before = _snapshot(shared_tmp)
    store = _store(data)

    if usable:
        store.save({"session": SESSION})
        assert _store(data).load().session == SESSION
        assert (ours / "sessions" / store.path.name).is_file()
        return
    with pytest.raises(StorageError, match="data directory"):
        store.save({"session": SESSION})
    assert store.load().session == SESSION  # kept in memory for this process
    with caplog.at_level(logging.WARNING):
        assert _store(data).load() == StoredAuth()
    assert "is not read" in caplog.text
    assert _snapshot(shared_tmp) == before
    assert list(ours.iterdir()) == []


def test_a_symlink_in_place_of_the_sessions_dir_is_refused_even_to_a_dir_of_ours(
    tmp_path: Path,
) -> None:
    # The store makes the sessions directory itself: a link there was planted.
    (tmp_path / "data").mkdir(mode=0o700)
    (tmp_path / "elsewhere").mkdir(mode=0o700)
    (tmp_path / "data" / "sessions").symlink_to(tmp_path / "elsewhere")

    with pytest.raises(StorageError, match="sessions directory is a symlink"):
        _store(tmp_path / "data").save({"session": SESSION})

    assert list((tmp_path / "elsewhere").iterdir()) == []


# --- minor: directories the store makes, and the lock file -------------------------------------


@POSIX_ONLY
def test_a_made_dir_swapped_for_a_symlink_never_gets_their_dir_chmodded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The other account owns the directory above a missing parent of the data directory.
    uid, gid = other_account()
    top = Path(tempfile.mkdtemp(prefix="agnost-above-", dir="/tmp"))
    try:
        os.chown(top, uid, gid)
        top.chmod(0o755)
        as_other('mkdir -m 755 "$1/theirs"', top)
        theirs = _snapshot(top / "theirs")
        real_mkdir = os.mkdir

        def mkdir_then_swap(path: Any, *args: Any, **options: Any) -> None:
            real_mkdir(path, *args, **options)
            if str(path) == str(top / "new"):  # what the other account can do right then
                os.rename(top / "new", top / "moved")
                (top / "new").symlink_to(top / "theirs")

        monkeypatch.setattr(os, "mkdir", mkdir_then_swap)
        with pytest.raises(StorageError, match="symlink"):
            _store(top / "new" / "data").save({"session": SESSION})
        monkeypatch.undo()

        assert _snapshot(top / "theirs") == theirs  # still 0755, still empty
        assert (os.lstat(top / "theirs").st_uid, mode(top / "theirs")) == (uid, 0o755)
    finally:
        shutil.rmtree(top, ignore_errors=True)


@POSIX_ONLY
@pytest.mark.parametrize("kind", ["symlink", "fifo"])
def test_a_lock_file_that_is_not_a_regular_file_fails_saves_naming_it_and_loses_nothing(
    kind: str, tmp_path: Path
) -> None:
    store = _store(tmp_path / "data")
    store.save({"session": SESSION})
    lock = store.path.with_suffix(".lock")
    lock.unlink()
    target = tmp_path / "target"
    target.write_bytes(b"keep")
    if kind == "symlink":
        lock.symlink_to(target)
    else:
        os.mkfifo(lock)

    with pytest.raises(StorageError, match="remove it") as raised:
        store.save({"user": USER})

    assert str(lock) in str(raised.value) and CANARY not in str(raised.value)
    assert target.read_bytes() == b"keep"
    assert store.load() == StoredAuth(session=SESSION, user=USER)  # in memory
    lock.unlink()
    store.save({})
    assert _store(tmp_path / "data").load() == StoredAuth(session=SESSION, user=USER)


def test_without_directory_descriptors_the_same_checks_hold_on_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What Windows runs: directories cannot be held open there, the paths are checked.
    monkeypatch.setattr(_fileio, "_AT", False)
    (tmp_path / "disk2").mkdir(mode=0o700)
    (tmp_path / "data").symlink_to(tmp_path / "disk2")
    store = _store(tmp_path / "data")

    store.save({"session": SESSION, "user": USER})
    store.save({"user": NEW_USER})

    assert _store(tmp_path / "data").load() == StoredAuth(session=SESSION, user=NEW_USER)
    assert store.clear() and not store.path.exists()
    shutil.rmtree(tmp_path / "disk2" / "sessions")
    (tmp_path / "disk2" / "sessions").symlink_to(tmp_path)
    with pytest.raises(StorageError, match="symlink"):
        store.save({"session": SESSION})
