"""The auth API under ``/_api/rest/v1/auth`` (protocol.md §3, §7, §10): what its flow
families share, and the registration of their routes.

Each family has its own module:

- :mod:`.signin`: sign-up and sign-in (password, SMS code), magic links, the grant endpoint;
- :mod:`.verification`: phone verification and resending verification emails and codes;
- :mod:`.recovery`: password reset by emailed link and by SMS code;
- :mod:`.account`: changing the password, the email and the phone;
- :mod:`.sessions`: sign-out (one, all, all but current), sessions and user;
- :mod:`.onetime`: the one-time codes and links they send and check.

Session tokens come from the ``Session`` header or the ``session_token`` cookie. Sign-in,
sign-up with a session and grant set that cookie; sign-out of the current session and
sign-out-all expire it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import web

from . import accounts, onetime
from .connections import target_matches_host
from .db import Database
from .errors import Refusal
from .origins import base_url_for, host_allowed
from .security import dummy_check, hash_password, stored_cost, token_digest, verify_password
from .state import STATE, EmulatorState
from .useragent import user_agent_json
from .validation import Fields

__all__ = [
    "AUTH_PREFIX",
    "SESSION_COOKIE",
    "Caller",
    "add_routes",
    "authenticate",
    "code_field",
    "code_refusal",
    "empty_answer",
    "hash_off_loop",
    "names_emulator",
    "not_before",
    "password_is",
    "password_matches",
    "query_fields",
    "redirect_url",
    "session_token",
    "session_wire",
    "state_of",
    "user_agent_of",
    "with_session",
]

AUTH_PREFIX = "/_api/rest/v1/auth"
SESSION_COOKIE = "session_token"


class Caller:
    """The user and session a request is authenticated with: the session's ``token``, its
    ``digest``, its ``user_id``; :attr:`session` is its stored document."""

    __slots__ = ("_session_text", "digest", "token", "user_id")

    def __init__(self, token: str, digest: str, user_id: str, session_text: str) -> None:
        self.token = token
        self.digest = digest
        self.user_id = user_id
        self._session_text = session_text

    @property
    def session(self) -> dict[str, Any]:
        """The session as stored (without its token), decoded when asked for: most requests
        need only whose session it is. A new dict each time."""
        value = json.loads(self._session_text)
        assert isinstance(value, dict)
        return value


def state_of(request: web.Request) -> EmulatorState:
    """The emulator state ``request``'s app holds."""
    return request.app[STATE]


async def hash_off_loop(state: EmulatorState, password: str) -> str:
    """``password`` hashed at the configured cost, on the loop's default thread pool."""
    # scrypt is CPU-bound and releases the GIL: run it on the loop's default thread pool.
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, hash_password, password, state.config.hash_cost)


async def password_matches(password: str, stored: str | None, highest_cost: int) -> bool:
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


async def user_agent_of(request: web.Request) -> str:
    """The request's ``User-Agent`` as the JSON text a session stores."""
    # Parsing runs regexes (compiled on first use, which takes a while): off the loop. Results
    # are cached, so the usual cost is one hop to the thread pool.
    loop = asyncio.get_running_loop()
    header = request.headers.get("User-Agent")
    return await loop.run_in_executor(None, user_agent_json, header)


def not_before(state: EmulatorState, now: float) -> float:
    """Sessions created at or before this moment have expired."""
    return now - state.config.session_lifetime


def session_token(request: web.Request) -> str:
    """The request's session token, from its ``Session`` header or ``session_token``
    cookie; a 401 ``missing_session_token`` without one."""
    token = request.headers.get("Session") or request.cookies.get(SESSION_COOKIE)
    if not token:
        raise Refusal(401, "missing_session_token", "A session token is required")
    return token


async def authenticate(request: web.Request) -> Caller:
    """The caller of ``request``, from its ``Session`` header or ``session_token`` cookie;
    a 401 ``missing_session_token`` or ``invalid_session_token`` without a live session."""
    token = session_token(request)
    state = state_of(request)
    digest = token_digest(token)
    now = state.clock()
    row = await state.db.run(Database.live_session_row, digest, not_before(state, now))
    if row is None:
        raise Refusal(401, "invalid_session_token", "The session token is invalid or has expired")
    return Caller(token, digest, *row)


def session_wire(doc: dict[str, Any], token: str) -> dict[str, Any]:
    """A stored session as the API shows it, with ``token`` in it."""
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


def empty_answer(*, expire_cookie: bool = False) -> web.Response:
    """The "empty" success of §3: 200 with no body (both clients take it as success); with
    ``expire_cookie``, the ``session_token`` cookie expired too."""
    response = web.Response(status=200)
    if expire_cookie:
        response.del_cookie(SESSION_COOKIE, path="/")
    return response


def names_emulator(request: web.Request, *, in_links: bool = False) -> bool:
    """Whether the request's ``Host`` names this emulator (see
    :func:`~agnost.emulator.origins.host_allowed`; ``in_links``: to be used in links), and an
    absolute-form target names the same host."""
    state = state_of(request)
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
    configured = state_of(request).config.redirect_url
    if configured:
        return configured
    if "Host" in request.headers and names_emulator(request, in_links=True):
        origin = str(request.url.origin())
    else:
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        origin = base_url_for(*sockname[:2]) if sockname else "http://127.0.0.1"
    return origin + "/_emulator/redirect"


async def password_is(state: EmulatorState, password: str, stored: str | None) -> bool:
    """Whether ``password`` matches ``stored`` (None: the user has no password), checked off
    the loop. For a signed-in user confirming a change: no pacing (the caller is known)."""
    if stored is None:
        return False
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, verify_password, password, stored)


def query_fields(request: web.Request, *names: str) -> Fields:
    """The query parameters ``names`` of ``request`` as :class:`Fields` (the first value of
    each; a missing one reads as missing)."""
    query = request.query
    return Fields({name: query[name] for name in names if name in query})


def code_field(fields: Fields, field: str = "code") -> str:
    """A required one-time code: a non-empty string of at most 64 characters."""
    value = fields.string(field) or ""
    if not value and not fields.has_problem(field):
        fields.problem(field, "is required")
    elif len(value) > 64:
        fields.problem(field, "must be at most 64 characters long")
    return value


def code_refusal(outcome: str) -> Refusal:
    """The answer to a code that was not right: 401 ``invalid_code`` (wrong, used, expired,
    or none was sent: one answer, so it says nothing of which), or 429
    ``too_many_attempts`` once its tries are used up."""
    if outcome == "too_many_attempts":
        return Refusal(
            429, "too_many_attempts", "Too many wrong codes: this code is no longer valid"
        )
    return Refusal(401, "invalid_code", "The code is invalid, used or expired")


def add_routes(app: web.Application) -> None:
    """Register the auth endpoints of every flow family."""
    from . import account, recovery, sessions, signin, verification

    for module in (signin, verification, recovery, account, sessions):
        app.add_routes(module.routes)


async def email_a_link(
    request: web.Request,
    kind: str,
    recipient: Callable[[Database, str], str | None],
    what: str,
) -> web.Response:
    """``?email=`` -> empty: emails a link of ``kind`` to the user ``recipient`` names (its id,
    or ``None``: then the same work is done and undone, so the answer and its cost are the
    same); ``what`` names the request in the log line, which never carries the link."""
    fields = query_fields(request, "email")
    email = fields.email()
    fields.done()
    state = state_of(request)
    limits = accounts.Limits.of(state.config)
    link_base = redirect_url(request)
    now = state.clock()

    def send(db: Database) -> None:
        onetime.send_link(
            db,
            email,
            kind,
            recipient(db, email),
            link_base,
            now,
            limits.access_token_lifetime,
            limits.max_outbox_messages,
        )

    await state.db.run(send)
    logging.getLogger("agnost.emulator").info("handled %s (see /_emulator/outbox)", what)
    return empty_answer()


def user_with_email(db: Database, email: str) -> str | None:
    """The id of the user with ``email``, if any."""
    return db.user_id_by(email=email)


async def text_a_code(request: web.Request, purpose: str, what: str) -> web.Response:
    """``?phone=`` -> empty: texts a code for ``purpose`` if a user has the number; the same
    answer, after the same work, if none has. ``what`` names the request in the log line."""
    fields = query_fields(request, "phone")
    phone = fields.phone()
    fields.done()
    state = state_of(request)
    rules = onetime.CodeRules.of(state.config)
    now = state.clock()

    def send(db: Database) -> None:
        onetime.send_code(db, phone, purpose, db.user_id_by(phone=phone), rules, now)

    await state.db.run(send)
    logging.getLogger("agnost.emulator").info("handled %s (see /_emulator/outbox)", what)
    return empty_answer()
