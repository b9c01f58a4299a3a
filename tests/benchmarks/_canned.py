"""What the client benchmarks share: a canned JSON server (an ``aiohttp.web`` app in its own
process, answering ``GET path`` with one fixed JSON body, keep-alive on, and 401
``missing_session_token`` to a request without a ``Session`` header), and the interleaved
rounds that time agnost next to the raw HTTP libraries, with their table."""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager

# argv: the route's path, then the body as JSON text. Prints the port it listens on.
SERVER = """
import asyncio, sys
from aiohttp import web

PATH, BODY = sys.argv[1], sys.argv[2].encode()

async def answer(request):
    if request.headers.get("Session") is None:
        errors = {"errors": [{"code": "missing_session_token"}]}
        return web.json_response(errors, status=401)
    return web.Response(body=BODY, content_type="application/json")

async def main():
    app = web.Application()
    app.router.add_get(PATH, answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(site._server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


@contextmanager
def canned_json_server(path: str, body: object) -> Iterator[str]:
    """Start the server answering ``GET path`` with ``body``; yield its base URL, then stop it."""
    process = subprocess.Popen(
        [sys.executable, "-c", SERVER, path, json.dumps(body)],
        stdout=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    try:
        assert process.stdout is not None
        yield f"http://127.0.0.1:{int(process.stdout.readline())}"
    finally:
        process.terminate()
        process.wait(10)


def sync_loop(call: Callable[[], object], calls: int) -> Callable[[], object]:
    """A run of ``calls`` blocking calls of ``call``."""

    def run() -> None:
        for _ in range(calls):
            call()

    return run


def async_loop(
    loop: asyncio.AbstractEventLoop, call: Callable[[], Awaitable[object]], calls: int
) -> Callable[[], object]:
    """A run of ``calls`` awaited calls of ``call``, in ``loop``."""

    async def many() -> None:
        for _ in range(calls):
            await call()

    return lambda: loop.run_until_complete(many())


def interleaved(
    variants: Mapping[str, Callable[[], object]], rounds: int, calls: int
) -> dict[str, list[float]]:
    """Seconds per call of each variant's run, in ``rounds`` rounds whose order rotates, so
    that drift in the machine's speed falls on every variant alike."""
    times: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    for round_ in range(rounds):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            start = time.perf_counter()
            variants[name]()
            times[name].append((time.perf_counter() - start) / calls)
    return times


def report(title: str, times: Mapping[str, list[float]]) -> dict[str, float]:
    """Print each variant's median, p10 and p90 in µs per call under ``title``; return the
    medians."""
    medians = {name: statistics.median(values) for name, values in times.items()}
    print(f"\n{title}")
    print(f"{'variant':<28}{'median us/call':>16}{'p10':>10}{'p90':>10}")
    for name, values in times.items():
        deciles = statistics.quantiles(values, n=10)
        print(
            f"{name:<28}{medians[name] * 1e6:>16.1f}"
            f"{deciles[0] * 1e6:>10.1f}{deciles[-1] * 1e6:>10.1f}"
        )
    return medians
