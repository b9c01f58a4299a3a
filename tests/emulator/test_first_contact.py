"""The emulator as a new user's tests and CI first meet it (issue 13, items 8-10): one spelling
of the settings, the fixture's own example, and what a CI job needs from ``agnost emulator``
(real processes, real ports, real files)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests

import agnost
from agnost import pytest_plugin
from agnost.emulator import ConfigError, Emulator
from agnost.emulator.command import EPHEMERAL_HASH_COST
from tests.cli._support import run_agnost, without_agnost_vars

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse"


# --- 8: one spelling, typed ----------------------------------------------------------------


def test_emulator_and_configure_take_the_same_snake_case_names() -> None:
    with Emulator(hash_cost=4, email_confirmation=True) as emulator:
        assert emulator.config["emailConfirmation"] is True
        emulator.configure(email_confirmation=False, session_lifetime=60)
        assert emulator.config["emailConfirmation"] is False
        assert emulator.config["sessionLifetime"] == 60
        with pytest.raises(TypeError, match="settings are snake_case here: email_confirmation"):
            emulator.configure(emailConfirmation=True)  # type: ignore[call-arg]
        with pytest.raises(ConfigError, match="session_lifetime: must be a number"):
            emulator.configure(session_lifetime=-1, email_confirmation=True)
        assert emulator.config["emailConfirmation"] is False  # all or nothing
    with pytest.raises(TypeError, match="Emulator\\(\\) got an unexpected keyword argument"):
        Emulator(email_confirmaton=True)  # type: ignore[call-arg]
    # The wire keeps its camelCase spelling.
    with Emulator(hash_cost=4) as emulator:
        answer = requests.patch(
            emulator.base_url + "/_emulator/config", json={"emailConfirmation": True}, timeout=10
        )
        assert answer.ok and emulator.config["emailConfirmation"] is True


def test_mypy_catches_a_misspelt_setting(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from agnost.emulator import Emulator\n"
        "emu = Emulator(email_confirmation=True, hash_cost=4)\n"
        "emu.configure(enforce_session=True)\n"
        "Emulator(email_confirmaton=True)\n"
        "emu.configure(emailConfirmation=True)\n"
        "emu.configure(hash_cost='4')\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(sample)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    errors = sorted(int(n) for n in re.findall(r"sample\.py:(\d+): error", done.stdout))
    assert errors == [4, 5, 6], done.stdout


# --- 9: the fixture's own example ----------------------------------------------------------


def test_the_fixture_docstring_example_runs_and_leaves_no_session_files(
    agnost_emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = tmp_path / "data"
    monkeypatch.setenv("AGNOST_DATA_DIR", str(data_dir))
    doc = pytest_plugin.__doc__ or ""
    example = textwrap.dedent(doc.split("::\n\n", 1)[1].split("\nA fake of", 1)[0])
    assert "storage=agnost.MemoryStore()" in example
    namespace: dict[str, Any] = {}
    exec(compile(example.replace("    ...\n", ""), "pytest_plugin example", "exec"), namespace)
    namespace["test_sign_in"](agnost_emulator)
    assert not data_dir.exists() or not any(data_dir.rglob("*"))
    assert "agnost-auth[emulator]" in doc


# --- 10: the emulator in CI ----------------------------------------------------------------


@contextmanager
def emulator_process(*options: str, cwd: Path) -> Iterator[subprocess.Popen[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGNOST_")}
    env.update(PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1", AGNOST_DATA_DIR=str(cwd / "data"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "agnost", "emulator", "--port", "0", *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=cwd,
    )
    watchdog = threading.Timer(60, proc.kill)
    watchdog.start()
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        watchdog.cancel()


def wait_for_file(path: Path, proc: subprocess.Popen[str]) -> Any:
    deadline = time.monotonic() + 30
    while not path.exists():
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        assert time.monotonic() < deadline, "no ready file"
        time.sleep(0.05)
    return json.loads(path.read_text())


def agnost_cli(*args: str, env_url: str) -> subprocess.CompletedProcess[str]:
    return run_agnost(*args, env=without_agnost_vars(PYTHONPATH=str(ROOT), AGNOST_ENV_URL=env_url))


SEED = {
    "users": [
        {"email": "ada@example.com", "password": PASSWORD, "name": "Ada", "plan": "pro"},
        {"phone": "+15555550100", "password": PASSWORD},
        {"email": "unconfirmed@example.com", "password": PASSWORD, "emailVerified": False},
    ]
}


def test_an_ephemeral_seeded_emulator_for_ci(tmp_path: Path) -> None:
    (tmp_path / "seed.json").write_text(json.dumps(SEED))
    ready_file = tmp_path / "ready.json"
    options = ("--ephemeral", "--seed", "seed.json", "--ready-file", "ready.json")
    with emulator_process(*options, "--email-confirmation", cwd=tmp_path) as proc:
        ready = wait_for_file(ready_file, proc)
        assert set(ready) == {"url", "port", "clientKey"}
        assert ready["url"] == f"http://127.0.0.1:{ready['port']}"
        url, key = ready["url"], ready["clientKey"]

        assert requests.get(url + "/_emulator/health", timeout=10).json() == {"status": "ok"}
        refused = requests.get(
            url + "/_emulator/health", headers={"Host": "evil.test"}, timeout=10
        )
        assert refused.status_code == 403  # the Host rules apply
        config = requests.get(url + "/_emulator/config", timeout=10).json()
        assert config["hashCost"] == EPHEMERAL_HASH_COST

        with agnost.create_client(url, key, storage=agnost.MemoryStore()) as client:
            grant = client.auth.sign_in_with_email("ada@example.com", PASSWORD)
            assert grant.user.name == "Ada" and grant.user.extra["plan"] == "pro"
            assert client.auth.sign_in_with_phone("+15555550100", PASSWORD).user.phone
            with pytest.raises(agnost.APIError) as unconfirmed:
                client.auth.sign_in_with_email("unconfirmed@example.com", PASSWORD)
            assert unconfirmed.value.code == "email_not_verified"

        exported = agnost_cli("emulator", "export", env_url=url)
        assert exported.returncode == 0, exported.stderr
        users = json.loads(exported.stdout)["users"]
        assert [u.get("email") or u.get("phone") for u in users] == [
            "ada@example.com",
            "+15555550100",
            "unconfirmed@example.com",
        ]
        assert all(u["passwordHash"].startswith("scrypt$4$") for u in users)
        assert all("password" not in u for u in users)
        (tmp_path / "export.json").write_text(exported.stdout)

        with agnost.create_client(url, key, storage=agnost.MemoryStore()) as client:
            assert client.auth.sign_up_with_email("new@example.com", PASSWORD).session is None
        outbox = agnost_cli("emulator", "outbox", "--recipient", "NEW@example.com", env_url=url)
        assert outbox.returncode == 0, outbox.stderr
        [line] = outbox.stdout.splitlines()
        assert "email_verification  new@example.com  http" in line
        as_json = agnost_cli("emulator", "outbox", "--json", "--kind", "nothing", env_url=url)
        assert json.loads(as_json.stdout) == {"messages": []}

        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    assert not ready_file.exists()  # a stale one would let the next job start too early
    assert not (tmp_path / "data").exists()  # ephemeral: nothing written

    # The export seeds another emulator: the same users, ids and passwords.
    with emulator_process("--ephemeral", "--seed", "export.json", "--json", cwd=tmp_path) as proc:
        assert proc.stdout is not None
        ready = json.loads(proc.stdout.readline())
        assert set(ready) == {"url", "port", "clientKey", "clientKeys", "database"}
        with agnost.create_client(
            ready["url"], ready["clientKey"], storage=agnost.MemoryStore()
        ) as c:
            assert (
                c.auth.sign_in_with_email("ada@example.com", PASSWORD).user.id == users[0]["_id"]
            )
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0 and out == ""  # --json: nothing but the one line


@pytest.mark.parametrize(
    ("seed", "message"),
    [
        ("[1]", 'a seed is {"users": [...]}'),
        ('{"users": [{"password": "secret12"}]}', "users[0] needs an email or a phone"),
        ('{"users": [{"email": "nope", "password": "secret12"}]}', "users[0].email must be"),
        ('{"users": [{"email": "a@b.co"}]}', "users[0] needs a password or a passwordHash"),
        ('{"users": [{"email": "a@b.co", "password": "x"}]}', "users[0].password must be"),
        ('{"users": [{"email": "a@b.co", "passwordHash": "plain"}]}', "not a hash"),
        (
            '{"users": [{"email": "a@b.co", "password": "secret12"},'
            ' {"email": "A@b.co", "password": "secret12"}]}',
            "users[1].email is already taken",
        ),
        ("{not json", "Expecting property name"),
    ],
)
def test_a_bad_seed_is_one_line_and_exit_2(tmp_path: Path, seed: str, message: str) -> None:
    (tmp_path / "seed.json").write_text(seed)
    with emulator_process("--ephemeral", "--seed", "seed.json", cwd=tmp_path) as proc:
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    [line] = err.splitlines()
    assert line.startswith("agnost emulator: cannot use the seed seed.json: ")
    assert message in line
    assert "secret12" not in line


def test_ephemeral_refuses_a_database_file(tmp_path: Path) -> None:
    with emulator_process("--ephemeral", "--db", "x.sqlite3", cwd=tmp_path) as proc:
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2 and "--ephemeral keeps its data in memory" in err


def test_reading_commands_without_an_emulator(tmp_path: Path) -> None:
    assert agnost_cli("emulator", "outbox", env_url="").returncode == 2
    closed = agnost_cli("emulator", "outbox", env_url="http://127.0.0.1:9")
    assert closed.returncode == 3 and "cannot reach" in closed.stderr
    with Emulator(hash_cost=4) as emulator:
        elsewhere = agnost_cli("emulator", "export", env_url=emulator.base_url + "/nowhere")
    assert elsewhere.returncode == 4 and "is --env-url the emulator's URL?" in elsewhere.stderr


def test_help_has_examples_and_only_its_own_exit_codes() -> None:
    helped = agnost_cli("emulator", "--help", env_url="")
    assert helped.returncode == 0
    text = helped.stdout
    assert "examples:" in text and "--ready-file" in text and "/_emulator/health" in text
    codes = re.findall(r"^  (\d+)  ", text.split("exit codes:")[1], re.MULTILINE)
    assert codes == ["0", "2", "3", "4"]  # no smoke-check 5, no not-signed-in 6
    assert "weak hashes" in text
    for command in ("outbox", "export"):
        sub = agnost_cli("emulator", command, "--help", env_url="")
        assert sub.returncode == 0 and "--env-url" in sub.stdout
