"""Sessions: sign-out (one, all, all but current), the caller's sessions and user
(protocol.md §3, §7).

Session listings show the caller's own session with its token. Other sessions are shown
with a *session handle* in ``token`` (the hex SHA-256 the database keeps instead of the
token): the real tokens are not stored, so they cannot be shown, and the handle is what
``/signout`` accepts to end that session (only for its owner, only as ``{"token": ...}``;
it never authenticates a request).
"""

from __future__ import annotations

import logging
import re

from aiohttp import web

from .auth import AUTH_PREFIX, authenticate, empty_answer, not_before, session_wire, state_of
from .db import Database
from .errors import Refusal
from .security import token_digest
from .validation import Fields, read_body

__all__ = ["routes"]

_log = logging.getLogger("agnost.emulator")
_HANDLE = re.compile(r"[0-9a-f]{64}")

routes = web.RouteTableDef()


@routes.post(AUTH_PREFIX + "/signout")
async def sign_out(request: web.Request) -> web.Response:
    """End the caller's session, or the one named by ``{"token": ...}``.

    Another user's session: 403; an unknown token: 404 (both ``invalid_session_token``).
    """
    caller = await authenticate(request)
    fields = Fields(await read_body(request))
    token = fields.string("token", required=False)
    fields.done()
    if token is None:
        digest = caller.digest
    else:
        digest = token if _HANDLE.fullmatch(token) else token_digest(token)
    state = state_of(request)

    def sign_out_one(db: Database) -> str | None:
        with db.transaction():
            owner = db.session_owner(digest)
            if owner == caller.user_id:
                db.delete_session(digest)
            return owner

    owner = await state.db.run(sign_out_one)
    if owner is None:
        raise Refusal(404, "invalid_session_token", "No session has this token")
    if owner != caller.user_id:
        raise Refusal(403, "invalid_session_token", "The session belongs to another user")
    _log.info("signed out a session of user %s", caller.user_id)
    return empty_answer(expire_cookie=digest == caller.digest)


@routes.post(AUTH_PREFIX + "/signout-all")
async def sign_out_all(request: web.Request) -> web.Response:
    """End every session of the caller's user, the caller's too."""
    caller = await authenticate(request)
    await state_of(request).db.run(Database.delete_sessions, caller.user_id)
    _log.info("signed out all sessions of user %s", caller.user_id)
    return empty_answer(expire_cookie=True)


@routes.post(AUTH_PREFIX + "/signout-all-except")
async def sign_out_all_except_current(request: web.Request) -> web.Response:
    """End every session of the caller's user but the caller's."""
    caller = await authenticate(request)
    await state_of(request).db.run(Database.delete_sessions, caller.user_id, keep=caller.digest)
    _log.info("signed out the other sessions of user %s", caller.user_id)
    return empty_answer(expire_cookie=False)


@routes.get(AUTH_PREFIX + "/sessions")
async def get_all_sessions(request: web.Request) -> web.Response:
    """The caller's user's unexpired sessions, oldest first (see the module doc on tokens)."""
    caller = await authenticate(request)
    state = state_of(request)
    rows = await state.db.run(
        Database.live_sessions, caller.user_id, not_before(state, state.clock())
    )
    listed = [
        session_wire(doc, caller.token if digest == caller.digest else digest)
        for digest, doc in rows
    ]
    return web.json_response(listed)


@routes.get(AUTH_PREFIX + "/user")
async def get_user_from_db(request: web.Request) -> web.Response:
    """The caller's user as stored."""
    caller = await authenticate(request)
    user = await state_of(request).db.run(Database.user_by_id, caller.user_id)
    if user is None:
        raise Refusal(404, "user_not_found", "The session's user no longer exists")
    return web.json_response(user)
