"""Scopes of an app-level client, in both flavours, against the emulator: each acts as one
user, keeps its local state to itself, shares the client's configuration and connections,
and ends with its client; and the stateless client that a server makes them from."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import agnost
from agnost import SessionChangeKind
from agnost.emulator import Emulator
from tests.clients._support import Flavour

PASSWORD = "correct horse battery"


def _app(flavour: Flavour, emulator: Emulator, **options: Any) -> Any:
    """A stateless app-level client of this flavour."""
    return flavour.make(
        emulator.base_url, emulator.client_key, storage=None, stateless=True, **options
    )


def _sign_up(flavour: Flavour, app: Any, email: str) -> agnost.Session:
    result = flavour.call(app.scope(on_session_change=None), "sign_up_with_email", email, PASSWORD)
    assert result.session is not None
    session: agnost.Session = result.session
    return session


def _at_once(flavour: Flavour, calls: list[Any]) -> list[Any]:
    """Run the argument-less callables at the same time (gathered, or in threads); return
    each one's result or exception."""
    if flavour.is_async:

        async def all_of() -> list[Any]:
            return await asyncio.gather(*(call() for call in calls), return_exceptions=True)

        return flavour.run(all_of())

    def outcome(call: Any) -> Any:
        try:
            return call()
        except Exception as exc:
            return exc

    with ThreadPoolExecutor(min(len(calls), 20)) as pool:
        return list(pool.map(outcome, calls))


def test_a_scope_acts_as_its_user_and_its_sign_in_stays_inside_it(
    flavour: Flavour, agnost_emulator: Emulator, data_dir: Path
) -> None:
    app = _app(flavour, agnost_emulator)
    ada = _sign_up(flavour, app, "ada@example.com")
    _sign_up(flavour, app, "bob@example.com")

    as_ada = app.scope(ada.token)
    anonymous = app.scope()
    grant = flavour.call(anonymous, "sign_in_with_email", "bob@example.com", PASSWORD)

    assert anonymous.session_token == grant.session.token
    assert flavour.call(anonymous, "get_session") == grant.session
    assert flavour.call(anonymous, "get_user") == grant.user
    assert flavour.call(anonymous, "get_user_from_db").email == "bob@example.com"
    # Nothing of it reached the app client or the other scope.
    assert as_ada.session_token == ada.token
    assert flavour.call(as_ada, "get_session") is None  # made from a token: sent, not kept
    assert flavour.call(as_ada, "get_user_from_db").email == "ada@example.com"
    assert app.session_token is None
    assert flavour.call(app, "get_session") is None
    # Made from a Session, a scope keeps it.
    from_session = app.scope(ada)
    assert flavour.call(from_session, "get_session") == ada
    assert from_session.storage is not app.storage
    assert isinstance(from_session.storage, agnost.MemoryStore)
    assert list(data_dir.rglob("*")) == []


def test_a_refused_token_clears_only_its_scope_and_its_callback_fires_once(
    flavour: Flavour, agnost_emulator: Emulator, data_dir: Path
) -> None:
    app_events: list[agnost.SessionChange] = []
    app = _app(flavour, agnost_emulator, on_session_change=app_events.append)
    ada = _sign_up(flavour, app, "ada@example.com")
    bob = _sign_up(flavour, app, "bob@example.com")
    ada_events: list[agnost.SessionChange] = []
    bob_events: list[agnost.SessionChange] = []
    as_ada = app.scope(ada, on_session_change=ada_events.append)
    as_bob = app.scope(bob, on_session_change=bob_events.append)
    also_ada = app.scope(ada.token, on_session_change=None)
    # Ada's session ends on the server (signed out from another device, say).
    flavour.call(app.scope(ada.token, on_session_change=None), "sign_out")

    outcomes = _at_once(flavour, [lambda: as_ada.auth.get_user_from_db()] * 5)

    # A call sent after another's refusal was applied carries no token any more.
    assert all(isinstance(o, agnost.SessionTokenError) for o in outcomes), outcomes
    assert any(isinstance(o, agnost.InvalidSessionTokenError) for o in outcomes)
    assert [e.kind for e in ada_events] == [SessionChangeKind.INVALIDATED]
    assert as_ada.session_token is None
    assert flavour.call(as_ada, "get_session") is None
    flavour.raises(agnost.MissingSessionTokenError, as_ada, "get_user_from_db")
    assert len(ada_events) == 1
    # The other scopes, the app client and its callback are untouched.
    assert also_ada.session_token == ada.token
    assert as_bob.session_token == bob.token
    assert flavour.call(as_bob, "get_user_from_db").email == "bob@example.com"
    assert bob_events == []
    assert app_events == []
    assert app.session_token is None
    assert list(data_dir.rglob("*")) == []


def test_scopes_inherit_the_clients_callback_unless_given_their_own(
    flavour: Flavour, agnost_emulator: Emulator
) -> None:
    app_events: list[agnost.SessionChange] = []
    app = _app(flavour, agnost_emulator, on_session_change=app_events.append)
    ada = _sign_up(flavour, app, "ada@example.com")
    own: list[agnost.SessionChange] = []

    flavour.call(app.scope(ada), "invalidate_session")
    flavour.call(app.scope(ada, on_session_change=own.append), "clear_local_data")
    flavour.call(app.scope(ada, on_session_change=None), "invalidate_session")

    assert [e.kind for e in app_events] == [SessionChangeKind.INVALIDATED]
    assert [e.kind for e in own] == [SessionChangeKind.CLEARED]


def test_a_scope_ends_with_its_client_and_closing_it_releases_nothing(
    flavour: Flavour, agnost_emulator: Emulator
) -> None:
    app = _app(flavour, agnost_emulator)
    ada = _sign_up(flavour, app, "ada@example.com")
    first, second = app.scope(ada.token), app.scope(ada.token)
    assert first.is_scope and not app.is_scope
    assert first._transport is app._transport  # one connection pool for all

    if flavour.is_async:

        async def use_and_close() -> Any:
            async with first as same:
                assert same is first
                return await first.auth.get_user_from_db()

        user: Any = flavour.run(use_and_close())
        assert user.email == "ada@example.com"
    else:
        with first as same:
            assert same is first
            assert first.auth.get_user_from_db().email == "ada@example.com"

    assert first.closed
    flavour.raises(agnost.ClientClosedError, first, "get_user_from_db")
    # The pool is still open: the client and the other scope go on.
    assert flavour.call(second, "get_user_from_db").email == "ada@example.com"
    nested = second.scope(ada.token)
    assert nested._parent is app
    flavour.run(app.aclose() if flavour.is_async else app.close())

    assert second.closed and nested.closed
    error = flavour.raises(agnost.ClientClosedError, second, "get_user_from_db")
    assert str(error) == str(agnost.ClientClosedError())
    flavour.raises(agnost.ClientClosedError, nested, "get_user_from_db")
    with pytest.raises(agnost.ClientClosedError):
        app.scope(ada.token)


def test_the_stateless_client_holds_no_session_and_writes_no_file(
    flavour: Flavour, agnost_emulator: Emulator, data_dir: Path
) -> None:
    events: list[agnost.SessionChange] = []
    app = _app(flavour, agnost_emulator, on_session_change=events.append)
    assert app.stateless and repr(app).endswith(" stateless>")
    ada = _sign_up(flavour, app, "ada@example.com")

    flavour.raises(agnost.MissingSessionTokenError, app, "get_user_from_db")
    # A sign-in on it returns the grant to the caller and keeps nothing.
    grant = flavour.call(app, "sign_in_with_email", "ada@example.com", PASSWORD)
    assert app.session_token is None
    assert flavour.call(app, "get_session") is None
    assert flavour.call(app, "get_user") is None
    for name, value in (("set_session", ada), ("set_user", grant.user)):
        error = flavour.raises(agnost.InvalidArgumentError, app, name, value)
        assert error.code == "stateless_client"
    flavour.call(app, "clear_local_data")
    flavour.call(app, "invalidate_session")
    assert events == []
    assert app.session_token is None
    # Its scopes work.
    assert flavour.call(app.scope(grant.session), "get_user_from_db").email == "ada@example.com"
    assert list(data_dir.rglob("*")) == []


def test_a_stateless_client_takes_no_store(flavour: Flavour) -> None:
    with pytest.raises(agnost.InvalidArgumentError) as info:
        flavour.module.create_client(
            "http://127.0.0.1:9", "key", stateless=True, storage=agnost.MemoryStore()
        )
    assert info.value.code == "invalid_storage"
    with pytest.raises(agnost.InvalidArgumentTypeError):
        flavour.module.create_client("http://127.0.0.1:9", "key", stateless="yes")


def test_a_scope_refuses_what_is_not_a_usable_token(flavour: Flavour) -> None:
    app = flavour.make("http://127.0.0.1:9", "key", storage=None, stateless=True)
    secret = "tok-secret\r\nX-Injected: 1"

    with pytest.raises(agnost.InvalidArgumentError) as info:
        app.scope(secret)
    assert "tok-secret" not in str(info.value)
    with pytest.raises(agnost.InvalidArgumentError):
        app.scope("")
    with pytest.raises(agnost.InvalidArgumentTypeError):
        app.scope(12345)
    with pytest.raises(agnost.InvalidArgumentTypeError):
        app.scope("tok", on_session_change="https://example.com/sign-in")


def test_the_blocking_flavour_refuses_a_coroutine_function_as_callback() -> None:
    async def told(event: agnost.SessionChange) -> None:
        pass

    with pytest.raises(agnost.InvalidArgumentTypeError):
        agnost.create_client("http://127.0.0.1:9", "key", stateless=True, on_session_change=told)
    with (
        agnost.create_client("http://127.0.0.1:9", "key", stateless=True) as app,
        pytest.raises(agnost.InvalidArgumentTypeError),
    ):
        app.scope("tok", on_session_change=told)


def test_get_user_from_request_reads_the_requests_token(
    flavour: Flavour, agnost_emulator: Emulator
) -> None:
    app = _app(flavour, agnost_emulator)
    ada = _sign_up(flavour, app, "ada@example.com")
    bob = _sign_up(flavour, app, "bob@example.com")

    by_cookie = flavour.run(app.get_user_from_request({"Cookie": f"session_token={ada.token}"}))
    by_header = flavour.run(app.get_user_from_request([(b"session", bob.token.encode())]))

    assert by_cookie.email == "ada@example.com"
    assert by_header.email == "bob@example.com"
    assert flavour.run(app.get_user_from_request({"Cookie": "theme=dark"})) is None
    flavour.call(app.scope(ada.token, on_session_change=None), "sign_out")
    with pytest.raises(agnost.InvalidSessionTokenError):
        flavour.run(app.get_user_from_request({"Session": ada.token}))
    assert app.session_token is None


def test_no_token_in_the_repr_of_scopes_sessions_or_events(
    flavour: Flavour, agnost_emulator: Emulator
) -> None:
    events: list[agnost.SessionChange] = []
    app = _app(flavour, agnost_emulator, on_session_change=events.append)
    scope = app.scope()
    grant = flavour.call(scope, "sign_up_with_email", "ada@example.com", PASSWORD)
    token = grant.session.token

    [event] = events
    assert event.kind is SessionChangeKind.ESTABLISHED
    assert event.session == grant.session and event.user == grant.user
    for shown in (repr(scope), str(scope), repr(event), str(event), repr(scope.storage)):
        assert token not in shown
    assert repr(scope).startswith(f"<{type(app).__name__} scope ")


def test_scopes_call_the_apps_endpoints_each_as_its_user_at_the_same_time(
    flavour: Flavour, agnost_emulator: Emulator, data_dir: Path
) -> None:
    app = _app(flavour, agnost_emulator)
    emails = [f"user{i:02d}@example.com" for i in range(20)]
    sessions = [_sign_up(flavour, app, email) for email in emails]
    plan = [i % 20 for i in range(100)]

    def call(user: int) -> Any:
        return lambda: app.scope(sessions[user].token).endpoint.get("/whoami")

    answers = _at_once(flavour, [call(user) for user in plan])

    assert [answer["user"]["email"] for answer in answers] == [emails[u] for u in plan]
    # The app client itself is no one to the app's endpoints.
    assert flavour.run(app.endpoint.get("/whoami"))["user"] is None
    assert list(data_dir.rglob("*")) == []


def test_one_shared_callback_is_told_which_scope_changed(
    flavour: Flavour, agnost_emulator: Emulator
) -> None:
    events: list[agnost.SessionChange] = []
    app = _app(flavour, agnost_emulator, on_session_change=events.append)
    ada = _sign_up(flavour, app, "ada@example.com")
    bob = _sign_up(flavour, app, "bob@example.com")
    as_ada, as_bob = app.scope(ada), app.scope(bob)
    users = {id(as_ada): "ada", id(as_bob): "bob"}  # what a server keeps for its requests

    # bob's session ends on the server (through a scope of its own that tells no one)
    flavour.call(app.scope(bob.token, on_session_change=None), "sign_out")
    flavour.raises(agnost.InvalidSessionTokenError, as_bob, "get_user_from_db")
    flavour.call(as_ada, "sign_out")

    assert [(e.kind, users[id(e.client)]) for e in events] == [
        (SessionChangeKind.INVALIDATED, "bob"),
        (SessionChangeKind.SIGNED_OUT, "ada"),
    ]
    assert events[0] == agnost.SessionChange(SessionChangeKind.INVALIDATED)  # client: no part
    assert "client" not in repr(events[0])
