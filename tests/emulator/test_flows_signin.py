"""Sign-in codes (send-code, signin-code) and magic links (send-magic, grant), end to end
through the outbox over real HTTP, and their bad input."""

from __future__ import annotations

import pytest

from .conftest import (
    PASSWORD,
    PHONE,
    Api,
    error_code,
    last_message,
    outbox,
    sign_up_phone,
    wrong_code,
)

EMAIL = "ada@example.com"


# --- sign-in codes ---------------------------------------------------------------------------


def test_a_sign_in_code_signs_in_once(api: Api) -> None:
    user = sign_up_phone(api)["user"]
    sent = api.post("/send-code", params={"phone": PHONE})
    assert (sent.status_code, sent.content) == (200, b"")
    message = last_message(api, "sign_in_code", PHONE)
    assert message["recipient"] == PHONE and message["userId"] == user["_id"]
    assert message["link"] is None and message["accessToken"] is None
    assert message["code"].isdigit() and len(message["code"]) == 6
    assert message["expiresAt"] > message["createdAt"]

    answer = api.post("/signin-code", params={"code": message["code"], "phone": PHONE})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["user"]["_id"] == user["_id"] and body["user"]["phoneVerified"] is True
    token = body["session"]["token"]
    assert answer.cookies["session_token"] == token
    assert api.get("/user", token=token).json()["_id"] == user["_id"]

    again = api.post("/signin-code", params={"code": message["code"], "phone": PHONE})
    assert (again.status_code, error_code(again)) == (401, "invalid_code")


def test_a_wrong_code_is_refused_and_the_right_one_still_works(api: Api) -> None:
    sign_up_phone(api)
    api.post("/send-code", params={"phone": PHONE})
    code = last_message(api, "sign_in_code")["code"]
    wrong = api.post("/signin-code", params={"code": wrong_code(code), "phone": PHONE})
    assert (wrong.status_code, error_code(wrong)) == (401, "invalid_code")
    assert api.post("/signin-code", params={"code": code, "phone": PHONE}).status_code == 200


def test_a_new_code_replaces_the_old_one(api: Api) -> None:
    sign_up_phone(api)
    api.post("/send-code", params={"phone": PHONE})
    api.post("/send-code", params={"phone": PHONE})
    first, second = (m["code"] for m in outbox(api, "sign_in_code"))
    if first != second:
        old = api.post("/signin-code", params={"code": first, "phone": PHONE})
        assert error_code(old) == "invalid_code"
    assert api.post("/signin-code", params={"code": second, "phone": PHONE}).status_code == 200


def test_an_expired_code_is_refused(api: Api) -> None:
    sign_up_phone(api)
    api.emulator.configure(code_lifetime=0)
    api.post("/send-code", params={"phone": PHONE})
    code = last_message(api, "sign_in_code")["code"]
    answer = api.post("/signin-code", params={"code": code, "phone": PHONE})
    assert (answer.status_code, error_code(answer)) == (401, "invalid_code")


def test_too_many_wrong_codes_burn_the_code(api: Api) -> None:
    sign_up_phone(api)
    api.emulator.configure(max_code_attempts=3)
    api.post("/send-code", params={"phone": PHONE})
    code = last_message(api, "sign_in_code")["code"]
    answers = [
        api.post("/signin-code", params={"code": wrong_code(code), "phone": PHONE})
        for _ in range(3)
    ]
    assert [(a.status_code, error_code(a)) for a in answers] == [
        (401, "invalid_code"),
        (401, "invalid_code"),
        (429, "too_many_attempts"),
    ]
    right = api.post("/signin-code", params={"code": code, "phone": PHONE})
    assert (right.status_code, error_code(right)) == (429, "too_many_attempts")
    # A new code starts afresh.
    api.post("/send-code", params={"phone": PHONE})
    fresh = last_message(api, "sign_in_code")["code"]
    assert api.post("/signin-code", params={"code": fresh, "phone": PHONE}).status_code == 200


def test_the_code_length_is_a_setting(api: Api) -> None:
    sign_up_phone(api)
    api.emulator.configure(code_length=8)
    api.post("/send-code", params={"phone": PHONE})
    assert len(last_message(api, "sign_in_code")["code"]) == 8


def test_a_code_for_one_phone_does_not_sign_in_another(api: Api) -> None:
    sign_up_phone(api)
    sign_up_phone(api, "+15555550101")
    api.post("/send-code", params={"phone": PHONE})
    code = last_message(api, "sign_in_code")["code"]
    other = api.post("/signin-code", params={"code": code, "phone": "+15555550101"})
    assert error_code(other) == "invalid_code"


def test_send_code_to_an_unknown_phone_answers_the_same_and_sends_nothing(api: Api) -> None:
    sign_up_phone(api)
    known = api.post("/send-code", params={"phone": PHONE})
    unknown = api.post("/send-code", params={"phone": "+15555550199"})
    assert (known.status_code, known.content, dict(known.cookies)) == (
        unknown.status_code,
        unknown.content,
        dict(unknown.cookies),
    )
    assert known.headers.keys() == unknown.headers.keys()
    assert [m["recipient"] for m in outbox(api)] == [PHONE]
    answer = api.post("/signin-code", params={"code": "000000", "phone": "+15555550199"})
    assert (answer.status_code, error_code(answer)) == (401, "invalid_code")


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/send-code", {"phone": "5555550100"}, "phone"),
        ("/send-code", {"phone": "+1 abc"}, "phone"),
        ("/send-code", {}, "phone"),
        ("/signin-code", {"code": "123456", "phone": "not a phone"}, "phone"),
        ("/signin-code", {"phone": PHONE}, "code"),
        ("/signin-code", {"code": "", "phone": PHONE}, "code"),
        ("/signin-code", {"code": "1" * 65, "phone": PHONE}, "code"),
    ],
)
def test_malformed_sign_in_code_input_is_a_validation_error(
    api: Api, path: str, params: dict[str, str], field: str
) -> None:
    answer = api.post(path, params=params)
    assert (answer.status_code, error_code(answer)) == (400, "validation_error")
    assert field in answer.json()["fields"]
    assert outbox(api) == []


def test_sign_in_by_phone_waits_for_verification_with_phone_confirmation_on(api: Api) -> None:
    api.emulator.configure(phone_confirmation=True)
    assert sign_up_phone(api)["session"] is None
    refused = api.post("/signin-phone", {"phone": PHONE, "password": PASSWORD})
    assert (refused.status_code, error_code(refused)) == (401, "phone_not_verified")
    # A sign-in code proves the number.
    api.post("/send-code", params={"phone": PHONE})
    code = last_message(api, "sign_in_code")["code"]
    assert api.post("/signin-code", params={"code": code, "phone": PHONE}).status_code == 200
    assert api.post("/signin-phone", {"phone": PHONE, "password": PASSWORD}).status_code == 200


# --- magic links -----------------------------------------------------------------------------


def test_a_magic_link_signs_in_once_through_the_grant(api: Api) -> None:
    user = api.sign_up(EMAIL)["user"]
    sent = api.post("/send-magic", params={"email": "Ada@Example.com"})
    assert (sent.status_code, sent.content) == (200, b"")
    message = last_message(api, "magic_link", EMAIL)
    assert message["code"] is None and message["userId"] == user["_id"]
    assert "action=magic-link" in message["link"]
    assert f"access_token={message['accessToken']}" in message["link"]

    answer = api.get("/grant", params={"key": message["accessToken"]})
    assert answer.status_code == 200, answer.text
    granted = answer.json()
    assert granted["user"]["_id"] == user["_id"] and granted["user"]["emailVerified"] is True
    assert api.get("/user", token=granted["session"]["token"]).status_code == 200

    again = api.get("/grant", params={"key": message["accessToken"]})
    assert (again.status_code, error_code(again)) == (403, "invalid_access_token")


def test_a_magic_link_signs_in_an_unverified_user_with_confirmation_on(api: Api) -> None:
    api.emulator.configure(email_confirmation=True)
    api.sign_up(EMAIL)
    api.post("/send-magic", params={"email": EMAIL})
    token = last_message(api, "magic_link")["accessToken"]
    assert api.get("/grant", params={"key": token}).json()["user"]["emailVerified"] is True
    assert api.post("/signin-email", {"email": EMAIL, "password": PASSWORD}).status_code == 200


def test_an_expired_magic_link_is_refused(api: Api) -> None:
    api.sign_up(EMAIL)
    api.emulator.configure(access_token_lifetime=0)
    api.post("/send-magic", params={"email": EMAIL})
    token = last_message(api, "magic_link")["accessToken"]
    answer = api.get("/grant", params={"key": token})
    assert (answer.status_code, error_code(answer)) == (403, "invalid_access_token")


def test_a_new_magic_link_replaces_the_old_one(api: Api) -> None:
    api.sign_up(EMAIL)
    api.post("/send-magic", params={"email": EMAIL})
    api.post("/send-magic", params={"email": EMAIL})
    first, second = (m["accessToken"] for m in outbox(api, "magic_link"))
    assert error_code(api.get("/grant", params={"key": first})) == "invalid_access_token"
    assert api.get("/grant", params={"key": second}).status_code == 200


def test_a_wrong_magic_token_is_refused(api: Api) -> None:
    api.sign_up(EMAIL)
    api.post("/send-magic", params={"email": EMAIL})
    token = last_message(api, "magic_link")["accessToken"]
    answer = api.get("/grant", params={"key": token[:-1] + ("A" if token[-1] != "A" else "B")})
    assert (answer.status_code, error_code(answer)) == (403, "invalid_access_token")
    assert api.get("/grant", params={"key": token}).status_code == 200


def test_send_magic_to_an_unknown_address_answers_the_same(api: Api) -> None:
    api.sign_up(EMAIL)
    known = api.post("/send-magic", params={"email": EMAIL})
    unknown = api.post("/send-magic", params={"email": "nobody@example.com"})
    assert (known.status_code, known.content) == (unknown.status_code, unknown.content)
    assert known.headers.keys() == unknown.headers.keys()
    assert [m["recipient"] for m in outbox(api)] == [EMAIL]


@pytest.mark.parametrize("email", ["", "not-an-email", "a@b", "two@@example.com", "a b@c.de"])
def test_send_magic_refuses_a_malformed_email(api: Api, email: str) -> None:
    answer = api.post("/send-magic", params={"email": email})
    assert (answer.status_code, error_code(answer)) == (400, "validation_error")
    assert answer.json()["fields"] == ["email"]
