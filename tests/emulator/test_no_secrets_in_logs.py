"""No log line carries a token or a password: a canary run through every path that handles
one, with every logger at DEBUG."""

from __future__ import annotations

import logging
import socket

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

    emulator.configure(email_confirmation=True)
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


def send_raw(base_url: str, request: bytes) -> bytes:
    """Send ``request`` as is on a new connection; return the status line of the answer."""
    host, port = base_url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(request)
        try:
            return conn.recv(4096).split(b"\r\n", 1)[0]
        except ConnectionResetError:  # the server may close before reading all of it
            return b""


def test_no_token_in_the_logs_of_a_malformed_request(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    canary = "canary-raw-3e8d11"
    long_url = f"/_api/rest/v1/auth/grant?key={canary}{'A' * 9000}"
    requests_sent = [
        # A control character in a header value.
        f"GET /_api/rest/v1/auth/grant?key={canary} HTTP/1.1\r\nHost: x\r\n"
        f"Session: {canary}\x01\r\n\r\n",
        # A request line longer than the parser takes.
        f"GET {long_url} HTTP/1.1\r\nHost: x\r\n\r\n",
        # A header line longer than the parser takes.
        f"GET / HTTP/1.1\r\nHost: x\r\nSession: {canary}{'B' * 9000}\r\n\r\n",
        # Not HTTP at all.
        f"{canary} /{canary} HTTP/1.1\r\n\r\n",
    ]

    with Emulator(hash_cost=4) as emulator:
        answers = [send_raw(emulator.base_url, raw.encode()) for raw in requests_sent]
    # Stopped: every record the requests caused has been logged.

    assert all(answer in (b"", b"HTTP/1.0 400 Bad Request") for answer in answers)
    assert any(answer for answer in answers)
    refusals = [r for r in caplog.records if "malformed request" in r.getMessage()]
    assert refusals and all(r.exc_info is None for r in refusals)
    for record in caplog.records:
        assert canary not in caplog.handler.format(record), record.name
        assert canary not in repr(record.args) and canary not in str(record.msg)
