"""Answers are parsed into results, local changes or typed errors (protocol.md §3, §5, §6)."""

from __future__ import annotations

import json
import pickle
from typing import Any

import pytest

import agnost
from agnost._core import local, operations
from agnost._core.http import Response
from agnost._core.operations import BY_NAME, handle
from tests.samples import ERROR_CLASSES, SESSION, USER


def answer(status: int, body: Any = b"", reason: str = "OK", **headers: str) -> Response:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Response(status, reason, headers, raw)


def run(name: str, response: Response, *args: Any, sent: str | None = "tok-current") -> Any:
    op = BY_NAME[name]
    return handle(op, op.build(*args), response, sent_token=sent)


# --- success ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["sign_in_with_email", "sign_in_with_phone"])
def test_sign_in_returns_the_grant_and_establishes_it(name: str) -> None:
    outcome = run(name, answer(200, {"user": USER, "session": SESSION}), "a", "b", sent=None)
    assert isinstance(outcome.value, agnost.AuthGrant)
    assert outcome.value.session.token == "tok-current"
    assert outcome.value.user.extra == {"plan": {"tier": "pro"}}
    # The store gets the objects exactly as sent, custom fields and all.
    assert outcome.change == local.Store({"session": SESSION, "user": USER})
    assert outcome.change.token == "tok-current"


def test_sign_up_with_a_session_establishes_it() -> None:
    outcome = run("sign_up_with_email", answer(200, {"user": USER, "session": SESSION}), "a", "b")
    assert outcome.value == agnost.SignUpResult(
        user=agnost.from_wire(agnost.User, USER), session=agnost.from_wire(agnost.Session, SESSION)
    )
    assert isinstance(outcome.change, local.Store)


def test_sign_up_awaiting_confirmation_changes_nothing_locally() -> None:
    outcome = run("sign_up_with_phone", answer(200, {"user": USER, "session": None}), "+1", "pw")
    assert outcome.value.session is None
    assert outcome.change is None


def test_get_auth_grant_establishes() -> None:
    outcome = run("get_auth_grant", answer(200, {"user": USER, "session": SESSION}), "at")
    assert outcome.change == local.Store({"session": SESSION, "user": USER})


def test_sessions_and_user_change_nothing_locally() -> None:
    sessions = run("get_all_sessions", answer(200, [SESSION, {**SESSION, "token": "t2"}]))
    assert [s.token for s in sessions.value] == ["tok-current", "t2"]
    assert sessions.change is None
    user = run("get_user_from_db", answer(200, USER))
    assert user.value.email == "john@myemail.com" and user.change is None


# Signing out clears only the session that was signed out ("tok-current" was sent).
SIGNED_OUT = local.Clear(stop_sending=True, if_token="tok-current")


@pytest.mark.parametrize("body", [b"", b"OK", b"<html>ok</html>", b"{}"])
@pytest.mark.parametrize(
    ("name", "args", "change"),
    [
        ("sign_out", (), SIGNED_OUT),
        ("sign_out", ("tok-current",), SIGNED_OUT),
        ("sign_out", ("someone-else",), None),
        ("sign_out_all", (), SIGNED_OUT),
        ("sign_out_all_except_current", (), None),
    ],
)
def test_empty_answers_are_success_with_the_documented_local_effect(
    name: str, args: tuple[str, ...], change: Any, body: bytes
) -> None:
    outcome = run(name, answer(200, body), *args)
    assert outcome.value is None
    assert outcome.change == change


# --- error answers ------------------------------------------------------------------------

ITEM = {"origin": "client_error", "code": "invalid_credentials", "message": "m", "details": {}}
VALIDATION = {
    "error": "Bad field",
    "details": {"field": "email"},
    "code": "validation_error",
    "fields": ["email"],
}


@pytest.mark.parametrize(
    ("body", "codes"),
    [
        ({"errors": [ITEM, {**ITEM, "code": "other"}]}, ["invalid_credentials", "other"]),
        ({"errors": ITEM}, ["invalid_credentials"]),
        ([ITEM], ["invalid_credentials"]),
        (VALIDATION, ["validation_error"]),
    ],
    ids=["errors-array", "errors-object", "bare-array", "object-without-errors"],
)
def test_every_error_body_shape_becomes_items(body: Any, codes: list[str]) -> None:
    with pytest.raises(agnost.APIError) as info:
        run("sign_in_with_email", answer(401, body, reason="Unauthorized"), "a", "b")
    assert [item.code for item in info.value.items] == codes
    assert info.value.status == 401 and info.value.status_text == "Unauthorized"


def test_extra_keys_of_an_item_are_kept() -> None:
    with pytest.raises(agnost.ValidationError) as info:
        run("sign_up_with_email", answer(400, VALIDATION, reason="Bad Request"), "a", "b")
    item = info.value.items[0]
    assert item.details == {"field": "email"}
    assert item.extra == {"error": "Bad field", "fields": ["email"]}
    assert item.to_wire() == {"origin": None, "message": None, **VALIDATION}


def test_a_missing_reason_phrase_reads_bad_request() -> None:
    with pytest.raises(agnost.APIError) as info:
        run("get_user_from_db", answer(404, {"errors": [ITEM]}, reason=""))
    assert info.value.status_text == "Bad Request"


@pytest.mark.parametrize(("code", "status", "cls"), ERROR_CLASSES)
def test_the_exception_class_is_chosen_by_code(
    code: str, status: int, cls: type[agnost.APIError]
) -> None:
    with pytest.raises(agnost.APIError) as info:
        run("get_user_from_db", answer(status, {"errors": [{**ITEM, "code": code}]}))
    assert type(info.value) is cls


def test_session_token_errors_are_recognised_in_both_body_shapes() -> None:
    item = {**ITEM, "code": "invalid_session_token"}
    for body in ({"errors": [item]}, {"errors": item}):
        with pytest.raises(agnost.SessionTokenError):
            run("get_all_sessions", answer(401, body))


# --- bad answers --------------------------------------------------------------------------

BAD_ANSWERS = [
    ("html-502", "get_all_sessions", answer(502, b"<html><h1>Bad Gateway</h1></html>")),
    ("empty-500", "get_all_sessions", answer(500, b"")),
    ("non-json-200", "get_all_sessions", answer(200, b"<html>hello</html>")),
    ("truncated-json", "sign_in_with_email", answer(200, b'{"user": {"_id": "x"}, "sess')),
    ("invalid-utf8", "get_user_from_db", answer(200, b'{"_id": "\xff\xfe"}')),
    ("sessions-not-a-list", "get_all_sessions", answer(200, {"sessions": []})),
    ("session-without-token", "get_all_sessions", answer(200, [{"userId": "u"}])),
    ("user-id-a-number", "get_user_from_db", answer(200, {"_id": 12})),
    ("grant-without-session", "sign_in_with_email", answer(200, {"user": USER})),
    ("grant-is-a-string", "get_auth_grant", answer(200, "ok")),
    ("bad-timestamp", "get_user_from_db", answer(200, {**USER, "signUpAt": "yesterday"})),
    ("redirect", "get_all_sessions", answer(302, b"", Location="https://evil.test/x?t=1")),
]


@pytest.mark.parametrize(
    ("name", "response"), [c[1:] for c in BAD_ANSWERS], ids=[c[0] for c in BAD_ANSWERS]
)
def test_bad_answers_raise_a_decode_error_with_status_and_excerpt(
    name: str, response: Response
) -> None:
    args = {"sign_in_with_email": ("a", "b"), "get_auth_grant": ("at",)}.get(name, ())
    with pytest.raises(agnost.ResponseDecodeError) as info:
        run(name, response, *args)
    assert info.value.status == response.status
    assert len(info.value.excerpt) <= 200
    assert "\n" not in info.value.excerpt


def test_a_redirect_names_only_the_target_origin() -> None:
    with pytest.raises(agnost.ResponseDecodeError) as info:
        run("get_all_sessions", answer(307, b"", Location="https://evil.test/cb?access_token=s3"))
    assert "https://evil.test" in str(info.value) and "s3" not in str(info.value)


def test_excerpts_redact_tokens_and_control_characters() -> None:
    body = b'\x1b[31m{"token": "abc", "sessionToken": "def", "x": "tok-current"}' + b"z" * 500
    with pytest.raises(agnost.ResponseDecodeError) as info:
        run("get_all_sessions", answer(200, body))
    text = str(info.value)
    assert "abc" not in text and "def" not in text and "tok-current" not in text
    assert "\x1b" not in text and len(info.value.excerpt) == 200


def test_error_messages_that_echo_the_token_are_redacted() -> None:
    body = {"errors": [{**ITEM, "code": "invalid_session_token", "message": "bad tok-current"}]}
    with pytest.raises(agnost.InvalidSessionTokenError) as info:
        run("get_all_sessions", answer(401, body))
    assert "tok-current" not in str(info.value)
    assert "tok-current" not in repr(info.value.items)


# --- invalidation rules -------------------------------------------------------------------


def _token_error(status: int) -> agnost.SessionTokenError:
    item = agnost.ErrorItem(code="invalid_session_token")
    return agnost.InvalidSessionTokenError(status, "x", [item])


@pytest.mark.parametrize(
    ("status", "sent", "target", "invalidates"),
    [
        (401, "mine", None, True),
        (401, "mine", "mine", True),
        (403, "mine", "theirs", False),  # signing out another user's session
        (404, "mine", "theirs", False),  # an unknown or malformed token
        (401, "mine", "theirs", True),  # our own session was refused
        (401, None, None, False),  # nothing was sent, nothing to invalidate
    ],
)
def test_only_the_session_the_request_carried_is_invalidated(
    status: int, sent: str | None, target: str | None, invalidates: bool
) -> None:
    change = local.invalidation_after(_token_error(status), sent_token=sent, target_token=target)
    if invalidates:
        assert change == local.Clear(stop_sending=True, notify=True, if_token=sent)
    else:
        assert change is None


def test_local_methods_produce_the_documented_changes() -> None:
    session = agnost.from_wire(agnost.Session, SESSION)
    user = agnost.from_wire(agnost.User, USER)
    assert local.set_session(session) == local.Store({"session": SESSION})
    assert local.set_session(session).token == "tok-current"
    assert local.set_user(user) == local.Store({"user": USER})
    assert local.set_user(user).token is None
    assert local.clear_local_data() == local.Clear(stop_sending=False)
    assert local.invalidate_session() == local.Clear(stop_sending=True, notify=True)
    with pytest.raises(agnost.InvalidArgumentTypeError):
        local.set_session(SESSION)  # type: ignore[arg-type]


def test_operations_table_matches_protocol_effects() -> None:
    effects = {op.name: op.effect for op in operations.OPERATIONS}
    assert effects == {
        "sign_up_with_email": operations.Effect.ESTABLISH,
        "sign_up_with_phone": operations.Effect.ESTABLISH,
        "sign_in_with_email": operations.Effect.ESTABLISH,
        "sign_in_with_phone": operations.Effect.ESTABLISH,
        "sign_out": operations.Effect.SIGN_OUT,
        "sign_out_all": operations.Effect.CLEAR,
        "sign_out_all_except_current": operations.Effect.NONE,
        "get_all_sessions": operations.Effect.NONE,
        "get_user_from_db": operations.Effect.NONE,
        "get_auth_grant": operations.Effect.ESTABLISH,
        "sign_in_with_code": operations.Effect.ESTABLISH,
        "change_password": operations.Effect.NONE,
        "change_email": operations.Effect.NONE,
        "change_phone": operations.Effect.NONE,
        "verify_phone": operations.Effect.ESTABLISH,
        "resend_verification_email": operations.Effect.NONE,
        "resend_verification_code": operations.Effect.NONE,
        "send_magic_link_email": operations.Effect.NONE,
        "send_reset_pwd_email": operations.Effect.NONE,
        "send_reset_pwd_code": operations.Effect.NONE,
        "send_sign_in_code": operations.Effect.NONE,
        "reset_pwd_with_token": operations.Effect.NONE,
        "reset_pwd_with_code": operations.Effect.NONE,
    }


@pytest.mark.parametrize(
    "error",
    [
        agnost.InvalidSessionTokenError(401, "Unauthorized", [agnost.ErrorItem(code="x")]),
        agnost.InvalidArgumentError("missing_required_value", "client_key is required"),
        agnost.ResponseDecodeError("answer is not valid JSON", status=502, excerpt="<html>"),
        agnost.ResponseTooLargeError(1024),
        agnost.CorruptStorageError("unreadable session file", path="/tmp/s.json"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_errors_survive_pickling_for_multiprocessing(error: agnost.AgnostError) -> None:
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error) and str(copy) == str(error)
    assert copy.__dict__ == error.__dict__


def test_public_classes_are_shown_under_their_public_path() -> None:
    assert repr(agnost.InvalidSessionTokenError) == "<class 'agnost.InvalidSessionTokenError'>"
    assert agnost.Session.__module__ == "agnost"


def test_every_public_error_class_is_exported_from_both_packages() -> None:
    import agnost_async
    from agnost._core import errors

    for name in errors.__all__:
        value = getattr(errors, name)
        if isinstance(value, type) and issubclass(value, Exception):
            assert getattr(agnost, name) is value, name
            assert getattr(agnost_async, name) is value, name


def test_a_session_token_that_cannot_be_a_header_is_a_bad_answer() -> None:
    body = {"user": USER, "session": {**SESSION, "token": "line\nbreak"}}
    with pytest.raises(agnost.ResponseDecodeError, match="not a valid header value"):
        run("sign_in_with_email", answer(200, body), "a", "b", sent=None)
