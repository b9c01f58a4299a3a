"""What every ``agnost`` command shares: exit codes, error reports, environment and output
options, secrets and password prompts, the client a command runs with, and its printer.

Exit codes, the same for every command (also in ``agnost --help``):

====  ===========================================================================
0     success
1     the server refused (an API error: wrong password, revoked session, ...)
2     usage error: bad arguments or missing configuration
3     transport error: the server could not be reached, or timed out
4     an answer that could not be understood, or the local session store failed
5     a smoke check failed: the server answered, but not as the protocol promises
6     not signed in: no stored session, or the server refused it (then it is cleared)
130   interrupted (Ctrl-C)
====  ===========================================================================

No token is printed unless ``--show-token`` asks for it; passwords and one-time codes are
never taken from the command line (a prompt that does not echo them, or ``--password-stdin``
and ``--code-stdin``; a new password is asked twice at a prompt), a command reads stdin for
at most one of its options, and other secrets (``--api-key``,
``--access-token``) are best given in the environment or on stdin (``-``): the command line is
visible to every user of the machine.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from .._core.errors import (
    AgnostError,
    APIError,
    ClientError,
    ResponseDecodeError,
    SessionTokenError,
    TransportError,
)
from .._core.models import Session, User
from .._core.wire import to_wire
from .smoke import SmokeCheckFailed

EXIT_OK, EXIT_API, EXIT_USAGE, EXIT_TRANSPORT, EXIT_OTHER, EXIT_CHECK, EXIT_SIGNED_OUT = range(7)

EXIT_CODES_HELP = """exit codes:
  0  success
  1  the server refused (an API error)
  2  usage error: bad arguments or missing configuration
  3  transport error: the server could not be reached, or timed out
  4  an answer that could not be understood, or the session store failed
  5  a smoke check failed
  6  not signed in: no stored session, or the server refused it (then cleared)
  130  interrupted (Ctrl-C)"""

HIDDEN = "[hidden]"


class UsageError(Exception):
    """A command was called wrongly; reported with exit code 2."""


def exit_code_for(error: BaseException) -> int:
    """The documented exit code for an error that ended a command."""
    if isinstance(error, SmokeCheckFailed):
        return EXIT_CHECK
    if isinstance(error, UsageError | ClientError):
        return EXIT_USAGE
    if isinstance(error, APIError):
        return EXIT_API
    if isinstance(error, TransportError):
        return EXIT_TRANSPORT
    return EXIT_OTHER


def report_error(
    error: BaseException, *, as_json: bool, out: TextIO, err: TextIO, code: int | None = None
) -> int:
    """Print ``error`` (as JSON on ``out``, or as a line on ``err``); return its exit code
    (``code``, or the one :func:`exit_code_for` gives)."""
    code = exit_code_for(error) if code is None else code
    error_code = getattr(error, "code", None)
    hint = hint_for(error)
    if as_json:
        document = {"type": type(error).__name__, "code": error_code, "message": str(error)}
        print_json(
            {"ok": False, "error": {**document, **({"hint": hint} if hint else {}), "exit": code}},
            out,
        )
    else:
        label = f"{error_code}: " if error_code else ""
        print(f"agnost: error: {label}{error}", file=err)
        if hint:
            print(f"agnost: hint: {hint}", file=err)
    return code


ENV_URL_HINT = (
    "is --env-url the environment's base URL (such as https://myapp.example.com)?"
    " nothing there speaks the Agnost auth API at this path"
)


#: What to do about a sign-in refused for an address not confirmed yet.
UNCONFIRMED_HINTS = {
    "phone_not_verified": "confirm the phone with `agnost auth verify-phone --phone PHONE`"
    " (a new code: `agnost auth resend-verification --phone PHONE`)",
    "email_not_verified": "open the confirmation link sent to the address (a new one:"
    " `agnost auth resend-verification --email EMAIL`)",
}


def hint_for(error: BaseException | None) -> str | None:
    """A hint to add to ``error``'s message (which is shown as it is), or None.

    A 404 ``not_found``, or an answer in the wrong shape, is what a wrong ``--env-url`` gets.
    """
    if isinstance(error, APIError) and error.status == 404 and error.code in (None, "not_found"):
        return ENV_URL_HINT
    if isinstance(error, APIError) and error.code in UNCONFIRMED_HINTS:
        return UNCONFIRMED_HINTS[error.code]
    if isinstance(error, ResponseDecodeError) and "does not have the shape" in str(error):
        return ENV_URL_HINT
    return None


# --- shared options ------------------------------------------------------------------------


def environment_options(parser: argparse.ArgumentParser, *, required: bool) -> None:
    group = parser.add_argument_group("environment")
    group.add_argument(
        "--env-url",
        default=os.environ.get("AGNOST_ENV_URL"),
        help="the environment's base URL (default: $AGNOST_ENV_URL)"
        + ("" if required else "; with neither this nor a key, an embedded emulator"),
    )
    group.add_argument(
        "--client-key",
        default=os.environ.get("AGNOST_CLIENT_KEY"),
        help="the client library key (default: $AGNOST_CLIENT_KEY)",
    )
    group.add_argument(
        "--api-key",
        help="an API key, sent as Authorization (default: $AGNOST_API_KEY; '-': read it from"
        " stdin; given here, it is visible to other users in the process list)",
    )


def read_secret(
    value: str | None, variable: str, option: str, stdin: TextIO, read: list[str]
) -> str | None:
    """A secret option's value: from the command line (with a warning), ``-`` for a line of
    stdin, else the environment variable. ``read`` names the options that took stdin so far."""
    if value is None:
        return os.environ.get(variable) or None
    if value != "-":
        print(
            f"agnost: warning: {option} on the command line is visible to other users of this"
            f" machine; set ${variable} or pass '{option} -' and pipe it",
            file=sys.stderr,
        )
        return value
    if read:
        raise UsageError(f"{read[0]} and {option} cannot both read stdin")
    read.append(option)
    secret = stdin.readline().strip()
    if not secret:
        raise UsageError(f"{option} -: stdin gave no value")
    return secret


def output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.add_argument(
        "--show-token", action="store_true", help="include session tokens in the output"
    )


def print_json(document: Any, out: TextIO) -> None:
    json.dump(document, out, ensure_ascii=False, indent=2, default=str)
    out.write("\n")


#: How many times sign-up asks for a password and its repetition before giving up.
PASSWORD_TRIES = 3


def read_password(args: argparse.Namespace, stdin: TextIO, *, confirm: bool = False) -> str:
    """The password: the first line of stdin with ``--password-stdin``, else typed at a
    prompt; ``confirm`` (sign-up) asks twice at a prompt, so a typo cannot make an account
    nobody can enter."""
    if args.password_stdin:
        password = stdin.readline().rstrip("\r\n")
    elif stdin.isatty():
        password = prompt_secret("Password", confirm=confirm)
    else:
        raise UsageError("no password: type it at the prompt, or pipe it with --password-stdin")
    if not password:
        raise UsageError("the password is empty")
    return password


def read_current_password(args: argparse.Namespace, stdin: TextIO) -> str:
    """The user's current password, which a change of credentials needs: the first line of
    stdin with ``--password-stdin``, else typed at a ``Current password:`` prompt."""
    if args.password_stdin:
        password = stdin.readline().rstrip("\r\n")
    elif stdin.isatty():
        password = prompt_secret("Current password")
    else:
        raise UsageError(
            "no current password: type it at the prompt, or pipe it with --password-stdin"
        )
    if not password:
        raise UsageError("the current password is empty")
    return password


def read_new_password(args: argparse.Namespace, stdin: TextIO, *, after: str | None) -> str:
    """A new password: the first line of stdin with ``--password-stdin``; else, when the
    command read ``after`` (the code, the link) from a piped stdin, its next line; else asked
    twice at a ``New password:`` prompt on a terminal, so a typo cannot lock the user out."""
    if getattr(args, "password_stdin", False) or (after is not None and not stdin.isatty()):
        password = stdin.readline().rstrip("\r\n")
        if not password:
            where = "its first line" if after is None else f"the line after {after}"
            raise UsageError(f"stdin gave no new password ({where})")
    elif stdin.isatty():
        password = prompt_secret("New password", confirm=True)
        if not password:
            raise UsageError("the new password is empty")
    else:
        raise UsageError(
            "no new password: type it at the prompt (twice), or pipe it with --password-stdin"
        )
    return password


def read_code(args: argparse.Namespace, stdin: TextIO) -> str:
    """A one-time code (from an SMS): the first line of stdin with ``--code-stdin``, else
    typed at a ``Code:`` prompt, not echoed. It is never printed."""
    if args.code_stdin:
        code = stdin.readline().strip()
    elif stdin.isatty():
        code = prompt_secret("Code", noun="code").strip()
    else:
        raise UsageError("no code: type it at the prompt, or pipe it with --code-stdin")
    if not code:
        raise UsageError("the code is empty")
    return code


def can_read_code(args: argparse.Namespace, stdin: TextIO) -> None:
    """Refuse, before a code is sent, a command that could not then read it."""
    if not args.code_stdin and not stdin.isatty():
        raise UsageError(
            "no terminal to type the code at: pass --send-only to send it, then give it with"
            " --code-stdin"
        )


def read_token(value: str, stdin: TextIO, what: str) -> str:
    """A token or link given as ``value``; ``-`` reads it from stdin (at a prompt that does
    not echo it, on a terminal)."""
    if value != "-":
        return value
    token = prompt_secret(what, noun=what.lower()) if stdin.isatty() else stdin.readline()
    token = token.strip()
    if not token:
        raise UsageError(f"-: stdin gave no {what.lower()}")
    return token


def refuse_stray_arguments(args: argparse.Namespace) -> None:
    """Refuse the extra words a command that reads secrets was given, without repeating them:
    they could be the code or password (argparse would echo them)."""
    stray = getattr(args, "stray", None)
    if stray:
        raise UsageError(
            f"unexpected argument{'s' if len(stray) > 1 else ''} (not shown: codes and"
            " passwords are never taken from the command line; type them at the prompt, or"
            " pipe them)"
        )


def stray_arguments(parser: argparse.ArgumentParser) -> None:
    """Collect the extra words of ``parser``'s command, for :func:`refuse_stray_arguments`."""
    parser.add_argument("stray", nargs="*", help=argparse.SUPPRESS)


def code_options(sub: argparse.ArgumentParser, code_stdin_help: str) -> None:
    """``--send-only`` and ``--code-stdin`` of a command that sends a code, then reads it
    (and the extra words it refuses)."""
    how = sub.add_mutually_exclusive_group()
    how.add_argument(
        "--send-only",
        action="store_true",
        help="only send the code (for a script: give it later with --code-stdin)",
    )
    how.add_argument("--code-stdin", action="store_true", help=code_stdin_help)
    stray_arguments(sub)


def prompt_secret(label: str, *, confirm: bool = False, noun: str = "password") -> str:
    """Ask for a secret at a prompt that does not echo it (``label: ``); ``confirm`` asks
    twice, and again on a mismatch, at most :data:`PASSWORD_TRIES` times."""
    for _ in range(PASSWORD_TRIES):
        value = _prompt(f"{label}: ", noun)
        if not confirm or not value or _prompt(f"{label} again: ", noun) == value:
            return value
        print(f"agnost: the {noun}s do not match; type them again", file=sys.stderr)
    raise UsageError(f"the {noun}s did not match, {PASSWORD_TRIES} times")


def _prompt(prompt: str, noun: str = "password") -> str:
    try:
        return getpass.getpass(prompt)
    except EOFError:  # Ctrl-D at the prompt
        print(file=sys.stderr)
        raise UsageError(f"no {noun} given") from None
    except KeyboardInterrupt:
        # The cursor is still after the prompt: end its line before "agnost: interrupted".
        print(file=sys.stderr)
        raise


def with_client(handler: Callable[..., int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        if not args.env_url or not args.client_key:
            raise UsageError(
                "set --env-url and --client-key (or AGNOST_ENV_URL, AGNOST_CLIENT_KEY)"
            )
        from ..client import create_client

        refuse_stray_arguments(args)
        readers = _stdin_users(args)
        if len(readers) > 1:
            raise UsageError(f"{readers[0]} and {readers[1]} cannot both read stdin")
        api_key = read_secret(args.api_key, "AGNOST_API_KEY", "--api-key", sys.stdin, readers)
        with create_client(args.env_url, args.client_key, api_key=api_key) as client:
            return handler(client, args, Printer(args, sys.stdout), sys.stdin)

    return run


def _stdin_users(args: argparse.Namespace) -> list[str]:
    """The options of this command that read stdin (at most one may)."""
    readers = {
        "--password-stdin": getattr(args, "password_stdin", False),
        "--code-stdin": getattr(args, "code_stdin", False),
        "--link -": getattr(args, "link", None) == "-",
        "--input -": getattr(args, "input", None) == "-",
        "'-' (a token from stdin)": "-"
        in (getattr(args, "token", None), getattr(args, "token_or_url", None)),
    }
    return [option for option, reads in readers.items() if reads]


Handler = Callable[[Any, argparse.Namespace, "Printer", TextIO], int]

#: Registers one ``agnost auth`` command: its name, its help, its handler; returns its parser.
Command = Callable[[str, str, Callable[..., Any]], argparse.ArgumentParser]


def signed_in(handler: Handler) -> Handler:
    """``handler`` for a command the server answers only with a session: without a stored
    one it does not ask; a session the server refuses is reported as "not signed in" (exit
    6), saying that the local one was cleared."""

    def run(client: Any, args: argparse.Namespace, printer: Printer, stdin: TextIO) -> int:
        if client.auth.get_session() is None:
            return not_signed_in(printer, client.auth.get_user(), "not signed in")
        try:
            return handler(client, args, printer, stdin)
        except SessionTokenError as error:
            label = f"{error.code}: " if error.code else ""
            cleared = client.auth.get_session() is None
            message = f"not signed in: the server refused the stored session ({label}{error})" + (
                "; the local session was cleared: sign in again" if cleared else ""
            )
            return not_signed_in(printer, None, message, error)

    return run


def not_signed_in(
    printer: Printer, user: User | None, message: str, error: APIError | None = None
) -> int:
    if printer.json:
        print_json(
            {
                "ok": False,
                "session": None,
                "user": printer.user(user),
                "error": {
                    "type": None if error is None else type(error).__name__,
                    "code": "not_signed_in" if error is None else error.code,
                    "message": message,
                    "exit": EXIT_SIGNED_OUT,
                },
            },
            printer.out,
        )
    else:
        print(message, file=sys.stderr if error is not None else printer.out)
    return EXIT_SIGNED_OUT


class Printer:
    """Human or JSON output, with tokens hidden unless asked for."""

    def __init__(self, args: argparse.Namespace, out: TextIO) -> None:
        self.json = args.json
        self.show_token = args.show_token
        self.out = out

    def session(self, session: Session | None) -> Any:
        if session is None:
            return None
        wire = to_wire(session)
        if not self.show_token:
            wire["token"] = HIDDEN
        return wire

    def user(self, user: User | None) -> Any:
        return None if user is None else to_wire(user)

    def emit(self, document: dict[str, Any], lines: Sequence[str]) -> int:
        if self.json:
            print_json({"ok": True, **document}, self.out)
        else:
            for line in lines:
                print(line, file=self.out)
        return EXIT_OK


def sent_output(
    printer: Printer, what: str, to: dict[str, str], then: str, *, who: str = "an account"
) -> int:
    """The answer of a command that only asked the server to send ``what`` (a code, a link)
    to ``to``'s address; the server answers the same whether or not ``who`` has it, so this
    says no more. ``then`` says how to go on."""
    address = next(iter(to.values()))
    return printer.emit(
        {"sent": True, **to},
        [
            f"{what} was sent to {address}, if {who} has it (the server answers the same"
            " either way)",
            then,
        ],
    )


def describe_user(user: User | None) -> str:
    if user is None:
        return "no user"
    contact = user.email or user.phone or user.provider_user_id or "?"
    name = f" ({user.name})" if user.name else ""
    return f"{contact}{name}, id {user.id}"


def token_line(printer: Printer, session: Session | None) -> list[str]:
    return [f"token: {session.token}"] if printer.show_token and session is not None else []


def grant_output(printer: Printer, what: str, user: User, session: Session | None) -> int:
    lines = [f"{what}: {describe_user(user)}"]
    lines.append("session stored" if session is not None else "no session: confirmation pending")
    return printer.emit(
        {"user": printer.user(user), "session": printer.session(session)},
        lines + token_line(printer, session),
    )


#: Options that would carry a password (``--password``, ``--new-password``, ``--old-pwd``, ...)
#: or a one-time code (``--code``, ``--sms-code``, ``--otp``, ...): none exists, and each is
#: refused before parsing, whatever follows it.
_PASSWORD_OPTION = re.compile(r"-p|--(?:[a-z_]+[-_])*(?:pass|passwd|password|pwd)", re.I)
_CODE_OPTION = re.compile(r"--(?:[a-z_]+[-_])*(?:code|otp|pin)", re.I)


def refuse_password_arguments(argv: Sequence[str]) -> str | None:
    """An error message if ``argv`` tries to pass a password or a one-time code, which must
    never be on it.

    Checked before parsing, so the secret is not echoed back by an argparse error either.
    """
    for arg in argv:
        if arg == "--":
            break
        named = arg.split("=", 1)[0]
        if named.startswith("--") and named.endswith("-stdin") and "=" in arg:
            # argparse would quote the value in "ignored explicit argument '...'".
            return f"{named} takes no value (not shown): it reads the first line of stdin"
        if _PASSWORD_OPTION.fullmatch(named):
            return (
                "passwords are never taken from the command line (they would show in shell"
                " history and process lists): type it at the prompt, or pipe it with"
                " --password-stdin"
            )
        if _CODE_OPTION.fullmatch(named):
            return (
                "codes are never taken from the command line (they would show in shell"
                " history and process lists): type it at the prompt, or pipe it with"
                " --code-stdin"
            )
    return None


def guarded(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Run ``handler``; an agnost or usage error becomes its message and exit code."""

    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except (AgnostError, UsageError) as error:
            return report_error(
                error, as_json=getattr(args, "json", False), out=sys.stdout, err=sys.stderr
            )

    return run


def code_by_sms(
    args: argparse.Namespace,
    printer: Printer,
    stdin: TextIO,
    send: Callable[[str], None],
    what: str,
    then: str,
) -> str | int:
    """The code of a command that sends one by SMS to ``args.phone`` and then uses it.

    With ``--code-stdin`` the code was sent before: it is read from stdin. Else ``send`` sends
    it (after checking that it can then be read); with ``--send-only`` the command ends there,
    and the exit status is returned, its output saying ``then`` (how to give the code later).
    Otherwise the code is asked for at a prompt.
    """
    if not args.code_stdin:
        if not args.send_only:
            can_read_code(args, stdin)
        send(args.phone)
        if args.send_only:
            return sent_output(printer, what, {"phone": args.phone}, then)
        print(f"{what} was sent to {args.phone}, if an account has it", file=sys.stderr)
    return read_code(args, stdin)
