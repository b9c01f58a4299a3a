"""The file store under hostile conditions (issue 8, items 8, 11, 12 and 13).

- Nothing planted by another account is ever loaded: a real second account plants a signed-in
  session in a shared directory, and the victim's default client, in both flavours, starts
  signed out, sends no ``Session`` header and refuses to save there, while its in-memory
  session works.
- Odd things at the session path (a UNIX socket, a device, a hard link) are set aside
  without touching anything else.
- Whatever the client accepted from a server round-trips through the file: the writer refuses
  only what the reader would.
- A value no store can hold is refused before anything changes, alike for both stores and
  both flavours, so the header and the store never disagree.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import socket
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

import agnost
from agnost._base import DEFAULT_MAX_RESPONSE_BYTES
from agnost.emulator import Emulator
from agnost.storage import MemoryStore, StoredAuth, filestore
from agnost.storage.filestore import MAX_FILE_BYTES, FileStore
from tests.clients._support import (
    AUTH,
    CURRENT_TOKEN,
    FLAVOURS,
    NEW_TOKEN,
    Flavour,
    RecordingServer,
    json_reply,
    next_session_header,
    session_wire,
    user_wire,
)

from ._accounts import as_other, other_account, shared_tmp
from .conftest import CANARY, CLIENT_KEY, ENV_URL, SESSION, USER, mode, run_worker, set_aside

__all__ = ["shared_tmp"]  # a fixture, used by name

POSIX_ONLY = pytest.mark.skipif(os.name != "posix", reason="POSIX owners and modes")

VICTIM = ("ada@example.com", "victim password 1")
ATTACKER = ("mallory@example.com", "attacker password 2")


@pytest.fixture(params=FLAVOURS)
def flavour(request: pytest.FixtureRequest) -> Iterator[Flavour]:
    with Flavour(request.param) as made:
        yield made


def _tree(root: Path) -> dict[str, tuple[int, int, bytes | str]]:
    """Every entry under ``root``: owner, mode and content (or link target)."""
    found: dict[str, tuple[int, int, bytes | str]] = {}
    for path in sorted(root.rglob("*")):
        info = os.lstat(path)
        if stat.S_ISLNK(info.st_mode):
            content: bytes | str = os.readlink(path)
        elif stat.S_ISREG(info.st_mode):
            content = path.read_bytes()
        else:
            content = ""
        found[str(path.relative_to(root))] = (info.st_uid, stat.S_IMODE(info.st_mode), content)
    return found


# --- 12: a session planted by another account is never loaded --------------------------------


@pytest.fixture
def planted(agnost_emulator: Emulator) -> bytes:
    """The victim and the attacker have accounts; return a session file holding the
    attacker's real, live session (what a fixation attack plants)."""
    url, key = agnost_emulator.base_url, agnost_emulator.client_key
    with agnost.create_client(url, key, storage=MemoryStore()) as client:
        client.auth.sign_up_with_email(*VICTIM)
    store = MemoryStore()
    with agnost.create_client(url, key, storage=store) as client:
        client.auth.sign_up_with_email(*ATTACKER)
        assert client.auth.get_user_from_db().email == ATTACKER[0]  # the token is live
    state = store.load()
    return json.dumps({"version": 1, "session": state.session, "user": state.user}).encode()


# As the other account: write the planted file "$1/$2", readable by all as a file left in a
# shared directory would be.
_PLANT = 'cat > "$1/$2"; chmod 644 "$1/$2"'


def _their_sessions_dir(shared: Path, name: str, content: bytes) -> Path:
    as_other('mkdir -m 755 "$1"; ' + _PLANT, shared / "sessions", name, stdin=content)
    return shared


def _their_data_dir(shared: Path, name: str, content: bytes) -> Path:
    sessions = shared / "data" / "sessions"
    as_other('mkdir -m 755 "$(dirname "$1")" "$1"; ' + _PLANT, sessions, name, stdin=content)
    return shared / "data"


def _symlinked_sessions_dir(shared: Path, name: str, content: bytes) -> Path:
    script = 'mkdir -m 755 "$1"; ln -s theirs "$(dirname "$1")/sessions"; ' + _PLANT
    as_other(script, shared / "theirs", name, stdin=content)
    return shared


def _symlinked_data_dir(shared: Path, name: str, content: bytes) -> Path:
    # The link is the only fault: it points at a private data directory of the victim's own
    # (the owner of a link can point it elsewhere between a check and a use).
    ours = shared / "ours"
    _write_ours(ours, name, content)
    as_other('ln -s ours "$1/data"', shared)
    return shared / "data"


def _world_writable_sessions_dir(shared: Path, name: str, content: bytes) -> Path:
    ours = shared / "ours"
    (ours / "sessions").mkdir(parents=True)
    ours.chmod(0o755)
    (ours / "sessions").chmod(0o777)
    as_other(_PLANT, ours / "sessions", name, stdin=content)
    return ours


def _world_writable_data_dir(shared: Path, name: str, content: bytes) -> Path:
    # Anyone may rename ``sessions`` away and put their own there: nothing in it is trusted.
    ours = shared / "ours"
    _write_ours(ours, name, content)
    ours.chmod(0o777)
    return ours


def _write_ours(data_dir: Path, name: str, content: bytes) -> None:
    sessions = data_dir / "sessions"
    sessions.mkdir(parents=True, mode=0o700)
    data_dir.chmod(0o700)
    (sessions / name).write_bytes(content)
    (sessions / name).chmod(0o600)


LAYOUTS: dict[str, Callable[[Path, str, bytes], Path]] = {
    "their sessions dir in a shared /tmp": _their_sessions_dir,
    "their data dir": _their_data_dir,
    "a symlinked sessions dir": _symlinked_sessions_dir,
    "a symlinked data dir": _symlinked_data_dir,
    "our sessions dir, 0777": _world_writable_sessions_dir,
    "our data dir, 0777 and not sticky": _world_writable_data_dir,
}


@POSIX_ONLY
@pytest.mark.parametrize("layout", LAYOUTS)
def test_a_planted_session_never_signs_the_victim_in(
    layout: str,
    flavour: Flavour,
    planted: bytes,
    agnost_emulator: Emulator,
    shared_tmp: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    url, key = agnost_emulator.base_url, agnost_emulator.client_key
    name = FileStore(url, key, data_dir=shared_tmp).path.name
    data_dir = LAYOUTS[layout](shared_tmp, name, planted)
    monkeypatch.setenv("AGNOST_DATA_DIR", str(data_dir))
    before = _tree(shared_tmp)
    token = json.loads(planted)["session"]["token"]

    with caplog.at_level(logging.WARNING):
        client = flavour.make(url, key, storage=None)  # the default store, under $AGNOST_DATA_DIR
        assert isinstance(client.storage, FileStore)

        # Signed out, and nothing sent: the emulator would answer the attacker's user.
        assert flavour.call(client, "get_session") is None
        assert flavour.call(client, "get_user") is None
        flavour.raises(agnost.MissingSessionTokenError, client, "get_user_from_db")

        # Signing in works in memory; the store refuses to save into the planted directory.
        error = flavour.raises(agnost.StorageError, client, "sign_in_with_email", *VICTIM)
        assert error.path == str(client.storage.path)
        assert flavour.call(client, "get_user_from_db").email == VICTIM[0]
        assert flavour.call(client, "get_user").email == VICTIM[0]
        flavour.raises(agnost.StorageError, client, "sign_out")
        flavour.raises(agnost.MissingSessionTokenError, client, "get_user_from_db")

    assert _tree(shared_tmp) == before  # nothing planted was changed, moved or tightened
    assert "is not read" in caplog.text
    assert token not in caplog.text and token not in str(error)


@POSIX_ONLY
def test_a_sessions_dir_of_ours_inside_a_sticky_shared_dir_is_used(shared_tmp: Path) -> None:
    # /tmp itself is world-writable: its sticky bit keeps others from renaming our entries.
    FileStore(ENV_URL, CLIENT_KEY, data_dir=shared_tmp).save({"session": SESSION})

    assert mode(shared_tmp / "sessions") == 0o700
    assert FileStore(ENV_URL, CLIENT_KEY, data_dir=shared_tmp).load().session == SESSION


@POSIX_ONLY
def test_a_file_of_another_account_in_our_directory_is_set_aside_untouched(
    store: FileStore, caplog: pytest.LogCaptureFixture
) -> None:
    uid, gid = other_account()
    store.save({"session": SESSION, "user": USER})
    os.chown(store.path, uid, gid)
    store.path.chmod(0o640)

    assert FileStore(ENV_URL, CLIENT_KEY, data_dir=store.path.parent.parent).load() == StoredAuth()

    [aside] = set_aside(store.path.parent)
    assert (aside.stat().st_uid, mode(aside)) == (uid, 0o640)  # not ours to change
    assert "another account" in caplog.text and CANARY not in caplog.text
    store.save({"user": USER})
    assert store.path.stat().st_uid == os.geteuid() and mode(store.path) == 0o600


@POSIX_ONLY
@pytest.mark.parametrize("loose", [0o620, 0o666])
def test_a_file_of_ours_that_others_can_write_is_not_read(loose: int, store: FileStore) -> None:
    store.save({"session": SESSION})
    store.path.chmod(loose)

    assert FileStore(ENV_URL, CLIENT_KEY, data_dir=store.path.parent.parent).load() == StoredAuth()

    [aside] = set_aside(store.path.parent)
    assert mode(aside) == 0o600  # ours, with no other name: tightened, it may hold a token


# --- 11: odd things at the session path --------------------------------------------------------


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="UNIX sockets")
def test_a_unix_socket_at_the_session_path_is_set_aside(
    store: FileStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.save({"user": USER})
    store.path.unlink()
    monkeypatch.chdir(store.path.parent)  # socket paths are limited to ~100 bytes
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(store.path.name)

        assert store.load() == StoredAuth()
        store.save({"session": SESSION})

        assert store.load().session == SESSION
        [aside] = set_aside(store.path.parent)
        assert stat.S_ISSOCK(os.lstat(aside).st_mode)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="mknod needs root")
def test_a_device_at_the_session_path_is_set_aside_unchanged(store: FileStore) -> None:
    store.save({"user": USER})
    store.path.unlink()
    os.mknod(store.path, stat.S_IFCHR | 0o644, os.makedev(1, 3))  # like /dev/null

    assert store.load() == StoredAuth()
    store.save({"session": SESSION})

    [aside] = set_aside(store.path.parent)
    assert stat.S_ISCHR(os.lstat(aside).st_mode) and mode(aside) == 0o644


@POSIX_ONLY
def test_a_hard_linked_session_file_is_read_and_its_other_name_left_alone(
    store: FileStore, tmp_path: Path
) -> None:
    store.save({"session": SESSION})
    other = tmp_path / "backup.json"
    os.link(store.path, other)
    kept = other.read_bytes()

    assert (
        FileStore(ENV_URL, CLIENT_KEY, data_dir=store.path.parent.parent).load().session == SESSION
    )
    store.save({"user": USER})

    assert other.read_bytes() == kept and mode(other) == 0o600  # the save replaced the name only


@POSIX_ONLY
def test_setting_aside_a_hard_linked_file_leaves_the_other_names_mode(
    store: FileStore, tmp_path: Path
) -> None:
    store.save({"session": SESSION})
    other = tmp_path / "elsewhere.txt"
    os.link(store.path, other)
    other.chmod(0o644)
    other.write_bytes(b"not a session file")

    assert FileStore(ENV_URL, CLIENT_KEY, data_dir=store.path.parent.parent).load() == StoredAuth()

    [aside] = set_aside(store.path.parent)
    assert os.path.samefile(aside, other)
    assert mode(other) == 0o644


@POSIX_ONLY
def test_a_hard_linked_lock_file_does_not_change_the_other_names_mode(
    store: FileStore, tmp_path: Path
) -> None:
    other = tmp_path / "precious.txt"
    other.write_bytes(b"not yours\n")
    other.chmod(0o644)
    store.path.parent.mkdir(parents=True)
    os.link(other, store.path.with_suffix(".lock"))

    store.save({"session": SESSION})

    assert (other.read_bytes(), mode(other)) == (b"not yours\n", 0o644)
    assert store.load().session == SESSION


# --- 13: whatever the client accepted round-trips ----------------------------------------------


def _answer_of(size: int, unit: str, *, items: bool = False) -> bytes:
    """A sign-in answer of exactly ``size`` bytes whose user has a custom field holding
    ``unit`` (JSON text) repeated: inside one string, or as array ``items``."""
    dumped = json.dumps({"session": session_wire(NEW_TOKEN), "user": user_wire()})
    head, tail = dumped[:-2] + ', "payload": ', "}}"
    opening, closing = ("[", "0]") if items else ('"', '"')
    room = size - len(head) - len(tail) - len(opening) - len(closing)
    count, pad = divmod(room, len(unit.encode()))
    filler = " " * pad if items else "a" * pad
    data = (head + opening + unit * count + filler + closing + tail).encode()
    assert len(data) == size
    return data


ANSWERS: dict[str, Callable[[], bytes]] = {
    "180k CJK characters": lambda: _answer_of(545_000, "中"),
    "1.1 MB of ASCII": lambda: _answer_of(1_100_000, "a"),
    "emoji (surrogate pairs when escaped)": lambda: _answer_of(1_200_000, "🙂"),
    "lone surrogates": lambda: _answer_of(900_000, "\\udc80\\ud83d\\ude00"),
    "the largest answer: 2-byte characters": lambda: _answer_of(DEFAULT_MAX_RESPONSE_BYTES, "é"),
    "the largest answer: numbers that grow": lambda: _answer_of(
        DEFAULT_MAX_RESPONSE_BYTES, "1e15,", items=True
    ),
}


@pytest.mark.parametrize("answer", ANSWERS)
def test_every_answer_the_client_accepts_is_read_back_by_the_next_process(
    answer: str, flavour: Flavour, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = ANSWERS[answer]()
    monkeypatch.setenv("AGNOST_DATA_DIR", str(data_dir))
    with RecordingServer() as server:
        server.script(dataclasses.replace(json_reply({}), body=body))
        client = flavour.make(server.env_url, CLIENT_KEY, storage=None)
        flavour.call(client, "sign_in_with_email", *VICTIM)
        assert server.last.path.endswith(AUTH + "/signin-email")

    sent = json.loads(body)
    worker = run_worker("load", str(data_dir), server.env_url, CLIENT_KEY)
    out, _ = worker.communicate(timeout=120)
    assert worker.returncode == 0
    loaded = json.loads(out)
    assert (loaded["session"], loaded["user"]) == (sent["session"], sent["user"])
    assert set_aside(client.storage.path.parent) == []


def _user_file_of(size: int) -> dict[str, Any]:
    """A user whose session file (with no session) is exactly ``size`` bytes."""
    empty = len(filestore._encode(StoredAuth(user={"pad": ""})))
    return {"pad": "a" * (size - empty)}


def test_the_writer_refuses_exactly_what_the_reader_would(
    store: FileStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One limit, read by both sides when they run: a small one shows the edge cheaply.
    monkeypatch.setattr(filestore, "MAX_FILE_BYTES", 4096)
    largest = _user_file_of(4096)
    store.save({"user": largest})
    assert store.path.stat().st_size == 4096
    assert FileStore(ENV_URL, CLIENT_KEY, data_dir=store.path.parent.parent).load().user == largest

    too_large = _user_file_of(4097)
    with pytest.raises(agnost.StorageError) as raised:
        store.save({"user": too_large})

    assert raised.value.path == str(store.path) and "4097 bytes" in str(raised.value)
    assert store.load().user == too_large  # kept in memory for this process
    assert FileStore(ENV_URL, CLIENT_KEY, data_dir=store.path.parent.parent).load().user == largest
    assert set_aside(store.path.parent) == []


def test_the_file_limit_holds_every_answer_within_the_default_cap() -> None:
    # The worst growth of escaping is under 4x (2-byte characters 3x, "1e15," 3.8x).
    assert MAX_FILE_BYTES >= 4 * DEFAULT_MAX_RESPONSE_BYTES


# --- 8: a value no store can hold changes nothing ---------------------------------------------


def _circular() -> list[Any]:
    loop: list[Any] = []
    loop.append(loop)
    return loop


def _deep(depth: int) -> list[Any]:
    nested: list[Any] = []
    for _ in range(depth):
        nested = [nested]
    return nested


BAD_VALUES: dict[str, tuple[Callable[[], Any], type[Exception]]] = {
    "an object": (object, agnost.InvalidArgumentTypeError),
    "a set": (lambda: {1, 2}, agnost.InvalidArgumentTypeError),
    "bytes": (lambda: CANARY.encode(), agnost.InvalidArgumentTypeError),
    "a circular list": (_circular, agnost.InvalidArgumentError),
    "an integer too long to print": (lambda: 10**5000, agnost.InvalidArgumentError),
    "nesting too deep": (lambda: _deep(100_000), agnost.InvalidArgumentError),
}


def _signed_in_storage(kind: str, data_dir: Path) -> Any:
    state = {"session": session_wire(CURRENT_TOKEN), "user": user_wire()}
    if kind == "memory":
        return MemoryStore(**state)
    store = FileStore(ENV_URL, CLIENT_KEY, data_dir=data_dir)
    store.save({"session": state["session"], "user": state["user"]})
    return store


@pytest.mark.parametrize("kind", ["memory", "file"])
@pytest.mark.parametrize("bad", BAD_VALUES)
def test_a_value_no_store_can_hold_is_refused_before_anything_changes(
    bad: str, kind: str, flavour: Flavour, data_dir: Path
) -> None:
    make, error = BAD_VALUES[bad]
    with RecordingServer() as server:
        client = flavour.make(server.env_url, storage=_signed_in_storage(kind, data_dir))
        session = flavour.call(client, "get_session")
        user = flavour.call(client, "get_user")

        new_session = attrs.evolve(session, token=NEW_TOKEN, extra={"x": make()})
        raised = flavour.raises(error, client, "set_session", new_session)
        flavour.raises(error, client, "set_user", attrs.evolve(user, extra={"x": make()}))

        assert "cannot be stored" in str(raised) and CANARY not in str(raised)
        assert flavour.call(client, "get_session") == session
        assert flavour.call(client, "get_user") == user
        assert next_session_header(flavour, server, client) == CURRENT_TOKEN
    if kind == "file":
        reread = FileStore(ENV_URL, CLIENT_KEY, data_dir=data_dir).load()
        assert reread == StoredAuth(session=session_wire(CURRENT_TOKEN), user=user_wire())


@pytest.mark.parametrize("bad", BAD_VALUES)
def test_a_direct_save_of_a_value_no_file_can_hold_changes_nothing(
    bad: str, store: FileStore
) -> None:
    make, error = BAD_VALUES[bad]
    store.save({"session": SESSION})
    before = store.path.read_bytes()

    with pytest.raises(error):
        store.save({"user": {"x": make()}})

    assert store.path.read_bytes() == before
    assert store.load() == StoredAuth(session=SESSION)


def test_a_save_that_fails_keeps_header_and_session_in_step(
    flavour: Flavour, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(filestore, "MAX_FILE_BYTES", 4096)
    with RecordingServer() as server:
        client = flavour.make(server.env_url, storage=_signed_in_storage("file", data_dir))
        session = flavour.call(client, "get_session")
        large = attrs.evolve(session, token=NEW_TOKEN, extra={"pad": "a" * 5000})

        flavour.raises(agnost.StorageError, client, "set_session", large)

        assert flavour.call(client, "get_session").token == NEW_TOKEN
        assert next_session_header(flavour, server, client) == NEW_TOKEN
    assert FileStore(ENV_URL, CLIENT_KEY, data_dir=data_dir).load().token == CURRENT_TOKEN


class RefusingStore(MemoryStore):
    """A store of the user's own that refuses every save with an error of its own."""

    __slots__ = ()

    def save(self, update: Any) -> None:
        raise RuntimeError("this store refuses")


def test_a_store_that_refuses_a_save_leaves_the_header_as_it_was(flavour: Flavour) -> None:
    storage = RefusingStore(session=session_wire(CURRENT_TOKEN), user=user_wire())
    with RecordingServer() as server:
        client = flavour.make(server.env_url, storage=storage)
        server.script(json_reply({"session": session_wire(NEW_TOKEN), "user": user_wire()}))

        flavour.raises(RuntimeError, client, "sign_in_with_email", *VICTIM)

        assert flavour.call(client, "get_session").token == CURRENT_TOKEN
        assert next_session_header(flavour, server, client) == CURRENT_TOKEN
