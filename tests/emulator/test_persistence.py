"""The SQLite store: data survives a restart, the schema is versioned and migrated, tokens and
passwords are stored only as hashes."""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from agnost.emulator import Emulator
from agnost.emulator.db import MIGRATIONS, Database, SchemaTooNewError, StorageError

from .conftest import PASSWORD, Api, error_code


def test_users_sessions_and_outbox_survive_a_restart(tmp_path: Path) -> None:
    database = str(tmp_path / "emulator.sqlite3")
    with Emulator(database=database, hash_cost=4, client_keys=("k",)) as first:
        api = Api(first)
        token = api.sign_up(nameOrUserData={"name": "Ada", "team": "engines"})["session"]["token"]
        first.configure(email_confirmation=True)
        api.sign_up("bo@example.com")

    with Emulator(database=database, hash_cost=4, client_keys=("k",)) as second:
        api = Api(second)
        assert second.base_url != "" and api.get("/user", token=token).json()["team"] == "engines"
        assert api.sign_in()  # the password hash was kept
        [message] = second.outbox(recipient="bo@example.com")
        assert api.get("/grant", params={"key": message.access_token}).status_code == 200
        # Settings are not stored: this start did not ask for email confirmation.
        assert second.config["emailConfirmation"] is False


def test_the_database_holds_no_token_and_no_password(tmp_path: Path) -> None:
    database = tmp_path / "emulator.sqlite3"
    with Emulator(database=str(database), hash_cost=4) as emulator:
        api = Api(emulator)
        token = api.sign_up(password="canary-password-7f3a")["session"]["token"]
        token2 = api.sign_in(password="canary-password-7f3a")

    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    for secret in (token, token2, "canary-password-7f3a"):
        assert secret.encode() not in raw
    assert b"scrypt$4$8$1$" in raw


def test_a_new_database_gets_the_current_schema_version_and_wal(tmp_path: Path) -> None:
    path = str(tmp_path / "new.sqlite3")
    db = Database(path)
    assert db.schema_version == len(MIGRATIONS)
    db.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert {"users", "sessions", "access_tokens", "outbox", "settings"} <= tables


def test_reopening_does_not_migrate_again(tmp_path: Path) -> None:
    path = str(tmp_path / "db.sqlite3")
    Database(path).close()
    db = Database(path)  # would fail with "table users already exists" if it re-ran v1
    assert db.schema_version == len(MIGRATIONS)
    db.close()


def test_a_database_from_a_newer_emulator_is_refused(tmp_path: Path) -> None:
    path = str(tmp_path / "future.sqlite3")
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(SchemaTooNewError, match="newer"):
        Database(path)
    with pytest.raises(SchemaTooNewError):
        Emulator(database=path).start()


def test_memory_databases_are_private_to_each_emulator(api: Api) -> None:
    token = api.sign_up()["session"]["token"]
    with Emulator(hash_cost=4, client_keys=(api.emulator.client_key,)) as other:
        answer = Api(other).get("/user", token=token)
        assert error_code(answer) == "invalid_session_token"
    assert api.post("/signin-email", {"email": "ada@example.com", "password": PASSWORD}).ok


def test_a_generated_client_key_is_kept_in_a_file_database(tmp_path: Path) -> None:
    database = str(tmp_path / "emulator.sqlite3")
    with Emulator(database=database, hash_cost=4) as first:
        key = first.client_key
        token = Api(first).sign_up()["session"]["token"]
    assert key.startswith("dev-")

    with Emulator(database=database, hash_cost=4) as second:
        # A client configured with the first run's key still works, session and all.
        assert second.client_key == key and second.config["clientKeys"] == [key]
        assert Api(second).get("/user", token=token).status_code == 200
    # Keys chosen explicitly win, and leave the stored one alone.
    with Emulator(database=database, hash_cost=4, client_keys=("mine",)) as chosen:
        assert chosen.config["clientKeys"] == ["mine"]
    with Emulator(database=database, hash_cost=4) as third:
        assert third.client_key == key
    # Each in-memory database is new, so each gets a new key.
    with Emulator(hash_cost=4) as one, Emulator(hash_cost=4) as other:
        assert one.client_key != other.client_key


def test_a_database_of_schema_version_1_is_migrated_and_keeps_its_data(tmp_path: Path) -> None:
    path = str(tmp_path / "v1.sqlite3")
    with sqlite3.connect(path) as conn:
        conn.executescript(MIGRATIONS[0])
        conn.execute("PRAGMA user_version = 1")
        conn.execute(
            "INSERT INTO users (id, provider, provider_user_id, doc) VALUES ('u1', 'p', 'x', '{}')"
        )
    conn.close()
    db = Database(path)
    assert db.schema_version == len(MIGRATIONS) >= 2
    assert db.user_by_id("u1") == {}
    assert db.development_client_key("dev-1") == "dev-1"
    assert db.development_client_key("dev-2") == "dev-1"
    db.close()


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The common umask, under which files are created world-readable (0644) by default."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
@pytest.mark.usefixtures("umask_022")
def test_the_database_files_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    database = tmp_path / "emulator.sqlite3"
    with Emulator(database=str(database), hash_cost=4, email_confirmation=True) as emulator:
        Api(emulator).sign_up()
        assert emulator.outbox()[0].access_token  # kept in plaintext: it is test data
        files = [database, tmp_path / "emulator.sqlite3-wal", tmp_path / "emulator.sqlite3-shm"]
        modes = {path.name: oct(stat.S_IMODE(path.stat().st_mode)) for path in files}
    assert modes == {path.name: "0o600" for path in files}
    assert oct(stat.S_IMODE(database.stat().st_mode)) == "0o600"


@pytest.mark.parametrize("problem", ["not a database", "under a file", "a directory"])
def test_an_unusable_database_is_a_storage_error_naming_it(tmp_path: Path, problem: str) -> None:
    if problem == "not a database":
        path = tmp_path / "passwd"
        path.write_text("root:x:0:0:root:/root:/bin/bash\n" * 100)
    elif problem == "under a file":
        (tmp_path / "file").write_text("")
        path = tmp_path / "file" / "emulator.sqlite3"
    else:
        path = tmp_path
    before = path.read_bytes() if path.is_file() else None

    with pytest.raises(StorageError, match=f"cannot use the database {path}"):
        Database(str(path))
    emulator = Emulator(database=str(path), hash_cost=4)
    with pytest.raises(StorageError):
        emulator.start()
    with pytest.raises(RuntimeError, match="not running"):
        emulator.outbox()
    assert before is None or path.read_bytes() == before
