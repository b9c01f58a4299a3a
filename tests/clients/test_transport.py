"""Transport failures (reliability.md): a silent or slow server times out, a refused or reset
connection is a typed transport error, and nothing is retried."""

from __future__ import annotations

import pytest

import agnost

from ._support import (
    CURRENT_TOKEN,
    SHORT,
    Flavour,
    RecordingServer,
    Reply,
    closed_port_url,
    json_reply,
    session_wire,
    signed_in,
)


def test_a_server_that_never_answers_times_out(flavour: Flavour, server: RecordingServer) -> None:
    client = signed_in(flavour, server.env_url, timeout=SHORT)
    server.script(Reply(behaviour="hang"))

    error = flavour.raises(agnost.RequestTimeoutError, client, "get_all_sessions")

    assert isinstance(error, agnost.TransportError)
    assert isinstance(error, TimeoutError)
    assert flavour.call(client, "get_session").token == CURRENT_TOKEN


def test_a_post_that_is_never_answered_times_out_and_is_sent_once(
    flavour: Flavour, server: RecordingServer
) -> None:
    client = signed_in(flavour, server.env_url, timeout=SHORT)
    server.script(Reply(behaviour="hang"))

    flavour.raises(agnost.RequestTimeoutError, client, "sign_in_with_email", "a@b.co", "pw")

    assert len(server.requests) == 1


def test_a_number_is_a_total_timeout(flavour: Flavour, server: RecordingServer) -> None:
    client = signed_in(flavour, server.env_url, timeout=0.5)
    server.script(Reply(behaviour="hang"))

    flavour.raises(agnost.RequestTimeoutError, client, "get_user_from_db")


def test_a_body_that_trickles_past_the_total_timeout_times_out(
    flavour: Flavour, server: RecordingServer
) -> None:
    # A byte every 20 ms keeps each socket read alive; only the total deadline can stop it.
    # The server gives up after a few seconds, so a client that waits for it sees a cut body
    # (a different error) instead of hanging the test run.
    client = signed_in(flavour, server.env_url, timeout=SHORT)
    server.script(Reply(200, b"[" + b" " * 5000 + b"]", behaviour="trickle"))

    flavour.raises(agnost.RequestTimeoutError, client, "get_all_sessions")


def test_a_refused_connection_is_a_connect_error(flavour: Flavour) -> None:
    client = signed_in(flavour, closed_port_url(), timeout=SHORT)

    error = flavour.raises(agnost.ConnectError, client, "get_all_sessions")

    assert isinstance(error, agnost.TransportError)
    assert flavour.call(client, "get_session").token == CURRENT_TOKEN


def test_sign_out_that_never_reached_the_server_raises_and_keeps_the_session(
    flavour: Flavour,
) -> None:
    client = signed_in(flavour, closed_port_url(), timeout=SHORT)

    flavour.raises(agnost.ConnectError, client, "sign_out")

    assert flavour.call(client, "get_session").token == CURRENT_TOKEN


def test_a_connection_reset_mid_answer_is_a_connect_error(
    flavour: Flavour, server: RecordingServer
) -> None:
    client = signed_in(flavour, server.env_url, timeout=SHORT)
    server.script(Reply(200, b'[{"userId": "u', behaviour="reset"))

    flavour.raises(agnost.ConnectError, client, "get_all_sessions")

    assert len(server.requests) == 1
    assert flavour.call(client, "get_session").token == CURRENT_TOKEN


def test_a_body_cut_short_of_its_content_length_is_a_connect_error(
    flavour: Flavour, server: RecordingServer
) -> None:
    client = signed_in(flavour, server.env_url, timeout=SHORT)
    server.script(Reply(200, b'[{"userId": "u1", "tok', behaviour="truncate"))

    flavour.raises(agnost.ConnectError, client, "get_all_sessions")

    assert flavour.call(client, "get_session").token == CURRENT_TOKEN


@pytest.mark.parametrize("warm", [False, True], ids=["fresh-connection", "reused-connection"])
def test_a_post_reset_before_any_answer_is_not_retried(
    flavour: Flavour, server: RecordingServer, warm: bool
) -> None:
    client = signed_in(flavour, server.env_url, timeout=SHORT)
    if warm:  # a kept-alive connection is the one a client might be tempted to retry on
        server.script(json_reply([]))
        flavour.call(client, "get_all_sessions")
    server.requests.clear()
    server.script(Reply(behaviour="reset_before"))

    flavour.raises(agnost.ConnectError, client, "sign_out_all")

    assert len(server.requests) == 1
    assert flavour.call(client, "get_session").token == CURRENT_TOKEN


@pytest.mark.parametrize("method_name", ["sign_in_with_email", "sign_up_with_email"])
def test_a_failed_sign_in_or_sign_up_post_is_sent_exactly_once(
    flavour: Flavour, server: RecordingServer, method_name: str
) -> None:
    client = signed_in(flavour, server.env_url, timeout=SHORT)
    server.script(Reply(200, b'{"user": ', behaviour="reset"))

    flavour.raises(agnost.TransportError, client, method_name, "a@b.co", "pw")

    assert len(server.requests) == 1


def test_the_client_works_again_after_a_transport_error(
    flavour: Flavour, server: RecordingServer
) -> None:
    client = signed_in(flavour, server.env_url, timeout=SHORT)
    server.script(Reply(behaviour="reset_before"), json_reply([session_wire()]))

    flavour.raises(agnost.ConnectError, client, "sign_out_all_except_current")
    sessions = flavour.call(client, "get_all_sessions")

    assert [s.token for s in sessions] == [CURRENT_TOKEN]
