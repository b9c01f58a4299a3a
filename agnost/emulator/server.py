"""Serving the emulator: in the foreground for the command line, or on a background thread.

:class:`Emulator` is the in-process form: ``with Emulator() as emu:`` serves on a free port of
127.0.0.1 from a thread with its own event loop, and stops when the block ends. Starting one
takes milliseconds with an in-memory database, so tests can start one each.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import Callable, Coroutine, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import attrs
from aiohttp import web

from . import admin
from .app import SERVER_LOGGER, AccessLogger, create_app
from .config import EmulatorConfig, EmulatorSettings
from .connections import AcceptErrorLog, ConnectionFactory
from .db import Database
from .endpoints import EndpointHandler, EndpointRegistry
from .logs import LOG_FORMAT, configure_logging
from .origins import base_url_for, is_loopback
from .state import STATE, EmulatorState

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = [
    "LOG_FORMAT",
    "Emulator",
    "OutboxMessage",
    "base_url_for",
    "configure_logging",
    "is_loopback",
    "serve_forever",
]

T = TypeVar("T")
H = TypeVar("H", bound=EndpointHandler)

_log = logging.getLogger("agnost.emulator")


@attrs.define
class _Serving:
    """A started emulator: aiohttp's runner, the listening server, the port it got."""

    runner: web.AppRunner
    listener: asyncio.AbstractServer
    port: int

    async def stop(self) -> None:
        self.listener.close()
        await self.runner.cleanup()  # closes the open connections, then the app
        await self.listener.wait_closed()


async def _start(app: web.Application, host: str, port: int) -> _Serving:
    app[STATE].bound_host = host
    runner = web.AppRunner(app)
    await runner.setup()
    assert runner.server is not None  # set up just above
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(AcceptErrorLog(loop))
    # Served through connections.py's factory rather than aiohttp's TCPSite: it adds the
    # connection cap and the request-head timeout.
    factory = ConnectionFactory(
        runner.server,
        app[STATE].config,
        loop,
        {"logger": SERVER_LOGGER, "access_log_class": AccessLogger},
    )
    try:
        listener = await loop.create_server(factory, host, port, backlog=128)
    except BaseException:
        await runner.cleanup()
        raise
    bound_port = int(listener.sockets[0].getsockname()[1])
    if not is_loopback(host):
        _log.warning(
            "the emulator is bound to %s, reachable from other machines: it is a development "
            "server with no protection, for trusted networks only",
            host,
        )
    return _Serving(runner, listener, bound_port)


async def serve_forever(
    config: EmulatorConfig,
    database: str,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    on_ready: Callable[[str], None] = lambda url: None,
    keep_generated_key: bool = False,
    seed: Sequence[admin.SeedUser] = (),
) -> None:
    """Serve until cancelled, or sent SIGINT (Ctrl-C) or SIGTERM; ``on_ready`` gets the base URL.

    A database that cannot be used raises :class:`~agnost.emulator.db.StorageError`, an
    address that cannot be bound :class:`OSError`, a ``seed`` (from
    :func:`~agnost.emulator.admin.parse_seed`) whose users clash with each other or with
    stored ones :class:`~agnost.emulator.admin.SeedError`; the seed is stored before the
    port opens. ``keep_generated_key``: see :func:`~agnost.emulator.app.create_app`.
    """
    app = create_app(config, database, keep_generated_key=keep_generated_key)
    try:
        if seed:
            await app[STATE].db.run(admin.seed, seed, app[STATE].clock())
    except BaseException:
        app[STATE].db.close()
        raise
    serving = await _start(app, host, port)
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    # Ctrl-C and SIGTERM (from CI, docker, kill) end the wait below, and the emulator then
    # stops as it would when cancelled. Ctrl-C is not left to raise KeyboardInterrupt: before
    # Python 3.11, asyncio.run lets it strike inside whatever callback is running, which can
    # lose a task's wake-up so that the shutdown waits forever. Not available on Windows, nor
    # outside the main thread: there, cancelling the task is the way to stop.
    stop_signals = (signal.SIGINT, signal.SIGTERM)
    for signum in stop_signals:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, stopped.set)
    try:
        on_ready(base_url_for(host, serving.port))
        await stopped.wait()
    finally:
        # A second Ctrl-C during the shutdown interrupts it, as Python's own handler does.
        for signum in stop_signals:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(signum)
        await serving.stop()


@attrs.frozen
class OutboxMessage:
    """A message the emulator "sent", as ``GET /_emulator/outbox`` lists it.

    ``kind`` says what it is for (``email_verification``, ``magic_link``, ``password_reset``,
    ``email_change``: emails with a ``link`` carrying ``access_token``; ``phone_verification``,
    ``sign_in_code``, ``password_reset_code``: SMS with a ``code``). ``access_token`` is what
    ``get_auth_grant`` (or ``reset_pwd_with_token`` for ``password_reset``) takes; ``link`` is
    the link that carries it; ``code`` is for SMS codes (None for emails). The three are
    credentials, so ``repr`` leaves them out. ``expires_at`` is when the link or code stops
    working (None for messages stored by an older emulator).
    """

    id: int
    recipient: str
    kind: str
    link: str | None = attrs.field(repr=False)
    code: str | None = attrs.field(repr=False)
    access_token: str | None = attrs.field(repr=False)
    user_id: str | None
    created_at: str
    expires_at: str | None = None

    @classmethod
    def from_wire(cls, doc: Mapping[str, Any]) -> OutboxMessage:
        """Build a message from its ``/_emulator/outbox`` JSON."""
        return cls(
            id=doc["id"],
            recipient=doc["recipient"],
            kind=doc["kind"],
            link=doc.get("link"),
            code=doc.get("code"),
            access_token=doc.get("accessToken"),
            user_id=doc.get("userId"),
            created_at=doc["createdAt"],
            expires_at=doc.get("expiresAt"),
        )


class Emulator:
    """An emulator served from a background thread: ``with Emulator() as emu: ...``.

    Keyword arguments are the settings (:class:`~agnost.emulator.EmulatorSettings`, by their
    snake_case names, the same as :meth:`configure` takes: ``client_keys``,
    ``email_confirmation``, ``session_lifetime``, ``access_token_lifetime``, ``hash_cost``,
    ``redirect_url``, ``cors_origins``, ``allowed_hosts``, ``header_timeout``,
    ``body_timeout``, ``idle_timeout``, ``max_connections``, ``max_sessions_per_user``,
    ``max_outbox_messages``, ``enforce_session``, ``enforce_session_keys``), each checked
    against its range. ``database`` is a file path or
    ``":memory:"`` (the default); ``port`` 0 (the default) picks a free port. :meth:`start`
    and :meth:`stop` may be called directly instead of using ``with``.

    Without ``client_keys``, the client key is a generated ``dev-...`` one; a file database
    keeps it, so an emulator started later on the same file has the same key (read
    :attr:`client_key` after :meth:`start`).

    App endpoints answer an echo of the request unless a handler is registered with
    :meth:`add_endpoint` or :meth:`endpoint` (before or after :meth:`start`)::

        @emu.endpoint("GET", "/orders")
        def orders(request: EndpointRequest) -> object:
            if request.user is None:
                return EndpointReply(401, {"errors": [...]})
            return [{"id": 1, "owner": request.user["_id"]}]
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        database: str = ":memory:",
        **settings: Unpack[EmulatorSettings],
    ) -> None:
        self.host = host
        self.port = port
        self.database = database
        self._config = EmulatorConfig()
        self._config.apply(settings, "Emulator")
        self._keep_generated_key = "client_keys" not in settings
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._app: web.Application | None = None
        self._base_url: str | None = None
        self._handlers = EndpointRegistry()

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> Emulator:
        """Start serving; returns once the port accepts connections. Raises if it cannot."""
        if self._thread is not None:
            raise RuntimeError("this emulator is already running")
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            try:
                app = create_app(
                    self._config,
                    self.database,
                    keep_generated_key=self._keep_generated_key,
                    handlers=self._handlers,
                )
                serving = loop.run_until_complete(_start(app, self.host, self.port))
            except BaseException as exc:
                failure.append(exc)
                loop.close()
                ready.set()
                return
            # Set only once serving: after a failed start, nothing points at a closed loop.
            self._loop = loop
            self._app = app
            self._base_url = base_url_for(self.host, serving.port)
            ready.set()
            loop.run_forever()
            loop.run_until_complete(serving.stop())
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()

        # A daemon thread, so a test that forgets to stop its emulator cannot hang the exit.
        self._thread = threading.Thread(target=run, name="agnost-emulator", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            self._thread.join()
            self._thread = None
            self._loop = None
            self._app = None
            raise failure[0]
        return self

    def stop(self) -> None:
        """Stop serving and close the database. Calling it again does nothing."""
        if self._thread is None or self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._thread = None
        self._loop = None
        self._app = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- what tests need -----------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The URL to hand to ``create_client``, such as ``http://127.0.0.1:53211``."""
        if self._base_url is None:
            raise RuntimeError("the emulator has not been started")
        return self._base_url

    @property
    def client_key(self) -> str:
        """The first configured client key."""
        return self._config.client_keys[0]

    @property
    def config(self) -> dict[str, Any]:
        """A copy of the current settings, as ``GET /_emulator/config`` shows them."""
        return self._on_loop(self._read_config())

    def configure(self, **changes: Unpack[EmulatorSettings]) -> None:
        """Change settings, by the names ``Emulator(...)`` takes:
        ``configure(email_confirmation=True)``; all or nothing.

        Raises ``agnost.emulator.ConfigError`` (a ValueError) for a bad value, TypeError for
        a name that is not a setting.
        """
        self._on_loop(self._update_config(changes))

    def outbox(self, recipient: str | None = None, kind: str | None = None) -> list[OutboxMessage]:
        """Messages "sent", oldest first; ``recipient`` matches case-insensitively, ``kind``
        exactly (see :class:`OutboxMessage` for the kinds)."""
        docs = self._state().db.call(Database.messages, recipient=recipient, kind=kind)
        return [OutboxMessage.from_wire(doc) for doc in docs]

    def clear_outbox(self) -> None:
        """Empty the outbox."""
        self._state().db.call(Database.clear_messages)

    def reset(self) -> None:
        """Delete every user, session, access token and message; settings stay."""
        self._state().db.call(Database.reset)

    def add_endpoint(self, method: str, path: str, handler: EndpointHandler) -> None:
        """Answer ``method`` on the app endpoint ``path`` (exact) with ``handler``.

        ``handler`` takes an :class:`~agnost.emulator.EndpointRequest` and returns a JSON
        value (answered with 200) or an :class:`~agnost.emulator.EndpointReply`; a sync one
        runs on a worker thread, an async one on the emulator's loop. Once a path has a
        handler, other methods on it get 405; HEAD runs the GET handler unless HEAD has its
        own. Raises ValueError for a method other than GET, HEAD, POST, PUT, PATCH, DELETE
        or a path under the auth API, ``/_auth`` or ``/_emulator``.
        """
        self._handlers.add(method, path, handler)

    def endpoint(self, method: str, path: str) -> Callable[[H], H]:
        """:meth:`add_endpoint` as a decorator: ``@emu.endpoint("POST", "/orders")``."""

        def register(handler: H) -> H:
            self.add_endpoint(method, path, handler)
            return handler

        return register

    def _state(self) -> EmulatorState:
        if self._app is None:
            raise RuntimeError("the emulator is not running")
        return self._app[STATE]

    # Settings are read on the emulator's loop; changing them there means a request never
    # sees half of an update.
    async def _read_config(self) -> dict[str, Any]:
        return self._config.to_wire()

    async def _update_config(self, changes: Mapping[str, object]) -> None:
        self._config.apply(changes)

    def _on_loop(self, coro: Coroutine[Any, Any, T]) -> T:
        if self._loop is None:
            coro.close()
            raise RuntimeError("the emulator is not running")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()
