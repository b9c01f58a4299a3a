"""What ``client.endpoint`` costs over its HTTP library: ``endpoint.get`` of a small JSON object
through ``agnost.Client`` next to raw ``requests`` and through ``agnost_async.AsyncClient`` next
to raw ``aiohttp`` (request with the same headers plus JSON decode), against one local server
in its own process.

Run with ``pytest tests/benchmarks/bench_endpoint.py -m benchmark -s``. Rounds of the four
variants are interleaved in one run; medians and ratios are printed, not asserted (they
depend on the machine).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import aiohttp
import pytest
import requests

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
PATH = "/orders/7"
QUERY = {"expand": "items", "v": 2}
ORDER = {"_id": "7", "status": "paid", "total": 12.5, "items": [{"sku": "a-1", "n": 2}]}


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with canned_json_server(PREFIX + PATH, ORDER) as url:
        yield url


def _store() -> agnost.MemoryStore:
    return agnost.MemoryStore(session={**samples.SESSION, "token": TOKEN}, user=samples.USER)


def _headers(user_agent: str) -> dict[str, str]:
    """What agnost sends, for the raw variants to send too."""
    return {
        "User-Agent": user_agent,
        "X-Client": "agnost-python",
        "X-Client-Key": CLIENT_KEY,
        "Session": TOKEN,
    }


@pytest.mark.benchmark
def test_endpoint_get_costs_little_over_the_raw_http_libraries(base_url: str) -> None:
    env_url = base_url + PREFIX
    url = base_url + PREFIX + PATH
    loop = asyncio.new_event_loop()
    client = agnost.create_client(env_url, CLIENT_KEY, storage=_store())
    aclient = agnost_async.create_client(env_url, CLIENT_KEY, storage=_store())
    raw = requests.Session()
    raw_headers = _headers("raw-requests")
    raw_async_headers = _headers("raw-aiohttp")

    async def open_raw_async() -> aiohttp.ClientSession:
        return aiohttp.ClientSession()

    araw = loop.run_until_complete(open_raw_async())

    def sync_agnost() -> Any:
        return client.endpoint.get(PATH, params=QUERY)

    def sync_raw() -> Any:
        return raw.get(url, params=QUERY, headers=raw_headers).json()

    async def async_agnost() -> Any:
        return await aclient.endpoint.get(PATH, params=QUERY)

    async def async_raw() -> Any:
        async with araw.get(url, params=QUERY, headers=raw_async_headers) as answer:
            return await answer.json()

    try:
        # Real checks first: each variant gets the same order, so each sent the session.
        assert sync_agnost() == sync_raw() == ORDER
        assert loop.run_until_complete(async_agnost()) == ORDER
        assert loop.run_until_complete(async_raw()) == ORDER

        variants: dict[str, Callable[[], object]] = {
            "agnost.Client": sync_loop(sync_agnost, CALLS),
            "raw requests": sync_loop(sync_raw, CALLS),
            "agnost_async.AsyncClient": async_loop(loop, async_agnost, CALLS),
            "raw aiohttp": async_loop(loop, async_raw, CALLS),
        }
        for run in variants.values():
            run()  # warm up: connections open, code paths hot
        times = interleaved(variants, ROUNDS, CALLS)
        medians = report(
            f"endpoint.get of a small JSON object, {ROUNDS} interleaved rounds x {CALLS} calls",
            times,
        )
        sync_ratio = medians["agnost.Client"] / medians["raw requests"]
        async_ratio = medians["agnost_async.AsyncClient"] / medians["raw aiohttp"]
        print(f"sync  ratio agnost / requests: {sync_ratio:.3f}")
        print(f"async ratio agnost / aiohttp:  {async_ratio:.3f}")
    finally:
        client.close()
        raw.close()
        loop.run_until_complete(aclient.aclose())
        loop.run_until_complete(araw.close())
        loop.close()
