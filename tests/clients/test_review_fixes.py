"""Fixes of the adversarial review of issue 8, in the clients: a caller's own requests adapter
is kept, a caller's retries never re-send a POST nor sleep past the deadline, one reason
phrase in both flavours, closed and odd arguments refused, and one proxy policy (the
environment's HTTP(S)_PROXY / NO_PROXY, never ~/.netrc) for both flavours."""

from __future__ import annotations

import io
import socket
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import requests
import requests.adapters
from urllib3.util.retry import Retry

import agnost

from ._support import AUTH, PREFIX, Flavour, signed_in
from .test_socket_faults import FaultServer, head, send

TIMEOUT = agnost.Timeout(total=1.0, connect=1.0)
ERROR = b'{"errors":[{"code":"x_code","message":"m"}]}'


def _port(server: FaultServer) -> int:
    return int(server.env_url.split(":")[2].split("/")[0])


# --- F4: a caller's adapter is the caller's ---------------------------------------------------


class _Tagging(requests.adapters.HTTPAdapter):
    def add_headers(self, request: requests.PreparedRequest, **kwargs: Any) -> None:
        request.headers["X-Corp-Auth"] = "corp"


class _Local(requests.adapters.BaseAdapter):
    """Answers every request itself, as requests-mock and the like do."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self.urls.append(request.url or "")
        response = requests.Response()
        response.status_code = 200
        response.reason = "OK"
        response.raw = io.BytesIO(b"[]")
        response.url = request.url or ""
        response.request = request
        return response

    def close(self) -> None:
        pass


def test_an_http_adapter_subclass_of_the_caller_is_kept_and_used() -> None:
    with FaultServer(send(head("200 OK", "Content-Length: 2") + b"[]")) as server:
        session = requests.Session()
        session.mount("http://", _Tagging())
        client = agnost.create_client(
            server.env_url, "ck", storage=agnost.MemoryStore(), http_session=session
        )

        assert client.auth.get_all_sessions() == []
        assert type(session.get_adapter(server.env_url + "/")) is _Tagging

    assert b"X-Corp-Auth: corp" in server.heads[0]


def test_a_base_adapter_of_the_caller_answers_the_calls() -> None:
    local = _Local()
    session = requests.Session()
    session.mount("http://", local)
    client = agnost.create_client(
        "http://agnost-env.test/e", "ck", storage=agnost.MemoryStore(), http_session=session
    )

    assert client.auth.get_all_sessions() == []
    assert local.urls == [f"http://agnost-env.test/e{AUTH}/sessions"]


# --- F5: a caller's retries ---------------------------------------------------------------------


def _retrying_session(retry: Retry) -> requests.Session:
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(max_retries=retry))
    return session


def test_a_retry_after_longer_than_the_deadline_times_out_at_once() -> None:
    busy = head("503 Busy", "Retry-After: 3", "Content-Length: 0", "Connection: close")
    with FaultServer(send(busy)) as server:
        session = _retrying_session(Retry(total=2, status_forcelist=[503], backoff_factor=0))
        client = agnost.create_client(
            server.env_url,
            "ck",
            storage=agnost.MemoryStore(),
            http_session=session,
            timeout=TIMEOUT,
        )
        started = time.monotonic()

        with pytest.raises(agnost.RequestTimeoutError):
            client.auth.get_all_sessions()

    assert time.monotonic() - started < 3 * TIMEOUT.total  # type: ignore[operator]
    assert len(server.heads) == 1


def test_a_backoff_longer_than_the_deadline_times_out_within_it() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    session = _retrying_session(Retry(total=10, backoff_factor=0.5))
    client = agnost.create_client(
        f"http://127.0.0.1:{port}{PREFIX}",
        "ck",
        storage=agnost.MemoryStore(),
        http_session=session,
        timeout=TIMEOUT,
    )
    started = time.monotonic()

    with pytest.raises(agnost.TransportError):
        client.auth.get_all_sessions()

    assert time.monotonic() - started < 3 * TIMEOUT.total  # type: ignore[operator]


@pytest.mark.parametrize("allowed", [None, frozenset({"POST", "GET"})])
def test_a_post_is_never_retried_whatever_the_callers_retries(allowed: Any) -> None:
    def read_then_close(conn: socket.socket, server: FaultServer) -> None:
        conn.shutdown(socket.SHUT_WR)

    with FaultServer(read_then_close) as server:
        session = _retrying_session(Retry(total=3, allowed_methods=allowed))
        client = agnost.create_client(
            server.env_url,
            "ck",
            storage=agnost.MemoryStore(),
            http_session=session,
            timeout=agnost.Timeout(total=5.0),
        )

        with pytest.raises(agnost.ConnectError):
            client.auth.sign_in_with_email("ada@example.com", "pw-123456")
        time.sleep(0.2)  # a retry would have arrived by now

    assert len(server.heads) == 1


# --- F6: one reason phrase ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "reason", ["Mauvaise requête".encode(), "Mauvaise requête".encode("latin-1"), b"\xff\xfe"]
)
def test_the_reason_phrase_is_its_bytes_read_as_latin_1_in_both(
    flavour: Flavour, reason: bytes
) -> None:
    answer = b"HTTP/1.1 400 " + reason + b"\r\nContent-Length: %d\r\n\r\n" % len(ERROR) + ERROR
    with FaultServer(send(answer)) as server:
        client = signed_in(flavour, server.env_url, timeout=TIMEOUT)

        error = flavour.raises(agnost.APIError, client, "get_all_sessions")

    assert error.status_text == reason.decode("latin-1")
    str(error).encode("utf-8")  # always encodable


# --- F11: arguments ---------------------------------------------------------------------------


@pytest.mark.parametrize("value", [True, False, 0, -1])
def test_max_response_bytes_must_be_a_positive_int_not_a_bool(
    flavour: Flavour, value: object
) -> None:
    with pytest.raises(agnost.InvalidArgumentTypeError) as info:
        flavour.make("http://127.0.0.1:1", max_response_bytes=value)

    assert info.value.code == "invalid_max_response_bytes"


def test_a_closed_aiohttp_session_is_refused_and_one_closed_later_is_a_transport_error() -> None:
    with Flavour("async") as flavour:

        async def closed() -> aiohttp.ClientSession:
            session = aiohttp.ClientSession()
            await session.close()
            return session

        with pytest.raises(agnost.InvalidArgumentError) as info:
            flavour.make("http://127.0.0.1:1", http_session=flavour.run(closed()))
        assert info.value.code == "invalid_http_session"

        async def opened() -> aiohttp.ClientSession:
            return aiohttp.ClientSession()

        session = flavour.run(opened())
        client = flavour.make("http://127.0.0.1:1", http_session=session)
        flavour.run(session.close())

        error = flavour.raises(agnost.TransportError, client, "get_all_sessions")
        assert "http_session is closed" in str(error)


# --- F12: proxies from the environment, credentials never from ~/.netrc -------------------------


def test_both_flavours_go_through_the_environments_proxy_without_netrc(
    flavour: Flavour, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    grant = head("200 OK", "Content-Type: application/json", "Content-Length: 2") + b"[]"
    with FaultServer(send(grant)) as proxy:
        (tmp_path / ".netrc").write_text(
            "machine agnost-env.test login user password netrc-secret\n"
            "machine 127.0.0.1 login user password netrc-secret\n"
        )
        (tmp_path / ".netrc").chmod(0o600)
        monkeypatch.setenv("HOME", str(tmp_path))
        monkeypatch.delenv("NETRC", raising=False)
        for name in ("NO_PROXY", "no_proxy", "http_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{_port(proxy)}")
        client = signed_in(flavour, "http://agnost-env.test/e", timeout=TIMEOUT)

        assert flavour.call(client, "get_all_sessions") == []

    request_line, *lines = proxy.heads[0].split(b"\r\n")
    assert request_line == f"GET http://agnost-env.test/e{AUTH}/sessions HTTP/1.1".encode()
    assert not any(b"authorization" in line.lower() for line in lines)
    assert b"netrc-secret" not in proxy.heads[0]


def test_no_proxy_sends_both_flavours_direct(
    flavour: Flavour, monkeypatch: pytest.MonkeyPatch
) -> None:
    answer = head("200 OK", "Content-Length: 2") + b"[]"
    with FaultServer(send(answer)) as proxy, FaultServer(send(answer)) as server:
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{_port(proxy)}")
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        client = signed_in(flavour, server.env_url, timeout=TIMEOUT)

        assert flavour.call(client, "get_all_sessions") == []

    assert proxy.heads == [] and len(server.heads) == 1
