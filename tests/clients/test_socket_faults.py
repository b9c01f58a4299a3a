"""Socket-level faults, one table for both flavours (reliability.md): a raw-socket server on
127.0.0.1 lies about framing, trickles, truncates or resets, and each fault gives exactly one
agnost class, the same in both flavours. None of them changes the local session.

The classes: a peer that does not speak HTTP correctly (bad status line, header block, framing
or content encoding) or closes early is a ``ConnectError``; running out of time anywhere, the
send of a large body included, is a ``RequestTimeoutError``; too much body is a
``ResponseTooLargeError``.
"""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

import agnost

from ._support import (
    AUTH,
    CURRENT_TOKEN,
    PREFIX,
    Flavour,
    grant_wire,
    session_wire,
    signed_in,
    user_wire,
)

TIMEOUT = agnost.Timeout(total=1.0, connect=1.0)
#: A faulty server stops by itself after this long, whatever the client does.
GIVE_UP = 6.0

Action = Callable[[socket.socket, "FaultServer"], None]


class FaultServer:
    """A raw-socket server on 127.0.0.1 that answers every connection with ``action``.

    By default it first reads the request (head and ``Content-Length`` body); with
    ``read_request=False`` it reads nothing, so a large request body fills the socket
    buffers (kept small) and the client's send blocks.
    """

    def __init__(self, action: Action, *, read_request: bool = True) -> None:
        self.action = action
        self.read_request = read_request
        self.heads: list[bytes] = []
        self.stop = threading.Event()
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(8)
        self._listener.settimeout(0.05)
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._connections: list[socket.socket] = []

    @property
    def env_url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}{PREFIX}"

    def __enter__(self) -> FaultServer:
        self._threads[0].start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(GIVE_UP + 1)
        self._listener.close()

    def _accept(self) -> None:
        deadline = time.monotonic() + GIVE_UP
        while not self.stop.is_set() and time.monotonic() < deadline:
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(GIVE_UP)
        with conn:
            try:
                if self.read_request:
                    self._read_request(conn)
                self.action(conn, self)
            except OSError:
                pass

    def _read_request(self, conn: socket.socket) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            more = conn.recv(65536)
            if not more:
                return
            data += more
        head, _, body = data.partition(b"\r\n\r\n")
        self.heads.append(head)
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(body) < length:
            more = conn.recv(65536)
            if not more:
                return
            body += more

    def wait(self, seconds: float) -> bool:
        """Sleep ``seconds``; ``False`` once the server is stopping."""
        return not self.stop.wait(seconds)


# --- actions ---------------------------------------------------------------------------------


def send(*parts: bytes, then: str = "close") -> Action:
    """Send ``parts``; then ``close`` (FIN), ``reset`` (RST) or ``hang`` (until stopped)."""

    def action(conn: socket.socket, server: FaultServer) -> None:
        for part in parts:
            conn.sendall(part)
            server.wait(0.02)  # each part arrives on its own
        if then == "reset":
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
        elif then == "hang":
            server.stop.wait(GIVE_UP)
        else:
            conn.shutdown(socket.SHUT_WR)

    return action


def trickle(data: bytes, every: float, after: bytes = b"") -> Action:
    """Send ``after`` at once, then ``data`` one byte every ``every`` seconds."""

    def action(conn: socket.socket, server: FaultServer) -> None:
        conn.sendall(after)
        for byte in data:
            if not server.wait(every):
                return
            conn.sendall(bytes([byte]))

    return action


def endless(part: bytes, head: bytes = b"") -> Action:
    """Send ``head``, then ``part`` again and again as fast as the client reads."""

    def action(conn: socket.socket, server: FaultServer) -> None:
        conn.sendall(head)
        while not server.stop.is_set():
            conn.sendall(part)

    return action


def head(status: str = "200 OK", *headers: str) -> bytes:
    return ("\r\n".join([f"HTTP/1.1 {status}", *headers]) + "\r\n\r\n").encode()


OK_EMPTY = head("200 OK", "Content-Length: 0")
GZIP = "Content-Encoding: gzip"
BOMB = gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=9)  # ~64 KB, inflates to 64 MiB


@dataclass(frozen=True)
class Fault:
    id: str
    action: Action
    error: type[agnost.AgnostError]
    #: The sign-out token: a 10 MB one makes the POST body large enough to block its send.
    token: str | None = None
    read_request: bool = True
    options: dict[str, object] = field(default_factory=dict)


FAULTS = [
    # Time: each wait is short, only their sum is over the deadline.
    Fault("trickled-status-line", trickle(OK_EMPTY, 0.5), agnost.RequestTimeoutError),
    Fault(
        "trickled-headers",
        trickle(b"X-Padding: " + b"p" * 40 + b"\r\n\r\n", 0.3, after=b"HTTP/1.1 200 OK\r\n"),
        agnost.RequestTimeoutError,
    ),
    Fault(
        "endless-103s",
        endless(head("103 Early Hints", "Link: </a.css>; rel=preload")),
        agnost.RequestTimeoutError,
    ),
    Fault(
        "trickled-body",
        trickle(b" " * 100, 0.3, after=head("200 OK", "Content-Length: 100")),
        agnost.RequestTimeoutError,
    ),
    Fault(
        "silent-after-headers",
        send(head("200 OK", "Content-Length: 10"), then="hang"),
        agnost.RequestTimeoutError,
    ),
    Fault("silent", send(then="hang"), agnost.RequestTimeoutError),
    Fault(
        "never-reads-a-10MB-post",
        send(then="hang"),
        agnost.RequestTimeoutError,
        token="t" * (10 * 1024 * 1024),
        read_request=False,
    ),
    # The connection closes or resets early.
    Fault("closed-without-answer", send(), agnost.ConnectError),
    Fault("reset-without-answer", send(then="reset"), agnost.ConnectError),
    Fault("cut-status-line", send(b"HTTP/1.1 200 O"), agnost.ConnectError),
    Fault(
        "cut-header-block", send(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n"), agnost.ConnectError
    ),
    Fault("cut-header-line", send(b"HTTP/1.1 200 OK\r\nContent-Len"), agnost.ConnectError),
    Fault("cut-after-status-line", send(b"HTTP/1.1 200 OK\r\n"), agnost.ConnectError),
    Fault(
        "body-short-of-content-length",
        send(head("200 OK", "Content-Length: 100") + b"[]"),
        agnost.ConnectError,
    ),
    Fault(
        "reset-mid-body",
        send(head("200 OK", "Content-Length: 100"), b"[1,", then="reset"),
        agnost.ConnectError,
    ),
    Fault(
        "cut-chunked-body",
        send(head("200 OK", "Transfer-Encoding: chunked") + b"5\r\n[1,"),
        agnost.ConnectError,
    ),
    # The peer does not speak HTTP correctly.
    Fault("garbage-status-line", send(b"SSH-2.0-OpenSSH_9.6\r\n\r\n"), agnost.ConnectError),
    Fault("status-not-a-number", send(head("2x0 OK", "Content-Length: 0")), agnost.ConnectError),
    Fault("status-two-digits", send(head("20 OK", "Content-Length: 0")), agnost.ConnectError),
    Fault(
        "unknown-http-version",
        send(b"HTTP/7.0 200 OK\r\nContent-Length: 0\r\n\r\n"),
        agnost.ConnectError,
    ),
    Fault(
        "more-than-100-headers",
        send(head("200 OK", *[f"X-H{i}: v" for i in range(101)], "Content-Length: 0")),
        agnost.ConnectError,
    ),
    Fault(
        "100-headers",
        send(head("200 OK", *[f"X-H{i}: v" for i in range(99)], "Content-Length: 0")),
        agnost.ConnectError,
    ),
    Fault(
        "10KB-header-line",
        send(head("200 OK", "X-Big: " + "b" * 10_000, "Content-Length: 0")),
        agnost.ConnectError,
    ),
    Fault(
        "10KB-status-line",
        send(head("200 " + "O" * 10_000, "Content-Length: 0")),
        agnost.ConnectError,
    ),
    Fault(
        "chunked-and-content-length",
        send(
            head("200 OK", "Content-Length: 2", "Transfer-Encoding: chunked")
            + b"2\r\n[]\r\n0\r\n\r\n"
        ),
        agnost.ConnectError,
    ),
    Fault(
        "100KB-header-line",
        send(head("200 OK", "X-Big: " + "b" * 100_000, "Content-Length: 0")),
        agnost.ConnectError,
    ),
    Fault(
        "endless-header-block",
        endless(b"X-More: m\r\n", head=b"HTTP/1.1 200 OK\r\n"),
        agnost.ConnectError,
    ),
    Fault(
        "bad-content-length",
        send(head("200 OK", "Content-Length: abc") + b"[]"),
        agnost.ConnectError,
    ),
    Fault(
        "negative-content-length",
        send(head("200 OK", "Content-Length: -1") + b"[]"),
        agnost.ConnectError,
    ),
    Fault(
        "conflicting-content-lengths",
        send(head("200 OK", "Content-Length: 2", "Content-Length: 5") + b"[]"),
        agnost.ConnectError,
    ),
    Fault(
        "bad-chunk-size",
        send(head("200 OK", "Transfer-Encoding: chunked") + b"zz\r\n[]\r\n0\r\n\r\n"),
        agnost.ConnectError,
    ),
    Fault(
        "corrupt-gzip",
        send(head("200 OK", GZIP, "Content-Length: 12") + b"not gzip at all"[:12]),
        agnost.ConnectError,
    ),
    # Too much body: refused after a bounded read.
    Fault(
        "gzip-bomb-over-the-cap",
        send(head("200 OK", GZIP, f"Content-Length: {len(BOMB)}") + BOMB),
        agnost.ResponseTooLargeError,
    ),
    Fault(
        "declared-over-the-cap",
        send(head("200 OK", f"Content-Length: {5 * 1024 * 1024}"), then="hang"),
        agnost.ResponseTooLargeError,
    ),
    Fault(
        "endless-chunked-body",
        endless(
            b"4000\r\n" + b"[" * 0x4000 + b"\r\n", head("200 OK", "Transfer-Encoding: chunked")
        ),
        agnost.ResponseTooLargeError,
    ),
    # What aiohttp's parser refuses, the blocking reader refuses too (review of issue 8).
    Fault(
        "header-without-colon",
        send(head("200 OK", "NoColonHere", "Content-Length: 0")),
        agnost.ConnectError,
    ),
    Fault(
        "space-in-header-name",
        send(head("200 OK", "X A: b", "Content-Length: 0")),
        agnost.ConnectError,
    ),
    Fault(
        "nul-in-header-value",
        send(head("200 OK", "X-A: a\x00b", "Content-Length: 0")),
        agnost.ConnectError,
    ),
    Fault(
        "transfer-encoding-identity",
        send(head("200 OK", "Transfer-Encoding: identity", "Content-Length: 2") + b"[]"),
        agnost.ConnectError,
    ),
    Fault(
        "content-length-list",
        send(head("200 OK", "Content-Length: 2, 2") + b"[]"),
        agnost.ConnectError,
    ),
    Fault(
        "content-length-twice",
        send(head("200 OK", "Content-Length: 2", "Content-Length: 2") + b"[]"),
        agnost.ConnectError,
    ),
    Fault(
        "content-length-30-digits",
        send(head("200 OK", "Content-Length: " + "9" * 30) + b"[]"),
        agnost.ConnectError,
    ),
    Fault(
        "204-with-a-body",
        send(head("204 No Content", "Content-Length: 2") + b"[]"),
        agnost.ConnectError,
    ),
    Fault("status-099", send(head("099 Odd", "Content-Length: 0")), agnost.ConnectError),
    Fault(
        "header-name-and-value-over-8190",
        send(head("200 OK", "X-A: " + "a" * 8188, "Content-Length: 0")),
        agnost.ConnectError,
    ),
    Fault(
        "reason-over-8190",
        send(head("200 " + "O" * 8191, "Content-Length: 0")),
        agnost.ConnectError,
    ),
]


@pytest.mark.parametrize("fault", FAULTS, ids=[f.id for f in FAULTS])
def test_a_socket_fault_is_one_class_in_both_flavours_and_keeps_the_session(
    flavour: Flavour, fault: Fault
) -> None:
    with FaultServer(fault.action, read_request=fault.read_request) as server:
        client = signed_in(flavour, server.env_url, timeout=TIMEOUT, **fault.options)
        started = time.monotonic()

        with pytest.raises(agnost.TransportError) as info:
            flavour.call(client, "sign_out", fault.token)
        took = time.monotonic() - started

    assert type(info.value) is fault.error, info.value
    assert took < 3 * TIMEOUT.total  # type: ignore[operator]
    assert client.storage.load().session == session_wire(CURRENT_TOKEN)
    assert client.storage.load().user == user_wire()
    assert flavour.call(client, "get_session").token == CURRENT_TOKEN


# --- informational answers: skipped, the final answer counts -----------------------------------


def _final(body: bytes) -> bytes:
    return head("200 OK", "Content-Type: application/json", f"Content-Length: {len(body)}") + body


GRANT = json.dumps(grant_wire("tok-after-hints")).encode()
INFORMATIONAL = {
    "103-early-hints": head("103 Early Hints", "Link: </style.css>; rel=preload"),
    "100-continue": head("100 Continue"),
    "102-processing-twice": head("102 Processing") * 2,
    "199-unknown-informational": head("199 Whatever", "X-A: 1"),
}


@pytest.mark.parametrize("informational", INFORMATIONAL.values(), ids=INFORMATIONAL.keys())
def test_informational_answers_are_skipped_and_the_sign_in_is_kept(
    flavour: Flavour, informational: bytes
) -> None:
    with FaultServer(send(informational, _final(GRANT))) as server:
        client = flavour.make(server.env_url, timeout=TIMEOUT)

        grant = flavour.call(client, "sign_in_with_email", "ada@example.com", "pw")

    assert grant.session.token == "tok-after-hints"
    assert flavour.call(client, "get_session").token == "tok-after-hints"
    assert client.storage.load().session == session_wire("tok-after-hints")
    assert server.heads[0].startswith(f"POST {PREFIX}{AUTH}/signin-email ".encode())


def test_the_largest_head_both_flavours_accept_is_read(flavour: Flavour) -> None:
    # The limits just under the ones the table shows refused: 99 header lines, and a line
    # of 8190 bytes (aiohttp's limits, which the blocking client applies too).
    longest = "X-Big: " + "b" * (8190 - len("X-Big: "))
    headers = [f"X-H{i}: v" for i in range(96)]
    answer = head(
        "200 OK", longest, *headers, "Content-Type: application/json", "Content-Length: 2"
    )
    with FaultServer(send(answer + b"[]")) as server:
        client = signed_in(flavour, server.env_url, timeout=TIMEOUT)

        assert flavour.call(client, "get_all_sessions") == []


def test_what_aiohttp_accepts_the_blocking_reader_accepts(flavour: Flavour) -> None:
    # Empty lines before the status line (llhttp skips them), a header whose name and value
    # make 8190 bytes on a longer line, a reason phrase of 8190 bytes.
    answers = [
        b"\r\n\n" + head("200 OK", "Content-Length: 2") + b"[]",
        head("200 OK", "X-A:  " + "a" * 8186 + " ", "Content-Length: 2") + b"[]",
        head("200 " + "O" * 8190, "Content-Length: 2") + b"[]",
    ]
    for answer in answers:
        with FaultServer(send(answer)) as server:
            client = signed_in(flavour, server.env_url, timeout=TIMEOUT)

            assert flavour.call(client, "get_all_sessions") == []


@pytest.mark.parametrize("method_name", ["sign_out", "sign_out_all"])
def test_a_cut_header_block_is_not_a_sign_out(flavour: Flavour, method_name: str) -> None:
    with FaultServer(send(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n")) as server:
        client = signed_in(flavour, server.env_url, timeout=TIMEOUT)

        flavour.raises(agnost.ConnectError, client, method_name)

    assert flavour.call(client, "get_session").token == CURRENT_TOKEN
    assert client.storage.load().session == session_wire(CURRENT_TOKEN)
