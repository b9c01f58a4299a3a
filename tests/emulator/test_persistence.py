"""The SQLite store: data survives a restart, the schema is versioned and migrated, tokens and
passwords are stored only as hashes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from agnost.emulator import Emulator
from agnost.emulator.db import MIGRATIONS, Database, SchemaTooNewError

from .conftest import PASSWORD, Api, error_code


def test_users_sessions_and_outbox_survive_a_restart(tmp_path: Path) -> None:
    database = str(tmp_path / "emulator.sqlite3")
    with Emulator(database=database, hash_cost=4, client_keys=("k",)) as first:
        api = Api(first)
        token = api.sign_up(nameOrUserData={"name": "Ada", "team": "engines"})["session"]["token"]
        first.configure(emailConfirmation=True)
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
    assert {"users", "sessions", "access_tokens", "outbox"} <= tables


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
