"""Hardening of both clients against hostile answers and arguments (issue 8), on real HTTP:
exact codes whatever the password, typed errors for deep or huge answers in bounded time,
an event loop that keeps running while a large answer is decoded, and no user information
from a redirect."""

from __future__ import annotations

import time
from typing import Any

import pytest

import agnost
from agnost.emulator import Emulator

from ._support import (
    CURRENT_TOKEN,
    Flavour,
    RecordingServer,
    Reply,
    json_reply,
    loop_held_up,
    signed_in,
)

WEAK_PASSWORDS = ["e", "in", "al", "pas", "pass", "password", "error", "valid", "or", "email"]


def _stored_token(flavour: Flavour, client: Any) -> str | None:
    session = flavour.call(client, "get_session")
    return None if session is None else session.token


# --- exact codes against the real emulator --------------------------------------------------


@pytest.mark.parametrize("password", WEAK_PASSWORDS)
def test_a_wrong_weak_password_is_invalid_credentials_with_the_exact_code_and_text(
    flavour: Flavour, agnost_emulator: Emulator, password: str
) -> None:
    client = flavour.make(agnost_emulator.base_url, agnost_emulator.client_key)
    flavour.call(client, "sign_up_with_email", "ada@example.com", "right-password-1")

    error = flavour.raises(
        agnost.InvalidCredentialsError, client, "sign_in_with_email", "ada@example.com", password
    )

    assert error.code == "invalid_credentials"
    assert error.items[0].message == "Invalid email or password"
    assert str(error) == "401 Unauthorized [invalid_credentials]: Invalid email or password"


@pytest.mark.parametrize("password", [p for p in WEAK_PASSWORDS if len(p) < 6])
def test_a_short_password_is_a_validation_error_with_the_exact_code_and_text(
    flavour: Flavour, agnost_emulator: Emulator, password: str
) -> None:
    client = flavour.make(agnost_emulator.base_url, agnost_emulator.client_key)

    error = flavour.raises(
        agnost.ValidationError, client, "sign_up_with_email", "ada@example.com", password
    )

    item = error.items[0]
    assert (error.code, item.code) == ("validation_error", "validation_error")
    assert item.details == {"password": "must be at least 6 characters long"}
    assert item.extra["fields"] == ["password"]
    assert item.message is not None and item.message in str(error)
    assert "[redacted]" not in str(error)


# --- deep answers and arguments --------------------------------------------------------------


@pytest.mark.parametrize("status", [200, 401])
def test_a_400kb_answer_of_nested_arrays_is_a_decode_error(
    flavour: Flavour, server: RecordingServer, status: int
) -> None:
    client = signed_in(flavour, server.env_url)
    server.script(Reply(status, b"[" * 200_000 + b"]" * 200_000))

    error = flavour.raises(agnost.ResponseDecodeError, client, "get_all_sessions")

    assert error.status == status
    assert _stored_token(flavour, client) == CURRENT_TOKEN


def test_error_details_700_deep_are_kept_and_the_session_invalidated(
    flavour: Flavour, server: RecordingServer
) -> None:
    details: Any = "leaf"
    for _ in range(700):
        details = [details]
    client = signed_in(flavour, server.env_url)
    server.script(
        json_reply({"errors": [{"code": "invalid_session_token", "details": details}]}, 401)
    )

    error = flavour.raises(agnost.InvalidSessionTokenError, client, "get_user_from_db")

    assert error.items[0].details == details
    assert _stored_token(flavour, client) is None


def test_name_or_user_data_100k_deep_is_an_argument_error_and_nothing_is_sent(
    flavour: Flavour, server: RecordingServer
) -> None:
    data: dict[str, Any] = {}
    for _ in range(100_000):
        data = {"a": data}
    client = flavour.make(server.env_url)

    flavour.raises(
        agnost.InvalidArgumentError, client, "sign_up_with_email", "a@b.co", "secret-1", data
    )

    assert server.requests == []


def test_a_lone_surrogate_access_token_is_an_argument_error_and_nothing_is_sent(
    flavour: Flavour, server: RecordingServer
) -> None:
    client = signed_in(flavour, server.env_url)

    flavour.raises(agnost.InvalidArgumentError, client, "get_auth_grant", "a\udc80")

    assert server.requests == []
    assert _stored_token(flavour, client) == CURRENT_TOKEN


def test_set_user_with_data_nested_100k_deep_is_an_argument_error(
    flavour: Flavour, server: RecordingServer
) -> None:
    data: dict[str, Any] = {}
    for _ in range(100_000):
        data = {"a": data}
    client = signed_in(flavour, server.env_url)
    before = flavour.call(client, "get_user")

    flavour.raises(
        agnost.InvalidArgumentError, client, "set_user", agnost.User(id="u", extra=data)
    )

    assert flavour.call(client, "get_user") == before


# --- a huge error answer: bounded, and the loop keeps running -----------------------------


def test_a_39mb_error_answer_of_13m_items_ends_within_the_timeout_in_bounded_memory(
    flavour: Flavour, server: RecordingServer
) -> None:
    count = 1_300_000
    body = b'{"errors":[' + b"{}," * (count - 1) + b'{"code":"missing_session_token"}]}'
    assert len(body) > 3_900_000
    client = signed_in(flavour, server.env_url, timeout=1.0)
    server.script(Reply(401, body))

    start = time.monotonic()
    if flavour.is_async:
        assert flavour.loop is not None
        held_up = loop_held_up(client.auth.get_all_sessions(), tick=0.005)
        error, stall, _ = flavour.loop.run_until_complete(held_up)
        # Was 9.8 s: decoding is off the loop and linear; not a timing figure (see the
        # benchmark), only proof that the loop kept running.
        assert stall < 1.0
    else:
        with pytest.raises(agnost.APIError) as info:
            client.auth.get_all_sessions()
        error = info.value
    elapsed = time.monotonic() - start

    assert isinstance(error, agnost.MissingSessionTokenError)
    assert elapsed < 3.0  # was 10 s with timeout=1.0
    assert error.item_count == count
    assert len(error.items) == 101
    assert _stored_token(flavour, client) is None


# --- redirects -----------------------------------------------------------------------------


def test_a_redirect_error_shows_no_user_information_from_location(
    flavour: Flavour, server: RecordingServer
) -> None:
    location = "https://ada:REDIRECT-PASSWORD@login.example.com:8443/x?access_token=t"
    server.script(Reply(302, b"", headers=(("Location", location),)))
    client = signed_in(flavour, server.env_url)

    error = flavour.raises(agnost.RedirectError, client, "get_all_sessions")

    assert error.location_origin == "https://login.example.com:8443"
    assert "REDIRECT-PASSWORD" not in str(error) + repr(error)
    assert "ada" not in str(error)


def test_a_304_is_an_unexpected_answer_not_a_redirect(
    flavour: Flavour, server: RecordingServer
) -> None:
    server.script(Reply(304, b""))
    client = signed_in(flavour, server.env_url)

    error = flavour.raises(agnost.ResponseDecodeError, client, "get_user_from_db")

    assert not isinstance(error, agnost.RedirectError)
    assert "304 Not Modified" in str(error)
    assert _stored_token(flavour, client) == CURRENT_TOKEN
