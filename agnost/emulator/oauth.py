"""A fake OAuth provider at ``/_auth/<provider>``, standing in for Google, GitHub and the rest.

``GET /_auth/google`` skips the provider's consent screen: it finds the provider's user (or
creates one) and redirects (302) to the configured redirect URL with ``?access_token=``, which
``/grant`` exchanges for a session, as after a real OAuth sign-in. Optional query parameters
pick the fake identity: ``id`` (the provider's user id), ``email`` and ``name``. Without them
every call is the same user, ``emulator-user`` at that provider.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from . import accounts
from .auth import redirect_url
from .db import Database, DuplicateUserError
from .errors import Refusal
from .state import STATE

__all__ = ["PROVIDERS", "routes"]

#: The providers of protocol.md §3's ``signInWithProvider``.
PROVIDERS = ("google", "facebook", "twitter", "apple", "discord", "github")

_log = logging.getLogger("agnost.emulator")

routes = web.RouteTableDef()


# No HEAD: it would create a user and mint an access token, and HEAD must change nothing.
@routes.get("/_auth/{provider}", allow_head=False)
async def sign_in_with_provider(request: web.Request) -> web.Response:
    """Find or create the provider's user, then redirect with a single-use access token."""
    provider = request.match_info["provider"]
    if provider not in PROVIDERS:
        raise Refusal(404, "not_found", f"Unknown OAuth provider {provider!r}")
    state = request.app[STATE]
    email = request.query.get("email") or None
    provider_user_id = request.query.get("id") or (email.lower() if email else "emulator-user")
    name = request.query.get("name") or None
    now = state.clock()
    expires_at = now + state.config.access_token_lifetime

    def find_or_create(db: Database) -> tuple[str, str]:
        with db.transaction():
            user = db.user_by_provider(provider, provider_user_id)
            if user is None:
                fields: dict[str, Any] = {"provider": provider, "providerUserId": provider_user_id}
                if email:
                    fields.update(email=email, emailVerified=True)
                if name:
                    fields["name"] = name
                user = accounts.new_user_doc(now, fields)
                db.insert_user(
                    user,
                    email=email,
                    phone=None,
                    provider=provider,
                    provider_user_id=provider_user_id,
                    password_hash=None,
                )
            token = accounts.issue_access_token(db, user["_id"], "oauth", expires_at)
            return user["_id"], token

    try:
        user_id, token = await state.db.run(find_or_create)
    except DuplicateUserError as exc:
        raise Refusal(
            400, f"{exc.field}_not_unique", f"Another user already has this {exc.field}"
        ) from exc
    _log.info("signed in user %s through the fake %s provider", user_id, provider)
    location = accounts.with_query(redirect_url(request), action="oauth", access_token=token)
    return web.Response(status=302, headers={"Location": location})
