"""The emulator's HTTP connections: timeouts, a cap on how many are open, and accept errors
logged at a bounded rate.

aiohttp closes a connection that has not sent a complete request head within its keep-alive
timeout of opening or of its last answer: that is the ``idleTimeout`` setting. On top of it, a
request head that has begun must be complete within ``headerTimeout``, so a client trickling
its headers (slowloris) holds a connection no longer than that; a body must arrive within
``bodyTimeout`` (see :func:`~agnost.emulator.validation.read_body`). Past ``maxConnections``
open connections, a new one is answered 503 and closed at once while the open ones carry on,
so the emulator never runs out of file descriptors because of its clients. Settings are read
when they apply, so a change through ``PATCH /_emulator/config`` holds for the next
connection or request.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_response import StreamResponse

from .config import EmulatorConfig
from .errors import error_body

__all__ = [
    "ACCEPT_ERROR_INTERVAL",
    "AcceptErrorLog",
    "Connection",
    "ConnectionFactory",
    "track_requests",
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
    """One client connection: aiohttp's handler, plus the emulator's cap and head timeout."""

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
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Serve the connection, or refuse it (503, closed) if too many are open."""
        factory = self._factory
        if len(factory.open) >= factory.config.max_connections:
            self._refused = True
            if isinstance(transport, asyncio.WriteTransport):
                transport.write(_TOO_MANY)
            transport.close()
            return
        factory.open.add(self)
        super().connection_made(transport)

    def connection_lost(self, exc: BaseException | None) -> None:
        """Forget the connection."""
        if self._refused:
            return
        self._factory.open.discard(self)
        self._stop_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        """Feed aiohttp's parser; the first bytes of a request head start its timer."""
        if self._refused:
            return
        if data and not self._in_request and self._head_timer is None:
            timeout = self._factory.config.header_timeout
            self._head_timer = self._factory.loop.call_later(timeout, self._head_too_slow)
        super().data_received(data)

    def request_started(self) -> None:
        """A request head is complete: it is being handled."""
        self._in_request = True
        self._stop_head_timer()

    def request_finished(self) -> None:
        """The request has been handled; what comes next is the next request."""
        self._in_request = False

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if not self._in_request:
            _log.debug("closed a connection whose request head took too long")
            self.force_close()


class ConnectionFactory:
    """Makes a :class:`Connection` per accepted socket (``loop.create_server(factory, ...)``)
    and keeps the set of those open, for the cap. ``handler_args`` go to aiohttp's handler
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
        self.open: set[Connection] = set()

    def __call__(self) -> Connection:
        return Connection(self)


@web.middleware
async def track_requests(
    request: web.Request, handler: Callable[[web.Request], Awaitable[StreamResponse]]
) -> StreamResponse:
    """Tell the request's :class:`Connection` when a request is being handled, so that its
    head timer runs only while a head is arriving."""
    connection = request.protocol
    if not isinstance(connection, Connection):  # served by another runner, aiohttp's own
        return await handler(request)
    connection.request_started()
    try:
        return await handler(request)
    finally:
        connection.request_finished()


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
