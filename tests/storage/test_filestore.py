"""The file store keeps the session and user exactly, per profile, and sees other writers."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import platformdirs
import pytest

import agnost
from agnost.storage import Storage, StoredAuth, _fileio, default_store
from agnost.storage.filestore import DATA_DIR_ENV, FileStore, profile_name

from .conftest import CANARY, CLIENT_KEY, ENV_URL, SESSION, USER


def test_a_saved_session_and_user_come_back_exactly_in_a_new_store(
    store: FileStore, make_store: Callable[..., FileStore]
) -> None:
    store.save({"session": SESSION, "user": USER})

    loaded = make_store().load()

    assert loaded == StoredAuth(session=SESSION, user=USER)
    assert list(loaded.user or {}) == list(USER)  # key order too
    assert loaded.user is not None and loaded.user["plan"]["big"] == 2**70
    assert loaded.token == CANARY


def test_the_file_records_its_schema_version_and_the_wire_objects(store: FileStore) -> None:
    store.save({"session": SESSION, "user": USER})

    document = json.loads(store.path.read_bytes().decode("utf-8"))

    assert document == {"version": 1, "session": SESSION, "user": USER}


def test_keys_left_out_of_a_save_keep_their_value_and_none_removes_one(store: FileStore) -> None:
    store.save({"session": SESSION})
    store.save({"user": USER})
    assert store.load() == StoredAuth(session=SESSION, user=USER)

    store.save({"user": None})

    assert store.load() == StoredAuth(session=SESSION, user=None)


def test_the_callers_dict_changing_later_does_not_change_the_store(store: FileStore) -> None:
    user = dict(USER)
    store.save({"user": user})
    user["name"] = "Mallory"

    assert store.load().user == USER


def test_each_environment_and_client_key_has_its_own_profile(data_dir: Path) -> None:
    stores = [
        FileStore(ENV_URL, CLIENT_KEY, data_dir=data_dir),
        FileStore(ENV_URL, "another-key", data_dir=data_dir),
        FileStore("https://other.agnost.test", CLIENT_KEY, data_dir=data_dir),
    ]
    for i, each in enumerate(stores):
        each.save({"user": {"_id": str(i)}})

    assert [each.load().user for each in stores] == [{"_id": "0"}, {"_id": "1"}, {"_id": "2"}]
    assert len({each.path for each in stores}) == 3
    assert all(CLIENT_KEY not in each.path.name for each in stores)


def test_the_same_environment_written_differently_is_the_same_profile() -> None:
    names = {
        profile_name(url, CLIENT_KEY)
        for url in ("https://Demo.AGNOST.test/e:42", " https://demo.agnost.test/e:42/ ")
    }
    assert names == {profile_name(ENV_URL, CLIENT_KEY)}
    # The path after the host is case-sensitive: it may name another environment.
    assert profile_name("https://demo.agnost.test/E:42", CLIENT_KEY) not in names


def test_the_data_directory_is_the_argument_else_the_variable_else_platformdirs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "from-env"))
    assert FileStore(ENV_URL, CLIENT_KEY).path.parent == tmp_path / "from-env" / "sessions"
    explicit = FileStore(ENV_URL, CLIENT_KEY, data_dir=tmp_path / "explicit")
    assert explicit.path.parent == tmp_path / "explicit" / "sessions"

    monkeypatch.delenv(DATA_DIR_ENV)
    expected = Path(platformdirs.user_data_dir("agnost")) / "sessions"
    assert FileStore(ENV_URL, CLIENT_KEY).path.parent == expected


def test_a_relative_data_directory_is_fixed_when_the_store_is_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = FileStore(ENV_URL, CLIENT_KEY, data_dir="rel")
    monkeypatch.chdir(tmp_path.parent)

    store.save({"user": USER})

    assert (tmp_path / "rel" / "sessions" / store.path.name).exists()


def test_the_clients_default_store_is_a_file_store_under_agnost_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "d"))

    store = default_store(ENV_URL, CLIENT_KEY)

    assert isinstance(store, FileStore)
    assert isinstance(store, Storage)
    assert store.path.parent == tmp_path / "d" / "sessions"
    assert not (tmp_path / "d").exists()  # nothing is touched before first use


def test_clear_removes_the_file_and_reports_whether_anything_was_there(store: FileStore) -> None:
    assert store.clear() is False
    store.save({"session": SESSION, "user": USER})

    assert store.clear() is True

    assert store.load() == StoredAuth()
    assert not store.path.exists()


def test_clear_with_a_token_only_removes_that_session(
    store: FileStore, make_store: Callable[..., FileStore]
) -> None:
    store.save({"session": SESSION, "user": USER})
    newer = {**SESSION, "token": "newer-token"}
    make_store().save({"session": newer})  # say, a sign-in in another process

    assert store.clear(if_token=CANARY) is False
    assert store.load() == StoredAuth(session=newer, user=USER)

    assert store.clear(if_token="newer-token") is True
    assert store.load() == StoredAuth()


def test_modify_is_a_read_modify_write_that_returns_the_new_state(store: FileStore) -> None:
    store.save({"user": {"count": 1}})

    after = store.modify(lambda state: {"user": {"count": (state.user or {})["count"] + 1}})

    assert after.user == {"count": 2}
    assert store.load().user == {"count": 2}


def test_modify_that_changes_nothing_writes_nothing(store: FileStore) -> None:
    store.save({"user": USER})
    before = os.stat(store.path)

    assert store.modify(lambda state: None) == StoredAuth(user=USER)

    after = os.stat(store.path)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_a_value_json_cannot_hold_is_refused_and_the_file_is_untouched(store: FileStore) -> None:
    store.save({"user": USER})
    before = store.path.read_bytes()

    with pytest.raises(TypeError):
        store.save({"user": {"when": object()}})

    assert store.path.read_bytes() == before
    assert store.load().user == USER


def test_load_shows_what_another_store_saved(
    store: FileStore, make_store: Callable[..., FileStore]
) -> None:
    other = make_store()
    assert store.load() == StoredAuth()

    other.save({"session": SESSION})
    assert store.load().session == SESSION

    other.save({"user": USER})
    assert store.load() == StoredAuth(session=SESSION, user=USER)

    other.clear()
    assert store.load() == StoredAuth()


def test_load_does_not_reread_a_file_that_has_not_changed(
    store: FileStore, make_store: Callable[..., FileStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[str] = []
    real_read = _fileio.read_file

    def counting_read(directory: _fileio.PrivateDir, name: str, limit: int) -> Any:
        reads.append(name)
        return real_read(directory, name, limit)

    monkeypatch.setattr(_fileio, "read_file", counting_read)
    other = make_store()
    other.save({"session": SESSION, "user": USER})

    reads.clear()
    for _ in range(50):
        assert store.load().token == CANARY
    assert len(reads) == 1

    other.save({"user": {"_id": "changed"}})
    reads.clear()
    for _ in range(50):
        assert store.load().user == {"_id": "changed"}
    assert len(reads) == 1


def test_load_never_misses_a_change_even_of_the_same_size_in_the_same_clock_tick(
    store: FileStore, make_store: Callable[..., FileStore]
) -> None:
    # A save frees the previous file's inode, and filesystems hand freed inode numbers out
    # again at once (ext4 alternates two). A cache keyed on (inode, size, mtime) alone would
    # then take a new file for the one it read, whenever two saves fall in one tick of the
    # file clock; the mtime is pinned here to make every save fall in the same tick.
    other = make_store()
    for i in range(300):
        other.save({"user": {"n": i % 10}})
        os.utime(other.path, ns=(10**18, 10**18))
        if i % 2 == 0:
            assert store.load().user == {"n": i % 10}


def test_the_store_keeps_at_most_one_file_open(
    store: FileStore, make_store: Callable[..., FileStore]
) -> None:
    fd_dir = Path("/proc/self/fd")
    if not fd_dir.exists():
        pytest.skip("counting open files needs /proc")
    other = make_store()
    other.save({"user": USER})
    before = len(list(fd_dir.iterdir()))
    for i in range(50):
        other.save({"user": {"n": i}})
        store.load()
    assert len(list(fd_dir.iterdir())) == before + 1  # ``store``'s one file


def test_repr_names_the_file_and_never_the_token(store: FileStore) -> None:
    store.save({"session": SESSION})

    assert str(store.path) in repr(store)
    assert CANARY not in repr(store)


def test_a_client_signed_in_on_one_run_is_signed_in_on_the_next(data_dir: Path) -> None:
    FileStore(ENV_URL, CLIENT_KEY, data_dir=data_dir).save({"session": SESSION, "user": USER})

    with agnost.create_client(
        ENV_URL, CLIENT_KEY, storage=FileStore(ENV_URL, CLIENT_KEY, data_dir=data_dir)
    ) as client:
        session = client.auth.get_session()
        user = client.auth.get_user()

    assert session is not None and session.token == CANARY
    assert user is not None and agnost.to_wire(user) == USER
