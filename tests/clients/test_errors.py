"""Error answers (protocol.md §5): every body shape, the class chosen by code, and session
invalidation on a session-token error, only for the session the request was sent with."""

from __future__ import annotations

import json

import pytest

import agnost
from tests.samples import ERROR_CLASSES

from ._support import (
    CURRENT_TOKEN,
    NEW_TOKEN,
    OTHER_TOKEN,
    Flavour,
    RecordingServer,
    Reply,
    json_reply,
    next_session_header,
    session_wire,
    signed_in,
    user_wire,
)

ITEM = {"origin": "client_error", "code": "validation_error", "message": "bad", "details": None}


# --- body shapes -----------------------------------------------------------------------------


def test_an_errors_array_becomes_the_items(flavour: Flavour, server: RecordingServer) -> None:
    second = {
        "origin": "server_error",
        "code": "other",
        "message": "m2",
        "details": {"field": "email", "n": [1, 2]},
        "name": "Extra",
        "specifics": {"a": 1},
    }
    server.script(json_reply({"errors": [ITEM, second]}, 400, reason="Bad Request"))
    client = flavour.make(server.env_url)

    error = flavour.raises(agnost.ValidationError, client, "sign_in_with_email", "a@b.co", "pw")

    assert error.status == 400
    assert error.status_text == "Bad Request"
    assert [item.code for item in error.items] == ["validation_error", "other"]
    assert error.items[0].origin == "client_error"
    assert error.items[0].message == "bad"
    assert error.items[0].details is None
    assert error.items[1].origin == "server_error"
    assert error.items[1].details == {"field": "email", "n": [1, 2]}
    assert error.items[1].extra == {"name": "Extra", "specifics": {"a": 1}}
    assert error.items[1].to_wire() == second
    assert error.code == "validation_error"


def test_a_single_errors_object_becomes_one_item(
    flavour: Flavour, server: RecordingServer
) -> None:
    item = {"origin": "client_error", "code": "invalid_credentials", "message": "no"}
    server.script(json_reply({"errors": item}, 401, reason="Unauthorized"))
    client = flavour.make(server.env_url)

    error = flavour.raises(
        agnost.InvalidCredentialsError, client, "sign_in_with_email", "a@b.co", "pw"
    )

    assert error.status == 401
    assert error.status_text == "Unauthorized"
    assert len(error.items) == 1
    assert error.items[0].code == "invalid_credentials"
    assert error.items[0].message == "no"


def test_a_bare_array_body_is_the_items(flavour: Flavour, server: RecordingServer) -> None:
    server.script(json_reply([ITEM, {**ITEM, "code": "second"}], 400))
    client = flavour.make(server.env_url)

    error = flavour.raises(agnost.ValidationError, client, "sign_in_with_email", "a@b.co", "pw")

    assert [item.code for item in error.items] == ["validation_error", "second"]


def test_an_object_without_errors_is_the_one_item(
    flavour: Flavour, server: RecordingServer
) -> None:
    body = {
        "error": "ValidationError",
        "details": "email must be an email",
        "code": "validation_error",
        "fields": [{"field": "email"}],
    }
    server.script(json_reply(body, 400))
    client = flavour.make(server.env_url)

    error = flavour.raises(agnost.ValidationError, client, "sign_up_with_email", "x", "pw")

    assert len(error.items) == 1
    assert error.items[0].code == "validation_error"
    assert error.items[0].details == "email must be an email"
    assert error.items[0].extra == {"error": "ValidationError", "fields": [{"field": "email"}]}


def test_a_missing_reason_phrase_reads_bad_request(
    flavour: Flavour, server: RecordingServer
) -> None:
    server.script(Reply(403, json.dumps({"errors": [ITEM]}).encode(), reason=""))
    client = flavour.make(server.env_url)

    error = flavour.raises(agnost.APIError, client, "get_user_from_db")

    assert error.status == 403
    assert error.status_text == "Bad Request"


def test_the_reason_phrase_is_kept_as_sent(flavour: Flavour, server: RecordingServer) -> None:
    server.script(Reply(418, json.dumps({"errors": [ITEM]}).encode(), reason="Not A Teapot Today"))
    client = flavour.make(server.env_url)

    error = flavour.raises(agnost.APIError, client, "get_user_from_db")

    assert error.status_text == "Not A Teapot Today"


def test_an_unknown_code_is_a_plain_api_error_or_a_server_error_by_status(
    flavour: Flavour, server: RecordingServer
) -> None:
    client = flavour.make(server.env_url)
    body = {"errors": [{"code": "something_new"}]}

    server.script(json_reply(body, 409))
    conflict = flavour.raises(agnost.APIError, client, "get_user_from_db")
    server.script(json_reply(body, 503))
    unavailable = flavour.raises(agnost.APIError, client, "get_user_from_db")

    assert type(conflict) is agnost.APIError
    assert type(unavailable) is agnost.ServerError


@pytest.mark.parametrize(
    ("code", "status", "kind"), ERROR_CLASSES, ids=[f"{c[0]}-{c[1]}" for c in ERROR_CLASSES]
)
def test_the_error_class_is_chosen_by_code(
    flavour: Flavour, server: RecordingServer, code: str, status: int, kind: type[Exception]
) -> None:
    server.script(json_reply({"errors": [{"origin": "client_error", "code": code}]}, status))
    client = flavour.make(server.env_url)

    error = flavour.raises(agnost.APIError, client, "get_auth_grant", "acc-1")

    assert type(error) is kind
    assert isinstance(error, agnost.AgnostError)
    assert error.status == status
    assert error.items[0].code == code


# --- session invalidation --------------------------------------------------------------------

SESSION_ERROR_BODIES = {
    "array": {"errors": [{"origin": "client_error", "code": "invalid_session_token"}]},
    "object": {"errors": {"origin": "client_error", "code": "invalid_session_token"}},
    "missing-array": {"errors": [{"origin": "client_error", "code": "missing_session_token"}]},
    "missing-object": {"errors": {"origin": "client_error", "code": "missing_session_token"}},
}


@pytest.mark.parametrize("shape", SESSION_ERROR_BODIES)
def test_a_session_token_error_invalidates_the_local_session_once(
    flavour: Flavour, server: RecordingServer, shape: str
) -> None:
    redirect = flavour.redirect_recorder()
    client = signed_in(flavour, server.env_url, sign_in_redirect=redirect)
    server.script(json_reply(SESSION_ERROR_BODIES[shape], 401))

    error = flavour.raises(agnost.SessionTokenError, client, "get_user_from_db")

    assert error.status == 401
    assert server.last.header("Session") == CURRENT_TOKEN
    assert flavour.call(client, "get_session") is None
    assert flavour.call(client, "get_user") is None
    assert len(redirect.calls) == 1  # type: ignore[attr-defined]
    # The next call goes out without the token; its refusal does not notify again.
    server.script(json_reply(SESSION_ERROR_BODIES["missing-array"], 401))
    flavour.raises(agnost.MissingSessionTokenError, client, "get_all_sessions")
    assert server.last.header("Session") is None
    assert len(redirect.calls) == 1  # type: ignore[attr-defined]


def test_the_async_client_awaits_a_coroutine_redirect_and_calls_a_plain_one(
    server: RecordingServer,
) -> None:
    with Flavour("async") as flavour:
        seen: list[str] = []

        async def coroutine_redirect() -> None:
            seen.append("coroutine")

        def plain_redirect() -> None:
            seen.append("plain")

        body = SESSION_ERROR_BODIES["array"]
        for redirect in (coroutine_redirect, plain_redirect):
            client = signed_in(flavour, server.env_url, sign_in_redirect=redirect)
            server.script(json_reply(body, 401))
            flavour.raises(agnost.InvalidSessionTokenError, client, "get_all_sessions")

        assert seen == ["coroutine", "plain"]


def test_a_session_token_error_without_a_session_invalidates_nothing(
    flavour: Flavour, server: RecordingServer
) -> None:
    redirect = flavour.redirect_recorder()
    client = flavour.make(server.env_url, sign_in_redirect=redirect)
    server.script(json_reply(SESSION_ERROR_BODIES["missing-array"], 401))

    flavour.raises(agnost.MissingSessionTokenError, client, "get_all_sessions")

    assert redirect.calls == []  # type: ignore[attr-defined]


@pytest.mark.parametrize("status", [403, 404])
def test_sign_out_of_another_token_refused_with_403_or_404_keeps_our_session(
    flavour: Flavour, server: RecordingServer, status: int
) -> None:
    redirect = flavour.redirect_recorder()
    client = signed_in(flavour, server.env_url, sign_in_redirect=redirect)
    server.script(json_reply(SESSION_ERROR_BODIES["array"], status))

    error = flavour.raises(agnost.InvalidSessionTokenError, client, "sign_out", OTHER_TOKEN)

    assert error.status == status
    assert flavour.call(client, "get_session").token == CURRENT_TOKEN
    assert redirect.calls == []  # type: ignore[attr-defined]
    assert next_session_header(flavour, server, client) == CURRENT_TOKEN


def test_sign_out_of_another_token_refused_with_401_invalidates_our_session(
    flavour: Flavour, server: RecordingServer
) -> None:
    redirect = flavour.redirect_recorder()
    client = signed_in(flavour, server.env_url, sign_in_redirect=redirect)
    server.script(json_reply(SESSION_ERROR_BODIES["object"], 401))

    flavour.raises(agnost.InvalidSessionTokenError, client, "sign_out", OTHER_TOKEN)

    assert flavour.call(client, "get_session") is None
    assert len(redirect.calls) == 1  # type: ignore[attr-defined]
    assert next_session_header(flavour, server, client) is None


@pytest.mark.parametrize("status", [401, 403, 404])
def test_sign_out_of_the_own_token_refused_invalidates_our_session(
    flavour: Flavour, server: RecordingServer, status: int
) -> None:
    redirect = flavour.redirect_recorder()
    client = signed_in(flavour, server.env_url, sign_in_redirect=redirect)
    server.script(json_reply(SESSION_ERROR_BODIES["array"], status))

    flavour.raises(agnost.InvalidSessionTokenError, client, "sign_out", CURRENT_TOKEN)

    assert flavour.call(client, "get_session") is None
    assert len(redirect.calls) == 1  # type: ignore[attr-defined]


def test_a_session_token_error_spares_a_session_stored_meanwhile(
    flavour: Flavour, server: RecordingServer
) -> None:
    # Another client (or process) sharing the store signs in while our request is refused.
    store = agnost.MemoryStore(session=session_wire(CURRENT_TOKEN), user=user_wire())
    redirect = flavour.redirect_recorder()
    client = flavour.make(server.env_url, storage=store, sign_in_redirect=redirect)
    assert flavour.call(client, "get_session").token == CURRENT_TOKEN
    store.save({"session": session_wire(NEW_TOKEN), "user": user_wire()})
    server.script(json_reply(SESSION_ERROR_BODIES["array"], 401))

    flavour.raises(agnost.InvalidSessionTokenError, client, "get_all_sessions")

    assert store.load().token == NEW_TOKEN
    assert server.last.header("Session") == CURRENT_TOKEN


def test_an_error_that_is_not_about_the_session_keeps_it(
    flavour: Flavour, server: RecordingServer
) -> None:
    redirect = flavour.redirect_recorder()
    client = signed_in(flavour, server.env_url, sign_in_redirect=redirect)
    for code, status in [("user_not_found", 404), ("invalid_credentials", 401)]:
        server.script(json_reply({"errors": [{"code": code}]}, status))
        flavour.raises(agnost.APIError, client, "get_user_from_db")

    assert flavour.call(client, "get_session").token == CURRENT_TOKEN
    assert redirect.calls == []  # type: ignore[attr-defined]
    assert next_session_header(flavour, server, client) == CURRENT_TOKEN
