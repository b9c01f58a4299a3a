"""The ``agnost auth`` commands of the flows a person runs from a terminal (issue 11): sign-in
codes, phone verification, magic links, password reset, changing credentials. Real ``agnost``
processes against a real emulator on 127.0.0.1, the outbox as the mail and SMS channel, a
real terminal (a pty) where a prompt is involved."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import agnost
from agnost.emulator import Emulator
from tests.cli._support import PASSWORD, cli_runner, emulator_env
from tests.cli.test_first_contact import Terminal

Run = Callable[..., subprocess.CompletedProcess[str]]

PHONE = "+15551234567"
EMAIL = "ada@example.com"
NEW_PASSWORD = "a new horse staple"


@pytest.fixture
def cli(agnost_emulator: Emulator, data_dir: Path) -> Run:
    return cli_runner(agnost_emulator, data_dir, clean=True)


@pytest.fixture
def terminal(agnost_emulator: Emulator, data_dir: Path) -> Callable[..., Terminal]:
    return lambda *args: Terminal(emulator_env(agnost_emulator, data_dir, clean=True), *args)


def memory_client(emulator: Emulator) -> agnost.Client:
    return agnost.create_client(
        emulator.base_url, emulator.client_key, storage=agnost.MemoryStore()
    )


def ok(done: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def as_json(done: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(done.stdout)


def shown(done: subprocess.CompletedProcess[str]) -> str:
    return done.stdout + done.stderr


def sign_up_email(cli: Run, email: str = EMAIL, password: str = PASSWORD) -> None:
    ok(cli("auth", "sign-up", "--email", email, "--password-stdin", stdin=password + "\n"))


def sign_up_phone(emulator: Emulator, phone: str = PHONE, password: str = PASSWORD) -> None:
    with memory_client(emulator) as client:
        client.auth.sign_up_with_phone(phone, password, "Pat")


def last_message(emulator: Emulator, recipient: str, kind: str) -> Any:
    messages = emulator.outbox(recipient=recipient, kind=kind)
    assert messages, f"no {kind} message to {recipient}: {emulator.outbox()}"
    return messages[-1]


def signs_in(emulator: Emulator, password: str, *, email: str = EMAIL) -> bool:
    with memory_client(emulator) as client:
        try:
            client.auth.sign_in_with_email(email, password)
        except agnost.InvalidCredentialsError:
            return False
        return True


# --- secrets never on the command line -----------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("auth", "sign-in-code", "--phone", PHONE, "--code", "864213"),
        ("auth", "sign-in-code", "--phone", PHONE, "--code=864213"),
        ("auth", "verify-phone", "--phone", PHONE, "--sms-code", "864213"),
        ("auth", "verify-phone", "--phone", PHONE, "--otp=864213"),
        ("auth", "reset-password", "--phone", PHONE, "--verification-code", "864213"),
        ("auth", "reset-password", "--phone", PHONE, "--Code=864213"),
    ],
)
def test_a_code_on_the_command_line_is_refused_unshown(cli: Run, args: tuple[str, ...]) -> None:
    done = cli(*args)
    assert done.returncode == 2
    assert "codes are never taken from the command line" in done.stderr
    assert "--code-stdin" in done.stderr
    assert "864213" not in shown(done)


@pytest.mark.parametrize(
    "args",
    [
        ("auth", "change-password", "--new-password", "hunter2hunter2"),
        ("auth", "change-password", "--old-password=hunter2hunter2"),
        ("auth", "change-email", "--new-email", "b@x.org", "--current-password", "hunter2hunter2"),
        ("auth", "reset-password", "--link", "-", "--new_password=hunter2hunter2"),
        ("auth", "change-phone", "--new-phone", PHONE, "--pwd", "hunter2hunter2"),
    ],
)  # fmt: skip
def test_a_password_option_is_refused_unshown(cli: Run, args: tuple[str, ...]) -> None:
    done = cli(*args)
    assert done.returncode == 2
    assert "passwords are never taken from the command line" in done.stderr
    assert "hunter2hunter2" not in shown(done)


@pytest.mark.parametrize(
    "args",
    [
        ("auth", "verify-phone", "--phone", PHONE, "864213"),
        ("auth", "sign-in-code", "--phone", PHONE, "864213"),
        ("auth", "reset-password", "--phone", PHONE, "--code-stdin", "864213", "hunter2hunter2"),
        ("auth", "change-password", "hunter2hunter2", "864213"),
        ("auth", "change-email", "--new-email", "b@example.com", "864213"),
    ],
)
def test_extra_words_are_refused_without_repeating_them(
    cli: Run, agnost_emulator: Emulator, args: tuple[str, ...]
) -> None:
    done = cli(*args)
    assert done.returncode == 2, shown(done)
    assert "not shown" in done.stderr
    assert "864213" not in shown(done) and "hunter2hunter2" not in shown(done)
    assert agnost_emulator.outbox() == []  # nothing was sent


# --- one reader of stdin; no code to read, nothing sent ----------------------------------


@pytest.mark.parametrize(
    ("args", "readers"),
    [
        (("reset-password", "--link", "-", "--password-stdin"), "--password-stdin and --link -"),
        (
            ("reset-password", "--phone", PHONE, "--code-stdin", "--password-stdin"),
            "--password-stdin and --code-stdin",
        ),
        (("sign-in-code", "--phone", PHONE, "--code-stdin", "--api-key", "-"), "--code-stdin"),
        (("verify-phone", "--phone", PHONE, "--code-stdin", "--api-key", "-"), "--code-stdin"),
        (("change-password", "--password-stdin", "--api-key", "-"), "--password-stdin"),
    ],
)
def test_two_options_cannot_both_read_stdin(
    cli: Run, agnost_emulator: Emulator, args: tuple[str, ...], readers: str
) -> None:
    done = cli("auth", *args, stdin="864213\n" + NEW_PASSWORD + "\n")
    assert done.returncode == 2, shown(done)
    assert readers in done.stderr and "cannot both read stdin" in done.stderr
    assert "864213" not in shown(done)
    assert agnost_emulator.outbox() == []


@pytest.mark.parametrize(
    "args",
    [("sign-in-code", "--phone", PHONE), ("reset-password", "--phone", PHONE)],
)
def test_without_a_terminal_a_code_is_not_sent_that_could_not_be_typed(
    cli: Run, agnost_emulator: Emulator, args: tuple[str, ...]
) -> None:
    sign_up_phone(agnost_emulator)
    before = len(agnost_emulator.outbox())
    done = cli("auth", *args)
    assert done.returncode == 2
    assert "no terminal to type the code at" in done.stderr and "--send-only" in done.stderr
    assert len(agnost_emulator.outbox()) == before


def test_verify_phone_without_a_terminal_or_code_stdin_says_how(cli: Run) -> None:
    done = cli("auth", "verify-phone", "--phone", PHONE)
    assert done.returncode == 2
    assert done.stderr == (
        "agnost: error: no code: type it at the prompt, or pipe it with --code-stdin\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("sign-in-code", "--phone", PHONE, "--send-only", "--code-stdin"), "not allowed with"),
        (("reset-password", "--email", EMAIL, "--password-stdin"), "goes with --link LINK"),
        (("reset-password", "--email", EMAIL, "--code-stdin"), "go with --phone"),
        (("reset-password", "--email", EMAIL, "--phone", PHONE), "not allowed with"),
        (("reset-password",), "one of the arguments"),
        (("resend-verification",), "one of the arguments"),
        (("change-email",), "--new-email"),
    ],
)
def test_usage_errors(
    cli: Run, agnost_emulator: Emulator, args: tuple[str, ...], message: str
) -> None:
    done = cli("auth", *args)
    assert done.returncode == 2
    assert message in done.stderr
    assert agnost_emulator.outbox() == []


@pytest.mark.parametrize(
    "args",
    [
        ("change-password",),
        ("change-email", "--new-email", "b@example.com"),
        ("change-phone", "--new-phone", PHONE),
    ],
)
def test_changing_credentials_needs_a_session(cli: Run, args: tuple[str, ...]) -> None:
    done = cli("auth", *args, "--password-stdin", stdin=PASSWORD + "\n" + NEW_PASSWORD + "\n")
    assert done.returncode == 6
    assert done.stdout == "not signed in\n"
    done = cli("auth", *args, "--password-stdin", "--json", stdin=PASSWORD + "\n")
    assert done.returncode == 6
    assert as_json(done)["error"]["code"] == "not_signed_in"
