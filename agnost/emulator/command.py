"""``agnost emulator``: the command-line options and the foreground run.

:func:`add_arguments` fills an ``argparse`` parser; :func:`run` serves until Ctrl-C or SIGTERM,
or runs one of the two commands that read a running emulator from a shell: ``outbox`` (the
messages it "sent") and ``export`` (its users, as ``--seed`` reads them). ``agnost.cli`` wires
them in as a subcommand; ``python -m agnost.emulator`` runs them alone.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, TextIO

import attrs

# Nothing here needs ua-parser (nor aiohttp) at import time: the options are registered, and
# ``--help`` works, without the ``emulator`` extra; :func:`run` says what is missing.
from ..storage.filestore import default_data_dir
from . import INSTALL_EXTRA
from .config import (
    DEFAULT_HASH_COST,
    DEFAULT_SESSION_LIFETIME,
    MAX_HASH_COST,
    MIN_HASH_COST,
    RANGES,
    ConfigError,
    EmulatorConfig,
)
from .db import StorageError
from .origins import is_loopback

__all__ = [
    "DEFAULT_PORT",
    "DESCRIPTION",
    "EPHEMERAL_HASH_COST",
    "EPILOG",
    "add_arguments",
    "default_database_path",
    "run",
]

DEFAULT_PORT = 8787

# The codes of agnost's command line (``agnost --help``) that the emulator can end with.
EXIT_OK = 0
EXIT_USAGE = 2  # bad options, or the emulator extra is not installed
EXIT_TRANSPORT = 3  # the address cannot be bound
EXIT_STORAGE = 4  # the database cannot be used

#: The hash cost of ``--ephemeral`` (and of the pytest fixture): scrypt's N = 2**4 hashes in
#: microseconds. Cheap to crack, which is fine for throwaway users of a database that ends
#: with the process; a long-lived emulator keeps the default, which is not.
EPHEMERAL_HASH_COST = 4

DESCRIPTION = (
    """Run a local Agnost-compatible auth server for tests, demos and CI, or read a
running one (outbox, export). Needs the emulator extra: """
    + INSTALL_EXTRA
    + "."
)

EPILOG = """examples:
  agnost emulator                       serve on 127.0.0.1:8787, data kept in the data dir
  agnost emulator --ephemeral --port 0 --ready-file ready.json --seed users.json
                                        for CI: in memory, fast hashing, a free port; the
                                        file gets {"url", "port", "clientKey"} once serving
  agnost emulator --ephemeral --json    one JSON line on stdout once serving
  curl -fsS http://127.0.0.1:8787/_emulator/health     {"status": "ok"} once serving
  agnost emulator outbox --recipient ada@example.com --env-url http://127.0.0.1:8787
  agnost emulator export --env-url http://127.0.0.1:8787 > users.json   (a --seed file)

a seed file: {"users": [{"email": "ada@example.com", "password": "correct horse",
  "name": "Ada"}, ...]}; each user needs an email or a phone, and a password (or the
  passwordHash an export gives); seeded emails and phones count as verified.

exit codes:
  0  stopped by Ctrl-C or SIGTERM (outbox, export: done)
  2  usage error: bad options, a bad seed file, or the emulator extra is missing
  3  the address cannot be bound (outbox, export: the emulator cannot be reached)
  4  the database cannot be used (outbox, export: an answer that is not the emulator's)"""

#: The options for the limits: (option, setting's wire name, type, metavar, help).
_LIMIT_OPTIONS = (
    ("--header-timeout", "headerTimeout", float, "SECONDS", "how long a request head may take"),
    ("--body-timeout", "bodyTimeout", float, "SECONDS", "how long a request body may take"),
    (
        "--idle-timeout",
        "idleTimeout",
        float,
        "SECONDS",
        "how long a connection may wait for a request",
    ),
    ("--max-connections", "maxConnections", int, "N", "open connections at most"),
    ("--max-sessions-per-user", "maxSessionsPerUser", int, "N", "live sessions per user"),
    ("--max-outbox-messages", "maxOutboxMessages", int, "N", "messages the outbox keeps"),
    ("--code-length", "codeLength", int, "DIGITS", "digits of an SMS code"),
    ("--code-lifetime", "codeLifetime", float, "SECONDS", "how long an SMS code stays valid"),
    ("--max-code-attempts", "maxCodeAttempts", int, "N", "tries of an SMS code, then it is burnt"),
)


def _attribute(option: str) -> str:
    return option.removeprefix("--").replace("-", "_")


_CLIENT_EXIT_CODES = """exit codes:
  0  done
  2  usage error: no --env-url
  3  the emulator cannot be reached
  4  an answer that is not the emulator's"""

MISSING_EXTRA = f"the emulator needs ua-parser, which is not installed: {INSTALL_EXTRA}"


def default_database_path() -> Path:
    """Where the emulator keeps its data unless told otherwise: ``emulator.sqlite3`` in the
    agnost data directory (``$AGNOST_DATA_DIR``, else the user data dir of agnost)."""
    return default_data_dir() / "emulator.sqlite3"


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port: 0 to 65535 (0: a free one)")
    return port


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the emulator's options, and its ``outbox`` and ``export`` commands, to ``parser``."""
    commands = parser.add_subparsers(dest="emulator_command", metavar="COMMAND")
    outbox = commands.add_parser(
        "outbox",
        help="print the messages a running emulator sent (links, codes, access tokens)",
        description="Print the messages a running emulator sent, oldest first.",
        epilog=_CLIENT_EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    outbox.add_argument("--recipient", help="only messages to this address (any case)")
    outbox.add_argument("--kind", help="only messages of this kind, such as email_verification")
    outbox.add_argument("--json", action="store_true", help="print machine-readable JSON")
    export = commands.add_parser(
        "export",
        help="print a running emulator's users as JSON, in the form --seed reads",
        description="Print a running emulator's users (with their password hashes) as JSON,"
        " in the form --seed reads. Sessions and messages are not exported.",
        epilog=_CLIENT_EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    for sub in (outbox, export):
        sub.add_argument(
            "--env-url",
            default=os.environ.get("AGNOST_ENV_URL"),
            help="the emulator's URL (default: $AGNOST_ENV_URL)",
        )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: %(default)s)"
    )
    parser.add_argument(
        "--port",
        type=_port,
        default=DEFAULT_PORT,
        help="port, 0 to 65535; 0 picks a free one (default: %(default)s)",
    )
    parser.add_argument(
        "--db",
        metavar="PATH",
        help=f"SQLite database file, or :memory: (default: {default_database_path()})",
    )
    parser.add_argument(
        "--ephemeral",
        action="store_true",
        help="for tests and CI: an in-memory database (nothing kept, nothing left from an"
        f" earlier run) and a hash cost of {EPHEMERAL_HASH_COST} unless --hash-cost says"
        " otherwise (fast; weak hashes, fine for throwaway users)",
    )
    parser.add_argument(
        "--seed",
        metavar="FILE",
        help='a JSON file of users to create before serving ({"users": [...]}, as'
        " `agnost emulator export` prints it)",
    )
    parser.add_argument(
        "--ready-file",
        metavar="PATH",
        help='once serving, write {"url", "port", "clientKey"} to this file (atomically:'
        " it appears whole); removed when the emulator stops",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help='print one JSON line ({"url", "port", "clientKey", "clientKeys",'
        ' "database"}) once serving, in place of the banner',
    )
    parser.add_argument(
        "--client-key",
        action="append",
        dest="client_keys",
        metavar="KEY",
        help="a client key the API accepts; repeat for several (default: a generated dev key)",
    )
    parser.add_argument(
        "--email-confirmation",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="require a confirmed email before signing in (default: off)",
    )
    parser.add_argument(
        "--phone-confirmation",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="sign-up by phone texts a code for verify-phone, and signing in by phone and"
        " password waits for it (default: off)",
    )
    parser.add_argument(
        "--session-lifetime",
        type=float,
        default=DEFAULT_SESSION_LIFETIME,
        metavar="SECONDS",
        help="how long a session stays valid (default: one year)",
    )
    parser.add_argument(
        "--hash-cost",
        type=int,
        metavar="N",
        help=f"scrypt cost as log2 of N, {MIN_HASH_COST}-{MAX_HASH_COST} (default:"
        f" {DEFAULT_HASH_COST}, or {EPHEMERAL_HASH_COST} with --ephemeral); lower is faster"
        " and weaker",
    )
    parser.add_argument(
        "--redirect-url",
        metavar="URL",
        help="where verification links and OAuth redirect (default: the emulator's own page)",
    )
    parser.add_argument(
        "--cors-origin",
        action="append",
        dest="cors_origins",
        metavar="ORIGIN",
        help="a browser origin, such as http://app.test:3000, whose pages may call the API;"
        " repeat for several (pages on localhost, 127.x and [::1] always may)",
    )
    parser.add_argument(
        "--allowed-host",
        action="append",
        dest="allowed_hosts",
        metavar="NAME",
        help="a host name, such as emulator.lan (or .lan for a domain), under which"
        " /_emulator/* answers and links point here; repeat for several (loopback names,"
        " IP addresses and --host always are)",
    )
    parser.add_argument(
        "--enforce-session",
        action="store_true",
        help="app endpoints need a valid session, whatever the client key (default: off;"
        " the auth endpoints never do)",
    )
    parser.add_argument(
        "--enforce-session-key",
        action="append",
        dest="enforce_session_keys",
        metavar="KEY",
        help="app endpoints called with this client key (one of --client-key) need a valid"
        " session; repeat for several",
    )
    defaults = attrs.fields_dict(EmulatorConfig)
    for option, wire, kind, metavar, text in _LIMIT_OPTIONS:
        least, most = RANGES[wire]
        default = defaults[_attribute(option)].default
        parser.add_argument(
            option,
            type=kind,
            metavar=metavar,
            help=f"{text}, {least:g}-{most:g} (default: {default:g})",
        )
    parser.add_argument(
        "--log-level",
        choices=("debug", "info", "warning", "error"),
        default="info",
        help="logging threshold; info logs one line per request (default: %(default)s)",
    )


def _enforcement(config: EmulatorConfig) -> str:
    if config.enforce_session:
        return "enforced on app endpoints"
    if config.enforce_session_keys:
        return f"enforced on app endpoints for {len(config.enforce_session_keys)} client key(s)"
    return "not enforced"


def _has_ua_parser() -> bool:
    try:
        importlib.import_module("ua_parser")
    except ImportError:
        return False
    return True


def run(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """Serve with the options parsed into ``args`` until Ctrl-C or SIGTERM, or run the
    ``outbox`` or ``export`` command they name; the exit status: 0 stopped, 2 bad options,
    a bad seed or no ``emulator`` extra, 3 the address cannot be bound, 4 the database
    cannot be used (see :data:`EPILOG`)."""
    command = getattr(args, "emulator_command", None)
    if command is not None:
        return _read_running(command, args, out)
    if not _has_ua_parser():
        print(f"agnost emulator: {MISSING_EXTRA}", file=sys.stderr)
        return EXIT_USAGE
    from .server import configure_logging, serve_forever  # needs the extra

    configure_logging(args.log_level)
    from .admin import SeedError, parse_seed

    if args.ephemeral and args.db not in (None, ":memory:"):
        print("agnost emulator: --ephemeral keeps its data in memory: drop --db", file=sys.stderr)
        return EXIT_USAGE
    generated_key = not args.client_keys
    default_cost = EPHEMERAL_HASH_COST if args.ephemeral else DEFAULT_HASH_COST
    try:
        config = EmulatorConfig(
            email_confirmation=args.email_confirmation,
            phone_confirmation=args.phone_confirmation,
            session_lifetime=args.session_lifetime,
            hash_cost=default_cost if args.hash_cost is None else args.hash_cost,
            redirect_url=args.redirect_url,
        )
        if not generated_key:
            config.update({"clientKeys": args.client_keys})
        if args.cors_origins:
            config.update({"corsOrigins": args.cors_origins})
        if args.allowed_hosts:
            config.update({"allowedHosts": args.allowed_hosts})
        config.update(
            {
                "enforceSession": args.enforce_session,
                "enforceSessionKeys": args.enforce_session_keys or [],
            }
        )
        limits = {wire: getattr(args, _attribute(option)) for option, wire, *_ in _LIMIT_OPTIONS}
        config.update({wire: value for wire, value in limits.items() if value is not None})
    except ConfigError as exc:
        print(f"agnost emulator: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        seed = parse_seed(_read_seed(args.seed), config.hash_cost) if args.seed else []
    except (OSError, ValueError) as exc:  # SeedError, and JSON's errors, are ValueErrors
        print(f"agnost emulator: cannot use the seed {args.seed}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    database = ":memory:" if args.ephemeral else args.db or str(default_database_path())
    in_file = database != ":memory:"
    if in_file:
        try:
            Path(database).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            print(f"agnost emulator: cannot use the database {database}: {exc}", file=sys.stderr)
            return EXIT_STORAGE
    if not is_loopback(args.host):
        print(
            f"agnost emulator: WARNING: bound to {args.host}, so other machines can reach it. "
            "It is a development server with no protection: use it on trusted networks only.",
            file=sys.stderr,
        )

    def ready(base_url: str) -> None:
        signal = {
            "url": base_url,
            "port": int(base_url.rsplit(":", 1)[1]),
            "clientKey": config.client_keys[0],
        }
        if args.ready_file:
            _write_atomically(Path(args.ready_file), json.dumps(signal) + "\n")
        if args.json:
            document = {**signal, "clientKeys": list(config.client_keys), "database": database}
            print(json.dumps(document), file=out, flush=True)
            return
        key_note = ""
        if generated_key:
            kept = " and kept in the database" if in_file else ""
            key_note = f" (generated{kept}; pass --client-key to choose one)"
        lines = [
            f"agnost emulator running at {base_url}",
            f"  client key: {config.client_keys[0]}{key_note}",
            *(f"  client key: {key}" for key in config.client_keys[1:]),
            f"  database:   {database}"
            + (" (ephemeral)" if args.ephemeral else "")
            + (f", {len(seed)} users seeded" if seed else ""),
            f"  outbox:     {base_url}/_emulator/outbox",
            f"  sessions:   {_enforcement(config)}",
            "Press Ctrl-C to stop.",
        ]
        print(os.linesep.join(lines), file=out, flush=True)

    serving = serve_forever(
        config,
        database,
        host=args.host,
        port=args.port,
        on_ready=ready,
        keep_generated_key=generated_key and not args.ephemeral,
        seed=seed,
    )
    try:
        asyncio.run(serving)
    except KeyboardInterrupt:
        pass
    except StorageError as exc:
        print(f"agnost emulator: {exc}", file=sys.stderr)
        return EXIT_STORAGE
    except SeedError as exc:
        print(f"agnost emulator: cannot use the seed {args.seed}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"agnost emulator: cannot serve on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return EXIT_TRANSPORT
    finally:
        if args.ready_file:
            # A ready file left behind would tell the next CI step to go ahead too early.
            with contextlib.suppress(OSError):
                Path(args.ready_file).unlink()
    if not args.json:
        print("agnost emulator stopped", file=out, flush=True)
    return EXIT_OK


def _read_seed(path: str) -> Any:
    with open(path, encoding="utf-8") as file:
        return json.load(file, parse_constant=_not_json)


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that a reader sees no file or all of it, never a part."""
    handle, temporary = tempfile.mkstemp(dir=path.parent or ".", prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _read_running(command: str, args: argparse.Namespace, out: TextIO) -> int:
    """``agnost emulator outbox`` or ``export``: one GET to the running emulator."""
    import requests

    if not args.env_url:
        print("agnost emulator: set --env-url (or AGNOST_ENV_URL)", file=sys.stderr)
        return EXIT_USAGE
    if command == "outbox":
        path = "/_emulator/outbox"
        query = {"recipient": args.recipient, "kind": args.kind}
    else:
        path, query = "/_emulator/export", {}
    url = args.env_url.strip().rstrip("/") + path
    try:
        answer = requests.get(url, params=query, timeout=30, allow_redirects=False)
        answer.raise_for_status()
        document = answer.json()
    except requests.exceptions.InvalidURL as exc:
        print(f"agnost emulator: --env-url is not a URL: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (requests.ConnectionError, requests.Timeout) as exc:
        print(
            f"agnost emulator: cannot reach {args.env_url}: {type(exc).__name__}", file=sys.stderr
        )
        return EXIT_TRANSPORT
    except (requests.RequestException, ValueError) as exc:
        print(
            f"agnost emulator: {url} did not answer as an agnost emulator does ({exc});"
            " is --env-url the emulator's URL?",
            file=sys.stderr,
        )
        return EXIT_STORAGE
    if command == "export" or args.json:
        json.dump(document, out, ensure_ascii=False, indent=2)
        out.write("\n")
        return EXIT_OK
    messages = document.get("messages", [])
    for message in messages:
        secret = message.get("code") or message.get("link") or ""
        print(
            f"{message['createdAt']}  {message['kind']}  {message['recipient']}  {secret}",
            file=out,
        )
    if not messages:
        print("no messages", file=out)
    return EXIT_OK
