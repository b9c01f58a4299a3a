"""Sign-up and sign-in, by email and by phone: what a user and a session look like, and every
way the emulator refuses them (protocol.md §3, §4, §5)."""

from __future__ import annotations

import inspect
import re

import pytest

from agnost.emulator import accounts

from .conftest import PASSWORD, Api, error_code

ISO_MILLIS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
CHROME_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/99.0.4844.51 Safari/537.36"
)


def test_sign_up_with_email_returns_the_user_and_a_session(api: Api) -> None:
    answer = api.post(
        "/signup-email",
        {"email": "Ada@Example.com", "password": PASSWORD, "nameOrUserData": "Ada"},
        headers={"User-Agent": CHROME_MAC},
    )

    assert answer.status_code == 200
    user, session = answer.json()["user"], answer.json()["session"]
    assert re.fullmatch(r"[0-9a-f]{24}", user["_id"])
    assert user["provider"] == "agnost" and user["providerUserId"] == user["_id"]
    assert user["email"] == "Ada@Example.com" and user["name"] == "Ada"
    assert user["emailVerified"] is False
    assert ISO_MILLIS.fullmatch(user["signUpAt"]) and ISO_MILLIS.fullmatch(user["lastLoginAt"])
    assert "password" not in user and PASSWORD not in answer.text
    assert session["userId"] == user["_id"]
    assert len(session["token"]) >= 43  # 256 bits, URL-safe base64
    assert ISO_MILLIS.fullmatch(session["creationDtm"])
    assert session["accessGroupKeys"] == []
    assert session["userAgent"] == {
        "family": "Chrome",
        "major": "99",
        "minor": "0",
        "patch": "4844",
        "device": {"family": "Mac", "major": "0", "minor": "0", "patch": "0"},
        "os": {"family": "Mac OS X", "major": "10", "minor": "15", "patch": "7"},
    }
    assert answer.cookies["session_token"] == session["token"]


def test_user_data_object_keeps_custom_fields(api: Api) -> None:
    data = {"name": "Ada", "favouriteColour": "green", "tags": ["a", "b"], "email": "ADA@x.co"}
    user = api.sign_up("ada@x.co", nameOrUserData=data)["user"]
    token = api.sign_in("ada@x.co")

    stored = api.get("/user", token=token).json()
    for found in (user, stored):
        assert found["name"] == "Ada"
        assert found["favouriteColour"] == "green" and found["tags"] == ["a", "b"]
        assert found["email"] == "ada@x.co"


def test_an_unknown_user_agent_is_other_and_zeros(api: Api) -> None:
    answer = api.post(
        "/signup-email",
        {"email": "ada@x.co", "password": PASSWORD},
        headers={"User-Agent": "my-script/1"},
    )
    agent = answer.json()["session"]["userAgent"]
    assert agent["family"] == "Other" and agent["major"] == "0"
    assert agent["os"] == {"family": "Other", "major": "0", "minor": "0", "patch": "0"}


def test_sign_in_with_email_is_case_insensitive_and_opens_a_new_session(api: Api) -> None:
    first = api.sign_up("ada@example.com")["session"]["token"]
    answer = api.post("/signin-email", {"email": "ADA@example.COM", "password": PASSWORD})

    assert answer.status_code == 200
    second = answer.json()["session"]["token"]
    assert second != first
    assert answer.cookies["session_token"] == second
    assert len(api.get("/sessions", token=second).json()) == 2


@pytest.mark.parametrize(
    ("email", "password"),
    [("ada@example.com", "wrong password"), ("nobody@example.com", PASSWORD)],
    ids=["wrong-password", "unknown-email"],
)
def test_bad_credentials_are_refused_alike(api: Api, email: str, password: str) -> None:
    api.sign_up("ada@example.com")
    answer = api.post("/signin-email", {"email": email, "password": password})

    assert answer.status_code == 401
    assert error_code(answer) == "invalid_credentials"
    assert answer.json()["errors"][0]["origin"] == "client_error"
    assert "session_token" not in answer.cookies


def test_email_is_unique_case_insensitively(api: Api) -> None:
    api.sign_up("ada@example.com")
    answer = api.post("/signup-email", {"email": "ADA@EXAMPLE.COM", "password": PASSWORD})
    assert answer.status_code == 400
    assert error_code(answer) == "email_not_unique"


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"email": "not-an-email", "password": PASSWORD}, ["email"]),
        ({"email": "ada@x.co", "password": "12345"}, ["password"]),
        ({"password": PASSWORD}, ["email"]),
        ({"email": 42, "password": None}, ["email", "password"]),
        ({"email": "ada@x.co", "password": PASSWORD, "nameOrUserData": 7}, ["nameOrUserData"]),
        (
            {"email": "ada@x.co", "password": PASSWORD, "nameOrUserData": {"_id": "x"}},
            ["nameOrUserData"],
        ),
        (
            {"email": "ada@x.co", "password": PASSWORD, "nameOrUserData": {"email": "b@x.co"}},
            ["nameOrUserData"],
        ),
    ],
    ids=["bad-email", "short-password", "no-email", "wrong-types", "bad-name", "id", "email"],
)
def test_sign_up_validation_errors(api: Api, body: dict[str, object], fields: list[str]) -> None:
    answer = api.post("/signup-email", body)

    assert answer.status_code == 400
    error = answer.json()
    # §5: the bare validation object, no "errors" wrapper.
    assert error["code"] == "validation_error" and error["origin"] == "client_error"
    assert error["fields"] == fields
    assert set(error["details"]) == set(fields)
    assert (
        api.post("/signin-email", {"email": "ada@x.co", "password": PASSWORD}).status_code == 401
    )


def test_sign_up_and_sign_in_with_phone(api: Api) -> None:
    answer = api.post(
        "/signup-phone", {"phone": "+15555550100", "password": PASSWORD, "nameOrUserData": "Bo"}
    )
    assert answer.status_code == 200
    user = answer.json()["user"]
    assert user["phone"] == "+15555550100" and user["phoneVerified"] is False
    assert user["name"] == "Bo" and "email" not in user

    signed_in = api.post("/signin-phone", {"phone": "+15555550100", "password": PASSWORD})
    assert signed_in.status_code == 200
    assert signed_in.json()["user"]["_id"] == user["_id"]

    wrong = api.post("/signin-phone", {"phone": "+15555550100", "password": "nope nope"})
    assert (wrong.status_code, error_code(wrong)) == (401, "invalid_credentials")
    again = api.post("/signup-phone", {"phone": "+15555550100", "password": PASSWORD})
    assert (again.status_code, error_code(again)) == (400, "phone_not_unique")
    bad = api.post("/signup-phone", {"phone": "555-CALL-ME", "password": PASSWORD})
    assert (bad.status_code, bad.json()["fields"]) == (400, ["phone"])


def test_a_form_body_is_accepted(api: Api) -> None:
    answer = api.post("/signup-email", data={"email": "ada@x.co", "password": PASSWORD})
    assert answer.status_code == 200
    assert answer.json()["user"]["email"] == "ada@x.co"


def test_a_body_without_content_type_is_read_as_json(api: Api) -> None:
    answer = api.post("/signup-email", data=b'{"email": "ada@x.co", "password": "secret1"}')
    assert answer.status_code == 200


@pytest.mark.parametrize(
    ("data", "content_type", "status", "code"),
    [
        (b"email=ada", "text/plain", 415, "unsupported_media_type"),
        (b"{not json", "application/json", 400, "invalid_request_body_syntax"),
        (b"[1, 2]", "application/json", 400, "invalid_request_body_syntax"),
    ],
    ids=["text", "broken-json", "array"],
)
def test_unusable_bodies(api: Api, data: bytes, content_type: str, status: int, code: str) -> None:
    answer = api.post("/signin-email", data=data, headers={"Content-Type": content_type})
    assert (answer.status_code, error_code(answer)) == (status, code)


def test_custom_fields_may_have_any_name(api: Api) -> None:
    # Named like the parameters of the function that builds the user, among others.
    names = [*inspect.signature(accounts.new_user_doc).parameters, "self", "kwargs", "doc"]
    custom = {name: f"value of {name}" for name in names}

    user = api.sign_up(nameOrUserData=custom)["user"]

    assert {name: user[name] for name in names} == custom
    assert api.get("/user", token=api.sign_in()).json()["now"] == "value of now"
