"""Serving many users from one Flask app: one stateless agnost client for the whole app,
and a scope of it per request (in ``flask.g``) carrying that request's user.

Run it against the emulator (``agnost emulator`` prints the URL and client key)::

    AGNOST_ENV_URL=http://127.0.0.1:4000 AGNOST_CLIENT_KEY=... python examples/serving_flask.py

Routes: ``POST /sign-up`` and ``POST /sign-in`` (JSON ``{"email", "password"}``) set the
session cookie; ``GET /me`` answers the signed-in user from the database; ``POST /sign-out``
signs out and expires the cookie. Each request may run in its own thread: every scope is
its own, and they share the client's connection pool.
"""

from __future__ import annotations

import contextlib
import os

from flask import Flask, Response, g, jsonify, request

import agnost


def make_app(env_url: str, client_key: str, *, secure_cookie: bool = True) -> Flask:
    """The app; its agnost client is ``app.extensions["agnost"]`` (close it at shutdown)."""
    app = Flask(__name__)
    # stateless=True: no session of its own, no session file, ever.
    client = agnost.create_client(env_url, client_key, stateless=True)
    app.extensions["agnost"] = client

    def set_cookie(response: Response, value: str) -> Response:
        response.headers.add("Set-Cookie", value)
        return response

    @app.before_request
    def user_scope() -> None:
        # A scope acting as this request's user (or as no one yet); nothing to clean up.
        g.agnost = client.scope(agnost.session_token_from_headers(request.headers))

    @app.post("/sign-up")
    def sign_up() -> tuple[Response, int]:
        body = request.get_json()
        result = g.agnost.auth.sign_up_with_email(body["email"], body["password"])
        response = jsonify(email=result.user.email)
        if result.session is not None:  # None while the email awaits confirmation
            set_cookie(response, agnost.session_cookie(result.session, secure=secure_cookie))
        return response, 201

    @app.post("/sign-in")
    def sign_in() -> Response | tuple[Response, int]:
        body = request.get_json()
        try:
            grant = g.agnost.auth.sign_in_with_email(body["email"], body["password"])
        except agnost.InvalidCredentialsError:
            return jsonify(error="wrong email or password"), 401
        response = jsonify(email=grant.user.email)
        return set_cookie(response, agnost.session_cookie(grant.session, secure=secure_cookie))

    @app.get("/me")
    def me() -> Response | tuple[Response, int]:
        if g.agnost.session_token is None:
            return jsonify(error="not signed in"), 401
        try:
            user = g.agnost.auth.get_user_from_db()
        except agnost.SessionTokenError:
            # Expired or signed out elsewhere: tell the browser to drop the cookie.
            expired = agnost.expired_session_cookie(secure=secure_cookie)
            return set_cookie(jsonify(error="session expired"), expired), 401
        return jsonify(id=user.id, email=user.email)

    @app.post("/sign-out")
    def sign_out() -> Response:
        if g.agnost.session_token is not None:
            # Already gone on the server? Then expiring the cookie is all that is left.
            with contextlib.suppress(agnost.SessionTokenError):
                g.agnost.auth.sign_out()
        expired = agnost.expired_session_cookie(secure=secure_cookie)
        return set_cookie(jsonify(signed_out=True), expired)

    return app


if __name__ == "__main__":
    make_app(os.environ["AGNOST_ENV_URL"], os.environ["AGNOST_CLIENT_KEY"]).run(
        host="127.0.0.1", port=int(os.environ.get("PORT", "8080")), threaded=True
    )
