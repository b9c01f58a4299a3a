"""Reading request bodies and checking their fields, the way an Agnost server does (§5, §7).

A body with no ``Content-Type`` is read as JSON; JSON, form and multipart bodies are accepted;
anything else is a 415. Field problems are collected and reported together as one
``validation_error``.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections.abc import Awaitable
from typing import Any, NoReturn, TypeVar

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from .errors import InvalidFields, Refusal
from .state import STATE

T = TypeVar("T")

__all__ = ["MAX_DEPTH", "Fields", "read_body", "read_json"]

_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
# Deliberately loose, like most servers: one @, no spaces, a dot in the domain.
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
# E.164: a plus, then up to 15 digits not starting with 0.
_PHONE = re.compile(r"\+[1-9][0-9]{6,14}")
MIN_PASSWORD_LENGTH = 6
# A bound on what reaches the slow hash; longer adds no security.
MAX_PASSWORD_LENGTH = 1024
MAX_EMAIL_LENGTH = 254
#: How deep a body may nest, the body itself being level 1: ample for custom user fields,
#: and far from the recursion limit of anything that reads or writes the stored JSON.
MAX_DEPTH = 32

#: The largest integer JavaScript holds exactly (``Number.MAX_SAFE_INTEGER``): a user field
#: beyond it would be read back rounded, or as Infinity, by the official client.
MAX_SAFE_INTEGER = 2**53 - 1

#: Keys of the user model the server manages; sign-up data may not set them.
RESERVED_USER_KEYS = frozenset(
    {
        "_id",
        "provider",
        "providerUserId",
        "password",
        "emailVerified",
        "phoneVerified",
        "signUpAt",
        "lastLoginAt",
    }
)


async def read_body(request: web.Request) -> dict[str, Any]:
    """The request body as a mapping of fields; an empty body is ``{}``.

    Refuses what :func:`read_json` refuses, and a body that is not a JSON object (400
    ``invalid_request_body_syntax``).
    """
    body = await _read(request)
    if body is _EMPTY:
        return {}
    if not isinstance(body, dict):
        raise Refusal(400, "invalid_request_body_syntax", "The request body must be a JSON object")
    return body


async def read_json(request: web.Request) -> Any:
    """The request body as any JSON value (a form as a mapping); ``None`` when it is empty.

    Raises a 415 ``unsupported_media_type`` for a type other than JSON, form or multipart; a
    400 ``invalid_request_body_syntax`` for a body that does not parse (``NaN`` and
    ``Infinity`` included: they are not JSON, and answers carrying them break every JSON
    parser that reads them back) or nests deeper than :data:`MAX_DEPTH`; a 400
    ``validation_error`` naming the field that holds a lone surrogate (not Unicode text), a
    number too large to be finite, or a file; a 408 ``request_timeout`` when the body takes
    longer than the ``bodyTimeout`` setting.
    """
    body = await _read(request)
    return None if body is _EMPTY else body


#: What :func:`_read` returns for an empty body (a JSON ``null`` is ``None``).
_EMPTY: Any = object()


async def _read(request: web.Request) -> Any:
    content_type = request.headers.get("Content-Type")
    if content_type is not None and request.content_type in _FORM_TYPES:
        try:
            form = await _within_body_timeout(request, request.post())
        except (ValueError, HttpProcessingError) as exc:
            raise Refusal(
                400, "invalid_request_body_syntax", "The request body is not a valid form"
            ) from exc
        files = [name for name, value in form.items() if not isinstance(value, str)]
        if files:
            raise InvalidFields({name: "must be text (files are not supported)" for name in files})
        return _checked(dict(form))
    media = request.content_type
    is_json = media == "application/json" or media.endswith("+json")
    if content_type is not None and not is_json:
        raise Refusal(415, "unsupported_media_type", f"Content type {media!r} is not supported")
    raw = await _within_body_timeout(request, request.read())
    if not raw.strip():
        return _EMPTY
    try:
        body = json.loads(raw, parse_constant=_refuse_constant)
    except RecursionError as exc:
        raise _too_deep() from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise Refusal(
            400, "invalid_request_body_syntax", "The request body is not valid JSON"
        ) from exc
    return _checked(body)


async def _within_body_timeout(request: web.Request, reading: Awaitable[T]) -> T:
    timeout = request.app[STATE].config.body_timeout
    try:
        return await asyncio.wait_for(reading, timeout)
    except asyncio.TimeoutError as exc:
        raise Refusal(
            408,
            "request_timeout",
            f"The request body did not arrive within {timeout:g} seconds",
            close=True,
        ) from exc


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


def _too_deep() -> Refusal:
    return Refusal(
        400,
        "invalid_request_body_syntax",
        f"The request body nests deeper than {MAX_DEPTH} levels",
    )


def _is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


_NOT_TEXT = "must be Unicode text (no lone surrogates)"


def _checked(body: Any) -> Any:
    """``body``, once it is known to be data the emulator can store and send back; problems
    are named by the top-level field they are in (``(body)`` when the body is no object)."""
    problems: dict[str, str] = {}
    if isinstance(body, dict):
        for field, value in body.items():
            if not isinstance(field, str) or not _is_text(field):
                problems.setdefault("(field name)", _NOT_TEXT)
                continue
            reason = _problem(value, 2)  # the body itself is level 1
            if reason is not None:
                problems[field] = reason
    else:
        reason = _problem(body, 1)
        if reason is not None:
            problems["(body)"] = reason
    if problems:
        raise InvalidFields(problems)
    return body


def _problem(value: object, depth: int) -> str | None:
    """What is wrong with ``value`` at nesting level ``depth``, or None; too deep raises."""
    pending = [(value, depth)]
    while pending:
        item, level = pending.pop()
        if level > MAX_DEPTH:
            raise _too_deep()
        if isinstance(item, str) and not _is_text(item):
            return _NOT_TEXT
        if isinstance(item, float) and not math.isfinite(item):
            return "numbers must be finite"
        if isinstance(item, dict):
            if not all(_is_text(key) for key in item):
                return _NOT_TEXT
            pending.extend((child, level + 1) for child in item.values())
        elif isinstance(item, list):
            pending.extend((child, level + 1) for child in item)
    return None


class Fields:
    """Checks the fields of one body, collecting every problem before refusing.

    Use :meth:`email`, :meth:`password` and friends to read checked values, then
    :meth:`done`, which raises :class:`InvalidFields` if anything was wrong.
    """

    def __init__(self, body: dict[str, Any]) -> None:
        self._body = body
        self._problems: dict[str, str] = {}

    def problem(self, field: str, reason: str) -> None:
        """Record a problem with ``field`` (the first one per field is kept)."""
        self._problems.setdefault(field, reason)

    def has_problem(self, field: str) -> bool:
        """Whether a problem with ``field`` was recorded."""
        return field in self._problems

    def done(self) -> None:
        """Refuse the request with every problem found, if there was one."""
        if self._problems:
            raise InvalidFields(self._problems)

    def string(self, field: str, *, required: bool = True) -> str | None:
        """A string field; None (and a problem, if required) when missing or not a string."""
        value = self._body.get(field)
        if value is None:
            if required:
                self.problem(field, "is required")
            return None
        if not isinstance(value, str):
            self.problem(field, "must be a string")
            return None
        return value

    def email(self, field: str = "email") -> str:
        """A required email address, trimmed; checked for shape only."""
        value = (self.string(field) or "").strip()
        if field not in self._problems and (
            len(value) > MAX_EMAIL_LENGTH or not _EMAIL.fullmatch(value)
        ):
            self.problem(field, "must be a valid email address")
        return value

    def phone(self, field: str = "phone") -> str:
        """A required phone number in E.164 form (``+`` and digits); spaces are dropped."""
        value = re.sub(r"[\s\-()]", "", self.string(field) or "")
        if field not in self._problems and not _PHONE.fullmatch(value):
            self.problem(field, "must be a phone number in E.164 form, like +15555550100")
        return value

    def password(self, field: str = "password", *, check_strength: bool = True) -> str:
        """A required password; on sign-up (``check_strength``) at least 6 characters."""
        value = self.string(field) or ""
        if field in self._problems:
            return value
        if check_strength and len(value) < MIN_PASSWORD_LENGTH:
            self.problem(field, f"must be at least {MIN_PASSWORD_LENGTH} characters long")
        elif len(value) > MAX_PASSWORD_LENGTH:
            self.problem(field, f"must be at most {MAX_PASSWORD_LENGTH} characters long")
        elif not value:
            self.problem(field, "is required")
        return value

    def user_data(self, field: str, identity: tuple[str, str]) -> dict[str, Any]:
        """``nameOrUserData``: a name, or an object of user fields (custom ones welcome).

        Returns the fields to store. ``identity`` is the sign-up's (key, value), such as
        ``("email", "a@b.co")``: the object may repeat it but not contradict it.
        """
        value = self._body.get(field)
        if value is None:
            return {}
        if isinstance(value, str):
            return {"name": value}
        if not isinstance(value, dict):
            self.problem(field, "must be a name or an object of user fields")
            return {}
        reserved = sorted(RESERVED_USER_KEYS & value.keys())
        if reserved:
            self.problem(field, f"may not set {', '.join(reserved)}")
        for key in ("email", "phone"):
            if key in value and not _same(key, value[key], identity):
                self.problem(field, f"may not set {key}")
        if "name" in value and not isinstance(value["name"], str | None):
            self.problem(field, "name must be a string")
        if _has_unsafe_integer(value):
            self.problem(
                field,
                f"integers must be from -{MAX_SAFE_INTEGER} to {MAX_SAFE_INTEGER}"
                " (what JavaScript holds exactly)",
            )
        return {k: v for k, v in value.items() if k not in ("email", "phone")}


def _has_unsafe_integer(value: object) -> bool:
    # Iterative: the body's depth is bounded already, but a walk needs no recursion anyway.
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, int) and not isinstance(item, bool) and abs(item) > MAX_SAFE_INTEGER:
            return True
        if isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def _same(key: str, value: object, identity: tuple[str, str]) -> bool:
    if key != identity[0] or not isinstance(value, str):
        return False
    return value.strip().lower() == identity[1].lower()
