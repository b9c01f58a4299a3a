"""The auth endpoints under ``/_api/rest/v1/auth`` (protocol.md §3 and §7).

Implemented: sign-up and sign-in with email and with phone, sign-out (one, all, all but
current), sessions, user and grant. Every other §3 path answers 501 ``not_implemented``.

Session tokens come from the ``Session`` header or the ``session_token`` cookie. Sign-in,
sign-up with a session and grant set that cookie; sign-out of the current session and
sign-out-all expire it.

Session listings show the caller's own session with its token. Other sessions are shown
with a *session handle* in ``token`` (the hex SHA-256 the database keeps instead of the
token): the real tokens are not stored, so they cannot be shown, and the handle is what
``/signout`` accepts to end that session (only for its owner, only as ``{"token": ...}``;
it never authenticates a request).
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from aiohttp import web

from . import accounts
from .connections import target_matches_host
from .db import Database, DuplicateUserError
from .errors import Refusal
from .origins import base_url_for, host_allowed
from .security import dummy_check, hash_password, stored_cost, token_digest, verify_password
from .state import STATE, EmulatorState
from .useragent import user_agent_json
from .validation import Fields, read_body

__all__ = [
    "AUTH_PREFIX",
    "NOT_IMPLEMENTED_PATHS",
    "SESSION_COOKIE",
    "Caller",
    "add_routes",
    "authenticate",
    "names_emulator",
    "redirect_url",
    "with_session",
]

AUTH_PREFIX = "/_api/rest/v1/auth"
SESSION_COOKIE = "session_token"
#: The rest of protocol.md §3, answered with 501 until the emulator implements them.
NOT_IMPLEMENTED_PATHS = (
    "signin-code",
    "change-pwd",
    "change-email",
    "change-phone",
    "verify-phone",
    "resend",
    "resend-code",
    "send-magic",
    "send-reset",
    "send-reset-code",
    "send-code",
    "reset-pwd",
    "reset-pwd-code",
)

_log = logging.getLogger("agnost.emulator")
_HANDLE = re.compile(r"[0-9a-f]{64}")

routes = web.RouteTableDef()


class Caller:
    """The user and session a request is authenticated with."""

    def __init__(self, token: str, digest: str, session: dict[str, Any]) -> None:
        self.token = token
        self.digest = digest
        self.session = session
        self.user_id: str = session["userId"]


def _state(request: web.Request) -> EmulatorState:
    return request.app[STATE]


async def _hash(state: EmulatorState, password: str) -> str:
    # scrypt is CPU-bound and releases the GIL: run it on the loop's default thread pool.
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, hash_password, password, state.config.hash_cost)


async def _password_matches(password: str, stored: str | None, highest_cost: int) -> bool:
    """Whether ``password`` matches the ``stored`` hash (None: the account is unknown or has
    no password).

    A failed check answers as late as a failed check against a hash at ``highest_cost`` (the
    costliest stored one) would, whatever the account's own hash costs: every failed path
    runs one hash at that cost (the real check if the account's hash has it, else a dummy
    one), measured, and then waits until twice that time has passed since the start. The
    real check of a cheaper hash fits in the wait, so an unknown account, a wrong password
    and a hash at any cost all answer at the same moment. The pacing hash is measured live,
    not taken from an earlier figure, so the answer follows the machine's load the same way
    on every path.
    """
    loop = asyncio.get_running_loop()
    started = loop.time()
    own_cost = None if stored is None else stored_cost(stored)
    if stored is not None and await loop.run_in_executor(None, verify_password, password, stored):
        return True
    if own_cost == highest_cost:  # the real check was the pacing hash
        paced = loop.time() - started
    else:
        before = loop.time()
        await loop.run_in_executor(None, dummy_check, password, highest_cost)
        paced = loop.time() - before
    await asyncio.sleep(max(0.0, started + 2 * paced - loop.time()))
    return False


async def _user_agent(request: web.Request) -> str:
    # Parsing runs regexes (compiled on first use, which takes a while): off the loop. Results
    # are cached, so the usual cost is one hop to the thread pool.
    loop = asyncio.get_running_loop()
    header = request.headers.get("User-Agent")
    return await loop.run_in_executor(None, user_agent_json, header)


def _not_before(state: EmulatorState, now: float) -> float:
    """Sessions created at or before this moment have expired."""
    return now - state.config.session_lifetime


async def authenticate(request: web.Request) -> Caller:
    """The caller of ``request``, from its ``Session`` header or ``session_token`` cookie;
    a 401 ``missing_session_token`` or ``invalid_session_token`` without a live session."""
    token = request.headers.get("Session") or request.cookies.get(SESSION_COOKIE)
    if not token:
        raise Refusal(401, "missing_session_token", "A session token is required")
    state = _state(request)
    digest = token_digest(token)
    now = state.clock()
    session = await state.db.run(Database.live_session, digest, _not_before(state, now))
    if session is None:
        raise Refusal(401, "invalid_session_token", "The session token is invalid or has expired")
    return Caller(token, digest, session)


def _session_wire(doc: dict[str, Any], token: str) -> dict[str, Any]:
    return {
        "userId": doc["userId"],
        "token": token,
        **{k: v for k, v in doc.items() if k != "userId"},
    }


def with_session(body: dict[str, Any], state: EmulatorState, token: str | None) -> web.Response:
    """A JSON answer that also sets the ``session_token`` cookie to ``token``."""
    response = web.json_response(body)
    if token is not None:
        response.set_cookie(
            SESSION_COOKIE,
            token,
            max_age=int(state.config.session_lifetime),
            path="/",
            httponly=True,
            samesite="Lax",
        )
    return response


def _signed_out(expire_cookie: bool) -> web.Response:
    # "empty": 200 with no body, which both clients take as success.
    response = web.Response(status=200)
    if expire_cookie:
        response.del_cookie(SESSION_COOKIE, path="/")
    return response


# --- sign-up and sign-in ---------------------------------------------------------------------


async def _sign_up(request: web.Request, kind: str) -> web.Response:
    state = _state(request)
    fields = Fields(await read_body(request))
    identity = fields.email() if kind == "email" else fields.phone()
    password = fields.password()
    extra = fields.user_data("nameOrUserData", (kind, identity))
    fields.done()

    confirm = kind == "email" and state.config.email_confirmation
    now = state.clock()
    user = accounts.new_user_doc(now, extra)
    if kind == "email":
        user.update(email=identity, emailVerified=False)
    else:
        user.update(phone=identity, phoneVerified=False)
    password_hash = await _hash(state, password)
    user_agent = None if confirm else await _user_agent(request)
    limits = accounts.Limits.of(state.config)
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
    if confirm:
        await state.db.run(
            accounts.send_verification_email,
            user,
            redirect_url(request),
            now,
            limits,
        )
        _log.info("sent an email verification to user %s (see /_emulator/outbox)", user["_id"])
    if opened is None:
        return web.json_response({"user": user, "session": None})
    token, session = opened
    return with_session({"user": user, "session": _session_wire(session, token)}, state, token)


async def _sign_in(request: web.Request, kind: str) -> web.Response:
    state = _state(request)
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
    if not await _password_matches(password, stored, cost if highest is None else highest):
        raise Refusal(401, "invalid_credentials", f"Invalid {kind} or password")
    assert user is not None  # a password matched its hash
    if kind == "email" and state.config.email_confirmation and not user.get("emailVerified"):
        raise Refusal(401, "email_not_verified", "The email address has not been verified")

    # A hash made at a lower cost than the configured one is remade at it; a costlier one is
    # kept: lowering the cost (which an unauthenticated PATCH can) never weakens a stored hash.
    rehashed = None
    if stored is not None and (stored_cost(stored) or 0) < cost:
        rehashed = await _hash(state, password)
    user_agent = await _user_agent(request)
    limits = accounts.Limits.of(state.config)

    def sign_in(db: Database) -> accounts.OpenedSession:
        with db.transaction():
            if rehashed is not None:
                db.set_password_hash(user["_id"], rehashed)
            return accounts.open_session(db, user, user_agent, state.clock(), limits)

    token, session = await state.db.run(sign_in)
    _log.info("signed in user %s with %s", user["_id"], kind)
    return with_session({"user": user, "session": _session_wire(session, token)}, state, token)


@routes.post(AUTH_PREFIX + "/signup-email")
async def sign_up_with_email(request: web.Request) -> web.Response:
    """``{email, password, nameOrUserData?}`` -> ``{user, session or null}``."""
    return await _sign_up(request, "email")


@routes.post(AUTH_PREFIX + "/signup-phone")
async def sign_up_with_phone(request: web.Request) -> web.Response:
    """``{phone, password, nameOrUserData?}`` -> ``{user, session}``."""
    return await _sign_up(request, "phone")


@routes.post(AUTH_PREFIX + "/signin-email")
async def sign_in_with_email(request: web.Request) -> web.Response:
    """``{email, password}`` -> ``{user, session}``."""
    return await _sign_in(request, "email")


@routes.post(AUTH_PREFIX + "/signin-phone")
async def sign_in_with_phone(request: web.Request) -> web.Response:
    """``{phone, password}`` -> ``{user, session}``."""
    return await _sign_in(request, "phone")


# --- sessions --------------------------------------------------------------------------------


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
    state = _state(request)

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
    return _signed_out(expire_cookie=digest == caller.digest)


@routes.post(AUTH_PREFIX + "/signout-all")
async def sign_out_all(request: web.Request) -> web.Response:
    """End every session of the caller's user, the caller's too."""
    caller = await authenticate(request)
    await _state(request).db.run(Database.delete_sessions, caller.user_id)
    _log.info("signed out all sessions of user %s", caller.user_id)
    return _signed_out(expire_cookie=True)


@routes.post(AUTH_PREFIX + "/signout-all-except")
async def sign_out_all_except_current(request: web.Request) -> web.Response:
    """End every session of the caller's user but the caller's."""
    caller = await authenticate(request)
    await _state(request).db.run(Database.delete_sessions, caller.user_id, keep=caller.digest)
    _log.info("signed out the other sessions of user %s", caller.user_id)
    return _signed_out(expire_cookie=False)


@routes.get(AUTH_PREFIX + "/sessions")
async def get_all_sessions(request: web.Request) -> web.Response:
    """The caller's user's unexpired sessions, oldest first (see the module doc on tokens)."""
    caller = await authenticate(request)
    state = _state(request)
    rows = await state.db.run(
        Database.live_sessions, caller.user_id, _not_before(state, state.clock())
    )
    listed = [
        _session_wire(doc, caller.token if digest == caller.digest else digest)
        for digest, doc in rows
    ]
    return web.json_response(listed)


@routes.get(AUTH_PREFIX + "/user")
async def get_user_from_db(request: web.Request) -> web.Response:
    """The caller's user as stored."""
    caller = await authenticate(request)
    user = await _state(request).db.run(Database.user_by_id, caller.user_id)
    if user is None:
        raise Refusal(404, "user_not_found", "The session's user no longer exists")
    return web.json_response(user)


# No HEAD: it would use up the access token, and HEAD must change nothing (405 instead).
@routes.get(AUTH_PREFIX + "/grant", allow_head=False)
async def get_auth_grant(request: web.Request) -> web.Response:
    """``?key=<access token>`` -> ``{user, session}``; the access token is used up."""
    key = request.query.get("key", "")
    if not key:
        raise Refusal(400, "missing_access_token", "The access token (key) is required")
    state = _state(request)
    granted = await state.db.run(
        accounts.grant,
        key,
        await _user_agent(request),
        state.clock(),
        accounts.Limits.of(state.config),
    )
    if granted is None:
        raise Refusal(403, "invalid_access_token", "The access token is invalid, used or expired")
    user, (token, session) = granted
    _log.info("granted a session to user %s", user["_id"])
    return with_session({"user": user, "session": _session_wire(session, token)}, state, token)


async def not_implemented(request: web.Request) -> web.Response:
    """The §3 endpoints the emulator does not implement yet."""
    raise Refusal(
        501,
        "not_implemented",
        f"The emulator does not implement {request.path} yet",
    )


def names_emulator(request: web.Request, *, in_links: bool = False) -> bool:
    """Whether the request's ``Host`` names this emulator (see
    :func:`~agnost.emulator.origins.host_allowed`; ``in_links``: to be used in links), and an
    absolute-form target names the same host."""
    state = _state(request)
    return target_matches_host(request) and host_allowed(
        request.headers.get("Host"),
        state.config.allowed_hosts,
        state.bound_host,
        any_address=not in_links,
    )


def redirect_url(request: web.Request) -> str:
    """Where verification links and OAuth send the browser: the configured redirect URL,
    or else the emulator's own ``/_emulator/redirect`` page.

    That page is reached through the request's ``Host`` only when it names the emulator by
    a loopback name or address, ``--host`` or an allowed host, else through the address the
    request came in on: a link never points at a host that a request merely claimed.
    """
    configured = _state(request).config.redirect_url
    if configured:
        return configured
    if "Host" in request.headers and names_emulator(request, in_links=True):
        origin = str(request.url.origin())
    else:
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        origin = base_url_for(*sockname[:2]) if sockname else "http://127.0.0.1"
    return origin + "/_emulator/redirect"


def add_routes(app: web.Application) -> None:
    """Register the auth endpoints, and 501 answers for the rest of §3."""
    app.add_routes(routes)
    for path in NOT_IMPLEMENTED_PATHS:
        app.router.add_route("*", f"{AUTH_PREFIX}/{path}", not_implemented)
