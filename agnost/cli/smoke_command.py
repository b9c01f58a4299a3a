"""``agnost smoke``: the session lifecycle against an environment, as a CI smoke test."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from ._common import (
    EXIT_CODES_HELP,
    EXIT_OK,
    EXIT_OTHER,
    UsageError,
    environment_options,
    exit_code_for,
    guarded,
    hint_for,
    print_json,
    read_password,
    read_secret,
)
from .smoke import ECHO_PATH, OUTBOX_PATH, SmokeStep, run_smoke

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
        " refused, exchange an access token when the environment gives one, and sign out;"
        " then, on an agnost emulator (whose outbox is the mail), reset the throwaway user's"
        " password through an emailed link and sign in through a magic link."
        " Only the sessions smoke opened are signed out, unless --sign-out-others asks; the"
        " password of an account it did not make is never changed."
        " Without --env-url and --client-key it starts an emulator in-process and tests that.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    environment_options(parser, required=False)
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
        "--recovery-steps",
        action="store_true",
        help="also run the password-reset and magic-link steps against --env-url, which must"
        f" then be an agnost emulator: they read its outbox ({OUTBOX_PATH}). Always on with"
        " the embedded emulator; elsewhere they are skipped with a note",
    )
    parser.add_argument(
        "--flavour",
        choices=("sync", "async", "both"),
        default="both",
        help="which client runs the lifecycle (default: both, one after the other)",
    )
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.set_defaults(handler=guarded(_smoke))


def _smoke(args: argparse.Namespace) -> int:
    out = sys.stdout
    read: list[str] = []
    password = read_password(args, sys.stdin) if args.email else None
    if args.password_stdin:
        read.append("--password-stdin")
    api_key = read_secret(args.api_key, "AGNOST_API_KEY", "--api-key", sys.stdin, read)
    access_token = read_secret(
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
                recovery=args.recovery_steps or embedded,
                on_step=(lambda step: None) if args.json else _step_printer(out),
            )
            runs.append((flavour, steps))
            if not all(step.ok for step in steps):
                break
    failed = next((s for _, steps in runs for s in steps if not s.ok), None)
    if args.json:
        print_json(
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
        counts = ", ".join(
            f"{len(steps)} steps ({flavour}{_skipped(steps)})" for flavour, steps in runs
        )
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
    from ..emulator import INSTALL_EXTRA

    try:
        from ..emulator import Emulator
    except ImportError:
        raise UsageError(
            f"the embedded emulator needs the emulator extra (ua-parser): {INSTALL_EXTRA}"
        ) from None
    # A low hashing cost: the throwaway users need no protection, and the run stays quick.
    with Emulator(hash_cost=4) as emulator:

        def enforce_session(on: bool) -> None:
            emulator.configure(enforce_session=on)

        yield emulator.base_url, emulator.client_key, enforce_session


def _skipped(steps: list[SmokeStep]) -> str:
    skipped = sum(step.skipped for step in steps)
    return f", {skipped} skipped" if skipped else ""


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
