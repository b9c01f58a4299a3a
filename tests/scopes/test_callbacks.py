"""``on_session_change``, in both flavours, against the emulator: one event after each local
session change, saying which, after the change is complete; a coroutine function is awaited
in agnost_async; its exception reaches the caller, never hiding the server's own error."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import agnost
from agnost import SessionChangeKind as Kind
from agnost.emulator import Emulator
from tests.clients._support import Flavour

PASSWORD = "correct horse battery"


def _recorder(flavour: Flavour, client_ref: list[Any]) -> tuple[list[Any], Any]:
    """A callback recording (kind, token sent at that moment); a coroutine function in the
    async flavour, so the test also shows it is awaited."""
    seen: list[Any] = []

    def note(event: agnost.SessionChange) -> None:
        seen.append((event.kind, client_ref[0].session_token if client_ref else None))

    if not flavour.is_async:
        return seen, note

    async def told(event: agnost.SessionChange) -> None:
        await asyncio.sleep(0)
        note(event)

    return seen, told


def test_every_local_session_change_is_told_once_with_its_kind(
    flavour: Flavour, agnost_emulator: Emulator
) -> None:
    ref: list[Any] = []
    seen, callback = _recorder(flavour, ref)
    client = flavour.make(
        agnost_emulator.base_url, agnost_emulator.client_key, on_session_change=callback
    )
    ref.append(client)
    url, key = agnost_emulator.base_url, agnost_emulator.client_key
    other = flavour.make(url, key)

    grant = flavour.call(client, "sign_up_with_email", "ada@example.com", PASSWORD)
    flavour.call(client, "get_user_from_db")  # no local change, no event
    flavour.call(client, "set_user", grant.user)
    flavour.call(client, "sign_out")
    second = flavour.call(client, "sign_in_with_email", "ada@example.com", PASSWORD)
    flavour.call(client, "clear_local_data")
    flavour.call(client, "invalidate_session")
    flavour.call(client, "set_session", second.session)
    flavour.call(client, "sign_out_all")
    third = flavour.call(other, "sign_in_with_email", "ada@example.com", PASSWORD)
    flavour.call(client, "set_session", third.session)
    flavour.call(other, "sign_out")  # the server refuses third's token from now on
    flavour.raises(agnost.InvalidSessionTokenError, client, "get_all_sessions")
    flavour.raises(agnost.MissingSessionTokenError, client, "get_all_sessions")

    # Each event comes after its change: the token sent then is already the new one.
    assert seen == [
        (Kind.ESTABLISHED, grant.session.token),
        (Kind.USER_SET, grant.session.token),
        (Kind.SIGNED_OUT, None),
        (Kind.ESTABLISHED, second.session.token),
        (Kind.CLEARED, second.session.token),  # still sent, as the official client does
        (Kind.INVALIDATED, None),
        (Kind.SET, second.session.token),
        (Kind.SIGNED_OUT, None),
        (Kind.SET, third.session.token),
        (Kind.INVALIDATED, None),
    ]
    assert [k.value for k, _ in seen[:3]] == ["established", "user_set", "signed_out"]


def test_events_carry_what_is_now_kept(flavour: Flavour, agnost_emulator: Emulator) -> None:
    events: list[agnost.SessionChange] = []
    client = flavour.make(
        agnost_emulator.base_url, agnost_emulator.client_key, on_session_change=events.append
    )
    grant = flavour.call(client, "sign_up_with_email", "ada@example.com", PASSWORD)
    flavour.call(client, "set_user", grant.user)
    flavour.call(client, "set_session", grant.session)
    flavour.call(client, "invalidate_session")

    established, user_set, set_, invalidated = events
    assert (established.session, established.user) == (grant.session, grant.user)
    assert (user_set.session, user_set.user) == (None, grant.user)
    assert (set_.session, set_.user) == (grant.session, None)
    assert (invalidated.session, invalidated.user) == (None, None)
    token = grant.session.token
    assert all(token not in repr(event) for event in events)


def test_a_failing_callback_raises_after_the_change_is_complete(
    flavour: Flavour, agnost_emulator: Emulator
) -> None:
    class Told(Exception):
        pass

    def failing(event: agnost.SessionChange) -> None:
        raise Told(event.kind.value)

    redirect = flavour.redirect_recorder()
    client = flavour.make(
        agnost_emulator.base_url,
        agnost_emulator.client_key,
        on_session_change=failing,
        sign_in_redirect=redirect,
    )

    with pytest.raises(Told, match="established"):
        flavour.call(client, "sign_up_with_email", "ada@example.com", PASSWORD)
    session = flavour.call(client, "get_session")
    assert session is not None and client.session_token == session.token
    assert flavour.call(client, "get_user_from_db").email == "ada@example.com"

    # The server refusing the token: the caller sees the server's error, the callback's
    # as its context; the change and the redirect happened all the same.
    with agnost.create_client(agnost_emulator.base_url, agnost_emulator.client_key) as other:
        other.scope(session).auth.sign_out()
    error = flavour.raises(agnost.InvalidSessionTokenError, client, "get_all_sessions")
    assert isinstance(error.__context__, Told)
    assert client.session_token is None
    assert flavour.call(client, "get_session") is None
    assert len(redirect.calls) == 1  # type: ignore[attr-defined]

    with pytest.raises(Told, match="invalidated"):
        flavour.call(client, "invalidate_session")
    assert len(redirect.calls) == 2  # type: ignore[attr-defined]


def test_a_refused_value_changes_nothing_and_tells_nothing(
    flavour: Flavour, agnost_emulator: Emulator
) -> None:
    events: list[agnost.SessionChange] = []
    client = flavour.make(
        agnost_emulator.base_url, agnost_emulator.client_key, on_session_change=events.append
    )
    user = agnost.User(id="u1", extra={"bad": {1, 2}})  # a set: JSON has no form for it

    flavour.raises(agnost.InvalidArgumentTypeError, client, "set_user", user)

    assert events == []
