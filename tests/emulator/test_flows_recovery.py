"""Password reset by emailed link (send-reset, reset-pwd) and by SMS code (send-reset-code,
reset-pwd-code), end to end through the outbox over real HTTP, and their bad input."""

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
NEW_PASSWORD = "a brand new one"
NEW = {"newPassword": NEW_PASSWORD}


def reset_link(api: Api, email: str = EMAIL) -> str:
    sent = api.post("/send-reset", params={"email": email})
    assert (sent.status_code, sent.content) == (200, b"")
    token: str = last_message(api, "password_reset", email)["accessToken"]
    return token


def test_reset_by_link_sets_the_password_once_and_signs_out_everywhere(api: Api) -> None:
    user = api.sign_up(EMAIL)["user"]
    session = api.sign_in()
    token = reset_link(api)
    message = last_message(api, "password_reset")
    assert message["userId"] == user["_id"] and message["code"] is None
    assert "action=reset-pwd" in message["link"] and token in message["link"]

    answer = api.post("/reset-pwd", {"newPassword": NEW_PASSWORD}, params={"key": token})
    assert (answer.status_code, answer.content) == (200, b"")
    old = api.post("/signin-email", {"email": EMAIL, "password": PASSWORD})
    assert error_code(old) == "invalid_credentials"
    assert api.sign_in(password=NEW_PASSWORD)
    assert error_code(api.get("/user", token=session)) == "invalid_session_token"

    again = api.post("/reset-pwd", {"newPassword": "yet another"}, params={"key": token})
    assert (again.status_code, error_code(again)) == (403, "invalid_access_token")
    assert api.sign_in(password=NEW_PASSWORD)


def test_a_reset_link_is_not_a_sign_in_link(api: Api) -> None:
    api.sign_up(EMAIL)
    token = reset_link(api)
    granted = api.get("/grant", params={"key": token})
    assert (granted.status_code, error_code(granted)) == (403, "invalid_access_token")
    # ... and it stays usable for what it is for.
    answer = api.post("/reset-pwd", {"newPassword": NEW_PASSWORD}, params={"key": token})
    assert answer.status_code == 200


def test_wrong_expired_and_missing_reset_tokens(api: Api) -> None:
    api.sign_up(EMAIL)
    token = reset_link(api)
    wrong = api.post("/reset-pwd", {"newPassword": NEW_PASSWORD}, params={"key": token + "x"})
    assert (wrong.status_code, error_code(wrong)) == (403, "invalid_access_token")
    missing = api.post("/reset-pwd", {"newPassword": NEW_PASSWORD})
    assert (missing.status_code, error_code(missing)) == (400, "missing_access_token")

    api.emulator.configure(access_token_lifetime=0)
    expired = reset_link(api)
    answer = api.post("/reset-pwd", {"newPassword": NEW_PASSWORD}, params={"key": expired})
    assert (answer.status_code, error_code(answer)) == (403, "invalid_access_token")
    assert api.sign_in(password=PASSWORD)


def test_a_weak_new_password_is_refused_and_the_link_kept(api: Api) -> None:
    api.sign_up(EMAIL)
    token = reset_link(api)
    for body in ({"newPassword": "short"}, {}, {"newPassword": 123456}):
        answer = api.post("/reset-pwd", body, params={"key": token})
        assert (answer.status_code, error_code(answer)) == (400, "validation_error")
        assert answer.json()["fields"] == ["newPassword"]
    assert api.post("/reset-pwd", {"newPassword": NEW_PASSWORD}, params={"key": token}).ok


def test_send_reset_answers_the_same_for_an_unknown_address(api: Api) -> None:
    api.sign_up(EMAIL)
    known = api.post("/send-reset", params={"email": EMAIL})
    unknown = api.post("/send-reset", params={"email": "nobody@example.com"})
    assert (known.status_code, known.content) == (unknown.status_code, unknown.content)
    assert known.headers.keys() == unknown.headers.keys()
    assert [m["recipient"] for m in outbox(api)] == [EMAIL]


def test_reset_by_code_sets_the_password_once(api: Api) -> None:
    session = sign_up_phone(api)["session"]["token"]
    sent = api.post("/send-reset-code", params={"phone": PHONE})
    assert (sent.status_code, sent.content) == (200, b"")
    code = last_message(api, "password_reset_code", PHONE)["code"]

    params = {"phone": PHONE, "code": code}
    answer = api.post("/reset-pwd-code", {"newPassword": NEW_PASSWORD}, params=params)
    assert (answer.status_code, answer.content) == (200, b"")
    assert api.post("/signin-phone", {"phone": PHONE, "password": NEW_PASSWORD}).status_code == 200
    old = api.post("/signin-phone", {"phone": PHONE, "password": PASSWORD})
    assert error_code(old) == "invalid_credentials"
    assert error_code(api.get("/user", token=session)) == "invalid_session_token"

    again = api.post("/reset-pwd-code", {"newPassword": "yet another"}, params=params)
    assert (again.status_code, error_code(again)) == (401, "invalid_code")


def test_reset_codes_wrong_expired_and_too_many(api: Api) -> None:
    sign_up_phone(api)
    api.emulator.configure(max_code_attempts=2)
    api.post("/send-reset-code", params={"phone": PHONE})
    code = last_message(api, "password_reset_code")["code"]
    body = {"newPassword": NEW_PASSWORD}
    bad = {"phone": PHONE, "code": wrong_code(code)}
    first = api.post("/reset-pwd-code", body, params=bad)
    second = api.post("/reset-pwd-code", body, params=bad)
    right = api.post("/reset-pwd-code", body, params={"phone": PHONE, "code": code})
    assert [(a.status_code, error_code(a)) for a in (first, second, right)] == [
        (401, "invalid_code"),
        (429, "too_many_attempts"),
        (429, "too_many_attempts"),
    ]
    api.emulator.configure(code_lifetime=0)
    api.post("/send-reset-code", params={"phone": PHONE})
    expired = last_message(api, "password_reset_code")["code"]
    answer = api.post("/reset-pwd-code", body, params={"phone": PHONE, "code": expired})
    assert (answer.status_code, error_code(answer)) == (401, "invalid_code")
    assert api.post("/signin-phone", {"phone": PHONE, "password": PASSWORD}).status_code == 200


def test_a_sign_in_code_does_not_reset_a_password(api: Api) -> None:
    sign_up_phone(api)
    api.post("/send-code", params={"phone": PHONE})
    code = last_message(api, "sign_in_code")["code"]
    answer = api.post(
        "/reset-pwd-code", {"newPassword": NEW_PASSWORD}, params={"phone": PHONE, "code": code}
    )
    assert (answer.status_code, error_code(answer)) == (401, "invalid_code")


def test_send_reset_code_answers_the_same_for_an_unknown_number(api: Api) -> None:
    sign_up_phone(api)
    known = api.post("/send-reset-code", params={"phone": PHONE})
    unknown = api.post("/send-reset-code", params={"phone": "+15555550199"})
    assert (known.status_code, known.content) == (unknown.status_code, unknown.content)
    assert known.headers.keys() == unknown.headers.keys()
    assert [m["recipient"] for m in outbox(api)] == [PHONE]
    answer = api.post(
        "/reset-pwd-code",
        {"newPassword": NEW_PASSWORD},
        params={"phone": "+15555550199", "code": "123456"},
    )
    assert (answer.status_code, error_code(answer)) == (401, "invalid_code")


@pytest.mark.parametrize(
    ("path", "params", "body", "fields"),
    [
        ("/send-reset", {"email": "a@b"}, None, ["email"]),
        ("/send-reset-code", {"phone": "phone"}, None, ["phone"]),
        ("/reset-pwd-code", {"phone": "+1", "code": "123456"}, NEW, ["phone"]),
        ("/reset-pwd-code", {"phone": PHONE}, NEW, ["code"]),
        ("/reset-pwd-code", {"phone": PHONE, "code": "1"}, {"newPassword": "x"}, ["newPassword"]),
        ("/reset-pwd-code", {}, {}, ["phone", "code", "newPassword"]),
    ],
)  # fmt: skip
def test_malformed_reset_input_is_a_validation_error(
    api: Api, path: str, params: dict[str, str], body: object, fields: list[str]
) -> None:
    answer = api.post(path, body, params=params)
    assert (answer.status_code, error_code(answer)) == (400, "validation_error")
    assert sorted(answer.json()["fields"]) == sorted(fields)
