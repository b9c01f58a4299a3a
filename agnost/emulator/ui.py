"""A browser view of the emulator's state at ``/_emulator/ui``: the users, each user's
sessions (sign one or all out), and the outbox with its links clickable and codes shown.

=============================================  ================================================
``GET /_emulator/ui``                           the users and the newest outbox messages
``GET /_emulator/ui/outbox``                    the whole outbox, newest first; ``?kind=`` and
                                               ``?recipient=`` filter
``GET /_emulator/ui/users/{id}``                one user: its fields and live sessions
``POST /_emulator/ui/users/{id}/signout``       sign out one session (``session=`` its
                                               fingerprint) or, without it, all of them;
                                               answered with a 303 back to the user's page
=============================================  ================================================

The pages are plain server-rendered HTML: inline CSS, no script, nothing loaded from
elsewhere (the ``Content-Security-Policy`` forbids it). They answer only a browser on this
machine: the peer must be a loopback address and the ``Host`` must name the emulator (the
``/_emulator/*`` check, against DNS rebinding). They never show a client key, a session token
or a password hash: a session is shown by its *fingerprint*, the first 12 hex digits of the
session handle the API lists for it. An outbox message is shown with all its fields (its link
and code are what a test user comes for).

A sign-out form carries this emulator's form token (random, made when the app is built) and
is refused (403) without it, or when the browser says the form came from another site
(``Origin`` not this page's origin, ``Sec-Fetch-Site`` other than ``same-origin``).
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import secrets
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from html import escape
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from aiohttp import web

from .accounts import iso_timestamp
from .db import Database
from .origins import normalise_origin
from .state import STATE

__all__ = [
    "FINGERPRINT_LENGTH",
    "FORM_TOKEN",
    "UI_PATH",
    "add_routes",
    "fingerprint",
    "is_ui_path",
    "peer_is_loopback",
    "routes",
]

#: Where the pages are.
UI_PATH = "/_emulator/ui"

#: The app key of this emulator's form token (see the module doc).
FORM_TOKEN = web.AppKey("agnost_emulator_ui_form_token", str)

#: How many hex digits of a session handle its fingerprint shows.
FINGERPRINT_LENGTH = 12

#: How many messages the main page shows (the outbox page shows all).
_RECENT_MESSAGES = 20

_log = logging.getLogger("agnost.emulator")

routes = web.RouteTableDef()

_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # no-referrer would make a form's Origin "null"
    "Cache-Control": "no-store",
}

_STYLE = """
body { font: 15px/1.4 system-ui, sans-serif; margin: 1.5em auto; max-width: 70em;
       padding: 0 1em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
nav a { margin-right: 1em; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .3em .6em; border-bottom: 1px solid #ddd;
         vertical-align: top; }
th { background: #f4f4f4; }
code, .code { font-family: ui-monospace, monospace; }
.code { font-size: 1.2em; font-weight: bold; letter-spacing: .1em; }
.note { color: #555; } .flash { background: #e8f5e9; padding: .5em; }
.error { background: #fdecea; padding: .5em; }
button { cursor: pointer; }
dl { display: grid; grid-template-columns: max-content auto; gap: .2em 1em; }
dt { font-weight: bold; } dd { margin: 0; word-break: break-all; }
"""


def is_ui_path(path: str) -> bool:
    """Whether ``path`` is one of the UI's pages (they check origins themselves)."""
    return path == UI_PATH or path.startswith(UI_PATH + "/")


def add_routes(app: web.Application) -> None:
    """Register the pages on ``app`` and give it a new random form token."""
    app[FORM_TOKEN] = secrets.token_urlsafe(32)
    app.add_routes(routes)


def fingerprint(handle: str) -> str:
    """The fingerprint the pages show for the session with this handle (its digest)."""
    return handle[:FINGERPRINT_LENGTH]


# --- rendering -----------------------------------------------------------------------------


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _page(title: str, body: str, *, status: int = 200) -> web.Response:
    html = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)} · agnost emulator</title><style>{_STYLE}</style></head><body>"
        f'<nav><a href="{UI_PATH}">Users</a><a href="{UI_PATH}/outbox">Outbox</a></nav>'
        f"<h1>{_e(title)}</h1>{body}</body></html>\n"
    )
    return web.Response(
        text=html, status=status, content_type="text/html", charset="utf-8", headers=_HEADERS
    )


def _refusal(status: int, reason: str) -> web.Response:
    return _page(
        "Refused" if status == 403 else "Not found",
        f'<p class="error">{_e(reason)}</p>',
        status=status,
    )


def _value(value: object) -> str:
    """A field's value as HTML: strings as they are, anything else as compact JSON-ish."""
    if value is None:
        return '<span class="note">none</span>'
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (dict, list)):
        return f"<code>{_e(json.dumps(value, ensure_ascii=False, sort_keys=True))}</code>"
    return _e(value)


def _link(url: object) -> str:
    """A link that can be clicked: only ``http``/``https`` URLs become anchors."""
    if not isinstance(url, str):
        return _value(url)
    if urlsplit(url).scheme.lower() not in ("http", "https"):
        return f"<code>{_e(url)}</code>"
    return f'<a class="outbox-link" href="{_e(url)}">{_e(url)}</a>'


def _user_url(user_id: object) -> str:
    return f"{UI_PATH}/users/{quote(str(user_id), safe='')}"


def _user_label(doc: Mapping[str, Any]) -> str:
    for key in ("email", "phone", "name", "displayName"):
        if isinstance(doc.get(key), str) and doc[key]:
            return str(doc[key])
    return str(doc.get("_id", "?"))


#: Fields of a user shown in the users table, in this order (any others on the user's page).
_USER_COLUMNS = ("email", "phone", "name", "provider", "signUpAt", "lastLoginAt")


def _users_table(users: Iterable[Mapping[str, Any]]) -> str:
    rows = []
    for doc in users:
        cells = "".join(f"<td>{_value(doc.get(key))}</td>" for key in _USER_COLUMNS)
        rows.append(
            f'<tr><td><a class="user-link" href="{_e(_user_url(doc.get("_id")))}">'
            f"{_e(doc.get('_id'))}</a></td>{cells}</tr>"
        )
    if not rows:
        return '<p class="note">No users yet.</p>'
    head = "".join(f"<th>{_e(key)}</th>" for key in ("id", *_USER_COLUMNS))
    return f'<table id="users"><tr>{head}</tr>{"".join(rows)}</table>'


#: Outbox fields with their own column; every other field a message has is listed after.
_MESSAGE_COLUMNS = ("createdAt", "kind", "recipient")


def _outbox_table(messages: Sequence[Mapping[str, Any]]) -> str:
    if not messages:
        return '<p class="note">The outbox is empty.</p>'
    rows = []
    for message in reversed(messages):  # newest first
        kind = message.get("kind")
        kind_cell = (
            f'<a href="{UI_PATH}/outbox?{_e(urlencode({"kind": kind}))}">{_e(kind)}</a>'
            if isinstance(kind, str)
            else _value(kind)
        )
        link = message.get("link")
        code = message.get("code")
        what = []
        if link is not None:
            what.append(_link(link))
        if code is not None:
            what.append(f'<span class="code">{_e(code)}</span>')
        shown = {*_MESSAGE_COLUMNS, "link", "code"}
        rest = "".join(
            f"<dt>{_e(key)}</dt><dd>{_value(value)}</dd>"
            for key, value in message.items()
            if key not in shown and value is not None
        )
        rows.append(
            f'<tr class="message"><td>{_value(message.get("createdAt"))}</td><td>{kind_cell}</td>'
            f"<td>{_value(message.get('recipient'))}</td><td>{'<br>'.join(what) or ''}</td>"
            f"<td><dl>{rest}</dl></td></tr>"
        )
    head = "".join(
        f"<th>{name}</th>" for name in ("sent", "kind", "recipient", "link / code", "more")
    )
    return f'<table id="outbox"><tr>{head}</tr>{"".join(rows)}</table>'


def _parse_time(text: object) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def _sessions_table(
    user_id: str,
    sessions: Sequence[tuple[str, Mapping[str, Any]]],
    lifetime: float,
    form_token: str,
) -> str:
    if not sessions:
        return '<p class="note">No live sessions.</p>'
    action = _e(_user_url(user_id) + "/signout")
    token_input = f'<input type="hidden" name="form_token" value="{_e(form_token)}">'
    rows = []
    for handle, doc in sessions:
        created = doc.get("creationDtm")
        start = _parse_time(created)
        expires = iso_timestamp(start + lifetime) if start is not None else None
        print_ = fingerprint(handle)
        rows.append(
            f'<tr class="session" data-fingerprint="{_e(print_)}"><td><code>{_e(print_)}</code>'
            f"</td><td>{_value(doc.get('userAgent'))}</td><td>{_value(created)}</td>"
            f"<td>{_value(expires)}</td><td>"
            f'<form method="post" action="{action}">{token_input}'
            f'<input type="hidden" name="session" value="{_e(print_)}">'
            f'<button type="submit" class="sign-out">Sign out</button></form></td></tr>'
        )
    head = "".join(
        f"<th>{name}</th>" for name in ("fingerprint", "user agent", "created", "expires", "")
    )
    all_form = (
        f'<form method="post" action="{action}">{token_input}'
        '<button type="submit" class="sign-out-all">Sign out all sessions</button></form>'
    )
    return f'<table id="sessions"><tr>{head}</tr>{"".join(rows)}</table><p>{all_form}</p>'


# --- checks --------------------------------------------------------------------------------


def peer_is_loopback(address: str | None) -> bool:
    """Whether a connection's peer address is a loopback one (an IPv4-mapped IPv6 address,
    as a dual-stack socket reports IPv4 peers, counts by its IPv4 address)."""
    if not address:
        return False
    try:
        parsed = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        return parsed.ipv4_mapped.is_loopback
    return parsed.is_loopback


def _not_local(request: web.Request) -> web.Response | None:
    """A refusal unless the peer is a loopback address (the Host is checked for every
    ``/_emulator/*`` path before this)."""
    if not peer_is_loopback(request.remote):
        return _refusal(403, "The emulator UI answers only browsers on this machine.")
    return None


def _cross_site(request: web.Request) -> str | None:
    """Why a form post is refused (another site's, or without the form token), or None."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site != "same-origin":
        return "This form was sent from another site."
    origin = request.headers.get("Origin")
    if origin is not None:
        own = normalise_origin(str(request.url.origin()))
        if own is None or normalise_origin(origin) != own:
            return "This form was sent from another origin."
    return None


# --- pages ---------------------------------------------------------------------------------


@routes.get(UI_PATH)
async def overview(request: web.Request) -> web.Response:
    """The users and the newest outbox messages."""
    if (refused := _not_local(request)) is not None:
        return refused
    db = request.app[STATE].db
    users = [doc for doc, _hash in await db.run(Database.users)]
    messages = await db.run(Database.messages)
    recent = messages[-_RECENT_MESSAGES:]
    more = (
        f'<p class="note">The newest {len(recent)} of {len(messages)} messages: '
        f'<a href="{UI_PATH}/outbox">all of them</a>.</p>'
        if len(messages) > len(recent)
        else ""
    )
    body = (
        f"<h2>Users ({len(users)})</h2>{_users_table(users)}"
        f"<h2>Outbox ({len(messages)})</h2>{more}{_outbox_table(recent)}"
    )
    return _page("Emulator", body)


@routes.get(UI_PATH + "/")
async def slash(request: web.Request) -> web.Response:
    """``/_emulator/ui/`` is the same page as ``/_emulator/ui``."""
    raise web.HTTPPermanentRedirect(UI_PATH, headers=_HEADERS)


@routes.get(UI_PATH + "/outbox")
async def outbox(request: web.Request) -> web.Response:
    """The whole outbox, newest first, filtered by ``?kind=`` and ``?recipient=``."""
    if (refused := _not_local(request)) is not None:
        return refused
    kind = request.query.get("kind") or None
    recipient = request.query.get("recipient") or None
    db = request.app[STATE].db
    messages = await db.run(Database.messages, recipient=recipient, kind=kind)
    kinds = sorted({str(m.get("kind")) for m in await db.run(Database.messages)})
    filters = " ".join(
        f'<a href="{UI_PATH}/outbox?{_e(urlencode({"kind": name}))}">{_e(name)}</a>'
        for name in kinds
    )
    shown = ", ".join(
        f"{label} {_e(value)}" for label, value in (("kind", kind), ("to", recipient)) if value
    )
    body = (
        f'<p>Kinds: {filters or "none yet"} · <a href="{UI_PATH}/outbox">all</a></p>'
        + (f'<p class="note">Showing {shown}.</p>' if shown else "")
        + _outbox_table(messages)
    )
    return _page("Outbox", body)


@routes.get(UI_PATH + "/users/{user_id}")
async def user_page(request: web.Request) -> web.Response:
    """One user's fields and live sessions, each with a sign-out button."""
    if (refused := _not_local(request)) is not None:
        return refused
    user_id = request.match_info["user_id"]
    state = request.app[STATE]
    now = state.clock()
    lifetime = state.config.session_lifetime
    doc = await state.db.run(Database.user_by_id, user_id)
    if doc is None:
        return _refusal(404, "No user has this id.")
    sessions = await state.db.run(Database.live_sessions, user_id, now - lifetime)
    fields = "".join(
        f"<dt>{_e(key)}</dt><dd>{_value(value)}</dd>"
        for key, value in doc.items()
        if key != "passwordHash"
    )
    flash = {
        "one": '<p class="flash">Signed out one session.</p>',
        "all": '<p class="flash">Signed out all sessions.</p>',
        "none": '<p class="error">That session had already ended.</p>',
    }.get(request.query.get("signed_out", ""), "")
    messages = await state.db.run(Database.messages)
    own = [m for m in messages if m.get("userId") == user_id]
    body = (
        f"{flash}<dl>{fields}</dl><h2>Sessions ({len(sessions)})</h2>"
        f"{_sessions_table(user_id, sessions, lifetime, request.app[FORM_TOKEN])}"
        f"<h2>Messages to this user ({len(own)})</h2>{_outbox_table(own)}"
    )
    return _page(_user_label(doc), body)


@routes.post(UI_PATH + "/users/{user_id}/signout")
async def sign_out(request: web.Request) -> web.Response:
    """Sign out one session of the user (``session=`` its fingerprint), or all of them."""
    if (refused := _not_local(request)) is not None:
        return refused
    if (reason := _cross_site(request)) is not None:
        return _refusal(403, reason)
    form = await request.post()
    sent = form.get("form_token")
    if not isinstance(sent, str) or not hmac.compare_digest(
        sent.encode(), request.app[FORM_TOKEN].encode()
    ):
        return _refusal(403, "The form token is missing or wrong: reload the page.")
    user_id = request.match_info["user_id"]
    wanted = form.get("session")
    state = request.app[STATE]
    not_before = state.clock() - state.config.session_lifetime

    def sign_out_in_db(db: Database) -> str:
        with db.transaction():
            if wanted is None:
                db.delete_sessions(user_id)
                return "all"
            matches = [
                handle
                for handle, _doc in db.live_sessions(user_id, not_before)
                if isinstance(wanted, str) and fingerprint(handle) == wanted
            ]
            if len(matches) != 1:
                return "none"
            db.delete_session(matches[0])
            return "one"

    if await state.db.run(Database.user_by_id, user_id) is None:
        return _refusal(404, "No user has this id.")
    outcome = await state.db.run(sign_out_in_db)
    if outcome != "none":
        what = "one session" if outcome == "one" else "all sessions"
        _log.info("the UI signed out %s of user %s", what, user_id)
    raise web.HTTPSeeOther(f"{_user_url(user_id)}?signed_out={outcome}", headers=_HEADERS)
