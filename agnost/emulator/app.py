"""The aiohttp application: routes, CORS, the client-key check, JSON errors, a safe access log."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse

from . import admin, auth, oauth
from .config import EmulatorConfig
from .db import DatabaseThread
from .errors import Refusal, error_body
from .state import STATE, EmulatorState

__all__ = ["AccessLogger", "create_app"]

_log = logging.getLogger("agnost.emulator")

Handler = Callable[[web.Request], Awaitable[StreamResponse]]

# Codes for aiohttp's own refusals, so they come out in the §5 shape like ours.
_CODE_BY_STATUS = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_entity_too_large",
}


@web.middleware
async def _json_errors(request: web.Request, handler: Handler) -> StreamResponse:
    """Every error answer is a JSON body: the official client hangs on anything else."""
    try:
        return await handler(request)
    except Refusal as refusal:
        return refusal.response()
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _CODE_BY_STATUS.get(exc.status, "client_error")
        return web.json_response(error_body(code, exc.reason), status=exc.status)
    except Exception:
        # The traceback names code, never request data, so it carries no token.
        _log.exception("internal error while handling %s %s", request.method, request.path)
        body = error_body("internal_server_error", "Internal server error", server=True)
        return web.json_response(body, status=500)


_CORS_HEADERS = {
    "Access-Control-Allow-Credentials": "true",
    "Access-Control-Allow-Methods": "GET, POST, PUT, PATCH, DELETE, OPTIONS",
    "Access-Control-Allow-Headers": "X-Client, X-Client-Key, Session, Authorization, Content-Type",
    "Access-Control-Max-Age": "600",
    "Vary": "Origin",
}


@web.middleware
async def _cors(request: web.Request, handler: Handler) -> StreamResponse:
    """Let a web app on another local origin (``localhost:3000``) call the emulator.

    The official client fetches with ``credentials: "include"``, which browsers allow only
    when the answer names the origin (not ``*``) and allows credentials. Preflights are
    answered here, before routing, since no route takes OPTIONS.
    """
    origin = request.headers.get("Origin")
    if origin is None:
        return await handler(request)
    if request.method == "OPTIONS":
        response: StreamResponse = web.Response(status=204)
    else:
        response = await handler(request)
    response.headers.update(_CORS_HEADERS)
    response.headers["Access-Control-Allow-Origin"] = origin
    return response


@web.middleware
async def _client_key(request: web.Request, handler: Handler) -> StreamResponse:
    """The API answers only requests carrying one of the configured client keys."""
    if request.path.startswith("/_api/"):
        key = request.headers.get("X-Client-Key")
        if not key:
            raise Refusal(401, "missing_client_key", "The X-Client-Key header is required")
        if key not in request.app[STATE].config.client_keys:
            raise Refusal(401, "invalid_client_key", "The client key is not valid")
    return await handler(request)


class AccessLogger(AbstractAccessLogger):
    """One line per request: method, path, status, size, time. Never the query string, which
    can carry access tokens (``/grant?key=``, redirects), nor any header or cookie."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        """Write the line for one finished request."""
        self.logger.info(
            "%s %s %d %d %.1fms",
            request.method,
            request.path,
            response.status,
            response.body_length,
            time * 1000,
        )


async def _close_database(app: web.Application) -> None:
    app[STATE].db.close()


def create_app(config: EmulatorConfig, database: str) -> web.Application:
    """Build the emulator app over the SQLite database at ``database`` (or ``":memory:"``).

    The database is opened (created and migrated if needed) now and closed when the app is
    cleaned up.
    """
    app = web.Application(middlewares=[_cors, _json_errors, _client_key])
    app[STATE] = EmulatorState(config=config, db=DatabaseThread(database))
    app.on_cleanup.append(_close_database)
    auth.add_routes(app)
    app.add_routes(oauth.routes)
    app.add_routes(admin.routes)
    return app
