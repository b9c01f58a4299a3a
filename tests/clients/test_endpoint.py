"""``client.endpoint`` over real HTTP, in both flavours: the exact request on the wire (the
same bytes from both), refusals that send nothing, and every kind of answer with its local
effects (protocol.md §8)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import agnost

from ._support import (
    CLIENT_KEY,
    CURRENT_TOKEN,
    EMPTY_OK,
    PREFIX,
    Flavour,
    Recorded,
    RecordingServer,
    Reply,
    error_body,
    json_reply,
    mypy_strict,
    signed_in,
    text_reply,
)

#: The headers agnost writes (the HTTP libraries add their own: Accept, Accept-Encoding...).
OURS = ("x-client", "x-client-key", "authorization", "session", "content-type", "content-length")


def endpoint(flavour: Flavour, client: Any, name: str, *args: Any, **kwargs: Any) -> Any:
    """Call ``client.endpoint.<name>`` (awaited in the async flavour)."""
    return flavour.run(getattr(client.endpoint, name)(*args, **kwargs))


def wire(sent: Recorded, extra: tuple[str, ...] = ()) -> tuple[Any, ...]:
    """What must be byte-identical between the flavours: method, target, body, agnost's
    headers in the order sent, and a call's own ``extra`` headers (requests puts one that
    replaces a default of its own, such as ``Accept``, where that default stood)."""
    ours = [(k, v) for k, v in sent.headers if k.lower() in OURS]
    own = sorted((k, v) for k, v in sent.headers if k.lower() in extra)
    return sent.method, sent.target, sent.body, ours, own


CALLS: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
    ("get", ("orders",), {"params": {"a": "x y", "b": {"k": 1}, "c": None}}),
    (
        "get",
        ("/é/a b",),
        {"params": [("t", "o'(1)!*"), ("t", True)], "headers": {"X-Trace": "t 1"}},
    ),
    (
        "post",
        ("/orders", {"item": "é", "n": [1, 2.5]}),
        {"headers": {"Accept": "application/json"}},
    ),
    ("post", ("/orders",), {}),
    ("post", ("/orders", None), {}),
    ("put", ("/orders/7", {"n": 1}), {}),
    ("put", ("/orders/7",), {}),
    ("patch", ("/orders/7", {"n": 2}), {"params": {"v": 2}}),
    ("delete", ("/orders/7",), {}),
    ("delete", ("/orders/7",), {"json": {"why": "dup"}}),
    ("request", ("PATCH", "/x"), {"json": [1]}),
    ("request", ("get", "/x"), {"headers": {"content-type": "text/plain"}}),
]


@pytest.mark.parametrize(("name", "args", "kwargs"), CALLS, ids=[c[0] for c in CALLS])
def test_both_flavours_put_the_same_bytes_on_the_wire(
    server: RecordingServer, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    server.script(json_reply({"ok": True}))
    extra = tuple(h.lower() for h in kwargs.get("headers", {}))
    sent = []
    for kind in ("sync", "async"):
        with Flavour(kind) as flavour:
            client = signed_in(flavour, server.env_url, api_key="api-key-4567")
            assert endpoint(flavour, client, name, *args, **kwargs) == {"ok": True}
            sent.append(wire(server.last, extra))
    assert sent[0] == sent[1]
    assert sent[0][1].startswith(PREFIX + "/")


def test_the_request_of_protocol_section_8(flavour: Flavour, server: RecordingServer) -> None:
    client = signed_in(flavour, server.env_url)
    params = {"a": "x y", "b": {"k": 1}, "c": None}
    endpoint(flavour, client, "post", "orders", {"n": 1}, params=params, headers={"X-T": "1"})
    sent = server.last
    assert (sent.method, sent.target) == (
        "POST",
        PREFIX + "/orders?a=x%20y&b=%7B%22k%22%3A1%7D&c=",
    )
    assert sent.body == b'{"n":1}'
    assert [(k.lower(), v) for k, v in sent.headers if k.lower() in (*OURS, "x-t")] == [
        ("x-client", "agnost-python"),
        ("x-client-key", CLIENT_KEY),
        ("session", CURRENT_TOKEN),
        ("content-type", "application/json"),
        ("x-t", "1"),
        ("content-length", "7"),
    ]


@pytest.mark.parametrize("name", ["post", "put", "patch", "delete"])
def test_no_body_means_no_content_type(
    flavour: Flavour, server: RecordingServer, name: str
) -> None:
    client = signed_in(flavour, server.env_url)
    endpoint(flavour, client, name, "/x")
    assert server.last.body == b"" and not server.last.has("Content-Type")
    if name == "post":
        assert server.last.header("Content-Length") == "0"


def test_json_none_sends_null(flavour: Flavour, server: RecordingServer) -> None:
    endpoint(flavour, signed_in(flavour, server.env_url), "post", "/x", None)
    assert server.last.body == b"null"
    assert server.last.header("Content-Type") == "application/json"


# --- refusals send nothing -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "kwargs", "kind"),
    [
        (("https://evil.test/x",), {}, agnost.InvalidArgumentError),
        (("//evil.test/x",), {}, agnost.InvalidArgumentError),
        (("\\\\evil.test",), {}, agnost.InvalidArgumentError),
        (("/\\evil.test",), {}, agnost.InvalidArgumentError),
        (("%2f%2fevil.test",), {}, agnost.InvalidArgumentError),
        (("/%5cevil.test",), {}, agnost.InvalidArgumentError),
        (("../e:other",), {}, agnost.InvalidArgumentError),
        (("/%2e%2e/e:other",), {}, agnost.InvalidArgumentError),
        (("javascript:alert(1)",), {}, agnost.InvalidArgumentError),
        (("/a\r\nHost: evil.test",), {}, agnost.InvalidArgumentError),
        (("/a?b=1",), {}, agnost.InvalidArgumentError),
        (("/a#b",), {}, agnost.InvalidArgumentError),
        (("/x",), {"headers": {"X-A": "v\r\nX-Evil: 1"}}, agnost.InvalidArgumentError),
        (("/x",), {"headers": {"X-A": "é"}}, agnost.InvalidArgumentError),
        (("/x",), {"headers": {"session": "tok-other"}}, agnost.InvalidArgumentError),
        (("/x",), {"headers": {"authorization": "Bearer x"}}, agnost.InvalidArgumentError),
        (("/x",), {"json": float("nan")}, agnost.InvalidArgumentError),
        (("/x",), {"json": {"a": object()}}, agnost.InvalidArgumentTypeError),
        (("/x",), {"json": "\ud800"}, agnost.InvalidArgumentError),
        (("/x",), {"params": {"a": object()}}, agnost.InvalidArgumentTypeError),
        (("/x",), {"returns": "xml"}, agnost.InvalidArgumentError),
    ],
)
def test_refused_calls_send_nothing(
    flavour: Flavour,
    server: RecordingServer,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    kind: type[Exception],
) -> None:
    client = signed_in(flavour, server.env_url)
    with pytest.raises(kind):
        endpoint(flavour, client, "request", "POST", *args, **kwargs)
    assert server.requests == []
    assert flavour.run(client.auth.get_session()).token == CURRENT_TOKEN
    assert client.session_token == CURRENT_TOKEN


def test_a_deeply_nested_body_is_refused(flavour: Flavour, server: RecordingServer) -> None:
    deep: Any = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(agnost.InvalidArgumentError):
        endpoint(flavour, signed_in(flavour, server.env_url), "post", "/x", deep)
    assert server.requests == []


# --- answers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "returns", "expected"),
    [
        (json_reply({"a": [1, "é"]}), "json", {"a": [1, "é"]}),
        (EMPTY_OK, "json", None),
        (Reply(204), "json", None),
        (text_reply("<html>ok</html>"), "json", None),
        (text_reply("héllo", content_type="text/plain; charset=utf-8"), "text", "héllo"),
        (
            text_reply("é".encode("latin-1"), content_type="text/plain; charset=latin-1"),
            "text",
            "é",
        ),
        (text_reply(b"\x00\xff\xfe"), "bytes", b"\x00\xff\xfe"),
    ],
)
def test_each_kind_of_answer(
    flavour: Flavour, server: RecordingServer, reply: Reply, returns: str, expected: Any
) -> None:
    server.script(reply)
    client = signed_in(flavour, server.env_url)
    assert endpoint(flavour, client, "get", "/x", returns=returns) == expected
    assert client.session_token == CURRENT_TOKEN


def test_the_whole_response(flavour: Flavour, server: RecordingServer) -> None:
    headers = (("Content-Type", "application/json"), ("X-Id", "7"), ("X-Id", "8"))
    server.script(Reply(201, b'{"id": 7}', headers=headers))
    answer = endpoint(
        flavour, signed_in(flavour, server.env_url), "post", "/x", returns="response"
    )
    assert isinstance(answer, agnost.EndpointResponse)
    assert (answer.status, answer.reason, answer.content) == (201, "Created", b'{"id": 7}')
    assert answer.headers["x-id"] == "7, 8"
    assert answer.headers["CONTENT-LENGTH"] == "9"
    assert answer.json() == {"id": 7}


def test_an_html_error_page_is_a_decode_error(flavour: Flavour, server: RecordingServer) -> None:
    server.script(text_reply(f"<html>502 {CURRENT_TOKEN}</html>", status=502))
    client = signed_in(flavour, server.env_url)
    with pytest.raises(agnost.ResponseDecodeError) as info:
        endpoint(flavour, client, "get", "/x")
    assert info.value.status == 502
    assert CURRENT_TOKEN not in str(info.value)
    assert client.session_token == CURRENT_TOKEN


def test_an_api_error_is_the_class_of_its_code(flavour: Flavour, server: RecordingServer) -> None:
    server.script(Reply(404, error_body("user_not_found"), reason="Not Found"))
    with pytest.raises(agnost.UserNotFoundError) as info:
        endpoint(flavour, signed_in(flavour, server.env_url), "get", "/x", returns="bytes")
    assert (info.value.status, info.value.status_text) == (404, "Not Found")


SESSION_ERROR = {"origin": "client_error", "code": "invalid_session_token", "message": "no"}


@pytest.mark.parametrize(
    "body", [{"errors": [SESSION_ERROR]}, {"errors": SESSION_ERROR}], ids=["array", "object"]
)
def test_a_session_token_error_invalidates_once(
    flavour: Flavour, server: RecordingServer, body: Any
) -> None:
    redirect = flavour.redirect_recorder()
    client = signed_in(flavour, server.env_url, sign_in_redirect=redirect)
    server.script(json_reply(body, status=401))
    for _ in range(2):
        with pytest.raises(agnost.InvalidSessionTokenError):
            endpoint(flavour, client, "get", "/orders")
    assert redirect.calls == [redirect.calls[0]]  # type: ignore[attr-defined]
    assert [r.header("Session") for r in server.requests] == [CURRENT_TOKEN, None]
    assert client.session_token is None
    assert flavour.run(client.auth.get_session()) is None


def test_a_session_error_without_a_session_invalidates_nothing(
    flavour: Flavour, server: RecordingServer
) -> None:
    redirect = flavour.redirect_recorder()
    client = flavour.make(server.env_url, sign_in_redirect=redirect)
    server.script(Reply(401, error_body("missing_session_token")))
    with pytest.raises(agnost.MissingSessionTokenError):
        endpoint(flavour, client, "get", "/orders")
    assert redirect.calls == []  # type: ignore[attr-defined]


def test_a_redirect_is_not_followed(
    flavour: Flavour, server: RecordingServer, other_origin: RecordingServer
) -> None:
    server.script(Reply(302, headers=(("Location", other_origin.url + "/steal?x=1"),)))
    client = signed_in(flavour, server.env_url)
    with pytest.raises(agnost.RedirectError) as info:
        endpoint(flavour, client, "get", "/x", returns="response")
    assert info.value.location_origin == other_origin.url
    assert other_origin.requests == []
    assert client.session_token == CURRENT_TOKEN


# --- the size cap, per call ----------------------------------------------------------------

BIG = json_reply({"blob": "x" * 100_000})


@pytest.mark.parametrize("behaviour", ["normal", "endless"])
def test_the_cap_can_be_raised_or_lowered_per_call(
    flavour: Flavour, server: RecordingServer, behaviour: str
) -> None:
    client = signed_in(flavour, server.env_url, max_response_bytes=1000)
    server.script(Reply(200, BIG.body, headers=BIG.headers, behaviour=behaviour))
    with pytest.raises(agnost.ResponseTooLargeError) as info:
        endpoint(flavour, client, "get", "/x")
    assert info.value.limit == 1000
    if behaviour == "normal":
        value = endpoint(flavour, client, "get", "/x", max_response_bytes=200_000)
        assert value == {"blob": "x" * 100_000}
    with pytest.raises(agnost.ResponseTooLargeError) as info:
        endpoint(flavour, client, "get", "/x", max_response_bytes=50_000)
    assert info.value.limit == 50_000
    # The client's own cap is back for the next call.
    with pytest.raises(agnost.ResponseTooLargeError) as info:
        endpoint(flavour, client, "get", "/x", returns="bytes")
    assert info.value.limit == 1000


def test_a_lowered_cap_holds_below_the_clients(flavour: Flavour, server: RecordingServer) -> None:
    server.script(json_reply({"a": "x" * 500}))
    client = signed_in(flavour, server.env_url)
    with pytest.raises(agnost.ResponseTooLargeError):
        endpoint(flavour, client, "get", "/x", max_response_bytes=100)
    assert client.session_token == CURRENT_TOKEN


# --- the session header and session_token --------------------------------------------------


def test_the_session_header_goes_and_leaves_with_the_session(
    flavour: Flavour, server: RecordingServer
) -> None:
    client = signed_in(flavour, server.env_url)
    endpoint(flavour, client, "get", "/orders")
    assert server.last.header("Session") == CURRENT_TOKEN
    assert client.session_token == CURRENT_TOKEN
    assert CURRENT_TOKEN not in repr(client)
    server.script(EMPTY_OK)
    flavour.call(client, "sign_out")
    assert client.session_token is None
    endpoint(flavour, client, "get", "/orders")
    assert not server.last.has("Session")


def test_session_token_is_read_only(flavour: Flavour, server: RecordingServer) -> None:
    client = signed_in(flavour, server.env_url)
    with pytest.raises(AttributeError):
        client.session_token = "tok-forged"


def test_the_echo_of_a_body_round_trips(flavour: Flavour, server: RecordingServer) -> None:
    body = {"é": ["\u2028", 1.5, None, {"k": True}]}
    server.script(json_reply(body))
    client = signed_in(flavour, server.env_url)
    assert endpoint(flavour, client, "put", "/x", body) == body
    assert json.loads(server.last.body) == body


TYPING_SNIPPET = """\
from typing import Any
from typing_extensions import assert_type
import agnost, agnost_async

def f(c: agnost.Client, r: str) -> None:
    assert_type(c.endpoint.get("/x"), Any)
    assert_type(c.endpoint.get("/x", returns="text"), str)
    assert_type(c.endpoint.post("/x", {"a": 1}, returns="bytes"), bytes)
    assert_type(c.endpoint.request("GET", "/x", returns="response"), agnost.EndpointResponse)
    assert_type(c.endpoint.get("/x", returns=r), Any)
    assert_type(c.session_token, str | None)

async def g(c: agnost_async.AsyncClient) -> None:
    assert_type(await c.endpoint.delete("/x", returns="text"), str)
    assert_type(await c.endpoint.patch("/x", returns="response"), agnost.EndpointResponse)
"""


def test_typing_mypy_strict_knows_what_each_returns_gives(tmp_path: Path) -> None:
    done = mypy_strict(tmp_path, "returns.py", TYPING_SNIPPET)
    assert done.returncode == 0, done.stdout + done.stderr
