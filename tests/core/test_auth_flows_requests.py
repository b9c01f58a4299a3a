"""The 13 calls of issue 11 build exactly the requests of protocol.md §3, refuse bad arguments
before anything is sent, keep their secrets out of every text, and turn answers into the
documented results, local changes and error classes (no I/O)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

import agnost
from agnost._core import local, operations
from agnost._core.http import ClientConfig, Response
from agnost._core.operations import BY_NAME, handle
from tests.samples import SESSION, USER

BASE = "https://example.test/e:64f0"
CONFIG = ClientConfig.create(BASE, "ck-123")
AUTH = "/_api/rest/v1/auth"

PHONE = "+15550001234"
EMAIL = "a+b@x.co"
CODE = "042917"
TOKEN = "rt-9f8e7d6c5b4a"
OLD = "old-Secret-123"
NEW = "new-Secret-456"

#: name, args, path, query as sent (percent-encoded), query decoded, JSON body (None: no body)
FLOW_CASES: list[tuple[str, tuple[Any, ...], str, str, list[tuple[str, str]], Any]] = [
    (
        "sign_in_with_code",
        (PHONE, CODE),
        "/signin-code",
        "code=042917&phone=%2B15550001234",
        [("code", CODE), ("phone", PHONE)],
        None,
    ),
    (
        "change_password",
        (NEW, OLD),
        "/change-pwd",
        "",
        [],
        {"newPassword": NEW, "oldPassword": OLD},
    ),
    (
        "change_email",
        (OLD, EMAIL),
        "/change-email",
        "",
        [],
        {"currentPassword": OLD, "newEmail": EMAIL},
    ),
    (
        "change_phone",
        (OLD, PHONE),
        "/change-phone",
        "",
        [],
        {"currentPassword": OLD, "newPhone": PHONE},
    ),
    (
        "verify_phone",
        (PHONE, CODE),
        "/verify-phone",
        "code=042917&phone=%2B15550001234",
        [("code", CODE), ("phone", PHONE)],
        None,
    ),
    (
        "resend_verification_email",
        (EMAIL,),
        "/resend",
        "email=a%2Bb%40x.co",
        [("email", EMAIL)],
        None,
    ),
    (
        "resend_verification_code",
        (PHONE,),
        "/resend-code",
        "phone=%2B15550001234",
        [("phone", PHONE)],
        None,
    ),
    (
        "send_magic_link_email",
        (EMAIL,),
        "/send-magic",
        "email=a%2Bb%40x.co",
        [("email", EMAIL)],
        None,
    ),
    (
        "send_reset_pwd_email",
        (EMAIL,),
        "/send-reset",
        "email=a%2Bb%40x.co",
        [("email", EMAIL)],
        None,
    ),
    # Not /send-reset, where the Dart client posts it (protocol.md §6).
    (
        "send_reset_pwd_code",
        (PHONE,),
        "/send-reset-code",
        "phone=%2B15550001234",
        [("phone", PHONE)],
        None,
    ),
    (
        "send_sign_in_code",
        (PHONE,),
        "/send-code",
        "phone=%2B15550001234",
        [("phone", PHONE)],
        None,
    ),
    (
        "reset_pwd_with_token",
        (TOKEN, NEW),
        "/reset-pwd",
        "key=rt-9f8e7d6c5b4a",
        [("key", TOKEN)],
        {"newPassword": NEW},
    ),
    (
        "reset_pwd_with_code",
        (PHONE, CODE, NEW),
        "/reset-pwd-code",
        "phone=%2B15550001234&code=042917",
        [("phone", PHONE), ("code", CODE)],
        {"newPassword": NEW},
    ),
]

FLOW_NAMES = [case[0] for case in FLOW_CASES]


def _url(endpoint: operations.Endpoint) -> str:
    return CONFIG.url(endpoint.path, endpoint.query)


@pytest.mark.parametrize(
    ("name", "args", "path", "raw_query", "query", "body"), FLOW_CASES, ids=FLOW_NAMES
)
def test_each_call_builds_the_request_of_the_protocol(
    name: str,
    args: tuple[Any, ...],
    path: str,
    raw_query: str,
    query: list[tuple[str, str]],
    body: Any,
) -> None:
    endpoint = getattr(operations, name)(*args)
    url = _url(endpoint)
    parts = urlsplit(url)
    assert endpoint.method == "POST"
    assert parts.path == "/e:64f0" + AUTH + path
    assert parts.query == raw_query
    assert parse_qsl(parts.query, keep_blank_values=True) == query
    headers = CONFIG.headers("tok-current", json_body=endpoint.body is not None)
    if body is None:
        assert endpoint.body is None
        assert "Content-Type" not in headers
    else:
        assert endpoint.body == json.dumps(body, separators=(",", ":")).encode()
        assert headers["Content-Type"] == "application/json"
    assert headers["Session"] == "tok-current"
    assert list(headers)[:2] == ["X-Client", "X-Client-Key"]


def test_the_13_calls_are_rows_of_the_table_in_the_order_of_the_protocol() -> None:
    names = [op.name for op in operations.OPERATIONS]
    assert names[-13:] == FLOW_NAMES
    for name in FLOW_NAMES:
        op = BY_NAME[name]
        assert op.build is getattr(operations, name)
        assert op.js_name == "".join(
            part if i == 0 else part.capitalize() for i, part in enumerate(name.split("_"))
        )


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        ("a+b@x.co", "a%2Bb%40x.co"),
        ("zoë@exämple.com", "zo%C3%AB%40ex%C3%A4mple.com"),
        ("x y&email=evil@x.co#f", "x%20y%26email%3Devil%40x.co%23f"),
        ("o'neil!*()@x.co", "o'neil!*()%40x.co"),  # what encodeURIComponent leaves alone
    ],
)
def test_every_query_value_is_percent_encoded(value: str, encoded: str) -> None:
    # The official client inserts them raw: `a+b@x.co` would reach the server as `a b@x.co`.
    for build, key in (
        (operations.send_magic_link_email, "email"),
        (operations.send_reset_pwd_code, "phone"),
    ):
        url = _url(build(value))
        assert urlsplit(url).query == f"{key}={encoded}"
        assert parse_qsl(urlsplit(url).query) == [(key, value)]
    url = _url(operations.sign_in_with_code(value, value))
    assert urlsplit(url).query == f"code={encoded}&phone={encoded}"


@pytest.mark.parametrize(
    "link",
    [
        "https://app.example/reset?access_token=rt-9f8e7d6c5b4a",
        "https://app.example/reset?state=2&access_token=rt-9f8e7d6c5b4a#x",
        "myapp://reset#access_token=rt-9f8e7d6c5b4a",
        "  rt-9f8e7d6c5b4a  ",
    ],
)
def test_reset_pwd_with_token_takes_the_token_or_the_reset_link(link: str) -> None:
    endpoint = operations.reset_pwd_with_token(link, NEW)
    assert endpoint.query == (("key", TOKEN),)
    assert endpoint.tokens == (TOKEN,)


@pytest.mark.parametrize(
    "link", ["", "   ", "https://app.example/reset?state=1", "https://x/?access_token="]
)
def test_reset_pwd_with_token_without_a_token_is_refused(link: str) -> None:
    with pytest.raises(agnost.InvalidArgumentError) as info:
        operations.reset_pwd_with_token(link, NEW)
    assert info.value.code == "missing_access_token"
    assert "reset_pwd_with_token" in str(info.value)


def _bad_argument_cases(
    values: list[Any],
) -> list[tuple[str, tuple[Any, ...]]]:
    """Every argument of every call replaced, one at a time, by each of ``values``."""
    cases = []
    for name, args, *_ in FLOW_CASES:
        for position in range(len(args)):
            for value in values:
                bad = list(args)
                bad[position] = value
                cases.append((name, tuple(bad)))
    return cases


WRONG_TYPES: list[Any] = [None, 42, 42.0, b"bytes", ["x"], {"phone": PHONE}, True]


@pytest.mark.parametrize(("name", "args"), _bad_argument_cases(WRONG_TYPES))
def test_arguments_of_the_wrong_type_are_refused(name: str, args: tuple[Any, ...]) -> None:
    with pytest.raises(agnost.InvalidArgumentTypeError) as info:
        getattr(operations, name)(*args)
    assert isinstance(info.value, TypeError)
    assert info.value.code == "invalid_argument"
    assert info.value.items[0].origin == "client_error"


@pytest.mark.parametrize(("name", "args"), _bad_argument_cases([""]))
def test_empty_arguments_are_refused(name: str, args: tuple[Any, ...]) -> None:
    with pytest.raises(agnost.InvalidArgumentError) as info:
        getattr(operations, name)(*args)
    assert isinstance(info.value, ValueError)
    wanted = "missing_access_token" if name == "reset_pwd_with_token" and not args[0] else None
    assert info.value.code == (wanted or "missing_required_value")


@pytest.mark.parametrize(("name", "args"), _bad_argument_cases(["\udc80"]))
def test_text_that_no_bytes_can_carry_is_refused(name: str, args: tuple[Any, ...]) -> None:
    with pytest.raises(agnost.InvalidArgumentError) as info:
        getattr(operations, name)(*args)
    assert info.value.code == "invalid_argument"


def test_a_code_given_as_a_number_is_refused_rather_than_losing_its_leading_zero() -> None:
    with pytest.raises(agnost.InvalidArgumentTypeError) as info:
        operations.sign_in_with_code(PHONE, 42917)  # type: ignore[arg-type]
    assert "code must be a string, not int" in str(info.value)


def test_the_error_names_the_argument_not_its_value() -> None:
    with pytest.raises(agnost.InvalidArgumentError) as info:
        operations.change_email(OLD, "")
    assert str(info.value) == "new_email is required"
    with pytest.raises(agnost.InvalidArgumentTypeError) as wrong:
        operations.change_password(NEW, 7)  # type: ignore[arg-type]
    assert str(wrong.value) == "old_password must be a string, not int"


# --- secrets ------------------------------------------------------------------------------


SECRETS_OF = {
    "sign_in_with_code": {"codes": (CODE,)},
    "change_password": {"passwords": (NEW, OLD)},
    "change_email": {"passwords": (OLD,)},
    "change_phone": {"passwords": (OLD,)},
    "verify_phone": {"codes": (CODE,)},
    "reset_pwd_with_token": {"tokens": (TOKEN,), "passwords": (NEW,)},
    "reset_pwd_with_code": {"codes": (CODE,), "passwords": (NEW,)},
}


@pytest.mark.parametrize(
    ("name", "args", "path", "raw", "query", "body"), FLOW_CASES, ids=FLOW_NAMES
)
def test_each_call_registers_its_secrets_and_no_repr_shows_them(
    name: str, args: tuple[Any, ...], path: str, raw: str, query: Any, body: Any
) -> None:
    endpoint = getattr(operations, name)(*args)
    wanted = SECRETS_OF.get(name, {})
    for kind in ("tokens", "passwords", "codes"):
        assert getattr(endpoint, kind) == wanted.get(kind, ())
    shown = repr(endpoint)
    for secret in (CODE, TOKEN, OLD, NEW):
        assert secret not in shown


def _echo(secret: str, code: str = "refused", status: int = 400) -> Response:
    """An error answer whose message quotes ``secret`` as a word of its text."""
    body = {
        "errors": [{"origin": "client_error", "code": code, "message": f"bad value {secret} here"}]
    }
    return Response(status, "Bad Request", {}, json.dumps(body).encode())


@pytest.mark.parametrize(
    ("name", "args", "secret"),
    [
        ("sign_in_with_code", (PHONE, CODE), CODE),
        ("verify_phone", (PHONE, CODE), CODE),
        ("reset_pwd_with_code", (PHONE, CODE, NEW), CODE),
        ("reset_pwd_with_code", (PHONE, CODE, NEW), NEW),
        ("reset_pwd_with_token", (TOKEN, NEW), TOKEN),
        ("reset_pwd_with_token", (TOKEN, NEW), NEW),
        ("change_password", (NEW, OLD), OLD),
        ("change_password", (NEW, OLD), NEW),
        ("change_email", (OLD, EMAIL), OLD),
        ("change_phone", (OLD, PHONE), OLD),
        # a short code too: a 4-digit one is redacted all the same
        ("sign_in_with_code", (PHONE, "4821"), "4821"),
    ],
)
def test_a_secret_echoed_by_the_server_is_in_no_message(
    name: str, args: tuple[Any, ...], secret: str
) -> None:
    op = BY_NAME[name]
    with pytest.raises(agnost.APIError) as info:
        handle(op, op.build(*args), _echo(secret), sent_token=None)
    assert secret not in str(info.value)
    assert secret not in repr(info.value)
    assert "[redacted]" in str(info.value)
    # ... while the items keep exactly what the server said.
    assert info.value.items[0].message == f"bad value {secret} here"


def test_a_secret_in_an_undecodable_answer_is_not_in_the_excerpt() -> None:
    op = BY_NAME["change_email"]
    response = Response(200, "OK", {}, f'{{"email": "{OLD}" '.encode())
    with pytest.raises(agnost.ResponseDecodeError) as info:
        handle(op, op.build(OLD, EMAIL), response, sent_token=None)
    assert OLD not in str(info.value)


# --- answers ------------------------------------------------------------------------------


def answer(body: Any = b"", status: int = 200) -> Response:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Response(status, "OK", {}, raw)


def run(name: str, response: Response, sent: str | None = "tok-current") -> Any:
    args = next(case[1] for case in FLOW_CASES if case[0] == name)
    op = BY_NAME[name]
    return handle(op, op.build(*args), response, sent_token=sent)


def test_sign_in_with_code_returns_the_grant_and_establishes_it() -> None:
    outcome = run("sign_in_with_code", answer({"user": USER, "session": SESSION}), sent=None)
    assert isinstance(outcome.value, agnost.AuthGrant)
    assert outcome.value.session.token == "tok-current"
    assert outcome.change == local.Store({"session": SESSION, "user": USER})


def test_sign_in_with_code_without_a_session_in_the_answer_is_a_bad_answer() -> None:
    with pytest.raises(agnost.ResponseDecodeError):
        run("sign_in_with_code", answer({"user": USER, "session": None}))


def test_verify_phone_establishes_only_when_a_session_comes_back() -> None:
    signed_in = run("verify_phone", answer({"user": USER, "session": SESSION}), sent=None)
    assert isinstance(signed_in.value, agnost.SignUpResult)
    assert signed_in.change == local.Store({"session": SESSION, "user": USER})
    verified = run("verify_phone", answer({"user": USER, "session": None}))
    assert verified.value.session is None
    assert verified.value.user.email == USER["email"]
    assert verified.change is None


@pytest.mark.parametrize("name", ["change_email", "change_phone"])
def test_change_email_and_phone_return_the_user_and_keep_the_stored_one(name: str) -> None:
    updated = {**USER, "email": "new@x.co", "phone": PHONE, "phoneVerified": False}
    outcome = run(name, answer(updated))
    assert outcome.value == agnost.from_wire(agnost.User, updated)
    assert outcome.value.extra == {"plan": {"tier": "pro"}}
    assert outcome.change is None


@pytest.mark.parametrize("name", ["change_email", "change_phone"])
@pytest.mark.parametrize("body", [b"", b"[]", b'{"user": 1}', b'"text"'])
def test_change_email_and_phone_need_a_user_in_the_answer(name: str, body: bytes) -> None:
    with pytest.raises(agnost.ResponseDecodeError) as info:
        run(name, answer(body))
    assert info.value.status == 200


EMPTY_ANSWERS = [name for name in FLOW_NAMES if BY_NAME[name].returns == "None"]


@pytest.mark.parametrize("name", EMPTY_ANSWERS)
@pytest.mark.parametrize("body", [b"", b"OK", b"{}", b"<html>done</html>"])
def test_calls_with_empty_answers_succeed_on_any_2xx_body_and_change_nothing(
    name: str, body: bytes
) -> None:
    outcome = run(name, answer(body))
    assert outcome.value is None
    assert outcome.change is None
    assert run(name, answer(body, status=204)).value is None


def test_which_calls_answer_what() -> None:
    assert {name: BY_NAME[name].returns for name in FLOW_NAMES} == {
        "sign_in_with_code": "AuthGrant",
        "change_password": "None",
        "change_email": "User",
        "change_phone": "User",
        "verify_phone": "SignUpResult",
        "resend_verification_email": "None",
        "resend_verification_code": "None",
        "send_magic_link_email": "None",
        "send_reset_pwd_email": "None",
        "send_reset_pwd_code": "None",
        "send_sign_in_code": "None",
        "reset_pwd_with_token": "None",
        "reset_pwd_with_code": "None",
    }


#: (code, status, class) of the refusals these flows meet.
FLOW_ERRORS: list[tuple[str, int, type[agnost.APIError]]] = [
    ("invalid_code", 401, agnost.InvalidCodeError),
    ("expired_code", 401, agnost.InvalidCodeError),
    ("too_many_attempts", 429, agnost.TooManyAttemptsError),
    ("phone_not_verified", 401, agnost.PhoneNotVerifiedError),
    ("email_not_unique", 400, agnost.NotUniqueError),
    ("phone_not_unique", 400, agnost.NotUniqueError),
    ("invalid_access_token", 403, agnost.AccessTokenError),
    ("missing_access_token", 400, agnost.AccessTokenError),
    ("invalid_credentials", 401, agnost.InvalidCredentialsError),
    ("validation_error", 400, agnost.ValidationError),
    ("not_allowed", 401, agnost.NotAllowedError),
    ("missing_session_token", 401, agnost.MissingSessionTokenError),
    ("user_not_found", 404, agnost.UserNotFoundError),
]


@pytest.mark.parametrize("name", FLOW_NAMES)
@pytest.mark.parametrize(("code", "status", "cls"), FLOW_ERRORS)
def test_refusals_raise_the_class_of_their_code(
    name: str, code: str, status: int, cls: type[agnost.APIError]
) -> None:
    body = {"errors": [{"origin": "client_error", "code": code, "message": "no", "details": {}}]}
    with pytest.raises(cls) as info:
        run(name, answer(body, status=status))
    assert type(info.value) is cls
    assert info.value.status == status
    assert info.value.code == code
    assert [item.to_wire() for item in info.value.items] == body["errors"]


def test_the_new_error_classes_are_api_errors_exported_by_both_packages() -> None:
    import agnost_async

    for cls in (
        agnost.InvalidCodeError,
        agnost.TooManyAttemptsError,
        agnost.PhoneNotVerifiedError,
        agnost.NotUniqueError,
    ):
        assert issubclass(cls, agnost.APIError)
        assert getattr(agnost_async, cls.__name__) is cls
        assert cls.__doc__


def test_a_code_is_redacted_as_a_word_but_not_inside_the_servers_numbers() -> None:
    op = BY_NAME["sign_in_with_code"]
    body = {"errors": [{"code": "invalid_code", "message": "code 4821 is wrong for +1555048219"}]}
    response = Response(401, "Unauthorized", {}, json.dumps(body).encode())
    with pytest.raises(agnost.InvalidCodeError) as info:
        handle(op, op.build(PHONE, "4821"), response, sent_token=None)
    assert "code [redacted] is wrong for +1555048219" in str(info.value)
