"""What serving many users through scopes costs: requests per second through a fresh scope per
request (``app.scope(token).endpoint.get(...)``) next to one reused signed-in client, in both
flavours, against one local server in its own process; and microseconds to make a scope (from
a token, from a ``Session``).

Run with ``pytest tests/benchmarks/bench_scopes.py -m benchmark -s``. Rounds are interleaved;
medians, requests per second and ratios are printed, not asserted (they depend on the
machine). The target for the scope / reused ratio of requests per second is >= 0.95.
"""

from __future__ import annotations

import asyncio
import statistics
import timeit
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import agnost
import agnost_async
from tests import samples
from tests.benchmarks._canned import (
    async_loop,
    canned_json_server,
    interleaved,
    report,
    sync_loop,
)

ROUNDS = 25
CALLS = 100  # per variant per round
TOKEN = "tok-bench-0123456789abcdef"
CLIENT_KEY = "bench-client-key"
PREFIX = "/e:bench"
PATH = "/me"
ME = {"_id": "u-7", "email": "ada@example.com"}


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with canned_json_server(PREFIX + PATH, ME) as url:
        yield url


def _store() -> agnost.MemoryStore:
    return agnost.MemoryStore(session={**samples.SESSION, "token": TOKEN}, user=samples.USER)


@pytest.mark.benchmark
def test_a_scope_per_request_serves_as_fast_as_one_reused_client(base_url: str) -> None:
    env_url = base_url + PREFIX
    loop = asyncio.new_event_loop()
    reused = agnost.create_client(env_url, CLIENT_KEY, storage=_store())
    app = agnost.create_client(env_url, CLIENT_KEY, stateless=True)
    areused = agnost_async.create_client(env_url, CLIENT_KEY, storage=_store())
    aapp = agnost_async.create_client(env_url, CLIENT_KEY, stateless=True)

    def sync_reused() -> Any:
        return reused.endpoint.get(PATH)

    def sync_scope() -> Any:
        return app.scope(TOKEN).endpoint.get(PATH)

    async def async_reused() -> Any:
        return await areused.endpoint.get(PATH)

    async def async_scope() -> Any:
        return await aapp.scope(TOKEN).endpoint.get(PATH)

    try:
        # Real checks first: the canned server answers 401 to a request without a session.
        assert sync_reused() == sync_scope() == ME
        assert loop.run_until_complete(async_reused()) == ME
        assert loop.run_until_complete(async_scope()) == ME
        with pytest.raises(agnost.MissingSessionTokenError):
            app.endpoint.get(PATH)

        variants: dict[str, Callable[[], object]] = {
            "sync reused client": sync_loop(sync_reused, CALLS),
            "sync scope per request": sync_loop(sync_scope, CALLS),
            "async reused client": async_loop(loop, async_reused, CALLS),
            "async scope per request": async_loop(loop, async_scope, CALLS),
        }
        for run in variants.values():
            run()  # warm up: connections open, code paths hot
        times = interleaved(variants, ROUNDS, CALLS)
        medians = report(
            f"endpoint.get, {ROUNDS} interleaved rounds x {CALLS} calls, one scope per call",
            times,
        )
        for flavour in ("sync", "async"):
            reused_rps = 1 / medians[f"{flavour} reused client"]
            scope_rps = 1 / medians[f"{flavour} scope per request"]
            print(
                f"{flavour:<5} requests/s: reused {reused_rps:8.0f}, scope per request"
                f" {scope_rps:8.0f}, ratio {scope_rps / reused_rps:.3f} (target >= 0.95)"
            )

        session = agnost.from_wire(agnost.Session, {**samples.SESSION, "token": TOKEN})
        makers: dict[str, Callable[[], object]] = {
            "sync scope(token)": lambda: app.scope(TOKEN),
            "sync scope(Session)": lambda: app.scope(session),
            "async scope(token)": lambda: aapp.scope(TOKEN),
            "async scope(Session)": lambda: aapp.scope(session),
        }
        number = 20_000
        print(f"\nmaking a scope, median of 7 runs x {number}")
        for name, make in makers.items():
            runs = timeit.repeat(make, number=number, repeat=7)
            print(f"{name:<24}{statistics.median(runs) / number * 1e6:>8.2f} us")
    finally:
        reused.close()
        app.close()
        loop.run_until_complete(areused.aclose())
        loop.run_until_complete(aapp.aclose())
        loop.close()
