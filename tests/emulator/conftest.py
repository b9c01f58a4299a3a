"""Raw-HTTP helpers for the emulator's own tests: requests against a real emulator."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from agnost.emulator import Emulator

AUTH = "/_api/rest/v1/auth"
PASSWORD = "correct horse"


class Api:
    """Speaks the wire protocol to one emulator, with its client key, through requests."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.base_url = emulator.base_url
        self.http = requests.Session()
        self.http.headers["X-Client-Key"] = emulator.client_key

    def post(self, path: str, json: Any = None, *, token: str | None = None, **kw: Any) -> Any:
        """POST to an auth path (``"/signin-email"``) or an absolute path (``"/_emulator/"``)."""
        return self._send("POST", path, json=json, token=token, **kw)

    def get(self, path: str, *, token: str | None = None, **kw: Any) -> Any:
        """GET an auth path or an absolute path."""
        return self._send("GET", path, token=token, **kw)

    def _send(self, method: str, path: str, *, token: str | None, **kw: Any) -> Any:
        url = self.base_url + (path if path.startswith("/_") else AUTH + path)
        headers = dict(kw.pop("headers", {}))
        if token is not None:
            headers["Session"] = token
        kw.setdefault("allow_redirects", False)
        return self.http.request(method, url, headers=headers, timeout=10, **kw)

    def sign_up(
        self, email: str = "ada@example.com", password: str = PASSWORD, **body: Any
    ) -> Any:
        """Sign up by email and return the answer's JSON (asserting it succeeded)."""
        answer = self.post("/signup-email", {"email": email, "password": password, **body})
        assert answer.status_code == 200, answer.text
        return answer.json()

    def sign_in(self, email: str = "ada@example.com", password: str = PASSWORD) -> str:
        """Sign in by email and return the new session's token."""
        answer = self.post("/signin-email", {"email": email, "password": password})
        assert answer.status_code == 200, answer.text
        token: str = answer.json()["session"]["token"]
        return token


def error_code(answer: requests.Response) -> str:
    """The code of an error answer, whichever §5 shape it has."""
    body = answer.json()
    items = body.get("errors", [body])
    code: str = items[0]["code"]
    return code


def connect(emulator: Emulator, timeout: float = 5.0) -> socket.socket:
    """A raw TCP connection to ``emulator``, with ``timeout`` on every socket call."""
    parts = urlsplit(emulator.base_url)
    conn = socket.create_connection((parts.hostname, parts.port), timeout=timeout)
    return conn


def read_answer(conn: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Read one HTTP answer (with a Content-Length) from ``conn``: status, headers
    (lower-case names), body. Raises ConnectionError if the connection closes first."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed after {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines)}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            raise ConnectionError("closed inside the body")
        body += chunk
    return int(status_line.split()[1]), headers, body[:length]


def closed_by_server(conn: socket.socket) -> bool:
    """Whether the server has closed ``conn`` (reading gives EOF or a reset); False if the
    socket's timeout passes first. Data that arrives before the close is dropped."""
    try:
        while conn.recv(65536):
            pass
    except ConnectionError:
        return True
    except TimeoutError:
        return False
    return True


def raw_exchange(emulator: Emulator, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``request`` bytes as they are on a new connection and read the answer."""
    with connect(emulator) as conn:
        conn.sendall(request)
        return read_answer(conn)


@pytest.fixture
def api(agnost_emulator: Emulator) -> Iterator[Api]:
    """An :class:`Api` on the plugin's per-test emulator."""
    client = Api(agnost_emulator)
    with client.http:
        yield client


# --- one-time codes and links (tests/emulator/test_flows_*.py) -------------------------------

PHONE = "+15555550100"


def outbox(api: Api, kind: str | None = None, recipient: str | None = None) -> list[Any]:
    """The outbox over HTTP (``GET /_emulator/outbox``), filtered by ``kind``/``recipient``."""
    params = {k: v for k, v in (("kind", kind), ("recipient", recipient)) if v is not None}
    answer = api.get("/_emulator/outbox", params=params)
    assert answer.status_code == 200, answer.text
    messages: list[Any] = answer.json()["messages"]
    return messages


def last_message(api: Api, kind: str, recipient: str | None = None) -> Any:
    """The newest outbox message of ``kind`` (to ``recipient``), asserting there is one."""
    messages = outbox(api, kind, recipient)
    assert messages, f"no {kind} message to {recipient}"
    return messages[-1]


def wrong_code(code: str) -> str:
    """A code of the same length that is not ``code``."""
    return "".join(str((int(c) + 1) % 10) for c in code)


def sign_up_phone(api: Api, phone: str = PHONE, password: str = PASSWORD) -> Any:
    """Sign up by phone and return the answer's JSON (asserting it succeeded)."""
    answer = api.post("/signup-phone", {"phone": phone, "password": password})
    assert answer.status_code == 200, answer.text
    return answer.json()
