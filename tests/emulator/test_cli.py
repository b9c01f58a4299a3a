"""``agnost emulator`` as a user runs it: a real process, real port, Ctrl-C to stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import platformdirs
import pytest
import requests

from agnost.cli import build_parser
from agnost.emulator.command import default_database_path
from agnost.emulator.server import base_url_for, is_loopback

from .conftest import AUTH

ROOT = Path(__file__).resolve().parents[2]
CANARY_PASSWORD = "canary-pw-cli-41d9"


@contextmanager
def emulator_process(*options: str) -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    """Start ``agnost emulator`` with ``options``; yield it and its banner lines."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "agnost.cli", "emulator", "--port", "0", *options]
    proc = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    # Whatever happens in the test, the process does not outlive it.
    watchdog = threading.Timer(60, proc.kill)
    watchdog.start()
    try:
        banner: list[str] = []
        assert proc.stdout is not None
        while not banner or not banner[-1].startswith("Press Ctrl-C"):
            line = proc.stdout.readline()
            assert line, f"the emulator exited early: {proc.stderr.read() if proc.stderr else ''}"
            banner.append(line.rstrip("\n"))
        yield proc, banner
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        watchdog.cancel()


def stop(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    """Ctrl-C, as a terminal sends it; returns (exit status, rest of stdout, stderr)."""
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    return proc.returncode, out, err


def test_serves_prints_its_url_and_keys_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    database = tmp_path / "data" / "emulator.sqlite3"
    options = ("--db", str(database), "--client-key", "key-one", "--client-key", "key-two")
    with emulator_process(*options, "--hash-cost", "4", "--log-level", "debug") as (proc, banner):
        base_url = banner[0].rsplit(" ", 1)[1]
        assert base_url.startswith("http://127.0.0.1:")
        assert "client key: key-one" in banner[1] and "client key: key-two" in banner[2]
        assert str(database) in banner[3]
        with requests.Session() as http:
            http.headers["X-Client-Key"] = "key-two"
            signed_up = http.post(
                base_url + AUTH + "/signup-email",
                json={"email": "ada@example.com", "password": CANARY_PASSWORD},
                timeout=10,
            ).json()
            token = signed_up["session"]["token"]
            assert http.get(base_url + AUTH + "/user", headers={"Session": token}).ok

        status, out, err = stop(proc)

    assert status == 0
    assert "agnost emulator stopped" in out
    assert "POST /_api/rest/v1/auth/signup-email 200" in err  # the access log
    assert token not in out + err and CANARY_PASSWORD not in out + err
    assert "Traceback" not in err
    assert database.exists()


def test_generates_a_dev_key_when_none_is_given() -> None:
    with emulator_process("--db", ":memory:", "--email-confirmation") as (proc, banner):
        key = banner[1].split("client key: ", 1)[1].split(" ", 1)[0]
        assert key.startswith("dev-") and "generated" in banner[1]
        base_url = banner[0].rsplit(" ", 1)[1]
        config = requests.get(base_url + "/_emulator/config", timeout=10).json()
        assert config["clientKeys"] == [key] and config["emailConfirmation"] is True
        status, _, _ = stop(proc)
    assert status == 0


def test_warns_when_asked_to_bind_beyond_loopback() -> None:
    # 192.0.2.1 is TEST-NET-1: never this machine's, so the bind fails after the warning and
    # nothing is ever reachable from outside.
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "agnost.cli",
            "emulator",
            "--host",
            "192.0.2.1",
            "--db",
            ":memory:",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "WARNING: bound to 192.0.2.1" in done.stderr
    assert "cannot serve on 192.0.2.1" in done.stderr and done.returncode == 3


def test_bad_options_are_refused() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "agnost.cli", "emulator", "--hash-cost", "40", "--db", ":memory:"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "hashCost" in done.stderr


def test_the_command_line_has_the_emulator_subcommand() -> None:
    args = build_parser().parse_args(["emulator", "--no-email-confirmation", "--port", "9"])
    assert args.port == 9 and args.email_confirmation is False and args.host == "127.0.0.1"
    assert args.client_keys is None and args.db is None


def test_loopback_and_base_urls() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.8.9.10", "::1", "localhost"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "192.168.1.2", "example.com"))
    assert base_url_for("0.0.0.0", 80) == "http://127.0.0.1:80"
    assert base_url_for("::1", 81) == "http://[::1]:81"


def test_the_default_database_lives_in_the_user_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AGNOST_DATA_DIR", raising=False)
    assert default_database_path().parent == Path(platformdirs.user_data_dir("agnost"))


def test_the_default_database_honours_agnost_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGNOST_DATA_DIR", str(tmp_path / "data"))
    assert default_database_path() == tmp_path / "data" / "emulator.sqlite3"
    # The command line, too: where it serves from, and what --help says.
    with emulator_process() as (proc, banner):
        assert f"  database:   {tmp_path / 'data' / 'emulator.sqlite3'}" in banner
        status, _, _ = stop(proc)
    assert status == 0 and (tmp_path / "data" / "emulator.sqlite3").is_file()
    helped = agnost("emulator", "--help")
    # (argparse wraps long lines, at hyphens too)
    assert str(tmp_path / "data" / "emulator.sqlite3") in "".join(helped.stdout.split())


def agnost(*arguments: str, pythonpath: str = str(ROOT)) -> subprocess.CompletedProcess[str]:
    """Run ``python -m agnost ...`` to the end; its exit status and output."""
    return subprocess.run(
        [sys.executable, "-m", "agnost", *arguments],
        env={**os.environ, "PYTHONPATH": pythonpath},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_generated_key_is_kept_in_the_database_across_starts(tmp_path: Path) -> None:
    database = str(tmp_path / "emulator.sqlite3")
    with emulator_process("--db", database, "--hash-cost", "4") as (proc, banner):
        key = banner[1].split("client key: ", 1)[1].split(" ", 1)[0]
        assert key.startswith("dev-") and "kept in the database" in banner[1]
        base_url = banner[0].rsplit(" ", 1)[1]
        signed_up = requests.post(
            base_url + AUTH + "/signup-email",
            json={"email": "ada@example.com", "password": CANARY_PASSWORD},
            headers={"X-Client-Key": key},
            timeout=10,
        )
        token = signed_up.json()["session"]["token"]
        assert stop(proc)[0] == 0

    with emulator_process("--db", database, "--cors-origin", "http://app.test") as (proc, banner):
        assert f"client key: {key} " in banner[1]
        base_url = banner[0].rsplit(" ", 1)[1]
        user = requests.get(
            base_url + AUTH + "/user", headers={"X-Client-Key": key, "Session": token}, timeout=10
        )
        assert user.status_code == 200
        config = requests.get(base_url + "/_emulator/config", timeout=10).json()
        assert config["corsOrigins"] == ["http://app.test"]
        assert stop(proc)[0] == 0

    with emulator_process("--db", database, "--client-key", "mine") as (proc, banner):
        assert banner[1] == "  client key: mine"
        assert stop(proc)[0] == 0


@pytest.mark.parametrize("problem", ["not a database", "under a file"])
def test_an_unusable_database_is_one_line_and_exit_4(tmp_path: Path, problem: str) -> None:
    if problem == "not a database":
        database = tmp_path / "passwd"
        database.write_text("root:x:0:0:root:/root:/bin/bash\n" * 100)
    else:
        (tmp_path / "file").write_text("")
        database = tmp_path / "file" / "emulator.sqlite3"

    done = agnost("emulator", "--port", "0", "--db", str(database))

    assert done.returncode == 4
    [line] = done.stderr.splitlines()
    assert line.startswith(f"agnost emulator: cannot use the database {database}: ")
    assert done.stdout == ""


def test_a_port_that_cannot_be_bound_is_one_line_and_exit_3() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = agnost("emulator", "--port", str(port), "--db", ":memory:")

    assert done.returncode == 3
    [line] = done.stderr.splitlines()
    assert line.startswith(f"agnost emulator: cannot serve on 127.0.0.1:{port}: ")


def test_without_the_emulator_extra_it_says_what_to_install(tmp_path: Path) -> None:
    # A ua_parser that cannot be imported, first on the path, stands for a missing one.
    (tmp_path / "ua_parser").mkdir()
    (tmp_path / "ua_parser" / "__init__.py").write_text("raise ImportError('no ua_parser')\n")
    pythonpath = os.pathsep.join([str(tmp_path), str(ROOT)])

    for arguments in (
        ["emulator"],
        ["emulator", "--port", "0"],
        ["emulator", "--port", "0", "--db", ":memory:", "--client-key", "k"],
    ):
        done = agnost(*arguments, pythonpath=pythonpath)
        assert done.returncode == 2, (arguments, done.stderr)
        assert "pip install 'agnost-auth[emulator]'" in done.stderr
        assert "Traceback" not in done.stderr
    helped = agnost("emulator", "--help", pythonpath=pythonpath)
    assert helped.returncode == 0 and "--client-key" in helped.stdout
    assert "agnost-auth[emulator]" in helped.stdout
    assert agnost("--help", pythonpath=pythonpath).returncode == 0


def test_ctrl_c_just_after_requests_stops_every_time() -> None:
    # Before Python 3.11, asyncio.run let Ctrl-C's KeyboardInterrupt strike inside whatever
    # callback ran, which could lose a connection task's wake-up so that the shutdown waited
    # forever (seen about once in 5 starts on 3.10). The emulator now takes Ctrl-C as a
    # signal: every round stops, with status 0.
    for _ in range(8):
        with emulator_process("--db", ":memory:", "--client-key", "k") as (proc, banner):
            base_url = banner[0].rsplit(" ", 1)[1]
            with requests.Session() as kept_alive:
                assert kept_alive.get(base_url + "/x", headers={"X-Client-Key": "k"}).ok
            assert requests.get(base_url + "/x", headers={"X-Client-Key": "k"}, timeout=10).ok
            status, out, err = stop(proc)
        assert (status, "Traceback" in err) == (0, False)
        assert "agnost emulator stopped" in out
