"""Phone confirmation (sign-up by phone, verify-phone) and resending verification emails and
codes, end to end through the outbox over real HTTP, and their bad input."""

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


def test_sign_up_by_phone_with_confirmation_texts_a_code_that_verify_phone_takes(
    api: Api,
) -> None:
    api.emulator.configure(phone_confirmation=True)
    signed_up = sign_up_phone(api)
    assert signed_up["session"] is None and signed_up["user"]["phoneVerified"] is False
    message = last_message(api, "phone_verification", PHONE)
    assert message["userId"] == signed_up["user"]["_id"] and message["link"] is None

    answer = api.post("/verify-phone", params={"code": message["code"], "phone": PHONE})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["user"]["phoneVerified"] is True
    assert api.get("/user", token=body["session"]["token"]).json()["phoneVerified"] is True
    assert api.post("/signin-phone", {"phone": PHONE, "password": PASSWORD}).status_code == 200

    again = api.post("/verify-phone", params={"code": message["code"], "phone": PHONE})
    assert (again.status_code, error_code(again)) == (401, "invalid_code")


def test_without_phone_confirmation_sign_up_sends_no_code(api: Api) -> None:
    assert sign_up_phone(api)["session"] is not None
    assert outbox(api) == []


def test_verify_phone_without_signing_in(api: Api) -> None:
    api.emulator.configure(phone_confirmation=True, sign_in_on_phone_verification=False)
    sign_up_phone(api)
    code = last_message(api, "phone_verification")["code"]
    answer = api.post("/verify-phone", params={"code": code, "phone": PHONE})
    assert answer.status_code == 200
    assert answer.json()["session"] is None and answer.json()["user"]["phoneVerified"] is True
    assert "session_token" not in answer.cookies


def test_verify_phone_refuses_wrong_expired_and_burnt_codes(api: Api) -> None:
    api.emulator.configure(phone_confirmation=True, max_code_attempts=2)
    sign_up_phone(api)
    code = last_message(api, "phone_verification")["code"]
    first = api.post("/verify-phone", params={"code": wrong_code(code), "phone": PHONE})
    second = api.post("/verify-phone", params={"code": wrong_code(code), "phone": PHONE})
    right = api.post("/verify-phone", params={"code": code, "phone": PHONE})
    assert [(a.status_code, error_code(a)) for a in (first, second, right)] == [
        (401, "invalid_code"),
        (429, "too_many_attempts"),  # the second and last try burns the code
        (429, "too_many_attempts"),
    ]

    api.emulator.configure(code_lifetime=0)
    api.post("/resend-code", params={"phone": PHONE})
    expired = last_message(api, "phone_verification")["code"]
    answer = api.post("/verify-phone", params={"code": expired, "phone": PHONE})
    assert (answer.status_code, error_code(answer)) == (401, "invalid_code")


def test_resend_code_sends_a_new_code_that_replaces_the_old(api: Api) -> None:
    api.emulator.configure(phone_confirmation=True)
    sign_up_phone(api)
    sent = api.post("/resend-code", params={"phone": PHONE})
    assert (sent.status_code, sent.content) == (200, b"")
    old, new = (m["code"] for m in outbox(api, "phone_verification", PHONE))
    if old != new:
        stale = api.post("/verify-phone", params={"code": old, "phone": PHONE})
        assert error_code(stale) == "invalid_code"
    assert api.post("/verify-phone", params={"code": new, "phone": PHONE}).status_code == 200


def test_resend_code_answers_the_same_for_unknown_and_verified_numbers(api: Api) -> None:
    api.emulator.configure(phone_confirmation=True)
    sign_up_phone(api)
    sign_up_phone(api, "+15555550101")
    code = last_message(api, "phone_verification", "+15555550101")["code"]
    api.post("/verify-phone", params={"code": code, "phone": "+15555550101"})
    api._send("DELETE", "/_emulator/outbox", token=None)

    answers = [
        api.post("/resend-code", params={"phone": phone})
        for phone in (PHONE, "+15555550101", "+15555550199")
    ]
    assert {(a.status_code, a.content, tuple(sorted(a.headers.keys()))) for a in answers} == {
        (answers[0].status_code, answers[0].content, tuple(sorted(answers[0].headers.keys())))
    }
    assert [m["recipient"] for m in outbox(api)] == [PHONE]  # only the unverified one


def test_resend_sends_a_new_verification_email(api: Api) -> None:
    api.emulator.configure(email_confirmation=True)
    api.sign_up(EMAIL)
    sent = api.post("/resend", params={"email": "ADA@example.com"})
    assert (sent.status_code, sent.content) == (200, b"")
    old, new = outbox(api, "email_verification", EMAIL)
    assert "action=email-confirm" in new["link"]
    stale = api.get("/grant", params={"key": old["accessToken"]})
    assert error_code(stale) == "invalid_access_token"  # replaced by the new link
    granted = api.get("/grant", params={"key": new["accessToken"]})
    assert granted.status_code == 200 and granted.json()["user"]["emailVerified"] is True
    assert api.post("/signin-email", {"email": EMAIL, "password": PASSWORD}).status_code == 200


def test_resend_answers_the_same_for_unknown_and_verified_addresses(api: Api) -> None:
    api.emulator.configure(email_confirmation=True)
    api.sign_up(EMAIL)
    api.sign_up("bo@example.com")
    token = last_message(api, "email_verification", "bo@example.com")["accessToken"]
    api.get("/grant", params={"key": token})
    api._send("DELETE", "/_emulator/outbox", token=None)

    answers = [
        api.post("/resend", params={"email": email})
        for email in (EMAIL, "bo@example.com", "nobody@example.com")
    ]
    assert len({(a.status_code, a.content, tuple(sorted(a.headers.keys()))) for a in answers}) == 1
    assert [m["recipient"] for m in outbox(api)] == [EMAIL]


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/verify-phone", {"code": "123456", "phone": "12345"}, "phone"),
        ("/verify-phone", {"code": "123456"}, "phone"),
        ("/verify-phone", {"phone": PHONE}, "code"),
        ("/resend-code", {"phone": "+0123456789"}, "phone"),
        ("/resend-code", {"phone": "+1555555010012345"}, "phone"),
        ("/resend", {"email": "nobody"}, "email"),
        ("/resend", {}, "email"),
    ],
)
def test_malformed_verification_input_is_a_validation_error(
    api: Api, path: str, params: dict[str, str], field: str
) -> None:
    answer = api.post(path, params=params)
    assert (answer.status_code, error_code(answer)) == (400, "validation_error")
    assert field in answer.json()["fields"]
