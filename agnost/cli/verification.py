"""Confirming a phone or an email address: ``auth verify-phone`` (the code sent by SMS on
sign-up), ``auth resend-verification`` (a new email or code)."""

from __future__ import annotations

import argparse
import shlex
from typing import Any, TextIO

from ._common import (
    Command,
    Printer,
    describe_user,
    read_code,
    sent_output,
    stray_arguments,
    token_line,
)


def _verify_phone(client: Any, args: argparse.Namespace, printer: Printer, stdin: TextIO) -> int:
    code = read_code(args, stdin)
    result = client.auth.verify_phone(args.phone, code)
    lines = [f"phone verified: {describe_user(result.user)}"]
    if result.session is not None:
        lines.append("session stored")
    else:
        lines.append(
            "no session came back: sign in with"
            f" `agnost auth sign-in --phone {shlex.quote(args.phone)}`"
        )
    return printer.emit(
        {"user": printer.user(result.user), "session": printer.session(result.session)},
        lines + token_line(printer, result.session),
    )


def _resend(client: Any, args: argparse.Namespace, printer: Printer, stdin: TextIO) -> int:
    if args.email:
        client.auth.resend_verification_email(args.email)
        return sent_output(
            printer,
            "a new verification email",
            {"email": args.email},
            "open its link to confirm the address",
            who="an unconfirmed account",
        )
    client.auth.resend_verification_code(args.phone)
    return sent_output(
        printer,
        "a new verification code",
        {"phone": args.phone},
        f"confirm it with `agnost auth verify-phone --phone {shlex.quote(args.phone)}`",
        who="an unconfirmed account",
    )


def register(command: Command) -> None:
    """Register ``auth verify-phone`` and ``auth resend-verification``."""
    sub = command(
        "verify-phone",
        "confirm a phone number with the code sent to it by SMS (typed at a prompt that does"
        " not echo it, or piped with --code-stdin)",
        _verify_phone,
    )
    sub.add_argument("--phone", required=True, help="the phone number the code was sent to")
    sub.add_argument(
        "--code-stdin", action="store_true", help="read the code from the first line of stdin"
    )
    stray_arguments(sub)
    sub = command(
        "resend-verification",
        "send a new verification email or SMS code to an unconfirmed account",
        _resend,
    )
    to = sub.add_mutually_exclusive_group(required=True)
    to.add_argument("--email", help="send a new verification email to this address")
    to.add_argument("--phone", help="send a new verification code to this phone number")
