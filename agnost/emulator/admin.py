"""The emulator-only endpoints under ``/_emulator/`` (no client key needed).

========================================  =====================================================
``GET /_emulator/``                        this list, as JSON
``GET /_emulator/outbox``                  messages "sent": ``{"messages": [...]}``, oldest
                                          first; ``?recipient=`` and ``?kind=`` filter
``DELETE /_emulator/outbox``               empty the outbox
``POST /_emulator/reset``                  delete every user, session, token and message
``GET /_emulator/config``                  the settings (see :class:`EmulatorConfig`)
``PATCH /_emulator/config``                change some settings: ``{"emailConfirmation": true}``
``GET /_emulator/redirect``                the default redirect page: shows ``access_token``
========================================  =====================================================

All of them answer only a ``Host`` that names the emulator (see ``--allowed-host``): 403
``host_not_allowed`` otherwise.

An outbox message: ``{"id", "recipient", "kind", "link", "code", "accessToken", "userId",
"createdAt"}``; ``kind`` is ``"email_verification"`` for now, and ``accessToken`` is what
``GET /_api/rest/v1/auth/grant?key=`` takes.
"""

from __future__ import annotations

import logging

from aiohttp import web

from .config import ConfigError
from .db import Database
from .errors import InvalidFields
from .state import STATE
from .validation import read_body

__all__ = ["ENDPOINTS", "routes"]

#: What ``GET /_emulator/`` lists.
ENDPOINTS = {
    "GET /_emulator/outbox": "messages sent, oldest first; ?recipient= and ?kind= filter",
    "DELETE /_emulator/outbox": "empty the outbox",
    "POST /_emulator/reset": "delete every user, session, access token and message",
    "GET /_emulator/config": "the emulator's settings",
    "PATCH /_emulator/config": "change some settings (same keys as GET)",
    "GET /_emulator/redirect": "the default redirect page: shows the access_token",
    "GET /_auth/{provider}": "fake OAuth sign-in; ?id=, ?email=, ?name= pick the identity",
    "* /{any other path}": "an app endpoint (client key needed): an echo of the request and"
    " its caller, unless a handler is registered; a 401 without a session when enforced",
}

_log = logging.getLogger("agnost.emulator")

routes = web.RouteTableDef()


@routes.get("/_emulator/")
async def index(request: web.Request) -> web.Response:
    """The list of emulator-only endpoints."""
    return web.json_response({"endpoints": ENDPOINTS})


@routes.get("/_emulator/outbox")
async def list_outbox(request: web.Request) -> web.Response:
    """Messages "sent", oldest first, filtered by ``?recipient=`` and ``?kind=``."""
    messages = await request.app[STATE].db.run(
        Database.messages,
        recipient=request.query.get("recipient") or None,
        kind=request.query.get("kind") or None,
    )
    return web.json_response({"messages": messages})


@routes.delete("/_emulator/outbox")
async def clear_outbox(request: web.Request) -> web.Response:
    """Empty the outbox."""
    await request.app[STATE].db.run(Database.clear_messages)
    return web.json_response({})


@routes.post("/_emulator/reset")
async def reset(request: web.Request) -> web.Response:
    """Delete all data; the settings stay."""
    await request.app[STATE].db.run(Database.reset)
    _log.info("deleted all data")
    return web.json_response({})


@routes.get("/_emulator/config")
async def read_config(request: web.Request) -> web.Response:
    """The current settings."""
    return web.json_response(request.app[STATE].config.to_wire())


@routes.patch("/_emulator/config")
async def change_config(request: web.Request) -> web.Response:
    """Change the settings named in the body; all or nothing. Answers the new settings."""
    config = request.app[STATE].config
    try:
        config.update(await read_body(request))
    except ConfigError as exc:
        raise InvalidFields({exc.field: exc.reason}) from exc
    _log.info("settings changed")
    return web.json_response(config.to_wire())


@routes.get("/_emulator/redirect")
async def redirect_landing(request: web.Request) -> web.Response:
    """Where the browser lands when no redirect URL is configured: shows what it carried."""
    return web.json_response(
        {
            "action": request.query.get("action"),
            "accessToken": request.query.get("access_token"),
            "next": "GET /_api/rest/v1/auth/grant?key=<accessToken> signs the user in",
        }
    )
