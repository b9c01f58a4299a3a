"""Issue 8 on the transports: the total timeout over a caller's own HTTP session, the env URL
on the wire, the type of ``http_session``, and access tokens kept out of library logs."""

from __future__ import annotations

import logging
import time
from typing import Any

import aiohttp
import pytest
import requests

import agnost
import agnost_async
from agnost.emulator import Emulator

from ._support import AUTH, CLIENT_KEY, Flavour, RecordingServer, json_reply, signed_in
from .test_socket_faults import OK_EMPTY, TIMEOUT, FaultServer, trickle


def _caller_session_call(flavour: Flavour, url: str, method_name: str, *args: Any) -> Any:
    """Call ``client.auth.<method_name>`` through a client given the caller's own session."""
    if flavour.is_async:

        async def run() -> Any:
            async with aiohttp.ClientSession() as http:
                client = agnost_async.create_client(
                    url,
                    CLIENT_KEY,
                    storage=agnost.MemoryStore(),
                    http_session=http,
                    timeout=TIMEOUT,
                )
                try:
                    return await getattr(client.auth, method_name)(*args)
                finally:
                    await client.aclose()

        return flavour.run(run())
    with requests.Session() as http:
        client = agnost.create_client(
            url, CLIENT_KEY, storage=agnost.MemoryStore(), http_session=http, timeout=TIMEOUT
        )
        with client:
            return getattr(client.auth, method_name)(*args)


def test_the_total_timeout_holds_over_a_callers_session(flavour: Flavour) -> None:
    with FaultServer(trickle(OK_EMPTY, 0.5)) as server:
        started = time.monotonic()
        with pytest.raises(agnost.RequestTimeoutError):
            _caller_session_call(flavour, server.env_url, "sign_out_all")

    assert time.monotonic() - started < 3 * TIMEOUT.total  # type: ignore[operator]


def test_a_callers_session_keeps_its_other_adapters_and_their_settings() -> None:
    retries = requests.adapters.HTTPAdapter(max_retries=2, pool_maxsize=3)
    with requests.Session() as http, RecordingServer() as server:
        http.mount("http://", retries)
        agnost.create_client(
            server.env_url, CLIENT_KEY, storage=agnost.MemoryStore(), http_session=http
        )

        ours = http.get_adapter(server.env_url + "/x")
        assert http.get_adapter("http://elsewhere.example/") is retries
        assert ours is not retries and ours.max_retries.total == 2  # type: ignore[attr-defined]
        assert http.get_adapter(server.url + "/not-the-env") is retries


@pytest.mark.parametrize("path", ["/my env/é", "/xX-Injected: 1/"])
def test_the_env_url_path_is_the_same_bytes_in_both_flavours(
    flavour: Flavour, server: RecordingServer, path: str
) -> None:
    client = signed_in(flavour, server.url + path)
    server.script(json_reply([]))

    flavour.call(client, "get_all_sessions")

    assert server.last.target in (
        "/my%20env/%C3%A9" + AUTH + "/sessions",
        "/xX-Injected:%201" + AUTH + "/sessions",
    )
    assert len([n for n in server.last.names if n == "x-injected"]) == 0


@pytest.mark.parametrize(
    "url",
    ["http://user:pw-canary@127.0.0.1:1/e", "http://127.0.0.1:1/e?x=1", "http://127.0.0.1:abc"],
)
def test_an_unusable_env_url_is_refused_by_both_flavours(flavour: Flavour, url: str) -> None:
    with pytest.raises(agnost.InvalidArgumentError) as info:
        flavour.make(url, api_key="api-key")

    assert info.value.code == "invalid_env_url"
    assert "pw-canary" not in str(info.value)


def test_http_session_of_the_wrong_type_is_refused(flavour: Flavour) -> None:
    wrong = aiohttp.ClientSession if not flavour.is_async else requests.Session
    for value in (object(), "session", wrong):
        with pytest.raises(agnost.InvalidArgumentTypeError) as info:
            flavour.make("http://127.0.0.1:1/e", http_session=value)
        assert info.value.code == "invalid_http_session"


def test_no_library_log_shows_the_access_token(
    flavour: Flavour, agnost_emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    agnost_emulator.configure(email_confirmation=True)
    client = flavour.make(agnost_emulator.base_url, agnost_emulator.client_key)
    flavour.call(client, "sign_up_with_email", "logs@example.com", "secret-pass")
    [message] = agnost_emulator.outbox(recipient="logs@example.com")
    token = message.access_token or ""
    assert token

    with caplog.at_level(logging.DEBUG):
        grant = flavour.call(client, "get_auth_grant", token)
        with pytest.raises(agnost.AccessTokenError):  # spent: an error path logs too
            flavour.call(client, "get_auth_grant", token)

    assert grant.session is not None
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert token not in logged and grant.session.token not in logged
    assert "/grant" in logged or flavour.is_async  # urllib3 did log the request


def test_urllib3_logs_of_other_requests_keep_their_query(
    server: RecordingServer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="urllib3"):
        requests.get(server.url + "/other?page=2", timeout=5)

    assert any("/other?page=2" in r.getMessage() for r in caplog.records)
