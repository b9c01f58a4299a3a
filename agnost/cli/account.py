"""Changing a signed-in user's credentials: ``auth change-password``, ``auth change-email``,
``auth change-phone``. Each needs the current password (at a prompt, or piped with
``--password-stdin``) and a stored session (without one: "not signed in", exit 6)."""

from __future__ import annotations

import argparse
import shlex
from typing import Any, TextIO

from ._common import (
    Command,
    Printer,
    describe_user,
    read_current_password,
    read_new_password,
    signed_in,
    stray_arguments,
)


def _change_password(
    client: Any, args: argparse.Namespace, printer: Printer, stdin: TextIO
) -> int:
    current = read_current_password(args, stdin)
    piped = args.password_stdin
    new_password = read_new_password(args, stdin, after="the current password" if piped else None)
    client.auth.change_password(new_password, current)
    return printer.emit({"changed": "password"}, ["password changed"])


def _change_email(client: Any, args: argparse.Namespace, printer: Printer, stdin: TextIO) -> int:
    current = read_current_password(args, stdin)
    user = client.auth.change_email(current, args.new_email)
    return _changed(client, printer, "email", user, args.new_email, user.email)


def _change_phone(client: Any, args: argparse.Namespace, printer: Printer, stdin: TextIO) -> int:
    current = read_current_password(args, stdin)
    user = client.auth.change_phone(current, args.new_phone)
    return _changed(client, printer, "phone", user, args.new_phone, user.phone)


def _changed(
    client: Any, printer: Printer, what: str, user: Any, asked: str, now: str | None
) -> int:
    """Report the user the server answered; store it, so that ``whoami`` shows the change,
    when the stored session is still this user's. An answer still showing the old address
    means the new one must be confirmed first (the server sent it a message)."""
    stored = client.auth.get_session()
    refreshed = stored is not None and stored.user_id == user.id
    if refreshed:
        client.auth.set_user(user)
    pending = (now or "").casefold() != asked.casefold()
    lines = [f"{what} {'change requested' if pending else 'changed'}: {describe_user(user)}"]
    if pending and what == "email":
        lines.append(
            f"confirmation pending: open the link sent to {asked} (or `agnost auth grant -`"
            " and paste it)"
        )
    elif pending:
        lines.append(
            f"confirmation pending: give the code sent to {asked} to"
            f" `agnost auth verify-phone --phone {shlex.quote(asked)}`"
        )
    return printer.emit(
        {
            "changed": what,
            "pending": pending,
            "user": printer.user(user),
            "storedUserRefreshed": refreshed,
        },
        lines,
    )


def register(command: Command) -> None:
    """Register ``auth change-password``, ``auth change-email`` and ``auth change-phone``."""
    stdin_help = "read the current password from the first line of stdin"
    sub = command(
        "change-password",
        "change the signed-in user's password (the current one is asked, then the new one,"
        " twice on a terminal)",
        signed_in(_change_password),
    )
    sub.add_argument(
        "--password-stdin",
        action="store_true",
        help=stdin_help + ", and the new one from the second",
    )
    stray_arguments(sub)
    for what, option, metavar in (
        ("email", "--new-email", "EMAIL"),
        ("phone", "--new-phone", "PHONE"),
    ):
        sub = command(
            f"change-{what}",
            f"change the signed-in user's {what} (the current password is asked)",
            signed_in(_change_email if what == "email" else _change_phone),
        )
        sub.add_argument(option, required=True, metavar=metavar, help=f"the new {what}")
        sub.add_argument("--password-stdin", action="store_true", help=stdin_help)
        stray_arguments(sub)
