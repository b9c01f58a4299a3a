"""The issue's scripted flow through both agnost flavours against the emulator: sign up, sign in
twice, list sessions, user from the database, sign out all but current, the other session
refused, sign out, and an outbox access token exchanged through ``get_auth_grant``.

tests/interop runs the same flow through the official JavaScript client.
"""

from __future__ import annotations

import pytest

import agnost
import agnost_async
from agnost.emulator import Emulator

PASSWORD = "correct horse"
PROFILE = {"name": "Ada", "favouriteColour": "green"}


def client(emulator: Emulator) -> agnost.Client:
    return agnost.create_client(
        emulator.base_url, emulator.client_key, storage=agnost.MemoryStore()
    )


def async_client(emulator: Emulator) -> agnost_async.AsyncClient:
    return agnost_async.create_client(
        emulator.base_url, emulator.client_key, storage=agnost_async.MemoryStore()
    )


def test_the_flow_through_agnost(agnost_emulator: Emulator) -> None:
    with client(agnost_emulator) as first, client(agnost_emulator) as second:
        signed_up = first.auth.sign_up_with_email("ada@example.com", PASSWORD, PROFILE)
        assert signed_up.session is not None and signed_up.user.extra == {
            "favouriteColour": "green"
        }

        one = first.auth.sign_in_with_email("ada@example.com", PASSWORD)
        two = second.auth.sign_in_with_email("ada@example.com", PASSWORD)
        assert one.session.token != two.session.token
        assert first.auth.get_session() == one.session

        sessions = second.auth.get_all_sessions()
        assert len(sessions) == 3 and {s.user_id for s in sessions} == {signed_up.user.id}
        assert sessions[-1].token == two.session.token

        user = second.auth.get_user_from_db()
        assert user.id == signed_up.user.id and user.name == "Ada"
        assert user.extra["favouriteColour"] == "green"

        second.auth.sign_out_all_except_current()
        assert [s.token for s in second.auth.get_all_sessions()] == [two.session.token]
        with pytest.raises(agnost.InvalidSessionTokenError):
            first.auth.get_user_from_db()
        assert first.auth.get_session() is None  # the refused session was invalidated locally

        second.auth.sign_out()
        assert second.auth.get_session() is None
        with pytest.raises(agnost.MissingSessionTokenError):
            second.auth.get_all_sessions()

    agnost_emulator.configure(email_confirmation=True)
    with client(agnost_emulator) as third:
        pending = third.auth.sign_up_with_email("bo@example.com", PASSWORD, "Bo")
        assert pending.session is None and third.auth.get_session() is None
        with pytest.raises(agnost.EmailNotVerifiedError):
            third.auth.sign_in_with_email("bo@example.com", PASSWORD)
        [message] = agnost_emulator.outbox(recipient="bo@example.com")

        grant = third.auth.get_auth_grant(message.link or "")

        assert grant.user.email_verified is True and grant.user.name == "Bo"
        assert third.auth.get_session() == grant.session
        assert third.auth.get_user_from_db().email_verified is True
        with pytest.raises(agnost.AccessTokenError):
            third.auth.get_auth_grant(message.access_token or "")


async def test_the_flow_through_agnost_async(agnost_emulator: Emulator) -> None:
    async with async_client(agnost_emulator) as first, async_client(agnost_emulator) as second:
        signed_up = await first.auth.sign_up_with_email("ada@example.com", PASSWORD, PROFILE)
        assert signed_up.session is not None

        one = await first.auth.sign_in_with_email("ada@example.com", PASSWORD)
        two = await second.auth.sign_in_with_email("ada@example.com", PASSWORD)
        assert one.session.token != two.session.token

        sessions = await second.auth.get_all_sessions()
        assert len(sessions) == 3 and sessions[-1].token == two.session.token

        user = await second.auth.get_user_from_db()
        assert user.id == signed_up.user.id and user.extra["favouriteColour"] == "green"

        await second.auth.sign_out_all_except_current()
        assert len(await second.auth.get_all_sessions()) == 1
        with pytest.raises(agnost_async.InvalidSessionTokenError):
            await first.auth.get_user_from_db()
        assert await first.auth.get_session() is None

        await second.auth.sign_out()
        assert await second.auth.get_session() is None

    agnost_emulator.configure(email_confirmation=True)
    async with async_client(agnost_emulator) as third:
        pending = await third.auth.sign_up_with_email("bo@example.com", PASSWORD)
        assert pending.session is None
        with pytest.raises(agnost_async.EmailNotVerifiedError):
            await third.auth.sign_in_with_email("bo@example.com", PASSWORD)
        [message] = agnost_emulator.outbox(recipient="bo@example.com")

        grant = await third.auth.get_auth_grant(message.access_token or "")

        assert grant.user.email_verified is True
        assert (await third.auth.get_user_from_db()).id == grant.user.id


def test_phone_sign_up_and_sign_in_and_provider_url(agnost_emulator: Emulator) -> None:
    with client(agnost_emulator) as phone:
        signed_up = phone.auth.sign_up_with_phone("+15555550100", PASSWORD, "Cy")
        assert signed_up.session is not None and signed_up.user.phone == "+15555550100"
        grant = phone.auth.sign_in_with_phone("+15555550100", PASSWORD)
        assert grant.user.id == signed_up.user.id
        with pytest.raises(agnost.InvalidCredentialsError):
            phone.auth.sign_in_with_phone("+15555550100", "not the password")
        with pytest.raises(agnost.ValidationError):
            phone.auth.sign_up_with_phone("12", "short")
        assert (
            phone.auth.sign_in_with_provider("github")
            == agnost_emulator.base_url + "/_auth/github"
        )
