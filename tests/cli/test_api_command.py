"""``agnost api METHOD PATH``, end to end: real subprocesses against a real emulator, with the
session that ``agnost auth sign-in`` stored."""

from __future__ import annotations

import json
import os
import pty
import select
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import agnost
from agnost.emulator import Emulator, EndpointReply, EndpointRequest
from tests.cli._support import PASSWORD, cli_runner, emulator_env

Run = Callable[..., subprocess.CompletedProcess[bytes]]


@pytest.fixture
def cli(agnost_emulator: Emulator, data_dir: Path) -> Run:
    """Run ``python -m agnost ...`` against the test's emulator; output as bytes."""
    return cli_runner(agnost_emulator, data_dir, text=False)


def stored_client(agnost_emulator: Emulator, data_dir: Path, monkeypatch: Any) -> agnost.Client:
    """A Python client on the same stored session as the command line."""
    monkeypatch.setenv("AGNOST_DATA_DIR", str(data_dir))
    return agnost.create_client(agnost_emulator.base_url, agnost_emulator.client_key)


@pytest.fixture
def token(cli: Run, agnost_emulator: Emulator, data_dir: Path, monkeypatch: Any) -> str:
    """Sign Ada up through the command line; the token it stored."""
    done = cli(
        "auth", "sign-up", "--email", "ada@example.com", "--password-stdin",
        stdin=PASSWORD.encode() + b"\n",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    with stored_client(agnost_emulator, data_dir, monkeypatch) as client:
        stored = client.session_token
    assert stored
    return stored


def no_token(done: subprocess.CompletedProcess[bytes], token: str) -> None:
    assert token.encode() not in done.stdout + done.stderr


def test_get_sends_the_stored_session_and_prints_the_body_as_it_came(cli: Run, token: str) -> None:
    done = cli("api", "get", "/orders/7", "-F", "tag=a", "-F", "tag=b c", "-F", "q=x+y&z")
    assert done.returncode == 0, done.stderr
    echo = json.loads(done.stdout)
    assert echo["method"] == "GET" and echo["path"] == "/orders/7"
    assert echo["query"] == {"tag": ["a", "b c"], "q": "x+y&z"}
    assert echo["user"]["email"] == "ada@example.com" and echo["session"]["userId"]
    no_token(done, token)


def test_a_json_body_from_a_file_or_stdin(cli: Run, token: str, tmp_path: Path) -> None:
    body = {"item": "thé", "n": [1, 2.5, None], "deep": {"k": True}}
    path = tmp_path / "body.json"
    path.write_text(json.dumps(body), encoding="utf-8")
    from_file = cli("api", "PUT", "/orders/7", "--input", str(path))
    assert from_file.returncode == 0, from_file.stderr
    assert json.loads(from_file.stdout)["body"] == body
    from_stdin = cli("api", "PATCH", "orders/7", "--input", "-", stdin=b"null")
    assert json.loads(from_stdin.stdout)["body"] is None
    assert json.loads(from_stdin.stdout)["method"] == "PATCH"


def test_json_and_include(cli: Run, token: str) -> None:
    done = cli("api", "POST", "/orders", "--json", "--include", "--input", "-", stdin=b"[1]")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["ok"] is True and document["status"] == 200
    assert document["reason"] == "OK"
    assert document["headers"]["Content-Type"].startswith("application/json")
    assert document["body"]["body"] == [1]
    human = cli("api", "DELETE", "/orders/7", "-i")
    head, _, rest = human.stdout.partition(b"\n\n")
    assert head.splitlines()[0] == b"HTTP 200 OK"
    assert b"Content-Type: application/json" in head
    assert json.loads(rest)["method"] == "DELETE"


def test_headers_reach_the_endpoint_and_the_session_is_the_stored_one(
    cli: Run, agnost_emulator: Emulator, token: str
) -> None:
    seen: list[EndpointRequest] = []
    agnost_emulator.add_endpoint("GET", "/seen", lambda request: seen.append(request))
    done = cli("api", "GET", "/seen", "-H", "X-Trace: abc 1", "-H", "Accept-Language:fr")
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"null"
    [request] = seen
    assert request.headers["X-Trace"] == "abc 1" and request.headers["Accept-Language"] == "fr"
    assert request.headers["Session"] == token
    assert request.headers["X-Client"] == "agnost-python"


def test_the_token_is_never_printed(cli: Run, agnost_emulator: Emulator, token: str) -> None:
    # An endpoint that (badly) hands the session back, in its body and a header.
    def leaky(request: EndpointRequest) -> Any:
        sent = request.headers["Session"]
        return EndpointReply(200, {"yours": sent}, {"Set-Cookie": f"session_token={sent}"})

    agnost_emulator.add_endpoint("GET", "/leaky", leaky)
    for options in ((), ("--raw",), ("--json",), ("-i",), ("--json", "-i")):
        done = cli("api", "GET", "/leaky", *options)
        assert done.returncode == 0, done.stderr
        no_token(done, token)
        assert b"[hidden]" in done.stdout
    shown = cli("api", "GET", "/leaky", "--show-token")
    assert json.loads(shown.stdout) == {"yours": token}


def test_raw_prints_the_exact_bytes(cli: Run, agnost_emulator: Emulator, token: str) -> None:
    content = b"\x00\xff not json \r\n\x1b[31m"
    agnost_emulator.add_endpoint("GET", "/blob", lambda request: EndpointReply(200, content))
    done = cli("api", "GET", "/blob", "--raw")
    assert done.returncode == 0 and done.stdout == content


def test_pretty_json_on_a_terminal(agnost_emulator: Emulator, token: str, data_dir: Path) -> None:
    agnost_emulator.add_endpoint("GET", "/small", lambda request: {"a": [1, 2], "b": "é"})
    env = emulator_env(agnost_emulator, data_dir, {"PYTHONIOENCODING": "utf-8"})
    primary, secondary = pty.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "agnost", "api", "GET", "/small"],
            stdout=secondary,
            stderr=subprocess.PIPE,
            env=env,
        )
        os.close(secondary)
        output = b""
        while select.select([primary], [], [], 30)[0]:
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            output += chunk
        assert proc.wait(30) == 0
    finally:
        os.close(primary)
    text = output.decode("utf-8").replace("\r\n", "\n")
    assert text == '{\n  "a": [\n    1,\n    2\n  ],\n  "b": "é"\n}\n'


def test_refused_for_want_of_a_session_is_exit_6_and_clears_it(
    cli: Run, agnost_emulator: Emulator, data_dir: Path, monkeypatch: Any
) -> None:
    agnost_emulator.configure(enforce_session=True)
    missing = cli("api", "GET", "/orders", "--json")
    assert missing.returncode == 6
    error = json.loads(missing.stdout)["error"]
    assert (error["code"], error["exit"]) == ("missing_session_token", 6)

    # A session the server no longer knows is refused and cleared, as the library does.
    done = cli(
        "auth", "sign-up", "--email", "bo@example.com", "--password-stdin",
        stdin=PASSWORD.encode() + b"\n",
    )  # fmt: skip
    assert done.returncode == 0
    agnost_emulator.reset()
    revoked = cli("api", "GET", "/orders")
    assert revoked.returncode == 6
    assert b"invalid_session_token" in revoked.stderr
    with stored_client(agnost_emulator, data_dir, monkeypatch) as client:
        assert client.auth.get_session() is None


@pytest.mark.parametrize(
    ("reply", "options", "exit_code"),
    [
        (
            EndpointReply(404, {"errors": [{"origin": "client_error", "code": "no_order",
                                            "message": "No such order", "details": {}}]}),
            (),
            1,
        ),
        # Not the §5 shape: an answer that cannot be understood, as in the library.
        (EndpointReply(502, b"<html>Bad gateway</html>", {"Content-Type": "text/html"}), (), 4),
        (EndpointReply(302, b"", {"Location": "https://elsewhere.example/"}), (), 4),
        (EndpointReply(200, b"<html>not json</html>"), ("--json",), 4),
    ],
)  # fmt: skip
def test_error_answers_have_the_documented_exit_codes(
    cli: Run, agnost_emulator: Emulator, token: str, reply: Any, options: Any, exit_code: int
) -> None:
    agnost_emulator.add_endpoint("GET", "/answer", lambda request: reply)
    done = cli("api", "GET", "/answer", *options)
    assert done.returncode == exit_code, done.stdout + done.stderr
    no_token(done, token)
    if reply.status == 404:
        assert b"no_order: " in done.stderr and b"No such order" in done.stderr


def test_the_stored_session_survives_an_app_error(
    cli: Run, agnost_emulator: Emulator, data_dir: Path, monkeypatch: Any, token: str
) -> None:
    agnost_emulator.add_endpoint("POST", "/fails", lambda request: {}["missing"])
    assert cli("api", "POST", "/fails").returncode == 1
    with stored_client(agnost_emulator, data_dir, monkeypatch) as client:
        assert client.session_token == token


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (("GET", "/x", "-F", "novalue"), b"", b"-F takes KEY=VALUE"),
        (("GET", "/x", "-F", "=v"), b"", b"-F takes KEY=VALUE"),
        (("GET", "/x", "-H", "NoColon"), b"", b"-H takes 'NAME: VALUE'"),
        (("GET", "/x", "-H", "A: 1", "-H", "a: 2"), b"", b"given twice"),
        (("GET", "/x", "-H", "Session: forged"), b"", b"protected_header"),
        (("GET", "/x", "-H", "X-Bad: a\x7fb"), b"", b"invalid_header"),
        (("POST", "/x", "--input", "-"), b'{"n": NaN}', b"not JSON"),
        (("POST", "/x", "--input", "-"), b"", b"not JSON"),
        (("POST", "/x", "--input", "/nonexistent/body.json"), b"", b"cannot read the body"),
        (("GET", "//evil.example/x"), b"", b"invalid_request_path"),
        (("GET", "https://evil.example/x"), b"", b"invalid_request_path"),
        (("GET", "/a/%2e%2e/%2e%2e/x"), b"", b"invalid_request_path"),
        (("GET", "/x?a=1"), b"", b"invalid_request_path"),
        (("GET", "/x", "--raw", "--json"), b"", b"do not go together"),
        (("TRACE", "/x"), b"", b"invalid choice"),
    ],
)
def test_usage_errors_exit_2_and_send_nothing(
    cli: Run, agnost_emulator: Emulator, token: str, args: Any, stdin: bytes, message: bytes
) -> None:
    seen: list[EndpointRequest] = []
    for method in ("GET", "POST"):
        agnost_emulator.add_endpoint(method, "/x", seen.append)
    done = cli("api", *args, stdin=stdin)
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stderr + done.stdout  # stdout: the --json error document
    assert seen == []
    no_token(done, token)


def test_a_closed_port_is_a_transport_error(cli: Run) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    done = cli("api", "GET", "/x", env={"AGNOST_ENV_URL": f"http://127.0.0.1:{port}"})
    assert done.returncode == 3


def test_the_environment_must_be_given(cli: Run) -> None:
    done = cli("api", "GET", "/x", env={"AGNOST_ENV_URL": ""})
    assert done.returncode == 2 and b"--env-url and --client-key" in done.stderr
