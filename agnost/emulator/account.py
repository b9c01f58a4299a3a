"""Account changes of a signed-in user: ``change-pwd`` ``{newPassword, oldPassword}``,
``change-email`` ``{currentPassword, newEmail}`` and ``change-phone`` ``{currentPassword,
newPhone}`` (protocol.md §10). Each needs the session and the current password (401
``invalid_credentials`` when it is wrong, or the user has none: an OAuth user).

- ``change-pwd`` sets the new password and signs out the user's *other* sessions (the caller's
  stays), and uses up outstanding reset links and codes, and pending email and phone changes
  (their links and codes: whoever asked for one knew the old password). Answers empty.
- ``change-email`` with email confirmation off sets the address at once (``emailVerified``
  false) and answers the updated user. With it on, the address does not change yet: the user
  is answered as it is, and a link (kind ``email_change``) goes to the new address; the grant
  endpoint exchanges it, which sets the address, verified, and opens a session. Until then
  the old address is the one that signs in.
- ``change-phone`` likewise: with phone confirmation off the number changes at once
  (``phoneVerified`` false); with it on, a code (kind ``phone_verification``) goes to the new
  number and ``verify-phone`` with that number and code makes the change.

An address or number another user has: 400 ``email_not_unique`` / ``phone_not_unique``
(checked when asked, and again when the change is made). Asking for the current one changes
nothing and sends nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from aiohttp import web

from . import accounts, onetime
from .auth import (
    AUTH_PREFIX,
    Caller,
    authenticate,
    empty_answer,
    hash_off_loop,
    password_is,
    redirect_url,
    state_of,
)
from .db import Database, DuplicateUserError
from .errors import Refusal
from .state import EmulatorState
from .validation import Fields, read_body

__all__ = ["routes"]

_log = logging.getLogger("agnost.emulator")

routes = web.RouteTableDef()


async def _confirmed_user(
    state: EmulatorState, caller: Caller, password: str
) -> tuple[dict[str, Any], str]:
    """The caller's user and the password hash ``password`` was checked against, once
    ``password`` is theirs (else a 401 ``invalid_credentials``)."""

    def look_up(db: Database) -> tuple[dict[str, Any], str | None] | None:
        user = db.user_by_id(caller.user_id)
        return None if user is None else (user, db.password_hash(caller.user_id))

    found = await state.db.run(look_up)
    if found is None:
        raise Refusal(404, "user_not_found", "The session's user no longer exists")
    user, stored = found
    if stored is None or not await password_is(state, password, stored):
        raise Refusal(401, "invalid_credentials", "The current password is wrong")
    return user, stored


class _Stale(Exception):
    """Between the password check and the change, the session ended or the password was
    changed (a reset, say): the change is refused, as if asked after."""


def _still_confirmed(db: Database, caller: Caller, stored: str) -> dict[str, Any]:
    """On the database thread, right before a change: the caller's user as stored now (not
    as read before the password check: another change may have landed since), or
    :class:`_Stale` unless the caller's session still exists and the password is still the
    one that was checked (the check runs off that thread, slow on purpose, so a reset may
    land in between)."""
    user = db.user_by_id(caller.user_id)
    if user is None or db.session_owner(caller.digest) != caller.user_id:
        raise _Stale("invalid_session_token")
    if db.password_hash(caller.user_id) != stored:
        raise _Stale("invalid_credentials")
    return user


def _stale_refusal(exc: _Stale) -> Refusal:
    if str(exc) == "invalid_session_token":
        return Refusal(401, "invalid_session_token", "The session token is invalid or has expired")
    return Refusal(401, "invalid_credentials", "The current password is wrong")


def _taken(field: str) -> Refusal:
    return Refusal(400, f"{field}_not_unique", f"A user with this {field} already exists")


@routes.post(AUTH_PREFIX + "/change-pwd")
async def change_password(request: web.Request) -> web.Response:
    """``{newPassword, oldPassword}`` -> empty; the user's other sessions are signed out."""
    caller = await authenticate(request)
    fields = Fields(await read_body(request))
    new_password = fields.password("newPassword")
    old_password = fields.password("oldPassword", check_strength=False)
    fields.done()
    state = state_of(request)
    _, checked = await _confirmed_user(state, caller, old_password)
    password_hash = await hash_off_loop(state, new_password)

    def change(db: Database) -> None:
        with db.transaction():
            _still_confirmed(db, caller, checked)
            db.set_password_hash(caller.user_id, password_hash)
            db.delete_sessions(caller.user_id, keep=caller.digest)
            db.delete_access_tokens(caller.user_id, "password_reset")
            db.delete_codes(caller.user_id, "password_reset")
            db.delete_pending_changes(caller.user_id)

    try:
        await state.db.run(change)
    except _Stale as exc:
        raise _stale_refusal(exc) from exc
    _log.info("changed the password of user %s; its other sessions are signed out", caller.user_id)
    return empty_answer()


@routes.post(AUTH_PREFIX + "/change-email")
async def change_email(request: web.Request) -> web.Response:
    """``{currentPassword, newEmail}`` -> the user (see the module doc for confirmation)."""
    caller = await authenticate(request)
    fields = Fields(await read_body(request))
    password = fields.password("currentPassword", check_strength=False)
    new_email = fields.email("newEmail")
    fields.done()
    state = state_of(request)
    user, checked = await _confirmed_user(state, caller, password)
    if str(user.get("email", "")).lower() == new_email.lower():
        return web.json_response(user)
    limits = accounts.Limits.of(state.config)
    confirm = state.config.email_confirmation
    link_base = redirect_url(request) if confirm else ""
    now = state.clock()

    def send(db: Database, user_id: str) -> None:
        onetime.send_link(
            db,
            new_email,
            "email_change",
            user_id,
            link_base,
            now,
            limits.access_token_lifetime,
            limits.max_outbox_messages,
        )

    return await _change_contact(state, caller, checked, "email", new_email, confirm, send)


@routes.post(AUTH_PREFIX + "/change-phone")
async def change_phone(request: web.Request) -> web.Response:
    """``{currentPassword, newPhone}`` -> the user (see the module doc for confirmation)."""
    caller = await authenticate(request)
    fields = Fields(await read_body(request))
    password = fields.password("currentPassword", check_strength=False)
    new_phone = fields.phone("newPhone")
    fields.done()
    state = state_of(request)
    user, checked = await _confirmed_user(state, caller, password)
    if user.get("phone") == new_phone:
        return web.json_response(user)
    confirm = state.config.phone_confirmation
    rules = onetime.CodeRules.of(state.config)
    now = state.clock()

    def send(db: Database, user_id: str) -> None:
        onetime.send_code(
            db, new_phone, "phone_verification", user_id, rules, now, payload=new_phone
        )

    return await _change_contact(state, caller, checked, "phone", new_phone, confirm, send)


async def _change_contact(
    state: EmulatorState,
    caller: Caller,
    checked: str,
    field: str,
    new_value: str,
    confirm: bool,
    send_confirmation: Callable[[Database, str], None],
) -> web.Response:
    """Change the user's ``field`` (``email`` or ``phone``) to ``new_value`` once the password
    check still holds; with ``confirm``, only send the confirmation to the new address."""

    def change(db: Database) -> dict[str, Any]:
        user = _still_confirmed(db, caller, checked)
        if confirm:
            owner = db.user_id_by(**{field: new_value})
            if owner is not None and owner != user["_id"]:
                raise DuplicateUserError(field)
            send_confirmation(db, user["_id"])
            return user
        with db.transaction():
            user.update({field: new_value, f"{field}Verified": False})
            db.update_user_contact(user)
        return user

    try:
        answered = await state.db.run(change)
    except DuplicateUserError as exc:
        raise _taken(field) from exc
    except _Stale as exc:
        raise _stale_refusal(exc) from exc
    sent = "a link" if field == "email" else "a code"
    _log.info(
        "%s the %s of user %s",
        f"sent {sent} to confirm a change of" if confirm else "changed",
        field,
        caller.user_id,
    )
    return web.json_response(answered)
