"""Calls to the app's own endpoints (protocol.md §8): the official JavaScript client's
``endpoint.get``/``endpoint.post`` and both agnost flavours against the emulator's echo and
against session enforcement give the same answers and local effects, and send the same
requests."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import pytest

import agnost
import agnost_async
from agnost.emulator import Emulator, EndpointRequest

from .conftest import OfficialClient

pytestmark = pytest.mark.interop

PASSWORD = "correct horse"
# Every kind of query value §8 names: text to percent-encode, an object, null, a number, a bool.
QUERY = {"a": "x y", "b": {"k": 1}, "c": None, "n": 5, "t": True, "m": "a+b@x.co/?&=é"}
BODY = {"item": "tea", "n": [1, 2.5, None], "nested": {"ok": True}, "text": "thé"}
HEADERS = {"X-Trace": "abc-1"}
#: The headers of §2 and the call's own, compared across clients (X-Client names each one).
COMPARED = ("x-client-key", "session", "content-type", "authorization", "x-trace")


def agnost_calls(flavour: str, base_url: str, key: str, session: agnost.Session) -> Any:
    """What ``endpoint-calls`` of official_client.cjs does, through one agnost flavour."""

    async def run() -> Any:
        storage = agnost.MemoryStore()
        if flavour == "sync":
            with agnost.create_client(base_url, key, storage=storage) as client:
                client.auth.set_session(session)
                got = client.endpoint.get("/record", params=QUERY, headers=HEADERS)
                posted = client.endpoint.post("/record", BODY, params=QUERY, headers=HEADERS)
                return got, posted, client.auth.get_session()
        async with agnost_async.create_client(base_url, key, storage=storage) as client:
            await client.auth.set_session(session)
            got = await client.endpoint.get("/record", params=QUERY, headers=HEADERS)
            posted = await client.endpoint.post("/record", BODY, params=QUERY, headers=HEADERS)
            return got, posted, await client.auth.get_session()

    return asyncio.run(run())


def recorder(emulator: Emulator) -> list[dict[str, Any]]:
    """Record what reaches ``/record`` (GET and POST) and answer the emulator's echo of it."""
    seen: list[dict[str, Any]] = []

    def record(request: EndpointRequest) -> Any:
        headers = {name.lower(): value for name, value in request.headers.items()}
        echo = {
            "method": request.method,
            "path": request.path,
            "query": request.query,
            "body": request.body,
            "user": request.user,
            "session": request.session,
        }
        seen.append({**echo, "headers": headers})
        return echo

    emulator.add_endpoint("GET", "/record", record)
    emulator.add_endpoint("POST", "/record", record)
    return seen


def test_the_same_calls_send_the_same_requests_and_get_the_same_answers(
    agnost_emulator: Emulator, official_client: OfficialClient
) -> None:
    base_url, key = agnost_emulator.base_url, agnost_emulator.client_key
    seen = recorder(agnost_emulator)
    with agnost.create_client(base_url, key, storage=agnost.MemoryStore()) as client:
        session = client.auth.sign_up_with_email("ada@example.com", PASSWORD).session
    assert session is not None

    js = official_client(
        "endpoint-calls",
        base_url,
        key,
        {"token": session.token, "path": "/record", "query": QUERY, "body": BODY,
         "headers": HEADERS},
    )  # fmt: skip
    assert js["get"]["errors"] is None and js["post"]["errors"] is None
    answers = {"js": (js["get"]["data"], js["post"]["data"])}
    for flavour in ("sync", "async"):
        got, posted, after = agnost_calls(flavour, base_url, key, session)
        answers[flavour] = (got, posted)
        assert after == session  # no local effect
    assert js["sessionAfter"]["token"] == session.token

    # The same answers...
    assert answers["sync"] == answers["async"] == answers["js"]
    got, posted = answers["js"]
    assert got["query"] == {"a": "x y", "b": '{"k":1}', "c": "", "n": "5", "t": "true",
                            "m": "a+b@x.co/?&=é"}  # fmt: skip
    assert posted["body"] == BODY and got["body"] is None
    assert got["user"]["_id"] == session.user_id and "token" not in got["session"]

    # ... from the same requests: JS first, then sync, then async, a GET and a POST each.
    assert len(seen) == 6
    for index, request in enumerate(seen):
        js_request = seen[index % 2]
        assert {k: request[k] for k in ("method", "path", "query", "body")} == {
            k: js_request[k] for k in ("method", "path", "query", "body")
        }
        assert {h: request["headers"].get(h) for h in COMPARED} == {
            h: js_request["headers"].get(h) for h in COMPARED
        }
    get_headers, post_headers = seen[0]["headers"], seen[1]["headers"]
    assert get_headers["session"] == session.token and get_headers["x-trace"] == "abc-1"
    assert "content-type" not in get_headers and "authorization" not in get_headers
    assert post_headers["content-type"] == "application/json"
    assert [r["headers"]["x-client"] for r in seen] == ["altogic-js"] * 2 + ["agnost-python"] * 4


async def _maybe(result: Any) -> Any:
    return await result if inspect.isawaitable(result) else result


async def _refusal(call: Any, expected: type[agnost.APIError]) -> dict[str, Any]:
    """The error ``call`` raises, as the official client reports one."""
    with pytest.raises(expected) as raised:
        await _maybe(call())
    error = raised.value
    return {
        "status": error.status,
        "statusText": error.status_text,
        "items": [item.to_wire() for item in error.items],
    }


def agnost_refused(flavour: str, base_url: str, key: str, token: str) -> dict[str, Any]:
    """What ``endpoint-refused`` of official_client.cjs does, through one agnost flavour:
    each answer as the official client reports it, and the session left after it."""
    create = agnost.create_client if flavour == "sync" else agnost_async.create_client

    async def run() -> dict[str, Any]:
        anonymous = create(base_url, key, storage=agnost.MemoryStore())
        client = create(base_url, key, storage=agnost.MemoryStore())
        try:
            missing = await _refusal(
                lambda: anonymous.endpoint.get("/orders"), agnost.MissingSessionTokenError
            )
            await _maybe(client.auth.set_session(agnost.Session(user_id="u", token=token)))
            invalid = await _refusal(
                lambda: client.endpoint.get("/orders"), agnost.InvalidSessionTokenError
            )
            session_after = await _maybe(client.auth.get_session())
            token_after = client.session_token
            following = await _refusal(
                lambda: client.endpoint.get("/orders"), agnost.MissingSessionTokenError
            )
        finally:
            for made in (anonymous, client):
                await _maybe(made.close() if flavour == "sync" else made.aclose())
        return {
            "missing": missing,
            "invalid": invalid,
            "next": following,
            "sessionAfter": session_after,
            "tokenAfter": token_after,
        }

    return asyncio.run(run())


def test_enforcement_refuses_all_three_alike_and_each_drops_the_refused_session(
    agnost_emulator: Emulator, official_client: OfficialClient
) -> None:
    base_url, key = agnost_emulator.base_url, agnost_emulator.client_key
    with agnost.create_client(base_url, key, storage=agnost.MemoryStore()) as client:
        session = client.auth.sign_up_with_email("ada@example.com", PASSWORD).session
        assert session is not None
        agnost_emulator.configure(enforce_session=True)
        # The signed-in client still gets the echo; the auth API still needs no session.
        assert client.endpoint.get("/orders")["user"]["_id"] == session.user_id
        client.auth.sign_out()  # the token is now one the server refuses

    js = official_client(
        "endpoint-refused", base_url, key, {"token": session.token, "path": "/orders"}
    )
    assert js["missing"]["data"] is None and js["invalid"]["data"] is None
    assert js["sessionAfter"] is None  # the official client invalidated the refused session
    expected = {name: js[name]["errors"] for name in ("missing", "invalid", "next")}
    assert [e["items"][0]["code"] for e in expected.values()] == [
        "missing_session_token", "invalid_session_token", "missing_session_token"
    ]  # fmt: skip
    assert {e["status"] for e in expected.values()} == {401}
    assert {e["statusText"] for e in expected.values()} == {"Unauthorized"}

    for flavour in ("sync", "async"):
        ours = agnost_refused(flavour, base_url, key, session.token)
        assert {name: ours[name] for name in expected} == expected, flavour
        assert ours["sessionAfter"] is None and ours["tokenAfter"] is None, flavour
