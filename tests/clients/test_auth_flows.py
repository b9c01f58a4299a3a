"""The 13 calls of issue 11 through both real clients, against a recording server on
127.0.0.1: the exact bytes each sends (protocol.md §2, §3), what each changes locally, the
classes of the refusals they meet, and secrets kept out of every message and log."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

import agnost

from ._support import (
    API_KEY,
    AUTH,
    CLIENT_KEY,
    CURRENT_TOKEN,
    NEW_TOKEN,
    PREFIX,
    Flavour,
    RecordingServer,
    Reply,
    error_body,
    grant_wire,
    json_reply,
    next_session_header,
    session_wire,
    signed_in,
    signed_in_store,
    text_reply,
    user_wire,
)

PHONE = "+15550001234"
EMAIL = "a+b@x.co"
CODE = "042917"
RESET_TOKEN = "rt-9f8e7d6c5b4a3210"
OLD = "old-Secret-123"
NEW = "new-Secret-456"

# name, args, raw target after the auth path, exact body bytes (b"": none)
WIRE: list[tuple[str, tuple[str, ...], str, bytes]] = [
    ("sign_in_with_code", (PHONE, CODE), "/signin-code?code=042917&phone=%2B15550001234", b""),
    (
        "change_password",
        (NEW, OLD),
        "/change-pwd",
        b'{"newPassword":"new-Secret-456","oldPassword":"old-Secret-123"}',
    ),
    (
        "change_email",
        (OLD, EMAIL),
        "/change-email",
        b'{"currentPassword":"old-Secret-123","newEmail":"a+b@x.co"}',
    ),
    (
        "change_phone",
        (OLD, PHONE),
        "/change-phone",
        b'{"currentPassword":"old-Secret-123","newPhone":"+15550001234"}',
    ),
    ("verify_phone", (PHONE, CODE), "/verify-phone?code=042917&phone=%2B15550001234", b""),
    ("resend_verification_email", (EMAIL,), "/resend?email=a%2Bb%40x.co", b""),
    ("resend_verification_code", (PHONE,), "/resend-code?phone=%2B15550001234", b""),
    ("send_magic_link_email", (EMAIL,), "/send-magic?email=a%2Bb%40x.co", b""),
    ("send_reset_pwd_email", (EMAIL,), "/send-reset?email=a%2Bb%40x.co", b""),
    ("send_reset_pwd_code", (PHONE,), "/send-reset-code?phone=%2B15550001234", b""),
    ("send_sign_in_code", (PHONE,), "/send-code?phone=%2B15550001234", b""),
    (
        "reset_pwd_with_token",
        (RESET_TOKEN, NEW),
        "/reset-pwd?key=rt-9f8e7d6c5b4a3210",
        b'{"newPassword":"new-Secret-456"}',
    ),
    (
        "reset_pwd_with_code",
        (PHONE, CODE, NEW),
        "/reset-pwd-code?phone=%2B15550001234&code=042917",
        b'{"newPassword":"new-Secret-456"}',
    ),
]
NAMES = [case[0] for case in WIRE]
ARGS = {case[0]: case[1] for case in WIRE}

UPDATED_USER = user_wire(email="new@x.co", emailVerified=False)
#: A success answer of each call.
SUCCESS: dict[str, Reply] = {
    "sign_in_with_code": json_reply(grant_wire(NEW_TOKEN)),
    "verify_phone": json_reply(grant_wire(NEW_TOKEN, phone=PHONE, phoneVerified=True)),
    "change_email": json_reply(UPDATED_USER),
    "change_phone": json_reply(user_wire(phone="+15559999999", phoneVerified=False)),
}
EMPTY = Reply(200)


def _reply(name: str) -> Reply:
    return SUCCESS.get(name, EMPTY)


AGNOST_HEADERS = ("x-client", "x-client-key", "authorization", "session", "content-type")


@pytest.mark.parametrize(("name", "args", "target", "body"), WIRE, ids=NAMES)
@pytest.mark.parametrize("signed", [True, False], ids=["session", "no-session"])
@pytest.mark.parametrize("api_key", [API_KEY, None], ids=["api-key", "no-api-key"])
def test_each_call_sends_exactly_the_protocol_bytes(
    flavour: Flavour,
    server: RecordingServer,
    name: str,
    args: tuple[str, ...],
    target: str,
    body: bytes,
    signed: bool,
    api_key: str | None,
) -> None:
    server.script(_reply(name))
    store = signed_in_store() if signed else agnost.MemoryStore()
    client = flavour.make(server.env_url, api_key=api_key, storage=store)

    flavour.call(client, name, *args)

    assert len(server.requests) == 1
    sent = server.last
    assert sent.method == "POST"
    assert sent.target == PREFIX + AUTH + target
    assert sent.body == body
    assert sent.header("Content-Length") == str(len(body))
    agnost_headers = [(k.lower(), v) for k, v in sent.headers if k.lower() in AGNOST_HEADERS]
    expected = [("x-client", "agnost-python"), ("x-client-key", CLIENT_KEY)]
    expected += [("authorization", api_key)] if api_key else []
    expected += [("session", CURRENT_TOKEN)] if signed else []
    expected += [("content-type", "application/json")] if body else []
    assert agnost_headers == expected
    assert sent.header("Cookie") is None


@pytest.mark.parametrize("name", NAMES)
def test_both_flavours_send_the_same_bytes_and_return_equal_results(
    server: RecordingServer, name: str
) -> None:
    results = {}
    sent = {}
    for flavour_name in ("sync", "async"):
        with Flavour(flavour_name) as flavour:
            server.script(_reply(name))
            client = flavour.make(server.env_url, api_key=API_KEY, storage=signed_in_store())
            results[flavour_name] = flavour.call(client, name, *ARGS[name])
            last = server.last
            headers = [(k.lower(), v) for k, v in last.headers if k.lower() in AGNOST_HEADERS]
            sent[flavour_name] = (last.method, last.target, headers, last.body)
    assert sent["sync"] == sent["async"]
    assert results["sync"] == results["async"]


# --- local effects ------------------------------------------------------------------------


def test_sign_in_with_code_establishes_the_new_session_and_user(
    flavour: Flavour, server: RecordingServer
) -> None:
    store = agnost.MemoryStore()
    client = flavour.make(server.env_url, storage=store)
    answer = grant_wire(NEW_TOKEN, phone=PHONE, phoneVerified=True)
    server.script(json_reply(answer))

    grant = flavour.call(client, "sign_in_with_code", PHONE, CODE)

    assert isinstance(grant, agnost.AuthGrant)
    assert grant.session.token == NEW_TOKEN
    assert server.last.header("Session") is None
    assert store.load().session == answer["session"]
    assert store.load().user == answer["user"]
    assert flavour.call(client, "get_user").phone == PHONE
    assert next_session_header(flavour, server, client) == NEW_TOKEN


def test_sign_in_with_code_replaces_a_signed_in_session(
    flavour: Flavour, server: RecordingServer
) -> None:
    client = signed_in(flavour, server.env_url)
    server.script(json_reply(grant_wire(NEW_TOKEN, _id="other-user")))

    flavour.call(client, "sign_in_with_code", PHONE, CODE)

    assert server.last.header("Session") == CURRENT_TOKEN
    assert flavour.call(client, "get_user").id == "other-user"
    assert next_session_header(flavour, server, client) == NEW_TOKEN


def test_verify_phone_with_a_session_in_the_answer_establishes_it(
    flavour: Flavour, server: RecordingServer
) -> None:
    client = flavour.make(server.env_url)
    server.script(SUCCESS["verify_phone"])

    result = flavour.call(client, "verify_phone", PHONE, CODE)

    assert isinstance(result, agnost.SignUpResult)
    assert result.session is not None and result.session.token == NEW_TOKEN
    assert flavour.call(client, "get_session") == result.session
    assert flavour.call(client, "get_user").phone_verified is True
    assert next_session_header(flavour, server, client) == NEW_TOKEN


@pytest.mark.parametrize("signed", [True, False], ids=["session", "no-session"])
def test_verify_phone_without_a_session_in_the_answer_changes_nothing_locally(
    flavour: Flavour, server: RecordingServer, signed: bool
) -> None:
    store = signed_in_store() if signed else agnost.MemoryStore()
    before = store.load()
    client = flavour.make(server.env_url, storage=store)
    server.script(
        json_reply({"user": user_wire(phone=PHONE, phoneVerified=True), "session": None})
    )

    result = flavour.call(client, "verify_phone", PHONE, CODE)

    assert result.session is None
    assert result.user.phone_verified is True
    assert store.load() == before
    assert next_session_header(flavour, server, client) == (CURRENT_TOKEN if signed else None)


@pytest.mark.parametrize("name", ["change_email", "change_phone"])
def test_change_email_and_phone_return_the_user_and_keep_the_stored_one(
    flavour: Flavour, server: RecordingServer, name: str
) -> None:
    store = signed_in_store()
    before = store.load()
    client = flavour.make(server.env_url, storage=store)
    server.script(SUCCESS[name])

    user = flavour.call(client, name, *ARGS[name])

    assert isinstance(user, agnost.User)
    assert user == agnost.from_wire(agnost.User, json.loads(SUCCESS[name].body))
    assert user.extra["plan"] == {"tier": "pro", "seats": 3, "tags": ["a", None]}
    # Documented decision: the stored user is not refreshed (as for get_user_from_db) ...
    assert store.load() == before
    assert next_session_header(flavour, server, client) == CURRENT_TOKEN
    # ... and set_user stores the new one when the app wants it.
    flavour.call(client, "set_user", user)
    assert flavour.call(client, "get_user") == user


EMPTY_NAMES = [n for n in NAMES if n not in SUCCESS]


@pytest.mark.parametrize("name", EMPTY_NAMES)
@pytest.mark.parametrize(
    "reply",
    [EMPTY, text_reply("OK", content_type="text/plain"), json_reply({}), Reply(204)],
    ids=["empty", "text", "json", "204"],
)
@pytest.mark.parametrize("signed", [True, False], ids=["session", "no-session"])
def test_calls_answered_empty_return_none_and_change_nothing_locally(
    flavour: Flavour, server: RecordingServer, name: str, reply: Reply, signed: bool
) -> None:
    store = signed_in_store() if signed else agnost.MemoryStore()
    before = store.load()
    client = flavour.make(server.env_url, storage=store)
    server.script(reply)

    assert flavour.call(client, name, *ARGS[name]) is None

    assert store.load() == before
    assert next_session_header(flavour, server, client) == (CURRENT_TOKEN if signed else None)


@pytest.mark.parametrize(
    ("name", "reply"),
    [
        ("sign_in_with_code", json_reply({"user": user_wire(), "session": None})),
        ("sign_in_with_code", EMPTY),
        ("verify_phone", json_reply({"session": session_wire(NEW_TOKEN)})),
        ("change_email", EMPTY),
        ("change_phone", json_reply([user_wire()])),
    ],
)
def test_an_answer_of_the_wrong_shape_is_a_decode_error_and_changes_nothing(
    flavour: Flavour, server: RecordingServer, name: str, reply: Reply
) -> None:
    store = signed_in_store()
    before = store.load()
    client = flavour.make(server.env_url, storage=store)
    server.script(reply)

    error = flavour.raises(agnost.ResponseDecodeError, client, name, *ARGS[name])

    assert error.status == 200
    assert store.load() == before


# --- refusals -----------------------------------------------------------------------------

REFUSALS: list[tuple[str, str, int, type[agnost.APIError]]] = [
    ("sign_in_with_code", "invalid_code", 401, agnost.InvalidCodeError),
    ("sign_in_with_code", "too_many_attempts", 429, agnost.TooManyAttemptsError),
    ("verify_phone", "expired_code", 401, agnost.InvalidCodeError),
    ("reset_pwd_with_code", "invalid_code", 401, agnost.InvalidCodeError),
    ("reset_pwd_with_code", "validation_error", 400, agnost.ValidationError),
    ("reset_pwd_with_token", "invalid_access_token", 403, agnost.AccessTokenError),
    ("change_password", "invalid_credentials", 401, agnost.InvalidCredentialsError),
    ("change_email", "email_not_unique", 400, agnost.NotUniqueError),
    ("change_phone", "phone_not_unique", 400, agnost.NotUniqueError),
    ("change_phone", "validation_error", 400, agnost.ValidationError),
    ("send_sign_in_code", "too_many_attempts", 429, agnost.TooManyAttemptsError),
    ("send_magic_link_email", "not_allowed", 401, agnost.NotAllowedError),
    ("resend_verification_code", "something_new", 418, agnost.APIError),
    ("send_reset_pwd_email", "internal_server_error", 500, agnost.ServerError),
]


@pytest.mark.parametrize(("name", "code", "status", "cls"), REFUSALS)
def test_refusals_raise_their_class_and_keep_the_session(
    flavour: Flavour,
    server: RecordingServer,
    name: str,
    code: str,
    status: int,
    cls: type[agnost.APIError],
) -> None:
    store = signed_in_store()
    before = store.load()
    redirect = flavour.redirect_recorder()
    client = flavour.make(server.env_url, storage=store, sign_in_redirect=redirect)
    server.script(
        Reply(status, error_body(code, "nope"), headers=(("Content-Type", "application/json"),))
    )

    error = flavour.raises(cls, client, name, *ARGS[name])

    assert type(error) is cls
    assert (error.status, error.code) == (status, code)
    assert error.items[0].to_wire() == {
        "origin": "client_error",
        "code": code,
        "message": "nope",
        "details": None,
    }
    assert store.load() == before
    assert redirect.calls == []  # type: ignore[attr-defined]
    assert next_session_header(flavour, server, client) == CURRENT_TOKEN


@pytest.mark.parametrize("name", ["change_password", "change_email", "change_phone"])
def test_changes_without_a_session_are_refused_by_the_server_as_get_all_sessions_is(
    flavour: Flavour, server: RecordingServer, name: str
) -> None:
    client = flavour.make(server.env_url)
    server.script(json_reply({"errors": [{"code": "missing_session_token"}]}, 401))

    flavour.raises(agnost.MissingSessionTokenError, client, name, *ARGS[name])

    assert server.last.header("Session") is None


@pytest.mark.parametrize("name", ["change_password", "change_email", "change_phone"])
def test_a_refused_session_on_a_change_invalidates_it(
    flavour: Flavour, server: RecordingServer, name: str
) -> None:
    redirect = flavour.redirect_recorder()
    client = signed_in(flavour, server.env_url, sign_in_redirect=redirect)
    server.script(json_reply({"errors": {"code": "invalid_session_token"}}, 401))

    flavour.raises(agnost.InvalidSessionTokenError, client, name, *ARGS[name])

    assert flavour.call(client, "get_session") is None
    assert len(redirect.calls) == 1  # type: ignore[attr-defined]
    assert next_session_header(flavour, server, client) is None


@pytest.mark.parametrize("name", ["send_reset_pwd_code", "reset_pwd_with_code"])
def test_an_html_error_page_is_a_decode_error_not_a_hang(
    flavour: Flavour, server: RecordingServer, name: str
) -> None:
    client = flavour.make(server.env_url)
    server.script(
        Reply(502, b"<html>Bad gateway</html>", headers=(("Content-Type", "text/html"),))
    )

    error = flavour.raises(agnost.ResponseDecodeError, client, name, *ARGS[name])

    assert error.status == 502
    assert "Bad gateway" in error.excerpt


# --- bad arguments: nothing is sent --------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "args", "cls"),
    [
        ("sign_in_with_code", (PHONE, 42917), agnost.InvalidArgumentTypeError),
        ("sign_in_with_code", ("", CODE), agnost.InvalidArgumentError),
        ("verify_phone", (PHONE, None), agnost.InvalidArgumentTypeError),
        ("change_password", ("", OLD), agnost.InvalidArgumentError),
        ("change_email", (OLD, b"a@b.c"), agnost.InvalidArgumentTypeError),
        ("change_phone", (None, PHONE), agnost.InvalidArgumentTypeError),
        ("resend_verification_email", ("",), agnost.InvalidArgumentError),
        ("resend_verification_code", (15550001234,), agnost.InvalidArgumentTypeError),
        ("send_magic_link_email", (["a@b.c"],), agnost.InvalidArgumentTypeError),
        ("send_reset_pwd_email", ("\udc80@x.co",), agnost.InvalidArgumentError),
        ("send_reset_pwd_code", ("",), agnost.InvalidArgumentError),
        ("send_sign_in_code", (None,), agnost.InvalidArgumentTypeError),
        ("reset_pwd_with_token", ("https://app.example/reset", NEW), agnost.InvalidArgumentError),
        ("reset_pwd_with_token", (RESET_TOKEN, ""), agnost.InvalidArgumentError),
        ("reset_pwd_with_code", (PHONE, CODE, 123), agnost.InvalidArgumentTypeError),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_sent(
    flavour: Flavour,
    server: RecordingServer,
    name: str,
    args: tuple[Any, ...],
    cls: type[Exception],
) -> None:
    client = signed_in(flavour, server.env_url)

    error = flavour.raises(cls, client, name, *args)

    assert isinstance(error, agnost.ClientError)
    assert server.requests == []


def test_arguments_may_be_given_by_keyword(flavour: Flavour, server: RecordingServer) -> None:
    client = flavour.make(server.env_url)
    flavour.call(client, "reset_pwd_with_code", new_password=NEW, code=CODE, phone=PHONE)
    assert server.last.target.endswith("/reset-pwd-code?phone=%2B15550001234&code=042917")
    flavour.call(client, "change_password", old_password=OLD, new_password=NEW)
    assert json.loads(server.last.body) == {"newPassword": NEW, "oldPassword": OLD}


# --- secrets ------------------------------------------------------------------------------

SECRET_CASES = [
    ("sign_in_with_code", CODE),
    ("verify_phone", CODE),
    ("reset_pwd_with_code", CODE),
    ("reset_pwd_with_code", NEW),
    ("reset_pwd_with_token", RESET_TOKEN),
    ("reset_pwd_with_token", NEW),
    ("change_password", NEW),
    ("change_password", OLD),
    ("change_email", OLD),
    ("change_phone", OLD),
]


@pytest.mark.parametrize(("name", "secret"), SECRET_CASES)
@pytest.mark.parametrize("shape", ["json", "html"])
def test_a_secret_echoed_by_the_server_is_in_no_message_repr_or_log(
    flavour: Flavour,
    server: RecordingServer,
    caplog: pytest.LogCaptureFixture,
    name: str,
    secret: str,
    shape: str,
) -> None:
    client = flavour.make(server.env_url)
    if shape == "json":
        reply = Reply(400, error_body("refused", f"value {secret} is wrong"))
        kind: type[Exception] = agnost.APIError
    else:
        reply = Reply(500, f"<pre>{secret} rejected</pre>".encode())
        kind = agnost.ResponseDecodeError
    server.script(reply)

    with caplog.at_level(logging.DEBUG):
        error = flavour.raises(kind, client, name, *ARGS[name])

    assert secret in server.last.target + server.last.body.decode()  # it was sent ...
    for text in (str(error), repr(error), caplog.text, repr(error.__cause__)):
        assert secret not in text  # ... and is shown nowhere
    assert "[redacted]" in str(error)
    if isinstance(error, agnost.APIError):
        assert error.items[0].message == f"value {secret} is wrong"  # kept as the server said


def test_a_transport_failure_names_no_code_or_token(flavour: Flavour) -> None:
    from ._support import SHORT, closed_port_url

    client = flavour.make(closed_port_url(), timeout=SHORT)
    for name in ("sign_in_with_code", "reset_pwd_with_token"):
        error = flavour.raises(agnost.TransportError, client, name, *ARGS[name])
        for secret in (CODE, RESET_TOKEN, NEW):
            assert secret not in str(error)
            assert secret not in repr(error)
