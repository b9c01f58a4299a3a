"""The emulator-only endpoints under ``/_emulator/`` (no client key needed).

========================================  =====================================================
``GET /_emulator/``                        this list, as JSON
``GET /_emulator/health``                  ``{"status": "ok"}`` once serving: for CI to poll
``GET /_emulator/export``                  the users, in the form ``--seed`` reads
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

A seed (``agnost emulator --seed FILE``) and an export are one JSON shape: ``{"users": [...]}``,
each user its document as the API shows it (custom fields too) with either ``"password"``
(hashed on the way in) or ``"passwordHash"`` (as an export gives it), and ``email`` or
``phone``. A seeded user's email or phone counts as verified unless the entry says
``"emailVerified": false``; ``_id`` and ``signUpAt`` are kept when given, made up otherwise.
Sessions, access tokens and the outbox are not exported: their tokens are stored only as
digests, and a test makes new ones in a moment.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from aiohttp import web

from .accounts import new_user_doc
from .config import MAX_HASH_COST, MIN_HASH_COST, ConfigError
from .db import Database, DuplicateUserError
from .errors import InvalidFields
from .security import hash_password, stored_cost
from .state import STATE
from .validation import Fields, read_body

__all__ = ["ENDPOINTS", "MAX_SEED_USERS", "SeedError", "export", "parse_seed", "routes", "seed"]

#: The most users one seed file may hold.
MAX_SEED_USERS = 10_000

#: What ``GET /_emulator/`` lists.
ENDPOINTS = {
    "GET /_emulator/health": '{"status": "ok"} once serving',
    "GET /_emulator/export": "every user (with the password hash), in the form --seed reads",
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


@routes.get("/_emulator/health")
async def health(request: web.Request) -> web.Response:
    """That the emulator is serving; nothing else (no keys, no settings)."""
    return web.json_response({"status": "ok"})


@routes.get("/_emulator/export")
async def export_users(request: web.Request) -> web.Response:
    """Every user, in the form a seed file has."""
    return web.json_response(await request.app[STATE].db.run(export))


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


class SeedError(ValueError):
    """A seed file that cannot be used; the message names the entry and field."""


#: A checked seed entry: (the user document, its password hash).
SeedUser = tuple[dict[str, Any], str]


def parse_seed(document: object, hash_cost: int) -> list[SeedUser]:
    """Check a seed document (``{"users": [...]}``) and hash its passwords at ``hash_cost``.

    Raises :class:`SeedError` naming the first bad entry; nothing is stored here.
    """
    users = document.get("users") if isinstance(document, dict) else None
    if not isinstance(users, list) or len(users) > MAX_SEED_USERS:
        raise SeedError(f'a seed is {{"users": [...]}} with at most {MAX_SEED_USERS} users')
    return [_seed_user(index, entry, hash_cost) for index, entry in enumerate(users)]


def _seed_user(index: int, entry: object, hash_cost: int) -> SeedUser:
    where = f"users[{index}]"
    if not isinstance(entry, dict):
        raise SeedError(f"{where} must be an object")
    doc = dict(entry)
    password, stored = doc.pop("password", None), doc.pop("passwordHash", None)
    fields = Fields({**doc, "password": password})
    if "email" in doc:
        doc["email"] = fields.email()
    if "phone" in doc:
        doc["phone"] = fields.phone()
    if password is not None:
        fields.password()
    try:
        fields.done()
    except InvalidFields as exc:
        detail = "; ".join(f"{where}.{field} {reason}" for field, reason in exc.problems.items())
        raise SeedError(detail) from None
    if "email" not in doc and "phone" not in doc:
        raise SeedError(f"{where} needs an email or a phone")
    if (password is None) == (stored is None):
        raise SeedError(f"{where} needs a password or a passwordHash (one of them)")
    if stored is not None:
        cost = stored_cost(stored) if isinstance(stored, str) else None
        if cost is None or not MIN_HASH_COST <= cost <= MAX_HASH_COST or stored.count("$") != 5:
            raise SeedError(f"{where}.passwordHash is not a hash this emulator made")
    for identity, key in (("email", "emailVerified"), ("phone", "phoneVerified")):
        if identity in doc and not isinstance(doc.setdefault(key, True), bool):
            raise SeedError(f"{where}.{key} must be true or false")
    return doc, stored if stored is not None else hash_password(password, hash_cost)


def seed(db: Database, users: Sequence[SeedUser], now: float) -> int:
    """Store checked seed users (on the database thread), all or none; returns how many.

    Raises :class:`SeedError` when one's email, phone or id is taken (by an earlier entry, or
    by a user the database already holds).
    """
    with db.transaction():
        for index, (fields, password_hash) in enumerate(users):
            doc = new_user_doc(now, fields)
            if "providerUserId" not in fields:  # an entry's own _id is its provider id too
                doc["providerUserId"] = doc["_id"]
            try:
                db.insert_user(
                    doc,
                    email=doc.get("email"),
                    phone=doc.get("phone"),
                    provider=doc["provider"],
                    provider_user_id=doc["providerUserId"],
                    password_hash=password_hash,
                )
            except DuplicateUserError as exc:
                raise SeedError(f"users[{index}].{exc.field} is already taken") from None
    return len(users)


def export(db: Database) -> dict[str, Any]:
    """Every user, oldest first, in the form :func:`parse_seed` reads."""
    users = []
    for doc, password_hash in db.users():
        if password_hash is not None:
            doc["passwordHash"] = password_hash
        users.append(doc)
    return {"users": users}
