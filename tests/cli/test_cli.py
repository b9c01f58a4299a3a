"""The `agnost` command line, end to end: real subprocesses against a real emulator."""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

import agnost
from agnost.cli import smoke
from agnost.emulator import Emulator
from tests.cli._support import PASSWORD, cli_runner, run_agnost, without_agnost_vars

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def cli(agnost_emulator: Emulator, data_dir: Path) -> Run:
    """Run `python -m agnost ...` against the test's emulator, with its own data directory."""

    return cli_runner(agnost_emulator, data_dir)


def as_json(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.stdout, result.stderr
    return json.loads(result.stdout)


def sign_up(cli: Run, email: str = "ada@example.com") -> Any:
    result = cli(
        "auth",
        "sign-up",
        "--email",
        email,
        "--name",
        "Ada",
        "--password-stdin",
        "--json",
        stdin=PASSWORD + "\n",
    )
    assert result.returncode == 0, result.stderr
    return as_json(result)


def python_client(agnost_emulator: Emulator, data_dir: Path, monkeypatch: Any) -> agnost.Client:
    monkeypatch.setenv("AGNOST_DATA_DIR", str(data_dir))
    return agnost.create_client(agnost_emulator.base_url, agnost_emulator.client_key)


# --- smoke ---------------------------------------------------------------------------------


def test_smoke_with_no_environment_runs_an_embedded_emulator_through_both_flavours(
    tmp_path: Path,
) -> None:
    env = without_agnost_vars(AGNOST_DATA_DIR=str(tmp_path))
    result = run_agnost("smoke", "--json", env=env, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is True and report["embeddedEmulator"] is True
    assert [run["flavour"] for run in report["runs"]] == ["sync", "async"]
    for run in report["runs"]:
        assert len(run["steps"]) == 11  # with the recovery steps (issue 11)
        assert all(step["ok"] and not step["skipped"] for step in run["steps"])
        assert run["steps"][4]["name"] == "an app endpoint receives the session"
    assert not any(tmp_path.iterdir()), "smoke must not touch the stored session"


def test_smoke_against_a_given_environment_prints_each_step(cli: Run) -> None:
    result = cli("smoke", "--flavour", "sync", "--endpoint", "/health")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert "(embedded emulator)" not in lines[0]
    assert sum(line.lstrip().startswith("ok ") for line in lines) == 9
    assert "GET /health: HTTP 200" in result.stdout
    assert lines[-1] == "passed: 11 steps (sync, 2 skipped)"  # the recovery steps


def test_smoke_calls_no_app_endpoint_of_a_given_environment_unless_asked(
    cli: Run, agnost_emulator: Emulator
) -> None:
    called: list[str] = []
    agnost_emulator.add_endpoint("GET", smoke.ECHO_PATH, lambda request: called.append("x"))
    result = cli("smoke", "--json", "--flavour", "sync")
    assert result.returncode == 0, result.stdout
    [step] = [s for s in as_json(result)["runs"][0]["steps"] if "app endpoint" in s["name"]]
    assert step["ok"] and step["skipped"] and "--endpoint" in step["detail"]
    assert called == []


def test_smoke_fails_when_the_endpoint_refuses(cli: Run, agnost_emulator: Emulator) -> None:
    result = cli("smoke", "--json", "--flavour", "sync", "--endpoint", "/_api/rest/v1/auth/x")
    assert result.returncode == 1
    error = as_json(result)["error"]
    assert (error["step"], error["code"]) == ("an app endpoint receives the session", "not_found")


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_the_endpoint_step_checks_the_echo_and_the_enforcement(flavour: Any) -> None:
    with Emulator(hash_cost=4) as emulator:
        url, key = emulator.base_url, emulator.client_key

        def enforce(on: bool) -> None:
            emulator.configure(enforce_session=on)

        steps = smoke.run_smoke(url, key, flavour=flavour, enforce_session=enforce, recovery=True)
        assert all(step.ok and not step.skipped for step in steps)
        assert emulator.config["enforceSession"] is False  # switched back off

        # An enforcement switch that does nothing: the session-less call is accepted.
        steps = smoke.run_smoke(url, key, flavour=flavour, enforce_session=lambda on: None)
        assert steps[-1].name == "an app endpoint receives the session" and not steps[-1].ok
        assert "without a session was accepted" in steps[-1].detail

        # An endpoint that does not see the session.
        emulator.add_endpoint(
            "GET", smoke.ECHO_PATH, lambda r: {"user": None, "session": None, "path": r.path}
        )
        steps = smoke.run_smoke(url, key, flavour=flavour, enforce_session=enforce)
        assert not steps[-1].ok and "the echo to name the user" in steps[-1].detail


def test_smoke_signs_in_a_given_user(cli: Run) -> None:
    sign_up(cli, "grace@example.com")
    result = cli(
        "smoke",
        "--email",
        "grace@example.com",
        "--password-stdin",
        "--json",
        stdin=PASSWORD + "\n",
    )
    assert result.returncode == 0, result.stdout
    assert as_json(result)["runs"][0]["steps"][0]["name"] == "sign in"


def test_smoke_with_a_wrong_client_key_exits_with_the_api_error(cli: Run) -> None:
    result = cli("smoke", "--json", "--flavour", "async", env={"AGNOST_CLIENT_KEY": "nope"})
    assert result.returncode == 1
    report = as_json(result)
    assert report["ok"] is False and report["error"]["step"] == "sign up a throwaway user"
    assert report["error"]["code"]


def test_smoke_against_a_closed_port_is_a_transport_error(cli: Run) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = cli("smoke", env={"AGNOST_ENV_URL": f"http://127.0.0.1:{port}"})
    assert result.returncode == 3
    assert "FAILED at 'sign up a throwaway user'" in result.stdout


def test_smoke_needs_both_url_and_key_or_neither(cli: Run) -> None:
    result = cli("smoke", env={"AGNOST_CLIENT_KEY": ""})
    assert result.returncode == 2
    assert "--env-url and --client-key" in result.stderr


# --- auth ----------------------------------------------------------------------------------


def test_sign_up_then_whoami_shares_the_session_with_python(
    cli: Run, agnost_emulator: Emulator, data_dir: Path, monkeypatch: Any
) -> None:
    document = sign_up(cli)
    assert document["user"]["email"] == "ada@example.com"
    assert document["session"]["token"] == "[hidden]"

    with python_client(agnost_emulator, data_dir, monkeypatch) as client:
        session = client.auth.get_session()
        assert session is not None
        assert client.auth.get_user_from_db().email == "ada@example.com"

    whoami = cli("auth", "whoami", "--json", "--show-token")
    assert whoami.returncode == 0
    assert as_json(whoami)["session"]["token"] == session.token


def test_a_session_signed_in_from_python_is_seen_by_the_cli(
    cli: Run, agnost_emulator: Emulator, data_dir: Path, monkeypatch: Any
) -> None:
    with python_client(agnost_emulator, data_dir, monkeypatch) as client:
        client.auth.sign_up_with_email("lin@example.com", PASSWORD, "Lin")
    result = cli("auth", "whoami")
    assert result.returncode == 0
    assert result.stdout.startswith("signed in as lin@example.com (Lin)")


def test_sessions_lists_a_table_with_the_current_one_marked(cli: Run) -> None:
    sign_up(cli)
    again = cli(
        "auth", "sign-in", "--email", "ada@example.com", "--password-stdin", stdin=PASSWORD + "\n"
    )
    assert again.returncode == 0, again.stderr
    table = cli("auth", "sessions")
    assert table.returncode == 0
    header, *rows = table.stdout.splitlines()
    assert header.split() == ["CREATED", "BROWSER", "OS", "DEVICE"]
    assert len(rows) == 2 and sum(row.startswith("*") for row in rows) == 1
    listed = as_json(cli("auth", "sessions", "--json"))["sessions"]
    assert [s["current"] for s in listed].count(True) == 1
    assert all(s["token"] == "[hidden]" for s in listed)


def test_sign_out_others_then_sign_out(cli: Run) -> None:
    sign_up(cli)
    cli("auth", "sign-in", "--email", "ada@example.com", "--password-stdin", stdin=PASSWORD)
    assert cli("auth", "sign-out", "--others").returncode == 0
    assert len(as_json(cli("auth", "sessions", "--json"))["sessions"]) == 1
    assert cli("auth", "sign-out").returncode == 0
    whoami = cli("auth", "whoami", "--json")
    assert whoami.returncode == 6 and as_json(whoami)["session"] is None


def test_sign_out_a_token_read_from_stdin(
    cli: Run, agnost_emulator: Emulator, data_dir: Path, monkeypatch: Any
) -> None:
    sign_up(cli)
    other = agnost.create_client(
        agnost_emulator.base_url, agnost_emulator.client_key, storage=agnost.MemoryStore()
    )
    token = other.auth.sign_in_with_email("ada@example.com", PASSWORD).session.token
    assert cli("auth", "sign-out", "-", stdin=token + "\n").returncode == 0
    with pytest.raises(agnost.InvalidSessionTokenError):
        other.auth.get_user_from_db()
    assert cli("auth", "whoami").returncode == 0  # our own session is untouched


def test_grant_exchanges_a_redirect_url(cli: Run, agnost_emulator: Emulator) -> None:
    url = as_json(cli("auth", "provider", "github", "--json"))["url"]
    assert url == agnost_emulator.base_url + "/_auth/github"
    location = requests.get(url, allow_redirects=False, timeout=10).headers["Location"]
    result = cli("auth", "grant", location, "--json")
    assert result.returncode == 0, result.stderr
    assert as_json(result)["user"]["provider"] == "github"
    assert cli("auth", "whoami").returncode == 0


def test_clear_removes_the_stored_session(cli: Run) -> None:
    sign_up(cli)
    assert cli("auth", "clear").returncode == 0
    assert cli("auth", "whoami").returncode == 6


def test_a_wrong_password_exits_1_with_the_code(cli: Run) -> None:
    sign_up(cli)
    result = cli(
        "auth",
        "sign-in",
        "--email",
        "ada@example.com",
        "--password-stdin",
        "--json",
        stdin="wrong password\n",
    )
    assert result.returncode == 1
    error = as_json(result)["error"]
    assert error["type"] == "InvalidCredentialsError" and error["exit"] == 1


def test_the_user_command_reads_the_database(cli: Run) -> None:
    sign_up(cli)
    result = cli("auth", "user", "--json")
    assert result.returncode == 0
    assert as_json(result)["user"]["name"] == "Ada"


# --- passwords and tokens ------------------------------------------------------------------


@pytest.mark.parametrize(
    "flags",
    [("--password", "s3cret!"), ("-p", "s3cret!"), ("--password=s3cret!",), ("--pass", "s3cret!")],
)
@pytest.mark.parametrize("command", ["sign-in", "sign-up"])
def test_a_password_is_never_taken_from_the_command_line(
    cli: Run, command: str, flags: tuple[str, ...]
) -> None:
    result = cli("auth", command, "--email", "ada@example.com", *flags)
    assert result.returncode == 2
    assert "--password-stdin" in result.stderr
    assert "s3cret!" not in result.stdout + result.stderr


def test_without_a_terminal_the_password_must_come_from_stdin(cli: Run) -> None:
    result = cli("auth", "sign-in", "--email", "ada@example.com")
    assert result.returncode == 2
    assert "--password-stdin" in result.stderr


def test_missing_configuration_is_a_usage_error(cli: Run) -> None:
    result = cli("auth", "whoami", env={"AGNOST_ENV_URL": ""})
    assert result.returncode == 2


def test_no_output_shows_a_token_unless_asked(
    cli: Run, agnost_emulator: Emulator, data_dir: Path, monkeypatch: Any
) -> None:
    outputs = [sign_up(cli) and ""]
    with python_client(agnost_emulator, data_dir, monkeypatch) as client:
        session = client.auth.get_session()
    assert session is not None
    for args in (
        ("auth", "whoami"),
        ("auth", "whoami", "--json"),
        ("auth", "sessions"),
        ("auth", "sessions", "--json"),
        ("auth", "user", "--json"),
        ("auth", "sign-out", "--others", "--json"),
    ):
        result = cli(*args)
        outputs.append(result.stdout + result.stderr)
    assert all(session.token not in text for text in outputs)
    assert session.token in cli("auth", "whoami", "--show-token").stdout


def test_every_command_has_help(cli: Run) -> None:
    for args in (
        (),
        ("smoke",),
        ("auth",),
        *(
            ("auth", c)
            for c in (
                "sign-up",
                "sign-in",
                "whoami",
                "user",
                "sessions",
                "sign-out",
                "grant",
                "provider",
                "clear",
            )
        ),
        ("emulator",),
    ):
        result = cli(*args, "--help")
        assert result.returncode == 0 and "usage: agnost" in result.stdout, args


def test_grant_reads_the_redirect_url_from_stdin(cli: Run, agnost_emulator: Emulator) -> None:
    url = agnost_emulator.base_url + "/_auth/google"
    location = requests.get(url, allow_redirects=False, timeout=10).headers["Location"]
    result = cli("auth", "grant", "-", "--json", stdin=location + "\n")
    assert result.returncode == 0, result.stderr
    assert as_json(result)["user"]["provider"] == "google"


def test_whoami_signed_out_reports_its_error_like_every_command(cli: Run) -> None:
    result = cli("auth", "whoami", "--json")
    assert result.returncode == 6
    assert as_json(result)["error"] == {
        "type": None,
        "code": "not_signed_in",
        "message": "not signed in",
        "exit": 6,
    }
