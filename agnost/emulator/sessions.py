"""Sessions: sign-out (one, all, all but current), the caller's sessions and user
(protocol.md §3, §7).

Session listings show the caller's own session with its token. Other sessions are shown
with a *session handle* in ``token`` (the hex SHA-256 the database keeps instead of the
token): the real tokens are not stored, so they cannot be shown, and the handle is what
``/signout`` accepts to end that session (only for its owner, only as ``{"token": ...}``;
it never authenticates a request).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable

from aiohttp import web

from .auth import (
    AUTH_PREFIX,
    authenticate,
    empty_answer,
    not_before,
    session_token,
    session_wire,
    state_of,
)
from .db import BUSY, Database
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
    # In one query when the session is live (the caller's own is then among its user's);
    # else authenticate() refuses as every other call does.
    token = session_token(request)
    own = token_digest(token)
    state = state_of(request)
    since = not_before(state, state.clock())
    rows = state.db.read_now(Database.caller_sessions, own, since)
    if rows is BUSY:
        rows = await state.db.run(Database.caller_sessions, own, since)
    if not rows:  # refused by authenticate(), unless the session came to life meanwhile
        found = await authenticate(request)
        rows = await state.db.run(Database.live_session_texts, found.user_id, since)
    listed = []
    for digest, text in rows:
        known = _around_token.get(digest)  # listed_session's, looked up here for speed
        if digest != own and known is not None and known[0] == text and known[3] is not None:
            listed.append(known[3])
        else:
            listed.append(listed_session(text, token if digest == own else digest, digest))
    return web.Response(
        body=f"[{', '.join(listed)}]".encode(), content_type="application/json", charset="utf-8"
    )


def listed_session(text: str, token: str, digest: str | None = None) -> str:
    """``json.dumps(session_wire(json.loads(text), token))``: a stored session (its JSON
    ``text``, stored under ``digest`` if given) as a listing shows it, with ``token`` in it.

    The JSON around the token is worked out once per stored session (sessions do not
    change; remembered by digest, and by text without one), and so is the whole of it with
    the session handle (``digest``) as its token, so a listing decodes and encodes only the
    caller's own token.
    """
    key = text if digest is None else digest
    known = _around_token.get(key)
    if known is None or known[0] != text:
        if len(_around_token) >= _REMEMBERED:
            _around_token.clear()
        before, after = _parts_around_token(text)
        handle = None
        if before is not None and after is not None and digest is not None:
            handle = before + _encode_string(digest) + after
        known = _around_token[key] = (text, before, after, handle)
    _, before, after, handle = known
    if handle is not None and token == digest:
        return handle
    if before is None or after is None:
        return json.dumps(session_wire(json.loads(text), token))
    return before + _encode_string(token) + after


#: ``json.dumps`` of one string, as it writes one inside a document (``ensure_ascii``).
_encode_string: Callable[[str], str] = json.encoder.encode_basestring_ascii

#: What :func:`listed_session` has worked out: digest (or text) -> (text, before, after,
#: the whole with the digest as the token).
_around_token: dict[str, tuple[str, str | None, str | None, str | None]] = {}
#: How many stored sessions :data:`_around_token` remembers before it starts over.
_REMEMBERED = 4096


def _parts_around_token(text: str) -> tuple[str | None, str | None]:
    """The JSON text of the listed session stored as ``text``, before and after its token
    (``session_wire`` puts ``userId`` first and ``token`` second); None for a document that
    does not come out that way (one that holds a ``token``: it is then encoded each time)."""
    doc = json.loads(text)
    before = '{"userId": ' + json.dumps(doc["userId"]) + ', "token": '
    whole = json.dumps(session_wire(doc, ""))
    if "token" in doc or not whole.startswith(before + '""'):
        return None, None
    return before, whole[len(before) + 2 :]


@routes.get(AUTH_PREFIX + "/user")
async def get_user_from_db(request: web.Request) -> web.Response:
    """The caller's user as stored."""
    caller = await authenticate(request)
    user = await state_of(request).db.run(Database.user_by_id, caller.user_id)
    if user is None:
        raise Refusal(404, "user_not_found", "The session's user no longer exists")
    return web.json_response(user)
