"""The fake OAuth provider: find or create the provider's user, redirect with an access token."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from agnost.emulator.oauth import PROVIDERS

from .conftest import Api, error_code


def _access_token(api: Api, provider: str, **params: str) -> str:
    answer = api.http.get(
        f"{api.base_url}/_auth/{provider}", params=params, allow_redirects=False, timeout=10
    )
    assert answer.status_code == 302
    location = urlsplit(answer.headers["Location"])
    assert location.geturl().startswith("https://app.example/done?")
    [token] = parse_qs(location.query)["access_token"]
    return token


@pytest.fixture(autouse=True)
def _redirect(api: Api) -> None:
    api.emulator.configure(redirect_url="https://app.example/done")


@pytest.mark.parametrize("provider", PROVIDERS)
def test_each_provider_redirects_with_a_token_that_grants_a_session(
    api: Api, provider: str
) -> None:
    token = _access_token(api, provider, email="ada@example.com", name="Ada")

    grant = api.get("/grant", params={"key": token}).json()

    user = grant["user"]
    assert user["provider"] == provider and user["providerUserId"] == "ada@example.com"
    assert user["email"] == "ada@example.com" and user["emailVerified"] is True
    assert user["name"] == "Ada"
    assert api.get("/user", token=grant["session"]["token"]).json()["_id"] == user["_id"]


def test_the_same_identity_finds_the_same_user(api: Api) -> None:
    first = api.get("/grant", params={"key": _access_token(api, "github")}).json()["user"]
    second = api.get("/grant", params={"key": _access_token(api, "github")}).json()["user"]
    other = api.get("/grant", params={"key": _access_token(api, "github", id="42")}).json()
    assert first["_id"] == second["_id"] != other["user"]["_id"]
    assert other["user"]["providerUserId"] == "42"


def test_oauth_needs_no_client_key_but_a_known_provider(api: Api) -> None:
    answer = api.http.get(f"{api.base_url}/_auth/myspace", allow_redirects=False, timeout=10)
    assert (answer.status_code, error_code(answer)) == (404, "not_found")


def test_an_email_taken_by_a_password_user_is_refused(api: Api) -> None:
    api.sign_up("ada@example.com")
    answer = api.http.get(
        f"{api.base_url}/_auth/google",
        params={"email": "ADA@example.com"},
        allow_redirects=False,
        timeout=10,
    )
    assert (answer.status_code, error_code(answer)) == (400, "email_not_unique")
