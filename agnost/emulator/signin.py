"""Sign-up and sign-in: by email or phone and password, by SMS code (``send-code`` then
``signin-code``), by magic link (``send-magic``), and the grant endpoint that exchanges the
access token of a magic link, an email verification, an email change or an OAuth sign-in for
a session (protocol.md §3, §7, §10).

With email confirmation on, sign-up by email answers ``session: null`` and emails a
verification link; with phone confirmation on, sign-up by phone answers ``session: null`` and
texts a code for ``verify-phone`` (:mod:`.verification`), and sign-in by phone and password
is refused (401 ``phone_not_verified``) until then. A sign-in code or a magic link proves the
number or the address, so it marks it verified.
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
    hash_off_loop,
    password_matches,
    query_fields,
    redirect_url,
    session_wire,
    state_of,
    text_a_code,
    user_agent_of,
    user_with_email,
    with_session,
)
from .db import Database, DuplicateUserError
from .errors import Refusal
from .security import stored_cost
from .validation import Fields, read_body

__all__ = ["routes"]

_log = logging.getLogger("agnost.emulator")

routes = web.RouteTableDef()


async def _sign_up(request: web.Request, kind: str) -> web.Response:
    state = state_of(request)
    fields = Fields(await read_body(request))
    identity = fields.email() if kind == "email" else fields.phone()
    password = fields.password()
    extra = fields.user_data("nameOrUserData", (kind, identity))
    fields.done()

    config = state.config
    confirm = config.email_confirmation if kind == "email" else config.phone_confirmation
    now = state.clock()
    user = accounts.new_user_doc(now, extra)
    if kind == "email":
        user.update(email=identity, emailVerified=False)
    else:
        user.update(phone=identity, phoneVerified=False)
    password_hash = await hash_off_loop(state, password)
    user_agent = None if confirm else await user_agent_of(request)
    limits = accounts.Limits.of(config)
    try:
        opened = await state.db.run(
            accounts.create_user,
            user,
            password_hash=password_hash,
            user_agent=user_agent,
            now=now,
            limits=limits,
        )
    except DuplicateUserError as exc:
        raise Refusal(
            400, f"{exc.field}_not_unique", f"A user with this {exc.field} already exists"
        ) from exc
    _log.info("signed up user %s with %s", user["_id"], kind)
    if confirm and kind == "email":
        await state.db.run(
            onetime.send_link,
            identity,
            "email_verification",
            user["_id"],
            redirect_url(request),
            now,
            limits.access_token_lifetime,
            limits.max_outbox_messages,
        )
        _log.info("sent an email verification to user %s (see /_emulator/outbox)", user["_id"])
    elif confirm:
        rules = onetime.CodeRules.of(config)
        await state.db.run(
            onetime.send_code, identity, "phone_verification", user["_id"], rules, now
        )
        _log.info("sent a phone verification code to user %s (see /_emulator/outbox)", user["_id"])
    if opened is None:
        return web.json_response({"user": user, "session": None})
    token, session = opened
    return with_session({"user": user, "session": session_wire(session, token)}, state, token)


async def _sign_in(request: web.Request, kind: str) -> web.Response:
    state = state_of(request)
    fields = Fields(await read_body(request))
    identity = fields.email() if kind == "email" else fields.phone()
    password = fields.password(check_strength=False)
    fields.done()

    lookup = {kind: identity}

    def look_up(db: Database) -> tuple[tuple[dict[str, Any], str | None] | None, int | None]:
        return db.user_with_password(**lookup), db.highest_hash_cost()

    found, highest = await state.db.run(look_up)
    user, stored = found if found is not None else (None, None)
    cost = state.config.hash_cost
    if not await password_matches(password, stored, cost if highest is None else highest):
        raise Refusal(401, "invalid_credentials", f"Invalid {kind} or password")
    assert user is not None  # a password matched its hash
    if kind == "email" and state.config.email_confirmation and not user.get("emailVerified"):
        raise Refusal(401, "email_not_verified", "The email address has not been verified")
    if kind == "phone" and state.config.phone_confirmation and not user.get("phoneVerified"):
        raise Refusal(401, "phone_not_verified", "The phone number has not been verified")

    # A hash made at a lower cost than the configured one is remade at it; a costlier one is
    # kept: lowering the cost (which an unauthenticated PATCH can) never weakens a stored hash.
    rehashed = None
    if stored is not None and (stored_cost(stored) or 0) < cost:
        rehashed = await hash_off_loop(state, password)
    user_agent = await user_agent_of(request)
    limits = accounts.Limits.of(state.config)
    user_id: str = user["_id"]

    def sign_in(db: Database) -> tuple[dict[str, Any], accounts.OpenedSession] | None:
        with db.transaction():
            # The check ran off this thread, slowly: if the password was changed meanwhile (a
            # reset, whose point is that the old password lets no one in), refuse; and open
            # the session on the user as stored now, not as read before the check.
            current = db.user_by_id(user_id)
            if current is None or db.password_hash(user_id) != stored:
                return None
            if rehashed is not None:
                db.set_password_hash(user_id, rehashed)
            return current, accounts.open_session(db, current, user_agent, state.clock(), limits)

    opened = await state.db.run(sign_in)
    if opened is None:
        raise Refusal(401, "invalid_credentials", f"Invalid {kind} or password")
    signed_in, (token, session) = opened
    _log.info("signed in user %s with %s", user_id, kind)
    return with_session({"user": signed_in, "session": session_wire(session, token)}, state, token)


@routes.post(AUTH_PREFIX + "/signup-email")
async def sign_up_with_email(request: web.Request) -> web.Response:
    """``{email, password, nameOrUserData?}`` -> ``{user, session or null}``."""
    return await _sign_up(request, "email")


@routes.post(AUTH_PREFIX + "/signup-phone")
async def sign_up_with_phone(request: web.Request) -> web.Response:
    """``{phone, password, nameOrUserData?}`` -> ``{user, session or null}``."""
    return await _sign_up(request, "phone")


@routes.post(AUTH_PREFIX + "/signin-email")
async def sign_in_with_email(request: web.Request) -> web.Response:
    """``{email, password}`` -> ``{user, session}``."""
    return await _sign_in(request, "email")


@routes.post(AUTH_PREFIX + "/signin-phone")
async def sign_in_with_phone(request: web.Request) -> web.Response:
    """``{phone, password}`` -> ``{user, session}``."""
    return await _sign_in(request, "phone")


# --- sign-in codes ---------------------------------------------------------------------------


@routes.post(AUTH_PREFIX + "/send-code")
async def send_sign_in_code(request: web.Request) -> web.Response:
    """``?phone=`` -> empty: texts a sign-in code if a user has the number; the same answer,
    after the same work, if none has."""
    return await text_a_code(request, "sign_in", "a sign-in code request")


@routes.post(AUTH_PREFIX + "/signin-code")
async def sign_in_with_code(request: web.Request) -> web.Response:
    """``?code=&phone=`` -> ``{user, session}``; the code is used up, and the number verified.

    A wrong, used or expired code: 401 ``invalid_code``; tries used up: 429
    ``too_many_attempts``.
    """
    fields = query_fields(request, "code", "phone")
    code = code_field(fields)
    phone = fields.phone()
    fields.done()
    state = state_of(request)
    user_agent = await user_agent_of(request)
    limits = accounts.Limits.of(state.config)
    rules = onetime.CodeRules.of(state.config)
    now = state.clock()

    def exchange(db: Database) -> tuple[dict[str, Any], accounts.OpenedSession] | str:
        with db.transaction():
            taken = onetime.take_code(db, phone, "sign_in", code, now, rules)
            if isinstance(taken, str):
                return taken
            user = db.user_by_id(taken[0])
            if user is None or user.get("phone") != phone:  # the number changed since
                return onetime.INVALID_CODE
            user["phoneVerified"] = True
            return user, accounts.open_session(db, user, user_agent, now, limits)

    outcome = await state.db.run(exchange)
    if isinstance(outcome, str):
        raise code_refusal(outcome)
    user, (token, session) = outcome
    _log.info("signed in user %s with a code", user["_id"])
    return with_session({"user": user, "session": session_wire(session, token)}, state, token)


# --- magic links and the grant ---------------------------------------------------------------


@routes.post(AUTH_PREFIX + "/send-magic")
async def send_magic_link_email(request: web.Request) -> web.Response:
    """``?email=`` -> empty: emails a sign-in link (``access_token`` for ``/grant``) if a
    user has the address; the same answer, after the same work, if none has."""
    return await email_a_link(request, "magic_link", user_with_email, "a magic link request")


# No HEAD: it would use up the access token, and HEAD must change nothing (405 instead).
@routes.get(AUTH_PREFIX + "/grant", allow_head=False)
async def get_auth_grant(request: web.Request) -> web.Response:
    """``?key=<access token>`` -> ``{user, session}``; the access token is used up.

    Takes the tokens of email verification, magic links, email changes and OAuth; a
    password-reset token is refused here (and left usable for ``reset-pwd``).
    """
    key = request.query.get("key", "")
    if not key:
        raise Refusal(400, "missing_access_token", "The access token (key) is required")
    state = state_of(request)
    granted = await state.db.run(
        accounts.grant,
        key,
        await user_agent_of(request),
        state.clock(),
        accounts.Limits.of(state.config),
    )
    if granted == accounts.EMAIL_TAKEN:
        raise Refusal(400, "email_not_unique", "A user with this email already exists")
    if granted is None or isinstance(granted, str):
        raise Refusal(403, "invalid_access_token", "The access token is invalid, used or expired")
    user, (token, session) = granted
    _log.info("granted a session to user %s", user["_id"])
    return with_session({"user": user, "session": session_wire(session, token)}, state, token)
