"""Error answers in the shapes of protocol.md §5.

Handlers raise :class:`Refusal` (or :class:`InvalidFields`); a middleware turns it into the
JSON answer. Every error answer is JSON: the official client hangs forever on a non-JSON one.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Mapping
from typing import Any

from aiohttp import web

__all__ = ["InvalidFields", "Refusal", "error_body", "where"]


def error_body(
    code: str, message: str, *, details: Mapping[str, Any] | None = None, server: bool = False
) -> dict[str, Any]:
    """The ``{"errors": [...]}`` body with one item."""
    return {
        "errors": [
            {
                "origin": "server_error" if server else "client_error",
                "code": code,
                "message": message,
                "details": dict(details or {}),
            }
        ]
    }


class Refusal(Exception):
    """Refuse the request with ``status`` and one error item ``code``/``message``; with
    ``close``, the connection is closed after the answer (the request was not read whole)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        details: Mapping[str, Any] | None = None,
        close: bool = False,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.close = close

    def response(self) -> web.Response:
        """The JSON answer for this refusal."""
        body = error_body(self.code, self.message, details=self.details)
        response = web.json_response(body, status=self.status)
        if self.close:
            response.force_close()
        return response


class InvalidFields(Refusal):
    """A 400 ``validation_error`` naming the bad fields: ``{field: reason}``.

    Its body is the bare validation object of §5 (no ``errors`` wrapper), which clients turn
    into a one-item list.
    """

    def __init__(self, problems: Mapping[str, str]) -> None:
        summary = "; ".join(f"{field}: {reason}" for field, reason in problems.items())
        super().__init__(400, "validation_error", f"Validation failed: {summary}")
        self.problems = dict(problems)

    def response(self) -> web.Response:
        """The bare validation object of §5, at 400."""
        return web.json_response(
            {
                "origin": "client_error",
                "code": "validation_error",
                "error": "Bad Request",
                "message": self.message,
                "details": self.problems,
                "fields": list(self.problems),
            },
            status=400,
        )


def where(exc: BaseException) -> str:
    """``exc``'s type and the line that raised it, say ``KeyError at db.py:120``: what a
    log may say of an exception, unlike its message."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return type(exc).__name__
    return f"{type(exc).__name__} at {os.path.basename(frames[-1].filename)}:{frames[-1].lineno}"
