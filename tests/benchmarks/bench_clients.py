"""What the clients cost over their HTTP libraries: ``get_all_sessions`` through
``agnost.Client`` next to raw ``requests`` and through ``agnost_async.AsyncClient`` next to raw
``aiohttp`` (request plus JSON decode), against one local server in its own process; and the
``python -X importtime`` totals of the four packages.

Run with ``pytest tests/benchmarks/bench_clients.py -m benchmark -s``. Rounds of the four
variants are interleaved in one run; medians and ratios are printed, not asserted (they depend
on the machine). Targets (issue 2): sync <= 1.05x raw requests, async <= 1.10x raw aiohttp.
Set ``AGNOST_BENCH_PROFILE=1`` to also print where the sync client's time goes (cProfile).
"""

from __future__ import annotations

import asyncio
import cProfile
import io
import json
import os
import pstats
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import aiohttp
import pytest
import requests

import agnost
import agnost_async
from agnost._core.http import Response
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
WARM_UP = 50
IMPORT_RUNS = 7

TOKEN = "tok-bench-0123456789abcdef"
CLIENT_KEY = "bench-client-key"
PATH = "/e:bench/_api/rest/v1/auth/sessions"


def _session(i: int) -> dict[str, Any]:
    return {
        **samples.SESSION,
        "token": f"{TOKEN}-{i}",
        "creationDtm": f"2022-03-17T13:17:5{i}.903Z",
    }


SESSIONS = [_session(i) for i in range(3)]


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with canned_json_server(PATH, SESSIONS) as url:
        yield url


def _store() -> agnost.MemoryStore:
    return agnost.MemoryStore(session=SESSIONS[0], user={"_id": "6233247fb46a9b5bb144e797"})


def _headers(user_agent: str) -> dict[str, str]:
    """What agnost sends, for the raw variants to send too."""
    return {
        "User-Agent": user_agent,
        "X-Client": "agnost-python",
        "X-Client-Key": CLIENT_KEY,
        "Session": TOKEN + "-0",
    }


@pytest.mark.benchmark
def test_get_all_sessions_costs_little_over_the_raw_http_libraries(base_url: str) -> None:
    env_url = base_url + "/e:bench"
    url = base_url + PATH
    loop = asyncio.new_event_loop()
    client = agnost.create_client(env_url, CLIENT_KEY, storage=_store())
    raw = requests.Session()
    raw_headers = _headers(f"agnost-python/{agnost.__version__} raw-requests")
    aclient = agnost_async.create_client(env_url, CLIENT_KEY, storage=_store())
    raw_async_headers = _headers(f"agnost-python/{agnost.__version__} raw-aiohttp")

    async def open_raw_async() -> aiohttp.ClientSession:
        return aiohttp.ClientSession()

    araw = loop.run_until_complete(open_raw_async())

    def sync_agnost() -> list[agnost.Session]:
        return client.auth.get_all_sessions()

    def sync_raw() -> Any:
        return raw.get(url, headers=raw_headers).json()

    async def async_agnost() -> list[agnost.Session]:
        return await aclient.auth.get_all_sessions()

    async def async_raw() -> Any:
        async with araw.get(url, headers=raw_async_headers) as answer:
            return await answer.json()

    try:
        # Real checks first: each variant gets the same sessions.
        expected = [agnost.from_wire(agnost.Session, s) for s in SESSIONS]
        assert sync_agnost() == expected
        assert [agnost.from_wire(agnost.Session, s) for s in sync_raw()] == expected
        assert loop.run_until_complete(async_agnost()) == expected
        raw_async_result = loop.run_until_complete(async_raw())
        assert [agnost.from_wire(agnost.Session, s) for s in raw_async_result] == expected

        variants: dict[str, Callable[[], object]] = {
            "agnost.Client": sync_loop(sync_agnost, CALLS),
            "raw requests": sync_loop(sync_raw, CALLS),
            "agnost_async.AsyncClient": async_loop(loop, async_agnost, CALLS),
            "raw aiohttp": async_loop(loop, async_raw, CALLS),
        }
        for run in variants.values():
            for _ in range(max(1, WARM_UP // CALLS)):
                run()
        times = interleaved(variants, ROUNDS, CALLS)
        medians = report(
            f"get_all_sessions, 3 sessions, {ROUNDS} interleaved rounds x {CALLS} calls", times
        )
        sync_ratio = medians["agnost.Client"] / medians["raw requests"]
        async_ratio = medians["agnost_async.AsyncClient"] / medians["raw aiohttp"]
        print(f"sync  ratio agnost / requests: {sync_ratio:.3f}  (target <= 1.05)")
        print(f"async ratio agnost / aiohttp:  {async_ratio:.3f}  (target <= 1.10)")
        print(f"agnost's own work per call, no network: {_own_work_us(env_url):.1f} us")

        if os.environ.get("AGNOST_BENCH_PROFILE"):
            _profile("agnost.Client.auth.get_all_sessions", variants["agnost.Client"])
            _profile("agnost_async get_all_sessions", variants["agnost_async.AsyncClient"])
    finally:
        client.close()
        raw.close()
        loop.run_until_complete(aclient.aclose())
        loop.run_until_complete(araw.close())
        loop.close()


def _own_work_us(env_url: str) -> float:
    """The sync client's time per call with a transport that answers from memory: what
    agnost adds (request building, JSON decoding, models, local state) without the network."""
    answer = Response(
        200, "OK", {"Content-Type": "application/json"}, json.dumps(SESSIONS).encode()
    )

    class Canned:
        def send(self, request: object) -> Response:
            return answer

        def close(self) -> None:
            pass

    client = agnost.create_client(env_url, CLIENT_KEY, storage=_store())
    client._transport = Canned()  # type: ignore[assignment]
    runs = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for _ in range(CALLS):
            client.auth.get_all_sessions()
        runs.append((time.perf_counter() - start) / CALLS * 1e6)
    return statistics.median(runs)


def _profile(title: str, run: Callable[[], object]) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(5):
        run()
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).sort_stats("cumulative")
    stats.print_stats(r"agnost|cattrs|attrs|requests|urllib3|aiohttp", 25)
    print(f"\n--- profile: {title} ---\n{out.getvalue()}")


# --- import time -------------------------------------------------------------------------------

_LINE = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|( *)(\S+)\s*$")


def _top_level(code: str) -> dict[str, int]:
    """Top-level imports of a fresh interpreter running ``code``: name -> cumulative us."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    found: dict[str, int] = {}
    for line in done.stderr.splitlines():
        match = _LINE.match(line)
        if match and match.group(3) == " ":  # one space: a top-level import, not a nested one
            found[match.group(4)] = found.get(match.group(4), 0) + int(match.group(2))
    return found


def import_time_us(module: str) -> int:
    """The median over fresh interpreters of the summed cumulative time of the top-level
    imports ``import <module>`` triggers (the interpreter's own start-up imports excluded)."""
    startup = set(_top_level("pass"))
    totals = []
    for _ in range(IMPORT_RUNS):
        lines = _top_level(f"import {module}")
        totals.append(sum(us for name, us in lines.items() if name not in startup))
    return int(statistics.median(totals))


@pytest.mark.benchmark
def test_import_times() -> None:
    modules = ["agnost", "agnost_async", "requests", "aiohttp"]
    results = {module: import_time_us(module) for module in modules}
    also = {
        "agnost + agnost.create_client": _median_code(
            "import agnost; agnost.create_client", startup=set(_top_level("pass"))
        )
    }

    print(f"\npython -X importtime, median of {IMPORT_RUNS} fresh interpreters")
    for name, us in {**results, **also}.items():
        print(f"import {name:<32}{us / 1000:>8.1f} ms")
    assert all(us > 0 for us in results.values())


def _median_code(code: str, startup: set[str]) -> int:
    totals = []
    for _ in range(IMPORT_RUNS):
        lines = _top_level(code)
        totals.append(sum(us for name, us in lines.items() if name not in startup))
    return int(statistics.median(totals))
