"""The session file is private whatever the umask, and never written through a symlink."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agnost import StorageError
from agnost.storage import StoredAuth, _fileio
from agnost.storage.filestore import FileStore

from .conftest import CANARY, SESSION, USER, mode, set_aside

POSIX_ONLY = pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")


@pytest.fixture(params=[0o000, 0o022, 0o077], ids=["umask000", "umask022", "umask077"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


@POSIX_ONLY
def test_everything_made_is_owner_only_whatever_the_umask(umask: int, tmp_path: Path) -> None:
    data_dir = tmp_path / "missing" / "parents" / "data"
    store = FileStore("https://a.test", "k", data_dir=data_dir)

    store.save({"session": SESSION, "user": USER})

    for made in (tmp_path / "missing", tmp_path / "missing" / "parents", data_dir):
        assert mode(made) == 0o700, made
    assert mode(store.path.parent) == 0o700
    assert mode(store.path) == 0o600
    assert mode(store.path.with_suffix(".lock")) == 0o600


@POSIX_ONLY
def test_a_file_set_aside_is_owner_only_whatever_the_umask(umask: int, store: FileStore) -> None:
    store.save({"user": USER})
    store.path.write_bytes(b'{"version": 1, "session": {"token": "' + CANARY.encode())
    store.path.chmod(0o644)

    assert store.load() == StoredAuth()

    [aside] = set_aside(store.path.parent)
    assert mode(aside) == 0o600


@POSIX_ONLY
def test_a_looser_file_lock_and_directory_are_tightened_by_the_next_save(
    store: FileStore,
) -> None:
    store.save({"session": SESSION})
    lock = store.path.with_suffix(".lock")
    store.path.chmod(0o644)
    lock.chmod(0o666)
    store.path.parent.chmod(0o755)

    store.save({"user": USER})

    assert (mode(store.path), mode(lock), mode(store.path.parent)) == (0o600, 0o600, 0o700)
    assert store.load() == StoredAuth(session=SESSION, user=USER)


@POSIX_ONLY
def test_a_data_directory_the_user_chose_and_made_is_left_as_it_was(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o755)

    FileStore("https://a.test", "k", data_dir=shared).save({"user": USER})

    assert mode(shared) == 0o755  # only the ``sessions`` directory inside is ours to tighten
    assert mode(shared / "sessions") == 0o700


def test_a_symlink_planted_at_the_session_path_is_never_written_through(
    store: FileStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    target = tmp_path / "precious.txt"
    target.write_bytes(b"not yours\n")
    target.chmod(0o644)
    store.save({"user": USER})
    store.path.unlink()
    store.path.symlink_to(target)

    store.save({"session": SESSION})

    assert target.read_bytes() == b"not yours\n"
    assert mode(target) == 0o644
    assert not store.path.is_symlink() and mode(store.path) == 0o600
    assert store.load() == StoredAuth(session=SESSION)
    [aside] = set_aside(store.path.parent)  # the link itself, kept
    assert aside.is_symlink() and aside.resolve() == target
    assert "symlink" in caplog.text


def test_a_symlink_to_someone_elses_session_file_is_not_read_through(
    make_store: Callable[..., FileStore], tmp_path: Path
) -> None:
    planted = FileStore("https://a.test", "k", data_dir=tmp_path / "attacker")
    planted.save({"session": {**SESSION, "token": "fixated-token"}})
    store = make_store()
    store.save({"user": USER})
    store.path.unlink()
    store.path.symlink_to(planted.path)

    assert store.load() == StoredAuth()


def test_replacing_over_a_symlink_replaces_the_link_itself(tmp_path: Path) -> None:
    # The guarantee the store builds on: os.replace renames over the link, not into it.
    target = tmp_path / "target"
    target.write_bytes(b"old")
    link = tmp_path / "link"
    link.symlink_to(target)

    with _fileio.PrivateDir(tmp_path, os.open(tmp_path, os.O_RDONLY)) as directory:
        _info, fd = _fileio.replace_atomically(directory, "link", b"new")
    os.close(fd)

    assert target.read_bytes() == b"old"
    assert not link.is_symlink() and link.read_bytes() == b"new"


def test_a_symlink_planted_at_the_lock_path_is_refused_and_its_target_untouched(
    store: FileStore, tmp_path: Path
) -> None:
    target = tmp_path / "precious.txt"
    target.write_bytes(b"not yours\n")
    store.path.parent.mkdir(parents=True)
    store.path.with_suffix(".lock").symlink_to(target)

    with pytest.raises(StorageError) as raised:
        store.save({"session": SESSION})

    assert raised.value.path == str(store.path)
    assert "symlink" in str(raised.value)
    assert target.read_bytes() == b"not yours\n"
    assert store.load().session == SESSION  # kept in memory for this process


def test_a_symlink_in_place_of_the_sessions_directory_is_refused(
    store: FileStore, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    store.path.parent.parent.mkdir(parents=True)
    store.path.parent.symlink_to(elsewhere)

    with pytest.raises(StorageError):
        store.save({"session": SESSION})

    assert list(elsewhere.iterdir()) == []


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0, reason="giving a directory away needs root"
)
def test_a_sessions_directory_belonging_to_another_account_is_refused(
    store: FileStore,
) -> None:
    store.path.parent.mkdir(parents=True)
    os.chown(store.path.parent, 65534, 65534)

    with pytest.raises(StorageError, match="another account"):
        store.save({"session": SESSION})

    assert list(store.path.parent.iterdir()) == []
