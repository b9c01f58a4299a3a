"""The agnost emulator: a local Agnost-compatible auth server for tests, demos and CI.

Pure Python on ``aiohttp.web`` with SQLite as its store; the official JavaScript client
(``altogic@2.3.9``) and both agnost flavours run against it unchanged. Needs the ``emulator``
extra (``pip install 'agnost-auth[emulator]'``, for ``ua-parser``).

Start it from the shell with ``agnost emulator`` (``--help`` lists the options), or in-process::

    from agnost.emulator import Emulator

    with Emulator(email_confirmation=True, hash_cost=4) as emu:
        client = agnost.create_client(emu.base_url, emu.client_key)
        ...
        [message] = emu.outbox(recipient="ada@example.com")
        client.auth.get_auth_grant(message.access_token)

In pytest, the ``agnost_emulator`` fixture gives a fresh one per test (``agnost.pytest_plugin``).

The API (``/_api/rest/v1/auth/...``, protocol.md §3, §5, §7, §10): every call of §3. Sign-up
and sign-in with email and phone, sign-out (one, all, all but current), sessions, user and
grant; and the flows of §10 with the outbox as the mail and SMS channel: phone confirmation
(``verify-phone``, ``resend-code``), sign-in codes (``send-code``, ``signin-code``), magic
links (``send-magic``, then ``grant``), resending the verification email (``resend``),
password reset by link (``send-reset``, ``reset-pwd?key=``) and by code
(``send-reset-code``, ``reset-pwd-code``), and changing the password, email and phone. Each
flow family has its module (:mod:`.signin`, :mod:`.verification`, :mod:`.recovery`,
:mod:`.account`, :mod:`.sessions`; codes and links in :mod:`.onetime`). Every request needs
an ``X-Client-Key`` that is one of the configured client keys.

One-time codes and links are single-use and expire (``codeLifetime``, 600 s;
``accessTokenLifetime``, 3600 s, for every emailed link); a code has ``maxCodeAttempts`` (5)
tries, the last wrong one burns it (429 ``too_many_attempts``); a wrong, used or expired code
is 401 ``invalid_code``, a link's token 403 ``invalid_access_token``. Only their hashes are
kept where they are checked. The send and resend calls answer 200 and empty, after the same
work, whether or not the account exists. ``change-pwd`` signs out the user's other sessions,
a reset all of them; with confirmation on, a changed email or phone is the user's only once
the link (``email_change``, through ``grant``) or code (``verify-phone``) sent to it is used.

App endpoints (protocol.md §8): every other path, any of GET, HEAD, POST, PUT, PATCH, DELETE,
also needs a client key and answers an echo of the request and its caller: ``{"method",
"path", "query", "body", "user", "session"}`` (the session without its token; both ``null``
without a valid session). With session enforcement on for a client key (``--enforce-session``,
``--enforce-session-key``), such a call without a valid session gets 401
``missing_session_token`` or ``invalid_session_token``; the auth API never needs one. A test
stands up a fake of its own backend with ``emu.add_endpoint(method, path, handler)`` or the
``@emu.endpoint(method, path)`` decorator (:class:`EndpointRequest` in, a JSON value or an
:class:`EndpointReply` out; see :mod:`agnost.emulator.endpoints`).
The fake OAuth provider: ``GET /_auth/<provider>`` (google, facebook, twitter, apple, discord,
github) redirects to the redirect URL with ``?access_token=``; see :mod:`agnost.emulator.oauth`.

The emulator-only endpoints (no client key needed):

- ``GET /_emulator/`` lists them.
- ``GET /_emulator/outbox`` the messages "sent": ``{"messages": [{"id", "recipient", "kind",
  "link", "code", "accessToken", "userId", "createdAt", "expiresAt"}]}``, oldest first;
  ``?recipient=`` (case-insensitive) and ``?kind=`` filter. Kinds: ``email_verification``,
  ``magic_link``, ``password_reset``, ``email_change`` (emails: ``link`` and
  ``accessToken``), ``phone_verification``, ``sign_in_code``, ``password_reset_code`` (SMS:
  ``code``).
  ``DELETE /_emulator/outbox`` empties it.
- ``POST /_emulator/reset`` deletes every user, session, access token and message.
- ``GET /_emulator/config`` the settings; ``PATCH /_emulator/config`` with some of them, e.g.
  ``{"emailConfirmation": true, "sessionLifetime": 0}``, changes them (all or nothing; a bad
  value is a 400 ``validation_error`` naming the field and its range). Keys: ``clientKeys``,
  ``emailConfirmation``, ``sessionLifetime`` and ``accessTokenLifetime`` (seconds),
  ``hashCost`` (log2 of scrypt's N, 1 to 16: at most 64 MiB per hash), ``redirectUrl``,
  ``corsOrigins``, ``allowedHosts``, ``headerTimeout``, ``bodyTimeout`` and ``idleTimeout``
  (seconds), ``maxConnections``, ``maxSessionsPerUser``, ``maxOutboxMessages``,
  ``enforceSession`` (every key) and ``enforceSessionKeys`` (some of ``clientKeys``),
  ``phoneConfirmation``, ``signInOnPhoneVerification``, ``codeLength`` (4 to 10 digits),
  ``codeLifetime`` (seconds) and ``maxCodeAttempts``. Every one is
  bounded (:data:`agnost.emulator.config.RANGES`).
- ``GET /_emulator/redirect`` the page verification links and OAuth land on when no redirect
  URL is configured; it shows the ``access_token`` it was given.

Hosts: ``/_emulator/*`` answers only a ``Host`` that names the emulator: ``localhost`` and
``*.localhost``, any IP address, the ``--host`` it is bound to, and the names given with
``--allowed-host`` (``allowedHosts``; ``.lan`` allows a domain). Anything else (a name an
attacker's DNS points at 127.0.0.1: DNS rebinding) gets 403 ``host_not_allowed``, and links
built for such a request point at the address it came in on, never at its ``Host``. The API
itself answers any ``Host``: it needs a client key, which such a page can no longer read.

Limits: a request head must arrive within ``headerTimeout`` (10 s) once begun, a body within
``bodyTimeout`` (30 s, else 408 ``request_timeout``), and a connection is closed after
``idleTimeout`` (60 s) without a request; past ``maxConnections`` (512) a new connection gets
503 ``too_many_connections``; a failure to accept (out of file descriptors) is logged once per
10 s at most. Opening a session beyond ``maxSessionsPerUser`` (100) signs out that user's
oldest; expired sessions and access tokens are deleted (when their user signs in, and every
minute); the outbox keeps the newest ``maxOutboxMessages`` (1000). HEAD is refused (405) on
the two GETs that change state, ``/grant`` and ``/_auth/<provider>``. A body that is not JSON
(``NaN`` and ``Infinity`` included) or nests deeper than 32 levels is a 400
``invalid_request_body_syntax``; a lone surrogate or a non-finite number in a field is a 400
``validation_error`` naming it. An unexpected fault is a 500 ``internal_server_error`` logged
in one line (exception type and place, no traceback, no request data).

Browsers: a page whose origin is loopback (``http://localhost:3000``, ``127.x``, ``[::1]``), or
listed with ``--cors-origin`` (the ``corsOrigins`` setting), may call the API with credentials;
a page on any other origin gets no CORS headers, and its requests other than GET and HEAD are
refused (403 ``origin_not_allowed``). ``/_emulator/*`` answers no browser page on another
origin, trusted or not: it hands out client keys and access tokens without a client key.

Security notes: passwords are hashed with scrypt; session tokens are 256 random bits stored only
as SHA-256 digests, and so are access tokens in the table the grant endpoint checks; SMS codes
are kept as a salted HMAC-SHA-256 (a code has few digits, so its bound on tries is what
protects it). The outbox, though, keeps each message as "sent": its link, access token or
code in plaintext, in the database too, since that is how tests receive them (they are test
data: each is single-use and expires). A database file is therefore created readable by its
owner only (``0600``). With a file database and no chosen client key, the generated ``dev-...``
key is kept in the database and reused by the next start. No log line carries a token, code
or password, aiohttp's reports of malformed requests included. The emulator has no protection
against the network: it warns when bound to anything but loopback.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .config import ConfigError, EmulatorConfig, EmulatorSettings

if TYPE_CHECKING:
    from .app import create_app
    from .endpoints import EndpointReply, EndpointRequest
    from .server import Emulator, OutboxMessage

__all__ = [
    "INSTALL_EXTRA",
    "ConfigError",
    "Emulator",
    "EmulatorConfig",
    "EmulatorSettings",
    "EndpointReply",
    "EndpointRequest",
    "OutboxMessage",
    "create_app",
]

#: What installs the emulator's one extra dependency (ua-parser). The distribution is
#: ``agnost-auth``: ``agnost`` on PyPI is an unrelated project.
INSTALL_EXTRA = "pip install 'agnost-auth[emulator]'"

# Imported on first use: these need ua-parser (the ``emulator`` extra), and the command line
# imports this package to register ``agnost emulator`` whether the extra is installed or not.
_LAZY = {
    "Emulator": ".server",
    "EndpointReply": ".endpoints",
    "EndpointRequest": ".endpoints",
    "OutboxMessage": ".server",
    "create_app": ".app",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module, __name__), name)
