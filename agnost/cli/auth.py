"""``agnost auth``: the parser of every auth command; each flow family registers its own."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from . import account, recovery, sessions, signin, verification
from ._common import (
    EXIT_CODES_HELP,
    environment_options,
    guarded,
    output_options,
    with_client,
)


def add_auth(subparsers: Any) -> None:
    """Register ``agnost auth`` and its commands."""
    parser = subparsers.add_parser(
        "auth",
        allow_abbrev=False,
        help="sign up, sign in, recover and change credentials, manage sessions, sharing the"
        " stored session with Python",
        description="Everyday session management: signing up and in (with a password, an SMS"
        " code, a magic link or an OAuth provider), confirming a phone, resetting a forgotten"
        " password, changing credentials, sessions. Passwords and codes are typed at prompts"
        " or piped, never given as arguments. The session is stored where the library"
        " stores it, so `agnost auth sign-in` and a Python script share one session.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="auth_command", metavar="COMMAND", required=True)

    def command(name: str, help: str, handler: Callable[..., Any]) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = commands.add_parser(
            name,
            allow_abbrev=False,
            help=help,
            description=help + ".",
            epilog=EXIT_CODES_HELP,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        environment_options(sub, required=True)
        output_options(sub)
        sub.set_defaults(handler=guarded(with_client(handler)))
        return sub

    for family in (signin, verification, recovery, account, sessions):
        family.register(command)
