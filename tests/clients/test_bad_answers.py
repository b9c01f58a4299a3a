"""Answers that cannot be understood (reliability.md): each gives a typed error carrying the
status and a short excerpt, and the stored session stays as it was."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

import agnost

from ._support import (
    CURRENT_TOKEN,
    NEW_TOKEN,
    Flavour,
    RecordingServer,
    Reply,
    grant_wire,
    json_reply,
    session_wire,
    signed_in,
    text_reply,
    user_wire,
)

SMALL_CAP = 64 * 1024
HTML_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    + "<!-- padding -->\n" * 100
    + "</body>\r\n</html>\r\n"
)


@dataclass(frozen=True)
class Bad:
    """A malformed answer to one call, and what the client must raise."""

    id: str
    method_name: str
    args: tuple[Any, ...]
    reply: Reply
    error: type[Exception]
    status: int | None = None
    #: The excerpt must start with this (``None``: not checked; ``""``: empty).
    excerpt: str | None = None


def _bytes(status: int, body: bytes, content_type: str = "application/json") -> Reply:
    return Reply(status, body, headers=(("Content-Type", content_type),))


SIGN_IN = ("sign_in_with_email", ("ada@example.com", "pw"))
SESSIONS = ("get_all_sessions", ())
USER = ("get_user_from_db", ())
DECODE = agnost.ResponseDecodeError

BAD_ANSWERS = [
    Bad("html-502", *SESSIONS, text_reply(HTML_502, 502), DECODE, 502, "<html>"),
    Bad("empty-500", *SESSIONS, Reply(500), DECODE, 500, ""),
    Bad("empty-401", *USER, Reply(401), DECODE, 401, ""),
    Bad("text-400", *SIGN_IN, text_reply("Bad things", 400, "text/plain"), DECODE, 400, "Bad"),
    Bad("non-json-200-sessions", *SESSIONS, text_reply("<html>OK</html>"), DECODE, 200, "<html>"),
    Bad("non-json-200-sign-in", *SIGN_IN, text_reply("welcome!", 200), DECODE, 200, "welcome!"),
    Bad("empty-200-user", *USER, Reply(200), DECODE, 200, ""),
    Bad("truncated-json-sessions", *SESSIONS, _bytes(200, b'[{"userId": "u1", "tok'), DECODE, 200),
    Bad("truncated-json-sign-in", *SIGN_IN, _bytes(200, b'{"user": {"_id": '), DECODE, 200),
    Bad("invalid-utf8", *USER, _bytes(200, b'{"_id": "\xff\xfe"}'), DECODE, 200),
    Bad("json-null-user", *USER, json_reply(None), DECODE, 200, "null"),
    Bad("sessions-not-a-list", *SESSIONS, json_reply({"sessions": []}), DECODE, 200),
    Bad(
        "session-missing-token",
        *SESSIONS,
        json_reply([{k: v for k, v in session_wire().items() if k != "token"}]),
        DECODE,
        200,
    ),
    Bad("session-not-an-object", *SESSIONS, json_reply(["tok-1", "tok-2"]), DECODE, 200),
    Bad("user-id-a-number", *USER, json_reply(user_wire(_id=12345)), DECODE, 200),
    Bad("user-email-a-list", *USER, json_reply(user_wire(email=["a"])), DECODE, 200),
    Bad("bad-timestamp", *USER, json_reply(user_wire(signUpAt="yesterday")), DECODE, 200),
    Bad("naive-timestamp", *USER, json_reply(user_wire(signUpAt="2022-03-17T12:07:27")), DECODE),
    Bad(
        "grant-without-session",
        *SIGN_IN,
        json_reply({"user": user_wire()}),
        DECODE,
        200,
    ),
    Bad(
        "grant-session-token-a-number",
        *SIGN_IN,
        json_reply({"user": user_wire(), "session": session_wire(token=42)}),  # type: ignore[arg-type]
        DECODE,
        200,
    ),
    Bad(
        "grant-session-null",
        *SIGN_IN,
        json_reply({"user": user_wire(), "session": None}),
        DECODE,
        200,
    ),
    Bad(
        "grant-access-group-keys-not-strings",
        "get_auth_grant",
        ("acc-1",),
        json_reply({"user": user_wire(), "session": session_wire(accessGroupKeys=[1])}),
        DECODE,
        200,
    ),
    Bad("grant-a-list", "get_auth_grant", ("acc-1",), json_reply([grant_wire()]), DECODE, 200),
    Bad(
        "huge-declared-length",
        *SESSIONS,
        _bytes(200, b"[" + b" " * (SMALL_CAP + 10) + b"]"),
        agnost.ResponseTooLargeError,
    ),
    Bad(
        "huge-error-body",
        *SIGN_IN,
        _bytes(400, b'{"errors": "' + b"x" * (SMALL_CAP * 2) + b'"}'),
        agnost.ResponseTooLargeError,
    ),
    Bad(
        "endless-chunked", *SESSIONS, Reply(200, behaviour="endless"), agnost.ResponseTooLargeError
    ),
    Bad(
        "endless-unframed",
        *SIGN_IN,
        Reply(200, behaviour="endless_raw"),
        agnost.ResponseTooLargeError,
    ),
]


def _assert_session_unchanged(flavour: Flavour, server: RecordingServer, client: Any) -> None:
    assert client.storage.load().session == session_wire(CURRENT_TOKEN)
    assert client.storage.load().user == user_wire()
    server.script(json_reply([]))
    flavour.call(client, "get_all_sessions")
    assert server.last.header("Session") == CURRENT_TOKEN


@pytest.mark.parametrize("bad", BAD_ANSWERS, ids=[b.id for b in BAD_ANSWERS])
def test_a_malformed_answer_raises_a_typed_error_and_keeps_the_session(
    flavour: Flavour, server: RecordingServer, bad: Bad
) -> None:
    redirect = flavour.redirect_recorder()
    client = signed_in(
        flavour, server.env_url, max_response_bytes=SMALL_CAP, sign_in_redirect=redirect
    )
    server.script(bad.reply)

    error = flavour.raises(bad.error, client, bad.method_name, *bad.args)

    assert type(error) is bad.error
    if isinstance(error, agnost.ResponseDecodeError):
        assert error.status == (bad.status if bad.status is not None else 200)
        assert len(error.excerpt) <= 200
        if bad.excerpt is not None:
            assert error.excerpt.startswith(bad.excerpt)
        if bad.excerpt == "":
            assert error.excerpt == ""
    if isinstance(error, agnost.ResponseTooLargeError):
        assert error.limit == SMALL_CAP
    assert redirect.calls == []  # type: ignore[attr-defined]
    _assert_session_unchanged(flavour, server, client)


def test_the_excerpt_is_short_and_free_of_control_characters(
    flavour: Flavour, server: RecordingServer
) -> None:
    # ResponseDecodeError documents its excerpt as "control characters removed".
    client = flavour.make(server.env_url)
    body = "<html>\r\n<p>line\none\ttab\x1b[31mred\x00nul</p>\n" + "x" * 1000
    server.script(text_reply(body, 502))

    error = flavour.raises(agnost.ResponseDecodeError, client, "get_all_sessions")

    assert error.excerpt.startswith("<html>")
    assert len(error.excerpt) <= 200
    control = [c for c in error.excerpt if ord(c) < 0x20 or ord(c) == 0x7F]
    assert control == []


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_not_followed_and_the_session_never_reaches_the_other_origin(
    flavour: Flavour, server: RecordingServer, other_origin: RecordingServer, status: int
) -> None:
    client = signed_in(
        flavour, server.env_url, max_response_bytes=SMALL_CAP, api_key="api-key-4567"
    )
    target = other_origin.env_url + "/_api/rest/v1/auth/sessions?access_token=acc-secret"
    server.script(Reply(status, headers=(("Location", target),)))

    error = flavour.raises(agnost.ResponseDecodeError, client, "get_all_sessions")

    assert error.status == status
    assert other_origin.url in str(error)
    assert "acc-secret" not in str(error)
    assert other_origin.requests == []
    assert len(server.requests) == 1
    _assert_session_unchanged(flavour, server, client)


def test_a_redirect_of_a_sign_in_is_not_followed_and_stores_nothing(
    flavour: Flavour, server: RecordingServer, other_origin: RecordingServer
) -> None:
    client = signed_in(flavour, server.env_url, max_response_bytes=SMALL_CAP)
    server.script(
        Reply(307, headers=(("Location", other_origin.env_url + "/signin-email"),)),
    )

    flavour.raises(agnost.ResponseDecodeError, client, "sign_in_with_email", "a@b.co", "pw")

    assert other_origin.requests == []
    _assert_session_unchanged(flavour, server, client)


def test_a_same_origin_redirect_is_not_followed_either(
    flavour: Flavour, server: RecordingServer
) -> None:
    client = signed_in(flavour, server.env_url, max_response_bytes=SMALL_CAP)
    server.script(Reply(302, headers=(("Location", "/elsewhere"),)), json_reply([]))

    error = flavour.raises(agnost.ResponseDecodeError, client, "get_all_sessions")

    assert error.status == 302
    assert len(server.requests) == 1


def test_an_error_answer_with_a_session_code_but_no_json_does_not_invalidate(
    flavour: Flavour, server: RecordingServer
) -> None:
    redirect = flavour.redirect_recorder()
    client = signed_in(
        flavour, server.env_url, max_response_bytes=SMALL_CAP, sign_in_redirect=redirect
    )
    server.script(text_reply("invalid_session_token", 401, "text/plain"))

    error = flavour.raises(agnost.ResponseDecodeError, client, "get_all_sessions")

    assert error.status == 401
    assert redirect.calls == []  # type: ignore[attr-defined]
    _assert_session_unchanged(flavour, server, client)


def test_a_sign_in_answer_with_a_bad_shape_does_not_replace_the_stored_session(
    flavour: Flavour, server: RecordingServer
) -> None:
    client = signed_in(flavour, server.env_url, max_response_bytes=SMALL_CAP)
    answer = grant_wire(NEW_TOKEN)
    answer["session"]["creationDtm"] = "not a date"
    server.script(json_reply(answer))

    flavour.raises(agnost.ResponseDecodeError, client, "sign_in_with_email", "a@b.co", "pw")

    _assert_session_unchanged(flavour, server, client)


def test_an_answer_exactly_at_the_size_cap_is_read(
    flavour: Flavour, server: RecordingServer
) -> None:
    client = flavour.make(server.env_url, max_response_bytes=SMALL_CAP)
    body = b"[" + b" " * (SMALL_CAP - 2) + b"]"
    server.script(Reply(200, body, headers=(("Content-Type", "application/json"),)))

    assert flavour.call(client, "get_all_sessions") == []


def test_the_default_size_cap_refuses_an_endless_body(
    flavour: Flavour, server: RecordingServer
) -> None:
    client = flavour.make(server.env_url)
    server.script(Reply(200, behaviour="endless"))

    error = flavour.raises(agnost.ResponseTooLargeError, client, "get_all_sessions")

    assert error.limit == 4 * 1024 * 1024
