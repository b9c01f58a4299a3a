"""What the client tests share: a recording HTTP server on 127.0.0.1, the two flavours behind
one calling convention, and wire objects exactly as protocol.md §4 shows them.

The server is real (sockets, the real requests and aiohttp stacks on the client side): each
request is recorded as it arrived (method, raw target, headers in order, body bytes) and is
answered from a script. Besides well-formed answers it can misbehave at the socket level:
never answer, trickle a body, send one that never ends, promise more than it sends and close,
or reset the connection.
"""

from __future__ import annotations

import asyncio
import copy
import http
import inspect
import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import pytest

import agnost
import agnost_async
from tests import samples

T = TypeVar("T")
E = TypeVar("E", bound=BaseException)

AUTH = "/_api/rest/v1/auth"
#: The env URL's path prefix: every request must go under it (protocol.md §1).
PREFIX = "/e:abc"
CLIENT_KEY = "client-key-0123"
API_KEY = "api-key-4567"
#: Short limits so that misbehaving servers are noticed quickly (no timing is asserted).
SHORT = agnost.Timeout(total=0.5, connect=0.5)
#: How long a trickling server keeps trickling before it gives up and closes.
TRICKLE_FOR = 3.0

CURRENT_TOKEN = "tok-current"
NEW_TOKEN = "tok-new"
OTHER_TOKEN = "tok-other"


def session_wire(token: str = CURRENT_TOKEN, **changes: Any) -> dict[str, Any]:
    """A session as the server sends it (protocol.md §4)."""
    return {**copy.deepcopy(samples.SESSION), "token": token, **changes}


def user_wire(**changes: Any) -> dict[str, Any]:
    """A user as the server sends it, with custom fields of the app's user model."""
    plan = {"tier": "pro", "seats": 3, "tags": ["a", None]}
    return {**copy.deepcopy(samples.USER), "plan": plan, **changes}


def signed_in_store() -> agnost.MemoryStore:
    """A memory store holding the current session (``CURRENT_TOKEN``) and its user."""
    return agnost.MemoryStore(session=session_wire(CURRENT_TOKEN), user=user_wire())


def grant_wire(token: str = NEW_TOKEN, **user_changes: Any) -> dict[str, Any]:
    """A ``{user, session}`` answer of sign-in, sign-up and grant."""
    return {"user": user_wire(**user_changes), "session": session_wire(token)}


def error_body(code: str, message: str = "refused", origin: str = "client_error") -> bytes:
    """An error answer in the usual shape: ``{"errors": [{...}]}``."""
    item = {"origin": origin, "code": code, "message": message, "details": None}
    return json.dumps({"errors": [item]}).encode()


# --- the recording server --------------------------------------------------------------------


@dataclass(frozen=True)
class Recorded:
    """One request as it reached the server."""

    method: str
    target: str  # the raw request target: path and query exactly as sent
    headers: tuple[tuple[str, str], ...]
    body: bytes

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    @property
    def query(self) -> str:
        """The raw (still percent-encoded) query string."""
        return self.target.split("?", 1)[1] if "?" in self.target else ""

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (any case), or ``None`` when it was not sent."""
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        assert len(values) <= 1, f"header {name} sent {len(values)} times"
        return values[0] if values else None

    def has(self, name: str) -> bool:
        return self.header(name) is not None

    @property
    def names(self) -> list[str]:
        """Header names, lower-cased, in the order they were sent."""
        return [k.lower() for k, _ in self.headers]

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Reply:
    """A scripted answer.

    ``reason``: ``None`` sends the standard phrase, ``""`` sends none at all.
    ``behaviour``: ``"normal"``; ``"hang"`` (never answer); ``"trickle"`` (the head, then the
    body a byte at a time); ``"endless"`` (a chunked body that never ends); ``"endless_raw"``
    (an unframed body that never ends); ``"truncate"`` (promise more bytes than sent, then
    close); ``"reset"`` (like truncate, but reset the connection); ``"reset_before"`` (reset
    without answering at all).
    """

    status: int = 200
    body: bytes = b""
    reason: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    behaviour: str = "normal"


def json_reply(value: Any, status: int = 200, **kw: Any) -> Reply:
    headers = (("Content-Type", "application/json; charset=utf-8"),)
    return Reply(status, json.dumps(value).encode(), headers=headers, **kw)


def text_reply(text: str | bytes, status: int = 200, content_type: str = "text/html") -> Reply:
    body = text.encode() if isinstance(text, str) else text
    return Reply(status, body, headers=(("Content-Type", content_type),))


EMPTY_OK = Reply(200)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    owner: RecordingServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = self._read_chunked()
        else:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        recorded = Recorded(self.command, self.path, tuple(self.headers.items()), body)
        self.server.owner._answer(self, recorded)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle

    def _read_chunked(self) -> bytes:
        chunks = []
        while True:
            size = int(self.rfile.readline().split(b";")[0], 16)
            chunk = self.rfile.read(size)
            self.rfile.readline()
            if size == 0:
                return b"".join(chunks)
            chunks.append(chunk)


class RecordingServer:
    """An HTTP/1.1 server on 127.0.0.1 (port 0) that records requests and answers from a script.

    Use as a context manager; it stops by itself at exit, releasing any hanging answer.
    """

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._script: list[Reply] = [EMPTY_OK]
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.owner = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.005}, daemon=True
        )

    def __enter__(self) -> RecordingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def env_url(self) -> str:
        """The env URL the clients are given: with a path prefix, as real env URLs have."""
        return self.url + PREFIX

    def script(self, *replies: Reply) -> None:
        """Answer the next requests with ``replies`` in order; the last one then repeats."""
        assert replies
        with self._lock:
            self._script = list(replies)

    @property
    def last(self) -> Recorded:
        assert self.requests, "the server received no request"
        return self.requests[-1]

    def _answer(self, handler: _Handler, recorded: Recorded) -> None:
        with self._lock:
            self.requests.append(recorded)
            reply = self._script.pop(0) if len(self._script) > 1 else self._script[0]
        getattr(self, "_" + reply.behaviour)(handler, reply)

    # --- behaviours -------------------------------------------------------------------------

    @staticmethod
    def _head(reply: Reply, extra: Iterable[tuple[str, str]] = ()) -> bytes:
        if reply.reason is None:
            try:
                reason = http.HTTPStatus(reply.status).phrase
            except ValueError:
                reason = "Unknown"
        else:
            reason = reply.reason
        lines = [f"HTTP/1.1 {reply.status} {reason}"]
        lines += [f"{k}: {v}" for k, v in (*reply.headers, *extra)]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _normal(self, handler: _Handler, reply: Reply) -> None:
        length = (("Content-Length", str(len(reply.body))),)
        handler.wfile.write(self._head(reply, length) + reply.body)

    def _hang(self, handler: _Handler, reply: Reply) -> None:
        self._stop.wait(30)
        handler.close_connection = True

    def _trickle(self, handler: _Handler, reply: Reply) -> None:
        body = reply.body or b" " * 10_000
        handler.wfile.write(self._head(reply, (("Content-Length", str(len(body))),)))
        handler.close_connection = True
        deadline = time.monotonic() + TRICKLE_FOR
        for byte in body:
            if self._stop.is_set() or time.monotonic() > deadline:
                return
            try:
                handler.wfile.write(bytes([byte]))
            except OSError:
                return
            time.sleep(0.02)

    def _endless(self, handler: _Handler, reply: Reply) -> None:
        handler.wfile.write(self._head(reply, (("Transfer-Encoding", "chunked"),)))
        handler.close_connection = True
        chunk = b"%x\r\n%s\r\n" % (16384, b"[" * 16384)
        self._pour(handler, chunk)

    def _endless_raw(self, handler: _Handler, reply: Reply) -> None:
        handler.wfile.write(self._head(reply, (("Connection", "close"),)))
        handler.close_connection = True
        self._pour(handler, b"[" * 16384)

    def _pour(self, handler: _Handler, chunk: bytes) -> None:
        sent = 0
        while not self._stop.is_set() and sent < 256 * 1024 * 1024:
            try:
                handler.wfile.write(chunk)
            except OSError:
                return
            sent += len(chunk)

    def _truncate(self, handler: _Handler, reply: Reply) -> None:
        promised = (("Content-Length", str(len(reply.body) + 100)),)
        handler.wfile.write(self._head(reply, promised) + reply.body)
        handler.close_connection = True
        handler.connection.shutdown(socket.SHUT_RDWR)

    def _reset(self, handler: _Handler, reply: Reply) -> None:
        promised = (("Content-Length", str(len(reply.body) + 100)),)
        handler.wfile.write(self._head(reply, promised) + reply.body)
        time.sleep(0.05)  # let the head arrive on its own, so the reset is mid-answer
        self._rst(handler)

    def _reset_before(self, handler: _Handler, reply: Reply) -> None:
        self._rst(handler)

    @staticmethod
    def _rst(handler: _Handler) -> None:
        handler.close_connection = True
        handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        handler.connection.close()


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (the port was just released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}{PREFIX}"


# --- the two flavours behind one calling convention ------------------------------------------


class Flavour:
    """``sync`` or ``async``: make clients and call their methods the same way for both.

    The async flavour runs every coroutine in its own event loop; :meth:`close` closes every
    client it made (``aclose()`` for async, so the aiohttp session is closed) and the loop.
    """

    def __init__(self, name: str) -> None:
        assert name in ("sync", "async")
        self.name = name
        self.module: Any = agnost_async if name == "async" else agnost
        self.loop = asyncio.new_event_loop() if name == "async" else None
        self._clients: list[Any] = []

    def __repr__(self) -> str:
        return f"<Flavour {self.name}>"

    @property
    def is_async(self) -> bool:
        return self.loop is not None

    def make(self, url: str, key: Any = CLIENT_KEY, **options: Any) -> Any:
        """A client of this flavour; by default with a fresh in-memory store."""
        options.setdefault("storage", agnost.MemoryStore())
        client = self.module.create_client(url, key, **options)
        self._clients.append(client)
        return client

    def call(self, client: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        """Call ``client.auth.<name>`` and return its result (awaited in the async flavour)."""
        return self.run(getattr(client.auth, name)(*args, **kwargs))

    def run(self, value: Awaitable[T] | T) -> T:
        if inspect.isawaitable(value):
            assert self.loop is not None, "the sync flavour returned an awaitable"
            return self.loop.run_until_complete(_awaited(value))
        return value

    def raises(self, kind: type[E], client: Any, name: str, *args: Any, **kwargs: Any) -> E:
        """Call ``client.auth.<name>`` and return the exception of type ``kind`` it raised."""
        with pytest.raises(kind) as info:
            self.call(client, name, *args, **kwargs)
        return info.value

    def redirect_recorder(self) -> Callable[[], Any]:
        """A ``sign_in_redirect`` callback counting its calls in ``.calls``; in the async
        flavour a coroutine function (the async client awaits it)."""
        calls: list[str] = []

        if self.is_async:

            async def on_redirect() -> None:
                await asyncio.sleep(0)
                calls.append("awaited")

            recorder: Any = on_redirect
        else:

            def recorder() -> None:
                calls.append("called")

        recorder.calls = calls
        return recorder  # type: ignore[no-any-return]

    def close(self) -> None:
        for client in self._clients:
            if self.loop is not None:
                self.loop.run_until_complete(client.aclose())
            else:
                client.close()
        if self.loop is not None:
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()

    def __enter__(self) -> Flavour:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


async def _awaited(value: Awaitable[T]) -> T:
    return await value


FLAVOURS = ("sync", "async")


def signed_in(flavour: Flavour, url: str, **options: Any) -> Any:
    """A client of ``flavour`` for ``url`` that starts signed in (unless given a store)."""
    options.setdefault("storage", signed_in_store())
    return flavour.make(url, **options)


def next_session_header(flavour: Flavour, server: RecordingServer, client: Any) -> str | None:
    """The ``Session`` header the client sends with its next request."""
    server.script(json_reply([]))
    flavour.call(client, "get_all_sessions")
    return server.last.header("Session")


async def loop_held_up(call: Awaitable[Any], tick: float) -> tuple[Exception | None, float, float]:
    """Await ``call`` while a probe sleeping ``tick`` at a time measures the longest the event
    loop was held up: the call's exception (or None), that longest hold-up, the call's time."""
    worst = 0.0
    done = False

    async def probe() -> None:
        nonlocal worst
        while not done:
            start = time.perf_counter()
            await asyncio.sleep(tick)
            worst = max(worst, time.perf_counter() - start - tick)

    task = asyncio.ensure_future(probe())
    start = time.perf_counter()
    error: Exception | None = None
    try:
        await call
    except Exception as caught:  # returned for the caller to check
        error = caught
    finally:
        elapsed = time.perf_counter() - start
        done = True
        await task
    return error, worst, elapsed


def mypy_strict(tmp_path: Path, name: str, source: str) -> subprocess.CompletedProcess[str]:
    """Run ``mypy --strict`` on ``source`` written to ``tmp_path / name``, finding this
    checkout's agnost and agnost_async."""
    snippet = tmp_path / name
    snippet.write_text(source)
    root = Path(agnost.__file__).resolve().parent.parent
    env = {**os.environ, "MYPYPATH": str(root)}
    command = [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / "cache")]
    return subprocess.run(
        [*command, str(snippet)], capture_output=True, text=True, env=env, cwd=tmp_path
    )
