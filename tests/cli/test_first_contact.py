"""The command line as a new user first meets it (issue 13, items 1-7): real processes, a real
emulator, a real terminal (a pty) where a prompt is involved."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import pytest

import agnost
import agnost_async
from agnost.emulator import Emulator
from tests.cli._support import (
    PASSWORD,
    ROOT,
    cli_runner,
    emulator_env,
    run_agnost,
    without_agnost_vars,
)

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def cli(agnost_emulator: Emulator, data_dir: Path) -> Run:
    return cli_runner(agnost_emulator, data_dir, clean=True)


def memory_client(emulator: Emulator) -> agnost.Client:
    return agnost.create_client(
        emulator.base_url, emulator.client_key, storage=agnost.MemoryStore()
    )


def sign_up(cli: Run, email: str = "ada@example.com") -> None:
    done = cli("auth", "sign-up", "--email", email, "--password-stdin", stdin=PASSWORD + "\n")
    assert done.returncode == 0, done.stderr


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- 1, 2: the distribution's name, the missing extra ------------------------------------


def test_the_distribution_is_agnost_auth_and_every_hint_says_so(cli: Run) -> None:
    # The metadata of the distribution installed from this tree (tomllib is 3.11+).
    installed = metadata.metadata("agnost-auth")
    assert installed["Name"] == "agnost-auth"
    assert any(
        r.startswith("agnost-auth[emulator]") and 'extra == "test"' in r
        for r in installed.get_all("Requires-Dist") or []
    )
    sources = [*(ROOT / "agnost").rglob("*.py"), *(ROOT / "agnost_async").rglob("*.py")]
    assert not [p for p in sources if "'agnost[" in p.read_text(encoding="utf-8")]
    helped = cli("emulator", "--help")
    assert "pip install 'agnost-auth[emulator]'" in helped.stdout


def test_without_the_extra_smoke_says_what_to_install_once(tmp_path: Path, data_dir: Path) -> None:
    (tmp_path / "ua_parser").mkdir()
    (tmp_path / "ua_parser" / "__init__.py").write_text("raise ImportError('no ua_parser')\n")
    env = without_agnost_vars(
        PYTHONPATH=os.pathsep.join([str(tmp_path), str(ROOT)]), AGNOST_DATA_DIR=str(data_dir)
    )
    done = run_agnost("smoke", env=env)
    assert done.returncode == 2
    assert done.stderr == (
        "agnost: error: the embedded emulator needs the emulator extra (ua-parser):"
        " pip install 'agnost-auth[emulator]'\n"
    )


# --- 3: smoke signs out only what it opened ------------------------------------------------


def test_smoke_against_a_real_account_leaves_its_other_sessions_alone(
    cli: Run, agnost_emulator: Emulator
) -> None:
    sign_up(cli, "grace@example.com")
    with memory_client(agnost_emulator) as person:
        person.auth.sign_in_with_email("grace@example.com", PASSWORD)
        done = cli(
            "smoke", "--email", "grace@example.com", "--password-stdin", "--flavour", "sync",
            "--json", stdin=PASSWORD + "\n",
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        names = [step["name"] for step in json.loads(done.stdout)["runs"][0]["steps"]]
        assert "sign out the second session" in names
        assert "sign out all but the current session" not in names
        assert person.auth.get_user_from_db().email == "grace@example.com"  # still signed in

        asked = cli(
            "smoke", "--email", "grace@example.com", "--password-stdin", "--flavour", "sync",
            "--sign-out-others", stdin=PASSWORD + "\n",
        )  # fmt: skip
        assert asked.returncode == 0, asked.stdout + asked.stderr
        with pytest.raises(agnost.InvalidSessionTokenError):
            person.auth.get_user_from_db()
    assert "--sign-out-others" in cli("smoke", "--help").stdout


def test_smoke_on_the_embedded_emulator_keeps_the_full_step(data_dir: Path) -> None:
    env = without_agnost_vars(AGNOST_DATA_DIR=str(data_dir))
    done = run_agnost("smoke", "--json", "--flavour", "async", env=env, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    names = [step["name"] for step in json.loads(done.stdout)["runs"][0]["steps"]]
    assert "sign out all but the current session" in names


# --- 4: prompts on a terminal --------------------------------------------------------------


class Terminal:
    """``python -m agnost ...`` with a pty as its controlling terminal, as a shell runs it."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        pid, fd = pty.fork()
        if pid == 0:  # the child: become the command
            os.execvpe(sys.executable, [sys.executable, "-m", "agnost", *args], env)
        self.pid, self.fd, self.seen, self.mark = pid, fd, b"", 0

    def _read(self, deadline: float) -> bool:
        """Read what the command wrote; False once it closed the terminal."""
        left = deadline - time.monotonic()
        assert left > 0, f"timed out; the terminal shows {self.seen!r}"
        if not select.select([self.fd], [], [], left)[0]:
            return True
        try:
            chunk = os.read(self.fd, 4096)
        except OSError:  # EIO: the command ended
            chunk = b""
        self.seen += chunk
        return bool(chunk)

    def expect(self, text: str, timeout: float = 30) -> None:
        """Wait until ``text`` appears after what the previous expect found.

        Type only after the prompt shows: getpass discards what was typed before it.
        """
        deadline = time.monotonic() + timeout
        while (found := self.seen.find(text.encode(), self.mark)) < 0:
            assert self._read(deadline), f"the command ended without {text!r}: {self.seen!r}"
        self.mark = found + len(text)

    def type(self, text: str) -> None:
        os.write(self.fd, text.encode())

    def wait(self, timeout: float = 30) -> int:
        deadline = time.monotonic() + timeout
        while self._read(deadline):
            pass
        os.close(self.fd)
        return os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])


@pytest.fixture
def terminal(agnost_emulator: Emulator, data_dir: Path) -> Callable[..., Terminal]:
    return lambda *args: Terminal(emulator_env(agnost_emulator, data_dir, clean=True), *args)


def test_sign_up_on_a_terminal_asks_twice_and_again_on_a_mismatch(
    terminal: Callable[..., Terminal], agnost_emulator: Emulator
) -> None:
    term = terminal("auth", "sign-up", "--email", "ada@example.com")
    term.expect("Password: ")
    term.type(PASSWORD + "\n")
    term.expect("Password again: ")
    term.type("a typo\n")
    term.expect("do not match")
    term.expect("Password: ")
    term.type(PASSWORD + "\n")
    term.expect("Password again: ")
    term.type(PASSWORD + "\n")
    assert term.wait() == 0, term.seen
    assert PASSWORD.encode() not in term.seen  # the terminal echoed nothing
    with memory_client(agnost_emulator) as client:
        assert client.auth.sign_in_with_email("ada@example.com", PASSWORD).user.email


def test_sign_up_gives_up_after_three_mismatches_and_creates_nobody(
    terminal: Callable[..., Terminal], agnost_emulator: Emulator
) -> None:
    term = terminal("auth", "sign-up", "--email", "ada@example.com")
    for attempt in range(3):
        term.expect("Password: ")
        term.type(f"first {attempt}\n")
        term.expect("Password again: ")
        term.type(f"second {attempt}\n")
    assert term.wait() == 2
    assert b"the passwords did not match, 3 times" in term.seen
    with memory_client(agnost_emulator) as client, pytest.raises(agnost.APIError):
        client.auth.sign_in_with_email("ada@example.com", "first 0")


def test_ctrl_c_at_a_prompt_ends_the_prompt_line_first(
    terminal: Callable[..., Terminal],
) -> None:
    term = terminal("auth", "sign-in", "--email", "ada@example.com")
    term.expect("Password: ")
    term.type("\x03")  # the terminal turns it into SIGINT
    assert term.wait() == 130
    assert b"Password: agnost" not in term.seen
    assert re.search(rb"Password: \r?\n(\r?\n)?agnost: interrupted", term.seen), term.seen


# --- 5: not signed in, and a session the server revoked ------------------------------------


@pytest.mark.parametrize(
    "args",
    [("auth", "sessions"), ("auth", "sign-out"), ("auth", "sign-out", "--all"), ("auth", "user")],
)
def test_commands_that_need_a_session_say_not_signed_in(cli: Run, args: tuple[str, ...]) -> None:
    done = cli(*args)
    assert (done.returncode, done.stdout, done.stderr) == (6, "not signed in\n", "")
    as_json = cli(*args, "--json")
    assert as_json.returncode == 6
    assert json.loads(as_json.stdout)["error"]["code"] == "not_signed_in"


def test_after_the_server_revoked_the_session(cli: Run, agnost_emulator: Emulator) -> None:
    sign_up(cli)
    with memory_client(agnost_emulator) as other:
        other.auth.sign_in_with_email("ada@example.com", PASSWORD)
        other.auth.sign_out_all_except_current()  # revokes the CLI's session

    local = cli("auth", "whoami")
    assert local.returncode == 0
    assert (
        "as recorded on this machine; `agnost auth whoami --check` asks the server" in local.stdout
    )

    checked = cli("auth", "whoami", "--check")
    assert checked.returncode == 6
    assert "the server refused the stored session (invalid_session_token: " in checked.stderr
    assert "the local session was cleared: sign in again" in checked.stderr
    assert cli("auth", "whoami").stdout == "not signed in\n"


def test_user_after_revocation_says_the_local_session_was_cleared(
    cli: Run, agnost_emulator: Emulator
) -> None:
    sign_up(cli)
    with memory_client(agnost_emulator) as other:
        other.auth.sign_in_with_email("ada@example.com", PASSWORD)
        other.auth.sign_out_all_except_current()
    done = cli("auth", "user", "--json")
    assert done.returncode == 6
    error = json.loads(done.stdout)["error"]
    assert error["code"] == "invalid_session_token" and error["exit"] == 6
    assert "the local session was cleared" in error["message"]
    assert cli("auth", "whoami").returncode == 6


def test_whoami_check_of_a_valid_session(cli: Run) -> None:
    sign_up(cli)
    done = cli("auth", "whoami", "--check", "--json")
    assert done.returncode == 0
    document = json.loads(done.stdout)
    assert document["checked"] is True and document["user"]["email"] == "ada@example.com"
    assert "checked with the server" in cli("auth", "whoami", "--check").stdout


# --- 6: messages ---------------------------------------------------------------------------


def test_an_unreachable_port_says_could_not_connect(cli: Run) -> None:
    port = free_port()
    done = cli("auth", "whoami", "--check", env={"AGNOST_ENV_URL": f"http://127.0.0.1:{port}"})
    sign_up_done = cli(
        "auth", "sign-in", "--email", "a@b.co", "--password-stdin",
        stdin="x\n", env={"AGNOST_ENV_URL": f"http://127.0.0.1:{port}"},
    )  # fmt: skip
    assert done.returncode == 6  # no session stored: nothing asked
    assert sign_up_done.returncode == 3
    assert f"could not connect to 127.0.0.1:{port} (connection refused)" in sign_up_done.stderr
    assert "retries" not in sign_up_done.stderr and "NewConnectionError" not in sign_up_done.stderr


async def test_both_flavours_word_a_refused_connection_alike() -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    client = agnost.create_client(url, "k", storage=agnost.MemoryStore())
    with client, pytest.raises(agnost.ConnectError) as sync_error:
        client.auth.sign_in_with_email("a@b.co", "secret1")
    async with agnost_async.create_client(url, "k", storage=agnost.MemoryStore()) as aclient:
        with pytest.raises(agnost.ConnectError) as async_error:
            await aclient.auth.sign_in_with_email("a@b.co", "secret1")
    assert (
        str(sync_error.value)
        == str(async_error.value)
        == (
            f"POST {url}/_api/rest/v1/auth/signin-email:"
            f" could not connect to 127.0.0.1:{port} (connection refused)"
        )
    )


def test_a_port_out_of_range_is_a_usage_error(cli: Run) -> None:
    done = cli("emulator", "--port", "99999")
    assert done.returncode == 2
    assert "'99999' is not a port: 0 to 65535" in done.stderr
    assert "Traceback" not in done.stderr


def test_an_env_url_without_a_scheme_says_so(cli: Run, agnost_emulator: Emulator) -> None:
    bare = agnost_emulator.base_url.removeprefix("http://")
    done = cli("auth", "sessions", env={"AGNOST_ENV_URL": bare})
    assert done.returncode == 2
    assert "the scheme is missing" in done.stderr


def test_a_wrong_env_url_path_gets_a_hint(cli: Run, agnost_emulator: Emulator) -> None:
    sign_up(cli)
    missing = cli("api", "GET", "/_api/rest/v1/auth/nowhere")
    assert missing.returncode == 1
    assert "404 Not Found" in missing.stderr
    assert "agnost: hint: is --env-url the environment's base URL" in missing.stderr
    wrong = cli(
        "auth", "sign-in", "--email", "ada@example.com", "--password-stdin", "--json",
        stdin=PASSWORD + "\n", env={"AGNOST_ENV_URL": agnost_emulator.base_url + "/wrong"},
    )  # fmt: skip
    assert wrong.returncode == 4
    assert json.loads(wrong.stdout)["error"]["hint"].startswith("is --env-url")


# --- 7: tokens in the table, providers, secrets off argv -----------------------------------


def test_sessions_show_token_prints_tokens_in_the_table(
    cli: Run, agnost_emulator: Emulator
) -> None:
    sign_up(cli)
    with memory_client(agnost_emulator) as other:
        other.auth.sign_in_with_email("ada@example.com", PASSWORD)
        table = cli("auth", "sessions", "--show-token")
        header, *rows = table.stdout.splitlines()
        assert header.split() == ["CREATED", "BROWSER", "OS", "DEVICE", "TOKEN"]
        listed = json.loads(cli("auth", "sessions", "--json", "--show-token").stdout)["sessions"]
        assert sorted(row.split()[-1] for row in rows) == sorted(s["token"] for s in listed)
        # The other session's token (the emulator lists a handle for it) signs it out.
        [handle] = [row.split()[-1] for row in rows if not row.startswith("*")]
        assert cli("auth", "sign-out", "-", stdin=handle + "\n").returncode == 0
        with pytest.raises(agnost.InvalidSessionTokenError):
            other.auth.get_user_from_db()
    assert "TOKEN" not in cli("auth", "sessions").stdout


def test_an_unknown_provider_is_refused(cli: Run) -> None:
    done = cli("auth", "provider", "myspace")
    assert done.returncode == 2
    assert "invalid choice: 'myspace'" in done.stderr
    assert cli("auth", "provider", "discord").returncode == 0


def test_smoke_takes_the_access_token_from_the_environment_or_stdin(
    cli: Run, agnost_emulator: Emulator
) -> None:
    def access_token() -> str:
        import requests

        location = requests.get(
            agnost_emulator.base_url + "/_auth/github", allow_redirects=False, timeout=10
        ).headers["Location"]
        return location.split("access_token=")[1].split("&")[0]

    for how in ("environment", "stdin", "argv"):
        token = access_token()
        if how == "environment":
            done = cli("smoke", "--flavour", "sync", "--json", env={"AGNOST_ACCESS_TOKEN": token})
        elif how == "stdin":
            done = cli("smoke", "--flavour", "sync", "--json", "--access-token", "-", stdin=token)
        else:
            done = cli("smoke", "--flavour", "sync", "--json", "--access-token", token)
        assert done.returncode == 0, (how, done.stdout, done.stderr)
        [grant] = [s for s in json.loads(done.stdout)["runs"][0]["steps"] if "access" in s["name"]]
        assert grant["ok"] and not grant["skipped"]
        warned = "--access-token on the command line is visible to other users" in done.stderr
        assert warned == (how == "argv"), how
        assert token not in done.stdout + done.stderr


def test_two_secrets_cannot_both_read_stdin(cli: Run) -> None:
    done = cli(
        "smoke", "--email", "a@b.co", "--password-stdin", "--access-token", "-", stdin="pw\nt\n"
    )
    assert done.returncode == 2
    assert "--password-stdin and --access-token cannot both read stdin" in done.stderr


def test_the_api_key_is_read_from_stdin_and_a_given_one_warns(cli: Run) -> None:
    done = cli("auth", "provider", "github", "--api-key", "-", stdin="the-key\n")
    assert done.returncode == 0 and done.stderr == ""
    given = cli("auth", "provider", "github", "--api-key", "the-key")
    assert given.returncode == 0
    assert "--api-key on the command line is visible" in given.stderr
    assert "the-key" not in given.stderr
