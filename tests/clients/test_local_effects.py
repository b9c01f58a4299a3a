"""What each call changes locally (protocol.md §3): the stored session and user, and the
``Session`` header of the next request."""

from __future__ import annotations

import agnost

from ._support import (
    CURRENT_TOKEN,
    NEW_TOKEN,
    OTHER_TOKEN,
    Flavour,
    RecordingServer,
    Reply,
    grant_wire,
    json_reply,
    next_session_header,
    session_wire,
    signed_in,
    text_reply,
    user_wire,
)


def test_a_stored_session_is_restored_and_sent_from_the_first_request(
    flavour: Flavour, server: RecordingServer
) -> None:
    client = signed_in(flavour, server.env_url)

    assert next_session_header(flavour, server, client) == CURRENT_TOKEN


def test_sign_in_establishes_the_new_session_and_user(
    flavour: Flavour, server: RecordingServer
) -> None:
    client = signed_in(flavour, server.env_url)
    server.script(json_reply(grant_wire(NEW_TOKEN, name="Ada", _id="new-user")))

    grant = flavour.call(client, "sign_in_with_email", "ada@example.com", "pw")

    assert isinstance(grant, agnost.AuthGrant)
    assert grant.session.token == NEW_TOKEN
    assert server.last.header("Session") == CURRENT_TOKEN  # the call itself sent the old one
    assert flavour.call(client, "get_session") == grant.session
    assert flavour.call(client, "get_user") == grant.user
    assert flavour.call(client, "get_user").name == "Ada"
    assert next_session_header(flavour, server, client) == NEW_TOKEN


def test_sign_in_with_phone_establishes_the_new_session(
    flavour: Flavour, server: RecordingServer
) -> None:
    client = flavour.make(server.env_url)
    server.script(json_reply(grant_wire(NEW_TOKEN, phone="+15551234567")))

    grant = flavour.call(client, "sign_in_with_phone", "+15551234567", "pw")

    assert flavour.call(client, "get_session") == grant.session
    assert flavour.call(client, "get_user").phone == "+15551234567"
    assert next_session_header(flavour, server, client) == NEW_TOKEN


def test_the_store_keeps_the_session_and_user_exactly_as_the_server_sent_them(
    flavour: Flavour, server: RecordingServer
) -> None:
    store = agnost.MemoryStore()
    client = flavour.make(server.env_url, storage=store)
    answer = grant_wire(NEW_TOKEN, name="Zoë 東京 🚀", extra={"deep": [{"x": 1.5}]})
    server.script(json_reply(answer))

    flavour.call(client, "sign_in_with_email", "zoe@example.com", "pw")

    assert store.load().session == answer["session"]
    assert store.load().user == answer["user"]


def test_sign_up_with_a_session_establishes_it(flavour: Flavour, server: RecordingServer) -> None:
    client = flavour.make(server.env_url)
    server.script(json_reply(grant_wire(NEW_TOKEN)))

    result = flavour.call(client, "sign_up_with_phone", "+15551234567", "pw")

    assert isinstance(result, agnost.SignUpResult)
    assert flavour.call(client, "get_session") == result.session
    assert flavour.call(client, "get_user") == result.user
    assert next_session_header(flavour, server, client) == NEW_TOKEN


def test_sign_up_without_a_session_changes_nothing_locally(
    flavour: Flavour, server: RecordingServer
) -> None:
    client = flavour.make(server.env_url)
    server.script(json_reply({"user": user_wire(), "session": None}))

    result = flavour.call(client, "sign_up_with_email", "ada@example.com", "pw")

    assert result.session is None
    assert result.user.email == "john@myemail.com"
    assert flavour.call(client, "get_session") is None
    assert flavour.call(client, "get_user") is None
    assert next_session_header(flavour, server, client) is None


def test_sign_up_without_a_session_keeps_the_session_already_stored(
    flavour: Flavour, server: RecordingServer
) -> None:
    client = signed_in(flavour, server.env_url)
    server.script(json_reply({"user": user_wire(_id="someone-else"), "session": None}))

    flavour.call(client, "sign_up_with_email", "new@example.com", "pw")

    assert flavour.call(client, "get_session").token == CURRENT_TOKEN
    assert flavour.call(client, "get_user").id == "6233247fb46a9b5bb144e797"
    assert next_session_header(flavour, server, client) == CURRENT_TOKEN


def test_get_auth_grant_establishes_the_granted_session(
    flavour: Flavour, server: RecordingServer
) -> None:
    client = flavour.make(server.env_url)
    server.script(json_reply(grant_wire(NEW_TOKEN)))

    grant = flavour.call(client, "get_auth_grant", "https://app.example/cb?access_token=acc-1")

    assert server.last.query == "key=acc-1"
    assert flavour.call(client, "get_session") == grant.session
    assert next_session_header(flavour, server, client) == NEW_TOKEN


def test_sign_out_without_a_token_clears_the_local_session(
    flavour: Flavour, server: RecordingServer
) -> None:
    client = signed_in(flavour, server.env_url)

    assert flavour.call(client, "sign_out") is None

    assert server.last.header("Session") == CURRENT_TOKEN
    assert flavour.call(client, "get_session") is None
    assert flavour.call(client, "get_user") is None
    assert next_session_header(flavour, server, client) is None


def test_sign_out_of_the_own_token_clears_the_local_session(
    flavour: Flavour, server: RecordingServer
) -> None:
    client = signed_in(flavour, server.env_url)

    flavour.call(client, "sign_out", CURRENT_TOKEN)

    assert flavour.call(client, "get_session") is None
    assert next_session_header(flavour, server, client) is None


def test_sign_out_of_another_token_keeps_the_local_session(
    flavour: Flavour, server: RecordingServer
) -> None:
    client = signed_in(flavour, server.env_url)

    flavour.call(client, "sign_out", OTHER_TOKEN)

    assert flavour.call(client, "get_session").token == CURRENT_TOKEN
    assert flavour.call(client, "get_user") is not None
    assert next_session_header(flavour, server, client) == CURRENT_TOKEN


def test_sign_out_all_clears_the_local_session(flavour: Flavour, server: RecordingServer) -> None:
    client = signed_in(flavour, server.env_url)

    flavour.call(client, "sign_out_all")

    assert flavour.call(client, "get_session") is None
    assert flavour.call(client, "get_user") is None
    assert next_session_header(flavour, server, client) is None


def test_sign_out_all_except_current_keeps_the_local_session(
    flavour: Flavour, server: RecordingServer
) -> None:
    client = signed_in(flavour, server.env_url)

    flavour.call(client, "sign_out_all_except_current")

    assert flavour.call(client, "get_session").token == CURRENT_TOKEN
    assert next_session_header(flavour, server, client) == CURRENT_TOKEN


def test_an_empty_answer_that_is_not_json_is_success_for_empty_operations(
    flavour: Flavour, server: RecordingServer
) -> None:
    client = signed_in(flavour, server.env_url)
    server.script(text_reply("OK", content_type="text/plain"))

    assert flavour.call(client, "sign_out_all_except_current") is None
    assert flavour.call(client, "sign_out") is None
    assert flavour.call(client, "get_session") is None


def test_get_user_from_db_does_not_refresh_the_stored_user(
    flavour: Flavour, server: RecordingServer
) -> None:
    client = signed_in(flavour, server.env_url)
    server.script(json_reply(user_wire(name="Renamed")))

    fresh = flavour.call(client, "get_user_from_db")

    assert fresh.name == "Renamed"
    assert flavour.call(client, "get_user").name == "John"


def test_get_all_sessions_returns_sessions_and_changes_nothing(
    flavour: Flavour, server: RecordingServer
) -> None:
    client = signed_in(flavour, server.env_url)
    server.script(json_reply([session_wire(CURRENT_TOKEN), session_wire(OTHER_TOKEN)]))

    sessions = flavour.call(client, "get_all_sessions")

    assert [s.token for s in sessions] == [CURRENT_TOKEN, OTHER_TOKEN]
    assert all(isinstance(s, agnost.Session) for s in sessions)
    assert flavour.call(client, "get_session").token == CURRENT_TOKEN


# --- local-only methods ----------------------------------------------------------------------


def test_clear_local_data_empties_the_store_but_keeps_sending_the_token(
    flavour: Flavour, server: RecordingServer
) -> None:
    redirect = flavour.redirect_recorder()
    client = signed_in(flavour, server.env_url, sign_in_redirect=redirect)

    flavour.call(client, "clear_local_data")

    assert flavour.call(client, "get_session") is None
    assert flavour.call(client, "get_user") is None
    assert next_session_header(flavour, server, client) == CURRENT_TOKEN
    assert redirect.calls == []  # type: ignore[attr-defined]


def test_invalidate_session_stops_the_token_and_calls_the_redirect_once(
    flavour: Flavour, server: RecordingServer
) -> None:
    redirect = flavour.redirect_recorder()
    client = signed_in(flavour, server.env_url, sign_in_redirect=redirect)

    flavour.call(client, "invalidate_session")

    assert flavour.call(client, "get_session") is None
    assert flavour.call(client, "get_user") is None
    assert next_session_header(flavour, server, client) is None
    assert len(redirect.calls) == 1  # type: ignore[attr-defined]


def test_invalidate_session_without_a_redirect_callback_just_signs_out(
    flavour: Flavour, server: RecordingServer
) -> None:
    client = signed_in(flavour, server.env_url)

    flavour.call(client, "invalidate_session")

    assert next_session_header(flavour, server, client) is None


def test_set_session_stores_it_and_sends_its_token(
    flavour: Flavour, server: RecordingServer
) -> None:
    client = flavour.make(server.env_url)
    session = agnost.from_wire(agnost.Session, session_wire(NEW_TOKEN))

    flavour.call(client, "set_session", session)

    assert flavour.call(client, "get_session") == session
    assert flavour.call(client, "get_user") is None
    assert next_session_header(flavour, server, client) == NEW_TOKEN


def test_set_user_only_stores_the_user(flavour: Flavour, server: RecordingServer) -> None:
    client = signed_in(flavour, server.env_url)
    user = agnost.from_wire(agnost.User, user_wire(name="Other name"))

    flavour.call(client, "set_user", user)

    assert flavour.call(client, "get_user") == user
    assert flavour.call(client, "get_session").token == CURRENT_TOKEN
    assert next_session_header(flavour, server, client) == CURRENT_TOKEN
    assert server.requests and all(r.path.endswith("/sessions") for r in server.requests)


def test_set_user_when_signed_out_sends_no_session(
    flavour: Flavour, server: RecordingServer
) -> None:
    client = flavour.make(server.env_url)

    flavour.call(client, "set_user", agnost.from_wire(agnost.User, user_wire()))

    assert flavour.call(client, "get_session") is None
    assert next_session_header(flavour, server, client) is None


def test_local_methods_send_nothing(flavour: Flavour, server: RecordingServer) -> None:
    client = signed_in(flavour, server.env_url)
    session = agnost.from_wire(agnost.Session, session_wire(NEW_TOKEN))
    user = agnost.from_wire(agnost.User, user_wire())

    flavour.call(client, "get_session")
    flavour.call(client, "get_user")
    flavour.call(client, "set_session", session)
    flavour.call(client, "set_user", user)
    flavour.call(client, "clear_local_data")
    flavour.call(client, "invalidate_session")

    assert server.requests == []


def test_two_clients_never_share_a_session_unless_given_the_same_store(
    flavour: Flavour, server: RecordingServer
) -> None:
    first = flavour.make(server.env_url)
    second = flavour.make(server.env_url)
    server.script(json_reply(grant_wire(NEW_TOKEN)))

    flavour.call(first, "sign_in_with_email", "ada@example.com", "pw")

    assert flavour.call(second, "get_session") is None
    assert next_session_header(flavour, server, second) is None


def test_a_failed_call_changes_nothing_locally(flavour: Flavour, server: RecordingServer) -> None:
    client = signed_in(flavour, server.env_url)
    server.script(Reply(400, b'{"errors": [{"code": "validation_error"}]}'))

    for name in ("sign_out", "sign_out_all", "sign_out_all_except_current"):
        flavour.raises(agnost.ValidationError, client, name)

    assert flavour.call(client, "get_session").token == CURRENT_TOKEN
    assert next_session_header(flavour, server, client) == CURRENT_TOKEN
