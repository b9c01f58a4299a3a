"""Every operation builds exactly the request protocol.md §2 and §3 describe (no I/O)."""

from __future__ import annotations

import json
from typing import Any

import pytest

import agnost
from agnost._core import operations
from agnost._core.errors import InvalidArgumentError, InvalidArgumentTypeError
from agnost._core.http import ClientConfig
from tests.core.test_auth_flows_requests import FLOW_CASES

BASE = "https://example.test/e:64f0"
CONFIG = ClientConfig.create(BASE + "/", "ck-123")
AUTH = "/_api/rest/v1/auth"

# name, args, method, path + query, JSON body (None: no body at all)
CASES: list[tuple[str, tuple[Any, ...], str, str, Any]] = [
    (
        "sign_up_with_email",
        ("ada@example.com", "pw123456"),
        "POST",
        "/signup-email",
        {"email": "ada@example.com", "password": "pw123456"},
    ),
    (
        "sign_up_with_email",
        ("ada@example.com", "pw123456", "Ada"),
        "POST",
        "/signup-email",
        {"email": "ada@example.com", "password": "pw123456", "nameOrUserData": "Ada"},
    ),
    (
        "sign_up_with_email",
        ("ada@example.com", "pw123456", {"name": "Ada", "team": {"id": 7}}),
        "POST",
        "/signup-email",
        {
            "email": "ada@example.com",
            "password": "pw123456",
            "nameOrUserData": {"name": "Ada", "team": {"id": 7}},
        },
    ),
    (
        "sign_up_with_phone",
        ("+15550001", "pw123456", "Bob"),
        "POST",
        "/signup-phone",
        {"phone": "+15550001", "password": "pw123456", "nameOrUserData": "Bob"},
    ),
    (
        "sign_in_with_email",
        ("a+b@x.co", "pw"),
        "POST",
        "/signin-email",
        {"email": "a+b@x.co", "password": "pw"},
    ),
    (
        "sign_in_with_phone",
        ("+15550001", "pw"),
        "POST",
        "/signin-phone",
        {"phone": "+15550001", "password": "pw"},
    ),
    ("sign_out", (), "POST", "/signout", {}),
    ("sign_out", ("other-token",), "POST", "/signout", {"token": "other-token"}),
    ("sign_out_all", (), "POST", "/signout-all", None),
    ("sign_out_all_except_current", (), "POST", "/signout-all-except", None),
    ("get_all_sessions", (), "GET", "/sessions", None),
    ("get_user_from_db", (), "GET", "/user", None),
    ("get_auth_grant", ("tok+/=&x",), "GET", "/grant?key=tok%2B%2F%3D%26x", None),
    (
        "get_auth_grant",
        ("https://app.example/cb?state=1&access_token=abc%2B1#frag",),
        "GET",
        "/grant?key=abc%2B1",
        None,
    ),
    ("get_auth_grant", ("myapp://done#access_token=xyz",), "GET", "/grant?key=xyz", None),
]


@pytest.mark.parametrize(
    ("name", "args", "method", "path", "body"),
    CASES,
    ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)],
)
def test_each_operation_builds_the_documented_request(
    name: str, args: tuple[Any, ...], method: str, path: str, body: Any
) -> None:
    endpoint = getattr(operations, name)(*args)
    assert endpoint.method == method
    assert CONFIG.url(endpoint.path, endpoint.query) == BASE + AUTH + path
    if body is None:
        assert endpoint.body is None
    else:
        assert json.loads(endpoint.body or b"") == body


def test_every_operation_in_the_table_is_covered_by_a_request_case() -> None:
    covered = {case[0] for case in CASES} | {case[0] for case in FLOW_CASES}
    assert {op.name for op in operations.OPERATIONS} == covered


def test_headers_follow_the_official_order_and_conditions() -> None:
    keyed = ClientConfig.create(BASE, "ck-123", "api-key-1")
    assert list(keyed.headers("tok", json_body=True).items()) == [
        ("X-Client", "agnost-python"),
        ("X-Client-Key", "ck-123"),
        ("Authorization", "api-key-1"),
        ("Session", "tok"),
        ("Content-Type", "application/json"),
    ]
    assert CONFIG.headers(None, json_body=False) == {
        "X-Client": "agnost-python",
        "X-Client-Key": "ck-123",
    }


def test_the_body_is_compact_utf8_json() -> None:
    endpoint = operations.sign_up_with_email("zoë@example.com", "pässwörd", {"city": "Zürich"})
    raw = endpoint.body or b""
    assert "zoë".encode() in raw and b"\\u" not in raw and b", " not in raw


@pytest.mark.parametrize(
    ("env_url", "base"),
    [
        ("https://x.test", "https://x.test"),
        ("  https://x.test/e:1/  ", "https://x.test/e:1"),
    ],
)
def test_env_url_is_trimmed_and_loses_one_trailing_slash(env_url: str, base: str) -> None:
    assert ClientConfig.create(env_url, "k").base_url == base


@pytest.mark.parametrize("env_url", ["", "   ", "ftp://x.test", "x.test", None, 42])
def test_env_url_must_be_http_or_https(env_url: Any) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        ClientConfig.create(env_url, "k")
    assert info.value.code == "missing_required_value"
    assert isinstance(info.value, ValueError)


def test_client_key_must_be_a_non_blank_string() -> None:
    with pytest.raises(InvalidArgumentError) as blank:
        ClientConfig.create(BASE, "  ")
    assert blank.value.code == "missing_required_value"
    with pytest.raises(InvalidArgumentTypeError) as wrong:
        ClientConfig.create(BASE, 123)
    assert wrong.value.code == "invalid_client_key"
    assert isinstance(wrong.value, TypeError)


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("sign_in_with_email", (None, "pw")),
        ("sign_in_with_email", ("a@b.c", 123456)),
        ("sign_up_with_phone", (15550001, "pw")),
        ("sign_up_with_email", ("a@b.c", "pw", 42)),
        ("sign_up_with_email", ("a@b.c", "pw", {"when": object()})),
        ("sign_out", (b"token",)),
        ("get_auth_grant", (7,)),
    ],
)
def test_arguments_of_the_wrong_type_are_refused_before_sending(
    name: str, args: tuple[Any, ...]
) -> None:
    with pytest.raises(InvalidArgumentTypeError):
        getattr(operations, name)(*args)


@pytest.mark.parametrize(
    "value", [None, "", "   ", "https://app.example/cb?state=1", "https://x/?access_token="]
)
def test_get_auth_grant_needs_a_token_or_a_url_carrying_one(value: Any) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        operations.get_auth_grant(value)
    assert info.value.items[0].origin == "client_error"


def test_sign_out_with_an_empty_token_is_refused() -> None:
    with pytest.raises(InvalidArgumentError):
        operations.sign_out("")


def test_sign_in_with_provider_returns_the_oauth_url() -> None:
    assert operations.sign_in_with_provider(BASE, "github") == BASE + "/_auth/github"
    with pytest.raises(InvalidArgumentError):
        operations.sign_in_with_provider(BASE, "../admin")


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 0, -1.0])
def test_timeouts_must_be_finite_and_positive(value: float) -> None:
    with pytest.raises(InvalidArgumentError):
        agnost.Timeout(total=value)
    with pytest.raises(InvalidArgumentError):
        agnost.Timeout(connect=value)


@pytest.mark.parametrize("value", ["5", True, [1]])
def test_timeouts_must_be_numbers(value: object) -> None:
    with pytest.raises(InvalidArgumentTypeError):
        agnost.Timeout(total=value)  # type: ignore[arg-type]
