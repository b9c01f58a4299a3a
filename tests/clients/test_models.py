"""Model round trips (protocol.md §4): wire JSON in, models out, and the same JSON back,
custom user fields and unicode included; timestamps are aware datetimes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

import agnost

from ._support import Flavour, RecordingServer, grant_wire, json_reply, session_wire, user_wire


def test_a_session_round_trips_exactly() -> None:
    wire = session_wire()

    session = agnost.from_wire(agnost.Session, wire)

    assert session.user_id == "6233247fb46a9b5bb144e797"
    assert session.token == "tok-current"
    assert session.access_group_keys == ()
    assert session.user_agent is not None
    assert session.user_agent.family == "Chrome"
    assert session.user_agent.device == agnost.Device("Other", "0", "0", "0")
    assert session.user_agent.os == agnost.OperatingSystem("Mac OS X", "10", "15", "7")
    assert agnost.to_wire(session) == wire


def test_a_user_round_trips_with_nested_custom_fields() -> None:
    wire = user_wire(
        phone="+15551234567",
        phoneVerified=False,
        profilePicture="https://cdn.example/p.png",
        address={"city": "Zürich", "geo": [47.37, 8.54], "tags": [{"a": None}]},
        score=2**70,
    )

    user = agnost.from_wire(agnost.User, wire)

    assert user.id == wire["_id"]
    assert user.provider_user_id == wire["providerUserId"]
    assert user.email_verified is True
    assert user.phone_verified is False
    assert user.profile_picture == "https://cdn.example/p.png"
    assert user.extra["plan"] == {"tier": "pro", "seats": 3, "tags": ["a", None]}
    assert user.extra["address"]["geo"] == [47.37, 8.54]
    assert user.extra["score"] == 2**70
    assert agnost.to_wire(user) == wire


def test_unicode_survives_a_round_trip() -> None:
    wire = user_wire(name="Zoë Ødegård 東京 🚀", bio="\u202eright-to-left\u202c", emoji="👩‍💻")

    user = agnost.from_wire(agnost.User, wire)

    assert user.name == "Zoë Ødegård 東京 🚀"
    assert agnost.to_wire(user) == wire


def test_timestamps_are_aware_datetimes_and_serialise_back_to_the_wire_form() -> None:
    user = agnost.from_wire(agnost.User, user_wire())
    session = agnost.from_wire(agnost.Session, session_wire())

    assert user.sign_up_at == datetime(2022, 3, 17, 12, 7, 27, 514000, tzinfo=timezone.utc)
    assert session.creation_dtm is not None
    assert session.creation_dtm.utcoffset() == timedelta(0)
    assert agnost.to_wire(user)["signUpAt"] == "2022-03-17T12:07:27.514Z"
    assert agnost.to_wire(session)["creationDtm"] == "2022-03-17T13:17:50.903Z"


def test_a_sign_up_result_with_a_null_session_round_trips() -> None:
    wire = {"user": user_wire(), "session": None}

    result = agnost.from_wire(agnost.SignUpResult, wire)

    assert result.session is None
    assert result.user.email == "john@myemail.com"
    assert agnost.to_wire(result) == wire


def test_an_auth_grant_round_trips() -> None:
    wire = grant_wire()

    grant = agnost.from_wire(agnost.AuthGrant, wire)

    assert grant.session.token == "tok-new"
    assert agnost.to_wire(grant) == wire


def test_models_are_frozen_and_compare_by_value() -> None:
    first = agnost.from_wire(agnost.User, user_wire())
    second = agnost.from_wire(agnost.User, user_wire())

    assert first == second
    with pytest.raises(AttributeError):
        first.name = "x"  # type: ignore[misc]


def test_what_a_client_returns_round_trips_to_what_the_server_sent(
    flavour: Flavour, server: RecordingServer
) -> None:
    answer = grant_wire(name="Zoë 🚀", plan={"tier": "pro", "seats": [1, {"x": None}]})
    server.script(json_reply(answer))
    client = flavour.make(server.env_url)

    grant = flavour.call(client, "sign_in_with_email", "zoe@example.com", "pw")

    assert agnost.to_wire(grant) == answer
    assert agnost.to_wire(flavour.call(client, "get_user")) == answer["user"]
    assert agnost.to_wire(flavour.call(client, "get_session")) == answer["session"]


def test_a_sign_up_with_a_null_session_returns_it_as_none(
    flavour: Flavour, server: RecordingServer
) -> None:
    server.script(json_reply({"user": user_wire(), "session": None}))
    client = flavour.make(server.env_url)

    result = flavour.call(client, "sign_up_with_email", "a@b.co", "pw")

    assert result == agnost.SignUpResult(agnost.from_wire(agnost.User, user_wire()), None)
