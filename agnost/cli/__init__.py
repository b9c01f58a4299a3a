"""The ``agnost`` command line.

One function per subcommand registers its parser and sets ``handler``, the function that
runs it; :func:`main` dispatches. Subcommands: ``smoke`` (the session lifecycle as a smoke
test), ``auth`` (everyday session management), ``api`` (a call to one of the app's own
endpoints with the stored session) and ``emulator`` (a local Agnost auth server).
Exit codes are listed in :mod:`agnost.cli._common` and in ``agnost --help``.

Layout: ``_common`` (what every command shares), ``auth`` (the ``auth`` parser) with one module
per flow family (``signin``, ``verification``, ``recovery``, ``account``, ``sessions``),
``api``, ``smoke_command`` and ``smoke`` (the lifecycle it runs, also usable from Python).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from .._version import __version__
from ._common import EXIT_CODES_HELP, EXIT_USAGE, refuse_password_arguments
from .api import add_api
from .auth import add_auth
from .smoke_command import add_smoke

__all__ = ["build_parser", "main"]


def _add_emulator(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    # The options import without the emulator extra (ua-parser); run() says when it is missing.
    from ..emulator.command import DESCRIPTION, EPILOG, add_arguments, run

    parser = subparsers.add_parser(
        "emulator",
        help="run a local Agnost-compatible auth server (or read a running one)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    parser.set_defaults(handler=run)


#: The subcommands, in the order ``--help`` lists them.
SUBCOMMANDS: Sequence[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]] = (
    add_smoke,
    add_auth,
    add_api,
    _add_emulator,
)


def build_parser() -> argparse.ArgumentParser:
    """The parser of the whole command line, every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="agnost",
        allow_abbrev=False,
        description="agnost: Agnost auth sessions from the command line.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"agnost {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for register in SUBCOMMANDS:
        register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); returns the exit status."""
    arguments = sys.argv[1:] if argv is None else argv
    refused = refuse_password_arguments(arguments)
    if refused is not None:
        print(f"agnost: error: {refused}", file=sys.stderr)
        return EXIT_USAGE
    parser = build_parser()
    args, unknown = parser.parse_known_args(arguments)
    if unknown:
        # argparse would repeat them ("unrecognized arguments: -cSECRET"): a mistyped word
        # can be a code or a password (``sign-in --email E PASSWORD``, ``-pPASSWORD``).
        parser.error(
            f"unrecognized argument{'s' if len(unknown) > 1 else ''} (not shown: codes and"
            " passwords are never taken from the command line; see --help)"
        )
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except KeyboardInterrupt:
        print("agnost: interrupted", file=sys.stderr)
        return 130  # the shell's convention for SIGINT
