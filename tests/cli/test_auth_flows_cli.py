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


def signs_in_by_phone(emulator: Emulator, password: str, phone: str = PHONE) -> bool:
    with memory_client(emulator) as client:
        try:
            client.auth.sign_in_with_phone(phone, password)
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
    ("args", "option"),
    [
        (("auth", "verify-phone", "--phone", PHONE, "--code-stdin=864213"), "--code-stdin"),
        (("auth", "sign-in", "--email", EMAIL, "--password-stdin=864213"), "--password-stdin"),
    ],
)
def test_a_value_given_to_a_stdin_option_is_refused_unshown(
    cli: Run, args: tuple[str, ...], option: str
) -> None:
    done = cli(*args)
    assert done.returncode == 2
    assert done.stderr == (
        f"agnost: error: {option} takes no value (not shown): it reads the first line of stdin\n"
    )


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


# --- end to end through the outbox ---------------------------------------------------------

# The outbox kinds of the emulator's messages (agnost/emulator, issue 11).
SIGN_IN_CODE, PHONE_CODE, RESET_LINK, RESET_CODE, MAGIC_LINK, EMAIL_VERIFICATION = (
    "sign_in_code",
    "phone_verification",
    "password_reset",
    "password_reset_code",
    "magic_link",
    "email_verification",
)


def wrong(code: str) -> str:
    """A code of the same shape that is not ``code``."""
    return "".join(str((int(c) + 1) % 10) if c.isdigit() else c for c in code)


def test_sign_in_with_a_code_sent_then_piped(cli: Run, agnost_emulator: Emulator) -> None:
    sign_up_phone(agnost_emulator)
    sent = ok(cli("auth", "sign-in-code", "--phone", PHONE, "--send-only"))
    assert sent.stdout.splitlines()[0] == (
        f"a sign-in code was sent to {PHONE}, if an account has it (the server answers the"
        " same either way)"
    )
    code = last_message(agnost_emulator, PHONE, SIGN_IN_CODE).code
    assert code and code not in shown(sent)
    done = ok(cli("auth", "sign-in-code", "--phone", PHONE, "--code-stdin", stdin=code + "\n"))
    assert done.stdout.startswith(f"signed in: {PHONE} (Pat)")
    assert code not in shown(done)
    whoami = as_json(ok(cli("auth", "whoami", "--json")))
    assert whoami["user"]["phone"] == PHONE and whoami["session"]["token"] == "[hidden]"

    again = cli("auth", "sign-in-code", "--phone", PHONE, "--code-stdin", stdin=code + "\n")
    assert again.returncode == 1
    assert again.stderr.startswith("agnost: error: invalid_code: ")
    assert code not in shown(again)


def test_sign_in_code_json_and_an_unknown_phone_answers_the_same(
    cli: Run, agnost_emulator: Emulator
) -> None:
    done = ok(cli("auth", "sign-in-code", "--phone", "+15550000000", "--send-only", "--json"))
    assert as_json(done) == {"ok": True, "sent": True, "phone": "+15550000000"}
    assert agnost_emulator.outbox() == []  # no account: nothing sent, nothing said


def test_sign_in_code_on_a_terminal_sends_then_asks(
    terminal: Callable[..., Terminal], agnost_emulator: Emulator, cli: Run
) -> None:
    sign_up_phone(agnost_emulator)
    term = terminal("auth", "sign-in-code", "--phone", PHONE)
    term.expect("a sign-in code was sent")
    term.expect("Code: ")
    code = last_message(agnost_emulator, PHONE, SIGN_IN_CODE).code
    term.type(code + "\n")
    assert term.wait() == 0, term.seen
    assert b"signed in: " in term.seen
    assert code.encode() not in term.seen  # not echoed, not printed
    assert as_json(ok(cli("auth", "whoami", "--json")))["user"]["phone"] == PHONE


@pytest.mark.parametrize("command", ["sign-in-code", "verify-phone", "reset-password"])
def test_a_wrong_code_is_the_servers_refusal_and_never_printed(
    cli: Run, agnost_emulator: Emulator, command: str
) -> None:
    kind = {"sign-in-code": SIGN_IN_CODE, "verify-phone": PHONE_CODE, "reset-password": RESET_CODE}
    if command == "verify-phone":
        agnost_emulator.configure(phone_confirmation=True)  # sign-up sends the code
    sign_up_phone(agnost_emulator)
    if command != "verify-phone":
        ok(cli("auth", command, "--phone", PHONE, "--send-only"))
    code = last_message(agnost_emulator, PHONE, kind[command]).code
    given = wrong(code) + "\n" + (NEW_PASSWORD + "\n" if command == "reset-password" else "")
    done = cli("auth", command, "--phone", PHONE, "--code-stdin", stdin=given)
    assert done.returncode == 1, shown(done)
    assert done.stderr.startswith("agnost: error: invalid_code: "), done.stderr
    assert code not in shown(done) and wrong(code) not in shown(done)
    as_doc = cli("auth", command, "--phone", PHONE, "--code-stdin", "--json", stdin=given)
    assert as_doc.returncode == 1
    assert as_json(as_doc)["error"]["code"] == "invalid_code"
    assert wrong(code) not in shown(as_doc)


def test_phone_confirmation_from_sign_up_to_verify_phone(
    cli: Run, agnost_emulator: Emulator
) -> None:
    agnost_emulator.configure(phone_confirmation=True)
    signed_up = ok(cli("auth", "sign-up", "--phone", PHONE, "--password-stdin", stdin=PASSWORD))
    assert signed_up.stdout.splitlines()[-1] == (
        "no session: a code was sent to the phone; confirm it with"
        f" `agnost auth verify-phone --phone {PHONE}`"
    )
    code = last_message(agnost_emulator, PHONE, PHONE_CODE).code
    done = ok(cli("auth", "verify-phone", "--phone", PHONE, "--code-stdin", stdin=code + "\n"))
    assert done.stdout.startswith(f"phone verified: {PHONE}")
    assert code not in shown(done)
    with memory_client(agnost_emulator) as client:
        assert client.auth.sign_in_with_phone(PHONE, PASSWORD).user.phone_verified
    reused = cli("auth", "verify-phone", "--phone", PHONE, "--code-stdin", stdin=code + "\n")
    assert reused.returncode == 1 and "invalid_code" in reused.stderr


def test_verify_phone_on_a_terminal(
    terminal: Callable[..., Terminal], agnost_emulator: Emulator
) -> None:
    agnost_emulator.configure(phone_confirmation=True)
    sign_up_phone(agnost_emulator)
    code = last_message(agnost_emulator, PHONE, PHONE_CODE).code
    term = terminal("auth", "verify-phone", "--phone", PHONE)
    term.expect("Code: ")
    term.type(code + "\n")
    assert term.wait() == 0, term.seen
    assert b"phone verified" in term.seen and code.encode() not in term.seen


def test_resend_verification_by_phone_and_by_email(cli: Run, agnost_emulator: Emulator) -> None:
    agnost_emulator.configure(phone_confirmation=True, email_confirmation=True)
    sign_up_phone(agnost_emulator)
    first = last_message(agnost_emulator, PHONE, PHONE_CODE)
    done = ok(cli("auth", "resend-verification", "--phone", PHONE))
    assert done.stdout.splitlines()[0] == (
        f"a new verification code was sent to {PHONE}, if an unconfirmed account has it"
        " (the server answers the same either way)"
    )
    second = last_message(agnost_emulator, PHONE, PHONE_CODE)
    assert second.id != first.id
    ok(cli("auth", "verify-phone", "--phone", PHONE, "--code-stdin", stdin=second.code + "\n"))

    ok(cli("auth", "sign-up", "--email", EMAIL, "--password-stdin", stdin=PASSWORD + "\n"))
    before = len(agnost_emulator.outbox(recipient=EMAIL))
    done = ok(cli("auth", "resend-verification", "--email", EMAIL, "--json"))
    assert as_json(done) == {"ok": True, "sent": True, "email": EMAIL}
    messages = agnost_emulator.outbox(recipient=EMAIL, kind=EMAIL_VERIFICATION)
    assert len(messages) == before + 1
    granted = ok(cli("auth", "grant", "-", stdin=messages[-1].link + "\n"))
    assert granted.stdout.startswith(f"signed in: {EMAIL}")

    nobody = ok(cli("auth", "resend-verification", "--email", "nobody@example.com"))
    assert "if an unconfirmed account has it" in nobody.stdout
    assert agnost_emulator.outbox(recipient="nobody@example.com") == []


def test_magic_link_then_grant(cli: Run, agnost_emulator: Emulator) -> None:
    sign_up_email(cli)
    ok(cli("auth", "clear"))
    sent = ok(cli("auth", "magic-link", "--email", EMAIL))
    assert "`agnost auth grant -`" in sent.stdout
    link = last_message(agnost_emulator, EMAIL, MAGIC_LINK).link
    done = ok(cli("auth", "grant", "-", stdin=link + "\n"))
    assert done.stdout.startswith(f"signed in: {EMAIL}")
    assert done.stdout.splitlines()[1] == "session stored"
    assert link not in shown(done)
    reused = cli("auth", "grant", "-", stdin=link + "\n")
    assert reused.returncode == 1 and "invalid_access_token" in reused.stderr
    assert link not in shown(reused)
    ok(cli("auth", "magic-link", "--email", "nobody@example.com"))
    assert agnost_emulator.outbox(recipient="nobody@example.com") == []


def test_reset_password_by_an_emailed_link(cli: Run, agnost_emulator: Emulator) -> None:
    sign_up_email(cli)
    sent = ok(cli("auth", "reset-password", "--email", EMAIL))
    assert "reset-password --link -" in sent.stdout
    link = last_message(agnost_emulator, EMAIL, RESET_LINK).link

    short = cli("auth", "reset-password", "--link", "-", stdin=link + "\n")
    assert short.returncode == 2
    assert "stdin gave no new password (the line after the link)" in short.stderr
    assert signs_in(agnost_emulator, PASSWORD)  # nothing was sent: the link still works

    done = ok(cli("auth", "reset-password", "--link", "-", stdin=f"{link}\n{NEW_PASSWORD}\n"))
    assert done.stdout == "password reset with the reset link: sign in with the new password\n"
    assert signs_in(agnost_emulator, NEW_PASSWORD)
    assert not signs_in(agnost_emulator, PASSWORD)

    reused = cli("auth", "reset-password", "--link", link, "--password-stdin", stdin="x" * 12)
    assert reused.returncode == 1
    assert reused.stderr.startswith("agnost: error: invalid_access_token: ")
    assert link not in shown(reused)
    assert signs_in(agnost_emulator, NEW_PASSWORD)


def test_reset_password_by_a_code(cli: Run, agnost_emulator: Emulator) -> None:
    sign_up_phone(agnost_emulator)
    ok(cli("auth", "reset-password", "--phone", PHONE, "--send-only"))
    code = last_message(agnost_emulator, PHONE, RESET_CODE).code
    done = ok(
        cli(
            "auth", "reset-password", "--phone", PHONE, "--code-stdin", "--json",
            stdin=f"{code}\n{NEW_PASSWORD}\n",
        )
    )  # fmt: skip
    assert as_json(done) == {"ok": True, "reset": True}
    assert code not in shown(done)
    with memory_client(agnost_emulator) as client:
        assert client.auth.sign_in_with_phone(PHONE, NEW_PASSWORD).user.phone == PHONE
    again = cli(
        "auth", "reset-password", "--phone", PHONE, "--code-stdin",
        stdin=f"{code}\n{PASSWORD}\n",
    )  # fmt: skip
    assert again.returncode == 1 and "invalid_code" in again.stderr


def test_reset_password_on_a_terminal_asks_the_new_password_twice(
    terminal: Callable[..., Terminal], agnost_emulator: Emulator, cli: Run
) -> None:
    sign_up_email(cli)
    ok(cli("auth", "reset-password", "--email", EMAIL))
    link = last_message(agnost_emulator, EMAIL, RESET_LINK).link
    term = terminal("auth", "reset-password", "--link", "-")
    term.expect("Reset link or token: ")
    term.type(link + "\n")
    term.expect("New password: ")
    term.type(NEW_PASSWORD + "\n")
    term.expect("New password again: ")
    term.type("a typo\n")
    term.expect("the passwords do not match; type them again")
    term.expect("New password: ")
    term.type(NEW_PASSWORD + "\n")
    term.expect("New password again: ")
    term.type(NEW_PASSWORD + "\n")
    assert term.wait() == 0, term.seen
    assert link.encode() not in term.seen and NEW_PASSWORD.encode() not in term.seen
    assert signs_in(agnost_emulator, NEW_PASSWORD)


def test_reset_password_by_code_on_a_terminal(
    terminal: Callable[..., Terminal], agnost_emulator: Emulator
) -> None:
    sign_up_phone(agnost_emulator)
    term = terminal("auth", "reset-password", "--phone", PHONE)
    term.expect("a password reset code was sent")
    term.expect("Code: ")
    code = last_message(agnost_emulator, PHONE, RESET_CODE).code
    term.type(code + "\n")
    term.expect("New password: ")
    term.type(NEW_PASSWORD + "\n")
    term.expect("New password again: ")
    term.type(NEW_PASSWORD + "\n")
    assert term.wait() == 0, term.seen
    assert code.encode() not in term.seen
    with memory_client(agnost_emulator) as client:
        assert client.auth.sign_in_with_phone(PHONE, NEW_PASSWORD).session.token


def test_change_password(cli: Run, agnost_emulator: Emulator) -> None:
    sign_up_email(cli)
    short = cli("auth", "change-password", "--password-stdin", stdin=PASSWORD + "\n")
    assert short.returncode == 2
    assert "stdin gave no new password (the line after the current password)" in short.stderr
    refused = cli(
        "auth", "change-password", "--password-stdin", stdin=f"not it at all\n{NEW_PASSWORD}\n"
    )
    assert refused.returncode == 1
    assert refused.stderr.startswith("agnost: error: invalid_credentials: ")
    assert signs_in(agnost_emulator, PASSWORD)
    done = ok(
        cli("auth", "change-password", "--password-stdin", stdin=f"{PASSWORD}\n{NEW_PASSWORD}\n")
    )
    assert done.stdout == "password changed\n"
    assert NEW_PASSWORD not in shown(done) and PASSWORD not in shown(done)
    assert signs_in(agnost_emulator, NEW_PASSWORD) and not signs_in(agnost_emulator, PASSWORD)


def test_change_password_on_a_terminal(
    terminal: Callable[..., Terminal], agnost_emulator: Emulator, cli: Run
) -> None:
    sign_up_email(cli)
    term = terminal("auth", "change-password")
    term.expect("Current password: ")
    term.type(PASSWORD + "\n")
    term.expect("New password: ")
    term.type(NEW_PASSWORD + "\n")
    term.expect("New password again: ")
    term.type(NEW_PASSWORD + "\n")
    assert term.wait() == 0, term.seen
    assert PASSWORD.encode() not in term.seen and NEW_PASSWORD.encode() not in term.seen
    assert signs_in(agnost_emulator, NEW_PASSWORD)


def test_change_email_refreshes_the_stored_user(cli: Run, agnost_emulator: Emulator) -> None:
    sign_up_email(cli)
    refused = cli(
        "auth", "change-email", "--new-email", "lovelace@example.com", "--password-stdin",
        stdin="not it at all\n",
    )  # fmt: skip
    assert refused.returncode == 1 and "invalid_credentials" in refused.stderr
    done = ok(
        cli(
            "auth", "change-email", "--new-email", "lovelace@example.com", "--password-stdin",
            "--json", stdin=PASSWORD + "\n",
        )
    )  # fmt: skip
    document = as_json(done)
    assert document["user"]["email"] == "lovelace@example.com"
    assert document["storedUserRefreshed"] is True
    whoami = as_json(ok(cli("auth", "whoami", "--json")))
    assert whoami["user"]["email"] == "lovelace@example.com"
    assert signs_in(agnost_emulator, PASSWORD, email="lovelace@example.com")


def test_change_phone(cli: Run, agnost_emulator: Emulator) -> None:
    sign_up_email(cli)
    done = ok(
        cli(
            "auth", "change-phone", "--new-phone", PHONE, "--password-stdin",
            stdin=PASSWORD + "\n",
        )
    )  # fmt: skip
    assert done.stdout.startswith("phone changed: ")
    whoami = as_json(ok(cli("auth", "whoami", "--json")))
    assert whoami["user"]["phone"] == PHONE


@pytest.mark.parametrize("command", ["sign-in-code", "reset-password"])
def test_an_expired_code_is_refused(cli: Run, agnost_emulator: Emulator, command: str) -> None:
    agnost_emulator.configure(code_lifetime=0)  # every code is expired when it is sent
    sign_up_phone(agnost_emulator)
    ok(cli("auth", command, "--phone", PHONE, "--send-only"))
    kind = SIGN_IN_CODE if command == "sign-in-code" else RESET_CODE
    code = last_message(agnost_emulator, PHONE, kind).code
    given = f"{code}\n{NEW_PASSWORD}\n"
    done = cli("auth", command, "--phone", PHONE, "--code-stdin", stdin=given)
    assert done.returncode == 1
    assert done.stderr.startswith("agnost: error: invalid_code: ")
    assert code not in shown(done)
    assert signs_in_by_phone(agnost_emulator, PASSWORD)


def test_an_expired_reset_link_is_refused(cli: Run, agnost_emulator: Emulator) -> None:
    sign_up_email(cli)
    agnost_emulator.configure(access_token_lifetime=0)
    ok(cli("auth", "reset-password", "--email", EMAIL))
    link = last_message(agnost_emulator, EMAIL, RESET_LINK).link
    done = cli("auth", "reset-password", "--link", "-", stdin=f"{link}\n{NEW_PASSWORD}\n")
    assert done.returncode == 1
    assert done.stderr.startswith("agnost: error: invalid_access_token: ")
    assert signs_in(agnost_emulator, PASSWORD)


def test_too_many_wrong_codes_burn_the_code(cli: Run, agnost_emulator: Emulator) -> None:
    agnost_emulator.configure(max_code_attempts=2)
    sign_up_phone(agnost_emulator)
    ok(cli("auth", "sign-in-code", "--phone", PHONE, "--send-only"))
    code = last_message(agnost_emulator, PHONE, SIGN_IN_CODE).code
    first = cli("auth", "sign-in-code", "--phone", PHONE, "--code-stdin", stdin=wrong(code))
    assert first.returncode == 1 and "invalid_code" in first.stderr
    second = cli("auth", "sign-in-code", "--phone", PHONE, "--code-stdin", stdin=wrong(code))
    assert second.returncode == 1
    assert second.stderr.startswith("agnost: error: too_many_attempts: ")
    right = cli("auth", "sign-in-code", "--phone", PHONE, "--code-stdin", "--json", stdin=code)
    assert right.returncode == 1
    assert as_json(right)["error"]["code"] == "too_many_attempts"
    assert code not in shown(right)
    assert cli("auth", "whoami").returncode == 6  # nobody signed in


def test_a_malformed_phone_is_the_servers_validation_error(cli: Run) -> None:
    done = cli("auth", "sign-in-code", "--phone", "not a phone", "--send-only")
    assert done.returncode == 1
    assert done.stderr.startswith("agnost: error: validation_error: ")


def test_change_email_with_confirmation_on_is_pending_until_the_link(
    cli: Run, agnost_emulator: Emulator
) -> None:
    sign_up_email(cli)  # confirmation off at sign-up: a session is stored
    agnost_emulator.configure(email_confirmation=True)
    done = ok(
        cli(
            "auth", "change-email", "--new-email", "lovelace@example.com", "--password-stdin",
            stdin=PASSWORD + "\n",
        )
    )  # fmt: skip
    user_id = as_json(ok(cli("auth", "whoami", "--json")))["user"]["_id"]
    assert done.stdout.splitlines() == [
        f"email change requested: {EMAIL}, id {user_id}",
        "confirmation pending: open the link sent to lovelace@example.com (or"
        " `agnost auth grant -` and paste it)",
    ]
    link = last_message(agnost_emulator, "lovelace@example.com", "email_change").link
    granted = ok(cli("auth", "grant", "-", stdin=link + "\n"))
    assert granted.stdout.startswith("signed in: lovelace@example.com")
    assert as_json(ok(cli("auth", "whoami", "--json")))["user"]["email"] == "lovelace@example.com"


def test_change_phone_with_confirmation_on_is_pending_until_verify_phone(
    cli: Run, agnost_emulator: Emulator
) -> None:
    sign_up_email(cli)
    agnost_emulator.configure(phone_confirmation=True)
    done = ok(
        cli(
            "auth", "change-phone", "--new-phone", PHONE, "--password-stdin", "--json",
            stdin=PASSWORD + "\n",
        )
    )  # fmt: skip
    document = as_json(done)
    assert document["pending"] is True and document["user"].get("phone") is None
    code = last_message(agnost_emulator, PHONE, PHONE_CODE).code
    ok(cli("auth", "verify-phone", "--phone", PHONE, "--code-stdin", stdin=code + "\n"))
    with memory_client(agnost_emulator) as client:
        assert client.auth.sign_in_with_email(EMAIL, PASSWORD).user.phone == PHONE


def test_a_sign_in_before_confirmation_says_how_to_confirm(
    cli: Run, agnost_emulator: Emulator
) -> None:
    agnost_emulator.configure(phone_confirmation=True, email_confirmation=True)
    sign_up_phone(agnost_emulator)
    done = cli("auth", "sign-in", "--phone", PHONE, "--password-stdin", stdin=PASSWORD)
    assert done.returncode == 1
    assert done.stderr.splitlines()[0].startswith("agnost: error: phone_not_verified: ")
    assert done.stderr.splitlines()[1] == (
        "agnost: hint: confirm the phone with `agnost auth verify-phone --phone PHONE` (a new"
        " code: `agnost auth resend-verification --phone PHONE`)"
    )
    sign_up_email(cli)
    done = cli("auth", "sign-in", "--email", EMAIL, "--password-stdin", "--json", stdin=PASSWORD)
    assert done.returncode == 1
    assert "resend-verification --email" in as_json(done)["error"]["hint"]
