"""Signing up and in: ``auth sign-up``, ``auth sign-in``, ``auth grant``, ``auth provider``."""

from __future__ import annotations

import argparse
import webbrowser
from typing import Any, TextIO

from ._common import (
    Command,
    Printer,
    grant_output,
    read_password,
)


def _sign_up(client: Any, args: argparse.Namespace, printer: Printer, stdin: TextIO) -> int:
    password = read_password(args, stdin, confirm=True)
    if args.email:
        result = client.auth.sign_up_with_email(args.email, password, args.name)
    else:
        result = client.auth.sign_up_with_phone(args.phone, password, args.name)
    return grant_output(printer, "signed up", result.user, result.session)


def _sign_in(client: Any, args: argparse.Namespace, printer: Printer, stdin: TextIO) -> int:
    password = read_password(args, stdin)
    if args.email:
        grant = client.auth.sign_in_with_email(args.email, password)
    else:
        grant = client.auth.sign_in_with_phone(args.phone, password)
    return grant_output(printer, "signed in", grant.user, grant.session)


def _grant(client: Any, args: argparse.Namespace, printer: Printer, stdin: TextIO) -> int:
    token = stdin.readline().strip() if args.token_or_url == "-" else args.token_or_url
    grant = client.auth.get_auth_grant(token)
    return grant_output(printer, "signed in", grant.user, grant.session)


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
    sub = command("grant", "exchange an access token (or a redirect URL) for a session", _grant)
    sub.add_argument(
        "token_or_url",
        metavar="TOKEN_OR_REDIRECT_URL",
        help="the access token or the redirect URL carrying it ('-': read from stdin, which"
        " keeps it out of shell history and process lists)",
    )
    sub = command("provider", "print the URL that starts an OAuth sign-in", _provider)
    sub.add_argument("name", choices=PROVIDERS, metavar="PROVIDER", help=", ".join(PROVIDERS))
    sub.add_argument("--open", action="store_true", help="also open it in a web browser")


#: The OAuth providers Agnost signs in with (protocol.md §3, signInWithProvider).
PROVIDERS = ("google", "facebook", "twitter", "apple", "discord", "github")
