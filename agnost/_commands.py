"""The ``agnost smoke``, ``agnost auth`` and ``agnost api`` commands (``agnost emulator`` lives
with the emulator).

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

No token is printed unless ``--show-token`` asks for it; passwords are never taken from the
command line (a prompt, or ``--password-stdin``), and other secrets (``--api-key``,
``--access-token``) are best given in the environment or on stdin (``-``): the command line is
visible to every user of the machine.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import webbrowser
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TextIO

import attrs

from ._core.endpoint import UNSET
from ._core.errors import (
    AgnostError,
    APIError,
    ClientError,
    ResponseDecodeError,
    SessionTokenError,
    TransportError,
)
from ._core.models import Session, User
from ._core.wire import to_wire
from .smoke import ECHO_PATH, SmokeCheckFailed, SmokeStep, run_smoke

__all__ = [
    "EXIT_CODES_HELP",
    "add_api",
    "add_auth",
    "add_smoke",
    "exit_code_for",
    "refuse_password_arguments",
    "report_error",
]

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
        _print_json(
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


def hint_for(error: BaseException | None) -> str | None:
    """A hint to add to ``error``'s message (which is shown as it is), or None.

    A 404 ``not_found``, or an answer in the wrong shape, is what a wrong ``--env-url`` gets.
    """
    if isinstance(error, APIError) and error.status == 404 and error.code in (None, "not_found"):
        return ENV_URL_HINT
    if isinstance(error, ResponseDecodeError) and "does not have the shape" in str(error):
        return ENV_URL_HINT
    return None


# --- shared options ------------------------------------------------------------------------


def _environment_options(parser: argparse.ArgumentParser, *, required: bool) -> None:
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


def _secret(
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


def _output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.add_argument(
        "--show-token", action="store_true", help="include session tokens in the output"
    )


def _print_json(document: Any, out: TextIO) -> None:
    json.dump(document, out, ensure_ascii=False, indent=2, default=str)
    out.write("\n")


#: How many times sign-up asks for a password and its repetition before giving up.
PASSWORD_TRIES = 3


def _read_password(args: argparse.Namespace, stdin: TextIO, *, confirm: bool = False) -> str:
    """The password: the first line of stdin with ``--password-stdin``, else typed at a
    prompt; ``confirm`` (sign-up) asks twice at a prompt, so a typo cannot make an account
    nobody can enter."""
    if args.password_stdin:
        password = stdin.readline().rstrip("\r\n")
    elif stdin.isatty():
        for _ in range(PASSWORD_TRIES):
            password = _prompt("Password: ")
            if not confirm or not password or _prompt("Password again: ") == password:
                break
            print("agnost: the passwords do not match; type them again", file=sys.stderr)
        else:
            raise UsageError(f"the passwords did not match, {PASSWORD_TRIES} times")
    else:
        raise UsageError("no password: type it at the prompt, or pipe it with --password-stdin")
    if not password:
        raise UsageError("the password is empty")
    return password


def _prompt(prompt: str) -> str:
    try:
        return getpass.getpass(prompt)
    except EOFError:  # Ctrl-D at the prompt
        print(file=sys.stderr)
        raise UsageError("no password given") from None
    except KeyboardInterrupt:
        # The cursor is still after the prompt: end its line before "agnost: interrupted".
        print(file=sys.stderr)
        raise


# --- agnost smoke --------------------------------------------------------------------------


def add_smoke(subparsers: Any) -> None:
    """Register ``agnost smoke``."""
    parser = subparsers.add_parser(
        "smoke",
        allow_abbrev=False,
        help="run the whole session lifecycle against an environment (or an embedded emulator)",
        description="Sign up a throwaway user (or sign in --email), open a second session, list"
        " sessions, read the user from the database, call an app endpoint with the session"
        " (the embedded emulator's echo, or --endpoint), sign out the second session (every"
        " session but the current one with --sign-out-others), check the other session is"
        " refused, exchange an access token when the environment gives one, and sign out."
        " Only the sessions smoke opened are signed out, unless --sign-out-others asks."
        " Without --env-url and --client-key it starts an emulator in-process and tests that.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _environment_options(parser, required=False)
    parser.add_argument("--email", help="sign in this user instead of signing up a new one")
    parser.add_argument(
        "--password-stdin", action="store_true", help="read --email's password from stdin"
    )
    parser.add_argument(
        "--access-token",
        help="an access token to exchange in the grant step (single use; default:"
        " $AGNOST_ACCESS_TOKEN; '-': read it from stdin; given here, it is visible to other"
        " users in the process list)",
    )
    parser.add_argument(
        "--sign-out-others",
        action="store_true",
        help="sign out every other session of the user, not just the one smoke opened: against"
        " a real account that signs out the people using it (always done on the embedded"
        " emulator, whose throwaway user has no others)",
    )
    parser.add_argument(
        "--endpoint",
        metavar="PATH",
        help="an app endpoint to GET with the session (default against the embedded emulator:"
        f" its echo at {ECHO_PATH}, with session enforcement checked too)",
    )
    parser.add_argument(
        "--flavour",
        choices=("sync", "async", "both"),
        default="both",
        help="which client runs the lifecycle (default: both, one after the other)",
    )
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.set_defaults(handler=_guarded(_smoke))


def _smoke(args: argparse.Namespace) -> int:
    out = sys.stdout
    read: list[str] = []
    password = _read_password(args, sys.stdin) if args.email else None
    if args.password_stdin:
        read.append("--password-stdin")
    api_key = _secret(args.api_key, "AGNOST_API_KEY", "--api-key", sys.stdin, read)
    access_token = _secret(
        args.access_token, "AGNOST_ACCESS_TOKEN", "--access-token", sys.stdin, read
    )
    flavours = ("sync", "async") if args.flavour == "both" else (args.flavour,)
    with _environment(args) as (env_url, client_key, enforce_session):
        embedded = enforce_session is not None
        where = f"{env_url} (embedded emulator)" if embedded else env_url
        runs = []
        for flavour in flavours:
            if not args.json:
                print(f"agnost smoke: {where}, {flavour} client", file=out)
            steps = run_smoke(
                env_url,
                client_key,
                api_key=api_key,
                email=args.email,
                password=password,
                flavour=flavour,  # type: ignore[arg-type]
                access_token=access_token,
                endpoint=args.endpoint,
                enforce_session=enforce_session,
                sign_out_others=args.sign_out_others or embedded,
                on_step=(lambda step: None) if args.json else _step_printer(out),
            )
            runs.append((flavour, steps))
            if not all(step.ok for step in steps):
                break
    failed = next((s for _, steps in runs for s in steps if not s.ok), None)
    if args.json:
        _print_json(
            {
                "ok": failed is None,
                "envUrl": env_url,
                "embeddedEmulator": embedded,
                "runs": [
                    {
                        "flavour": f,
                        "ok": all(s.ok for s in steps),
                        "steps": [_step_json(s) for s in steps],
                    }
                    for f, steps in runs
                ],
                **({"error": _error_json(failed)} if failed else {}),
            },
            out,
        )
    elif failed is None:
        counts = ", ".join(f"{len(steps)} steps ({flavour})" for flavour, steps in runs)
        print(f"passed: {counts}", file=out)
    else:
        print(f"FAILED at {failed.name!r}: {failed.detail}", file=out)
        hint = hint_for(failed.error)
        if hint:
            print(f"hint: {hint}", file=out)
    if failed is None:
        return EXIT_OK
    return exit_code_for(failed.error) if failed.error is not None else EXIT_OTHER


@contextmanager
def _environment(
    args: argparse.Namespace,
) -> Iterator[tuple[str, str, Callable[[bool], None] | None]]:
    """The environment to test: its URL, its client key, and for an embedded emulator the
    switch of its session enforcement."""
    if args.env_url and args.client_key:
        yield args.env_url, args.client_key, None
        return
    if args.env_url or args.client_key:
        raise UsageError("give both --env-url and --client-key, or neither for an emulator")
    from .emulator import INSTALL_EXTRA

    try:
        from .emulator import Emulator
    except ImportError:
        raise UsageError(
            f"the embedded emulator needs the emulator extra (ua-parser): {INSTALL_EXTRA}"
        ) from None
    # A low hashing cost: the throwaway users need no protection, and the run stays quick.
    with Emulator(hash_cost=4) as emulator:

        def enforce_session(on: bool) -> None:
            emulator.configure(enforce_session=on)

        yield emulator.base_url, emulator.client_key, enforce_session


def _step_printer(out: TextIO) -> Callable[[SmokeStep], None]:
    def show(step: SmokeStep) -> None:
        mark = "SKIP" if step.skipped else "ok" if step.ok else "FAIL"
        print(
            f"  {mark:<4} {step.name:<38} {step.detail}  ({step.seconds * 1000:.0f} ms)",
            file=out,
            flush=True,
        )

    return show


def _step_json(step: SmokeStep) -> dict[str, Any]:
    return {
        "name": step.name,
        "ok": step.ok,
        "skipped": step.skipped,
        "detail": step.detail,
        "ms": round(step.seconds * 1000, 1),
    }


def _error_json(step: SmokeStep) -> dict[str, Any]:
    error = step.error
    hint = hint_for(error)
    return {
        "step": step.name,
        "type": type(error).__name__ if error is not None else None,
        "code": getattr(error, "code", None),
        "message": str(error) if error is not None else step.detail,
        **({"hint": hint} if hint else {}),
    }


# --- agnost auth ---------------------------------------------------------------------------


def add_auth(subparsers: Any) -> None:
    """Register ``agnost auth`` and its commands."""
    parser = subparsers.add_parser(
        "auth",
        allow_abbrev=False,
        help="sign up, sign in and manage sessions, sharing the stored session with Python",
        description="Everyday session management. The session is stored where the library"
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
        _environment_options(sub, required=True)
        _output_options(sub)
        sub.set_defaults(handler=_guarded(_with_client(handler)))
        return sub

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
    command("user", "show the user as the database holds it", _signed_in(_user))
    command(
        "sessions",
        "list the user's active sessions (the current one marked *)",
        _signed_in(_sessions),
    )
    sub = command(
        "sign-out",
        "sign out the current session, another one, or several",
        _signed_in(_sign_out),
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
    command("clear", "remove the stored session and user", _clear)


#: The OAuth providers Agnost signs in with (protocol.md §3, signInWithProvider).
PROVIDERS = ("google", "facebook", "twitter", "apple", "discord", "github")


def _with_client(handler: Callable[..., int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        if not args.env_url or not args.client_key:
            raise UsageError(
                "set --env-url and --client-key (or AGNOST_ENV_URL, AGNOST_CLIENT_KEY)"
            )
        from .client import create_client

        api_key = _secret(
            args.api_key, "AGNOST_API_KEY", "--api-key", sys.stdin, _stdin_users(args)
        )
        with create_client(args.env_url, args.client_key, api_key=api_key) as client:
            return handler(client, args, _Printer(args, sys.stdout), sys.stdin)

    return run


def _stdin_users(args: argparse.Namespace) -> list[str]:
    """The options of this command that read stdin (at most one may)."""
    readers = {
        "--password-stdin": getattr(args, "password_stdin", False),
        "--input -": getattr(args, "input", None) == "-",
        "'-' (a token from stdin)": "-"
        in (getattr(args, "token", None), getattr(args, "token_or_url", None)),
    }
    return [option for option, reads in readers.items() if reads]


Handler = Callable[[Any, argparse.Namespace, "_Printer", TextIO], int]


def _signed_in(handler: Handler) -> Handler:
    """``handler`` for a command the server answers only with a session: without a stored
    one it does not ask; a session the server refuses is reported as "not signed in" (exit
    6), saying that the local one was cleared."""

    def run(client: Any, args: argparse.Namespace, printer: _Printer, stdin: TextIO) -> int:
        if client.auth.get_session() is None:
            return _not_signed_in(printer, client.auth.get_user(), "not signed in")
        try:
            return handler(client, args, printer, stdin)
        except SessionTokenError as error:
            label = f"{error.code}: " if error.code else ""
            cleared = client.auth.get_session() is None
            message = f"not signed in: the server refused the stored session ({label}{error})" + (
                "; the local session was cleared: sign in again" if cleared else ""
            )
            return _not_signed_in(printer, None, message, error)

    return run


def _not_signed_in(
    printer: _Printer, user: User | None, message: str, error: APIError | None = None
) -> int:
    if printer.json:
        _print_json(
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


class _Printer:
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
            _print_json({"ok": True, **document}, self.out)
        else:
            for line in lines:
                print(line, file=self.out)
        return EXIT_OK


def _describe_user(user: User | None) -> str:
    if user is None:
        return "no user"
    contact = user.email or user.phone or user.provider_user_id or "?"
    name = f" ({user.name})" if user.name else ""
    return f"{contact}{name}, id {user.id}"


def _token_line(printer: _Printer, session: Session | None) -> list[str]:
    return [f"token: {session.token}"] if printer.show_token and session is not None else []


def _grant_output(printer: _Printer, what: str, user: User, session: Session | None) -> int:
    lines = [f"{what}: {_describe_user(user)}"]
    lines.append("session stored" if session is not None else "no session: confirmation pending")
    return printer.emit(
        {"user": printer.user(user), "session": printer.session(session)},
        lines + _token_line(printer, session),
    )


def _sign_up(client: Any, args: argparse.Namespace, printer: _Printer, stdin: TextIO) -> int:
    password = _read_password(args, stdin, confirm=True)
    if args.email:
        result = client.auth.sign_up_with_email(args.email, password, args.name)
    else:
        result = client.auth.sign_up_with_phone(args.phone, password, args.name)
    return _grant_output(printer, "signed up", result.user, result.session)


def _sign_in(client: Any, args: argparse.Namespace, printer: _Printer, stdin: TextIO) -> int:
    password = _read_password(args, stdin)
    if args.email:
        grant = client.auth.sign_in_with_email(args.email, password)
    else:
        grant = client.auth.sign_in_with_phone(args.phone, password)
    return _grant_output(printer, "signed in", grant.user, grant.session)


def _whoami(client: Any, args: argparse.Namespace, printer: _Printer, stdin: TextIO) -> int:
    session, user = client.auth.get_session(), client.auth.get_user()
    if session is None:
        return _not_signed_in(printer, user, "not signed in")
    if args.check:
        return _signed_in(_checked_whoami)(client, args, printer, stdin)
    created = session.creation_dtm.isoformat() if session.creation_dtm else "?"
    return printer.emit(
        {"session": printer.session(session), "user": printer.user(user), "checked": False},
        [
            f"signed in as {_describe_user(user)}",
            f"session created {created}",
            "as recorded on this machine; `agnost auth whoami --check` asks the server",
            *_token_line(printer, session),
        ],
    )


def _checked_whoami(
    client: Any, args: argparse.Namespace, printer: _Printer, stdin: TextIO
) -> int:
    user = client.auth.get_user_from_db()
    session = client.auth.get_session()
    created = session.creation_dtm.isoformat() if session.creation_dtm else "?"
    return printer.emit(
        {"session": printer.session(session), "user": printer.user(user), "checked": True},
        [
            f"signed in as {_describe_user(user)}",
            f"session created {created}",
            "checked with the server: the session is valid",
            *_token_line(printer, session),
        ],
    )


def _user(client: Any, args: argparse.Namespace, printer: _Printer, stdin: TextIO) -> int:
    user = client.auth.get_user_from_db()
    return printer.emit({"user": printer.user(user)}, [_describe_user(user)])


def _sessions(client: Any, args: argparse.Namespace, printer: _Printer, stdin: TextIO) -> int:
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


def _sign_out(client: Any, args: argparse.Namespace, printer: _Printer, stdin: TextIO) -> int:
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


def _grant(client: Any, args: argparse.Namespace, printer: _Printer, stdin: TextIO) -> int:
    token = stdin.readline().strip() if args.token_or_url == "-" else args.token_or_url
    grant = client.auth.get_auth_grant(token)
    return _grant_output(printer, "signed in", grant.user, grant.session)


def _provider(client: Any, args: argparse.Namespace, printer: _Printer, stdin: TextIO) -> int:
    url = client.auth.sign_in_with_provider(args.name)
    if args.open:
        webbrowser.open(url)
    return printer.emit({"url": url}, [url])


def _clear(client: Any, args: argparse.Namespace, printer: _Printer, stdin: TextIO) -> int:
    client.auth.clear_local_data()
    return printer.emit({"cleared": True}, ["local session and user removed"])


# --- agnost api ----------------------------------------------------------------------------


def add_api(subparsers: Any) -> None:
    """Register ``agnost api``."""
    parser = subparsers.add_parser(
        "api",
        allow_abbrev=False,
        help="call one of the app's own endpoints with the stored session",
        description="Call an endpoint of the app (a path relative to the env URL) with the"
        " session stored by `agnost auth sign-in`, and print the answer: pretty JSON on a"
        " terminal, the body as it came otherwise. A refused session is cleared, as the"
        " library does.",
        epilog="examples:\n  agnost api GET /orders -F status=open\n"
        '  echo \'{"item": "tea"}\' | agnost api POST /orders --input -\n\n' + EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("method", type=str.upper, choices=_API_METHODS, metavar="METHOD")
    parser.add_argument("path", metavar="PATH", help="the endpoint's path, such as /orders")
    parser.add_argument(
        "-F",
        "--field",
        action="append",
        metavar="KEY=VALUE",
        help="a query parameter; repeat for several (a key may repeat)",
    )
    parser.add_argument(
        "-H",
        "--header",
        action="append",
        metavar="'NAME: VALUE'",
        help="a request header; repeat for several (agnost's own headers cannot be replaced)",
    )
    parser.add_argument(
        "--input", metavar="FILE", help="a file holding the JSON body ('-': read it from stdin)"
    )
    parser.add_argument(
        "-i", "--include", action="store_true", help="also print the status line and headers"
    )
    parser.add_argument(
        "--raw", action="store_true", help="print the body exactly as it came, even on a terminal"
    )
    _environment_options(parser, required=True)
    _output_options(parser)
    parser.set_defaults(handler=_guarded(_with_client(_api)))


_API_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _api_fields(fields: Sequence[str]) -> list[tuple[str, str]]:
    pairs = []
    for field in fields:
        key, sep, value = field.partition("=")
        if not sep or not key:
            raise UsageError(f"-F takes KEY=VALUE, not {field!r}")
        pairs.append((key, value))
    return pairs


def _api_headers(lines: Sequence[str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in lines:
        name, sep, value = line.partition(":")
        name = name.strip()
        if not sep or not name:
            raise UsageError(f"-H takes 'NAME: VALUE', not {line!r}")
        if name.lower() in (known.lower() for known in headers):
            raise UsageError(f"the header {name} is given twice")
        headers[name] = value.strip()
    return headers


def _api_body(source: str | None, stdin: TextIO) -> object:
    if source is None:
        return UNSET
    where = "stdin" if source == "-" else source
    try:
        if source == "-":
            text = stdin.read()
        else:
            with open(source, encoding="utf-8") as file:
                text = file.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read the body from {where}: {exc}") from None
    try:
        return json.loads(text, parse_constant=_not_json)
    except (ValueError, RecursionError) as exc:
        raise UsageError(f"the body in {where} is not JSON: {exc}") from None


def _not_json(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def _api(client: Any, args: argparse.Namespace, printer: _Printer, stdin: TextIO) -> int:
    if args.raw and args.json:
        raise UsageError("--raw and --json do not go together")
    body = _api_body(args.input, stdin)
    # Read before the call: a refused session is cleared by it, but was sent, and the answer
    # may quote it.
    token = None if printer.show_token else client.session_token
    try:
        response = client.endpoint.request(
            args.method,
            args.path,
            json=body,
            params=_api_fields(args.field or ()),
            headers=_api_headers(args.header or ()),
            returns="response",
        )
    except SessionTokenError as error:
        return report_error(
            error, as_json=printer.json, out=printer.out, err=sys.stderr, code=EXIT_SIGNED_OUT
        )
    if token:
        response = attrs.evolve(
            response, content=response.content.replace(token.encode(), HIDDEN.encode())
        )
    headers = [
        (name, value.replace(token, HIDDEN) if token else value)
        for name, value in response.headers.items()
    ]
    if printer.json:
        document: dict[str, Any] = {"status": response.status}
        if args.include:
            document.update(reason=response.reason, headers=dict(headers))
        document["body"] = response.json() if response.content.strip() else None
        return printer.emit(document, [])
    out = printer.out
    if args.include:
        print(f"HTTP {response.status} {response.reason}".rstrip(), file=out)
        for name, value in headers:
            print(f"{name}: {value}", file=out)
        print(file=out)
    if not args.raw and out.isatty():
        try:
            _print_json(response.json(), out)
        except ResponseDecodeError:
            print(response.text(), file=out)
        return EXIT_OK
    out.flush()
    binary = getattr(out, "buffer", None)
    if binary is None:
        out.write(response.text())
    else:
        binary.write(response.content)
        binary.flush()
    return EXIT_OK


def refuse_password_arguments(argv: Sequence[str]) -> str | None:
    """An error message if ``argv`` tries to pass a password, which must never be on it.

    Checked before parsing, so the password is not echoed back by an argparse error either.
    """
    for arg in argv:
        if arg == "--":
            break
        named = arg.split("=", 1)[0]
        if named in ("-p", "--pass", "--passwd", "--password"):
            return (
                "passwords are never taken from the command line (they would show in shell"
                " history and process lists): type it at the prompt, or pipe it with"
                " --password-stdin"
            )
    return None


def _guarded(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Run ``handler``; an agnost or usage error becomes its message and exit code."""

    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except (AgnostError, UsageError) as error:
            return report_error(
                error, as_json=getattr(args, "json", False), out=sys.stdout, err=sys.stderr
            )

    return run
