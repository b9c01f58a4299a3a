"""A bad session file reads as "no session", is set aside (never deleted), and is logged
without its content; the client still starts."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

import pytest

import agnost
from agnost.storage import StoredAuth
from agnost.storage.filestore import MAX_FILE_BYTES, FileStore

from .conftest import CANARY, CLIENT_KEY, ENV_URL, SESSION, USER, set_aside, temp_files

HAND_MADE: dict[str, bytes] = {
    "empty": b"",
    "whitespace": b"  \n\t ",
    "garbage": b"\x00\x01garbage\xfe" * 40,
    "invalid utf-8": b'{"version": 1, "session": null, "user": {"name": "\xff\xfe"}}',
    "utf-8 bom": b'\xef\xbb\xbf{"version": 1, "session": null, "user": null}',
    "utf-16": '{"version": 1, "session": null, "user": null}'.encode("utf-16"),
    "a json array": b"[1, 2, 3]",
    "a json string": b'"' + CANARY.encode() + b'"',
    "null": b"null",
    "no version": b'{"session": null, "user": null}',
    "version as string": b'{"version": "1", "session": null, "user": null}',
    "version as bool": b'{"version": true, "session": null, "user": null}',
    "version as float": b'{"version": 1.0, "session": null, "user": null}',
    "unknown future version": b'{"version": 2, "session": null, "user": null}',
    "huge version": b'{"version": ' + b"9" * 5000 + b', "session": null, "user": null}',
    "no session key": b'{"version": 1, "user": null}',
    "no user key": b'{"version": 1, "session": {"token": "' + CANARY.encode() + b'"}}',
    "an extra key": b'{"version": 1, "session": null, "user": null, "x": 1}',
    "session is a string": b'{"version": 1, "session": "' + CANARY.encode() + b'", "user": null}',
    "session is a list": b'{"version": 1, "session": [], "user": null}',
    "user is a number": b'{"version": 1, "session": null, "user": 5}',
    "two documents": b'{"version": 1, "session": null, "user": null}{}',
    "nested too deeply": b"[" * 100_000 + b"]" * 100_000,
    "bigger than any session file": b'{"version": 1, "session": null, "user": {"pad": "'
    + b"x" * MAX_FILE_BYTES
    + b'"}}',
}


def good_file_bytes(store: FileStore) -> bytes:
    store.save({"session": SESSION, "user": USER})
    return store.path.read_bytes()


def assert_set_aside_once(store: FileStore, original: bytes) -> None:
    [aside] = set_aside(store.path.parent)
    assert aside.read_bytes() == original  # kept byte for byte
    assert aside.name.startswith(store.path.name + ".corrupt-")


@pytest.mark.parametrize("content", list(HAND_MADE.values()), ids=list(HAND_MADE))
def test_a_hand_made_corruption_reads_as_no_session_and_is_set_aside(
    make_store: Callable[..., FileStore], content: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    store = make_store()
    good_file_bytes(store)
    store.path.write_bytes(content)

    with caplog.at_level(logging.WARNING, logger="agnost"):
        assert make_store().load() == StoredAuth()

    assert_set_aside_once(store, content)
    assert not store.path.exists()
    [record] = caplog.records
    assert record.levelno == logging.WARNING and "moved it to" in record.getMessage()
    assert CANARY not in caplog.text


def test_a_valid_file_cut_at_every_byte_offset_reads_as_no_session_or_as_itself(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    good = good_file_bytes(FileStore(ENV_URL, CLIENT_KEY, data_dir=tmp_path / "good"))
    complete = len(good.rstrip())  # only trailing whitespace may go without harm
    outcomes = {"no session": 0, "complete": 0}
    with caplog.at_level(logging.WARNING, logger="agnost"):
        for offset in range(len(good)):
            store = FileStore(ENV_URL, CLIENT_KEY, data_dir=tmp_path / f"cut{offset}")
            store.path.parent.mkdir(parents=True)
            store.path.write_bytes(good[:offset])

            state = store.load()

            if offset >= complete:
                assert state == StoredAuth(session=SESSION, user=USER), offset
                assert set_aside(store.path.parent) == [], offset
                outcomes["complete"] += 1
            else:
                assert state == StoredAuth(), offset
                assert_set_aside_once(store, good[:offset])
                outcomes["no session"] += 1
    assert outcomes == {"no session": complete, "complete": len(good) - complete}
    assert CANARY not in caplog.text
    print(f"\ntruncations tried: {len(good)} ({outcomes})")


def test_a_directory_at_the_session_path_is_set_aside_with_its_content(
    store: FileStore,
) -> None:
    store.path.parent.mkdir(parents=True)
    store.path.mkdir()
    (store.path / "inside").write_text("kept")

    assert store.load() == StoredAuth()

    [aside] = set_aside(store.path.parent)
    assert (aside / "inside").read_text() == "kept"
    store.save({"session": SESSION})
    assert FileStore(ENV_URL, CLIENT_KEY, data_dir=store.path.parents[1]).load().token == CANARY


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_a_fifo_at_the_session_path_does_not_hang_the_load(store: FileStore) -> None:
    store.path.parent.mkdir(parents=True)
    os.mkfifo(store.path)

    assert store.load() == StoredAuth()  # opening it for reading would block forever

    [aside] = set_aside(store.path.parent)
    assert aside.is_fifo()


def test_after_a_corrupt_file_the_next_save_writes_a_good_one(
    make_store: Callable[..., FileStore],
) -> None:
    store = make_store()
    store.path.parent.mkdir(parents=True)
    store.path.write_bytes(b"{not json")

    store.save({"user": USER})  # finds the bad file itself, under the lock

    assert make_store().load() == StoredAuth(user=USER)
    assert_set_aside_once(store, b"{not json")
    assert temp_files(store.path.parent) == []


def test_two_stores_finding_the_same_bad_file_set_it_aside_once(
    make_store: Callable[..., FileStore],
) -> None:
    first, second = make_store(), make_store()
    first.path.parent.mkdir(parents=True)
    first.path.write_bytes(b"garbage")

    assert first.load() == StoredAuth()
    second.save({"session": SESSION})

    assert first.load().session == SESSION  # the good file was not taken for the bad one
    assert_set_aside_once(first, b"garbage")


def test_a_session_file_a_newer_release_wrote_is_kept_aside_for_it(
    store: FileStore, caplog: pytest.LogCaptureFixture
) -> None:
    newer = b'{"version": 7, "sessions": {"default": {"token": "x"}}}'
    store.path.parent.mkdir(parents=True)
    store.path.write_bytes(newer)

    assert store.load() == StoredAuth()

    assert_set_aside_once(store, newer)
    assert "schema version 7" in caplog.text


@pytest.mark.parametrize("content", [b"", b"\xff garbage", b'{"version": 3}'])
def test_a_client_starts_signed_out_over_a_corrupt_file(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, content: bytes
) -> None:
    monkeypatch.setenv("AGNOST_DATA_DIR", str(data_dir))
    path = FileStore(ENV_URL, CLIENT_KEY).path
    path.parent.mkdir(parents=True)
    path.write_bytes(content)

    with agnost.create_client(ENV_URL, CLIENT_KEY) as client:
        assert client.auth.get_session() is None
        assert client.auth.get_user() is None

    assert [p.read_bytes() for p in set_aside(path.parent)] == [content]
