"""The emulator's SQLite store: schema, migrations, queries, and the one thread that runs them.

The schema version is SQLite's ``PRAGMA user_version``; :data:`MIGRATIONS` holds one script per
version and a database is brought up to date when it is opened, so data written by an older
emulator survives an upgrade. A file database uses write-ahead logging, and is created readable
by its owner only (``0600``, whatever the umask; its ``-wal`` and ``-shm`` files too): the outbox
keeps the messages "sent" as they were sent, links and access tokens in plaintext.

All SQL runs on a single dedicated thread owning the single connection
(:class:`DatabaseThread`). The event loop never waits on SQLite, and since only one connection
ever exists, writers never meet and "database is locked" cannot happen inside one emulator
(a busy timeout covers a second process opening the same file).
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import enum
import functools
import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from .security import stored_cost

__all__ = [
    "BUSY",
    "MAX_CODE_TRIES",
    "MIGRATIONS",
    "QUICK_READS",
    "Database",
    "DatabaseThread",
    "DuplicateUserError",
    "SchemaTooNewError",
    "StorageError",
    "StoredCode",
]

T = TypeVar("T")

#: ``MIGRATIONS[n]`` takes a database from schema version ``n`` to ``n + 1``.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE users (
        id TEXT PRIMARY KEY,
        email_key TEXT UNIQUE,              -- the email, lower-cased: unique case-insensitively
        phone TEXT UNIQUE,
        provider TEXT NOT NULL,
        provider_user_id TEXT NOT NULL,
        password_hash TEXT,                 -- NULL for users who came through OAuth
        doc TEXT NOT NULL,                  -- the user as the API returns it, custom fields too
        UNIQUE (provider, provider_user_id)
    );
    CREATE TABLE sessions (
        token_digest TEXT PRIMARY KEY,      -- SHA-256 of the token; the token is never stored
        user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        created_at REAL NOT NULL,           -- epoch seconds, for expiry
        doc TEXT NOT NULL                   -- the session as the API returns it, minus token
    );
    CREATE INDEX sessions_by_user ON sessions (user_id, created_at);
    CREATE TABLE access_tokens (
        token_digest TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        purpose TEXT NOT NULL,
        expires_at REAL NOT NULL
    );
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        doc TEXT NOT NULL,                  -- the message as /_emulator/outbox shows it,
        recipient TEXT NOT NULL,            -- its link and access token in plaintext: the
        kind TEXT NOT NULL                  -- outbox is how tests receive them
    );
    """,
    """
    CREATE TABLE settings (                 -- what the emulator keeps from one run to the next
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    """,
    """
    ALTER TABLE access_tokens ADD COLUMN payload TEXT;  -- e.g. the new address of an email change
    CREATE INDEX access_tokens_by_user ON access_tokens (user_id, purpose);
    CREATE TABLE codes (                    -- one-time SMS codes, one live code per number and use
        recipient TEXT NOT NULL,            -- the phone number it was sent to
        purpose TEXT NOT NULL,              -- sign_in, phone_verification, password_reset
        user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        salt TEXT NOT NULL,
        code_digest TEXT,                   -- SHA-256 of salt and code; NULL once burnt
        attempts_left INTEGER NOT NULL,
        expires_at REAL NOT NULL,
        payload TEXT,                       -- e.g. the new number of a phone change
        PRIMARY KEY (recipient, purpose)
    );
    CREATE INDEX codes_by_user ON codes (user_id, purpose);
    """,
)

#: The ``settings`` row holding the generated development client key.
_DEV_CLIENT_KEY = "dev_client_key"

#: How many (purpose, number) pairs :meth:`Database.put_code_tries` remembers at most (the
#: least recently touched is forgotten first).
MAX_CODE_TRIES = 10_000

#: How many callers' session listings :meth:`Database.caller_sessions` keeps at most.
_LISTINGS_KEPT = 256

#: Owner read and write only, for the database file and its companions.
_FILE_MODE = 0o600


class StorageError(RuntimeError):
    """The database cannot be opened or used: not a database, not writable, a bad path."""


class SchemaTooNewError(StorageError):
    """The database file was written by a newer emulator whose schema this one does not know."""


def _create_private(path: str) -> None:
    """Create the file at ``path`` readable by its owner only, unless it exists already.

    SQLite would create it with the umask's mode (typically ``0644``), and the file holds the
    outbox's access tokens.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _FILE_MODE)
    except FileExistsError:
        return
    try:
        if os.name == "posix":  # the umask may have taken away more than it should
            os.fchmod(fd, _FILE_MODE)
    finally:
        os.close(fd)


class DuplicateUserError(Exception):
    """A user with this email, phone or provider identity exists; ``field`` says which."""

    def __init__(self, field: str) -> None:
        super().__init__(f"a user with this {field} already exists")
        self.field = field


#: A code row: (user id, salt, code digest or None once burnt, attempts left, expires at,
#: payload or None).
StoredCode = tuple[str, str, "str | None", int, float, "str | None"]


def _statements(script: str) -> Iterator[str]:
    """Split a script into statements. (``executescript`` would, but it commits first, and a
    migration must be one transaction with its version bump.)"""
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            yield pending
            pending = ""
    if pending.strip():
        raise ValueError(f"incomplete SQL statement in a migration: {pending!r}")


def _loads(text: str) -> dict[str, Any]:
    value = json.loads(text)
    assert isinstance(value, dict)
    return value


class Database:
    """One SQLite connection and the queries the emulator needs. Not thread-safe: use it only
    from the thread of a :class:`DatabaseThread`."""

    def __init__(self, path: str) -> None:
        """Open (creating and migrating if needed) the database at ``path``.

        Raises :class:`StorageError` naming ``path`` if it cannot be used.
        """
        self._path = path
        in_file = path not in ("", ":memory:") and not path.startswith("file:")
        try:
            if in_file:
                _create_private(path)
            # isolation_level=None: transactions are explicit (see transaction()).
            self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._highest_cost: int | None = None
            self._highest_cost_known = False
            # (purpose, recipient) -> (attempts left, expires at) of the tries at a code that
            # is not stored (see onetime.take_code); in memory, bounded, least recent first.
            self._code_tries: collections.OrderedDict[tuple[str, str], tuple[int, float]] = (
                collections.OrderedDict()
            )
            # What caller_sessions read, by digest, while nothing has been written since
            # (_listed_at: the version it was read at, see _version). Another connection can
            # open the same database unless it is a private in-memory one.
            self._private = path in ("", ":memory:")
            self._listed: dict[str, tuple[float | None, list[tuple[float, str, str]]]] = {}
            self._listed_at: tuple[int, int] | None = None
        except (sqlite3.Error, OSError) as exc:
            raise StorageError(f"cannot use the database {path}: {exc}") from exc
        try:
            self._conn.execute("PRAGMA foreign_keys = ON")
            self._conn.execute("PRAGMA busy_timeout = 5000")
            if in_file:
                self._conn.execute("PRAGMA journal_mode = WAL")
                # WAL plus NORMAL is durable across application crashes; only a power cut may
                # lose the last transactions, which is fine for an emulator.
                self._conn.execute("PRAGMA synchronous = NORMAL")
                # SQLite gives these the main file's mode; made sure of for older files.
                for suffix in ("-wal", "-shm"):
                    with contextlib.suppress(OSError):
                        os.chmod(path + suffix, _FILE_MODE)
            self._migrate()
        except BaseException as exc:
            self._conn.close()
            if isinstance(exc, sqlite3.Error | OSError):
                raise StorageError(f"cannot use the database {path}: {exc}") from exc
            raise

    def _migrate(self) -> None:
        version = self.schema_version
        if version > len(MIGRATIONS):
            raise SchemaTooNewError(
                f"the database {self._path} has schema version {version}, newer than this"
                f" emulator's ({len(MIGRATIONS)}); upgrade agnost or use another --db"
            )
        for target, script in enumerate(MIGRATIONS[version:], start=version + 1):
            with self.transaction():
                for statement in _statements(script):
                    self._conn.execute(statement)
                # PRAGMA takes no parameters; target is an int we computed.
                self._conn.execute(f"PRAGMA user_version = {target:d}")

    @property
    def schema_version(self) -> int:
        """The schema version recorded in the file (``PRAGMA user_version``)."""
        row = self._conn.execute("PRAGMA user_version").fetchone()
        return int(row[0])

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Run the block as one transaction: all of it is committed, or none of it."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    @contextlib.contextmanager
    def rehearsal(self, *, undo: bool = True) -> Iterator[None]:
        """Run the block's writes and undo them: inside a :meth:`transaction`, the same work
        as the real thing leaving no trace (foreign keys are checked at the end, by which time
        the rows are gone). A send for an unknown account does this, so that it costs what a
        send for a known one does; the send for a known one runs in the same savepoint with
        ``undo`` False (kept), so that both paths run the same statements but one."""
        self._conn.execute("PRAGMA defer_foreign_keys = ON")
        self._conn.execute("SAVEPOINT rehearsal")
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK TO rehearsal")
            self._conn.execute("RELEASE rehearsal")
            raise
        if undo:
            self._conn.execute("ROLLBACK TO rehearsal")
        self._conn.execute("RELEASE rehearsal")

    def close(self) -> None:
        """Close the connection (checkpointing the write-ahead log into the file)."""
        self._conn.close()

    # --- users ---------------------------------------------------------------------------

    def insert_user(
        self,
        doc: dict[str, Any],
        *,
        email: str | None,
        phone: str | None,
        provider: str,
        provider_user_id: str,
        password_hash: str | None,
    ) -> None:
        """Store a new user. Raises :class:`DuplicateUserError` if the identity is taken."""
        self._highest_cost_known = False
        try:
            self._conn.execute(
                "INSERT INTO users (id, email_key, phone, provider, provider_user_id,"
                " password_hash, doc) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    doc["_id"],
                    email.lower() if email is not None else None,
                    phone,
                    provider,
                    provider_user_id,
                    password_hash,
                    json.dumps(doc),
                ),
            )
        except sqlite3.IntegrityError as exc:
            message = str(exc)
            field = "email" if "email_key" in message else "phone" if "phone" in message else "id"
            raise DuplicateUserError(field) from exc

    def user_by_id(self, user_id: str) -> dict[str, Any] | None:
        """Return the user's document, or None."""
        row = self._conn.execute("SELECT doc FROM users WHERE id = ?", (user_id,)).fetchone()
        return _loads(row[0]) if row else None

    def user_with_password(
        self, *, email: str | None = None, phone: str | None = None
    ) -> tuple[dict[str, Any], str | None] | None:
        """Find a user by email (case-insensitively) or phone: (document, password hash)."""
        if email is not None:
            query = "SELECT doc, password_hash FROM users WHERE email_key = ?"
            row = self._conn.execute(query, (email.lower(),)).fetchone()
        else:
            query = "SELECT doc, password_hash FROM users WHERE phone = ?"
            row = self._conn.execute(query, (phone,)).fetchone()
        return (_loads(row[0]), row[1]) if row else None

    def highest_hash_cost(self) -> int | None:
        """The highest cost a stored password hash has, or None if no user has a password:
        what every failed sign-in is made to cost (see ``auth``), so that its time does not
        depend on whether the account exists, whatever mix of costs is stored.

        Cached until a hash is stored or removed, so a sign-in does not scan every user.
        """
        if not self._highest_cost_known:
            rows = self._conn.execute(
                "SELECT DISTINCT"
                " substr(password_hash, 1, 7 + instr(substr(password_hash, 8), '$'))"
                " FROM users WHERE password_hash IS NOT NULL"
            ).fetchall()
            costs = [cost for (params,) in rows if (cost := stored_cost(params)) is not None]
            self._highest_cost = max(costs, default=None)
            self._highest_cost_known = True
        return self._highest_cost

    def set_password_hash(self, user_id: str, password_hash: str) -> None:
        """Replace the user's stored password hash."""
        self._highest_cost_known = False
        self._conn.execute(
            "UPDATE users SET password_hash = ? WHERE id = ?", (password_hash, user_id)
        )

    def users(self) -> list[tuple[dict[str, Any], str | None]]:
        """Every user, oldest first: (document, password hash or None)."""
        rows = self._conn.execute("SELECT doc, password_hash FROM users ORDER BY rowid")
        return [(_loads(doc), password_hash) for doc, password_hash in rows]

    def user_by_provider(self, provider: str, provider_user_id: str) -> dict[str, Any] | None:
        """Find the user an OAuth provider knows by ``provider_user_id``."""
        row = self._conn.execute(
            "SELECT doc FROM users WHERE provider = ? AND provider_user_id = ?",
            (provider, provider_user_id),
        ).fetchone()
        return _loads(row[0]) if row else None

    def update_user(self, doc: dict[str, Any]) -> None:
        """Replace the stored document of the user ``doc["_id"]``."""
        self._conn.execute("UPDATE users SET doc = ? WHERE id = ?", (json.dumps(doc), doc["_id"]))

    def update_user_contact(self, doc: dict[str, Any]) -> None:
        """Replace the user's document and the email and phone it is found by (from ``doc``).

        Raises :class:`DuplicateUserError` if another user has the email or phone.
        """
        email = doc.get("email")
        try:
            self._conn.execute(
                "UPDATE users SET doc = ?, email_key = ?, phone = ? WHERE id = ?",
                (
                    json.dumps(doc),
                    email.lower() if isinstance(email, str) else None,
                    doc.get("phone"),
                    doc["_id"],
                ),
            )
        except sqlite3.IntegrityError as exc:
            raise DuplicateUserError("email" if "email_key" in str(exc) else "phone") from exc

    def password_hash(self, user_id: str) -> str | None:
        """The user's stored password hash, or None (no such user, or no password)."""
        row = self._conn.execute(
            "SELECT password_hash FROM users WHERE id = ?", (user_id,)
        ).fetchone()
        return str(row[0]) if row and row[0] is not None else None

    def user_id_by(self, *, email: str | None = None, phone: str | None = None) -> str | None:
        """The id of the user with this email (case-insensitively) or phone, or None."""
        if email is not None:
            row = self._conn.execute(
                "SELECT id FROM users WHERE email_key = ?", (email.lower(),)
            ).fetchone()
        else:
            row = self._conn.execute("SELECT id FROM users WHERE phone = ?", (phone,)).fetchone()
        return str(row[0]) if row else None

    # --- sessions ------------------------------------------------------------------------

    def insert_session(self, digest: str, created_at: float, doc: dict[str, Any]) -> None:
        """Store a session under its token's digest; ``doc`` must not hold the token."""
        self._conn.execute(
            "INSERT INTO sessions (token_digest, user_id, created_at, doc) VALUES (?, ?, ?, ?)",
            (digest, doc["userId"], created_at, json.dumps(doc)),
        )

    def live_session(self, digest: str, not_before: float) -> dict[str, Any] | None:
        """Return the session with this digest if it was created after ``not_before``.

        An older one has expired: it is deleted on the way.
        """
        row = self.live_session_row(digest, not_before)
        return None if row is None else _loads(row[1])

    def live_session_row(self, digest: str, not_before: float) -> tuple[str, str] | None:
        """:meth:`live_session` as stored: (user id, the document's JSON text), for a caller
        that may not need the document (most requests only need whose session it is)."""
        row = self._conn.execute(
            "SELECT created_at, user_id, doc FROM sessions WHERE token_digest = ?", (digest,)
        ).fetchone()
        if row is None:
            return None
        if row[0] <= not_before:
            self._conn.execute("DELETE FROM sessions WHERE token_digest = ?", (digest,))
            return None
        return row[1], row[2]

    def caller_sessions(self, digest: str, not_before: float) -> list[tuple[str, str]]:
        """The unexpired sessions of the user whose unexpired session has this digest, oldest
        first, as (digest, the document's JSON text) pairs: that session among them; none if
        there is no such session (see :meth:`live_session_row` for why: it also deletes an
        expired one). For an authenticated listing.

        What is read is kept until anything is written to the database (by this connection
        or, for a database another can open, by any): a client listing its sessions again
        and again costs one query per change, not one per listing.
        """
        version = self._version()
        if version != self._listed_at:
            self._listed.clear()
            self._listed_at = version
        known = self._listed.get(digest)
        if known is None:
            rows = self._conn.execute(
                "SELECT created_at, token_digest, doc FROM sessions WHERE user_id ="
                " (SELECT user_id FROM sessions WHERE token_digest = ?)"
                " ORDER BY created_at, rowid",
                (digest,),
            ).fetchall()
            own = next((created for created, listed, _ in rows if listed == digest), None)
            if len(self._listed) >= _LISTINGS_KEPT:
                self._listed.clear()
            known = self._listed[digest] = (own, rows)
        own, rows = known
        if own is None or own <= not_before:
            return []
        return [(listed, doc) for created, listed, doc in rows if created > not_before]

    def _version(self) -> tuple[int, int]:
        """What changes when anything is written: the rows this connection changed, and
        (unless the database is private to it) SQLite's count of other connections'
        commits."""
        others = 0 if self._private else self._conn.execute("PRAGMA data_version").fetchone()[0]
        return self._conn.total_changes, int(others)

    def live_session_texts(self, user_id: str, not_before: float) -> list[tuple[str, str]]:
        """:meth:`live_sessions` as stored: (digest, the document's JSON text) pairs."""
        return self._conn.execute(
            "SELECT token_digest, doc FROM sessions WHERE user_id = ? AND created_at > ?"
            " ORDER BY created_at, rowid",
            (user_id, not_before),
        ).fetchall()

    def live_sessions(self, user_id: str, not_before: float) -> list[tuple[str, dict[str, Any]]]:
        """The user's unexpired sessions, oldest first, as (digest, document) pairs."""
        rows = self._conn.execute(
            "SELECT token_digest, doc FROM sessions WHERE user_id = ? AND created_at > ?"
            " ORDER BY created_at, rowid",
            (user_id, not_before),
        ).fetchall()
        return [(row[0], _loads(row[1])) for row in rows]

    def prune_sessions(self, user_id: str, not_before: float, keep: int) -> None:
        """Delete the user's expired sessions, and all but the newest ``keep`` live ones."""
        self._conn.execute(
            "DELETE FROM sessions WHERE user_id = ?1 AND (created_at <= ?2 OR token_digest NOT IN"
            " (SELECT token_digest FROM sessions WHERE user_id = ?1 AND created_at > ?2"
            "  ORDER BY created_at DESC, rowid DESC LIMIT ?3))",
            (user_id, not_before, keep),
        )

    def delete_expired(self, not_before: float, now: float) -> None:
        """Delete every session created at or before ``not_before`` and every access token
        expired at ``now``."""
        with self.transaction():
            self._conn.execute("DELETE FROM sessions WHERE created_at <= ?", (not_before,))
            self._conn.execute("DELETE FROM access_tokens WHERE expires_at <= ?", (now,))
            self._conn.execute("DELETE FROM codes WHERE expires_at <= ?", (now,))

    def session_owner(self, digest: str) -> str | None:
        """The user id a session belongs to, expired or not, or None if there is no such."""
        row = self._conn.execute(
            "SELECT user_id FROM sessions WHERE token_digest = ?", (digest,)
        ).fetchone()
        return str(row[0]) if row else None

    def delete_session(self, digest: str) -> None:
        """Delete one session."""
        self._conn.execute("DELETE FROM sessions WHERE token_digest = ?", (digest,))

    def delete_sessions(self, user_id: str, *, keep: str | None = None) -> None:
        """Delete all the user's sessions, except the one whose digest is ``keep``."""
        self._conn.execute(
            "DELETE FROM sessions WHERE user_id = ? AND token_digest IS NOT ?", (user_id, keep)
        )

    # --- access tokens -------------------------------------------------------------------

    def insert_access_token(
        self,
        digest: str,
        user_id: str,
        purpose: str,
        expires_at: float,
        payload: str | None = None,
    ) -> None:
        """Store a single-use access token (by digest) for the grant or reset endpoint."""
        self._conn.execute(
            "INSERT INTO access_tokens (token_digest, user_id, purpose, expires_at, payload)"
            " VALUES (?, ?, ?, ?, ?)",
            (digest, user_id, purpose, expires_at, payload),
        )

    def take_access_token(
        self, digest: str, now: float, purposes: tuple[str, ...] | None = None
    ) -> tuple[str, str, str | None] | None:
        """Use up an access token: (user id, purpose, payload) if it was valid at ``now`` (and,
        given ``purposes``, is for one of them), else None.

        A token for one of ``purposes`` (any, without them) is gone afterwards, valid or
        not: it can be used once. One for another purpose is left alone (a reset link handed
        to the grant endpoint stays usable for the reset).
        """
        row = self._conn.execute(
            "SELECT user_id, purpose, expires_at, payload FROM access_tokens"
            " WHERE token_digest = ?",
            (digest,),
        ).fetchone()
        if row is None or (purposes is not None and row[1] not in purposes):
            return None
        self._conn.execute("DELETE FROM access_tokens WHERE token_digest = ?", (digest,))
        if row[2] <= now:
            return None
        return str(row[0]), str(row[1]), row[3]

    def delete_access_tokens(self, user_id: str, purpose: str) -> None:
        """Delete the user's access tokens for ``purpose`` (older links of that kind)."""
        self._conn.execute(
            "DELETE FROM access_tokens WHERE user_id = ? AND purpose = ?", (user_id, purpose)
        )

    # --- one-time codes ------------------------------------------------------------------

    def put_code(
        self,
        recipient: str,
        purpose: str,
        user_id: str,
        salt: str,
        digest: str,
        attempts: int,
        expires_at: float,
        payload: str | None = None,
    ) -> None:
        """Store the code for (``recipient``, ``purpose``), replacing an earlier one."""
        self._conn.execute(
            "INSERT OR REPLACE INTO codes (recipient, purpose, user_id, salt, code_digest,"
            " attempts_left, expires_at, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (recipient, purpose, user_id, salt, digest, attempts, expires_at, payload),
        )

    def code(self, recipient: str, purpose: str) -> StoredCode | None:
        """The code row for (``recipient``, ``purpose``), or None."""
        row = self._conn.execute(
            "SELECT user_id, salt, code_digest, attempts_left, expires_at, payload FROM codes"
            " WHERE recipient = ? AND purpose = ?",
            (recipient, purpose),
        ).fetchone()
        if row is None:
            return None
        return str(row[0]), str(row[1]), row[2], int(row[3]), float(row[4]), row[5]

    def spend_attempt(self, recipient: str, purpose: str, left: int) -> None:
        """Record a wrong try: ``left`` attempts remain; at 0 the code is burnt."""
        self._conn.execute(
            "UPDATE codes SET attempts_left = ?1,"
            " code_digest = CASE WHEN ?1 <= 0 THEN NULL ELSE code_digest END"
            " WHERE recipient = ?2 AND purpose = ?3",
            (left, recipient, purpose),
        )

    def delete_code(self, recipient: str, purpose: str) -> None:
        """Delete the code for (``recipient``, ``purpose``)."""
        self._conn.execute(
            "DELETE FROM codes WHERE recipient = ? AND purpose = ?", (recipient, purpose)
        )

    def delete_codes(self, user_id: str, purpose: str) -> None:
        """Delete the user's codes for ``purpose``, whatever number they went to."""
        self._conn.execute(
            "DELETE FROM codes WHERE user_id = ? AND purpose = ?", (user_id, purpose)
        )

    def delete_pending_changes(self, user_id: str) -> None:
        """Delete what would still change the user's address or number: email-change links
        and phone-change codes (a ``phone_verification`` code carrying the new number)."""
        self._conn.execute(
            "DELETE FROM access_tokens WHERE user_id = ? AND purpose = 'email_change'",
            (user_id,),
        )
        self._conn.execute(
            "DELETE FROM codes WHERE user_id = ? AND purpose = 'phone_verification'"
            " AND payload IS NOT NULL",
            (user_id,),
        )

    # --- tries at codes that are not stored ---------------------------------------------

    def code_tries(self, recipient: str, purpose: str) -> tuple[int, float] | None:
        """(attempts left, expires at) of the tries counted for (``recipient``, ``purpose``)
        while no code is stored for it, or None."""
        return self._code_tries.get((purpose, recipient))

    def put_code_tries(self, recipient: str, purpose: str, left: int, expires_at: float) -> None:
        """Remember the tries for (``recipient``, ``purpose``); beyond :data:`MAX_CODE_TRIES`
        pairs, the least recently touched one is forgotten. Kept in memory, not in the
        file (and so not undone by a :meth:`rehearsal`)."""
        key = (purpose, recipient)
        self._code_tries[key] = (left, expires_at)
        self._code_tries.move_to_end(key)
        while len(self._code_tries) > MAX_CODE_TRIES:
            self._code_tries.popitem(last=False)

    def forget_code_tries(self, recipient: str, purpose: str) -> None:
        """Forget the tries for (``recipient``, ``purpose``): a real code replaces them."""
        self._code_tries.pop((purpose, recipient), None)

    # --- outbox --------------------------------------------------------------------------

    def insert_message(self, doc: dict[str, Any], *, keep: int) -> dict[str, Any]:
        """Record a message as "sent", keeping only the newest ``keep`` messages; returns it
        with its ``id``."""
        cursor = self._conn.execute(
            "INSERT INTO outbox (doc, recipient, kind) VALUES ('{}', ?, ?)",
            (doc["recipient"], doc["kind"]),
        )
        row_id = cursor.lastrowid
        assert row_id is not None  # just inserted
        stored = {"id": row_id, **doc}
        self._conn.execute("UPDATE outbox SET doc = ? WHERE id = ?", (json.dumps(stored), row_id))
        # Ids only grow (AUTOINCREMENT) and rows go only oldest first or all at once, so the
        # kept ones are the last ``keep`` ids: one range delete on the key, not a table scan.
        self._conn.execute("DELETE FROM outbox WHERE id <= ?", (row_id - keep,))
        return stored

    def messages(
        self, *, recipient: str | None = None, kind: str | None = None
    ) -> list[dict[str, Any]]:
        """The outbox, oldest first; ``recipient`` matches case-insensitively."""
        rows = self._conn.execute(
            "SELECT doc FROM outbox WHERE (?1 IS NULL OR lower(recipient) = lower(?1))"
            " AND (?2 IS NULL OR kind = ?2) ORDER BY id",
            (recipient, kind),
        ).fetchall()
        return [_loads(row[0]) for row in rows]

    def clear_messages(self) -> None:
        """Empty the outbox."""
        self._conn.execute("DELETE FROM outbox")

    # --- settings ------------------------------------------------------------------------

    def development_client_key(self, candidate: str) -> str:
        """The stored development client key; if there is none, ``candidate``, now stored."""
        with self.transaction():
            row = self._conn.execute(
                "SELECT value FROM settings WHERE name = ?", (_DEV_CLIENT_KEY,)
            ).fetchone()
            if row is not None and str(row[0]).strip():
                return str(row[0])
            self._conn.execute(
                "INSERT OR REPLACE INTO settings (name, value) VALUES (?, ?)",
                (_DEV_CLIENT_KEY, candidate),
            )
            return candidate

    # --- everything ----------------------------------------------------------------------

    def reset(self) -> None:
        """Delete every user, session, access token, code and message; the schema stays."""
        self._highest_cost_known = False
        self._code_tries.clear()
        with self.transaction():
            for table in ("codes", "access_tokens", "sessions", "outbox", "users"):
                # Table names come from the literal tuple above, never from input.
                self._conn.execute(f"DELETE FROM {table}")


class Busy(enum.Enum):
    """The type of :data:`BUSY`."""

    BUSY = "busy"


#: What :meth:`DatabaseThread.read_now` returns when another call holds the database.
BUSY = Busy.BUSY


class DatabaseThread:
    """Runs a :class:`Database` on one dedicated thread, for async code.

    ``await db.run(fn, *args)`` calls ``fn(database, *args)`` on that thread and awaits the
    result, so the event loop keeps serving while SQLite works, and since one lock guards
    every call, each call sees the database to itself. A short read (:data:`QUICK_READS`:
    one indexed lookup, such as the session of every authenticated request) runs on the
    caller's thread instead when no other call holds the database: two thread hops per
    request, and the GIL passed back and forth for each, cost more than the query.
    """

    def __init__(self, path: str) -> None:
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="agnost-emulator-db"
        )
        self._lock = threading.Lock()
        # The connection is made on the thread that will use it.
        try:
            self._db = self._executor.submit(Database, path).result()
        except BaseException:
            self._executor.shutdown(wait=True)
            raise

    async def run(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run ``fn(database, *args, **kwargs)`` on the database thread and return its result."""
        if fn in QUICK_READS and self._lock.acquire(blocking=False):
            try:
                return fn(self._db, *args, **kwargs)
            finally:
                self._lock.release()
        return await self._on_thread(fn, *args, **kwargs)

    def read_now(self, fn: Callable[..., T], /, *args: Any) -> T | Busy:
        """``fn(database, *args)`` for a quick read (:data:`QUICK_READS`) on the caller's
        thread if no other call holds the database, else :data:`BUSY` (then ``await
        run(fn, *args)``): :meth:`run` without a coroutine, for the hottest requests."""
        if fn not in QUICK_READS:
            raise ValueError(f"{fn!r} is not a quick read")
        if not self._lock.acquire(blocking=False):
            return BUSY
        try:
            return fn(self._db, *args)
        finally:
            self._lock.release()

    async def _on_thread(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, functools.partial(self._locked, fn, *args, **kwargs)
        )

    def call(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Like :meth:`run`, for code that is not on an event loop: blocks until done."""
        return self._executor.submit(self._locked, fn, *args, **kwargs).result()

    def _locked(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        with self._lock:
            return fn(self._db, *args, **kwargs)

    def close(self) -> None:
        """Close the connection and stop the thread, after the calls already queued."""
        self._executor.submit(self._db.close).result()
        self._executor.shutdown(wait=True)


#: Calls :meth:`DatabaseThread.run` may make on the event loop's thread when the database is
#: free: single indexed reads (``live_session`` deletes an expired session on the way, one
#: row by its key).
QUICK_READS: frozenset[Callable[..., Any]] = frozenset(
    {
        Database.live_session,
        Database.live_session_row,
        Database.caller_sessions,
        Database.live_sessions,
        Database.live_session_texts,
        Database.user_by_id,
        Database.session_owner,
    }
)
