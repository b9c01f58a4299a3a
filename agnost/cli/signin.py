"""Signing up and in: ``auth sign-up``, ``auth sign-in``, ``auth sign-in-code`` (a code sent by
SMS), ``auth magic-link`` (a link sent by email, exchanged by ``auth grant``), ``auth grant``,
``auth provider``."""

from __future__ import annotations

import argparse
import shlex
import webbrowser
from typing import Any, TextIO

from ._common import (
    Command,
    Printer,
    code_by_sms,
    code_options,
    describe_user,
    grant_output,
    read_password,
    read_token,
    sent_output,
)


def _sign_up(client: Any, args: argparse.Namespace, printer: Printer, stdin: TextIO) -> int:
    password = read_password(args, stdin, confirm=True)
    if args.email:
        result = client.auth.sign_up_with_email(args.email, password, args.name)
    else:
        result = client.auth.sign_up_with_phone(args.phone, password, args.name)
        if result.session is None:
            return _pending_phone(printer, args.phone, result.user)
    return grant_output(printer, "signed up", result.user, result.session)


def _pending_phone(printer: Printer, phone: str, user: Any) -> int:
    """Sign-up by phone with confirmation on: a code was sent to the phone."""
    return printer.emit(
        {"user": printer.user(user), "session": None},
        [
            f"signed up: {describe_user(user)}",
            "no session: a code was sent to the phone; confirm it with"
            f" `agnost auth verify-phone --phone {phone}`",
        ],
    )


def _sign_in(client: Any, args: argparse.Namespace, printer: Printer, stdin: TextIO) -> int:
    password = read_password(args, stdin)
    if args.email:
        grant = client.auth.sign_in_with_email(args.email, password)
    else:
        grant = client.auth.sign_in_with_phone(args.phone, password)
    return grant_output(printer, "signed in", grant.user, grant.session)


def _grant(client: Any, args: argparse.Namespace, printer: Printer, stdin: TextIO) -> int:
    token = read_token(args.token_or_url, stdin, "Access token or link")
    grant = client.auth.get_auth_grant(token)
    return grant_output(printer, "signed in", grant.user, grant.session)


def _sign_in_code(client: Any, args: argparse.Namespace, printer: Printer, stdin: TextIO) -> int:
    code = code_by_sms(
        args,
        printer,
        stdin,
        client.auth.send_sign_in_code,
        "a sign-in code",
        f"give it with `agnost auth sign-in-code --phone {shlex.quote(args.phone)} --code-stdin`",
    )
    if isinstance(code, int):
        return code
    grant = client.auth.sign_in_with_code(args.phone, code)
    return grant_output(printer, "signed in", grant.user, grant.session)


def _magic_link(client: Any, args: argparse.Namespace, printer: Printer, stdin: TextIO) -> int:
    client.auth.send_magic_link_email(args.email)
    return sent_output(
        printer,
        "a sign-in link",
        {"email": args.email},
        "open it, or sign in here with `agnost auth grant -` and paste the link",
    )


def _provider(client: Any, args: argparse.Namespace, printer: Printer, stdin: TextIO) -> int:
    url = client.auth.sign_in_with_provider(args.name)
    if args.open:
        webbrowser.open(url)
    return printer.emit({"url": url}, [url])


def register(command: Command) -> None:
    """Register ``auth sign-up``, ``auth sign-in``, ``auth grant`` and ``auth provider``."""
    for name, verb in (("sign-up", "create a user and sign in"), ("sign-in", "sign in")):
        sub = command(
            name,
            verb + " (the password is prompted for, or read from stdin)",
            _sign_up if name == "sign-up" else _sign_in,
        )
        who = sub.add_mutually_exclusive_group(required=True)
        who.add_argument("--email")
        who.add_argument("--phone")
        sub.add_argument(
            "--password-stdin",
            action="store_true",
            help="read the password from the first line of stdin",
        )
        if name == "sign-up":
            sub.add_argument("--name", help="the user's name")
    sub = command(
        "sign-in-code",
        "sign in with a code sent by SMS: send it, then type it at the prompt (not echoed)",
        _sign_in_code,
    )
    sub.add_argument("--phone", required=True, help="the user's phone number")
    code_options(sub, "send nothing: read the code sent earlier from the first line of stdin")
    sub = command(
        "magic-link",
        "email a sign-in link; open it, or exchange it here with `agnost auth grant -`",
        _magic_link,
    )
    sub.add_argument("--email", required=True, help="the user's email address")
    sub = command(
        "grant",
        "exchange an access token (or a redirect URL, or a magic link) for a session",
        _grant,
    )
    sub.add_argument(
        "token_or_url",
        metavar="TOKEN_OR_REDIRECT_URL",
        help="the access token or the link carrying it ('-': read from stdin, or at a prompt"
        " that does not echo it on a terminal, which keeps it out of shell history and"
        " process lists)",
    )
    sub = command("provider", "print the URL that starts an OAuth sign-in", _provider)
    sub.add_argument("name", choices=PROVIDERS, metavar="PROVIDER", help=", ".join(PROVIDERS))
    sub.add_argument("--open", action="store_true", help="also open it in a web browser")


#: The OAuth providers Agnost signs in with (protocol.md §3, signInWithProvider).
PROVIDERS = ("google", "facebook", "twitter", "apple", "discord", "github")
