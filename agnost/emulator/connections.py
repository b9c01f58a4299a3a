"""The emulator's HTTP connections: timeouts, a cap on how many are open, answers to requests
aiohttp cannot parse, and accept errors logged at a bounded rate.

A connection must send a complete request head within ``headerTimeout`` of opening, and
within it of the first byte of each later head, so a client sending nothing or trickling its
headers (slowloris) holds a connection no longer than that; between requests, aiohttp closes
a connection kept alive for ``idleTimeout``. A body must arrive within ``bodyTimeout`` (see
:func:`~agnost.emulator.validation.read_body`), and an answer must have left the emulator's
buffers within ``bodyTimeout`` too, else the connection is cut: a client that never reads
holds neither its connection nor its answer. At ``maxConnections`` open connections, a new one
takes the place of the oldest idle one (waiting for a request, none of whose bytes came yet);
if none is idle, it is answered 503 and closed at once while the open ones carry on, so the
emulator never runs out of file descriptors because of its clients. Settings are read when
they apply, so a change through ``PATCH /_emulator/config`` holds for the next connection or
request.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import math
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from .config import EmulatorConfig
from .errors import error_body

__all__ = [
    "ACCEPT_ERROR_INTERVAL",
    "AcceptErrorLog",
    "Connection",
    "ConnectionFactory",
    "target_matches_host",
]

_log = logging.getLogger("agnost.emulator")

#: Seconds between two reports of failing to accept connections (out of file descriptors).
ACCEPT_ERROR_INTERVAL = 10.0
#: How long the rest of a request that was answered early (a 408) is read and dropped before
#: the connection closes, so the client gets to read the answer.
_LINGER = 1.0
#: Errors of ``accept()`` that mean the process or system is out of a resource.
_OUT_OF_RESOURCES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


def _too_many_connections() -> bytes:
    body = json.dumps(
        error_body(
            "too_many_connections",
            "The emulator has too many open connections (see --max-connections)",
            server=True,
        )
    ).encode()
    head = (
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\nRetry-After: 1\r\n\r\n"
    )
    return head.encode("ascii") + body


_TOO_MANY = _too_many_connections()


class Connection(RequestHandler):
    """One client connection: aiohttp's handler, plus the emulator's cap, head timeout,
    write deadline and JSON answers to unparsable requests."""

    def __init__(self, factory: ConnectionFactory) -> None:
        config = factory.config
        super().__init__(
            factory.server,
            loop=factory.loop,
            keepalive_timeout=config.idle_timeout,
            lingering_time=_LINGER,
            **factory.handler_args,
        )
        self._factory = factory
        self._refused = False
        self._in_request = False
        self._head_begun = False
        # The two deadlines, each with one timer that is moved only when it fires (as aiohttp
        # does for its keep-alive): a timer per request, cancelled and made again, costs more
        # than the rest of what a connection does for a request.
        self._head_deadline: float | None = None
        self._head_timer: asyncio.TimerHandle | None = None
        self._write_deadline: float | None = None
        self._write_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Serve the connection, in the place of the oldest idle one if the cap is reached;
        refuse it (503, closed) if none is idle."""
        factory = self._factory
        if len(factory.open) >= factory.config.max_connections and not factory.evict_idle():
            self._refused = True
            if isinstance(transport, asyncio.WriteTransport):
                transport.write(_TOO_MANY)
            transport.close()
            return
        factory.open[self] = None
        super().connection_made(transport)
        self._start_head_timer()

    def connection_lost(self, exc: BaseException | None) -> None:
        """Forget the connection."""
        if self._refused:
            return
        self._factory.open.pop(self, None)
        self._head_deadline = self._write_deadline = None
        for timer in (self._head_timer, self._write_timer):
            if timer is not None:
                timer.cancel()
        self._head_timer = self._write_timer = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        """Feed aiohttp's parser; the first bytes of a later request head start its timer."""
        if self._refused:
            return
        if data and not self._in_request:
            self._head_begun = True
            if self._head_deadline is None:
                self._start_head_timer()
        super().data_received(data)

    def request_started(self) -> None:
        """A request head is complete: it is being handled."""
        self._in_request = True
        self._head_begun = False
        self._head_deadline = None

    def request_finished(self) -> None:
        """The request has been handled and its answer is about to be written: it must be
        out of the emulator's buffers within ``bodyTimeout``. What comes next is the next
        request."""
        self._in_request = False
        loop = self._factory.loop
        deadline = self._write_deadline = loop.time() + self._factory.config.body_timeout
        timer = self._write_timer
        if timer is None or timer.when() > deadline:  # else it goes off first and moves
            self._write_timer = _timer_for(loop, timer, deadline, self._write_check)

    def idle(self) -> bool:
        """Whether the connection waits for a request none of whose bytes have come yet: no
        request handled or answered (aiohttp's own state), none queued, no head begun. A
        connection just accepted, whose serving task has not run yet, is idle too."""
        return not (self._request_in_progress or self._messages or self._head_begun)

    def evict(self) -> None:
        """Close the connection now to make room for a new one (only when :meth:`idle`)."""
        self._factory.open.pop(self, None)
        _log.debug("closed an idle connection to make room for a new one")
        self.force_close()

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """aiohttp's answer to a request it cannot parse (or whose handler failed past the
        error middleware): a §5 JSON error, which quotes nothing of the request.

        aiohttp's own answer is text that echoes the offending line, a ``?key=`` access
        token or a ``Session`` header included. Logging is left to aiohttp (through the
        sanitising log filter), as is the refusal to answer once an answer has begun.
        """
        super().handle_error(request, status, exc, message)
        if isinstance(exc, HttpProcessingError) and 400 <= exc.code < 600:
            status = exc.code
        code = HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")
        if status >= 500:
            body = error_body(code, HTTPStatus(status).phrase, server=True)
        else:
            body = error_body(code, "malformed HTTP request")
        response = web.json_response(body, status=status)
        response.force_close()
        return response

    def _start_head_timer(self) -> None:
        loop = self._factory.loop
        deadline = self._head_deadline = loop.time() + self._factory.config.header_timeout
        self._head_timer = _timer_for(loop, self._head_timer, deadline, self._head_check)

    def _head_check(self) -> None:
        self._head_timer = None
        deadline = self._head_deadline
        if deadline is None:  # the head came in time
            return
        loop = self._factory.loop
        if loop.time() < deadline:  # moved since the timer was set
            self._head_timer = loop.call_at(deadline, self._head_check)
            return
        self._head_deadline = None
        if not self._in_request:
            _log.debug("closed a connection whose request head took too long")
            self.force_close()

    def _write_check(self) -> None:
        self._write_timer = None
        deadline = self._write_deadline
        if deadline is None:
            return
        loop = self._factory.loop
        if loop.time() < deadline:  # moved since the timer was set: a later answer's
            self._write_timer = loop.call_at(deadline, self._write_check)
            return
        self._write_deadline = None
        transport = self.transport
        if transport is not None and transport.get_write_buffer_size() > 0:
            _log.debug("cut a connection whose client did not read its answer in time")
            transport.abort()


def _timer_for(
    loop: asyncio.AbstractEventLoop,
    timer: asyncio.TimerHandle | None,
    deadline: float,
    check: Callable[[], None],
) -> asyncio.TimerHandle:
    """A timer that calls ``check`` by ``deadline``: ``timer`` if it is set to go off no later
    (``check`` then sets itself again for the rest of the time), else a new one."""
    if timer is not None:
        if timer.when() <= deadline:
            return timer
        timer.cancel()  # a shorter timeout than when it was set
    return loop.call_at(deadline, check)


class ConnectionFactory:
    """Makes a :class:`Connection` per accepted socket (``loop.create_server(factory, ...)``)
    and keeps those open, oldest first, for the cap. ``handler_args`` go to aiohttp's handler
    (its logger, its access log class)."""

    def __init__(
        self,
        server: web.Server,
        config: EmulatorConfig,
        loop: asyncio.AbstractEventLoop,
        handler_args: Mapping[str, Any],
    ) -> None:
        self.server = server
        self.config = config
        self.loop = loop
        self.handler_args = dict(handler_args)
        #: The open connections in the order they opened (a dict as an ordered set).
        self.open: dict[Connection, None] = {}

    def __call__(self) -> Connection:
        return Connection(self)

    def evict_idle(self) -> bool:
        """Close the oldest idle connection, if there is one; whether there was."""
        for connection in self.open:
            if connection.idle():
                connection.evict()
                return True
        return False


def target_matches_host(request: web.Request) -> bool:
    """Whether the request's target, if it is in absolute form (``GET http://host/path``),
    names the same host and port as its ``Host`` header.

    aiohttp takes an absolute-form target's authority as the request's host (``request.url``)
    while the Host checks read the header: both must name the same thing.
    """
    target = request.raw_path
    if target.startswith("/") or target == "*":
        return True
    host = request.headers.get("Host")
    if not host:
        return False
    try:
        named, claimed = urlsplit(target), urlsplit("//" + host)
        default = 443 if named.scheme == "https" else 80
        return (
            "@" not in named.netloc + host
            and named.hostname is not None
            and (named.hostname, named.port or default)
            == (claimed.hostname, claimed.port or default)
        )
    except ValueError:  # a port that is not one
        return False


class AcceptErrorLog:
    """An event-loop exception handler that reports a failure to accept connections for want
    of resources (``Too many open files``) in one warning line per
    :data:`ACCEPT_ERROR_INTERVAL`, with a count and no traceback, instead of asyncio's
    traceback per attempt; it hands every other report to the handler it replaces."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._previous = loop.get_exception_handler()
        self._last_report = -math.inf
        self._unreported = 0

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """Report (or count) one failure."""
        exc = context.get("exception")
        if not isinstance(exc, OSError) or exc.errno not in _OUT_OF_RESOURCES:
            if self._previous is not None:
                self._previous(loop, context)
            else:
                loop.default_exception_handler(context)
            return
        now = loop.time()
        if now - self._last_report < ACCEPT_ERROR_INTERVAL:
            self._unreported += 1
            return
        since = f" ({self._unreported} more since the last report)" if self._unreported else ""
        _log.warning(
            "cannot accept connections: %s%s; is the open file limit (ulimit -n) below"
            " --max-connections?",
            exc.strerror or type(exc).__name__,
            since,
        )
        self._last_report = now
        self._unreported = 0
