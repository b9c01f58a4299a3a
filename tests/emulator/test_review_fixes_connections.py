"""Connections, over raw sockets (issue 8 review, E2 to E5): idle connections make room at
the cap, a silent connection is closed after the header timeout, a client that never reads
its answer is cut, requests aiohttp cannot parse get a §5 JSON error quoting nothing, and an
absolute-form target cannot name another host than ``Host``.

Bounds asserted are many times the timeouts set, only to show that what used to be held
forever (or for the long idle timeout) ends.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import requests

from agnost.emulator import Emulator

from .conftest import AUTH, closed_by_server, connect, raw_exchange, read_answer

#: Far beyond every short timeout set below, far below the long ones.
BOUND = 5.0
GET_INDEX = b"GET /_emulator/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def _port(emulator: Emulator) -> int:
    port = urlsplit(emulator.base_url).port
    assert port is not None
    return port


# --- E2: the cap makes room; a silent connection ends at the header timeout -------------


@pytest.fixture
def capped() -> Iterator[Emulator]:
    # Long timeouts: only the cap can end a connection during a test.
    with Emulator(hash_cost=1, max_connections=3, header_timeout=60, idle_timeout=60) as emu:
        yield emu


def test_at_the_cap_silent_connections_make_room_for_a_new_one(capped: Emulator) -> None:
    silent = [connect(capped, timeout=0.2) for _ in range(3)]
    try:
        for attempt in range(5):  # as often as the attacker likes
            with connect(capped, timeout=BOUND) as newcomer:
                newcomer.sendall(GET_INDEX)
                assert read_answer(newcomer)[0] == 200, attempt
        # The oldest ones were closed to make room, by the server.
        assert closed_by_server(silent[0])
    finally:
        for conn in silent:
            conn.close()


def test_the_oldest_idle_connection_goes_first_and_busy_ones_stay(capped: Emulator) -> None:
    with (
        connect(capped, timeout=BOUND) as oldest,
        connect(capped, timeout=BOUND) as busy,
        connect(capped, timeout=BOUND) as idle,
    ):
        for conn in (oldest, idle):
            conn.sendall(GET_INDEX)
            assert read_answer(conn)[0] == 200  # kept alive, idle
        busy.sendall(b"GET /_emulator/ HTTP/1.1\r\n")  # a head under way
        time.sleep(0.2)  # for the server to read it before the newcomer comes

        with connect(capped, timeout=BOUND) as newcomer:
            newcomer.sendall(GET_INDEX)
            assert read_answer(newcomer)[0] == 200

        assert closed_by_server(oldest)
        busy.sendall(b"Host: 127.0.0.1\r\n\r\n")
        assert read_answer(busy)[0] == 200
        idle.sendall(GET_INDEX)
        assert read_answer(idle)[0] == 200


def test_a_connection_that_sends_nothing_is_closed_after_the_header_timeout() -> None:
    # Before: only the idle timeout (60 s here) closed it.
    with (
        Emulator(hash_cost=1, header_timeout=0.3, idle_timeout=60) as emu,
        connect(emu, timeout=BOUND) as conn,
    ):
        start = time.monotonic()
        assert closed_by_server(conn)
        assert time.monotonic() - start < BOUND


# --- E3: an answer nobody reads ---------------------------------------------------------


def test_a_client_that_never_reads_its_answers_is_cut_after_the_body_timeout() -> None:
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
        reader = socket.socket()
        reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        reader.connect(("127.0.0.1", _port(emu)))
        pipelined = 8  # about 7 MB of answers: more than the kernel's buffers take
        reader.sendall(ask * pipelined)
        try:
            # The only slot is held until the write deadline cuts the reader (before: forever).
            deadline = time.monotonic() + BOUND
            while True:
                with connect(emu, timeout=BOUND) as probe:
                    probe.sendall(GET_INDEX)
                    if read_answer(probe)[0] == 200:
                        break
                assert time.monotonic() < deadline, "the reader's slot was never freed"
                time.sleep(0.1)
            reader.settimeout(BOUND)
            received = 0
            with pytest.raises(ConnectionError):
                while chunk := reader.recv(65536):
                    received += len(chunk)
                raise ConnectionResetError("closed")  # an EOF is a close too
            assert received < pipelined * 900_000
        finally:
            reader.close()


def test_a_small_unread_answer_is_not_cut() -> None:
    with (
        Emulator(hash_cost=1, body_timeout=0.2, header_timeout=60, idle_timeout=60) as emu,
        connect(emu, timeout=BOUND) as conn,
    ):
        conn.sendall(GET_INDEX)
        time.sleep(0.6)  # past the body timeout: the answer left the emulator long ago
        assert read_answer(conn)[0] == 200
        conn.sendall(GET_INDEX)
        assert read_answer(conn)[0] == 200


# --- E5: what aiohttp cannot parse ------------------------------------------------------

MALFORMED = {
    "non-ASCII byte in the query": b"GET /_api/rest/v1/auth/grant?key=SECRETTOKEN\x80 HTTP/1.1\r\n"
    b"Host: 127.0.0.1\r\n\r\n",
    "space in the target": b"GET /_api/rest/v1/auth/grant?key=SECRET TOKEN HTTP/1.1\r\n"
    b"Host: 127.0.0.1\r\n\r\n",
    "bad header name": b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nSe ssion: SECRETTOKEN\r\n\r\n",
    "control character in a header": b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    b"Session: SECRET\x01TOKEN\r\n\r\n",
    "100 KB header line": b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nSession: SECRETTOKEN"
    + b"a" * 100_000
    + b"\r\n\r\n",
    "bad Content-Length": b"POST /_emulator/reset HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    b"Content-Length: -1\r\nX-Token: SECRETTOKEN\r\n\r\n",
    "bad chunk size": b"POST /_emulator/reset HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    b"Transfer-Encoding: chunked\r\n\r\nSECRETTOKEN\r\n",
    "TLS hello": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 SECRETTOKEN\r\n\r\n",
    "HTTP/2 preface": b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
}


@pytest.mark.parametrize("case", MALFORMED)
def test_a_malformed_request_gets_a_json_error_that_quotes_nothing(case: str) -> None:
    with Emulator(hash_cost=1) as emu, connect(emu, timeout=BOUND) as conn:
        conn.sendall(MALFORMED[case])
        status, headers, body = read_answer(conn)
        assert closed_by_server(conn)

    assert status == 400
    assert headers["content-type"].startswith("application/json")
    assert json.loads(body) == {
        "errors": [
            {
                "origin": "client_error",
                "code": "bad_request",
                "message": "malformed HTTP request",
                "details": {},
            }
        ]
    }


# --- E4: absolute-form targets and links --------------------------------------------------


@pytest.fixture
def confirming() -> Iterator[Emulator]:
    with Emulator(hash_cost=1, email_confirmation=True) as emu:
        yield emu


def _sign_up(emu: Emulator, target: str, host: str | None, email: str) -> int:
    body = json.dumps({"email": email, "password": "secret1"})
    lines = [f"POST {target} HTTP/1.1" if host is not None else f"POST {target} HTTP/1.0"]
    lines += [f"Host: {host}"] if host is not None else []
    lines += [
        f"X-Client-Key: {emu.client_key}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        "Connection: close",
    ]
    request = ("\r\n".join(lines) + "\r\n\r\n" + body).encode()
    return raw_exchange(emu, request)[0]


@pytest.mark.parametrize(
    ("target", "host"),
    [
        ("http://evil.example/_emulator/config", "127.0.0.1"),
        ("http://127.0.0.1/_emulator/config", "evil.example"),
        ("http://evil.example/_emulator/config", None),
        ("http://user@127.0.0.1/_emulator/config", "127.0.0.1"),
    ],
)
def test_an_absolute_target_naming_another_host_is_refused(
    confirming: Emulator, target: str, host: str | None
) -> None:
    version, head = ("1.1", f"Host: {host}\r\n") if host is not None else ("1.0", "")
    status, _, body = raw_exchange(
        confirming, f"GET {target} HTTP/{version}\r\n{head}Connection: close\r\n\r\n".encode()
    )
    assert status == 400
    assert json.loads(body)["errors"][0]["code"] == "bad_request"
    assert "clientKeys" not in body.decode()


def test_a_sign_up_through_an_absolute_target_naming_another_host_is_refused(
    confirming: Emulator,
) -> None:
    host = f"127.0.0.1:{_port(confirming)}"
    status = _sign_up(confirming, f"http://evil.example{AUTH}/signup-email", host, "a@b.co")

    assert status == 400
    assert confirming.outbox() == []  # no user, no link to evil.example


def test_an_absolute_target_naming_the_host_works(confirming: Emulator) -> None:
    host = f"127.0.0.1:{_port(confirming)}"
    assert _sign_up(confirming, f"http://{host}{AUTH}/signup-email", host, "a@b.co") == 200
    (message,) = confirming.outbox()
    assert message.link is not None
    assert message.link.startswith(f"http://{host}/_emulator/redirect?")


@pytest.mark.parametrize("host", ["6.6.6.6:80", "6.6.6.6", "[2001:db8::1]:8080", "evil.example"])
def test_links_never_point_at_an_address_a_request_merely_named(
    confirming: Emulator, host: str
) -> None:
    assert _sign_up(confirming, f"{AUTH}/signup-email", host, "a@b.co") == 200
    (message,) = confirming.outbox()
    assert message.link is not None
    assert message.link.startswith(confirming.base_url + "/_emulator/redirect?")


@pytest.mark.parametrize("host", ["localhost", "127.0.0.2", "[::1]", "app.localhost"])
def test_links_follow_a_loopback_host(confirming: Emulator, host: str) -> None:
    named = f"{host}:{_port(confirming)}"
    assert _sign_up(confirming, f"{AUTH}/signup-email", named, "a@b.co") == 200
    (message,) = confirming.outbox()
    assert message.link is not None
    assert message.link.startswith(f"http://{named}/_emulator/redirect?")
