"""How fast the emulator is: in-process start to first answer, authenticated
``get_all_sessions`` requests per second through the async client, and (issue 12) the
emulator's authenticated ``GET /sessions`` against a bare aiohttp.web hello-world.

Run with ``pytest tests/benchmarks/bench_emulator.py -m benchmark -s``; figures are printed,
not asserted (they depend on the machine).

The server comparison runs each server in its own process (``agnost emulator``, once at the
default ``--log-level info`` and once at ``warning``, and a hello-world on aiohttp.web) and
drives them from this process with a minimal HTTP/1.1 client on raw sockets (keep-alive, 16
connections), so the client costs little next to the servers. The rounds are interleaved
(hello, info, warning, hello, ...) and the table gives medians with their range. Targets:
emulator >= 0.5x hello-world, info logging within 5% of warning-only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

import agnost
import agnost_async
from agnost.emulator import Emulator

STARTS = 30
REQUESTS = 2000
IN_FLIGHT = 16
#: Server comparison: requests per round and server, interleaved rounds. A round is long
#: enough for the servers' CPU time (counted in 10 ms ticks) to resolve about 1 us per
#: request, and there are enough rounds for a median on a machine other jobs share.
ROUND_REQUESTS = 8000
ROUNDS = 7
CLIENT_KEY = "bench-client-key"

_HELLO = """
import sys
from aiohttp import web

async def hello(request):
    return web.Response(text="Hello, world")

app = web.Application()
app.router.add_get("/", hello)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
"""


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


# --- the emulator against a bare aiohttp.web hello-world ---------------------------------


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(port: int, process: subprocess.Popen[bytes]) -> None:
    import socket

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError("server did not start")


@contextlib.contextmanager
def _server(command: list[str], port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=sink)
        try:
            _wait_for(port, process)
            yield process
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _emulator(
    port: int, level: str, log: Path
) -> contextlib.AbstractContextManager[subprocess.Popen[bytes]]:
    command = [sys.executable, "-m", "agnost", "emulator", "--ephemeral", "--port", str(port)]
    command += ["--client-key", CLIENT_KEY, "--log-level", level]
    return _server(command, port, log)


def _session_token(port: int) -> str:
    client = agnost.create_client(
        f"http://127.0.0.1:{port}", CLIENT_KEY, storage=agnost.MemoryStore()
    )
    client.auth.sign_up_with_email("bench@example.com", "correct horse battery")
    for _ in range(4):  # a handful of sessions to list, as a real user has
        client.auth.sign_in_with_email("bench@example.com", "correct horse battery")
    session = client.auth.get_session()
    assert session is not None
    return session.token


async def _load(port: int, request: bytes, total: int, connections: int) -> float:
    """Requests per second of ``request`` sent ``total`` times over ``connections``
    keep-alive connections, each waiting for its answer before the next request."""
    each = total // connections

    async def one() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for _ in range(each):
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                if not head.startswith(b"HTTP/1.1 200"):
                    raise RuntimeError(head[:200].decode(errors="replace"))
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                await reader.readexactly(length)
        finally:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(connections)))
    return each * connections / (time.perf_counter() - start)


def _get(path: str, port: int, headers: dict[str, str]) -> bytes:
    lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _cpu_seconds(pid: int) -> float:
    """The process's user + system CPU time so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):6.2f} ({min(values):.2f}-{max(values):.2f})"


@pytest.mark.benchmark
def test_emulator_sessions_against_a_bare_aiohttp_hello_world() -> None:
    ports = {"hello": _free_port(), "info": _free_port(), "warning": _free_port()}
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        logs = Path(tmp)
        hello = [sys.executable, "-c", _HELLO, str(ports["hello"])]
        pids = {"hello": stack.enter_context(_server(hello, ports["hello"], logs / "h.log")).pid}
        for level in ("info", "warning"):
            server = stack.enter_context(_emulator(ports[level], level, logs / f"{level}.log"))
            pids[level] = server.pid
        requests_by = {"hello": _get("/", ports["hello"], {})}
        for level in ("info", "warning"):
            token = _session_token(ports[level])
            headers = {"X-Client-Key": CLIENT_KEY, "Session": token, "X-Client": "bench"}
            requests_by[level] = _get("/_api/rest/v1/auth/sessions", ports[level], headers)
        rates: dict[str, list[float]] = {name: [] for name in ports}
        # The server's CPU time per request: steadier than the rate on a shared machine.
        cpu: dict[str, list[float]] = {name: [] for name in ports}
        for name in ports:  # warm up
            asyncio.run(_load(ports[name], requests_by[name], ROUND_REQUESTS // 4, IN_FLIGHT))
        for _ in range(ROUNDS):
            for name in ports:
                before = _cpu_seconds(pids[name])
                rate = asyncio.run(
                    _load(ports[name], requests_by[name], ROUND_REQUESTS, IN_FLIGHT)
                )
                rates[name].append(rate)
                cpu[name].append((_cpu_seconds(pids[name]) - before) / ROUND_REQUESTS * 1e6)
        info_lines = sum(1 for _ in (logs / "info.log").open("rb"))
    ratio = [e / h for e, h in zip(rates["info"], rates["hello"], strict=True)]
    quiet_ratio = [e / h for e, h in zip(rates["warning"], rates["hello"], strict=True)]
    logging_cost = [i / w for i, w in zip(rates["info"], rates["warning"], strict=True)]
    cpu_ratio = [h / e for e, h in zip(cpu["info"], cpu["hello"], strict=True)]
    cpu_quiet = [h / e for e, h in zip(cpu["warning"], cpu["hello"], strict=True)]
    cpu_logging = [w / i for i, w in zip(cpu["info"], cpu["warning"], strict=True)]
    print(
        f"\nauthenticated GET /sessions (5 sessions) vs aiohttp.web hello-world, "
        f"{IN_FLIGHT} connections, {ROUNDS} interleaved rounds of {ROUND_REQUESTS}; "
        f"median (min-max), cpus={os.cpu_count()}"
    )
    for name in ports:
        print(f"  {name:<8} req/s {_spread(rates[name])}   server CPU us/req {_spread(cpu[name])}")
    print(f"  emulator (log info) / hello-world:    {_spread(ratio)}  (target >= 0.5)")
    print(f"  emulator (log warning) / hello-world: {_spread(quiet_ratio)}")
    print(f"  log info / log warning:               {_spread(logging_cost)}  (target >= 0.95)")
    print("  the same from the servers' CPU time per request (hello CPU / emulator CPU):")
    print(f"  emulator (log info) / hello-world:    {_spread(cpu_ratio)}")
    print(f"  emulator (log warning) / hello-world: {_spread(cpu_quiet)}")
    print(f"  log info / log warning:               {_spread(cpu_logging)}")
    print(f"  (access log lines written at info: {info_lines})")
    json.dumps(rates)  # the figures stay plain numbers
