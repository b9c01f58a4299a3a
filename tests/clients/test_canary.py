"""A canary token, used as the session token, the API key and an access token, appears in no
``repr``, ``str``, exception text, traceback or ``agnost`` log record (reliability.md)."""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Iterator
from typing import Any

import pytest

import agnost
from agnost._core import operations

from ._support import (
    SHORT,
    Flavour,
    RecordingServer,
    Reply,
    closed_port_url,
    json_reply,
    session_wire,
    text_reply,
    user_wire,
)

CANARY = "CANARY-7f3e"
SESSION_TOKEN = CANARY + "-session-0c1d2e3f4a5b6c7d8e9f"
API_KEY = CANARY + "-apikey-9a8b7c6d5e4f3a2b1c0d"
ACCESS_TOKEN = CANARY + "-access-1a2b3c4d5e6f7a8b9c0d"
NEW_SESSION_TOKEN = CANARY + "-newsession-5f4e3d2c1b0a"
GRANT_URL = f"https://app.example.com/welcome?action=signin&access_token={ACCESS_TOKEN}"
SECRETS = {"session": SESSION_TOKEN, "api-key": API_KEY, "access-token": ACCESS_TOKEN}


def _texts(obj: object) -> Iterator[str]:
    """Every way ``obj`` can end up on a screen or in a log."""
    yield repr(obj)
    yield str(obj)
    yield f"{obj!s} {obj!r}"
    if isinstance(obj, BaseException):
        yield "".join(traceback.format_exception(type(obj), obj, obj.__traceback__))
        yield "".join(traceback.format_exception_only(type(obj), obj))
        yield repr(obj.args)


def _leaks(*objects: object) -> list[str]:
    return [text for obj in objects for text in _texts(obj) if CANARY in text]


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """The ``agnost`` log records at DEBUG; none may carry the canary."""
    caplog.set_level(logging.DEBUG, logger="agnost")
    yield caplog
    records = [r for r in caplog.records if r.name.startswith("agnost")]
    leaked = [
        r.getMessage()
        for r in records
        if CANARY in r.getMessage() or CANARY in logging.Formatter().format(r)
    ]
    assert leaked == []


def _client(flavour: Flavour, url: str, **options: Any) -> Any:
    store = agnost.MemoryStore(session=session_wire(SESSION_TOKEN), user=user_wire())
    options.setdefault("timeout", SHORT)
    return flavour.make(url, api_key=API_KEY, storage=store, **options)


def test_the_client_and_the_models_it_returns_show_no_canary(
    flavour: Flavour, server: RecordingServer, logs: pytest.LogCaptureFixture
) -> None:
    client = _client(flavour, server.env_url)
    shown: list[object] = [client, client.auth, client.storage]
    server.script(json_reply([session_wire(SESSION_TOKEN), session_wire(NEW_SESSION_TOKEN)]))
    sessions = flavour.call(client, "get_all_sessions")
    assert sessions[0].token == SESSION_TOKEN  # the token is there, only never shown
    shown += [sessions, flavour.call(client, "get_session"), flavour.call(client, "get_user")]
    server.script(json_reply({"user": user_wire(), "session": session_wire(NEW_SESSION_TOKEN)}))
    shown.append(flavour.call(client, "get_auth_grant", GRANT_URL))
    assert server.last.query == f"key={ACCESS_TOKEN}"
    shown.append(flavour.call(client, "sign_up_with_email", "a@b.co", "pw"))
    shown.append(flavour.call(client, "get_session"))
    shown.append(client)
    server.script(json_reply({"user": user_wire(), "session": None}))
    shown.append(flavour.call(client, "sign_up_with_phone", "+15551234567", "pw"))
    flavour.call(client, "sign_out", SESSION_TOKEN)
    shown.append(client)

    assert _leaks(*shown) == []


def test_requests_and_endpoints_show_no_canary(flavour: Flavour) -> None:
    client = _client(flavour, "http://127.0.0.1:9/e:abc")
    endpoints = [
        operations.get_auth_grant(ACCESS_TOKEN),
        operations.get_auth_grant(GRANT_URL),
        operations.sign_out(SESSION_TOKEN),
    ]
    built = [client._request(endpoint, SESSION_TOKEN) for endpoint in endpoints]

    assert built[0].headers["Session"] == SESSION_TOKEN
    assert built[0].headers["Authorization"] == API_KEY
    assert _leaks(*endpoints, *built, client._config) == []


@pytest.mark.parametrize("role", SECRETS)
def test_an_error_message_echoing_a_secret_shows_no_canary(
    flavour: Flavour, server: RecordingServer, logs: pytest.LogCaptureFixture, role: str
) -> None:
    secret = SECRETS[role]
    client = _client(flavour, server.env_url)
    body = {
        "errors": [
            {
                "origin": "client_error",
                "code": "invalid_access_token" if role == "access-token" else "not_allowed",
                "message": f"the {role} {secret} is not accepted",
            }
        ]
    }
    server.script(json_reply(body, 403))

    error = flavour.raises(agnost.APIError, client, "get_auth_grant", ACCESS_TOKEN)

    assert error.status == 403
    assert _leaks(error, error.items[0], error.items) == []
    assert error.items[0].to_wire() == {**body["errors"][0], "details": None}  # data exact


@pytest.mark.parametrize("role", SECRETS)
def test_an_undecodable_answer_echoing_a_secret_shows_no_canary(
    flavour: Flavour, server: RecordingServer, logs: pytest.LogCaptureFixture, role: str
) -> None:
    # A proxy's error page that repeats what it was sent (Squid shows the URL, for one).
    secret = SECRETS[role]
    client = _client(flavour, server.env_url)
    page = (
        f"<html><body><h1>502 Bad Gateway</h1><p>while fetching {secret} "
        "the upstream closed the connection</p></body></html>"
    )
    server.script(text_reply(page, 502))

    error = flavour.raises(agnost.ResponseDecodeError, client, "get_auth_grant", GRANT_URL)

    assert error.excerpt.startswith("<html>")
    assert _leaks(error, error.excerpt) == []


def test_a_wrong_shaped_answer_carrying_tokens_shows_no_canary(
    flavour: Flavour, server: RecordingServer, logs: pytest.LogCaptureFixture
) -> None:
    client = _client(flavour, server.env_url)
    body = {"user": user_wire(_id=7), "session": session_wire(NEW_SESSION_TOKEN)}
    server.script(Reply(200, json.dumps(body).encode()))

    error = flavour.raises(
        agnost.ResponseDecodeError, client, "sign_in_with_email", "a@b.co", "pw"
    )

    assert _leaks(error, error.excerpt) == []


def test_a_session_error_and_the_invalidation_it_causes_show_no_canary(
    flavour: Flavour, server: RecordingServer, logs: pytest.LogCaptureFixture
) -> None:
    client = _client(flavour, server.env_url)
    message = f"session {SESSION_TOKEN} was revoked"
    server.script(
        json_reply({"errors": {"code": "invalid_session_token", "message": message}}, 401)
    )

    error = flavour.raises(agnost.InvalidSessionTokenError, client, "get_user_from_db")

    assert flavour.call(client, "get_session") is None
    assert _leaks(error, client) == []


def test_a_sign_out_of_a_token_refused_shows_no_canary(
    flavour: Flavour, server: RecordingServer, logs: pytest.LogCaptureFixture
) -> None:
    client = _client(flavour, server.env_url)
    message = f"no session {NEW_SESSION_TOKEN}"
    server.script(
        json_reply({"errors": [{"code": "invalid_session_token", "message": message}]}, 404)
    )

    error = flavour.raises(agnost.InvalidSessionTokenError, client, "sign_out", NEW_SESSION_TOKEN)

    assert _leaks(error) == []


FAULTS = {
    "refused": (None, agnost.ConnectError),
    "timeout": (Reply(behaviour="hang"), agnost.RequestTimeoutError),
    "reset-before": (Reply(behaviour="reset_before"), agnost.ConnectError),
    "reset-mid-answer": (Reply(200, b'{"user": {', behaviour="reset"), agnost.TransportError),
    "endless": (Reply(200, behaviour="endless"), agnost.ResponseTooLargeError),
}


@pytest.mark.parametrize("fault", FAULTS)
def test_a_transport_error_for_a_grant_url_shows_no_canary(
    flavour: Flavour, server: RecordingServer, logs: pytest.LogCaptureFixture, fault: str
) -> None:
    reply, kind = FAULTS[fault]
    if reply is None:
        url = closed_port_url()
    else:
        url = server.env_url
        server.script(reply)
    client = _client(flavour, url, max_response_bytes=64 * 1024)

    error = flavour.raises(kind, client, "get_auth_grant", GRANT_URL)

    assert _leaks(error) == []


def test_client_side_errors_show_no_canary(
    flavour: Flavour, logs: pytest.LogCaptureFixture
) -> None:
    errors: list[BaseException] = []
    client = _client(flavour, "http://127.0.0.1:9/e:abc")
    calls: list[tuple[str, tuple[Any, ...]]] = [
        ("get_auth_grant", (f"https://app.example.com/cb?token={ACCESS_TOKEN}",)),
        ("set_session", (SESSION_TOKEN,)),
        ("set_user", (SESSION_TOKEN,)),
        ("sign_in_with_email", (SESSION_TOKEN.encode(), "pw")),
    ]
    for name, args in calls:
        errors.append(flavour.raises(agnost.ClientError, client, name, *args))
    for bad in ([API_KEY], b"x"):
        with pytest.raises(agnost.ClientError) as info:
            flavour.make(f"http://{SESSION_TOKEN}.invalid", bad)
        errors.append(info.value)

    assert _leaks(*errors) == []
