"""Password reset: by emailed link (``send-reset`` then ``reset-pwd?key=``) and by SMS code
(``send-reset-code`` then ``reset-pwd-code?phone=&code=``), both with ``{newPassword}``
(protocol.md §10).

The send calls answer the same, after the same work, whether or not an account has the
address. A reset sets the new password, signs out every session of the user (whoever knew the
old password is out), uses up the user's other reset links and codes and any pending email or
phone change (whoever asked for it knew the old password), and marks the address
the link or code went to verified. A reset token is only for ``reset-pwd``: the grant endpoint
refuses it.
"""

from __future__ import annotations

import logging

from aiohttp import web

from . import accounts, onetime
from .auth import (
    AUTH_PREFIX,
    code_field,
    code_refusal,
    email_a_link,
    empty_answer,
    hash_off_loop,
    state_of,
    text_a_code,
    user_with_email,
)
from .db import Database
from .errors import Refusal
from .security import token_digest
from .validation import Fields, read_body

__all__ = ["routes"]

_log = logging.getLogger("agnost.emulator")

routes = web.RouteTableDef()


def _set_password(db: Database, user_id: str, password_hash: str, verified: str) -> None:
    """Inside a transaction: the reset's effects (see the module doc)."""
    db.set_password_hash(user_id, password_hash)
    db.delete_sessions(user_id)
    db.delete_access_tokens(user_id, "password_reset")
    db.delete_codes(user_id, "password_reset")
    db.delete_pending_changes(user_id)
    user = db.user_by_id(user_id)
    if user is not None:
        user[verified] = True
        db.update_user(user)


async def _reset_fields(request: web.Request, *query: str) -> Fields:
    """The query parameters ``query`` and the body's ``newPassword``, as one set of fields
    (so that every problem is reported at once)."""
    body = await read_body(request)
    values = {name: request.query[name] for name in query if name in request.query}
    if "newPassword" in body:
        values["newPassword"] = body["newPassword"]
    return Fields(values)


@routes.post(AUTH_PREFIX + "/send-reset")
async def send_reset_pwd_email(request: web.Request) -> web.Response:
    """``?email=`` -> empty: emails a reset link (``access_token`` for ``reset-pwd``) if a
    user has the address."""
    return await email_a_link(
        request, "password_reset", user_with_email, "a password reset link request"
    )


@routes.post(AUTH_PREFIX + "/reset-pwd")
async def reset_pwd_with_token(request: web.Request) -> web.Response:
    """``?key=<reset token>`` with ``{newPassword}`` -> empty; the token is used up.

    No key: 400 ``missing_access_token``; a wrong, used or expired one: 403
    ``invalid_access_token``.
    """
    key = request.query.get("key", "")
    if not key:
        raise Refusal(400, "missing_access_token", "The access token (key) is required")
    fields = await _reset_fields(request)
    password = fields.password("newPassword")
    fields.done()
    state = state_of(request)
    password_hash = await hash_off_loop(state, password)
    now = state.clock()

    def reset(db: Database) -> str | None:
        with db.transaction():
            taken = db.take_access_token(token_digest(key), now, ("password_reset",))
            if taken is None:
                return None
            user = db.user_by_id(taken[0])
            if user is None or not accounts.same_address(user, taken[2]):
                return None  # the address changed since the link was sent
            _set_password(db, taken[0], password_hash, "emailVerified")
            return taken[0]

    user_id = await state.db.run(reset)
    if user_id is None:
        raise Refusal(403, "invalid_access_token", "The access token is invalid, used or expired")
    _log.info("reset the password of user %s by link", user_id)
    return empty_answer()


@routes.post(AUTH_PREFIX + "/send-reset-code")
async def send_reset_pwd_code(request: web.Request) -> web.Response:
    """``?phone=`` -> empty: texts a reset code if a user has the number."""
    return await text_a_code(request, "password_reset", "a password reset code request")


@routes.post(AUTH_PREFIX + "/reset-pwd-code")
async def reset_pwd_with_code(request: web.Request) -> web.Response:
    """``?phone=&code=`` with ``{newPassword}`` -> empty; the code is used up.

    A wrong, used or expired code: 401 ``invalid_code``; tries used up: 429
    ``too_many_attempts``.
    """
    fields = await _reset_fields(request, "phone", "code")
    phone = fields.phone()
    code = code_field(fields)
    password = fields.password("newPassword")
    fields.done()
    state = state_of(request)
    password_hash = await hash_off_loop(state, password)
    rules = onetime.CodeRules.of(state.config)
    now = state.clock()

    def reset(db: Database) -> onetime.Taken | str:
        with db.transaction():
            taken = onetime.take_code(db, phone, "password_reset", code, now, rules)
            if isinstance(taken, str):
                return taken
            user = db.user_by_id(taken[0])
            if user is None or user.get("phone") != phone:  # the number changed since
                return onetime.INVALID_CODE
            _set_password(db, taken[0], password_hash, "phoneVerified")
            return taken

    outcome = await state.db.run(reset)
    if isinstance(outcome, str):
        raise code_refusal(outcome)
    _log.info("reset the password of user %s by code", outcome[0])
    return empty_answer()
