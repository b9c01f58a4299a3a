"""The blocking client's own ``requests.Session`` is sent on without ``Session.request``
(agnost's transport prepares the request and calls the adapter itself, and works the
environment's proxy settings out again only when the environment changed): what goes on the
wire is what ``Session.request`` sends, and a change of the environment between two calls of
one client is followed at once."""

from __future__ import annotations

import contextlib

import pytest
import requests

import agnost

from ._support import AUTH, PREFIX, signed_in_store
from .test_socket_faults import FaultServer, head, send

TIMEOUT = agnost.Timeout(total=2.0, connect=2.0)
ANSWER = (
    head("200 OK", "Content-Type: application/json", "Content-Length: 2", "Connection: close")
    + b"[]"
)
CALLS = [
    ("get_all_sessions", ()),
    ("sign_out", ()),
    ("change_password", ("new-pass-1", "old-pass-0")),
    ("sign_in_with_email", ("ada@example.com", "pw")),
]


def _port(server: FaultServer) -> int:
    return int(server.env_url.split(":")[2].split("/")[0])


def _call(client: agnost.Client, name: str, *args: object) -> None:
    # The canned answer does not fit every call: only what was sent matters.
    with contextlib.suppress(agnost.AgnostError):
        getattr(client.auth, name)(*args)


@pytest.fixture(autouse=True)
def _no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(("name", "args"), CALLS, ids=[name for name, _ in CALLS])
def test_the_own_session_sends_what_session_request_sends(name: str, args: tuple[str]) -> None:
    with FaultServer(send(ANSWER)) as server:
        own = agnost.create_client(
            server.env_url, "ck", storage=signed_in_store(), timeout=TIMEOUT
        )
        # A caller's session goes through Session.request, as before.
        given = agnost.create_client(
            server.env_url,
            "ck",
            storage=signed_in_store(),
            timeout=TIMEOUT,
            http_session=requests.Session(),
        )
        _call(own, name, *args)
        _call(given, name, *args)

    assert len(server.heads) == 2
    assert server.heads[0] == server.heads[1]
    assert server.heads[0].split(b"\r\n")[0].endswith(b" HTTP/1.1")


def test_a_proxy_set_between_two_calls_of_one_client_is_used_then_no_proxy_is_followed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with FaultServer(send(ANSWER)) as proxy, FaultServer(send(ANSWER)) as server:
        client = agnost.create_client(
            server.env_url, "ck", storage=signed_in_store(), timeout=TIMEOUT
        )
        assert client.auth.get_all_sessions() == []
        assert len(server.heads) == 1 and proxy.heads == []

        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{_port(proxy)}")
        assert client.auth.get_all_sessions() == []
        assert len(server.heads) == 1 and len(proxy.heads) == 1
        request_line = proxy.heads[0].split(b"\r\n")[0]
        assert request_line == f"GET {server.env_url}{AUTH}/sessions HTTP/1.1".encode()

        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        assert client.auth.get_all_sessions() == []
        assert len(server.heads) == 2 and len(proxy.heads) == 1

        monkeypatch.delenv("NO_PROXY")
        assert client.auth.get_all_sessions() == []
        assert len(server.heads) == 2 and len(proxy.heads) == 2


def test_a_proxy_set_before_the_first_call_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    with FaultServer(send(ANSWER)) as proxy:
        monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{_port(proxy)}")
        client = agnost.create_client(
            f"http://agnost-direct.test{PREFIX}", "ck", storage=signed_in_store(), timeout=TIMEOUT
        )
        assert client.auth.get_all_sessions() == []
        assert client.auth.get_all_sessions() == []

    assert len(proxy.heads) == 2
    assert proxy.heads[1].startswith(f"GET http://agnost-direct.test{PREFIX}{AUTH}/".encode())
