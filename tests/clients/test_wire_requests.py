"""Every HTTP operation sends exactly the request of protocol.md §2/§3, from both flavours,
and both flavours return equal models for the same answer."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

import agnost

from ._support import (
    API_KEY,
    AUTH,
    CLIENT_KEY,
    CURRENT_TOKEN,
    OTHER_TOKEN,
    PREFIX,
    Flavour,
    RecordingServer,
    Reply,
    grant_wire,
    json_reply,
    session_wire,
    signed_in_store,
    user_wire,
)

AGNOST_HEADERS = ["x-client", "x-client-key", "authorization", "session", "content-type"]


@dataclass(frozen=True)
class Case:
    """One operation: the call, and the request it must produce."""

    id: str
    method_name: str
    args: tuple[Any, ...]
    http_method: str
    path: str
    query: str = ""
    #: The JSON body; ``None`` for a request without one.
    body: Any = None
    reply: Reply = field(default_factory=lambda: Reply(200))
    kwargs: dict[str, Any] = field(default_factory=dict)


SIGN_UP = json_reply({"user": user_wire(), "session": session_wire("tok-new")})

CASES = [
    Case(
        "sign_up_with_email-user-data",
        "sign_up_with_email",
        ("a+b@x.co", "s3cret pw"),
        "POST",
        "/signup-email",
        body={
            "email": "a+b@x.co",
            "password": "s3cret pw",
            "nameOrUserData": {"name": "Zoë", "plan": {"tier": "pro"}},
        },
        reply=SIGN_UP,
        kwargs={"name_or_user_data": {"name": "Zoë", "plan": {"tier": "pro"}}},
    ),
    Case(
        "sign_up_with_email-no-name",
        "sign_up_with_email",
        ("a+b@x.co", "pw"),
        "POST",
        "/signup-email",
        body={"email": "a+b@x.co", "password": "pw"},
        reply=SIGN_UP,
    ),
    Case(
        "sign_up_with_phone",
        "sign_up_with_phone",
        ("+15551234567", "pw", "John"),
        "POST",
        "/signup-phone",
        body={"phone": "+15551234567", "password": "pw", "nameOrUserData": "John"},
        reply=SIGN_UP,
    ),
    Case(
        "sign_in_with_email",
        "sign_in_with_email",
        ("a+b@x.co", "pw"),
        "POST",
        "/signin-email",
        body={"email": "a+b@x.co", "password": "pw"},
        reply=json_reply(grant_wire()),
    ),
    Case(
        "sign_in_with_phone",
        "sign_in_with_phone",
        ("+15551234567", "pw"),
        "POST",
        "/signin-phone",
        body={"phone": "+15551234567", "password": "pw"},
        reply=json_reply(grant_wire()),
    ),
    Case("sign_out-own", "sign_out", (), "POST", "/signout", body={}),
    Case(
        "sign_out-other",
        "sign_out",
        (OTHER_TOKEN,),
        "POST",
        "/signout",
        body={"token": OTHER_TOKEN},
    ),
    Case("sign_out_all", "sign_out_all", (), "POST", "/signout-all"),
    Case(
        "sign_out_all_except_current",
        "sign_out_all_except_current",
        (),
        "POST",
        "/signout-all-except",
    ),
    Case(
        "get_all_sessions",
        "get_all_sessions",
        (),
        "GET",
        "/sessions",
        reply=json_reply([session_wire(), session_wire(OTHER_TOKEN)]),
    ),
    Case(
        "get_user_from_db", "get_user_from_db", (), "GET", "/user", reply=json_reply(user_wire())
    ),
    Case(
        "get_auth_grant-token",
        "get_auth_grant",
        ("a+b=c&d e",),
        "GET",
        "/grant",
        query="key=a%2Bb%3Dc%26d%20e",
        reply=json_reply(grant_wire()),
    ),
    Case(
        "get_auth_grant-redirect-url",
        "get_auth_grant",
        ("https://app.example.com/welcome?status=200&access_token=acc%2Btok&action=signup",),
        "GET",
        "/grant",
        query="key=acc%2Btok",
        reply=json_reply(grant_wire()),
    ),
]


#: Query characters a URL may carry either raw or escaped: the two flavours must still agree.
CROSS_CASES = [
    *CASES,
    Case(
        "get_auth_grant-slash-and-question-mark",
        "get_auth_grant",
        ("ab/cd?ef",),
        "GET",
        "/grant",
        query="key=ab%2Fcd%3Fef",
        reply=json_reply(grant_wire()),
    ),
]


def _agnost_headers(recorded: Any) -> list[str]:
    return [name for name in recorded.names if name in AGNOST_HEADERS]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
@pytest.mark.parametrize("signed_in", [True, False], ids=["session", "no-session"])
@pytest.mark.parametrize("api_key", [API_KEY, None], ids=["api-key", "no-api-key"])
def test_each_operation_sends_the_protocol_request(
    flavour: Flavour, server: RecordingServer, case: Case, signed_in: bool, api_key: str | None
) -> None:
    server.script(case.reply)
    store = signed_in_store() if signed_in else agnost.MemoryStore()
    client = flavour.make(server.env_url, api_key=api_key, storage=store)

    flavour.call(client, case.method_name, *case.args, **case.kwargs)

    assert len(server.requests) == 1
    sent = server.last
    assert sent.method == case.http_method
    assert sent.path == PREFIX + AUTH + case.path
    assert sent.query == case.query
    assert sent.header("X-Client") == "agnost-python"
    assert sent.header("X-Client-Key") == CLIENT_KEY
    assert sent.header("Authorization") == api_key
    assert sent.header("Session") == (CURRENT_TOKEN if signed_in else None)
    user_agent = sent.header("User-Agent")
    assert user_agent is not None
    assert user_agent.startswith(f"agnost-python/{agnost.__version__}")
    expected_order = ["x-client", "x-client-key"]
    expected_order += ["authorization"] if api_key else []
    expected_order += ["session"] if signed_in else []
    if case.body is not None:
        assert sent.header("Content-Type") == "application/json"
        assert json.loads(sent.body.decode("utf-8")) == case.body
        assert sent.header("Content-Length") == str(len(sent.body))
        expected_order.append("content-type")
    else:
        assert sent.header("Content-Type") is None
        assert sent.body == b""
        if case.http_method == "POST":
            assert sent.header("Content-Length") == "0"
    assert _agnost_headers(sent) == expected_order


@pytest.mark.parametrize("case", CROSS_CASES, ids=[c.id for c in CROSS_CASES])
def test_both_flavours_send_the_same_request_and_return_equal_results(
    server: RecordingServer, case: Case
) -> None:
    results = {}
    requests_sent = {}
    for name in ("sync", "async"):
        with Flavour(name) as flavour:
            server.script(case.reply)
            client = flavour.make(server.env_url, api_key=API_KEY, storage=signed_in_store())
            results[name] = flavour.call(client, case.method_name, *case.args, **case.kwargs)
            sent = server.last
            requests_sent[name] = (
                sent.method,
                sent.target,
                [(k.lower(), v) for k, v in sent.headers if k.lower() in AGNOST_HEADERS],
                sent.body,
            )
    assert requests_sent["sync"][1] == PREFIX + AUTH + case.path + (
        f"?{case.query}" if case.query else ""
    )
    assert requests_sent["sync"] == requests_sent["async"]
    assert results["sync"] == results["async"]


def test_a_trailing_slash_and_blanks_around_the_env_url_are_dropped(
    flavour: Flavour, server: RecordingServer
) -> None:
    server.script(json_reply([]))
    client = flavour.make(f"  {server.env_url}/  ")

    flavour.call(client, "get_all_sessions")

    assert server.last.path == PREFIX + AUTH + "/sessions"


def test_a_json_body_is_utf8_and_keeps_unicode_as_is(
    flavour: Flavour, server: RecordingServer
) -> None:
    server.script(json_reply(grant_wire()))
    client = flavour.make(server.env_url)

    flavour.call(client, "sign_up_with_email", "zoë@例え.jp", "pässwörd 🚀", "Zoë")

    assert server.last.body.decode("utf-8") == (
        '{"email":"zoë@例え.jp","password":"pässwörd 🚀","nameOrUserData":"Zoë"}'
    )


def test_sign_in_with_provider_returns_the_url_and_sends_nothing(
    flavour: Flavour, server: RecordingServer
) -> None:
    client = flavour.make(server.env_url)

    url = client.auth.sign_in_with_provider("google")

    assert url == server.env_url + "/_auth/google"
    assert server.requests == []
