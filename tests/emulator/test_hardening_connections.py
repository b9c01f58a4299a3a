"""Slow and idle connections time out, open connections are capped, and running out of file
descriptors is logged at a bounded rate (issue 8, item 15). Real sockets throughout.

Timeouts are set short here; the bounds asserted are many times the timeout, only to show
that a connection that used to be held forever is closed.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agnost.emulator import Emulator

from .conftest import closed_by_server, connect, read_answer

ROOT = Path(__file__).resolve().parents[2]
#: Far beyond every timeout set below, far below "never".
BOUND = 5.0

GET_INDEX = b"GET /_emulator/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(
        hash_cost=4, header_timeout=0.3, body_timeout=0.3, idle_timeout=0.6, max_connections=3
    ) as emu:
        yield emu


def test_a_slowloris_is_closed_after_the_header_timeout() -> None:
    # Idle timeout far away: only the header timeout can end this connection.
    with Emulator(hash_cost=4, header_timeout=0.3, idle_timeout=60) as emu:
        conn = connect(emu, timeout=0.1)
        conn.sendall(b"GET /_emulator/ HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        start = time.monotonic()
        closed = False
        while not closed and time.monotonic() - start < BOUND:
            try:
                conn.sendall(b"X-Slow: 1\r\n")  # one header line every 0.1 s, never the end
            except OSError:
                closed = True
                break
            closed = closed_by_server(conn)
        conn.close()
    assert closed, "the connection trickling its head was never closed"
    assert time.monotonic() - start < BOUND


def test_an_idle_keep_alive_connection_is_closed(emulator: Emulator) -> None:
    with connect(emulator, timeout=BOUND) as conn:
        conn.sendall(GET_INDEX)
        status, headers, _ = read_answer(conn)
        assert status == 200 and headers.get("connection", "").lower() != "close"
        start = time.monotonic()
        assert closed_by_server(conn)
        assert time.monotonic() - start < BOUND


def test_a_connection_that_never_sends_is_closed(emulator: Emulator) -> None:
    with connect(emulator, timeout=BOUND) as conn:
        start = time.monotonic()
        assert closed_by_server(conn)
        assert time.monotonic() - start < BOUND


def test_a_slow_body_gets_a_408_and_the_connection_closes(emulator: Emulator) -> None:
    with connect(emulator, timeout=BOUND) as conn:
        conn.sendall(
            b"POST /_api/rest/v1/auth/signin-email HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            + b"X-Client-Key: "
            + emulator.client_key.encode()
            + b'\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"email": '
        )
        start = time.monotonic()
        status, headers, body = read_answer(conn)
        assert status == 408 and headers["connection"].lower() == "close"
        assert json.loads(body)["errors"][0]["code"] == "request_timeout"
        assert closed_by_server(conn)
        assert time.monotonic() - start < BOUND


def test_past_the_cap_new_connections_are_refused_and_open_ones_work() -> None:
    # Every open connection is busy (a head under way): none can make room (an idle one
    # would, see test_review_fixes_connections.py).
    head = b"GET /_emulator/ HTTP/1.1\r\n"
    with (
        Emulator(hash_cost=4, header_timeout=30, max_connections=3) as emulator,
        connect(emulator) as working,
        connect(emulator) as second,
        connect(emulator) as third,
    ):
        working.sendall(GET_INDEX)
        assert read_answer(working)[0] == 200
        for conn in (working, second, third):
            conn.sendall(head)
        time.sleep(0.2)  # for the server to read them before the next connection comes

        with connect(emulator) as fourth:
            start = time.monotonic()
            status, _, body = read_answer(fourth)
            assert status == 503
            assert json.loads(body)["errors"][0]["code"] == "too_many_connections"
            assert closed_by_server(fourth)
            assert time.monotonic() - start < BOUND

        working.sendall(b"Host: 127.0.0.1\r\n\r\n")
        assert read_answer(working)[0] == 200
        working.sendall(head)
        second.close()
        # Once the server has seen one close, a new connection is served again.
        deadline = time.monotonic() + BOUND
        while True:
            with connect(emulator) as again:
                again.sendall(GET_INDEX)
                if read_answer(again)[0] == 200:
                    break
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert third.fileno() != -1


def _limit_open_files() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(64, soft), hard))


def test_running_out_of_file_descriptors_logs_a_few_lines_and_recovers() -> None:
    """An emulator limited to 64 open files, with a cap above that: flooding it with
    connections makes accept() fail, which must be logged in a bounded number of lines
    without tracebacks; once the flood ends, it serves again."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "agnost.emulator", "--port", "0", "--db", ":memory:"]
    command += ["--max-connections", "5000", "--hash-cost", "4"]
    process = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_limit_open_files,
    )
    flood: list[socket.socket] = []
    stderr_lines: list[str] = []
    try:
        assert process.stdout is not None and process.stderr is not None
        reader = threading.Thread(target=lambda: stderr_lines.extend(process.stderr), daemon=True)
        reader.start()
        first = process.stdout.readline()
        assert "running at" in first, first
        url = first.split("running at", 1)[1].strip()
        host, port = url.removeprefix("http://").rsplit(":", 1)
        address = (host, int(port))

        for _ in range(100):
            flood.append(socket.create_connection(address, timeout=5))
        time.sleep(2.5)  # several of asyncio's one-second accept retries
        for conn in flood:
            conn.close()
        flood.clear()

        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(address, timeout=5) as conn:
                    conn.sendall(b"GET /_emulator/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                    if read_answer(conn)[0] == 200:
                        break
            except ConnectionError:
                pass
            assert time.monotonic() < deadline, "the emulator did not recover"
            time.sleep(0.2)
    finally:
        for conn in flood:
            conn.close()
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    reader.join(timeout=10)
    reports = [line for line in stderr_lines if "cannot accept connections" in line]
    assert 1 <= len(reports) <= 2, stderr_lines[:20]
    assert "Too many open files" in reports[0]
    assert not any("Traceback" in line for line in stderr_lines)
    assert len(stderr_lines) < 40, stderr_lines[:40]
