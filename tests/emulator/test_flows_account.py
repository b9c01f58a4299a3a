"""Account changes (change-pwd, change-email, change-phone), end to end over real HTTP, with
and without confirmation, and their bad input."""

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
)

EMAIL = "ada@example.com"
NEW_EMAIL = "ada.new@example.com"
NEW_PHONE = "+15555550177"


def test_change_password_checks_the_old_one_and_signs_out_the_other_sessions(api: Api) -> None:
    api.sign_up(EMAIL)
    mine, other = api.sign_in(), api.sign_in()
    wrong = api.post(
        "/change-pwd", {"newPassword": "new password", "oldPassword": "nope"}, token=mine
    )
    assert (wrong.status_code, error_code(wrong)) == (401, "invalid_credentials")
    assert api.get("/user", token=other).status_code == 200  # nothing changed

    body = {"newPassword": "new password", "oldPassword": PASSWORD}
    answer = api.post("/change-pwd", body, token=mine)
    assert (answer.status_code, answer.content) == (200, b"")
    assert api.get("/user", token=mine).status_code == 200  # the caller's session stays
    assert error_code(api.get("/user", token=other)) == "invalid_session_token"
    assert api.sign_in(password="new password")
    old = api.post("/signin-email", {"email": EMAIL, "password": PASSWORD})
    assert error_code(old) == "invalid_credentials"


def test_change_password_uses_up_outstanding_reset_links(api: Api) -> None:
    api.sign_up(EMAIL)
    token = api.sign_in()
    api.post("/send-reset", params={"email": EMAIL})
    key = last_message(api, "password_reset")["accessToken"]
    api.post("/change-pwd", {"newPassword": "new password", "oldPassword": PASSWORD}, token=token)
    reset = api.post("/reset-pwd", {"newPassword": "attacker's one"}, params={"key": key})
    assert error_code(reset) == "invalid_access_token"


@pytest.mark.parametrize("path", ["/change-pwd", "/change-email", "/change-phone"])
def test_account_changes_need_a_session(api: Api, path: str) -> None:
    assert error_code(api.post(path, {})) == "missing_session_token"
    assert error_code(api.post(path, {}, token="not-a-session")) == "invalid_session_token"


@pytest.mark.parametrize(
    ("path", "body", "fields"),
    [
        ("/change-pwd", {"newPassword": "short", "oldPassword": PASSWORD}, ["newPassword"]),
        ("/change-pwd", {}, ["newPassword", "oldPassword"]),
        ("/change-email", {"currentPassword": PASSWORD, "newEmail": "nope"}, ["newEmail"]),
        ("/change-email", {"newEmail": NEW_EMAIL}, ["currentPassword"]),
        ("/change-phone", {"currentPassword": PASSWORD, "newPhone": "0155"}, ["newPhone"]),
        ("/change-phone", {"currentPassword": PASSWORD, "newPhone": 15555550177}, ["newPhone"]),
    ],
)
def test_malformed_account_changes_are_validation_errors(
    api: Api, path: str, body: dict[str, object], fields: list[str]
) -> None:
    token = api.sign_up(EMAIL)["session"]["token"]
    answer = api.post(path, body, token=token)
    assert (answer.status_code, error_code(answer)) == (400, "validation_error")
    assert sorted(answer.json()["fields"]) == sorted(fields)


def test_change_email_without_confirmation_changes_it_at_once(api: Api) -> None:
    token = api.sign_up(EMAIL)["session"]["token"]
    wrong = api.post(
        "/change-email", {"currentPassword": "nope", "newEmail": NEW_EMAIL}, token=token
    )
    assert (wrong.status_code, error_code(wrong)) == (401, "invalid_credentials")

    body = {"currentPassword": PASSWORD, "newEmail": NEW_EMAIL}
    answer = api.post("/change-email", body, token=token)
    assert answer.status_code == 200, answer.text
    assert answer.json()["email"] == NEW_EMAIL and answer.json()["emailVerified"] is False
    assert api.get("/user", token=token).json()["email"] == NEW_EMAIL
    assert api.sign_in(NEW_EMAIL)
    old = api.post("/signin-email", {"email": EMAIL, "password": PASSWORD})
    assert error_code(old) == "invalid_credentials"
    assert outbox(api) == []


def test_change_email_with_confirmation_waits_for_the_link_to_the_new_address(api: Api) -> None:
    api.emulator.configure(email_confirmation=True)
    api.sign_up(EMAIL)
    api.get("/grant", params={"key": last_message(api, "email_verification")["accessToken"]})
    token = api.sign_in()

    body = {"currentPassword": PASSWORD, "newEmail": NEW_EMAIL}
    answer = api.post("/change-email", body, token=token)
    assert answer.status_code == 200 and answer.json()["email"] == EMAIL  # not yet
    message = last_message(api, "email_change", NEW_EMAIL)
    assert "action=email-change" in message["link"]
    assert api.sign_in(EMAIL)  # until then the old address signs in

    granted = api.get("/grant", params={"key": message["accessToken"]})
    assert granted.status_code == 200, granted.text
    user = granted.json()["user"]
    assert (user["email"], user["emailVerified"]) == (NEW_EMAIL, True)
    assert api.sign_in(NEW_EMAIL)
    assert error_code(api.post("/signin-email", {"email": EMAIL, "password": PASSWORD})) == (
        "invalid_credentials"
    )
    again = api.get("/grant", params={"key": message["accessToken"]})
    assert error_code(again) == "invalid_access_token"


def test_change_email_to_another_users_address_is_refused(api: Api) -> None:
    token = api.sign_up(EMAIL)["session"]["token"]
    api.sign_up("bo@example.com")
    body = {"currentPassword": PASSWORD, "newEmail": "BO@example.com"}
    answer = api.post("/change-email", body, token=token)
    assert (answer.status_code, error_code(answer)) == (400, "email_not_unique")
    api.emulator.configure(email_confirmation=True)
    answer = api.post("/change-email", body, token=token)
    assert (answer.status_code, error_code(answer)) == (400, "email_not_unique")
    assert outbox(api, "email_change") == []


def test_an_address_taken_before_the_link_is_used_is_refused_then(api: Api) -> None:
    api.emulator.configure(email_confirmation=True)
    api.sign_up(EMAIL)
    api.get("/grant", params={"key": last_message(api, "email_verification")["accessToken"]})
    token = api.sign_in()
    api.post("/change-email", {"currentPassword": PASSWORD, "newEmail": NEW_EMAIL}, token=token)
    key = last_message(api, "email_change")["accessToken"]
    api.sign_up(NEW_EMAIL)  # someone else takes it meanwhile
    answer = api.get("/grant", params={"key": key})
    assert (answer.status_code, error_code(answer)) == (400, "email_not_unique")
    assert api.get("/user", token=token).json()["email"] == EMAIL


def test_change_phone_without_confirmation_changes_it_at_once(api: Api) -> None:
    token = sign_up_phone(api)["session"]["token"]
    body = {"currentPassword": PASSWORD, "newPhone": "+1 555 555 0177"}
    answer = api.post("/change-phone", body, token=token)
    assert answer.status_code == 200, answer.text
    assert (answer.json()["phone"], answer.json()["phoneVerified"]) == (NEW_PHONE, False)
    assert api.post("/signin-phone", {"phone": NEW_PHONE, "password": PASSWORD}).ok
    assert error_code(api.post("/signin-phone", {"phone": PHONE, "password": PASSWORD})) == (
        "invalid_credentials"
    )


def test_change_phone_with_confirmation_waits_for_the_code_to_the_new_number(api: Api) -> None:
    token = sign_up_phone(api)["session"]["token"]
    api.emulator.configure(phone_confirmation=True)
    wrong = api.post("/change-phone", {"currentPassword": "x", "newPhone": NEW_PHONE}, token=token)
    assert error_code(wrong) == "invalid_credentials"
    body = {"currentPassword": PASSWORD, "newPhone": NEW_PHONE}
    answer = api.post("/change-phone", body, token=token)
    assert answer.status_code == 200 and answer.json()["phone"] == PHONE  # not yet
    message = last_message(api, "phone_verification", NEW_PHONE)

    # resend-code reaches a pending new number too
    assert api.post("/resend-code", params={"phone": NEW_PHONE}).status_code == 200
    code = last_message(api, "phone_verification", NEW_PHONE)["code"]
    assert len(outbox(api, "phone_verification", NEW_PHONE)) == 2 and message["code"]

    verified = api.post("/verify-phone", params={"code": code, "phone": NEW_PHONE})
    assert verified.status_code == 200, verified.text
    user = verified.json()["user"]
    assert (user["phone"], user["phoneVerified"]) == (NEW_PHONE, True)
    assert api.get("/user", token=token).json()["phone"] == NEW_PHONE


def test_change_phone_to_another_users_number_is_refused(api: Api) -> None:
    token = sign_up_phone(api)["session"]["token"]
    sign_up_phone(api, NEW_PHONE)
    body = {"currentPassword": PASSWORD, "newPhone": NEW_PHONE}
    answer = api.post("/change-phone", body, token=token)
    assert (answer.status_code, error_code(answer)) == (400, "phone_not_unique")


def test_an_oauth_user_has_no_password_to_confirm_a_change(api: Api) -> None:
    redirect = api.http.get(f"{api.base_url}/_auth/github", allow_redirects=False, timeout=10)
    key = redirect.headers["Location"].rsplit("access_token=", 1)[1]
    token = api.get("/grant", params={"key": key}).json()["session"]["token"]
    answer = api.post("/change-email", {"currentPassword": "", "newEmail": NEW_EMAIL}, token=token)
    assert answer.status_code == 400  # an empty password is malformed
    answer = api.post(
        "/change-email", {"currentPassword": "anything", "newEmail": NEW_EMAIL}, token=token
    )
    assert (answer.status_code, error_code(answer)) == (401, "invalid_credentials")


def test_links_sent_to_the_old_address_stop_working_when_it_changes(api: Api) -> None:
    token = api.sign_up(EMAIL)["session"]["token"]
    api.post("/send-magic", params={"email": EMAIL})
    api.post("/send-reset", params={"email": EMAIL})
    magic = last_message(api, "magic_link")["accessToken"]
    reset = last_message(api, "password_reset")["accessToken"]
    body = {"currentPassword": PASSWORD, "newEmail": NEW_EMAIL}
    assert api.post("/change-email", body, token=token).status_code == 200
    assert error_code(api.get("/grant", params={"key": magic})) == "invalid_access_token"
    answer = api.post("/reset-pwd", {"newPassword": "new password"}, params={"key": reset})
    assert (answer.status_code, error_code(answer)) == (403, "invalid_access_token")
    assert api.sign_in(NEW_EMAIL)


def test_codes_sent_to_the_old_number_stop_working_when_it_changes(api: Api) -> None:
    token = sign_up_phone(api)["session"]["token"]
    api.post("/send-code", params={"phone": PHONE})
    api.post("/send-reset-code", params={"phone": PHONE})
    sign_in_code = last_message(api, "sign_in_code")["code"]
    reset_code = last_message(api, "password_reset_code")["code"]
    body = {"currentPassword": PASSWORD, "newPhone": NEW_PHONE}
    assert api.post("/change-phone", body, token=token).status_code == 200
    by_code = api.post("/signin-code", params={"code": sign_in_code, "phone": PHONE})
    assert error_code(by_code) == "invalid_code"
    reset = api.post(
        "/reset-pwd-code", {"newPassword": "new pw"}, params={"phone": PHONE, "code": reset_code}
    )
    assert error_code(reset) == "invalid_code"
