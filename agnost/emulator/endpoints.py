"""The app's own endpoints (protocol.md §8): every path outside the auth API
(``/_api/rest/v1/auth``), ``/_auth`` and ``/_emulator``.

They need a client key, like the auth API, and take GET, HEAD, POST, PUT, PATCH and DELETE
(OPTIONS answers which; a browser's preflight is answered by the CORS layer first). The
session comes from the ``Session`` header or the ``session_token`` cookie. A body is read as
the auth endpoints read theirs (:func:`~agnost.emulator.validation.read_json`).

By default each answers an echo of what it received, so that a test sees who called::

    {"method": "POST", "path": "/orders", "query": {"tag": ["a", "b"], "n": "1"},
     "body": {...} or null, "user": {...} or null, "session": {...} or null}

``user`` is the caller's user as stored, ``session`` the caller's session without its token;
both are ``null`` without a valid session. With session enforcement on for the request's
client key (``enforceSession``, ``enforceSessionKeys``), a call without a session gets a 401
``missing_session_token``, one with an unknown or expired session a 401
``invalid_session_token``.

A test suite stands up a fake of its own backend with handlers
(:meth:`Emulator.add_endpoint <agnost.emulator.Emulator.add_endpoint>`): a path with at least
one handler answers only the methods it has handlers for (405 otherwise; HEAD runs the GET
handler unless HEAD has its own). A handler gets an :class:`EndpointRequest` and returns a
JSON value (answered with 200) or an :class:`EndpointReply`; it may be sync (run on a worker
thread, so it cannot stall the server) or async (run on the server's loop). One that raises
gets the caller a 500 ``internal_server_error`` and the log one line naming the exception's
type and place.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import re
from collections.abc import Callable, Mapping
from typing import Any

import attrs
from aiohttp import web
from multidict import CIMultiDict

from .auth import AUTH_PREFIX, authenticate
from .db import Database
from .errors import Refusal, error_body, where
from .state import STATE
from .validation import read_json

__all__ = [
    "ENDPOINTS",
    "METHODS",
    "EndpointHandler",
    "EndpointRegistry",
    "EndpointReply",
    "EndpointRequest",
    "add_routes",
    "is_app_path",
]

#: The path spaces that are not the app's: the auth API, OAuth, the emulator's own.
RESERVED_PREFIXES = (AUTH_PREFIX, "/_auth", "/_emulator")
#: The methods a handler can be registered for.
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")

_log = logging.getLogger("agnost.emulator")


def is_app_path(path: str) -> bool:
    """Whether ``path`` (decoded, without the query) is one of the app's own endpoints."""
    return not any(path == prefix or path.startswith(prefix + "/") for prefix in RESERVED_PREFIXES)


@attrs.frozen
class EndpointRequest:
    """What a handler is given: the request, and who made it.

    ``query`` maps each key to its value, or to the list of its values when it repeats.
    ``headers`` are the request's headers, case-insensitive (left out of the repr: they carry
    the session token). ``body`` is the decoded JSON body (a form as a mapping), ``None``
    without one. ``user`` is the caller's user as stored and ``session`` the caller's session
    without its token (wire JSON, protocol.md §4), both ``None`` without a valid session.
    """

    method: str
    path: str
    query: Mapping[str, str | list[str]]
    headers: Mapping[str, str] = attrs.field(repr=False)
    body: Any
    user: dict[str, Any] | None
    session: dict[str, Any] | None


def _check_status(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 200 <= value <= 599:
        raise ValueError(f"status must be an integer from 200 to 599, not {value!r}")


_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_FIELD_VALUE = re.compile(r"[^\x00-\x08\x0a-\x1f\x7f]*")


def _check_headers(
    instance: object, attribute: attrs.Attribute[Mapping[str, str]], value: Mapping[str, str]
) -> None:
    # Checked here, in the handler's call, so that a bad header is the handler's 500 rather
    # than a connection the server drops half-way through writing the answer.
    for name, text in value.items():
        if not isinstance(name, str) or not _TOKEN.fullmatch(name):
            raise ValueError(f"{name!r} is not a header name")
        if not isinstance(text, str) or not _FIELD_VALUE.fullmatch(text):
            raise ValueError(f"the value of header {name} is not a string without control codes")


@attrs.frozen
class EndpointReply:
    """A handler's answer when a plain JSON value (answered with 200) will not do.

    ``body`` is sent as it is when it is ``bytes`` (``b""``, the default, is an empty body),
    and JSON-encoded otherwise (``None`` is ``null``). ``headers`` are added to the answer; a
    ``Content-Type`` among them replaces ``application/json``. For an error in the §5 shape::

        EndpointReply(404, {"errors": [{"origin": "client_error", "code": "not_found",
                                        "message": "No such order", "details": {}}]})
    """

    status: int = attrs.field(default=200, validator=_check_status)
    body: Any = b""
    headers: Mapping[str, str] = attrs.field(factory=dict, validator=_check_headers)


#: A handler: sync or async, taking the request, returning a JSON value or an EndpointReply.
EndpointHandler = Callable[[EndpointRequest], Any]


class EndpointRegistry:
    """The handlers of one emulator, by method and exact path."""

    def __init__(self) -> None:
        self._handlers: dict[tuple[str, str], EndpointHandler] = {}

    def add(self, method: str, path: str, handler: EndpointHandler) -> None:
        """Register ``handler`` for ``method`` on ``path`` (replacing one registered before).

        Raises ValueError for a method not in :data:`METHODS`, or a path that is not an app
        endpoint's (it must start with ``/``, have no query or fragment, and lie outside the
        auth API, ``/_auth`` and ``/_emulator``); TypeError for a handler that is no callable.
        """
        verb = method.upper() if isinstance(method, str) else method
        if verb not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
        if (
            not isinstance(path, str)
            or not path.startswith("/")
            or "?" in path
            or "#" in path
            or not is_app_path(path)
        ):
            raise ValueError(
                f"{path!r} is not an app endpoint's path: it must start with /, have no ? or #,"
                " and be outside /_api/rest/v1/auth, /_auth and /_emulator"
            )
        if not callable(handler):
            raise TypeError(f"the handler must be callable, not {type(handler).__name__}")
        self._handlers[(verb, path)] = handler

    def find(self, method: str, path: str) -> EndpointHandler | None:
        """The handler for ``method`` on ``path``; HEAD falls back to GET's."""
        handler = self._handlers.get((method, path))
        if handler is None and method == "HEAD":
            handler = self._handlers.get(("GET", path))
        return handler

    def allowed(self, path: str) -> list[str]:
        """The methods ``path`` answers: those with handlers, or every one for an echo."""
        taken = [verb for verb in METHODS if (verb, path) in self._handlers]
        if "GET" in taken and "HEAD" not in taken:
            taken.insert(1, "HEAD")
        return (taken or list(METHODS)) + ["OPTIONS"]


ENDPOINTS = web.AppKey("agnost_emulator_endpoints", EndpointRegistry)


async def _caller(request: web.Request) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The caller's user and tokenless session, or ``(None, None)``; a 401 instead when the
    request's client key enforces sessions."""
    state = request.app[STATE]
    enforced = state.config.enforces_session(request.headers.get("X-Client-Key"))
    try:
        caller = await authenticate(request)
        user = await state.db.run(Database.user_by_id, caller.user_id)
        if user is None:
            raise Refusal(401, "invalid_session_token", "The session's user no longer exists")
    except Refusal:
        if enforced:
            raise
        return None, None
    return user, caller.session


def _query(request: web.Request) -> dict[str, str | list[str]]:
    query: dict[str, str | list[str]] = {}
    for key, value in request.query.items():
        if key not in query:
            query[key] = value
        else:
            seen = query[key]
            query[key] = [*seen, value] if isinstance(seen, list) else [seen, value]
    return query


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, allow_nan=False).encode("utf-8")


def _answer(result: Any) -> web.Response:
    reply = result if isinstance(result, EndpointReply) else EndpointReply(body=result)
    headers = CIMultiDict(reply.headers)
    if isinstance(reply.body, bytes):
        body = reply.body
    else:
        body = _json_bytes(reply.body)
        headers.setdefault("Content-Type", "application/json")
    return web.Response(status=reply.status, body=body, headers=headers)


async def _call(handler: EndpointHandler, endpoint_request: EndpointRequest) -> Any:
    if inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(
        getattr(handler, "__call__", None)  # noqa: B004 - an object with an async __call__
    ):
        return await handler(endpoint_request)
    loop = asyncio.get_running_loop()
    result = await loop.run_in_executor(None, handler, endpoint_request)
    return await result if inspect.isawaitable(result) else result


async def app_endpoint(request: web.Request) -> web.StreamResponse:
    """Answer an app endpoint: its handler's answer, or the echo."""
    path = request.path
    if not is_app_path(path):  # reached through an encoded slash, say /_emulator%2Fconfig
        raise web.HTTPNotFound()
    registry = request.app[ENDPOINTS]
    allowed = registry.allowed(path)
    if request.method == "OPTIONS":
        return web.Response(status=204, headers={"Allow": ", ".join(allowed)})
    if request.method not in allowed:
        raise web.HTTPMethodNotAllowed(request.method, allowed)
    user, session = await _caller(request)
    endpoint_request = EndpointRequest(
        method=request.method,
        path=path,
        query=_query(request),
        headers=request.headers,
        body=await read_json(request),
        user=user,
        session=session,
    )
    handler = registry.find(request.method, path)
    if handler is None:
        return web.json_response(attrs.asdict(endpoint_request, filter=_echoed))
    try:
        return _answer(await _call(handler, endpoint_request))
    except Exception as exc:
        _log.error("the handler of %s %s failed: %s", request.method, path, where(exc))
        body = error_body("internal_server_error", "The endpoint's handler failed", server=True)
        return web.json_response(body, status=500)


def _echoed(attribute: attrs.Attribute[Any], value: Any) -> bool:
    return attribute.name != "headers"


#: Matches every path but those under the reserved prefixes, so that a wrong method on an
#: auth path stays a 405 rather than falling through to the echo.
_ROUTE = "/{path:(?!(?:_api/rest/v1/auth|_auth|_emulator)(?:/|$)).*}"


def add_routes(app: web.Application, registry: EndpointRegistry) -> None:
    """Register the app endpoints (after every other route) with ``registry``'s handlers."""
    app[ENDPOINTS] = registry
    app.router.add_route("*", _ROUTE, app_endpoint)
