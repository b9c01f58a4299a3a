"""``agnost emulator``: the command-line options and the foreground run.

:func:`add_arguments` fills an ``argparse`` parser; :func:`run` serves until Ctrl-C or SIGTERM.
``agnost.cli`` wires them in as a subcommand; ``python -m agnost.emulator`` runs them alone.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import sys
from pathlib import Path
from typing import TextIO

import attrs

# Nothing here needs ua-parser (nor aiohttp) at import time: the options are registered, and
# ``--help`` works, without the ``emulator`` extra; :func:`run` says what is missing.
from ..filestore import default_data_dir
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

__all__ = ["DEFAULT_PORT", "add_arguments", "default_database_path", "run"]

DEFAULT_PORT = 8787

# The codes of agnost's command line (``agnost --help``) that the emulator can end with.
EXIT_OK = 0
EXIT_USAGE = 2  # bad options, or the emulator extra is not installed
EXIT_TRANSPORT = 3  # the address cannot be bound
EXIT_STORAGE = 4  # the database cannot be used

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
)


def _attribute(option: str) -> str:
    return option.removeprefix("--").replace("-", "_")


MISSING_EXTRA = (
    "the emulator needs ua-parser, which is not installed: pip install 'agnost[emulator]'"
)


def default_database_path() -> Path:
    """Where the emulator keeps its data unless told otherwise: ``emulator.sqlite3`` in the
    agnost data directory (``$AGNOST_DATA_DIR``, else the user data dir of agnost)."""
    return default_data_dir() / "emulator.sqlite3"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the emulator's options to ``parser``."""
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: %(default)s)"
    )
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help="port; 0 picks a free one (default: %(default)s)",
    )
    parser.add_argument(
        "--db",
        metavar="PATH",
        help=f"SQLite database file, or :memory: (default: {default_database_path()})",
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
        "--session-lifetime",
        type=float,
        default=DEFAULT_SESSION_LIFETIME,
        metavar="SECONDS",
        help="how long a session stays valid (default: one year)",
    )
    parser.add_argument(
        "--hash-cost",
        type=int,
        default=DEFAULT_HASH_COST,
        metavar="N",
        help=f"scrypt cost as log2 of N, {MIN_HASH_COST}-{MAX_HASH_COST} (default: %(default)s);"
        " lower is faster and weaker",
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
    """Serve with the options parsed into ``args`` until Ctrl-C or SIGTERM; the exit status:
    0 stopped, 2 bad options or no ``emulator`` extra, 3 the address cannot be bound, 4 the
    database cannot be used."""
    if not _has_ua_parser():
        print(f"agnost emulator: {MISSING_EXTRA}", file=sys.stderr)
        return EXIT_USAGE
    from .server import serve_forever  # needs the extra

    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    generated_key = not args.client_keys
    try:
        config = EmulatorConfig(
            email_confirmation=args.email_confirmation,
            session_lifetime=args.session_lifetime,
            hash_cost=args.hash_cost,
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
    database = args.db or str(default_database_path())
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
        key_note = ""
        if generated_key:
            kept = " and kept in the database" if in_file else ""
            key_note = f" (generated{kept}; pass --client-key to choose one)"
        lines = [
            f"agnost emulator running at {base_url}",
            f"  client key: {config.client_keys[0]}{key_note}",
            *(f"  client key: {key}" for key in config.client_keys[1:]),
            f"  database:   {database}",
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
        keep_generated_key=generated_key,
    )
    try:
        asyncio.run(serving)
    except KeyboardInterrupt:
        pass
    except StorageError as exc:
        print(f"agnost emulator: {exc}", file=sys.stderr)
        return EXIT_STORAGE
    except OSError as exc:
        print(f"agnost emulator: cannot serve on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return EXIT_TRANSPORT
    print("agnost emulator stopped", file=out, flush=True)
    return EXIT_OK
