"""The stored session and the server's sessions: ``auth whoami``, ``auth user``, ``auth sessions``,
``auth sign-out``, ``auth clear``."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from ._common import (
    Command,
    Printer,
    describe_user,
    not_signed_in,
    signed_in,
    token_line,
)


def _whoami(client: Any, args: argparse.Namespace, printer: Printer, stdin: TextIO) -> int:
    session, user = client.auth.get_session(), client.auth.get_user()
    if session is None:
        return not_signed_in(printer, user, "not signed in")
    if args.check:
        return signed_in(_checked_whoami)(client, args, printer, stdin)
    created = session.creation_dtm.isoformat() if session.creation_dtm else "?"
    return printer.emit(
        {"session": printer.session(session), "user": printer.user(user), "checked": False},
        [
            f"signed in as {describe_user(user)}",
            f"session created {created}",
            "as recorded on this machine; `agnost auth whoami --check` asks the server",
            *token_line(printer, session),
        ],
    )


def _checked_whoami(client: Any, args: argparse.Namespace, printer: Printer, stdin: TextIO) -> int:
    user = client.auth.get_user_from_db()
    session = client.auth.get_session()
    created = session.creation_dtm.isoformat() if session.creation_dtm else "?"
    return printer.emit(
        {"session": printer.session(session), "user": printer.user(user), "checked": True},
        [
            f"signed in as {describe_user(user)}",
            f"session created {created}",
            "checked with the server: the session is valid",
            *token_line(printer, session),
        ],
    )


def _user(client: Any, args: argparse.Namespace, printer: Printer, stdin: TextIO) -> int:
    user = client.auth.get_user_from_db()
    return printer.emit({"user": printer.user(user)}, [describe_user(user)])


def _sessions(client: Any, args: argparse.Namespace, printer: Printer, stdin: TextIO) -> int:
    sessions = client.auth.get_all_sessions()
    current = client.auth.get_session()
    token = current.token if current is not None else None
    rows = [
        ("", "CREATED", "BROWSER", "OS", "DEVICE", *(("TOKEN",) if printer.show_token else ()))
    ]
    documents = []
    for session in sessions:
        agent = session.user_agent
        is_current = token is not None and session.token == token
        rows.append(
            (
                "*" if is_current else "",
                session.creation_dtm.strftime("%Y-%m-%d %H:%M:%S")
                if session.creation_dtm
                else "?",
                _part(agent),
                _part(agent.os if agent else None),
                _part(agent.device if agent else None),
                *((session.token,) if printer.show_token else ()),
            )
        )
        documents.append({**printer.session(session), "current": is_current})
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    return printer.emit({"sessions": documents}, lines)


def _part(part: Any) -> str:
    if part is None or not part.family:
        return "-"
    version = ".".join(v for v in (part.major, part.minor) if v and v != "0")
    return f"{part.family} {version}".strip()


def _sign_out(client: Any, args: argparse.Namespace, printer: Printer, stdin: TextIO) -> int:
    if args.all:
        client.auth.sign_out_all()
        what = "signed out every session"
    elif args.others:
        client.auth.sign_out_all_except_current()
        what = "signed out every other session"
    elif args.token is not None:
        token = stdin.readline().strip() if args.token == "-" else args.token
        client.auth.sign_out(token)
        what = "signed out that session"
    else:
        client.auth.sign_out()
        what = "signed out"
    return printer.emit(
        {"signedOut": "all" if args.all else "others" if args.others else "one"}, [what]
    )


def _clear(client: Any, args: argparse.Namespace, printer: Printer, stdin: TextIO) -> int:
    client.auth.clear_local_data()
    return printer.emit({"cleared": True}, ["local session and user removed"])


# --- agnost api ----------------------------------------------------------------------------


def register(command: Command) -> None:
    """Register the commands of the stored session and the server's sessions."""
    sub = command(
        "whoami",
        "show the stored session and user, as this machine recorded them (--check asks the"
        " server whether the session is still valid)",
        _whoami,
    )
    sub.add_argument(
        "--check",
        action="store_true",
        help="ask the server; a session it refuses is cleared (exit 6)",
    )
    command("user", "show the user as the database holds it", signed_in(_user))
    command(
        "sessions",
        "list the user's active sessions (the current one marked *)",
        signed_in(_sessions),
    )
    sub = command(
        "sign-out",
        "sign out the current session, another one, or several",
        signed_in(_sign_out),
    )
    which = sub.add_mutually_exclusive_group()
    which.add_argument(
        "token",
        nargs="?",
        help="the session to sign out ('-': read from stdin, which keeps it out of shell"
        " history and process lists)",
    )
    which.add_argument("--all", action="store_true", help="sign out every session")
    which.add_argument("--others", action="store_true", help="every session but the current one")
    command("clear", "remove the stored session and user", _clear)
