"""The command line prints the server's codes and messages exactly, whatever the password
(issue 8): real subprocesses against a real emulator."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from agnost.emulator import Emulator
from tests.cli._support import emulator_env, run_agnost

SHORT_MESSAGE = "Validation failed: password: must be at least 6 characters long"


def _cli(
    emulator: Emulator, data_dir: Path, *args: str, password: str
) -> subprocess.CompletedProcess[str]:
    env = emulator_env(emulator, data_dir)
    return run_agnost("auth", *args, "--password-stdin", env=env, stdin=password + "\n")


@pytest.mark.parametrize("password", ["e", "in", "al", "pass", "valid"])
def test_sign_up_json_shows_the_exact_code_and_message_for_a_short_password(
    agnost_emulator: Emulator, tmp_path: Path, password: str
) -> None:
    result = _cli(
        agnost_emulator,
        tmp_path,
        "sign-up",
        "--email",
        "ada@example.com",
        "--json",
        password=password,
    )

    assert result.returncode == 1, result.stderr
    error = json.loads(result.stdout)["error"]
    assert (error["type"], error["code"]) == ("ValidationError", "validation_error")
    assert error["message"] == f"400 Bad Request [validation_error]: {SHORT_MESSAGE}"


def test_a_wrong_common_word_password_prints_the_exact_code_and_message(
    agnost_emulator: Emulator, tmp_path: Path
) -> None:
    email = ("--email", "ada@example.com")
    assert (
        _cli(agnost_emulator, tmp_path, "sign-up", *email, password="right-one-1").returncode == 0
    )

    result = _cli(agnost_emulator, tmp_path, "sign-in", *email, password="password")

    assert result.returncode == 1
    assert result.stderr.strip() == (
        "agnost: error: invalid_credentials: "
        "401 Unauthorized [invalid_credentials]: Invalid email or password"
    )
