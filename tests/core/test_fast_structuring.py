"""The fast path that structures sessions in the server's usual shape gives what the general,
strict path gives, on every shape: the usual one, unknown and missing fields, wrong types,
odd timestamps, odd user agents; both through ``from_wire`` and through the parser of decoded
answers (``sessions_from_json``), whose shared user agents cannot be changed."""

from __future__ import annotations

import copy
import pickle
from collections.abc import Iterator
from types import MappingProxyType
from typing import Any

import pytest

import agnost
from agnost._core import wire
from tests.samples import SESSION

FAST = wire._HOOKS[agnost.Session]
STRICT = wire._STRICT[agnost.Session]


def FROM_JSON(data: Any, _: Any) -> agnost.Session:
    """An answer of one session, as the client parses it."""
    return wire.sessions_from_json([data])[0]


ODD_VALUES: list[Any] = [None, 0, 1, 1.5, True, False, "", "x", [], ["a"], {}, {"a": 1}, ("a",)]

TIMESTAMPS = [
    "2022-03-17T13:17:50.903Z",
    "2022-03-17T13:17:50.000Z",
    "2022-03-17T13:17:50.903z",
    "2022-03-17t13:17:50.903Z",
    "2022-03-17 13:17:50.903Z",
    "2022-03-17T13:17:50Z",
    "2022-03-17T13:17:50.9Z",
    "2022-03-17T13:17:50.903123Z",
    "2022-03-17T13:17:50.9031234Z",
    "2022-03-17T13:17:50.903+01:00",
    "2022-03-17T13:17:50.903-00:00",
    "2022-03-17T13:17:50.903",
    "2022-03-17T13:17:50.903ZZ",
    " 2022-03-17T13:17:50.903Z",
    "2022-03-17T13:17:50.903Z\n",
    "2022-13-17T13:17:50.903Z",
    "2022-02-30T13:17:50.903Z",
    "2022-03-17T24:00:00.000Z",
    "2022-03-17T13:17:60.000Z",
    "0000-03-17T13:17:50.903Z",
    "2022-W11-4T13:17:50.903Z",
    "20220317T131750.903Z",
    "2022-03-17T13:17:50,903Z",
    "\u0662\u0660\u0662\u0662-03-17T13:17:50.903Z",  # Arabic-Indic digits
    "2022-03-17T13:17:50.9\u0660\u0660Z",
    "",
]


def _agent(**changes: Any) -> dict[str, Any]:
    agent: dict[str, Any] = copy.deepcopy(SESSION["userAgent"])
    agent.update(changes)
    return agent


def _shapes() -> Iterator[Any]:
    yield SESSION
    for key in SESSION:  # each field missing, null, mistyped
        yield {k: v for k, v in SESSION.items() if k != key}
        for value in ODD_VALUES:
            yield {**SESSION, key: value}
    yield {**SESSION, "custom": 1}
    yield {**SESSION, "custom": {"nested": [1, 2]}}
    yield {"custom": 1, **SESSION}
    yield {**SESSION, "accessGroupKeys": ["a", "b"]}
    yield {**SESSION, "accessGroupKeys": ["a", 1]}
    yield {**SESSION, "token": "t" * 10_000}
    for stamp in TIMESTAMPS:
        yield {**SESSION, "creationDtm": stamp}
    for key in ("family", "major", "minor", "patch", "device", "os"):
        yield {**SESSION, "userAgent": {k: v for k, v in _agent().items() if k != key}}
        for value in ODD_VALUES:
            yield {**SESSION, "userAgent": _agent(**{key: value})}
    yield {**SESSION, "userAgent": _agent(brand="x")}
    for part in ("device", "os"):
        for key in ("family", "major", "minor", "patch"):
            inner = {k: v for k, v in SESSION["userAgent"][part].items() if k != key}  # type: ignore[index]
            yield {**SESSION, "userAgent": _agent(**{part: inner})}
            for value in ODD_VALUES:
                changed = {**SESSION["userAgent"][part], key: value}  # type: ignore[index]
                yield {**SESSION, "userAgent": _agent(**{part: changed})}
        yield {**SESSION, "userAgent": _agent(**{part: {"family": "X", "extra": "y"}})}
        yield {
            **SESSION,
            "userAgent": _agent(**{part: {"family": "a", "major": "b", "minor": "c", "x": "d"}}),
        }
    # Not JSON objects, or not dicts.
    yield from ODD_VALUES
    yield MappingProxyType(SESSION)
    yield {**SESSION, "userAgent": MappingProxyType(SESSION["userAgent"])}  # type: ignore[arg-type]


class _Dict(dict):  # type: ignore[type-arg]
    pass


def _copy(data: Any) -> Any:
    """A fresh copy (each path gets its own), or ``data`` itself when it has none."""
    try:
        return copy.deepcopy(data)
    except TypeError:  # a mappingproxy
        return data


def _outcome(structure: Any, data: Any) -> tuple[str, Any]:
    try:
        result = structure(_copy(data), agnost.Session)
    except (KeyError, TypeError, ValueError) as exc:
        return ("raised", (type(exc), str(exc)))
    return ("built", result)


SHAPES = list(_shapes())


@pytest.mark.parametrize("fast_path", [FAST, FROM_JSON], ids=["from_wire", "from_json"])
@pytest.mark.parametrize("data", SHAPES, ids=[str(i) for i in range(len(SHAPES))])
def test_the_fast_path_gives_what_the_strict_path_gives(fast_path: Any, data: Any) -> None:
    strict = _outcome(STRICT, data)
    # Twice: the second time, a user agent seen before may be shared.
    for _ in range(2):
        fast = _outcome(fast_path, data)
        if fast_path is FROM_JSON and strict[0] == "raised":
            # The parser of answers says the same, as ValueError.
            assert fast[0] == "raised" and fast[1][0] is ValueError
            assert fast[1][1] == f"not the wire form of a Session: {_message(strict)}"
            continue
        _check_equal(fast, strict)


def _message(outcome: tuple[str, Any]) -> str:
    kind, text = outcome[1]
    return f"missing field {text}" if kind is KeyError else text


def _check_equal(fast: tuple[str, Any], strict: tuple[str, Any]) -> None:
    assert fast == strict
    if fast[0] == "built":
        made, reference = fast[1], strict[1]
        assert type(made) is agnost.Session
        assert repr(made) == repr(reference)
        assert made.token == reference.token
        assert made.extra == reference.extra
        assert made.creation_dtm == reference.creation_dtm
        if made.creation_dtm is not None:
            assert made.creation_dtm.utcoffset() == reference.creation_dtm.utcoffset()
        assert agnost.to_wire(made) == agnost.to_wire(reference)
        if made.user_agent is not None:
            assert made.user_agent.extra == reference.user_agent.extra


@pytest.mark.parametrize("data", SHAPES, ids=[str(i) for i in range(len(SHAPES))])
def test_from_wire_refuses_what_the_strict_path_refuses_naming_the_problem(data: Any) -> None:
    if _outcome(STRICT, data)[0] == "built":
        assert agnost.from_wire(agnost.Session, data) == STRICT(_copy(data), None)
        return
    with pytest.raises(ValueError, match=r"^not the wire form of a Session: ") as caught:
        agnost.from_wire(agnost.Session, data)
    # The message names the problem, never a value sent (tokens are values).
    assert "tok-current" not in str(caught.value)
    assert "13:17" not in str(caught.value)


def test_a_dict_subclass_takes_the_strict_path_and_gives_the_same() -> None:
    data = _Dict(copy.deepcopy(SESSION))
    assert FAST(data, agnost.Session) == STRICT(copy.deepcopy(SESSION), agnost.Session)


def test_equal_user_agents_of_an_answer_are_shared_and_cannot_be_changed() -> None:
    first, second = wire.sessions_from_json(
        [copy.deepcopy(SESSION), {**copy.deepcopy(SESSION), "token": "other"}]
    )
    assert first.user_agent is second.user_agent
    assert first.user_agent is not None and first.user_agent.device is not None
    for extra in (first.user_agent.extra, first.user_agent.device.extra):
        assert extra == {}
        with pytest.raises(TypeError):
            extra["x"] = 1  # type: ignore[index]
        with pytest.raises(TypeError):
            extra.update(x=1)  # type: ignore[attr-defined]
        assert extra == {}
    # A copy or a pickle is an ordinary session, with a plain empty dict of its own.
    for clone in (pickle.loads(pickle.dumps(first)), copy.deepcopy(first)):
        assert clone == first
        assert clone.user_agent is not None
        assert type(clone.user_agent.extra) is dict
        clone.user_agent.extra["x"] = 1  # type: ignore[index]
        assert first.user_agent.extra == {}


def test_a_user_agent_with_unknown_fields_is_not_shared() -> None:
    wire_form = {**copy.deepcopy(SESSION), "userAgent": _agent(brand="x")}
    first, second = wire.sessions_from_json([copy.deepcopy(wire_form), copy.deepcopy(wire_form)])
    assert first == second
    assert first.user_agent is not second.user_agent
    assert first.user_agent is not None and first.user_agent.extra == {"brand": "x"}


def test_a_value_that_hashes_like_another_is_not_taken_for_it() -> None:
    # 1 == True == 1.0 as keys: a shared agent with "1" must not answer for 1 or True.
    wire.sessions_from_json([{**SESSION, "userAgent": _agent(major="1")}])
    for odd in (1, True, 1.0):
        with pytest.raises(ValueError, match="major"):
            wire.sessions_from_json([{**SESSION, "userAgent": _agent(major=odd)}])


class _Text(str):
    __slots__ = ()


def test_from_wire_shares_nothing_so_a_str_subclass_is_refused_as_strictly() -> None:
    # Equal to a user agent an answer had: from_wire still checks every value itself.
    wire.sessions_from_json([copy.deepcopy(SESSION)])
    data = {**copy.deepcopy(SESSION), "userAgent": _agent(family=_Text("Chrome"))}
    assert _outcome(FAST, data) == _outcome(STRICT, data)
    assert _outcome(STRICT, data)[0] == "raised"
    first = agnost.from_wire(agnost.Session, copy.deepcopy(SESSION))
    second = agnost.from_wire(agnost.Session, copy.deepcopy(SESSION))
    assert first == second and first.user_agent is not second.user_agent


def test_the_parser_of_answers_refuses_what_is_not_a_list() -> None:
    for body in (None, {}, "[]", SESSION):
        with pytest.raises(TypeError, match="expected a JSON array of sessions"):
            wire.sessions_from_json(body)


def test_many_distinct_user_agents_are_all_structured_right() -> None:
    # More than the cache keeps: it is emptied when full, never wrong.
    for i in range(3 * wire._SHARED_USER_AGENTS):
        data = {**SESSION, "userAgent": _agent(patch=str(i))}
        session = wire.sessions_from_json([copy.deepcopy(data)])[0]
        assert session.user_agent is not None and session.user_agent.patch == str(i)
        assert session == STRICT(copy.deepcopy(data), agnost.Session)


def test_sessions_from_an_answer_equal_the_strict_ones() -> None:
    sessions = [
        {
            **SESSION,
            "token": f"t{i}",
            "creationDtm": f"2022-03-17T13:17:{i % 60:02d}.{i:03d}Z",
            "userAgent": _agent(patch=str(i % 3)) if i % 7 else None,
        }
        for i in range(300)
    ]
    built = wire.sessions_from_json(copy.deepcopy(sessions))
    assert built == [STRICT(copy.deepcopy(s), agnost.Session) for s in sessions]
    assert built == [agnost.from_wire(agnost.Session, s) for s in sessions]
