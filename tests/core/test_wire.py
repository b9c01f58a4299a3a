"""Models round-trip through the wire form: renames, timestamps, custom fields, secrets."""

from __future__ import annotations

import copy
import pickle
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs
import pytest

import agnost
from tests.samples import SESSION, USER


def test_the_protocol_session_round_trips_exactly() -> None:
    session = agnost.from_wire(agnost.Session, SESSION)
    assert session.user_id == "6233247fb46a9b5bb144e797"
    assert session.creation_dtm == datetime(2022, 3, 17, 13, 17, 50, 903000, timezone.utc)
    assert session.user_agent is not None and session.user_agent.os is not None
    assert session.user_agent.os.family == "Mac OS X"
    assert agnost.to_wire(session) == SESSION


def test_custom_user_fields_survive_a_round_trip() -> None:
    wire = {**USER, "favourites": [{"id": 1, "tags": ["a", None]}], "score": 1.5, "nick": None}
    user = agnost.from_wire(agnost.User, wire)
    assert user.id == USER["_id"] and user.email_verified is True
    assert user.extra == {
        "plan": {"tier": "pro"},
        "favourites": [{"id": 1, "tags": ["a", None]}],
        "score": 1.5,
        "nick": None,
    }
    assert agnost.to_wire(user) == wire


def test_unknown_keys_inside_nested_objects_survive() -> None:
    wire = copy.deepcopy(SESSION)
    wire["userAgent"]["os"]["build"] = "22A380"
    wire["ip"] = "127.0.0.1"
    assert agnost.to_wire(agnost.from_wire(agnost.Session, wire)) == wire


def test_unicode_fields_round_trip() -> None:
    wire = {**USER, "name": "Zoë 山田 🚀", "bio": "ä\u0301\u200d"}
    assert agnost.to_wire(agnost.from_wire(agnost.User, wire)) == wire


def test_timestamps_are_aware_and_serialise_back_to_the_wire_form() -> None:
    user = agnost.from_wire(agnost.User, USER)
    assert user.sign_up_at is not None and user.sign_up_at.tzinfo is not None
    moved = attrs.evolve(
        user, last_login_at=datetime(2024, 1, 2, 4, 5, 6, 7000, timezone(timedelta(hours=2)))
    )
    assert agnost.to_wire(moved)["lastLoginAt"] == "2024-01-02T02:05:06.007Z"
    with pytest.raises(ValueError, match="naive"):
        agnost.to_wire(attrs.evolve(user, last_login_at=datetime(2024, 1, 2)))


def test_a_sign_up_result_keeps_a_null_session() -> None:
    result = agnost.from_wire(agnost.SignUpResult, {"user": USER, "session": None})
    assert result.session is None
    assert agnost.to_wire(result) == {"user": USER, "session": None}


def test_models_are_frozen_and_slotted() -> None:
    session = agnost.from_wire(agnost.Session, SESSION)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        session.token = "x"  # type: ignore[misc]
    assert not hasattr(session, "__dict__")


def test_the_token_is_hidden_from_repr_and_str() -> None:
    session = agnost.from_wire(agnost.Session, {**SESSION, "token": "CANARY-wire-1"})
    grant = agnost.AuthGrant(user=agnost.from_wire(agnost.User, USER), session=session)
    for text in (repr(session), str(session), repr(grant), str([grant])):
        assert "CANARY-wire-1" not in text
    assert pickle.loads(pickle.dumps(session)) == session


@pytest.mark.parametrize(
    "wire",
    [
        {"token": "t"},
        {"userId": "u", "token": 5},
        {"userId": "u", "token": "t", "accessGroupKeys": "k"},
        {"userId": "u", "token": "t", "creationDtm": "2022-03-17T13:17:50"},
        {"userId": "u", "token": "t", "userAgent": "Chrome"},
        ["u", "t"],
    ],
)
def test_wrong_shapes_are_refused_not_coerced(wire: Any) -> None:
    with pytest.raises(ValueError, match="not the wire form of a Session"):
        agnost.from_wire(agnost.Session, wire)


@pytest.mark.parametrize(
    ("wire", "back"),
    [
        ("2022-03-17T12:07:27.514Z", "2022-03-17T12:07:27.514Z"),
        ("2022-03-17T12:07:27.514123Z", "2022-03-17T12:07:27.514123Z"),  # no digits lost
        ("2022-03-17T14:07:27.514+02:00", "2022-03-17T12:07:27.514Z"),  # same instant, in UTC
        ("2022-03-17T12:07:27Z", "2022-03-17T12:07:27.000Z"),
        ("2022-03-17T12:07:27.5Z", "2022-03-17T12:07:27.500Z"),
    ],
)
def test_timestamps_keep_their_instant_and_precision(wire: str, back: str) -> None:
    user = agnost.from_wire(agnost.User, {"_id": "u", "signUpAt": wire})
    assert agnost.to_wire(user)["signUpAt"] == back


@pytest.mark.parametrize(
    "wire", ["2022-W11-4T12:00Z", "2022-03-17", "2022-03-17T12:07:27", "20220317T120727Z", " "]
)
def test_only_rfc3339_timestamps_with_a_zone_parse_on_every_python(wire: str) -> None:
    with pytest.raises(ValueError, match="not the wire form of a User"):
        agnost.from_wire(agnost.User, {"_id": "u", "signUpAt": wire})


def test_a_factory_default_is_fresh_for_each_object() -> None:
    from agnost._core.wire import _fast_structure_fn, converter

    @attrs.frozen
    class Thing:
        id: str
        tags: list[str] = attrs.field(factory=list)
        extra: dict[str, Any] = attrs.field(factory=dict)

    structure = _fast_structure_fn(converter, Thing)
    first, second = structure({"id": "a"}, Thing), structure({"id": "b"}, Thing)
    assert first.tags == [] and first.tags is not second.tags
    assert structure({"id": "c", "x": 1}, Thing).extra == {"x": 1}
