"""Serving many users from one aiohttp.web app: one stateless agnost_async client for the
whole app, and a scope of it per request carrying that request's user.

Run it against the emulator (``agnost emulator`` prints the URL and client key)::

    AGNOST_ENV_URL=http://127.0.0.1:4000 AGNOST_CLIENT_KEY=... python examples/serving_aiohttp.py

Routes: ``POST /sign-up`` and ``POST /sign-in`` (JSON ``{"email", "password"}``) set the
session cookie; ``GET /me`` answers the signed-in user from the database; ``POST /sign-out``
signs out and expires the cookie. A browser sends the cookie; other clients may send the
``Session`` header instead.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator

from aiohttp import web

import agnost_async

#: The app-level client: it holds no session of its own.
AGNOST = web.AppKey("agnost", agnost_async.AsyncClient)
#: Whether the session cookie is marked Secure (leave it on; browsers accept Secure cookies
#: from http://localhost too).
SECURE_COOKIE = web.AppKey("secure_cookie", bool)


def make_app(env_url: str, client_key: str, *, secure_cookie: bool = True) -> web.Application:
    """The app, with its agnost client opened on startup and closed on cleanup."""
    app = web.Application()
    app[SECURE_COOKIE] = secure_cookie

    async def agnost_client(app: web.Application) -> AsyncIterator[None]:
        # stateless=True: no session of its own, no session file, ever.
        async with agnost_async.create_client(env_url, client_key, stateless=True) as client:
            app[AGNOST] = client
            yield

    app.cleanup_ctx.append(agnost_client)
    app.router.add_post("/sign-up", sign_up)
    app.router.add_post("/sign-in", sign_in)
    app.router.add_get("/me", me)
    app.router.add_post("/sign-out", sign_out)
    return app


def user_scope(request: web.Request) -> agnost_async.AsyncClient:
    """A scope acting as this request's user (or as no one yet): microseconds to make,
    nothing to clean up."""
    token = agnost_async.session_token_from_headers(request.headers)
    return request.app[AGNOST].scope(token)


def _secure(request: web.Request) -> bool:
    return request.app[SECURE_COOKIE]


async def sign_up(request: web.Request) -> web.Response:
    body = await request.json()
    scope = user_scope(request)
    result = await scope.auth.sign_up_with_email(body["email"], body["password"])
    response = web.json_response({"email": result.user.email}, status=201)
    if result.session is not None:  # None while the email awaits confirmation
        cookie = agnost_async.session_cookie(result.session, secure=_secure(request))
        response.headers.add("Set-Cookie", cookie)
    return response


async def sign_in(request: web.Request) -> web.Response:
    body = await request.json()
    scope = user_scope(request)
    try:
        grant = await scope.auth.sign_in_with_email(body["email"], body["password"])
    except agnost_async.InvalidCredentialsError:
        return web.json_response({"error": "wrong email or password"}, status=401)
    response = web.json_response({"email": grant.user.email})
    cookie = agnost_async.session_cookie(grant.session, secure=_secure(request))
    response.headers.add("Set-Cookie", cookie)
    return response


async def me(request: web.Request) -> web.Response:
    scope = user_scope(request)
    if scope.session_token is None:
        return web.json_response({"error": "not signed in"}, status=401)
    try:
        user = await scope.auth.get_user_from_db()
    except agnost_async.SessionTokenError:
        # Expired or signed out elsewhere: tell the browser to drop the cookie.
        response = web.json_response({"error": "session expired"}, status=401)
        cookie = agnost_async.expired_session_cookie(secure=_secure(request))
        response.headers.add("Set-Cookie", cookie)
        return response
    return web.json_response({"id": user.id, "email": user.email})


async def sign_out(request: web.Request) -> web.Response:
    scope = user_scope(request)
    if scope.session_token is not None:
        # Already gone on the server? Then expiring the cookie is all that is left.
        with contextlib.suppress(agnost_async.SessionTokenError):
            await scope.auth.sign_out()
    response = web.json_response({"signed_out": True})
    cookie = agnost_async.expired_session_cookie(secure=_secure(request))
    response.headers.add("Set-Cookie", cookie)
    return response


if __name__ == "__main__":
    web.run_app(
        make_app(os.environ["AGNOST_ENV_URL"], os.environ["AGNOST_CLIENT_KEY"]),
        host="127.0.0.1",
        port=int(os.environ.get("PORT", "8080")),
    )
