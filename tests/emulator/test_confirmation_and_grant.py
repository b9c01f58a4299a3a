"""Email confirmation, the outbox, and the grant endpoint's single-use access tokens."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from agnost.emulator import Emulator

from .conftest import PASSWORD, Api, error_code


@pytest.fixture
def confirming(api: Api) -> Api:
    api.emulator.configure(email_confirmation=True, redirect_url="https://app.example/auth?x=1")
    return api


def test_sign_up_with_confirmation_returns_no_session_and_sends_a_link(confirming: Api) -> None:
    answer = confirming.post("/signup-email", {"email": "Ada@Example.com", "password": PASSWORD})

    assert answer.status_code == 200
    assert answer.json()["session"] is None
    assert "session_token" not in answer.cookies
    user = answer.json()["user"]
    assert user["emailVerified"] is False and "lastLoginAt" not in user

    [message] = confirming.emulator.outbox(recipient="ada@example.com")
    assert message.kind == "email_verification" and message.recipient == "Ada@Example.com"
    assert message.user_id == user["_id"] and message.code is None
    link = urlsplit(message.link or "")
    assert (link.scheme, link.netloc, link.path) == ("https", "app.example", "/auth")
    assert parse_qs(link.query) == {
        "x": ["1"],
        "action": ["email-confirm"],
        "access_token": [message.access_token],
    }
    assert message.access_token not in repr(message)


def test_sign_in_before_verification_is_refused(confirming: Api) -> None:
    confirming.sign_up()
    answer = confirming.post("/signin-email", {"email": "ada@example.com", "password": PASSWORD})
    assert (answer.status_code, error_code(answer)) == (401, "email_not_verified")
    wrong = confirming.post("/signin-email", {"email": "ada@example.com", "password": "nope!!"})
    assert error_code(wrong) == "invalid_credentials"  # the password is checked first


def test_grant_verifies_the_email_and_opens_a_session_once(confirming: Api) -> None:
    confirming.sign_up()
    [message] = confirming.emulator.outbox()

    answer = confirming.get("/grant", params={"key": message.access_token})

    assert answer.status_code == 200
    user, session = answer.json()["user"], answer.json()["session"]
    assert user["emailVerified"] is True and session["userId"] == user["_id"]
    assert answer.cookies["session_token"] == session["token"]
    assert confirming.get("/user", token=session["token"]).json()["emailVerified"] is True
    assert confirming.sign_in()  # verified now

    again = confirming.get("/grant", params={"key": message.access_token})
    assert (again.status_code, error_code(again)) == (403, "invalid_access_token")


def test_grant_without_a_key_is_400_and_with_a_bad_one_403(api: Api) -> None:
    for params in ({}, {"key": ""}):
        answer = api.get("/grant", params=params)
        assert (answer.status_code, error_code(answer)) == (400, "missing_access_token")
    answer = api.get("/grant", params={"key": "made-up"})
    assert (answer.status_code, error_code(answer)) == (403, "invalid_access_token")


def test_an_expired_access_token_is_refused(confirming: Api) -> None:
    confirming.emulator.configure(access_token_lifetime=0)
    confirming.sign_up()
    [message] = confirming.emulator.outbox()
    answer = confirming.get("/grant", params={"key": message.access_token})
    assert (answer.status_code, error_code(answer)) == (403, "invalid_access_token")


def test_turning_confirmation_on_gates_existing_unverified_users(api: Api) -> None:
    api.sign_up()
    api.emulator.configure(email_confirmation=True)
    answer = api.post("/signin-email", {"email": "ada@example.com", "password": PASSWORD})
    assert error_code(answer) == "email_not_verified"


def test_phone_sign_up_needs_no_confirmation(confirming: Api) -> None:
    answer = confirming.post("/signup-phone", {"phone": "+15555550100", "password": PASSWORD})
    assert answer.json()["session"] is not None
    assert confirming.emulator.outbox() == []


def test_default_link_lands_on_the_emulators_redirect_page(agnost_emulator: Emulator) -> None:
    agnost_emulator.configure(email_confirmation=True)
    api = Api(agnost_emulator)
    api.sign_up()
    [message] = agnost_emulator.outbox()
    assert (message.link or "").startswith(agnost_emulator.base_url + "/_emulator/redirect?")

    landing = api.http.get(message.link or "", timeout=10)

    assert landing.json()["accessToken"] == message.access_token
    assert api.get("/grant", params={"key": message.access_token}).status_code == 200
