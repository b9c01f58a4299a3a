"""The client key, and the §5 error shapes for everything the emulator refuses."""

from __future__ import annotations

import pytest
import requests

from .conftest import AUTH, PASSWORD, Api, error_code


def test_a_missing_client_key_is_401(api: Api) -> None:
    answer = requests.post(
        api.base_url + AUTH + "/signin-email", json={"email": "a@b.co", "password": PASSWORD}
    )
    assert (answer.status_code, error_code(answer)) == (401, "missing_client_key")


def test_an_unknown_client_key_is_401(api: Api) -> None:
    answer = api.get("/sessions", headers={"X-Client-Key": "someone-elses-key"})
    assert (answer.status_code, error_code(answer)) == (401, "invalid_client_key")
    item = answer.json()["errors"][0]
    assert item["origin"] == "client_error" and item["details"] == {} and item["message"]


def test_any_configured_client_key_is_accepted(api: Api) -> None:
    api.emulator.configure(client_keys=["key-one", "key-two"])
    for key in ("key-one", "key-two"):
        answer = api.get("/sessions", headers={"X-Client-Key": key})
        assert error_code(answer) == "missing_session_token"  # past the key check
    assert error_code(api.get("/sessions")) == "invalid_client_key"  # the old key is gone


#: The §3 paths of issue 11, once answered 501 (see tests/emulator/test_flows_*.py).
ISSUE_11_PATHS = (
    "signin-code",
    "change-pwd",
    "change-email",
    "change-phone",
    "verify-phone",
    "resend",
    "resend-code",
    "send-magic",
    "send-reset",
    "send-reset-code",
    "send-code",
    "reset-pwd",
    "reset-pwd-code",
)


@pytest.mark.parametrize("name", ISSUE_11_PATHS)
def test_every_auth_path_is_implemented(api: Api, name: str) -> None:
    answer = api.post(f"/{name}?email=a@b.co&phone=%2B15555550100&code=1&key=k", {})
    assert answer.status_code not in (404, 405, 501), answer.text
    assert error_code(answer) != "not_implemented" if answer.status_code >= 400 else True


@pytest.mark.parametrize("name", ISSUE_11_PATHS)
def test_the_issue_11_paths_need_the_client_key(api: Api, name: str) -> None:
    answer = requests.post(api.base_url + AUTH + f"/{name}?email=a@b.co")
    assert (answer.status_code, error_code(answer)) == (401, "missing_client_key")


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/_api/rest/v1/auth/no-such-thing", 404, "not_found"),
        ("GET", "/nowhere", 404, "not_found"),
        ("GET", "/_api/rest/v1/auth/signin-email", 405, "method_not_allowed"),
        ("POST", "/_api/rest/v1/auth/sessions", 405, "method_not_allowed"),
    ],
)
def test_routing_errors_are_json(api: Api, method: str, path: str, status: int, code: str) -> None:
    answer = api._send(method, path, token=None)
    assert answer.status_code == status
    assert answer.headers["Content-Type"].startswith("application/json")
    assert error_code(answer) == code


def test_an_oversized_body_is_a_json_413(api: Api) -> None:
    answer = api.post(
        "/signin-email",
        data=b"x" * (2 * 1024 * 1024),
        headers={"Content-Type": "application/json"},
    )
    assert (answer.status_code, error_code(answer)) == (413, "request_entity_too_large")


def test_a_browser_app_on_another_origin_may_call_the_api(api: Api) -> None:
    origin = {"Origin": "http://localhost:3000"}
    preflight = api._send(
        "OPTIONS",
        "/signin-email",
        token=None,
        headers={**origin, "Access-Control-Request-Headers": "x-client-key,session"},
    )
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    assert preflight.headers["Access-Control-Allow-Credentials"] == "true"
    allowed = preflight.headers["Access-Control-Allow-Headers"].lower()
    assert all(h in allowed for h in ("x-client-key", "session", "content-type"))

    refused = api.get("/sessions", headers=origin)  # error answers too, so JS can read them
    assert refused.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    assert "Access-Control-Allow-Origin" not in api.get("/sessions").headers
