"""A forgotten password: ``auth reset-password`` sends a reset link by email (``--email``) and
completes it (``--link``), or sends a code by SMS and completes it with that code
(``--phone``)."""

from __future__ import annotations

import argparse
import shlex
from typing import Any, TextIO

from ._common import (
    Command,
    Printer,
    UsageError,
    code_by_sms,
    code_options,
    read_new_password,
    read_token,
    sent_output,
)


def _reset_password(client: Any, args: argparse.Namespace, printer: Printer, stdin: TextIO) -> int:
    if args.phone is None and (args.send_only or args.code_stdin):
        raise UsageError("--send-only and --code-stdin go with --phone")
    if args.password_stdin and args.link is None:
        raise UsageError(
            "--password-stdin goes with --link LINK (with --phone --code-stdin, the new password"
            " is the line after the code)"
        )
    if args.email:
        client.auth.send_reset_pwd_email(args.email)
        return sent_output(
            printer,
            "a password reset link",
            {"email": args.email},
            "open it, or set the new password here with `agnost auth reset-password --link -`"
            " and paste the link",
        )
    if args.link is not None:
        token = read_token(args.link, stdin, "Reset link or token")
        new_password = read_new_password(
            args, stdin, after="the link" if args.link == "-" else None
        )
        client.auth.reset_pwd_with_token(token, new_password)
        return _reset_done(printer, "the reset link")
    code = code_by_sms(
        args,
        printer,
        stdin,
        client.auth.send_reset_pwd_code,
        "a password reset code",
        "give it (then the new password) with `agnost auth reset-password --phone"
        f" {shlex.quote(args.phone)} --code-stdin`",
    )
    if isinstance(code, int):
        return code
    new_password = read_new_password(args, stdin, after="the code" if args.code_stdin else None)
    client.auth.reset_pwd_with_code(args.phone, code, new_password)
    return _reset_done(printer, "the code")


def _reset_done(printer: Printer, through: str) -> int:
    return printer.emit(
        {"reset": True},
        [f"password reset with {through}: sign in with the new password"],
    )


def register(command: Command) -> None:
    """Register ``auth reset-password``."""
    sub = command(
        "reset-password",
        "reset a forgotten password: --email sends a reset link, which --link then uses;"
        " --phone sends a code by SMS and asks for it and the new password (a new password"
        " is asked twice on a terminal)",
        _reset_password,
    )
    how = sub.add_mutually_exclusive_group(required=True)
    how.add_argument("--email", help="send a password reset link to this address")
    how.add_argument(
        "--link",
        metavar="LINK_OR_TOKEN",
        help="set the new password with the reset link (or its access token) the email"
        " brought ('-': read it from stdin, or at a prompt that does not echo it on a"
        " terminal; piped, the new password is the next line)",
    )
    how.add_argument(
        "--phone",
        help="send a reset code to this phone number, then ask for it and the new password",
    )
    sub.add_argument(
        "--password-stdin",
        action="store_true",
        help="with --link LINK: read the new password from the first line of stdin",
    )
    code_options(
        sub,
        "with --phone: send nothing; read the code sent earlier from the first line of stdin"
        " and, piped, the new password from the second",
    )
