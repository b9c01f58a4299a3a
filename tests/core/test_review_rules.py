"""Regression rules of the review, for the sans-IO core alone: no token or password in a repr,
the error item that chooses the class, sign-out clearing only its own session, header-safe
keys and tokens, arguments JSON cannot carry, redirects and redaction."""

from __future__ import annotations

import json
from typing import Any

import pytest

import agnost
from agnost._base import Settled
from agnost._core import errors, local, operations
from agnost._core import http as core_http
from agnost._core.http import (
    ClientConfig,
    Request,
    Response,
    Secrets,
    error_from_response,
    excerpt,
    redirect_error,
)
from agnost._core.operations import BY_NAME, handle

TOKEN = "CANARY-SESSION-TOKEN-0123456789"
OTHER = "CANARY-OTHER-TOKEN-9876543210"
PASSWORD = "CANARY-PASSWORD-hunter2"
ACCESS = "CANARY-ACCESS-TOKEN-abcdef"
API_KEY = "CANARY-API-KEY-42"

SESSION = {"userId": "u1", "token": TOKEN, "creationDtm": "2022-03-17T13:17:50.903Z"}
USER = {"_id": "u1", "email": "ada@example.com"}


def answer(status: int, body: Any = b"", reason: str = "OK", **headers: str) -> Response:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Response(status, reason, headers, raw)


def items_body(*codes: str) -> dict[str, Any]:
    return {"errors": [{"origin": "client_error", "code": c, "message": c} for c in codes]}


# --- no token in a repr ----------------------------------------------------------------------


def test_a_store_change_repr_never_shows_the_token() -> None:
    change = local.Store({"session": SESSION, "user": USER})

    assert TOKEN not in repr(change)
    assert TOKEN not in str(change)
    assert change.token == TOKEN


def test_a_clear_change_repr_never_shows_the_token_it_is_about() -> None:
    change = local.Clear(stop_sending=True, notify=True, if_token=TOKEN)

    assert TOKEN not in repr(change)
    assert change.if_token == TOKEN


def test_a_settled_call_repr_never_shows_a_token() -> None:
    op = BY_NAME["sign_in_with_email"]
    endpoint = op.build("ada@example.com", PASSWORD)
    outcome = handle(
        op, endpoint, answer(200, {"user": USER, "session": SESSION}), sent_token=OTHER
    )
    settled = Settled(value=outcome.value, change=outcome.change)
    failed = Settled(
        value=None,
        change=local.Clear(stop_sending=True, notify=True, if_token=TOKEN),
        error=errors.InvalidSessionTokenError(401, "Unauthorized", ()),
    )

    for text in (repr(outcome), repr(settled), repr(failed)):
        assert TOKEN not in text
        assert OTHER not in text
        assert PASSWORD not in text


def test_a_request_repr_never_shows_its_body_or_query() -> None:
    config = ClientConfig.create("http://127.0.0.1:1/e:1", "ck", None)
    for endpoint in (
        operations.sign_in_with_email("ada@example.com", PASSWORD),
        operations.sign_out(TOKEN),
        operations.get_auth_grant(ACCESS),
    ):
        request = Request(
            method=endpoint.method,
            url=config.url(endpoint.path, endpoint.query),
            headers=config.headers(TOKEN, json_body=endpoint.body is not None),
            body=endpoint.body,
        )
        for text in (repr(request), repr(endpoint)):
            assert PASSWORD not in text
            assert TOKEN not in text
            assert ACCESS not in text


# --- error items -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("codes", "kind", "code"),
    [
        (
            ("validation_error", "missing_session_token"),
            errors.MissingSessionTokenError,
            "missing_session_token",
        ),
        (
            ("some_new_code", "invalid_session_token"),
            errors.InvalidSessionTokenError,
            "invalid_session_token",
        ),
        (("some_new_code", "validation_error"), errors.ValidationError, "validation_error"),
        (("some_new_code", "other_code"), errors.APIError, "some_new_code"),
    ],
)
def test_the_session_token_code_chooses_the_class_wherever_it_stands(
    codes: tuple[str, ...], kind: type[errors.APIError], code: str
) -> None:
    error = error_from_response(answer(401, items_body(*codes), "Unauthorized"))

    assert type(error) is kind
    assert error.code == code
    assert f"[{code}]" in str(error)
    assert [item.code for item in error.items] == list(codes)


def test_an_invalidation_follows_a_session_token_code_in_any_item() -> None:
    error = error_from_response(
        answer(401, items_body("validation_error", "invalid_session_token"))
    )

    change = local.invalidation_after(error, sent_token=TOKEN, target_token=None)

    assert change == local.Clear(stop_sending=True, notify=True, if_token=TOKEN)


def test_no_invalidation_without_a_session_token_code() -> None:
    error = error_from_response(answer(401, items_body("validation_error", "other")))

    assert local.invalidation_after(error, sent_token=TOKEN, target_token=None) is None


# --- sign-out clears only its own session ----------------------------------------------------


@pytest.mark.parametrize(
    ("name", "args"), [("sign_out", ()), ("sign_out", (TOKEN,)), ("sign_out_all", ())]
)
def test_sign_out_clears_only_the_session_it_signed_out(name: str, args: tuple[str, ...]) -> None:
    op = BY_NAME[name]

    outcome = handle(op, op.build(*args), answer(200), sent_token=TOKEN)

    assert outcome.change == local.Clear(stop_sending=True, if_token=TOKEN)


def test_signing_out_another_session_changes_nothing_locally() -> None:
    op = BY_NAME["sign_out"]

    outcome = handle(op, op.build(OTHER), answer(200), sent_token=TOKEN)

    assert outcome.change is None


# --- header safety ---------------------------------------------------------------------------

UNSAFE = ["a\nb", "a\r\nX-Injected: 1", "two words", "é", "ключ", "a\x00", "a\tb", ""]


@pytest.mark.parametrize("value", UNSAFE)
def test_header_safe_refuses_what_a_header_cannot_carry(value: str) -> None:
    assert not core_http.header_safe(value)


@pytest.mark.parametrize("value", ["ck", "tok-current", "a.b_c~d+e/f=", "!#$%&'*^`|"])
def test_header_safe_accepts_printable_ascii(value: str) -> None:
    assert core_http.header_safe(value)


@pytest.mark.parametrize("value", [v for v in UNSAFE if v.strip()])
def test_keys_must_be_header_safe(value: str) -> None:
    with pytest.raises(errors.InvalidArgumentError):
        ClientConfig.create("http://127.0.0.1:1", value, None)
    with pytest.raises(errors.InvalidArgumentError):
        ClientConfig.create("http://127.0.0.1:1", "ck", value)


@pytest.mark.parametrize("value", UNSAFE[:-1])
def test_a_stored_token_that_is_not_header_safe_is_no_token(value: str) -> None:
    state = local.StoredAuth(session={"userId": "u1", "token": value}, user=None)

    assert state.token is None
    assert local.Store({"session": {"userId": "u1", "token": value}}).token is None


@pytest.mark.parametrize("value", UNSAFE[:-1])
def test_set_session_refuses_a_token_that_is_not_header_safe(value: str) -> None:
    with pytest.raises(errors.InvalidArgumentError) as info:
        local.set_session(agnost.Session(user_id="u1", token=value))

    assert value not in str(info.value)


# --- arguments JSON cannot carry -------------------------------------------------------------


@pytest.mark.parametrize(
    "build",
    [
        lambda: operations.sign_up_with_email("a@b.co", "pw", {"x": float("nan")}),
        lambda: operations.sign_up_with_phone("+1555", "pw", {"x": {"y": [float("inf")]}}),
        lambda: operations.sign_up_with_email("a@b.co", "pw", {"x": "\ud800"}),
        lambda: operations.sign_up_with_email("a@b.co", "pw", "name\udfff"),
        lambda: operations.sign_in_with_email("a@b.co", "\ud800"),
        lambda: operations.sign_in_with_phone("+1\ud800", "pw"),
        lambda: operations.sign_out("tok\ud800"),
    ],
)
def test_nan_and_lone_surrogates_are_invalid_arguments(build: Any) -> None:
    with pytest.raises(errors.InvalidArgumentError):
        build()


def test_an_unserialisable_value_is_an_argument_type_error() -> None:
    with pytest.raises(errors.InvalidArgumentTypeError):
        operations.sign_up_with_email("a@b.co", "pw", {"x": object()})


# --- redirects -------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_a_redirect_error_with_only_the_origin(status: int) -> None:
    location = f"https://login.example.com:8443/path/x?access_token={ACCESS}#frag"
    op = BY_NAME["get_all_sessions"]

    with pytest.raises(errors.RedirectError) as info:
        handle(op, op.build(), answer(status, Location=location), sent_token=TOKEN)

    error = info.value
    assert isinstance(error, errors.ResponseDecodeError)
    assert error.status == status
    assert error.location_origin == "https://login.example.com:8443"
    assert ACCESS not in str(error)
    assert "/path/x" not in str(error)


def test_a_redirect_without_location_is_an_unusable_answer_not_a_redirect() -> None:
    error = redirect_error(answer(302))

    assert type(error) is errors.ResponseDecodeError
    assert "without a Location" in str(error)


def test_a_relative_redirect_names_the_same_origin() -> None:
    error = redirect_error(answer(302, Location="/login?access_token=x"))

    assert isinstance(error, errors.RedirectError)
    assert error.location_origin == "the same origin"


def test_the_redirect_error_is_public() -> None:
    assert agnost.RedirectError is errors.RedirectError


# --- redaction -------------------------------------------------------------------------------


def _texts(error: BaseException) -> str:
    """The text an error shows people; its items' data stay exact (not part of this)."""
    parts = [str(error), repr(error), repr(error.args)]
    for item in getattr(error, "items", ()):
        parts.append(repr(item))
    parts.append(getattr(error, "excerpt", "") or "")
    return "\n".join(parts)


def test_secrets_are_redacted_from_the_text_and_kept_exact_in_the_items() -> None:
    item = {
        "code": "invalid_api_key",
        "message": f"bad key {API_KEY}",
        "details": {"key": API_KEY, "list": [API_KEY, {"deep": f"x{API_KEY}x"}]},
        "specifics": API_KEY,
    }
    error = error_from_response(answer(401, {"errors": [item]}), Secrets(tokens=[API_KEY]))

    assert isinstance(error, errors.APIKeyError)
    assert API_KEY not in _texts(error)
    assert error.items[0].to_wire() == {"origin": None, **item}


@pytest.mark.parametrize(
    ("name", "args", "secret"),
    [
        ("sign_in_with_email", ("a@b.co", PASSWORD), PASSWORD),
        ("sign_up_with_phone", ("+1555", PASSWORD), PASSWORD),
        ("get_auth_grant", (ACCESS,), ACCESS),
        ("get_auth_grant", (f"https://app.example.com/cb?access_token={ACCESS}",), ACCESS),
    ],
)
@pytest.mark.parametrize("as_json", [True, False])
def test_the_calls_own_secrets_are_redacted(
    name: str, args: tuple[str, ...], secret: str, as_json: bool
) -> None:
    op = BY_NAME[name]
    if as_json:
        item = {"code": "validation_error", "message": f"echo {secret}", "details": [secret]}
        body: Any = {"errors": [item]}
    else:
        body = f"<html>echo {secret} and {json.dumps({'password': secret})}</html>".encode()

    with pytest.raises(agnost.AgnostError) as info:
        handle(op, op.build(*args), answer(400, body, "Bad Request"), sent_token=None)

    assert secret not in _texts(info.value)


def test_an_api_key_given_to_handle_is_redacted_from_an_excerpt() -> None:
    op = BY_NAME["get_all_sessions"]

    with pytest.raises(errors.ResponseDecodeError) as info:
        handle(
            op,
            op.build(),
            answer(502, f"<h1>{API_KEY}</h1>".encode()),
            sent_token=None,
            secrets=(API_KEY,),
        )

    assert API_KEY not in _texts(info.value)


@pytest.mark.parametrize("field", ["password", "accessToken", "access_token", "token", "key"])
def test_an_excerpt_hides_secret_json_fields(field: str) -> None:
    body = json.dumps({field: "CANARY-FIELD-VALUE", "other": 1}).encode()

    text = excerpt(answer(500, b"<pre>" + body + b"</pre>"))

    assert "CANARY-FIELD-VALUE" not in text
