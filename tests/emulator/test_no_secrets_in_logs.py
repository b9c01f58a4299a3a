"""No log line carries a token or a password: a canary run through every path that handles
one, with every logger at DEBUG."""

from __future__ import annotations

import logging

import pytest

from agnost.emulator import Emulator

from .conftest import Api

CANARY_PASSWORD = "canary-pw-9c1e7d"
CANARY_TOKEN = "canary-token-5b2f0a"


def exercise(api: Api) -> list[str]:
    """Drive every token- or password-carrying path; return every secret that was in play."""
    emulator = api.emulator
    secrets = [CANARY_PASSWORD, CANARY_TOKEN]
    first = api.sign_up(password=CANARY_PASSWORD)["session"]["token"]
    second = api.sign_in(password=CANARY_PASSWORD)
    secrets += [first, second]
    api.post("/signin-email", {"email": "ada@example.com", "password": CANARY_PASSWORD + "x"})
    api.get("/sessions", token=second)
    api.get("/user", token=CANARY_TOKEN)
    api.post("/signout", {"token": CANARY_TOKEN}, token=second)
    api.post("/signout", {"token": first}, token=second)
    api.get("/grant", params={"key": CANARY_TOKEN})

    emulator.configure(emailConfirmation=True)
    api.sign_up("bo@example.com", password=CANARY_PASSWORD)
    [message] = emulator.outbox()
    secrets.append(message.access_token or "")
    api.http.get(message.link or "", timeout=10)
    granted = api.get("/grant", params={"key": message.access_token}).json()
    secrets.append(granted["session"]["token"])

    redirect = api.http.get(f"{api.base_url}/_auth/google", allow_redirects=False, timeout=10)
    oauth_token = redirect.headers["Location"].rsplit("access_token=", 1)[1]
    secrets.append(oauth_token)
    api.http.get(redirect.headers["Location"], timeout=10)
    secrets.append(api.get("/grant", params={"key": oauth_token}).json()["session"]["token"])
    api.post("/signout-all", token=secrets[-1])
    return secrets


def test_no_token_or_password_in_any_log_record(
    agnost_emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    api = Api(agnost_emulator)

    secrets = exercise(api)

    # urllib3 is this test's own HTTP client, logging the URLs it was asked to fetch.
    server_records = [r for r in caplog.records if not r.name.startswith("urllib3")]
    lines = [caplog.handler.format(record) for record in server_records]
    assert any("/_api/rest/v1/auth/grant" in line for line in lines)  # the access log ran
    assert any("signed in user" in line for line in lines)
    for secret in secrets:
        assert len(secret) >= 16
        assert [line for line in lines if secret in line] == []
