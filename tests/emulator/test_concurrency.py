"""50 concurrent sign-ins and session listings through the async client: no failure, and no
"database is locked", because one thread owns the one connection."""

from __future__ import annotations

import asyncio
import logging

import pytest

import agnost_async
from agnost.emulator import Emulator

from .conftest import PASSWORD, Api

USERS = 5
CONCURRENT = 50


async def test_fifty_concurrent_sign_ins_and_listings(
    agnost_emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    api = Api(agnost_emulator)
    emails = [f"user{n}@example.com" for n in range(USERS)]
    for email in emails:
        api.sign_up(email)

    async def sign_in_and_list(n: int) -> tuple[str, int, str]:
        async with agnost_async.create_client(
            agnost_emulator.base_url,
            agnost_emulator.client_key,
            storage=agnost_async.MemoryStore(),
        ) as client:
            grant = await client.auth.sign_in_with_email(emails[n % USERS], PASSWORD)
            sessions = await client.auth.get_all_sessions()
            return grant.user.email or "", len(sessions), grant.session.token

    results = await asyncio.gather(*(sign_in_and_list(n) for n in range(CONCURRENT)))

    assert [email for email, _, _ in results] == [emails[n % USERS] for n in range(CONCURRENT)]
    assert len({token for _, _, token in results}) == CONCURRENT
    # Each listing saw at least its own session; at the end every user has all of theirs.
    assert all(1 <= listed <= CONCURRENT // USERS + 1 for _, listed, _ in results)
    for email in emails:
        token = api.sign_in(email)
        assert len(api.get("/sessions", token=token).json()) == CONCURRENT // USERS + 2
    problems = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert problems == [] and "locked" not in caplog.text
