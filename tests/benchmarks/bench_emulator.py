"""How fast the emulator is: in-process start to first answer, and authenticated
``get_all_sessions`` requests per second through the async client.

Run with ``pytest tests/benchmarks/bench_emulator.py -m benchmark -s``; figures are printed,
not asserted (they depend on the machine).
"""

from __future__ import annotations

import asyncio
import statistics
import time

import pytest
import requests

import agnost_async
from agnost.emulator import Emulator

STARTS = 30
REQUESTS = 2000
IN_FLIGHT = 16


@pytest.mark.benchmark
def test_start_to_first_answer() -> None:
    times = []
    with requests.Session() as http:
        for _ in range(STARTS):
            start = time.perf_counter_ns()
            with Emulator(hash_cost=4) as emulator:
                answer = http.get(
                    emulator.base_url + "/_api/rest/v1/auth/sessions",
                    headers={"X-Client-Key": emulator.client_key},
                    timeout=10,
                )
                times.append(time.perf_counter_ns() - start)
            assert answer.status_code == 401  # a real answer: the missing session refused
    ms = sorted(t / 1e6 for t in times)
    print(
        f"\nemulator start to first answer over {STARTS} starts: "
        f"median {statistics.median(ms):.1f} ms, p90 {ms[int(0.9 * len(ms))]:.1f} ms, "
        f"max {ms[-1]:.1f} ms"
    )


@pytest.mark.benchmark
async def test_get_all_sessions_per_second() -> None:
    with Emulator(hash_cost=4) as emulator:
        async with agnost_async.create_client(
            emulator.base_url, emulator.client_key, storage=agnost_async.MemoryStore()
        ) as client:
            await client.auth.sign_up_with_email("bench@example.com", "correct horse")
            for _ in range(4):  # a handful of sessions to list, as a real user has
                await client.auth.sign_in_with_email("bench@example.com", "correct horse")
            await client.auth.get_all_sessions()  # warm up: connection, parser caches

            start = time.perf_counter()
            for _ in range(REQUESTS // 4):
                await client.auth.get_all_sessions()
            sequential = (REQUESTS // 4) / (time.perf_counter() - start)

            async def worker() -> None:
                for _ in range(REQUESTS // IN_FLIGHT):
                    await client.auth.get_all_sessions()

            start = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
            concurrent = (REQUESTS // IN_FLIGHT * IN_FLIGHT) / (time.perf_counter() - start)
    print(
        f"\nasync get_all_sessions (5 sessions listed): {sequential:.0f} req/s one at a time, "
        f"{concurrent:.0f} req/s with {IN_FLIGHT} in flight"
    )
