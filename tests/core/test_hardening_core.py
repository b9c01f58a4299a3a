"""Hardening of the core (issue 8): error answers stay exactly what the server sent and only
their text for people is redacted; deep, huge and hostile answers and arguments are typed
errors in bounded time; redirects show no user information; models refuse bad fields."""

from __future__ import annotations

import json
import pickle
from datetime import datetime, timezone
from typing import Any

import pytest

import agnost
from agnost._core import errors, local
from agnost._core.http import Response, Secrets, error_from_response, redirect_error
from agnost._core.operations import BY_NAME, get_auth_grant, handle, sign_up_with_email
from tests import samples

# Passwords that are short or common words: parts of codes and messages, never to be cut.
WEAK_PASSWORDS = ["e", "in", "al", "pas", "pass", "password", "error", "valid", "or", "Invalid"]
DISTINCTIVE = "CANARY-pass-4242"


def answer(status: int, body: Any, reason: str = "Unauthorized", **headers: str) -> Response:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Response(status, reason, headers, raw)


def sign_in(password: str, response: Response) -> Any:
    op = BY_NAME["sign_in_with_email"]
    return handle(op, op.build("ada@example.com", password), response, sent_token=None)


def nested(depth: int, leaf: Any = None) -> Any:
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


# --- redaction: codes exact, text for people only --------------------------------------------

ANSWERS = [
    (401, "invalid_credentials", "Invalid email or password", errors.InvalidCredentialsError),
    (
        400,
        "validation_error",
        "Validation failed: password: must be at least 6 characters long",
        errors.ValidationError,
    ),
    (401, "invalid_session_token", "Session token is invalid", errors.InvalidSessionTokenError),
]


@pytest.mark.parametrize("password", WEAK_PASSWORDS)
@pytest.mark.parametrize(("status", "code", "message", "kind"), ANSWERS)
def test_a_weak_password_alters_neither_the_code_nor_the_class_nor_the_text(
    password: str, status: int, code: str, message: str, kind: type[Exception]
) -> None:
    item = {"origin": "client_error", "code": code, "message": message, "details": {"f": code}}

    with pytest.raises(kind) as info:
        sign_in(password, answer(status, {"errors": [item]}))

    error = info.value
    assert isinstance(error, errors.APIError)
    assert error.code == code
    assert error.items[0].to_wire() == item
    assert str(error) == f"{status} Unauthorized [{code}]: {message}"
    assert "[redacted]" not in repr(error)


def test_a_distinctive_password_echoed_is_redacted_from_the_text_only() -> None:
    item = {
        "code": "validation_error",
        "message": f"password {DISTINCTIVE} is weak; '{DISTINCTIVE}'",
        "details": {"value": DISTINCTIVE},
    }

    with pytest.raises(errors.ValidationError) as info:
        sign_in(DISTINCTIVE, answer(400, {"errors": [item]}, "Bad Request"))

    error = info.value
    assert (
        str(error)
        == "400 Bad Request [validation_error]: password [redacted] is weak; '[redacted]'"
    )
    assert DISTINCTIVE not in repr(error) + repr(error.items) + repr(error.args)
    assert error.items[0].message == item["message"]  # the data, exact
    assert error.items[0].details == {"value": DISTINCTIVE}
    restored = pickle.loads(pickle.dumps(error))
    assert str(restored) == str(error) and restored.items == error.items


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Whole tokens only: never inside a word, so neither cut nor told by its place.
        ("key=tok-123456789;", "key=[redacted];"),
        ("xtok-123456789", "xtok-123456789"),
        ("tok-123456789x", "tok-123456789x"),
        ("(tok-123456789)", "([redacted])"),
        # A secret whose edge is not a word character is found next to a word.
        ("a-tok-987654321-b", "a[redacted]b"),
        # The longer of two overlapping secrets wins, in one pass.
        ("tok-123456789-long!", "[redacted]"),
    ],
)
def test_the_redactor_replaces_distinctive_secrets_as_whole_tokens(
    text: str, expected: str
) -> None:
    passwords = ["tok-123456789", "-tok-987654321-", "tok-123456789-long!", "", "in"]
    redact = Secrets(passwords=passwords).redact

    assert redact(text) == expected


@pytest.mark.parametrize(
    "secret", ["in", "e", "pass", "password", "Password", "hunter2", "abcdefghijklmno"]
)
def test_secrets_that_can_be_words_of_the_text_are_never_marked(secret: str) -> None:
    text = f"Invalid email or password; {secret} in e-mail"

    assert Secrets(passwords=[secret]).redact(text) == text


def test_the_redactor_is_one_pass_whatever_the_number_of_secrets() -> None:
    secrets = [f"secret-{i:04d}-x" for i in range(500)]
    text = " ".join(secrets) + " secret-9999-x"

    assert Secrets(passwords=secrets).redact(text) == "[redacted] " * 500 + "secret-9999-x"


def test_an_excerpt_never_shows_part_of_a_secret_cut_by_its_window() -> None:
    secret = "CANARY-0123456789abcdef"
    body = ("é" * 199 + secret).encode()
    op = BY_NAME["get_all_sessions"]

    with pytest.raises(errors.ResponseDecodeError) as info:
        handle(op, op.build(), answer(502, body), sent_token=None, secrets=(secret,))

    assert "CANARY" not in info.value.excerpt


# --- items kept exactly --------------------------------------------------------------------


def test_items_keep_wrongly_typed_standard_keys_and_non_object_entries() -> None:
    body = {"errors": [{"code": 5, "message": ["x"], "origin": "client_error"}, 42, "plain"]}

    error = error_from_response(answer(400, body))

    first, number, text = error.items
    assert first.code is None and first.to_wire() == {"details": None, **body["errors"][0]}
    assert (number.details, number.message) == (42, None)
    assert text.message == "plain"
    assert repr(first) == "ErrorItem(origin='client_error', code=None)"


def test_a_huge_error_answer_keeps_100_items_and_the_one_that_decides() -> None:
    count = 1_300_000
    raw = [{"code": "x"}] * (count - 1) + [{"code": "missing_session_token", "message": "m"}]

    error = error_from_response(answer(401, {"errors": raw}))

    assert isinstance(error, errors.MissingSessionTokenError)
    assert error.item_count == count
    assert len(error.items) == errors.MAX_ERROR_ITEMS + 1
    assert error.items[-1].code == "missing_session_token"
    assert str(error).endswith(f"(+{count - 1} more)")
    change = local.invalidation_after(error, sent_token="tok", target_token=None)
    assert isinstance(change, local.Clear)


@pytest.mark.parametrize("code", [b'"missing\\u005fsession_token"', b'"missing_session_token"'])
def test_a_deciding_code_far_down_is_found_however_it_is_spelt(code: bytes) -> None:
    body = b'{"errors":[' + b'{"code":["x"]},' * 500 + b'{"code":' + code + b"}]}"

    error = error_from_response(answer(401, body))

    assert isinstance(error, errors.MissingSessionTokenError)
    assert error.items[-1].code == "missing_session_token"


def test_a_huge_error_answer_with_its_deciding_code_in_front_keeps_just_100() -> None:
    raw = [{"code": "invalid_credentials"}] + [{"code": "x"}] * 5000

    error = error_from_response(answer(401, raw))

    assert isinstance(error, errors.InvalidCredentialsError)
    assert (len(error.items), error.item_count) == (100, 5001)


# --- deep answers and arguments --------------------------------------------------------------


@pytest.mark.parametrize("status", [200, 401])
def test_an_answer_of_nested_arrays_is_a_decode_error(status: int) -> None:
    body = b"[" * 200_000 + b"]" * 200_000
    op = BY_NAME["get_all_sessions"]

    with pytest.raises(errors.ResponseDecodeError) as info:
        handle(op, op.build(), answer(status, body), sent_token="tok")

    assert "nested too deeply" in str(info.value)


def test_error_details_nested_700_deep_are_kept_as_sent() -> None:
    item = {"code": "invalid_session_token", "details": nested(700, "leaf")}
    body = (
        b'{"errors":[{"code":"invalid_session_token","details":'
        + json.dumps(item["details"]).encode()
        + b"}]}"
    )

    error = error_from_response(answer(401, body), Secrets(tokens=["tok-current-123"]))

    assert isinstance(error, errors.InvalidSessionTokenError)
    assert error.items[0].details == item["details"]


def test_a_user_with_a_deeply_nested_custom_field_is_structured_as_sent() -> None:
    user = {**samples.USER, "tree": nested(400, 1)}
    op = BY_NAME["get_user_from_db"]

    outcome = handle(op, op.build(), answer(200, user), sent_token="tok")

    assert outcome.value.extra["tree"] == user["tree"]


def test_name_or_user_data_nested_100k_deep_is_an_argument_error() -> None:
    data: dict[str, Any] = {}
    for _ in range(100_000):
        data = {"a": data}

    with pytest.raises(agnost.InvalidArgumentError, match="nested too deeply"):
        sign_up_with_email("ada@example.com", "secret-1", data)


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("get_auth_grant", ("a\udc80",)),
        ("get_auth_grant", ("https://app.example.com/cb?access_token=a\udc80",)),
        ("sign_out", ("tok\ud800",)),
        ("sign_in_with_email", ("ada\udfff@example.com", "secret-1")),
    ],
)
def test_a_lone_surrogate_in_any_argument_is_an_argument_error(
    name: str, args: tuple[str, ...]
) -> None:
    with pytest.raises(agnost.InvalidArgumentError, match="not valid Unicode"):
        BY_NAME[name].build(*args)


def test_get_auth_grant_checks_before_percent_encoding() -> None:
    assert get_auth_grant("tök").query == (("key", "tök"),)


# --- models built by hand --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "fields", "message"),
    [
        (agnost.Session, {"user_id": "u", "token": 5}, "Session.token must be a str, not int"),
        (agnost.Session, {"user_id": None, "token": "t"}, "Session.user_id must be a str"),
        (agnost.Session, {"user_id": "u", "token": "t", "access_group_keys": ["a"]}, "tuple"),
        (agnost.Session, {"user_id": "u", "token": "t", "access_group_keys": ("a", 1)}, "tuple"),
        (agnost.Session, {"user_id": "u", "token": "t", "extra": []}, "Session.extra"),
        (agnost.Session, {"user_id": "u", "token": "t", "user_agent": {}}, "UserAgent or None"),
        (agnost.User, {"id": "u", "email_verified": 1}, "User.email_verified must be a bool"),
        (agnost.User, {"id": "u", "sign_up_at": "2022-03-17"}, "User.sign_up_at"),
        (agnost.AuthGrant, {"user": None, "session": None}, "AuthGrant.user"),
        (agnost.Device, {"family": 1}, "Device.family"),
    ],
)
def test_a_model_with_a_wrong_field_names_it(
    cls: type, fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(agnost.InvalidArgumentTypeError, match=message.replace(".", r"\.")):
        cls(**fields)


def test_a_naive_datetime_is_refused_with_the_field_name() -> None:
    with pytest.raises(agnost.InvalidArgumentError, match=r"Session\.creation_dtm .*naive"):
        agnost.Session(user_id="u", token="t", creation_dtm=datetime(2022, 3, 17))


def test_models_from_the_wire_equal_models_built_by_hand() -> None:
    session = agnost.from_wire(agnost.Session, samples.SESSION)

    assert session == agnost.Session(
        user_id=samples.SESSION["userId"],
        token=samples.SESSION["token"],
        creation_dtm=datetime(2022, 3, 17, 13, 17, 50, 903000, tzinfo=timezone.utc),
        user_agent=session.user_agent,
        access_group_keys=(),
    )
    assert local.set_session(session) == local.Store({"session": samples.SESSION})


# --- redirects -----------------------------------------------------------------------------


def test_a_redirect_error_shows_no_user_information() -> None:
    error = redirect_error(
        answer(302, b"", Location="https://ada:hunter2@login.example.com:8443/x?access_token=t")
    )

    assert isinstance(error, errors.RedirectError)
    assert error.location_origin == "https://login.example.com:8443"
    assert "hunter2" not in str(error) + repr(error) and "ada" not in str(error)


@pytest.mark.parametrize("location", ["", "https://elsewhere.example.com/"])
def test_a_304_is_not_a_redirect(location: str) -> None:
    op = BY_NAME["get_user_from_db"]
    headers = {"Location": location} if location else {}

    with pytest.raises(errors.ResponseDecodeError) as info:
        handle(op, op.build(), answer(304, b"", "Not Modified", **headers), sent_token="t")

    assert type(info.value) is errors.ResponseDecodeError
    assert "304 Not Modified" in str(info.value)
    assert "redirect" not in str(info.value)


@pytest.mark.parametrize("status", [300, 302, 305, 399])
def test_a_3xx_without_location_is_not_a_redirect_to_anywhere(status: int) -> None:
    error = redirect_error(answer(status, b""))

    assert type(error) is errors.ResponseDecodeError
    assert "without a Location" in str(error) and "same origin" not in str(error)
