"""The aiohttp application: routes, the Host check, CORS, the client-key check, JSON errors,
safe logs, and the sweep of expired sessions."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse

from . import admin, auth, endpoints, logs, oauth, ui
from .config import EmulatorConfig
from .connections import Connection, target_matches_host
from .db import Database, DatabaseThread
from .errors import Refusal, error_body, where
from .origins import origin_allowed
from .state import STATE, EmulatorState

__all__ = ["SERVER_LOGGER", "SWEEP_INTERVAL", "AccessLogger", "create_app", "where"]

_log = logging.getLogger("agnost.emulator")

Handler = Callable[[web.Request], Awaitable[StreamResponse]]

# Codes for aiohttp's own refusals, so they come out in the §5 shape like ours.
_CODE_BY_STATUS = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_entity_too_large",
}


_CORS_HEADERS = {
    "Access-Control-Allow-Credentials": "true",
    "Access-Control-Allow-Methods": "GET, POST, PUT, PATCH, DELETE, OPTIONS",
    "Access-Control-Allow-Headers": "X-Client, X-Client-Key, Session, Authorization, Content-Type",
    "Access-Control-Max-Age": "600",
}

#: Methods a page on any origin can make a browser send without asking first (no preflight);
#: only these are served to an origin the emulator does not trust, and without CORS headers,
#: so the page cannot read the answer.
_SAFE_METHODS = frozenset({"GET", "HEAD"})

#: What :func:`_guard` adds to an answer for a browser page: nothing (no ``Origin``, or a UI
#: page), ``Vary`` alone (an origin not trusted, reading), or the CORS headers (trusted).
_NO_CORS, _VARY_ONLY, _CORS = 0, 1, 2


@web.middleware
async def _guard(request: web.Request, handler: Handler) -> StreamResponse:
    """Everything the emulator checks around a handler, in this order (one middleware rather
    than five: each costs a coroutine per request):

    1. **Requests in progress.** The request's :class:`~.connections.Connection` is told
       when a request is being handled, so that its head timer runs only while a head is
       arriving and its write deadline once the answer is ready; an absolute-form target
       naming another host than ``Host`` is refused (400, see
       :func:`~.connections.target_matches_host`).
    2. **Hosts.** ``/_emulator/*`` answers only requests whose ``Host`` names the emulator.
       Otherwise a page on a name that the attacker rebinds to 127.0.0.1 (DNS rebinding)
       would be on the same origin as the emulator and could read the client keys and the
       outbox.
    3. **CORS.** A web app on a trusted origin (``localhost:3000``) may call the API, and no
       other. Trusted: origins whose host is loopback (``localhost``, 127.0.0.0/8,
       ``[::1]``) and those in the ``corsOrigins`` setting. The official client fetches with
       ``credentials: "include"``, which browsers allow only when the answer names the
       origin (not ``*``) and allows credentials. ``/_emulator/*`` (outbox tokens, client
       keys, settings) never answers a browser page on another origin, trusted or not.
       Requests without an ``Origin`` (curl, Node, the Python clients) are not browser
       pages and pass untouched, and so do the UI's pages (they check their forms' origin).
       Preflights are answered here, before routing and before the client-key check (a
       browser sends no custom header in a preflight).
    4. **JSON errors.** Every error answer is a JSON body: the official client hangs on
       anything else. An unexpected exception is logged in one line naming its type and
       where it came from (its message and the values in a traceback may quote request
       data: a password, a token).
    5. **Client keys.** The API and the app endpoints answer only requests carrying one of
       the configured client keys (``/_auth/*``, which a browser navigates to, and
       ``/_emulator/*`` need none).
    """
    connection = request.protocol
    # Not one of ours when served by another runner (aiohttp's own): nothing to tell it.
    tracked = connection if isinstance(connection, Connection) else None
    if tracked is not None:
        tracked.request_started()
    try:
        if tracked is not None and not target_matches_host(request):
            return Refusal(
                400,
                "bad_request",
                "The request target names another host than the Host header",
                close=True,
            ).response()
        path = request.path
        emulator_only = path == "/_emulator" or path.startswith("/_emulator/")
        if emulator_only and not auth.names_emulator(request):
            return Refusal(
                403,
                "host_not_allowed",
                "The Host header does not name this emulator (see --allowed-host)",
            ).response()
        origin = request.headers.get("Origin")
        cors = _NO_CORS
        if origin is not None and not ui.is_ui_path(path):
            trusted = not emulator_only and origin_allowed(
                origin, request.app[STATE].config.cors_origins
            )
            if trusted:
                if request.method == "OPTIONS":
                    preflight = web.Response(status=204)
                    _allow(preflight, origin)
                    return preflight
                cors = _CORS
            elif request.method in _SAFE_METHODS:
                cors = _VARY_ONLY
            else:
                # A preflight, or a "simple" POST a page may send without one: refused
                # before it can do anything (sign out, reset the data).
                refused = Refusal(
                    403,
                    "origin_not_allowed",
                    "Browser requests from this origin are not allowed"
                    + ("" if emulator_only else " (see --cors-origin)"),
                ).response()
                refused.headers["Vary"] = "Origin"
                return refused
        try:
            if path.startswith("/_api/") or endpoints.is_app_path(path):
                key = request.headers.get("X-Client-Key")
                if not key:
                    raise Refusal(401, "missing_client_key", "The X-Client-Key header is required")
                if key not in request.app[STATE].config.client_keys:
                    raise Refusal(401, "invalid_client_key", "The client key is not valid")
            response = await handler(request)
        except Refusal as refusal:
            response = refusal.response()
        except web.HTTPException as exc:
            if exc.status < 400:
                raise  # a redirect: aiohttp answers it
            response = _http_error(exc)
        except Exception as exc:
            # One line, naming the exception's type and where it came from: its message and
            # the values in a traceback may quote request data (a password, a token).
            _log.error("internal error while handling %s %s: %s", request.method, path, where(exc))
            body = error_body("internal_server_error", "Internal server error", server=True)
            response = web.json_response(body, status=500)
        if cors == _CORS:
            assert origin is not None  # only set for a request with one
            _allow(response, origin)
        elif cors == _VARY_ONLY:
            response.headers.add("Vary", "Origin")
        return response
    finally:
        if tracked is not None:
            tracked.request_finished()


def _allow(response: StreamResponse, origin: str) -> None:
    """The CORS headers that let a page on ``origin`` read ``response``."""
    response.headers.update(_CORS_HEADERS)
    response.headers.add("Vary", "Origin")
    response.headers["Access-Control-Allow-Origin"] = origin


def _http_error(exc: web.HTTPException) -> web.Response:
    """aiohttp's refusal (404, 405, 413...) in the §5 shape."""
    code = _CODE_BY_STATUS.get(exc.status, "client_error")
    # A 405 says which methods the path takes (HEAD /grant: only GET).
    kept = {name: exc.headers[name] for name in ("Allow",) if name in exc.headers}
    return web.json_response(error_body(code, exc.reason), status=exc.status, headers=kept)


class AccessLogger(AbstractAccessLogger):
    """One line per request: method, path, status, size, time. Never the query string, which
    can carry access tokens (``/grant?key=``, redirects), nor any header or cookie."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        """Write the line for one finished request: straight to the command line's log
        when nothing but it would see the record (see :mod:`.logs`), else through
        ``logging``."""
        logger = self.logger
        direct = logs.direct
        if direct is not None and direct.takes_alone(logger):
            direct.write_access(
                logger,
                request.method,
                request.path,
                response.status,
                response.body_length,
                time * 1000,
            )
            return
        logger.info(
            logs.ACCESS_FORMAT,
            request.method,
            request.path,
            response.status,
            response.body_length,
            time * 1000,
        )


class _SanitisingFilter(logging.Filter):
    """Turns each report of aiohttp's server that carries an exception into one sanitised
    line, with no traceback.

    aiohttp logs a request it could not parse at ERROR with the parser's exception, whose
    message quotes the offending bytes: a ``Session`` header, a ``?key=`` access token. That
    line names only the kind of fault, at WARNING (a client's fault, not the server's). Any
    other exception is named by its type and place (see :func:`where`).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is None:
            return True
        if isinstance(exc, HttpProcessingError):
            record.msg = "refused a malformed request (%s, HTTP %d)"
            record.args = (type(exc).__name__, int(getattr(exc, "code", 400) or 400))
            if record.levelno > logging.WARNING:
                record.levelno, record.levelname = logging.WARNING, "WARNING"
        else:
            record.msg = "error while serving a connection: %s"
            record.args = (where(exc),)
        record.exc_info = None
        record.exc_text = None
        record.stack_info = None
        return True


#: The logger the emulator's HTTP server reports its own faults to, in place of aiohttp's
#: ``aiohttp.server`` (left alone, for other aiohttp servers in the process).
SERVER_LOGGER = logging.getLogger("agnost.emulator.http")
SERVER_LOGGER.addFilter(_SanitisingFilter())

#: Seconds between two sweeps of expired sessions and access tokens.
SWEEP_INTERVAL = 60.0


async def _sweep_expired(app: web.Application) -> AsyncIterator[None]:
    """Delete expired sessions and access tokens every :data:`SWEEP_INTERVAL`, until the
    app stops (a sign-in deletes its own user's expired sessions in between)."""

    async def sweep_forever() -> None:
        state = app[STATE]
        while True:
            await asyncio.sleep(SWEEP_INTERVAL)
            now = state.clock()
            try:
                await state.db.run(
                    Database.delete_expired, now - state.config.session_lifetime, now
                )
            except Exception as exc:  # a read-only file, say: try again next time
                _log.warning("could not delete expired sessions: %s", where(exc))

    task = asyncio.create_task(sweep_forever())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _close_database(app: web.Application) -> None:
    app[STATE].db.close()


def create_app(
    config: EmulatorConfig,
    database: str,
    *,
    keep_generated_key: bool = False,
    handlers: endpoints.EndpointRegistry | None = None,
) -> web.Application:
    """Build the emulator app over the SQLite database at ``database`` (or ``":memory:"``).

    The database is opened (created and migrated if needed) now and closed when the app is
    cleaned up; one that cannot be is a :class:`~agnost.emulator.db.StorageError`. With
    ``keep_generated_key``, ``config``'s only client key was generated, not chosen: the
    database's stored development key replaces it, or it is stored to be reused next time.
    ``handlers`` answer app endpoints in place of the echo (see :mod:`.endpoints`).
    """
    db = DatabaseThread(database)
    if keep_generated_key:
        try:
            key = db.call(Database.development_client_key, config.client_keys[0])
            config.update({"clientKeys": [key]})
        except BaseException:
            db.close()
            raise
    app = web.Application(middlewares=[_guard])
    app[STATE] = EmulatorState(config=config, db=db)
    # Registered before the database closes, so the sweeper stops first.
    app.cleanup_ctx.append(_sweep_expired)
    app.on_cleanup.append(_close_database)
    auth.add_routes(app)
    app.add_routes(oauth.routes)
    app.add_routes(admin.routes)
    ui.add_routes(app)
    endpoints.add_routes(app, handlers if handlers is not None else endpoints.EndpointRegistry())
    return app
