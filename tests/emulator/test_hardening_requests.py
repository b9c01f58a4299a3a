"""Hostile request bodies and headers get a §5 client error, never a 500 with a traceback;
NaN and Infinity are refused; HEAD changes nothing (issue 8, items 16, 18 and 19)."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from agnost.emulator import Emulator
from agnost.emulator.validation import MAX_DEPTH

from .conftest import AUTH, PASSWORD, Api, error_code, raw_exchange


@pytest.fixture
def no_tracebacks(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Fails the test if the emulator logged an error or a traceback."""
    caplog.set_level(logging.INFO)
    yield
    for record in caplog.records:
        if record.name.startswith(("agnost", "aiohttp", "asyncio")):
            assert record.levelno < logging.ERROR, record.getMessage()
            assert record.exc_info is None and record.exc_text is None, record.getMessage()


def post_raw(api: Api, path: str, body: bytes, content_type: str = "application/json") -> object:
    return api.post(path, data=body, headers={"Content-Type": content_type})


# --- item 16: NaN and Infinity --------------------------------------------------------------


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_refused_and_nothing_is_stored(
    api: Api, no_tracebacks: None, constant: str
) -> None:
    body = f'{{"email": "ada@example.com", "password": "{PASSWORD}",'
    body += f' "nameOrUserData": {{"score": {constant}}}}}'

    answer = post_raw(api, "/signup-email", body.encode())

    assert answer.status_code == 400  # type: ignore[attr-defined]
    assert error_code(answer) == "invalid_request_body_syntax"  # type: ignore[arg-type]
    assert (
        api.post("/signin-email", {"email": "ada@example.com", "password": PASSWORD}).status_code
        == 401
    )


def test_a_number_too_large_to_be_finite_is_a_validation_error(
    api: Api, no_tracebacks: None
) -> None:
    body = f'{{"email": "ada@example.com", "password": "{PASSWORD}",'
    body += ' "nameOrUserData": {"score": [1e999]}}'

    answer = post_raw(api, "/signup-email", body.encode())

    assert answer.status_code == 400  # type: ignore[attr-defined]
    assert answer.json()["fields"] == ["nameOrUserData"]  # type: ignore[attr-defined]


def test_nan_is_refused_by_the_settings_endpoint_too(api: Api, no_tracebacks: None) -> None:
    answer = api._send(
        "PATCH",
        "/_emulator/config",
        token=None,
        data=b'{"sessionLifetime": NaN}',
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 400 and error_code(answer) == "invalid_request_body_syntax"


# --- item 18: 500s with tracebacks ------------------------------------------------------------


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 1000, 100_000])
def test_deeply_nested_json_is_a_client_error(api: Api, no_tracebacks: None, depth: int) -> None:
    nested = "[" * depth + "]" * depth
    body = f'{{"email": "ada@example.com", "password": "{PASSWORD}",'
    body += f' "nameOrUserData": {{"x": {nested}}}}}'

    answer = post_raw(api, "/signup-email", body.encode())

    assert answer.status_code == 400  # type: ignore[attr-defined]
    assert error_code(answer) == "invalid_request_body_syntax"  # type: ignore[arg-type]


def test_nesting_within_the_limit_round_trips(api: Api, no_tracebacks: None) -> None:
    value: object = "leaf"
    for _ in range(MAX_DEPTH - 3):  # the body, nameOrUserData and its object are 3 levels
        value = [value]
    token = api.sign_up(nameOrUserData={"deep": value})["session"]["token"]
    assert api.get("/user", token=token).json()["deep"] == value


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/signup-email", '{"email": "a\\udc80@example.com", "password": "secret1"}', "email"),
        ("/signup-email", '{"email": "a@example.com", "password": "sec\\ud800ret1"}', "password"),
        ("/signin-email", '{"email": "a@example.com", "password": "sec\\udfffret1"}', "password"),
        (
            "/signup-email",
            '{"email": "a@example.com", "password": "secret1", "nameOrUserData": {"k\\ud800": 1}}',
            "nameOrUserData",
        ),
    ],
)
def test_a_lone_surrogate_is_a_validation_error(
    api: Api, no_tracebacks: None, path: str, body: str, field: str
) -> None:
    answer = post_raw(api, path, body.encode())

    assert answer.status_code == 400  # type: ignore[attr-defined]
    assert answer.json()["code"] == "validation_error"  # type: ignore[attr-defined]
    assert answer.json()["fields"] == [field]  # type: ignore[attr-defined]


def test_a_lone_surrogate_in_a_sign_out_token_is_a_validation_error(
    api: Api, no_tracebacks: None
) -> None:
    token = api.sign_up()["session"]["token"]
    answer = api.post(
        "/signout",
        data=b'{"token": "\\ud800"}',
        headers={"Content-Type": "application/json", "Session": token},
    )
    assert answer.status_code == 400 and answer.json()["fields"] == ["token"]
    assert api.get("/user", token=token).status_code == 200  # nothing was signed out


@pytest.mark.parametrize(
    "header",
    [b"Session: \xff\xfe\x80", b"Cookie: session_token=\xff\xfe\x80", b"Session: \xed\xa0\x80"],
)
def test_non_utf8_session_bytes_are_an_invalid_session_token(
    api: Api, no_tracebacks: None, header: bytes
) -> None:
    request = (
        (
            f"POST {AUTH}/signout-all HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            f"X-Client-Key: {api.emulator.client_key}\r\nContent-Length: 0\r\n"
        ).encode()
        + header
        + b"\r\n\r\n"
    )

    status, _, body = raw_exchange(api.emulator, request)

    assert status == 401
    assert json.loads(body)["errors"][0]["code"] == "invalid_session_token"


@pytest.mark.parametrize(
    "body",
    [
        b"--xyz\r\ngarbage",
        b'--xyz\r\nContent-Disposition: form-data; name="email"\r\n\r\nada@example.com',
        b"not multipart at all",
        b"--xyz\r\nContent-Disposition: form-data\r\n\r\nx\r\n--xyz--\r\n",
    ],
)
def test_a_malformed_multipart_body_is_a_client_error(
    api: Api, no_tracebacks: None, body: bytes
) -> None:
    answer = post_raw(api, "/signup-email", body, "multipart/form-data; boundary=xyz")

    assert answer.status_code == 400  # type: ignore[attr-defined]
    assert error_code(answer) in (  # type: ignore[arg-type]
        "invalid_request_body_syntax",
        "validation_error",
    )


def test_an_unexpected_fault_is_a_500_with_one_sanitised_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    canary = "canary-doc-secret-77d1"
    database = tmp_path / "emulator.sqlite3"
    with Emulator(database=str(database), hash_cost=4) as emulator:
        api = Api(emulator)
        token = api.sign_up()["session"]["token"]
        # A stored user document that is not JSON any more (edited by hand, say).
        with sqlite3.connect(database) as db:
            db.execute("UPDATE users SET doc = ?", (f"{{{canary}",))
        caplog.set_level(logging.DEBUG)

        answer = api.get("/user", token=token)

    assert answer.status_code == 500
    assert answer.json()["errors"][0]["code"] == "internal_server_error"
    reports = [r for r in caplog.records if "internal error" in r.getMessage()]
    assert len(reports) == 1
    assert reports[0].exc_info is None and reports[0].exc_text is None
    assert "JSONDecodeError" in reports[0].getMessage()
    assert all(canary not in caplog.handler.format(r) for r in caplog.records)


# --- item 19: HEAD changes nothing ------------------------------------------------------------


def test_head_on_grant_does_not_use_up_the_access_token(api: Api) -> None:
    api.emulator.configure(email_confirmation=True)
    api.sign_up()
    [message] = api.emulator.outbox()

    head = api.http.head(
        f"{api.base_url}{AUTH}/grant", params={"key": message.access_token}, timeout=10
    )

    assert head.status_code == 405 and "set-cookie" not in head.headers
    assert head.headers["Allow"] == "GET"
    granted = api.get("/grant", params={"key": message.access_token})
    assert granted.status_code == 200 and granted.json()["user"]["emailVerified"] is True


def test_head_on_the_fake_oauth_provider_creates_nobody(api: Api) -> None:
    head = api.http.head(
        f"{api.base_url}/_auth/google", params={"email": "ada@example.com"}, timeout=10
    )

    assert head.status_code == 405 and "location" not in head.headers
    # Had HEAD created the OAuth user, the email would be taken.
    assert api.post("/signup-email", {"email": "ada@example.com", "password": PASSWORD}).ok


def test_head_still_works_where_get_changes_nothing(api: Api) -> None:
    assert api.http.head(f"{api.base_url}/_emulator/config", timeout=10).status_code == 200
