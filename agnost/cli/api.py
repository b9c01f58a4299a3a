"""``agnost api``: a call to one of the app's own endpoints with the stored session."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

import attrs

from .._core.endpoint import UNSET
from .._core.errors import (
    ResponseDecodeError,
    SessionTokenError,
)
from ._common import (
    EXIT_CODES_HELP,
    EXIT_OK,
    EXIT_SIGNED_OUT,
    HIDDEN,
    Printer,
    UsageError,
    environment_options,
    guarded,
    output_options,
    print_json,
    report_error,
    with_client,
)


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
    environment_options(parser, required=True)
    output_options(parser)
    parser.set_defaults(handler=guarded(with_client(_api)))


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


def _api(client: Any, args: argparse.Namespace, printer: Printer, stdin: TextIO) -> int:
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
    reason = response.reason.replace(token, HIDDEN) if token else response.reason
    if printer.json:
        document: dict[str, Any] = {"status": response.status}
        if args.include:
            document.update(reason=reason, headers=dict(headers))
        document["body"] = response.json() if response.content.strip() else None
        return printer.emit(document, [])
    out = printer.out
    if args.include:
        print(f"HTTP {response.status} {reason}".rstrip(), file=out)
        for name, value in headers:
            print(f"{name}: {value}", file=out)
        print(file=out)
    if not args.raw and out.isatty():
        try:
            print_json(response.json(), out)
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
