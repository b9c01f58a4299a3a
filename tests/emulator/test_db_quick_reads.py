"""DatabaseThread: short reads run on the caller's thread only while no other call holds the
database, so they never see another call's half-done work (issue 12: two thread hops per
authenticated request cost more than its queries)."""

from __future__ import annotations

import asyncio
import threading

from agnost.emulator.db import QUICK_READS, Database, DatabaseThread

DOC = {"userId": "u1", "createdAt": "2026-01-01T00:00:00Z"}


def _with_user() -> DatabaseThread:
    db = DatabaseThread(":memory:")
    user = {"_id": "u1", "email": "ada@example.com"}
    db.call(
        Database.insert_user,
        user,
        email="ada@example.com",
        phone=None,
        provider="email",
        provider_user_id="ada@example.com",
        password_hash=None,
    )
    return db


async def test_a_quick_read_sees_what_an_earlier_call_wrote() -> None:
    db = _with_user()
    try:
        assert Database.live_session in QUICK_READS
        await db.run(Database.insert_session, "d1", 10.0, DOC)
        assert await db.run(Database.live_session, "d1", 0.0) == DOC
        assert await db.run(Database.live_sessions, "u1", 0.0) == [("d1", DOC)]
        assert await db.run(Database.session_owner, "d1") == "u1"
        # Expired: deleted on the way, as on the database thread.
        assert await db.run(Database.live_session, "d1", 10.0) is None
        assert await db.run(Database.session_owner, "d1") is None
    finally:
        db.close()


async def test_a_quick_read_waits_for_a_call_that_holds_the_database() -> None:
    db = _with_user()
    started = threading.Event()
    proceed = threading.Event()

    def half_done_then_undone(database: Database) -> None:
        with database.transaction():
            database.insert_session("d2", 10.0, DOC)
            started.set()
            proceed.wait(10)
            database.delete_session("d2")

    try:
        long_call = asyncio.ensure_future(db.run(half_done_then_undone))
        await asyncio.to_thread(started.wait, 10)
        read = asyncio.ensure_future(db.run(Database.live_session, "d2", 0.0))
        await asyncio.sleep(0.05)
        assert not read.done()  # it did not run beside the call that holds the database
        proceed.set()
        await long_call
        assert await read is None  # it ran after: never the half-done session
    finally:
        proceed.set()
        db.close()


async def test_concurrent_quick_reads_and_writes_agree() -> None:
    db = _with_user()
    try:

        async def one(i: int) -> None:
            digest = f"d{i}"
            await db.run(Database.insert_session, digest, 10.0, {**DOC, "n": i})
            assert await db.run(Database.live_session, digest, 0.0) == {**DOC, "n": i}
            await db.run(Database.delete_session, digest)
            assert await db.run(Database.live_session, digest, 0.0) is None

        await asyncio.gather(*(one(i) for i in range(50)))
        assert await db.run(Database.live_sessions, "u1", 0.0) == []
    finally:
        db.close()
