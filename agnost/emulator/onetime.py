"""One-time codes and links: what the "send" calls issue, the outbox delivers and the
exchanging calls check (protocol.md §10).

SMS codes are digits (``codeLength``, 6), valid for ``codeLifetime`` seconds and
``maxCodeAttempts`` tries; there is one live code per phone number and use, and a new one
replaces the old. The ``codes`` table keeps a salted SHA-256 of each code, never the code. A
code is low in entropy, so what protects it is the bound on tries: the try that uses up the
last one burns the code (429 ``too_many_attempts``, and so does every later try, the right
code too, until the code expires or a new one is sent).

Emailed links carry a 256-bit access token, valid for ``accessTokenLifetime`` seconds; the
``access_tokens`` table keeps its SHA-256. A new link of a kind replaces the user's older
ones of that kind.

A try at a number that has no live code for the use (nobody has the number, or its account
was sent none, or the code was used or expired) is counted all the same, against a stand-in
kept by the database (:meth:`~agnost.emulator.db.Database.code_tries`): the same
``maxCodeAttempts`` tries over the same ``codeLifetime`` (from the send, or else from the
first try), then 429 ``too_many_attempts`` the same way. Otherwise the 429 would tell a
number that has an account (and was sent a code) from one that has none. A send for a number
replaces its stand-in, as it replaces a code.

Every function here runs on the database thread. A send for an account that does not exist
(or that needs nothing, like a resend for a verified address) does the same work inside
:meth:`~agnost.emulator.db.Database.rehearsal` and undoes it, so that the answer is the same
and costs the same whether or not the account exists.

The outbox, though, keeps each message as "sent", code and link in plaintext: that is how
tests receive them.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import secrets
from typing import Any

import attrs

from .accounts import iso_timestamp, with_query
from .config import EmulatorConfig
from .db import Database
from .security import new_token, token_digest

__all__ = [
    "CODE_KINDS",
    "INVALID_CODE",
    "KINDS",
    "LINK_KINDS",
    "TOO_MANY_ATTEMPTS",
    "CodeRules",
    "Taken",
    "code_digest",
    "new_code",
    "send_code",
    "send_link",
    "take_code",
]

#: Code purpose -> the outbox kind of the SMS that carries it.
CODE_KINDS = {
    "phone_verification": "phone_verification",
    "sign_in": "sign_in_code",
    "password_reset": "password_reset_code",
}
#: Link purpose -> (the outbox kind of the email that carries it, the link's ``action``).
LINK_KINDS = {
    "email_verification": ("email_verification", "email-confirm"),
    "magic_link": ("magic_link", "magic-link"),
    "password_reset": ("password_reset", "reset-pwd"),
    "email_change": ("email_change", "email-change"),
}
#: Every kind of outbox message.
KINDS = (
    *(kind for kind, _ in LINK_KINDS.values()),
    *CODE_KINDS.values(),
)

#: What :func:`take_code` answers for a wrong, used, unknown or expired code.
INVALID_CODE = "invalid_code"
#: What :func:`take_code` answers once a code's tries are used up.
TOO_MANY_ATTEMPTS = "too_many_attempts"

#: Stands in for the user of a rehearsed send (never stored: the rows are undone).
_NOBODY = "0" * 24

#: (user id, payload) of a code or token that was right.
Taken = tuple[str, "str | None"]


@attrs.frozen
class CodeRules:
    """The code settings, read once per request on the event loop."""

    length: int
    lifetime: float
    attempts: int
    keep_messages: int

    @classmethod
    def of(cls, config: EmulatorConfig) -> CodeRules:
        """The rules ``config`` sets now."""
        return cls(
            config.code_length,
            config.code_lifetime,
            config.max_code_attempts,
            config.max_outbox_messages,
        )


def new_code(length: int) -> str:
    """A random code of ``length`` decimal digits (leading zeros kept)."""
    return f"{secrets.randbelow(10**length):0{length}d}"


def code_digest(salt: str, code: str) -> str:
    """What the ``codes`` table keeps for ``code``: HMAC-SHA-256 under the row's salt."""
    return hmac.new(
        bytes.fromhex(salt), code.encode("utf-8", "surrogatepass"), hashlib.sha256
    ).hexdigest()


def _real_or_rehearsed(
    db: Database, user_id: str | None
) -> contextlib.AbstractContextManager[Any]:
    # The same savepoint either way (see the module doc): undone for a rehearsal, else kept.
    return db.rehearsal(undo=user_id is None)


def send_code(
    db: Database,
    recipient: str,
    purpose: str,
    user_id: str | None,
    rules: CodeRules,
    now: float,
    payload: str | None = None,
) -> None:
    """Text a new code for ``purpose`` to the phone number ``recipient``: store its digest
    and put the SMS in the outbox. ``user_id`` None: rehearse it (see the module doc)."""
    code = new_code(rules.length)
    salt = secrets.token_hex(16)
    digest = code_digest(salt, code)
    with db.transaction(), _real_or_rehearsed(db, user_id):
        owner = user_id or _NOBODY
        db.put_code(
            recipient, purpose, owner, salt, digest, rules.attempts, now + rules.lifetime, payload
        )
        if user_id is None:  # the stand-in counts the tries a stored code would
            db.put_code_tries(recipient, purpose, rules.attempts, now + rules.lifetime)
        else:
            db.forget_code_tries(recipient, purpose)
        db.insert_message(
            {
                "recipient": recipient,
                "kind": CODE_KINDS[purpose],
                "link": None,
                "code": code,
                "accessToken": None,
                "userId": owner,
                "createdAt": iso_timestamp(now),
                "expiresAt": iso_timestamp(now + rules.lifetime),
            },
            keep=rules.keep_messages,
        )


def send_link(
    db: Database,
    recipient: str,
    purpose: str,
    user_id: str | None,
    redirect_url: str,
    now: float,
    lifetime: float,
    keep_messages: int,
) -> dict[str, Any] | None:
    """Email a new link for ``purpose`` to ``recipient``: the app's redirect URL with
    ``action`` and ``access_token``, where a real server's link ends up after its own hop.
    The token remembers ``recipient`` (its payload): it is good only while the user has that
    address, or, for an email change, as the address to set. Returns the message (None when
    rehearsed: ``user_id`` None)."""
    token = new_token()
    kind, action = LINK_KINDS[purpose]
    with db.transaction(), _real_or_rehearsed(db, user_id):
        owner = user_id or _NOBODY
        db.delete_access_tokens(owner, purpose)
        db.insert_access_token(token_digest(token), owner, purpose, now + lifetime, recipient)
        message = db.insert_message(
            {
                "recipient": recipient,
                "kind": kind,
                "link": with_query(redirect_url, action=action, access_token=token),
                "code": None,
                "accessToken": token,
                "userId": owner,
                "createdAt": iso_timestamp(now),
                "expiresAt": iso_timestamp(now + lifetime),
            },
            keep=keep_messages,
        )
    return None if user_id is None else message


def take_code(
    db: Database, recipient: str, purpose: str, code: str, now: float, rules: CodeRules
) -> Taken | str:
    """Check ``code`` against the one sent to ``recipient`` for ``purpose``: (user id,
    payload) and the code is used up, or :data:`INVALID_CODE` / :data:`TOO_MANY_ATTEMPTS`
    (a wrong try is counted, against the stand-in when no live code is stored: see the module
    doc). Call it inside a transaction with what the code allows, and refuse after the
    transaction: a counted try must be committed."""
    row = db.code(recipient, purpose)
    if row is not None and row[4] <= now:  # expired: as if none were stored
        db.delete_code(recipient, purpose)
        row = None
    if row is None:
        code_digest("00" * 16, code)  # the same work as a check
        tries = db.code_tries(recipient, purpose)
        if tries is None or tries[1] <= now:
            tries = (rules.attempts, now + rules.lifetime)
        left, expires_at = tries
        if left <= 0:
            return TOO_MANY_ATTEMPTS
        db.put_code_tries(recipient, purpose, left - 1, expires_at)
        return TOO_MANY_ATTEMPTS if left - 1 <= 0 else INVALID_CODE
    user_id, salt, digest, left, expires_at, payload = row
    if digest is None:
        return TOO_MANY_ATTEMPTS
    if hmac.compare_digest(code_digest(salt, code), digest):
        db.delete_code(recipient, purpose)
        return user_id, payload
    db.spend_attempt(recipient, purpose, left - 1)
    return TOO_MANY_ATTEMPTS if left - 1 <= 0 else INVALID_CODE
