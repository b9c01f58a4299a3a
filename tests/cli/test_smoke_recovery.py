"""The smoke run's recovery steps (issue 11): the password reset through an emailed link and
the sign-in through a magic link, read from an emulator's outbox, in both flavours; skipped
with a note against an environment without one; and failing when the server does not do what
the protocol promises (a tampering proxy on 127.0.0.1 between smoke and a real emulator)."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

import agnost
from agnost.cli import smoke
from agnost.emulator import Emulator
from tests.cli._support import PASSWORD, cli_runner, run_agnost, without_agnost_vars

Run = Callable[..., subprocess.CompletedProcess[str]]

RESET, MAGIC = smoke.RECOVERY_STEPS


@pytest.fixture
def cli(agnost_emulator: Emulator, data_dir: Path) -> Run:
    return cli_runner(agnost_emulator, data_dir, clean=True)


def steps_of(done: subprocess.CompletedProcess[str]) -> list[list[dict[str, Any]]]:
    return [run["steps"] for run in json.loads(done.stdout)["runs"]]


def by_name(steps: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {step["name"]: step for step in steps}


# --- on the embedded emulator: run and checked, in both flavours ----------------------------


def test_the_embedded_emulator_runs_the_recovery_steps_in_both_flavours(data_dir: Path) -> None:
    env = without_agnost_vars(AGNOST_DATA_DIR=str(data_dir))
    done = run_agnost("smoke", "--json", env=env, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    runs = steps_of(done)
    assert len(runs) == 2
    for steps in runs:
        assert [s["name"] for s in steps[-2:]] == [RESET, MAGIC]
        assert all(s["ok"] and not s["skipped"] for s in steps), steps
        named = by_name(steps)
        assert "the old password refused, the new one signs in" in named[RESET]["detail"]
        assert "exchanged for a session once" in named[MAGIC]["detail"]
    assert not data_dir.exists() or not any(data_dir.iterdir())


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_run_smoke_with_recovery_resets_only_its_throwaway_user(
    agnost_emulator: Emulator, flavour: Any
) -> None:
    with agnost.create_client(
        agnost_emulator.base_url, agnost_emulator.client_key, storage=agnost.MemoryStore()
    ) as person:
        person.auth.sign_up_with_email("grace@example.com", PASSWORD, "Grace")
        steps = smoke.run_smoke(
            agnost_emulator.base_url, agnost_emulator.client_key, flavour=flavour, recovery=True
        )
        assert all(step.ok for step in steps), steps
        assert [(s.name, s.skipped) for s in steps[-2:]] == [(RESET, False), (MAGIC, False)]
        assert person.auth.get_user_from_db().email == "grace@example.com"  # still signed in
    with agnost.create_client(
        agnost_emulator.base_url, agnost_emulator.client_key, storage=agnost.MemoryStore()
    ) as again:
        assert again.auth.sign_in_with_email("grace@example.com", PASSWORD).session.token
    kinds = {message.kind for message in agnost_emulator.outbox()}
    assert {smoke.RESET_KIND, smoke.MAGIC_KIND} <= kinds
    # Every reset and magic link went to smoke's throwaway users, none to Grace.
    assert not agnost_emulator.outbox(recipient="grace@example.com")


# --- elsewhere: skipped with a note, unless asked for ---------------------------------------


def test_against_a_given_environment_the_recovery_steps_are_skipped_with_a_note(
    cli: Run, agnost_emulator: Emulator
) -> None:
    done = cli("smoke", "--json", "--flavour", "sync")
    assert done.returncode == 0, done.stdout + done.stderr
    [steps] = steps_of(done)
    named = by_name(steps)
    for name in (RESET, MAGIC):
        assert named[name]["ok"] and named[name]["skipped"]
        assert "needs an agnost emulator's outbox" in named[name]["detail"]
        assert "--recovery-steps" in named[name]["detail"]
    assert agnost_emulator.outbox() == []  # nothing was sent

    human = cli("smoke", "--flavour", "sync")
    assert human.returncode == 0
    assert any(
        line.lstrip().startswith("SKIP") and RESET in line for line in human.stdout.splitlines()
    )


def test_recovery_steps_asked_for_against_a_standalone_emulator(
    cli: Run, agnost_emulator: Emulator
) -> None:
    done = cli("smoke", "--json", "--flavour", "async", "--recovery-steps")
    assert done.returncode == 0, done.stdout + done.stderr
    [steps] = steps_of(done)
    named = by_name(steps)
    assert not named[RESET]["skipped"] and not named[MAGIC]["skipped"]
    assert len(agnost_emulator.outbox(kind=smoke.RESET_KIND)) == 1
    assert len(agnost_emulator.outbox(kind=smoke.MAGIC_KIND)) == 1
    assert "--recovery-steps" in cli("smoke", "--help").stdout


def test_a_given_account_never_has_its_password_reset(cli: Run, agnost_emulator: Emulator) -> None:
    done = cli("auth", "sign-up", "--email", "grace@example.com", "--password-stdin",
               stdin=PASSWORD + "\n")  # fmt: skip
    assert done.returncode == 0, done.stderr
    done = cli(
        "smoke", "--json", "--flavour", "sync", "--recovery-steps",
        "--email", "grace@example.com", "--password-stdin", stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    named = by_name(steps_of(done)[0])
    assert named[RESET]["skipped"] and "throwaway" in named[RESET]["detail"]
    assert named[MAGIC]["ok"] and not named[MAGIC]["skipped"]
    assert agnost_emulator.outbox(kind=smoke.RESET_KIND) == []
    with agnost.create_client(
        agnost_emulator.base_url, agnost_emulator.client_key, storage=agnost.MemoryStore()
    ) as client:
        assert client.auth.sign_in_with_email("grace@example.com", PASSWORD).session.token


def test_recovery_steps_against_a_server_without_an_outbox_fail_and_say_so(
    agnost_emulator: Emulator,
) -> None:
    with Proxy(agnost_emulator, outbox=lambda body: (404, b'{"errors": []}')) as proxy:
        steps = smoke.run_smoke(proxy.url, agnost_emulator.client_key, recovery=True)
    failed = steps[-1]
    assert failed.name == RESET and not failed.ok
    assert "expected an agnost emulator's outbox at /_emulator/outbox, got HTTP 404" in (
        failed.detail
    )


# --- the steps check what they see ---------------------------------------------------------


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_a_message_that_never_arrives_fails_the_step(
    agnost_emulator: Emulator, flavour: Any
) -> None:
    with Proxy(agnost_emulator, outbox=lambda body: (200, b'{"messages": []}')) as proxy:
        steps = smoke.run_smoke(
            proxy.url, agnost_emulator.client_key, flavour=flavour, recovery=True
        )
    assert steps[-1].name == RESET and not steps[-1].ok
    assert f"one {smoke.RESET_KIND} message to the user in the outbox, got none" in (
        steps[-1].detail
    )
    assert isinstance(steps[-1].error, smoke.SmokeCheckFailed)


@pytest.mark.parametrize(
    ("path", "step", "what"),
    [
        ("/_api/rest/v1/auth/reset-pwd", RESET, "the reset link to be single-use"),
        ("/_api/rest/v1/auth/grant", MAGIC, "the magic link to be single-use"),
    ],
)
@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_a_link_accepted_twice_fails_the_step(
    agnost_emulator: Emulator, flavour: Any, path: str, step: str, what: str
) -> None:
    # The proxy answers a second use of the same link as its first use was answered.
    with Proxy(agnost_emulator, replay=path) as proxy:
        steps = smoke.run_smoke(
            proxy.url, agnost_emulator.client_key, flavour=flavour, recovery=True
        )
    assert steps[-1].name == step and not steps[-1].ok, steps
    assert f"expected {what}: a second use was accepted" in steps[-1].detail
    assert "access_token" not in steps[-1].detail


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_an_old_password_that_still_works_fails_the_reset_step(
    agnost_emulator: Emulator, flavour: Any
) -> None:
    # A server that says it reset the password, and that the link is used, but changed nothing.
    script: list[Canned | None] = [(200, b""), INVALID_ACCESS_TOKEN]
    with Proxy(agnost_emulator, canned={"/_api/rest/v1/auth/reset-pwd": script}) as proxy:
        steps = smoke.run_smoke(
            proxy.url, agnost_emulator.client_key, flavour=flavour, recovery=True
        )
    assert steps[-1].name == RESET and not steps[-1].ok
    assert "the old password still signs in after the reset" in steps[-1].detail


# --- a tampering proxy -----------------------------------------------------------------------

Canned = tuple[int, bytes]
INVALID_ACCESS_TOKEN = (
    403,
    b'{"errors": [{"origin": "client_error", "code": "invalid_access_token",'
    b' "message": "Invalid access token"}]}',
)
_HOP = ("host", "content-length", "connection", "transfer-encoding", "content-encoding")


class Proxy:
    """An HTTP server on 127.0.0.1 forwarding to ``emulator``, which can answer the outbox
    itself (``outbox(body) -> (status, body)``), answer the requests for a path with
    ``canned`` answers (the first request with the first, ...; ``None`` or past the end:
    forwarded), or replay the first 200 answer for ``replay``'s path to every later request
    for the same target."""

    def __init__(
        self,
        emulator: Emulator,
        *,
        outbox: Callable[[bytes], Canned] | None = None,
        canned: dict[str, list[Canned | None]] | None = None,
        replay: str | None = None,
    ) -> None:
        upstream = emulator.base_url.rstrip("/")
        answered: dict[str, tuple[int, bytes, dict[str, str]]] = {}
        seen: dict[str, int] = {}
        lock = threading.Lock()
        json_type = {"Content-Type": "application/json"}

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path = self.path.split("?", 1)[0]
                with lock:
                    count = seen[path] = seen.get(path, 0) + 1
                    script = (canned or {}).get(path, [])
                    if count <= len(script) and script[count - 1] is not None:
                        status, content = script[count - 1]  # type: ignore[misc]
                        return self._answer(status, content, json_type)
                    if replay is not None and path == replay and self.path in answered:
                        return self._answer(*answered[self.path])
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
                got = requests.request(
                    self.command,
                    upstream + self.path,
                    headers=headers,
                    data=body,
                    timeout=30,
                    allow_redirects=False,
                )
                back = {k: v for k, v in got.headers.items() if k.lower() not in _HOP}
                status, content = got.status_code, got.content
                if outbox is not None and path == smoke.OUTBOX_PATH:
                    status, content = outbox(content)
                if replay is not None and path == replay and status == 200:
                    with lock:
                        answered.setdefault(self.path, (status, content, back))
                self._answer(status, content, back)

            def _answer(self, status: int, content: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_DELETE = do_PATCH = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Proxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)
