"""Review of the emulator's speed changes (issue 12): behaviour that must not have changed.

Each test here was written against a defect found in the changes of 9968c01 and d64084c (the
fused middleware, the moved connection deadlines, the spliced session listing, the direct
access-log path), or against a property those changes could have broken.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from agnost.emulator import Emulator
from agnost.emulator.auth import session_wire
from agnost.emulator.db import Database
from agnost.emulator.logs import BufferedStderr
from agnost.emulator.security import token_digest

from .conftest import AUTH, closed_by_server, connect, read_answer


def test_no_access_line_is_lost_while_the_flushing_thread_drains() -> None:
    """The direct path queues a line from the event loop's thread while the flushing thread
    swaps the queue out and writes it: a line queued into the list being swapped out, after
    the flushing thread made its lines, was dropped."""
    handler = BufferedStderr()
    original = handler.setStream(io.StringIO())
    assert original is not None
    original.close()  # the duplicate of stderr it made
    logger = logging.getLogger("aiohttp.access")
    done = threading.Event()

    def flush_all_the_time() -> None:
        while not done.is_set():
            handler._flush_all()

    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as the interpreter can
    flusher = threading.Thread(target=flush_all_the_time)
    flusher.start()
    count = 400_000
    try:
        for size in range(count):
            handler.write_access(logger, "GET", "/p", 200, size, 0.1)
    finally:
        done.set()
        flusher.join()
        sys.setswitchinterval(previous)
    handler._flush_all()
    stream = handler.stream
    assert isinstance(stream, io.StringIO)
    sizes = [int(line.split(" ")[-2]) for line in stream.getvalue().splitlines()]
    handler.close()
    missing = sorted(set(range(count)) - set(sizes))
    assert (len(sizes), missing[:10]) == (count, [])
    assert sizes == list(range(count))  # and in the order they were logged


# --- connection deadlines moved rather than made per request ------------------------------

#: Far beyond every short timeout set below, far below the long ones.
BOUND = 5.0
GET_INDEX = b"GET /_emulator/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def _trickled_head_is_closed(conn: socket.socket) -> bool:
    """Trickle a request head that never ends on ``conn``: whether the server closes it."""
    conn.settimeout(0.1)
    conn.sendall(b"GET /_emulator/ HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    start = time.monotonic()
    while time.monotonic() - start < BOUND:
        try:
            conn.sendall(b"X-Slow: 1\r\n")  # one header line every 0.1 s, never the end
        except OSError:
            return True
        if closed_by_server(conn):
            return True
    return False


@pytest.mark.parametrize("pause", [0.0, 0.8])
def test_a_slowloris_on_a_later_request_is_closed(pause: float) -> None:
    """The head timer of a connection's first request is kept (and moved) for the next
    head: one begun while it is still set (pause 0) or after it went off (0.8 s) is held
    no longer than the header timeout."""
    with (
        Emulator(hash_cost=1, header_timeout=0.5, idle_timeout=60) as emu,
        connect(emu, timeout=BOUND) as conn,
    ):
        conn.sendall(GET_INDEX)
        assert read_answer(conn)[0] == 200
        time.sleep(pause)
        assert _trickled_head_is_closed(conn), "the later head was never cut"


def test_a_header_timeout_lowered_while_a_connection_is_open_holds_for_its_next_head() -> None:
    with (
        Emulator(hash_cost=1, header_timeout=60, idle_timeout=60) as emu,
        connect(emu, timeout=BOUND) as conn,
    ):
        conn.sendall(GET_INDEX)  # the head timer is set 60 s ahead
        assert read_answer(conn)[0] == 200
        emu.configure(header_timeout=0.3)
        assert _trickled_head_is_closed(conn), "the later head was held to the old timeout"


def test_a_client_that_stops_reading_after_its_first_answers_is_cut() -> None:
    """The write deadline of a first, small answer is moved to the later answers' (the timer
    set for the first fires first and sets itself again)."""
    with Emulator(
        hash_cost=1, max_connections=1, body_timeout=0.5, header_timeout=60, idle_timeout=60
    ) as emu:
        big = {"email": "ada@example.com", "password": "secret1", "nameOrUserData": {}}
        big["nameOrUserData"] = {"pad": "y" * 900_000}
        signed_up = requests.post(
            emu.base_url + AUTH + "/signup-email",
            json=big,
            headers={"X-Client-Key": emu.client_key},
            timeout=BOUND,
        )
        token = signed_up.json()["session"]["token"]
        ask = (
            f"GET {AUTH}/user HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Client-Key: {emu.client_key}\r\n"
            f"Session: {token}\r\n\r\n"
        ).encode()
        port = urlsplit(emu.base_url).port
        reader = socket.socket()
        reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        reader.settimeout(BOUND)
        reader.connect(("127.0.0.1", port))
        try:
            for _ in range(3):  # answers read: each moves the deadline
                reader.sendall(GET_INDEX)
                assert read_answer(reader)[0] == 200
                time.sleep(0.2)
            pipelined = 8  # about 7 MB of answers: more than the kernel's buffers take
            reader.sendall(ask * pipelined)
            # The only slot is held until the write deadline cuts the reader.
            deadline = time.monotonic() + BOUND
            while True:
                with connect(emu, timeout=BOUND) as probe:
                    probe.sendall(GET_INDEX)
                    if read_answer(probe)[0] == 200:
                        break
                assert time.monotonic() < deadline, "the reader's slot was never freed"
                time.sleep(0.1)
        finally:
            reader.close()


# --- the session listing spliced from stored JSON -------------------------------------------

#: User-Agent headers as bytes on the wire: each session stores what was parsed from one.
ODD_AGENTS = [
    b"Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
    b'Quote"Back\\slash/1.2.3 (\\u2028; "x")',
    b"Caf\xc3\xa9Bot/1.0 \xe4\xb8\xad\xe6\x96\x87",  # UTF-8
    b"Latin\xe9Agent/2.0 \xff\xfe",  # not UTF-8
    b"Googlebot/2.1 (+http://www.google.com/bot.html)\t tab",
    b"MyApp/1.0 okhttp/4.9.0 " + b"x" * 2000,  # longer than what is parsed
    b"",
]


def test_the_listing_of_odd_user_agents_is_what_json_dumps_gave() -> None:
    with Emulator(hash_cost=1) as emu:
        key = emu.client_key
        body = json.dumps({"email": "ada@example.com", "password": "secret1"}).encode()
        signed = requests.post(
            emu.base_url + AUTH + "/signup-email",
            data=body,
            headers={"X-Client-Key": key, "Content-Type": "application/json"},
            timeout=BOUND,
        )
        assert signed.status_code == 200
        tokens = []
        for agent in ODD_AGENTS:
            head = (
                f"POST {AUTH}/signin-email HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Client-Key: {key}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            ).encode()
            with connect(emu, timeout=BOUND) as conn:
                conn.sendall(head + b"User-Agent: " + agent + b"\r\n\r\n" + body)
                status, _, answer = read_answer(conn)
            assert status == 200, answer
            tokens.append(json.loads(answer)["session"]["token"])
        state = emu._state()
        for caller in (tokens[0], tokens[3], tokens[-1]):
            for _ in range(2):  # worked out, then remembered
                listing = requests.get(
                    emu.base_url + AUTH + "/sessions",
                    headers={"X-Client-Key": key, "Session": caller},
                    timeout=BOUND,
                )
                assert listing.status_code == 200
                user_id = listing.json()[0]["userId"]
                stored = state.db.call(Database.live_sessions, user_id, 0.0)
                expected = [
                    session_wire(doc, caller if digest == token_digest(caller) else digest)
                    for digest, doc in stored
                ]
                assert len(expected) == len(ODD_AGENTS) + 1
                assert listing.content == json.dumps(expected).encode()


# --- the direct access-log path, in the command line's own process ----------------------------


def test_the_command_lines_log_has_no_secret_and_a_line_per_request(tmp_path: Path) -> None:
    """The direct path (taken in the command line's process, whose logging it set up) writes
    what logging wrote: the path and never the query, headers or body."""
    password = "PW-review-9f3c"
    process = subprocess.Popen(
        [sys.executable, "-m", "agnost.cli", "emulator", "--port", "0", "--ephemeral", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        assert process.stdout is not None
        info = json.loads(process.stdout.readline())
        base, key = info["url"], info["clientKey"]
        with requests.Session() as http:
            http.headers["X-Client-Key"] = key
            signed = http.post(
                base + AUTH + "/signup-email",
                json={"email": "ada@example.com", "password": password},
                timeout=BOUND,
            )
            token = signed.json()["session"]["token"]
            http.cookies.clear()
            secrets = [password, token, "KEY-review-77", "AT-review-88"]
            asked = [
                http.get(base + AUTH + "/sessions", headers={"Session": token}, timeout=BOUND),
                http.get(base + AUTH + "/grant?key=KEY-review-77", timeout=BOUND),
                http.head(base + AUTH + "/grant?key=KEY-review-77", timeout=BOUND),
                http.get(base + "/_auth/grant?access_token=AT-review-88", timeout=BOUND),
                http.get(
                    base + "/app/x?key=KEY-review-77",
                    cookies={"session_token": token},
                    timeout=BOUND,
                ),
            ]
            assert asked[0].status_code == 200
        with socket.create_connection(("127.0.0.1", info["port"]), timeout=BOUND) as conn:
            conn.sendall(
                b"GET /a%0d%0ab?access_token=AT-review-88 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Session: " + token.encode() + b"\r\nConnection: close\r\n\r\n"
            )
            while conn.recv(65536):
                pass
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0
    for secret in secrets:
        assert secret not in stderr
    access = [line for line in stderr.splitlines() if " aiohttp.access INFO " in line]
    assert len(access) == 7, stderr
    assert all(
        re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} aiohttp\.access INFO [A-Z]+ /", line)
        for line in access
    ), access


SITE = """
import logging

class DropHealth(logging.Filter):
    def filter(self, record):
        return "/_emulator/health" not in record.getMessage()

class Mark(logging.Filter):
    def filter(self, record):
        record.msg = "MARKED " + record.msg
        return True

logging.getLogger("aiohttp.access").addFilter(DropHealth())
logging.getLogger("aiohttp.access").addFilter(Mark())
"""


def test_filters_a_user_put_on_the_access_log_hold_in_the_command_lines_process(
    tmp_path: Path,
) -> None:
    """A filter on ``aiohttp.access`` set up before the command line configures its logging
    (here by ``sitecustomize``) sees every line: it drops some and changes the others."""
    (tmp_path / "sitecustomize.py").write_text(SITE)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    process = subprocess.Popen(
        [sys.executable, "-m", "agnost.cli", "emulator", "--port", "0", "--ephemeral", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    try:
        assert process.stdout is not None
        base = json.loads(process.stdout.readline())["url"]
        with requests.Session() as http:
            for path in ("/_emulator/health", "/_emulator/config", "/_emulator/health"):
                assert http.get(base + path, timeout=BOUND).status_code == 200
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    access = [line for line in stderr.splitlines() if " aiohttp.access " in line]
    assert len(access) == 1, stderr
    assert " aiohttp.access INFO MARKED GET /_emulator/config 200 " in access[0]


# --- the order of the fused middleware's effects ------------------------------------------------

TRUSTED = "http://localhost:3000"


def _failing_handler(_request: object) -> object:
    return {"not JSON": object()}  # fails while the answer is made


#: (method, target, Host, Origin, with the client key) -> (status, code or None, CORS headers
#: (Access-Control-Allow-Origin), Vary: Origin). What the five middlewares answered before
#: they were one.
ORDER = [
    # The Host check comes before CORS: a preflight to a refused Host is refused bare.
    (
        ("OPTIONS", "/_emulator/config", "attacker.example", TRUSTED, False),
        (403, "host_not_allowed", False, False),
    ),
    # An absolute-form target naming another host is refused before the Host check.
    (
        ("GET", "http://attacker.example/_emulator/config", "127.0.0.1", None, False),
        (400, "bad_request", False, False),
    ),
    # A trusted preflight is answered before routing and the client-key check.
    (("OPTIONS", AUTH + "/signin-email", "127.0.0.1", TRUSTED, False), (204, None, True, True)),
    # A refused origin is refused before the client-key check.
    (
        ("POST", AUTH + "/signin-email", "127.0.0.1", "http://evil.example", False),
        (403, "origin_not_allowed", False, True),
    ),
    # Errors after the CORS layer carry its headers: the client key, routing, a handler.
    (
        ("POST", AUTH + "/signin-email", "127.0.0.1", TRUSTED, False),
        (401, "missing_client_key", True, True),
    ),
    (("GET", AUTH + "/nothing-here", "127.0.0.1", TRUSTED, True), (404, "not_found", True, True)),
    (
        ("DELETE", AUTH + "/sessions", "127.0.0.1", TRUSTED, True),
        (405, "method_not_allowed", True, True),
    ),
    (("GET", "/failing", "127.0.0.1", TRUSTED, True), (500, "internal_server_error", True, True)),
    (
        ("GET", "/failing", "127.0.0.1", "http://evil.example", True),
        (500, "internal_server_error", False, True),
    ),
    (
        ("GET", AUTH + "/sessions", "127.0.0.1", "http://evil.example", True),
        (401, "missing_session_token", False, True),
    ),
    # /_emulator/* never answers a page on another origin, not even a trusted one.
    (
        ("POST", "/_emulator/reset", "127.0.0.1", TRUSTED, False),
        (403, "origin_not_allowed", False, True),
    ),
]


def test_the_fused_middleware_keeps_the_order_of_its_effects() -> None:
    with Emulator(hash_cost=1) as emu:
        emu.add_endpoint("GET", "/failing", _failing_handler)
        seen = []
        for (method, target, host, origin, keyed), _ in ORDER:
            head = f"{method} {target} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\n"
            if origin is not None:
                head += f"Origin: {origin}\r\nAccess-Control-Request-Method: POST\r\n"
            if keyed:
                head += f"X-Client-Key: {emu.client_key}\r\n"
            with connect(emu, timeout=BOUND) as conn:
                conn.sendall((head + "\r\n").encode())
                status, headers, body = read_answer(conn)
            code = None
            if body:
                answer = json.loads(body)
                code = answer.get("errors", [answer])[0]["code"]
            seen.append(
                (
                    status,
                    code,
                    origin is not None and headers.get("access-control-allow-origin") == origin,
                    headers.get("vary") == "Origin",
                )
            )
        assert seen == [expected for _, expected in ORDER]


def test_a_later_head_gets_its_own_header_timeout_not_what_is_left_of_the_first() -> None:
    """The head timer set when the connection opened (3 s) is still set when a later head
    begins (2 s in) and goes off while it arrives: the head, done within 3 s of its first
    byte, is answered (the timer sets itself again for the later deadline)."""
    with (
        Emulator(hash_cost=1, header_timeout=3.0, idle_timeout=60) as emu,
        connect(emu, timeout=BOUND * 2) as conn,
    ):
        conn.sendall(GET_INDEX)
        assert read_answer(conn)[0] == 200
        time.sleep(2.0)
        for piece in (b"GET /_emulator/ HTTP/1.1\r\n", b"Host: 127.0.0.1\r\n", b"X-Slow: 1\r\n"):
            conn.sendall(piece)
            time.sleep(0.6)  # the opening timer goes off in here
        conn.sendall(b"\r\n")
        assert read_answer(conn)[0] == 200


def test_a_batch_of_odd_lines_is_what_logging_formatter_makes_of_their_records() -> None:
    """Lines made in a batch (one text per second, parts shared by equal requests) are what
    logging writes for each record: paths with ``%``, escapes, surrogates, CR/LF; sizes and
    times of every kind; equal requests next to each other and seconds crossed."""
    import random

    from agnost.emulator.logs import ACCESS_FORMAT, LOG_FORMAT

    handler = BufferedStderr()
    plain = logging.Formatter(LOG_FORMAT)
    pick = random.Random(12)
    paths = [
        "/",
        "/a%s%d%(name)s%%",
        "/caf\u00e9/\u4e2d",
        "/x\udcff\x00y",
        "/a\r\nb",
        "/" + "p" * 3000,
    ]
    times = [0.0, 0.04999, 0.05, 0.15, 0.25, 2.675, 1e-9, 99.95, 12345.6789, 1e12]
    try:
        entries = []
        created = 1_780_000_000.0
        for _ in range(2000):
            created += pick.choice([0.0, 0.0004, 0.0011, 0.3, 0.9996, 1.0])
            entries.append(
                (
                    created,
                    pick.choice(["aiohttp.access", "other"]),
                    pick.choice(["GET", "POST", "HEAD"]),
                    pick.choice(paths),
                    pick.choice([200, 404, 500]),
                    pick.choice([0, 175, 10**12]),
                    pick.choice(times),
                )
            )
        expected = []
        for entry in entries:
            record = logging.LogRecord(
                entry[1], logging.INFO, "", 0, ACCESS_FORMAT, entry[2:], None
            )
            record.created = entry[0]
            record.msecs = int((entry[0] - int(entry[0])) * 1000)
            expected.append(plain.format(record) + "\n")
        for size in (1, 7, 256, len(entries)):
            made = "".join(
                handler._lines(entries[at : at + size]) for at in range(0, len(entries), size)
            )
            assert made == "".join(expected)
    finally:
        handler.close()


def test_a_body_that_came_during_its_request_does_not_start_the_next_heads_timer() -> None:
    """Bytes that arrive while a request is handled are its body, not a later head: the
    connection then waits for its next request as long as the idle timeout lets it (here
    past the header timeout), as any kept-alive connection does."""
    with (
        Emulator(hash_cost=1, client_keys=["k"], header_timeout=0.3, idle_timeout=60) as emu,
        connect(emu, timeout=BOUND) as conn,
    ):
        body = b'{"n": 1}'
        conn.sendall(
            b"POST /orders HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Client-Key: k\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
        )
        time.sleep(0.2)  # the request is being handled, waiting for its body
        conn.sendall(body)
        status, _, answer = read_answer(conn)
        assert status == 200 and json.loads(answer)["body"] == {"n": 1}
        time.sleep(1.0)  # past the header timeout, well within the idle timeout
        conn.sendall(b"GET /_emulator/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert read_answer(conn)[0] == 200
