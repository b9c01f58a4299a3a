"""The 13 auth calls of issue 11: the official JavaScript client (altogic@2.3.9, unchanged)
and both agnost flavours send the same requests, request for request (method, path, decoded
query, body, the protocol headers of §2), to a recording server on 127.0.0.1; and they keep
the same local state after each answer. Where the official client does not encode a query
value (§6), agnost's decoded value is the one the caller gave."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import parse_qsl

import pytest

import agnost
import agnost_async
from tests.clients._support import (
    Recorded,
    RecordingServer,
    Reply,
    grant_wire,
    json_reply,
    session_wire,
    user_wire,
)

from .conftest import OfficialClient

pytestmark = pytest.mark.interop

CLIENT_KEY = "ck-interop-1"
API_KEY = "api-key-interop"
TOKEN = "tok-current"
PHONE = "+15550001234"
EMAIL = "ada@example.com"
CODE = "042917"
RESET_TOKEN = "rt-9f8e7d6c5b4a3210"
OLD = "old-Secret-123"
NEW = "new-Secret-456"

#: (JS name, Python name, arguments, answer): every call of the 13, in protocol §3's order.
CALLS: list[tuple[str, str, list[str], Reply]] = [
    ("signInWithCode", "sign_in_with_code", [PHONE, CODE], json_reply(grant_wire("tok-new"))),
    ("changePassword", "change_password", [NEW, OLD], Reply(200)),
    ("changeEmail", "change_email", [OLD, "new@example.com"], json_reply(user_wire())),
    ("changePhone", "change_phone", [OLD, "+15559990000"], json_reply(user_wire())),
    (
        "verifyPhone",
        "verify_phone",
        [PHONE, CODE],
        json_reply({"user": user_wire(phone=PHONE), "session": None}),
    ),
    ("resendVerificationEmail", "resend_verification_email", [EMAIL], Reply(200)),
    ("resendVerificationCode", "resend_verification_code", [PHONE], Reply(200)),
    ("sendMagicLinkEmail", "send_magic_link_email", [EMAIL], Reply(200)),
    ("sendResetPwdEmail", "send_reset_pwd_email", [EMAIL], Reply(200)),
    ("sendResetPwdCode", "send_reset_pwd_code", [PHONE], Reply(200)),
    ("sendSignInCode", "send_sign_in_code", [PHONE], Reply(200)),
    ("resetPwdWithToken", "reset_pwd_with_token", [RESET_TOKEN, NEW], Reply(200)),
    ("resetPwdWithCode", "reset_pwd_with_code", [PHONE, CODE, NEW], Reply(200)),
]
#: Compared across clients (X-Client names each one; User-Agent is each one's own).
PROTOCOL_HEADERS = ("x-client-key", "authorization", "session", "content-type")


def _compared(request: Recorded) -> dict[str, Any]:
    headers = {k.lower(): v for k, v in request.headers if k.lower() in PROTOCOL_HEADERS}
    return {
        "method": request.method,
        "path": request.path,
        "query": parse_qsl(request.query, keep_blank_values=True),
        "body": json.loads(request.body) if request.body else None,
        "headers": headers,
        "content-length": request.header("Content-Length") or "0",
    }


def _agnost_calls(
    flavour: str, env_url: str, calls: list[tuple[str, list[str]]], api_key: str | None
) -> list[tuple[Any, Any, Any]]:
    """Each call through one flavour, signed in as ``TOKEN``: (result, session, user) after it."""

    async def run() -> list[tuple[Any, Any, Any]]:
        store = agnost.MemoryStore(session=session_wire(TOKEN), user=user_wire())
        done = []
        if flavour == "sync":
            with agnost.create_client(env_url, CLIENT_KEY, api_key=api_key, storage=store) as c:
                for name, args in calls:
                    result = getattr(c.auth, name)(*args)
                    done.append((result, c.auth.get_session(), c.auth.get_user()))
            return done
        async with agnost_async.create_client(
            env_url, CLIENT_KEY, api_key=api_key, storage=store
        ) as client:
            for name, args in calls:
                result = await getattr(client.auth, name)(*args)
                done.append(
                    (result, await client.auth.get_session(), await client.auth.get_user())
                )
        return done

    return asyncio.run(run())


def _wire(value: Any) -> Any:
    return None if value is None else agnost.to_wire(value)


@pytest.mark.parametrize("api_key", [API_KEY, None], ids=["api-key", "no-api-key"])
def test_the_13_calls_send_what_the_official_client_sends(
    official_client: OfficialClient, api_key: str | None
) -> None:
    sent: dict[str, list[dict[str, Any]]] = {}
    local: dict[str, list[Any]] = {}
    with RecordingServer() as server:
        server.script(*(reply for *_, reply in CALLS))
        js = official_client(
            "auth-calls",
            server.env_url,
            CLIENT_KEY,
            {
                "token": TOKEN,
                "apiKey": api_key,
                "calls": [[js, *args] for js, _, args, _ in CALLS],
            },
        )
        sent["js"] = [_compared(r) for r in server.requests]
        local["js"] = [(entry["session"], entry["user"]) for entry in js]
        assert all(entry["result"]["errors"] is None for entry in js)
        for flavour in ("sync", "async"):
            server.requests.clear()
            server.script(*(reply for *_, reply in CALLS))
            done = _agnost_calls(
                flavour, server.env_url, [(name, args) for _, name, args, _ in CALLS], api_key
            )
            sent[flavour] = [_compared(r) for r in server.requests]
            local[flavour] = [(_wire(session), _wire(user)) for _, session, user in done]

    assert len(sent["js"]) == len(CALLS)
    for index, (js_name, *_) in enumerate(CALLS):
        assert sent["sync"][index] == sent["js"][index], js_name
        assert sent["async"][index] == sent["js"][index], js_name
    # The session the first call (a sign-in by code) established is sent from then on.
    assert [r["headers"].get("session") for r in sent["js"]] == [TOKEN] + ["tok-new"] * 12
    # Both keep the same session and user after every call.
    for index, (js_name, *_) in enumerate(CALLS):
        js_session, js_user = local["js"][index]
        for flavour in ("sync", "async"):
            session, user = local[flavour][index]
            assert session == js_session, (flavour, js_name)
            assert user == js_user, (flavour, js_name)


def test_values_the_official_client_leaves_unencoded_reach_the_server_intact_from_agnost(
    official_client: OfficialClient,
) -> None:
    # protocol.md §6: the official client inserts email, code and key raw, so `+` becomes a
    # space and `&` starts another parameter; agnost percent-encodes every value.
    email, code, key = "a+b@x.co", "12&x=1", "k+/="
    calls = [
        ("sendMagicLinkEmail", "send_magic_link_email", [email]),
        ("resetPwdWithCode", "reset_pwd_with_code", [PHONE, code, NEW]),
        ("resetPwdWithToken", "reset_pwd_with_token", [key, NEW]),
    ]
    with RecordingServer() as server:
        official_client(
            "auth-calls",
            server.env_url,
            CLIENT_KEY,
            {"calls": [[js, *args] for js, _, args in calls]},
        )
        js = [parse_qsl(r.query, keep_blank_values=True) for r in server.requests]
        server.requests.clear()
        _agnost_calls("sync", server.env_url, [(name, args) for _, name, args in calls], None)
        ours = [parse_qsl(r.query, keep_blank_values=True) for r in server.requests]

    assert js == [
        [("email", "a b@x.co")],
        [("phone", PHONE), ("code", "12"), ("x", "1")],
        [("key", "k /=")],
    ]
    assert ours == [[("email", email)], [("phone", PHONE), ("code", code)], [("key", key)]]
