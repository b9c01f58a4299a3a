"""The server-side helpers (protocol.md §9): the session token of an incoming request, and
the Set-Cookie values that store or expire the session cookie. Pure functions of the core,
exported the same from both packages."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest
from multidict import CIMultiDict
from werkzeug.datastructures import EnvironHeaders, Headers

import agnost
import agnost_async
from agnost import (
    expired_session_cookie,
    session_cookie,
    session_token_from_cookie_header,
    session_token_from_headers,
)
from tests import samples

TOKEN = "tok-0123456789abcdef"


def test_both_packages_export_the_same_helpers() -> None:
    for name in (
        "session_token_from_headers",
        "session_token_from_cookie_header",
        "session_cookie",
        "expired_session_cookie",
        "SessionChange",
        "SessionChangeKind",
        "SESSION_COOKIE",
        "SESSION_HEADER",
    ):
        assert getattr(agnost, name) is getattr(agnost_async, name)
        assert getattr(agnost, name).__doc__ or name.isupper()


@pytest.mark.parametrize(
    "headers",
    [
        {"Session": TOKEN},
        {"session": TOKEN},
        {"SESSION": f"  {TOKEN}\t"},
        {"Cookie": f"session_token={TOKEN}"},
        {"cookie": f"a=1; session_token={TOKEN}; b=2"},
        {"Cookie": f'session_token="{TOKEN}"'},
        {"Cookie": f"garbage; =x; ;;a; session_token = {TOKEN} ;"},
        {"Cookie": f"session_token={TOKEN}; session_token=older"},  # the first one wins
        [("cookie", "a=1"), ("Cookie", f"session_token={TOKEN}")],  # split Cookie headers
        [(b"cookie", f"session_token={TOKEN}".encode())],  # as ASGI holds them
        CIMultiDict([("Cookie", "x=1"), ("Cookie", f"session_token={TOKEN}")]),
        Headers([("Cookie", f"session_token={TOKEN}")]),
        EnvironHeaders({"HTTP_COOKIE": f"session_token={TOKEN}"}),
        EnvironHeaders({"HTTP_SESSION": TOKEN}),
        # The header wins over the cookie, as the Agnost server reads them.
        {"Session": TOKEN, "Cookie": "session_token=cookie-token"},
        {"Session": TOKEN, "X-Session": "other"},
    ],
)
def test_the_token_of_a_request(headers: Any) -> None:
    assert session_token_from_headers(headers) == TOKEN


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Cookie": ""},
        {"Cookie": "session_token="},
        {"Cookie": 'session_token=""'},
        {"Cookie": "session_tokenx=abc; xsession_token=abc"},
        {"Cookie": "Session_Token=abc"},  # cookie names are case-sensitive
        {"Cookie": "session_token=a b"},
        {"Cookie": 'session_token=a"b'},
        {"Cookie": "session_token=a\\b"},
        {"Cookie": "session_token=tok\x00en"},
        {"Cookie": "session_token=ünïcode"},
        {"Cookie": "=====;;;;"},
        {"Session": ""},
        {"Session": "tok en"},
        {"Session": "tok\x7fen"},
        [("Session", "one"), ("session", "two")],  # two different tokens: neither
        {"Authorization": TOKEN},
        {"Cookie": None},
        [(None, "x")],
    ],
)
def test_no_usable_token_is_none_never_an_error(headers: Any) -> None:
    assert session_token_from_headers(headers) is None


def test_a_cookie_header_alone() -> None:
    assert session_token_from_cookie_header(f"a=b; session_token={TOKEN}") == TOKEN
    assert session_token_from_cookie_header(f"session_token={TOKEN}".encode()) == TOKEN
    assert session_token_from_cookie_header(None) is None
    assert session_token_from_cookie_header("session_token") is None
    huge = "a=b; " * 20_000 + f"session_token={TOKEN}"
    assert session_token_from_cookie_header(huge) == TOKEN


@pytest.mark.parametrize("not_headers", ["Session: x", b"Cookie: x", 42, None, [("a",)]])
def test_what_is_not_headers_is_a_type_error(not_headers: Any) -> None:
    with pytest.raises(agnost.InvalidArgumentTypeError):
        session_token_from_headers(not_headers)


def test_the_cookie_that_stores_the_session() -> None:
    session = agnost.from_wire(agnost.Session, {**samples.SESSION, "token": TOKEN})

    assert session_cookie(session) == (
        f"session_token={TOKEN}; Max-Age=31536000; Path=/; HttpOnly; Secure; SameSite=Lax"
    )
    assert session_cookie(TOKEN, max_age=3600, same_site="strict", domain="example.com") == (  # type: ignore[arg-type]
        f"session_token={TOKEN}; Max-Age=3600; Path=/; Domain=example.com; HttpOnly; Secure;"
        " SameSite=Strict"
    )
    assert session_cookie(TOKEN, max_age=None, secure=False, path="/app") == (
        f"session_token={TOKEN}; Path=/app; HttpOnly; SameSite=Lax"
    )
    assert session_cookie(TOKEN, same_site="None").endswith("; Secure; SameSite=None")
    # What it writes, the reader reads back.
    assert session_token_from_cookie_header(session_cookie(session)) == TOKEN


def test_the_cookie_that_removes_the_session() -> None:
    assert expired_session_cookie() == (
        "session_token=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; HttpOnly;"
        " Secure; SameSite=Lax"
    )
    assert expired_session_cookie(secure=False, path="/app", domain="example.com") == (
        "session_token=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/app;"
        " Domain=example.com; HttpOnly; SameSite=Lax"
    )
    assert session_token_from_cookie_header(expired_session_cookie()) is None


@pytest.mark.parametrize(
    "token",
    ["", "tok en", "tok;en", 'tok"en', "tok,en", "tok\\en", "tok\r\nSet-Cookie: x=1", "tökén"],
)
def test_a_token_a_cookie_cannot_carry_is_refused_unquoted(token: str) -> None:
    with pytest.raises(agnost.InvalidArgumentError) as info:
        session_cookie(token)
    assert info.value.code == "invalid_session"
    if token:
        assert token not in str(info.value)


@pytest.mark.parametrize(
    ("options", "code"),
    [
        ({"same_site": "None", "secure": False}, "invalid_same_site"),
        ({"same_site": "lenient"}, "invalid_same_site"),
        ({"path": "app"}, "invalid_path"),
        ({"path": "/a;Domain=evil.example"}, "invalid_path"),
        ({"domain": "a b"}, "invalid_domain"),
        ({"domain": "x;y"}, "invalid_domain"),
        ({"max_age": -1}, "invalid_max_age"),
        ({"max_age": True}, "invalid_max_age"),
        ({"max_age": 1.5}, "invalid_max_age"),
    ],
)
def test_bad_cookie_attributes_are_refused(options: dict[str, Any], code: str) -> None:
    with pytest.raises(agnost.ClientError) as info:
        session_cookie(TOKEN, **options)
    assert info.value.code == code


def test_a_session_is_a_session_or_a_token() -> None:
    bad: Iterable[Any] = (None, 42, b"tok")
    for value in bad:
        with pytest.raises(agnost.InvalidArgumentTypeError):
            session_cookie(value)
    with pytest.raises(agnost.InvalidArgumentTypeError):
        session_cookie(TOKEN, secure="yes")  # type: ignore[arg-type]
