"""The exception hierarchy shared by both flavours.

Everything agnost raises on purpose is an :class:`AgnostError`:

- :class:`ClientError`: the caller passed something unusable; nothing was sent.
- :class:`TransportError`: the request did not complete (connection, timeout, TLS, size cap).
- :class:`APIError`: the server answered with an error body; subclasses are chosen by code.
- :class:`ResponseDecodeError`: the server answered something that cannot be understood.
- :class:`StorageError`: the local session store could not be read or written.

No message built here ever contains a session token: excerpts of bodies are redacted first.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

__all__ = [
    "APIError",
    "APIKeyError",
    "DECIDING_CODES",
    "MAX_ERROR_ITEMS",
    "AccessTokenError",
    "AgnostError",
    "ClientClosedError",
    "ClientError",
    "ConnectError",
    "CorruptStorageError",
    "EmailNotVerifiedError",
    "ErrorItem",
    "InvalidArgumentError",
    "InvalidArgumentTypeError",
    "InvalidCodeError",
    "InvalidCredentialsError",
    "InvalidSessionTokenError",
    "MissingSessionTokenError",
    "NotAllowedError",
    "NotUniqueError",
    "PhoneNotVerifiedError",
    "RedirectError",
    "RequestTimeoutError",
    "ResponseDecodeError",
    "ResponseTooLargeError",
    "SESSION_TOKEN_CODES",
    "ServerError",
    "SessionTokenError",
    "StorageError",
    "TLSError",
    "TooManyAttemptsError",
    "TransportError",
    "UserNotFoundError",
    "ValidationError",
    "api_error",
    "api_error_class",
]


@attrs.frozen
class ErrorItem:
    """One entry of an error answer's ``errors`` array, exactly as the server sent it.

    ``origin`` is ``"client_error"`` or ``"server_error"``; keys the server adds beyond the
    four standard ones (``name``, ``specifics``, ``fields``, ...) are kept in ``extra``, and
    so is a standard key whose value is not a string (``code: 5``), so that :meth:`to_wire`
    gives back what was sent. An entry that is not an object is ``message`` when it is a
    string and ``details`` otherwise.

    Nothing in an item is redacted: its fields may echo what the request carried (a
    password, a token), so ``repr`` shows only ``origin`` and ``code``. The error's ``str``
    is the redacted text for people.
    """

    origin: str | None = None
    code: str | None = None
    message: str | None = attrs.field(default=None, repr=False)
    details: Any = attrs.field(default=None, repr=False)
    extra: Mapping[str, Any] = attrs.field(factory=dict, repr=False)

    @classmethod
    def from_wire(cls, item: object) -> ErrorItem:
        """Build an item from whatever the server put in its ``errors`` array."""
        if isinstance(item, str):
            return cls(message=item)
        if not isinstance(item, Mapping):
            return cls(details=item)
        texts = {k: v for k in ("origin", "code", "message") if isinstance(v := item.get(k), str)}
        return cls(
            origin=texts.get("origin"),
            code=texts.get("code"),
            message=texts.get("message"),
            details=item.get("details"),
            extra={k: v for k, v in item.items() if k != "details" and k not in texts},
        )

    def to_wire(self) -> dict[str, Any]:
        """Return the item as the server sent it."""
        wire: dict[str, Any] = {
            "origin": self.origin,
            "code": self.code,
            "message": self.message,
            "details": self.details,
        }
        wire.update(self.extra)
        return wire


class AgnostError(Exception):
    """The base of every error agnost raises on purpose."""


# --- you misused me ------------------------------------------------------------------------


class ClientError(AgnostError):
    """The call was refused before anything was sent: an argument is missing or unusable.

    ``items`` holds one :class:`ErrorItem` with ``origin="client_error"``, the shape the
    official client uses for its own argument errors.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.items: tuple[ErrorItem, ...] = (
            ErrorItem(origin="client_error", code=code, message=message, details=None),
        )

    @property
    def code(self) -> str:
        """The error code, such as ``missing_required_value``."""
        return self.items[0].code or ""

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.code, str(self)))


class InvalidArgumentError(ClientError, ValueError):
    """An argument has the right type but an unusable value (an empty key, a bad URL)."""


class InvalidArgumentTypeError(ClientError, TypeError):
    """An argument has the wrong type."""


class ClientClosedError(AgnostError, RuntimeError):
    """The client was closed (``close()`` / ``aclose()`` / the end of its ``with`` block);
    it sends no more requests. Its local methods still work."""

    def __init__(self) -> None:
        super().__init__("the client is closed; create a new one to send requests")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), ())


# --- the request did not complete ----------------------------------------------------------


class TransportError(AgnostError):
    """The HTTP exchange failed before a complete answer arrived.

    Raised the same way by both flavours, whatever the HTTP library said. The library's own
    exception is not chained (its text can carry the URL's query, an access token); the
    message names its class and its sanitised text. POSTs are never retried (aiohttp may
    re-send an idempotent GET once when a kept-alive connection turns out to be closed).
    """


class ConnectError(TransportError):
    """The connection failed: refused, reset, DNS failure, closed before the answer was
    complete, or the peer did not speak HTTP."""


class TLSError(ConnectError):
    """The TLS handshake or certificate check failed."""


class RequestTimeoutError(TransportError, builtins.TimeoutError):
    """The server did not answer within the client's timeout."""


class ResponseTooLargeError(TransportError):
    """The answer's body went past the client's size cap; reading stopped there."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"response body exceeds the {limit}-byte limit")
        self.limit = limit

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.limit,))


# --- the peer misbehaved -------------------------------------------------------------------


class ResponseDecodeError(AgnostError):
    """The server's answer could not be understood: not JSON, truncated, or the wrong shape.

    ``status`` is the HTTP status and ``excerpt`` a short, sanitised start of the body
    (control characters removed, tokens redacted).
    """

    def __init__(self, reason: str, *, status: int, excerpt: str) -> None:
        shown = f": {excerpt!r}" if excerpt else ""
        super().__init__(f"{reason} (HTTP {status}){shown}")
        self.reason = reason
        self.status = status
        self.excerpt = excerpt

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            _rebuild,
            (type(self), (self.reason,), {"status": self.status, "excerpt": self.excerpt}),
        )


class RedirectError(ResponseDecodeError):
    """The server answered with a redirect, which agnost never follows (so the session token
    never reaches another origin). Often an ``http://`` env URL that redirects to ``https://``.

    ``location_origin`` is the scheme and host redirected to; the rest of the URL is not kept.
    """

    def __init__(self, *, status: int, location_origin: str) -> None:
        super().__init__(f"redirect to {location_origin} not followed", status=status, excerpt="")
        self.location_origin = location_origin

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            _rebuild,
            (type(self), (), {"status": self.status, "location_origin": self.location_origin}),
        )


class APIError(AgnostError):
    """The server refused the request with an error answer.

    Mirrors the official client's ``APIError``: ``status`` (HTTP status), ``status_text``
    (reason phrase, ``"Bad Request"`` when the server gave none) and ``items`` (the
    ``errors`` of the body, one :class:`ErrorItem` each, exactly as sent). An answer with
    more than 100 items (``MAX_ERROR_ITEMS``) keeps the first 100 and the item whose code
    chooses the class; ``item_count`` is how many the server sent.

    ``str(error)`` is for people: the status, the deciding code and its message, with the
    secrets of the request redacted (``message`` is that text when given; the client
    passes it). ``repr`` shows the same text.
    """

    def __init__(
        self,
        status: int,
        status_text: str,
        items: Sequence[ErrorItem],
        *,
        item_count: int | None = None,
        message: str | None = None,
    ) -> None:
        self.status = status
        self.status_text = status_text
        self.items: tuple[ErrorItem, ...] = tuple(items)
        self.item_count = len(self.items) if item_count is None else item_count
        if message is None:
            message = _summary(status, status_text, self.items, self.item_count, _clip)
        super().__init__(message)

    @property
    def code(self) -> str | None:
        """The code that chose this exception's class (else the first item's code)."""
        return _deciding_item(self.items).code

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            _rebuild,
            (
                type(self),
                (self.status, self.status_text, self.items),
                {"item_count": self.item_count, "message": str(self)},
            ),
        )


class SessionTokenError(APIError):
    """The session token was missing or refused. The local session may have been invalidated."""


class InvalidSessionTokenError(SessionTokenError):
    """``invalid_session_token``: the session is unknown, expired or signed out."""


class MissingSessionTokenError(SessionTokenError):
    """``missing_session_token``: the call needs a session and none was sent."""


class InvalidCredentialsError(APIError):
    """``invalid_credentials`` / ``invalid_sign_in_credentials``: wrong email, phone or
    password."""


class EmailNotVerifiedError(APIError):
    """``email_not_verified``: the email address must be confirmed before signing in."""


class NotAllowedError(APIError):
    """``not_allowed``: the app's settings do not allow this (e.g. this sign-in method)."""


class PhoneNotVerifiedError(APIError):
    """``phone_not_verified``: the phone number must be confirmed (``verify_phone``) first."""


class InvalidCodeError(APIError):
    """``invalid_code`` / ``expired_code``: the one-time code sent by SMS is wrong, already
    used or expired (``sign_in_with_code``, ``verify_phone``, ``reset_pwd_with_code``)."""


class TooManyAttemptsError(APIError):
    """``too_many_attempts``: a code or token was tried too often, or too many messages were
    asked for; ask for a new one later."""


class NotUniqueError(APIError):
    """``email_not_unique`` / ``phone_not_unique``: another user already has this email
    address or phone number."""


class AccessTokenError(APIError):
    """``missing_access_token`` / ``invalid_access_token``: the grant's access token is bad."""


class APIKeyError(APIError):
    """``missing_api_key`` / ``invalid_api_key`` / ``expired_api_key``."""


class ValidationError(APIError):
    """``validation_error``: the server rejected a field of the request body."""


class UserNotFoundError(APIError):
    """``user_not_found``."""


class ServerError(APIError):
    """A 5xx answer, or ``internal_server_error``: a fault on the server's side."""


_CLASS_BY_CODE: Mapping[str, type[APIError]] = {
    "invalid_session_token": InvalidSessionTokenError,
    "missing_session_token": MissingSessionTokenError,
    "invalid_credentials": InvalidCredentialsError,
    "invalid_sign_in_credentials": InvalidCredentialsError,
    "email_not_verified": EmailNotVerifiedError,
    "not_allowed": NotAllowedError,
    "phone_not_verified": PhoneNotVerifiedError,
    "invalid_code": InvalidCodeError,
    "expired_code": InvalidCodeError,
    "too_many_attempts": TooManyAttemptsError,
    "email_not_unique": NotUniqueError,
    "phone_not_unique": NotUniqueError,
    "missing_access_token": AccessTokenError,
    "invalid_access_token": AccessTokenError,
    "missing_api_key": APIKeyError,
    "invalid_api_key": APIKeyError,
    "expired_api_key": APIKeyError,
    "validation_error": ValidationError,
    "user_not_found": UserNotFoundError,
    "internal_server_error": ServerError,
}


#: The codes that mean "the session the request carried is not (or no longer) valid".
SESSION_TOKEN_CODES = frozenset({"invalid_session_token", "missing_session_token"})


#: The codes that choose an error's class, in order: a session-token code wherever it stands
#: (the local session depends on it), else the first code with a class of its own.
DECIDING_CODES: tuple[frozenset[str], ...] = (SESSION_TOKEN_CODES, frozenset(_CLASS_BY_CODE))

#: How many items of an error answer are kept (besides the deciding one); the rest are
#: counted in ``APIError.item_count``. Real answers carry one or a few.
MAX_ERROR_ITEMS = 100


def _deciding_item(items: Sequence[ErrorItem]) -> ErrorItem:
    """The item whose code chooses the class (see :data:`DECIDING_CODES`), else the first."""
    for wanted in DECIDING_CODES:
        for item in items:
            if item.code in wanted:
                return item
    return items[0] if items else ErrorItem()


def api_error(
    status: int,
    status_text: str,
    items: Sequence[ErrorItem],
    *,
    item_count: int,
    shown: Callable[[str, int], str],
) -> APIError:
    """The :class:`APIError` subclass the items call for; ``shown(text, limit)`` gives the
    text for people (redacted and clipped to ``limit`` characters)."""
    message = _summary(status, status_text, items, item_count, shown)
    cls = api_error_class(status, items)
    return cls(status, status_text, items, item_count=item_count, message=message)


def _summary(
    status: int,
    status_text: str,
    items: Sequence[ErrorItem],
    item_count: int,
    shown: Callable[[str, int], str],
) -> str:
    # Each part is redacted and clipped on its own: a server's message of megabytes costs
    # no more than its first few hundred characters.
    first = _deciding_item(items)
    label = first.code or "error"
    message = f": {shown(first.message, _MESSAGE_LIMIT)}" if first.message else ""
    more = f" (+{item_count - 1} more)" if item_count > 1 else ""
    return shown(f"{status} {status_text} [{label}]", _MESSAGE_LIMIT) + message + more


def api_error_class(status: int, items: Sequence[ErrorItem]) -> type[APIError]:
    """Choose the exception class for an error answer: by its deciding code, else status."""
    chosen = _CLASS_BY_CODE.get(_deciding_item(items).code or "")
    if chosen is not None:
        return chosen
    return ServerError if status >= 500 else APIError


# --- local storage -------------------------------------------------------------------------


class StorageError(AgnostError):
    """The local session store could not be read or written; ``path`` names the file.

    The client keeps working with the state it holds in memory for this process.
    """

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(f"{message}: {path}" if path else message)
        self.message = message
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), (self.message,), {"path": self.path}))


class CorruptStorageError(StorageError):
    """The stored session file could not be parsed; it was moved aside, not deleted."""


def _rebuild(cls: type[Exception], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Exception:
    """Unpickle an exception whose constructor takes keyword arguments."""
    return cls(*args, **kwargs)


#: How much of a server's text an error's message shows.
_MESSAGE_LIMIT = 300


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
