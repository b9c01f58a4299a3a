"""Which browser pages may call the emulator: loopback origins and the configured ones may call
the API; no other page may, and no page at all may call ``/_emulator/*``."""

from __future__ import annotations

import pytest
import requests

from agnost.emulator import ConfigError, Emulator, EmulatorConfig

from .conftest import Api, error_code

EVIL = "https://evil.example"
ALLOWED_HEADERS = "x-client-key,session,content-type"


def preflight(api: Api, path: str, origin: str, method: str = "POST") -> requests.Response:
    headers = {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": ALLOWED_HEADERS,
    }
    answer: requests.Response = api._send("OPTIONS", path, token=None, headers=headers)
    return answer


def no_cors(answer: requests.Response) -> bool:
    return not any(name.lower().startswith("access-control-") for name in answer.headers)


@pytest.mark.parametrize(
    "origin",
    ["http://localhost:3000", "http://127.0.0.1:5173", "http://127.8.9.10", "http://[::1]:8080"],
)
def test_pages_on_loopback_origins_may_call_the_api(api: Api, origin: str) -> None:
    answer = preflight(api, "/signin-email", origin)
    assert answer.status_code == 204
    assert answer.headers["Access-Control-Allow-Origin"] == origin
    assert answer.headers["Access-Control-Allow-Credentials"] == "true"
    signed_up = api.post(
        "/signup-email",
        {"email": "ada@example.com", "password": "correct horse"},
        headers={"Origin": origin},
    )
    assert signed_up.status_code == 200
    assert signed_up.headers["Access-Control-Allow-Origin"] == origin


@pytest.mark.parametrize(
    "origin",
    [
        EVIL,
        "null",
        "http://localhost.evil.example:3000",
        "http://127.0.0.1.evil.example",
        "http://192.168.1.20:3000",
        "not an origin",
    ],
)
def test_pages_on_other_origins_may_not_call_the_api(api: Api, origin: str) -> None:
    token = api.sign_up()["session"]["token"]

    answer = preflight(api, "/signout-all", origin)
    assert answer.status_code == 403 and no_cors(answer)
    assert error_code(answer) == "origin_not_allowed"
    # A "simple" cross-origin POST needs no preflight: it is refused before it does anything.
    signed_out = api.post("/signout-all", headers={"Origin": origin, "Session": token})
    assert signed_out.status_code == 403 and no_cors(signed_out)
    assert api.get("/user", token=token).status_code == 200
    # A GET is served (it changes nothing) without CORS headers: the page cannot read it.
    read = api.get("/user", token=token, headers={"Origin": origin})
    assert read.status_code == 200 and no_cors(read)


@pytest.mark.parametrize("origin", [EVIL, "http://localhost:3000", "http://127.0.0.1:9"])
def test_no_browser_page_may_call_the_emulator_endpoints(api: Api, origin: str) -> None:
    api.emulator.configure(email_confirmation=True, cors_origins=[EVIL])
    api.sign_up()
    headers = {"Origin": origin}

    for path in ("/_emulator/config", "/_emulator/outbox", "/_emulator/"):
        answer = api.get(path, headers=headers)
        assert answer.status_code == 200 and no_cors(answer), path
    for method in ("PATCH", "DELETE", "POST"):
        answer = preflight(api, "/_emulator/config", origin, method)
        assert answer.status_code == 403 and no_cors(answer)
    patched = api._send(
        "PATCH", "/_emulator/config", token=None, json={"hashCost": 5}, headers=headers
    )
    reset = api.post("/_emulator/reset", headers=headers)
    cleared = api._send("DELETE", "/_emulator/outbox", token=None, headers=headers)
    for answer in (patched, reset, cleared):
        assert answer.status_code == 403 and no_cors(answer)
        assert error_code(answer) == "origin_not_allowed"
    assert api.emulator.config["hashCost"] == 4
    assert len(api.emulator.outbox()) == 1
    # Without an Origin (curl, tests, Node), the emulator endpoints work as before.
    assert api.post("/_emulator/reset").status_code == 200


def test_configured_origins_may_call_the_api(api: Api) -> None:
    assert preflight(api, "/signin-email", "https://app.example:8443").status_code == 403

    api.emulator.configure(cors_origins=["HTTPS://App.Example:8443/", "http://app.test"])

    assert api.emulator.config["corsOrigins"] == ["https://app.example:8443", "http://app.test"]
    for origin in ("https://app.example:8443", "http://app.test"):
        answer = preflight(api, "/signin-email", origin)
        assert answer.status_code == 204
        assert answer.headers["Access-Control-Allow-Origin"] == origin
    # The same host on another port or scheme is another origin.
    assert preflight(api, "/signin-email", "https://app.example").status_code == 403
    assert preflight(api, "/signin-email", "https://app.test").status_code == 403


@pytest.mark.parametrize(
    "bad",
    [
        "*",
        "app.example",
        "https://app.example/path",
        "https://app.example?x=1",
        "ftp://app.example",
        "https://user@app.example",
        "https://app.example:99999",
        42,
    ],
)
def test_a_configured_origin_must_be_an_origin(api: Api, bad: object) -> None:
    answer = api._send("PATCH", "/_emulator/config", token=None, json={"corsOrigins": [bad]})
    assert answer.status_code == 400 and error_code(answer) == "validation_error"
    with pytest.raises(ConfigError, match="corsOrigins"):
        EmulatorConfig(cors_origins=(bad,))  # type: ignore[arg-type]
    assert api.emulator.config["corsOrigins"] == []


def test_origins_given_at_start() -> None:
    with Emulator(hash_cost=4, cors_origins=("http://app.test:3000",)) as emulator:
        api = Api(emulator)
        answer = preflight(api, "/signin-email", "http://app.test:3000")
        assert answer.headers["Access-Control-Allow-Origin"] == "http://app.test:3000"
