"""Users, sessions and access tokens as database transactions, shared by the HTTP handlers.

Every function here takes the :class:`~agnost.emulator.db.Database` first and runs on the
database thread (``await state.db.run(fn, ...)``), so each is one atomic step. Nothing here
is slow: password hashing happens before, off both the loop and the database thread.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import attrs

from .config import EmulatorConfig
from .db import Database, DuplicateUserError
from .security import new_object_id, new_token, token_digest

__all__ = [
    "EMAIL_TAKEN",
    "Limits",
    "OpenedSession",
    "create_user",
    "grant",
    "iso_timestamp",
    "issue_access_token",
    "new_user_doc",
    "open_session",
    "same_address",
    "GRANT_PURPOSES",
    "with_query",
]

#: (the raw token, to hand to the client once; the session as the API shows it)
OpenedSession = tuple[str, dict[str, Any]]


@attrs.frozen
class Limits:
    """The settings the transactions here obey, read once on the event loop per request (so
    one request sees one version of them) and handed to the database thread."""

    session_lifetime: float
    access_token_lifetime: float
    max_sessions_per_user: int
    max_outbox_messages: int

    @classmethod
    def of(cls, config: EmulatorConfig) -> Limits:
        """The limits ``config`` sets now."""
        return cls(
            config.session_lifetime,
            config.access_token_lifetime,
            config.max_sessions_per_user,
            config.max_outbox_messages,
        )


def iso_timestamp(epoch: float) -> str:
    """``epoch`` as the API writes times: ISO 8601 UTC with milliseconds and a ``Z``."""
    moment = datetime.fromtimestamp(epoch, tz=timezone.utc)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def with_query(url: str, **params: str) -> str:
    """``url`` with ``params`` added to its query string (keeping what is there)."""
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query, keep_blank_values=True), *params.items()]
    return urlunsplit(parts._replace(query=urlencode(query)))


def new_user_doc(now: float, fields: Mapping[str, Any]) -> dict[str, Any]:
    """A new user's document with a fresh id and ``fields`` (custom ones too, of any name);
    ``provider`` defaults to ``"agnost"``."""
    user_id = new_object_id()
    doc: dict[str, Any] = {
        "_id": user_id,
        "provider": "agnost",
        "providerUserId": user_id,
        "signUpAt": iso_timestamp(now),
    }
    doc.update(fields)
    return doc


def open_session(
    db: Database, user: dict[str, Any], user_agent: str, now: float, limits: Limits
) -> OpenedSession:
    """Start a session for ``user`` and record the sign-in on the user.

    ``user_agent`` is the JSON text from :func:`~agnost.emulator.useragent.user_agent_json`.
    The user document is updated in place (``lastLoginAt``) and stored. The user's expired
    sessions are deleted on the way, and so are the oldest live ones beyond
    ``limits.max_sessions_per_user`` (counting the new one): without that, a client that
    signs in in a loop makes every later session listing huge.
    """
    db.prune_sessions(user["_id"], now - limits.session_lifetime, limits.max_sessions_per_user - 1)
    token = new_token()
    doc = {
        "userId": user["_id"],
        "creationDtm": iso_timestamp(now),
        "userAgent": json.loads(user_agent),
        "accessGroupKeys": [],
    }
    db.insert_session(token_digest(token), now, doc)
    user["lastLoginAt"] = doc["creationDtm"]
    db.update_user(user)
    return token, doc


def create_user(
    db: Database,
    user: dict[str, Any],
    *,
    password_hash: str | None,
    user_agent: str | None,
    now: float,
    limits: Limits,
) -> OpenedSession | None:
    """Store a new user and, given a ``user_agent``, open their first session.

    Raises :class:`~agnost.emulator.db.DuplicateUserError` when the email, phone or provider
    identity is taken; then nothing was stored.
    """
    with db.transaction():
        db.insert_user(
            user,
            email=user.get("email"),
            phone=user.get("phone"),
            provider=user["provider"],
            provider_user_id=user["providerUserId"],
            password_hash=password_hash,
        )
        if user_agent is None:
            return None
        return open_session(db, user, user_agent, now, limits)


def issue_access_token(db: Database, user_id: str, purpose: str, expires_at: float) -> str:
    """A new single-use access token for the grant endpoint; only its digest is stored."""
    token = new_token()
    db.insert_access_token(token_digest(token), user_id, purpose, expires_at)
    return token


#: The access tokens the grant endpoint exchanges for a session (a password-reset token is
#: not one of them: it only sets a new password).
GRANT_PURPOSES = ("email_verification", "oauth", "magic_link", "email_change")

#: What :func:`grant` answers when an email change's new address was taken meanwhile.
EMAIL_TAKEN = "email_not_unique"


def same_address(user: dict[str, Any], sent_to: str | None) -> bool:
    """Whether a link sent to ``sent_to`` is for the user's current email (any case); a
    token stored by an older emulator remembers no address and passes."""
    email = user.get("email")
    return sent_to is None or (isinstance(email, str) and email.lower() == sent_to.lower())


def grant(
    db: Database, access_token: str, user_agent: str, now: float, limits: Limits
) -> tuple[dict[str, Any], OpenedSession] | str | None:
    """Exchange an access token for (user, new session), or None if it is not valid.

    The token is used up either way. An email-verification or magic-link token marks the
    email verified (the link reached it), and is good only while the user has the address it
    was sent to; an email-change token sets the new address, verified (:data:`EMAIL_TAKEN` if
    another user has it by now; nothing changes then).
    """
    with db.transaction():
        taken = db.take_access_token(token_digest(access_token), now, GRANT_PURPOSES)
        if taken is None:
            return None
        user_id, purpose, payload = taken
        user = db.user_by_id(user_id)
        if user is None:
            return None
        sent_to = payload
        if purpose in ("email_verification", "magic_link") and not same_address(user, sent_to):
            return None  # the address changed since the link was sent
        if purpose == "email_change" and payload is not None:
            user["email"] = payload
            try:
                db.update_user_contact(user)
            except DuplicateUserError:
                return EMAIL_TAKEN
        if purpose in ("email_verification", "magic_link", "email_change"):
            user["emailVerified"] = True
        return user, open_session(db, user, user_agent, now, limits)
