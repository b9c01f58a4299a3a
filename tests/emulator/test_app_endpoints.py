"""App endpoints (protocol.md §8): the echo, session enforcement per client key, and the
handlers a test suite registers, over real HTTP against a real emulator."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import threading
from typing import Any

import pytest
import requests

from agnost.emulator import ConfigError, Emulator, EndpointReply, EndpointRequest

from .conftest import AUTH, Api, error_code, raw_exchange
from .test_cli import emulator_process, stop

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
CANARY = "canary-endpoint-secret-7f3a"


def call(api: Api, method: str, path: str, *, token: str | None = None, **kw: Any) -> Any:
    """Send ``method`` to the app endpoint ``path`` with the emulator's client key."""
    headers = dict(kw.pop("headers", {}))
    if token is not None:
        headers["Session"] = token
    return api.http.request(
        method, api.base_url + path, headers=headers, timeout=10, allow_redirects=False, **kw
    )


def signed_in(api: Api) -> tuple[dict[str, Any], str]:
    """Sign up Ada; her user document and session token (not kept as a cookie: each test
    says how it sends the session)."""
    answer = api.sign_up()
    api.http.cookies.clear()
    return answer["user"], answer["session"]["token"]


# --- the echo --------------------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_every_method_echoes_the_request_and_its_caller(api: Api, method: str) -> None:
    user, token = signed_in(api)
    body = None if method == "GET" else {"item": "tea", "n": [1, 2.5, None]}
    answer = call(
        api,
        method,
        "/orders/7?tag=a&tag=b%20c&q=x%2By&empty=",
        token=token,
        **({} if body is None else {"json": body}),
    )
    assert answer.status_code == 200, answer.text
    echo = answer.json()
    assert set(echo) == {"method", "path", "query", "body", "user", "session"}
    assert echo["method"] == method and echo["path"] == "/orders/7"
    assert echo["query"] == {"tag": ["a", "b c"], "q": "x+y", "empty": ""}
    assert echo["body"] == body
    assert echo["user"] == user
    session = echo["session"]
    assert "token" not in session and token not in answer.text
    assert session["userId"] == user["_id"]
    assert set(session) == {"userId", "creationDtm", "userAgent", "accessGroupKeys"}


def test_any_json_value_is_a_body_and_no_body_is_null(api: Api) -> None:
    json_type = {"Content-Type": "application/json"}
    for raw, decoded in (
        ("null", None),
        ("3", 3),
        ('"x"', "x"),
        ("[1,[2]]", [1, [2]]),
        ("", None),
    ):
        answer = call(api, "POST", "/things", data=raw, headers=json_type)
        assert answer.status_code == 200, raw
        assert answer.json()["body"] == decoded
    # No Content-Type is read as JSON, as on the auth endpoints; a form is a mapping.
    assert call(api, "PUT", "/things", data=b'{"a": 1}').json()["body"] == {"a": 1}
    assert call(api, "PATCH", "/things", data={"a": "1"}).json()["body"] == {"a": "1"}


def test_without_a_valid_session_the_caller_is_null(api: Api) -> None:
    _, token = signed_in(api)
    for headers in ({}, {"Session": "not-a-token"}, {"Session": ""}):
        echo = call(api, "GET", "/whoami", headers=headers).json()
        assert echo["user"] is None and echo["session"] is None
    # The session_token cookie is a session too (§7).
    echo = call(api, "GET", "/whoami", cookies={"session_token": token}).json()
    assert echo["user"]["email"] == "ada@example.com"


@pytest.mark.parametrize(
    ("raw", "content_type", "status", "code"),
    [
        ('{"n": NaN}', "application/json", 400, "invalid_request_body_syntax"),
        ("[Infinity]", "application/json", 400, "invalid_request_body_syntax"),
        ("[" * 40 + "]" * 40, "application/json", 400, "invalid_request_body_syntax"),
        ('{"a": ' * 40 + "1" + "}" * 40, None, 400, "invalid_request_body_syntax"),
        ('{"a": "\\ud800"}', "application/json", 400, "validation_error"),
        ('["\\udfff"]', "application/json", 400, "validation_error"),
        ("[1e999]", "application/json", 400, "validation_error"),
        ("{not json", "application/json", 400, "invalid_request_body_syntax"),
        ("hello", "text/plain", 415, "unsupported_media_type"),
    ],
)
def test_bodies_follow_the_auth_endpoints_rules(
    api: Api, raw: str, content_type: str | None, status: int, code: str
) -> None:
    headers = {} if content_type is None else {"Content-Type": content_type}
    answer = call(api, "POST", "/orders", data=raw.encode(), headers=headers)
    assert answer.status_code == status, answer.text
    assert error_code(answer) == code


def test_a_file_in_a_form_is_refused(api: Api) -> None:
    answer = call(api, "POST", "/upload", files={"doc": ("a.txt", b"hi")}, data={"x": "1"})
    assert answer.status_code == 400 and error_code(answer) == "validation_error"
    assert answer.json()["fields"] == ["doc"]
    # The auth endpoints read forms the same way (one shared reader).
    assert api.post("/signin-email", files={"email": ("a", b"b")}).status_code == 400


def test_head_answers_the_headers_of_get_without_a_body(api: Api) -> None:
    got = call(api, "GET", "/orders")
    head = call(api, "HEAD", "/orders")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["Content-Type"] == got.headers["Content-Type"]


def test_options_and_other_methods(api: Api) -> None:
    options = call(api, "OPTIONS", "/orders")
    assert options.status_code == 204
    assert options.headers["Allow"] == "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
    for method in ("TRACE", "PROPFIND"):
        refused = call(api, method, "/orders")
        assert refused.status_code == 405 and error_code(refused) == "method_not_allowed"
        assert "PATCH" in refused.headers["Allow"]


def test_the_client_key_is_checked_as_on_the_auth_paths(api: Api) -> None:
    bare = requests.get(api.base_url + "/orders", timeout=10)
    assert bare.status_code == 401 and error_code(bare) == "missing_client_key"
    wrong = requests.get(api.base_url + "/orders", headers={"X-Client-Key": "nope"}, timeout=10)
    assert wrong.status_code == 401 and error_code(wrong) == "invalid_client_key"
    assert requests.options(api.base_url + "/orders", timeout=10).status_code == 401


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", AUTH + "/nope", 404),
        ("PUT", AUTH + "/signin-email", 405),  # a wrong method stays a 405, not an echo
        ("HEAD", AUTH + "/grant", 405),
        ("GET", AUTH, 404),
        ("GET", "/_auth", 404),
        ("GET", "/_auth/nope", 404),
        ("POST", "/_emulator/nothing", 404),
        ("GET", "/_emulator%2Fconfig", 404),  # an encoded slash does not reach the echo
        ("GET", "/_api/rest/v1/auth%2Fuser", 404),
    ],
)
def test_the_reserved_paths_are_never_app_endpoints(
    api: Api, method: str, path: str, status: int
) -> None:
    answer = call(api, method, path)
    assert answer.status_code == status, answer.text
    if method != "HEAD":
        assert "errors" in answer.json() and "query" not in answer.json()


def test_paths_that_only_look_reserved_are_app_endpoints(api: Api) -> None:
    for path in ("/_api/rest/v1/authors", "/_authors", "/_emulatorx/y", "/_api/rest/v2/x", "/"):
        answer = call(api, "GET", path)
        assert answer.status_code == 200, path
        assert answer.json()["path"] == path


def test_app_endpoints_answer_any_host_and_cors_as_the_api(api: Api) -> None:
    # Like the API, they need a client key, so a foreign Host (DNS rebinding) is no way in.
    host = raw_exchange(
        api.emulator,
        f"GET /orders HTTP/1.1\r\nHost: evil.example\r\nX-Client-Key: {api.emulator.client_key}"
        "\r\nConnection: close\r\n\r\n".encode(),
    )
    assert host[0] == 200 and json.loads(host[2])["path"] == "/orders"
    # A page on a loopback origin gets its preflight answered and may read the answer.
    preflight = requests.options(
        api.base_url + "/orders",
        headers={"Origin": "http://localhost:3000", "Access-Control-Request-Method": "PUT"},
        timeout=10,
    )
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    put = call(api, "PUT", "/orders", headers={"Origin": "http://localhost:3000"})
    assert put.status_code == 200 and put.headers["Access-Control-Allow-Origin"]
    # A page on another origin may not send anything but GET and HEAD, and cannot read them.
    foreign = {"Origin": "https://evil.example"}
    assert error_code(call(api, "POST", "/orders", headers=foreign)) == "origin_not_allowed"
    got = call(api, "GET", "/orders", headers=foreign)
    assert got.status_code == 200 and "Access-Control-Allow-Origin" not in got.headers


# --- session enforcement ---------------------------------------------------------------------


def test_enforcement_refuses_calls_without_a_valid_session() -> None:
    with Emulator(hash_cost=4, enforce_session=True) as emulator, requests.Session() as http:
        api = Api(emulator)
        api.http = http
        http.headers["X-Client-Key"] = emulator.client_key
        # The auth endpoints are never enforced: sign-up and sign-in need no session.
        user, token = signed_in(api)
        assert api.sign_in()
        http.cookies.clear()
        missing = call(api, "GET", "/orders")
        assert missing.status_code == 401 and error_code(missing) == "missing_session_token"
        assert missing.json()["errors"][0]["origin"] == "client_error"
        bad = call(api, "POST", "/orders", token="not-a-token", json={})
        assert bad.status_code == 401 and error_code(bad) == "invalid_session_token"
        head = call(api, "HEAD", "/orders")
        assert head.status_code == 401 and head.content == b""
        assert call(api, "GET", "/orders", token=token).json()["user"]["_id"] == user["_id"]
        # An expired session is an invalid one.
        emulator.configure(session_lifetime=0)
        expired = call(api, "GET", "/orders", token=token)
        assert expired.status_code == 401 and error_code(expired) == "invalid_session_token"


def test_enforcement_per_client_key_and_over_http() -> None:
    with (
        Emulator(
            hash_cost=4, client_keys=["open", "strict"], enforce_session_keys=["strict"]
        ) as emu,
        requests.Session() as http,
    ):

        def code_for(key: str) -> int:
            return http.get(
                emu.base_url + "/x", headers={"X-Client-Key": key}, timeout=10
            ).status_code

        assert (code_for("open"), code_for("strict")) == (200, 401)
        assert emu.config["enforceSessionKeys"] == ["strict"]
        assert emu.config["enforceSession"] is False

        patched = http.patch(
            emu.base_url + "/_emulator/config",
            json={"enforceSessionKeys": [], "enforceSession": True},
            timeout=10,
        )
        assert patched.status_code == 200 and patched.json()["enforceSession"] is True
        assert (code_for("open"), code_for("strict")) == (401, 401)
        emu.configure(enforce_session=False)
        assert (code_for("open"), code_for("strict")) == (200, 200)


@pytest.mark.parametrize(
    "changes",
    [
        {"enforceSession": 1},
        {"enforceSession": "yes"},
        {"enforceSessionKeys": "strict"},
        {"enforceSessionKeys": [""]},
        {"enforceSessionKeys": [3]},
        {"enforceSessionKeys": ["x" * 3000]},
        {"enforceSessionKeys": ["k"] * 101},
        {"enforceSessionKeys": ["not-a-client-key"]},
    ],
)
def test_enforcement_settings_are_bounded(api: Api, changes: dict[str, Any]) -> None:
    before = api.emulator.config
    answer = api.http.patch(api.base_url + "/_emulator/config", json=changes, timeout=10)
    assert answer.status_code == 400 and error_code(answer) == "validation_error"
    assert answer.json()["fields"] == list(changes)
    assert api.emulator.config == before


def test_a_client_key_that_is_enforced_cannot_be_dropped_alone() -> None:
    with Emulator(hash_cost=4, client_keys=["a", "b"], enforce_session_keys=["b"]) as emulator:
        with pytest.raises(ConfigError, match="clientKeys"):
            emulator.configure(client_keys=["a"])
        emulator.configure(client_keys=["a"], enforce_session_keys=[])  # both at once is fine
    with pytest.raises(ConfigError, match="enforceSessionKeys"):
        Emulator(enforce_session_keys=["unknown"])  # a generated key cannot be named


def test_the_command_line_options() -> None:
    options = ("--db", ":memory:", "--hash-cost", "4")
    keys = ("--client-key", "open", "--client-key", "strict")
    with emulator_process(*options, *keys, "--enforce-session-key", "strict") as (proc, banner):
        base_url = banner[0].rsplit(" ", 1)[1]
        assert "  sessions:   enforced on app endpoints for 1 client key(s)" in banner
        for key, status in (("open", 200), ("strict", 401)):
            got = requests.get(base_url + "/x", headers={"X-Client-Key": key}, timeout=10)
            assert got.status_code == status
        assert stop(proc)[0] == 0
    with emulator_process(*options, "--enforce-session") as (proc, banner):
        assert "  sessions:   enforced on app endpoints" in banner
        assert stop(proc)[0] == 0
    # A key to enforce must be one the emulator takes: a usage error (2) at start.
    refused = subprocess.run(
        [sys.executable, "-m", "agnost", "emulator", *options, "--enforce-session-key", "nope"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert refused.returncode == 2 and "enforceSessionKeys" in refused.stderr


# --- handlers --------------------------------------------------------------------------------


def test_sync_and_async_handlers_get_the_request_and_the_caller(
    agnost_emulator: Emulator, api: Api
) -> None:
    seen: list[EndpointRequest] = []

    @agnost_emulator.endpoint("POST", "/orders")
    def create(request: EndpointRequest) -> Any:
        seen.append(request)
        return {"id": 1, "owner": request.user["_id"] if request.user else None}

    async def listing(request: EndpointRequest) -> Any:
        await asyncio.sleep(0)
        return EndpointReply(203, [{"id": 1}], {"X-Total": "1"})

    agnost_emulator.add_endpoint("get", "/orders", listing)
    user, token = signed_in(api)

    created = call(api, "POST", "/orders?a=1&a=2", token=token, json={"item": "tea"})
    assert created.status_code == 200 and created.json() == {"id": 1, "owner": user["_id"]}
    [request] = seen
    assert (request.method, request.path, request.query) == ("POST", "/orders", {"a": ["1", "2"]})
    assert request.body == {"item": "tea"} and request.user == user
    assert request.session is not None and "token" not in request.session
    assert request.headers["session"] == token  # case-insensitive
    assert token not in repr(request)

    listed = call(api, "GET", "/orders")
    assert listed.status_code == 203 and listed.json() == [{"id": 1}]
    assert listed.headers["X-Total"] == "1"
    assert listed.headers["Content-Type"].startswith("application/json")
    # A path with handlers takes only their methods; HEAD runs GET's.
    assert call(api, "PUT", "/orders").status_code == 405
    assert call(api, "OPTIONS", "/orders").headers["Allow"] == "GET, HEAD, POST, OPTIONS"
    head = call(api, "HEAD", "/orders")
    assert head.status_code == 203 and head.content == b""
    # Other paths keep the echo.
    assert call(api, "GET", "/other").json()["path"] == "/other"


def test_replies_of_every_kind(agnost_emulator: Emulator, api: Api) -> None:
    replies: dict[str, Any] = {
        "/none": None,
        "/text": "just a string",
        "/empty": EndpointReply(204),
        "/html": EndpointReply(502, b"<html>bad gateway</html>", {"Content-Type": "text/html"}),
        "/moved": EndpointReply(302, b"", {"Location": "https://elsewhere.example/"}),
        "/error": EndpointReply(
            401,
            {
                "errors": [
                    {
                        "origin": "client_error",
                        "code": "invalid_session_token",
                        "message": "no",
                        "details": {},
                    }
                ]
            },
        ),
        "/bytes": b"\x00\x01",
    }
    for path, reply in replies.items():
        agnost_emulator.add_endpoint("GET", path, lambda request, reply=reply: reply)
    assert call(api, "GET", "/none").json() is None
    assert call(api, "GET", "/text").json() == "just a string"
    empty = call(api, "GET", "/empty")
    assert empty.status_code == 204 and empty.content == b""
    html = call(api, "GET", "/html")
    assert (html.status_code, html.headers["Content-Type"], html.text) == (
        502, "text/html", "<html>bad gateway</html>"
    )  # fmt: skip
    moved = call(api, "GET", "/moved")
    assert moved.status_code == 302 and moved.headers["Location"] == "https://elsewhere.example/"
    assert error_code(call(api, "GET", "/error")) == "invalid_session_token"
    assert call(api, "GET", "/bytes").content == b"\x00\x01"


def test_enforcement_applies_before_a_handler_runs() -> None:
    ran: list[str] = []
    with Emulator(hash_cost=4, enforce_session=True) as emulator, requests.Session() as http:
        emulator.add_endpoint("DELETE", "/orders/1", lambda request: ran.append("x"))
        http.headers["X-Client-Key"] = emulator.client_key
        answer = http.delete(emulator.base_url + "/orders/1", timeout=10)
        assert answer.status_code == 401 and error_code(answer) == "missing_session_token"
    assert ran == []


@pytest.mark.parametrize(
    "handler",
    [
        pytest.param(lambda request: {}[CANARY], id="sync raises"),
        pytest.param(lambda request: {"v": {1, 2}}, id="not JSON"),
        pytest.param(lambda request: float("nan"), id="NaN"),
        pytest.param(lambda request: EndpointReply(99), id="bad status"),
        pytest.param(lambda request: EndpointReply(200, b"", {"X-A": "a\r\nX-B: b"}), id="CRLF"),
    ],
)
def test_a_failing_handler_is_a_500_and_one_line_without_secrets(
    agnost_emulator: Emulator, api: Api, caplog: pytest.LogCaptureFixture, handler: Any
) -> None:
    agnost_emulator.add_endpoint("POST", "/fails", handler)
    _, token = signed_in(api)
    with caplog.at_level(logging.INFO, logger="agnost.emulator"):
        answer = call(api, "POST", "/fails", token=token, json={"secret": CANARY})
    assert answer.status_code == 500
    item = answer.json()["errors"][0]
    assert (item["origin"], item["code"]) == ("server_error", "internal_server_error")
    [line] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert line.getMessage().startswith("the handler of POST /fails failed: ")
    assert line.exc_info is None
    assert CANARY not in caplog.text and token not in caplog.text
    assert CANARY not in answer.text


async def _async_failure(request: EndpointRequest) -> Any:
    raise RuntimeError(CANARY)


def test_an_async_handler_that_raises_is_a_500_too(agnost_emulator: Emulator, api: Api) -> None:
    agnost_emulator.add_endpoint("GET", "/fails", _async_failure)
    answer = call(api, "GET", "/fails")
    assert answer.status_code == 500 and CANARY not in answer.text
    assert call(api, "GET", "/still-up").status_code == 200


def test_a_slow_sync_handler_does_not_stall_the_server(
    agnost_emulator: Emulator, api: Api
) -> None:
    released = threading.Event()

    def wait(request: EndpointRequest) -> Any:
        # If this ran on the server's loop, the request that sets the event could never be
        # served, and this would wait for the whole 10 s and answer False.
        return {"released": released.wait(10)}

    async def release(request: EndpointRequest) -> Any:
        released.set()
        return {}

    agnost_emulator.add_endpoint("GET", "/wait", wait)
    agnost_emulator.add_endpoint("POST", "/release", release)
    answers: list[Any] = []
    waiting = threading.Thread(target=lambda: answers.append(call(api, "GET", "/wait").json()))
    with requests.Session() as other:
        waiting.start()
        headers = {"X-Client-Key": agnost_emulator.client_key}
        while not released.is_set():
            other.post(agnost_emulator.base_url + "/release", headers=headers, timeout=10)
        waiting.join(20)
    assert answers == [{"released": True}]


class _Counter:
    """A callable object with an async ``__call__``: awaited on the loop like a function."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, request: EndpointRequest) -> Any:
        self.calls += 1
        return {"calls": self.calls}


def test_handlers_may_be_callable_objects_and_are_replaced_by_a_later_one(
    agnost_emulator: Emulator, api: Api
) -> None:
    counter = _Counter()
    agnost_emulator.add_endpoint("PATCH", "/count", counter)
    assert call(api, "PATCH", "/count").json() == {"calls": 1}
    agnost_emulator.add_endpoint("PATCH", "/count", lambda request: "replaced")
    assert call(api, "PATCH", "/count").json() == "replaced"


@pytest.mark.parametrize(
    ("method", "path", "error"),
    [
        ("TRACE", "/x", ValueError),
        ("OPTIONS", "/x", ValueError),
        ("GET", "x", ValueError),
        ("GET", "/x?a=1", ValueError),
        ("GET", "/x#top", ValueError),
        ("GET", AUTH + "/user", ValueError),
        ("GET", "/_auth/google", ValueError),
        ("GET", "/_emulator", ValueError),
        ("GET", "/_emulator/config", ValueError),
    ],
)
def test_handlers_only_for_app_endpoints(method: str, path: str, error: type[Exception]) -> None:
    emulator = Emulator()  # not started: handlers may be registered before start
    with pytest.raises(error):
        emulator.add_endpoint(method, path, lambda request: None)


def test_a_handler_must_be_callable() -> None:
    with pytest.raises(TypeError):
        Emulator().add_endpoint("GET", "/x", "not callable")  # type: ignore[arg-type]


def test_handlers_registered_before_start_are_served() -> None:
    emulator = Emulator(hash_cost=4)
    emulator.add_endpoint("GET", "/ping", lambda request: "pong")
    with emulator, requests.Session() as http:
        http.headers["X-Client-Key"] = emulator.client_key
        assert http.get(emulator.base_url + "/ping", timeout=10).json() == "pong"
