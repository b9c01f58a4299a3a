"""Verification: the phone code exchanged by ``verify-phone``, and resending verification
emails (``resend``) and codes (``resend-code``) (protocol.md §10).

``verify-phone?code=&phone=`` takes the code texted at sign-up by phone (phone confirmation
on), by ``resend-code``, or to the new number of a phone change (``change-phone`` with phone
confirmation on: the number becomes the user's now). It marks the number verified and answers
``{user, session}``, or ``{user, session: null}`` with ``signInOnPhoneVerification`` off.

The resend calls answer the same, after the same work, whether or not an account has the
address, and whether or not it still needs verifying: a message goes out only to an address
of an account that is not verified yet (an email whatever ``emailConfirmation`` says; a number
whatever ``phoneConfirmation`` says, or the pending new number of a phone change). A new link
or code replaces the one sent before.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from . import accounts, onetime
from .auth import (
    AUTH_PREFIX,
    code_field,
    code_refusal,
    email_a_link,
    empty_answer,
    query_fields,
    session_wire,
    state_of,
    user_agent_of,
    with_session,
)
from .db import Database, DuplicateUserError
from .errors import Refusal

__all__ = ["routes"]

_log = logging.getLogger("agnost.emulator")

routes = web.RouteTableDef()

#: What verifying answers when the pending new number was taken by another user meanwhile.
_PHONE_TAKEN = "phone_not_unique"


@routes.post(AUTH_PREFIX + "/verify-phone")
async def verify_phone(request: web.Request) -> web.Response:
    """``?code=&phone=`` -> ``{user, session or null}``; the code is used up.

    A wrong, used or expired code: 401 ``invalid_code``; tries used up: 429
    ``too_many_attempts``; the pending new number of a phone change taken meanwhile: 400
    ``phone_not_unique``.
    """
    fields = query_fields(request, "code", "phone")
    code = code_field(fields)
    phone = fields.phone()
    fields.done()
    state = state_of(request)
    sign_in = state.config.sign_in_on_phone_verification
    user_agent = await user_agent_of(request) if sign_in else None
    limits = accounts.Limits.of(state.config)
    rules = onetime.CodeRules.of(state.config)
    now = state.clock()

    def verify(db: Database) -> tuple[dict[str, Any], accounts.OpenedSession | None] | str:
        with db.transaction():
            taken = onetime.take_code(db, phone, "phone_verification", code, now, rules)
            if isinstance(taken, str):
                return taken
            user_id, new_phone = taken
            user = db.user_by_id(user_id)
            # A code for the user's number, or for the new number of their phone change.
            if user is None or (new_phone or user.get("phone")) != phone:
                return onetime.INVALID_CODE
            if new_phone is not None:
                user["phone"] = new_phone
            user["phoneVerified"] = True
            try:
                db.update_user_contact(user)
            except DuplicateUserError:
                return _PHONE_TAKEN
            if user_agent is None:
                return user, None
            return user, accounts.open_session(db, user, user_agent, now, limits)

    outcome = await state.db.run(verify)
    if outcome == _PHONE_TAKEN:
        raise Refusal(400, "phone_not_unique", "A user with this phone already exists")
    if isinstance(outcome, str):
        raise code_refusal(outcome)
    user, opened = outcome
    _log.info("verified the phone of user %s", user["_id"])
    if opened is None:
        return web.json_response({"user": user, "session": None})
    token, session = opened
    return with_session({"user": user, "session": session_wire(session, token)}, state, token)


@routes.post(AUTH_PREFIX + "/resend")
async def resend_verification_email(request: web.Request) -> web.Response:
    """``?email=`` -> empty: a new verification link to an account's unverified address."""
    return await email_a_link(
        request, "email_verification", _unverified, "a verification email request"
    )


@routes.post(AUTH_PREFIX + "/resend-code")
async def resend_verification_code(request: web.Request) -> web.Response:
    """``?phone=`` -> empty: a new verification code to an account's unverified number (or
    the pending new number of its phone change)."""
    fields = query_fields(request, "phone")
    phone = fields.phone()
    fields.done()
    state = state_of(request)
    rules = onetime.CodeRules.of(state.config)
    now = state.clock()

    def resend(db: Database) -> None:
        found = db.user_with_password(phone=phone)
        pending = db.code(phone, "phone_verification")  # read either way: the same work
        user_id: str | None = None
        payload: str | None = None
        if found is not None:
            if not found[0].get("phoneVerified"):
                user_id = found[0]["_id"]
        elif pending is not None and pending[5] == phone and pending[4] > now:
            # A phone change waiting (one whose code expired has lapsed: not revived).
            user_id, payload = pending[0], phone
        onetime.send_code(db, phone, "phone_verification", user_id, rules, now, payload)

    await state.db.run(resend)
    _log.info("handled a verification code request (see /_emulator/outbox)")
    return empty_answer()


def _unverified(db: Database, email: str) -> str | None:
    """The id of the user with ``email`` if the address still needs verifying."""
    found = db.user_with_password(email=email)
    if found is None or found[0].get("emailVerified"):
        return None
    user_id: str = found[0]["_id"]
    return user_id
