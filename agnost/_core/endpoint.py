"""Calls to the app's own endpoints (protocol.md §8): pure request building and answer reading.

``client.endpoint`` of both flavours is generated from :data:`METHODS` and :data:`RETURNS`
by ``codegen``. :func:`call` checks a call's arguments and returns the :class:`Reader` of
its answer with the :class:`~agnost._core.operations.Endpoint` to send; the client's send
loop is the one of ``client.auth``, so the headers, errors, timeouts and the invalidation of
a refused session are those of the auth calls.

The session token is sent with these calls, so nothing here lets a call leave the
environment: a path that could reach another origin, or another environment above the env
URL's own path, is refused before anything is sent.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Generic, NoReturn, TypeVar

import attrs

from . import urls
from .errors import InvalidArgumentError, InvalidArgumentTypeError
from .http import NO_SECRETS, Response, Secrets, check_status, decode_json
from .lazyre import lazy
from .operations import Endpoint, Outcome, _json, _text

__all__ = [
    "METHODS",
    "RETURNS",
    "UNSET",
    "EndpointMethod",
    "EndpointResponse",
    "HeaderMap",
    "Headers",
    "Params",
    "Reader",
    "call",
    "encode_params",
    "request_headers",
    "request_path",
]

T = TypeVar("T")


class _Unset(enum.Enum):
    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


#: The default of ``json=``: no body at all (``json=None`` sends the JSON literal ``null``).
UNSET = _Unset.UNSET

#: A call's query: a mapping, or a sequence of ``(key, value)`` pairs (a key may repeat).
Params = Mapping[str, object] | Sequence[tuple[str, object]] | None
#: A call's own headers.
HeaderMap = Mapping[str, str] | None

_PATH_CODE = "invalid_request_path"
_HEADER_CODE = "invalid_header"
_PROTECTED_CODE = "protected_header"

#: The HTTP methods of ``client.endpoint.request``.
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


# --- the answer ----------------------------------------------------------------------------


class Headers(Mapping[str, str]):
    """An answer's headers: read-only, names looked up in any case.

    A header the server sent more than once is one entry, its values joined by ``", "``
    (as requests does, so both flavours give the same mapping). ``repr`` names the headers
    without their values, which may carry a session cookie.
    """

    __slots__ = ("_index",)

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        index: dict[str, tuple[str, str]] = {}
        for name, value in items:
            key = name.lower()
            if key in index:
                first, joined = index[key]
                index[key] = (first, f"{joined}, {value}")
            else:
                index[key] = (name, value)
        self._index = index

    def __getitem__(self, name: str) -> str:
        return self._index[name.lower()][1]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._index

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._index.values())

    def __len__(self) -> int:
        return len(self._index)

    def __repr__(self) -> str:
        return f"<Headers {', '.join(self)}>"


@attrs.frozen
class EndpointResponse:
    """The whole answer of an app endpoint (``returns="response"``): ``status``, ``reason``
    (the reason phrase), ``headers`` (read-only, any case) and ``content`` (the body).

    Only a 2xx answer comes back this way; any other status raises as ``returns="json"``
    does. ``repr`` shows neither headers nor body.
    """

    status: int
    reason: str
    headers: Headers = attrs.field(repr=False)
    content: bytes = attrs.field(repr=False)
    # Redacted from the excerpt of .json()'s error: the token the call carried, say.
    _secrets: Secrets = attrs.field(default=NO_SECRETS, repr=False, eq=False)

    def text(self) -> str:
        """The body as text, decoded by the ``charset`` of ``Content-Type`` (default
        UTF-8); bytes that do not decode become U+FFFD."""
        return _text_of(self.content, self.headers.get("Content-Type"))

    def json(self) -> Any:
        """The body decoded as JSON; :class:`agnost.ResponseDecodeError` when it is not JSON
        (an empty body included)."""
        answer = Response(self.status, self.reason, self.headers, self.content)
        return decode_json(answer, self._secrets)


_CHARSET = lazy(r";\s*charset\s*=\s*\"?([^\";\s]+)", re.IGNORECASE)


def _text_of(body: bytes, content_type: str | None) -> str:
    found = _CHARSET.search(content_type or "")
    try:
        return body.decode(found.group(1) if found else "utf-8", errors="replace")
    except (LookupError, UnicodeError):  # no such text encoding, or one that cannot replace
        return body.decode("utf-8", errors="replace")


class Reader(Generic[T]):
    """How a 2xx answer of an app endpoint is returned (``returns=``); other statuses
    raise the errors of the auth calls (their invalidation rules apply in the client).
    Read-only."""

    # A plain slotted class, not attrs (attrs compiles each class's methods at import).
    __slots__ = ("read", "returns")

    returns: str
    read: Callable[[Response, Secrets], T]

    def __init__(self, returns: str, read: Callable[[Response, Secrets], T]) -> None:
        object.__setattr__(self, "returns", returns)
        object.__setattr__(self, "read", read)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Reader is read-only: cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"Reader is read-only: cannot delete {name!r}")

    def __repr__(self) -> str:
        return f"Reader(returns={self.returns!r})"

    def handle(
        self,
        endpoint: Endpoint,
        response: Response,
        *,
        sent_token: str | None,
        secrets: tuple[str, ...] = (),
    ) -> Outcome[T]:
        """The value the call returns, or the error its answer carries."""
        hidden = Secrets(tokens=(sent_token, *secrets))
        check_status(response, hidden)
        return Outcome(value=self.read(response, hidden), change=None)


def _read_json(response: Response, secrets: Secrets) -> Any:
    return decode_json(response, secrets, lenient=True)


def _read_text(response: Response, secrets: Secrets) -> str:
    return _text_of(response.body, response.headers.get("Content-Type"))


def _read_bytes(response: Response, secrets: Secrets) -> bytes:
    return response.body


def _read_response(response: Response, secrets: Secrets) -> EndpointResponse:
    headers = Headers(response.headers.items())
    return EndpointResponse(response.status, response.reason, headers, response.body, secrets)


#: ``returns=`` choice -> (the reader, the annotation of what the call returns).
RETURNS: Mapping[str, tuple[Reader[Any], str]] = {
    "json": (Reader("json", _read_json), "Any"),
    "text": (Reader("text", _read_text), "str"),
    "bytes": (Reader("bytes", _read_bytes), "bytes"),
    "response": (Reader("response", _read_response), "EndpointResponse"),
}


# --- the request ---------------------------------------------------------------------------

_CONTROL = lazy(r"[\x00-\x1f\x7f]|%(?:[01][0-9A-Fa-f]|7[Ff])")
_SCHEME = lazy(r"[A-Za-z][A-Za-z0-9+.-]*:")
_BAD_ESCAPE = lazy(r"%(?![0-9A-Fa-f]{2})")
_ENCODED_SLASH = lazy("%2f", re.IGNORECASE)
_ENCODED_DOT = lazy("%2e", re.IGNORECASE)


def request_path(path: object) -> str:
    """The percent-encoded path of ``path`` under the env URL, or
    :class:`InvalidArgumentError` (``invalid_request_path``) saying why it is refused.

    Trimmed, and a leading ``/`` added if missing. Refused: a scheme (``https:``,
    ``javascript:``...), ``//host``, any backslash (``\\``, ``%5c``), control characters
    (raw or escaped), ``?`` and ``#`` (the query goes in ``params``), a ``%`` that starts no
    ``%XX`` escape, and ``..`` segments that climb above the env URL's own path. The path
    is checked as sent and as a server that decodes ``%2f`` and ``%2e`` sees it.
    """
    if not isinstance(path, str):
        raise InvalidArgumentTypeError(
            _PATH_CODE, f"path must be a string, not {type(path).__name__}"
        )
    text = _text("path", path).strip()
    if _CONTROL.search(text):
        _refuse("must not contain control characters (raw or %-escaped)")
    if "?" in text or "#" in text:
        _refuse("must not contain ? or #: give the query as params=")
    if "\\" in text or "%5c" in text.lower():
        _refuse("must not contain a backslash (\\ or %5c)")
    if _SCHEME.match(text):
        _refuse("must be a path under the env URL, not a URL with a scheme")
    if _BAD_ESCAPE.search(text):
        _refuse("has a % that is not a %XX escape (write %25)")
    if not text.startswith("/"):
        text = "/" + text
    # What a server that decodes %2f and %2e before routing would see.
    decoded = _ENCODED_DOT.sub(".", _ENCODED_SLASH.sub("/", text))
    if decoded.startswith("//"):
        _refuse("must not start with // (a host)")
    depth = 0
    for segment in decoded.split("/"):
        if segment == "..":
            depth -= 1
            if depth < 0:
                _refuse("must not climb above the env URL with .. segments")
        elif segment not in ("", "."):
            depth += 1
    return urls.encode_path(text)


def _refuse(why: str) -> NoReturn:
    raise InvalidArgumentError(_PATH_CODE, f"path {why}")


def encode_params(params: object) -> tuple[tuple[str, str], ...]:
    """The query pairs of ``params`` as text, before percent-encoding (protocol.md §8).

    A string as it is; ``None`` empty; ``True``/``False`` ``true``/``false``; a number its
    ``str``; a mapping, list or tuple its compact JSON. Anything else is refused.
    """
    if params is None:
        return ()
    if isinstance(params, Mapping):
        pairs: Iterable[Any] = params.items()
    elif isinstance(params, list | tuple):
        pairs = params
    else:
        raise InvalidArgumentTypeError(
            "invalid_params", "params must be a mapping or a sequence of (key, value) pairs"
        )
    encoded = []
    for pair in pairs:
        if not (isinstance(pair, tuple | list) and len(pair) == 2):
            raise InvalidArgumentTypeError(
                "invalid_params", "params must be a mapping or a sequence of (key, value) pairs"
            )
        key, value = pair
        if not isinstance(key, str):
            raise InvalidArgumentTypeError("invalid_params", "a params key must be a string")
        encoded.append((_text("a params key", key), _param_value(value)))
    return tuple(encoded)


def _param_value(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return _text("a params value", value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        try:
            return str(value)
        except ValueError:  # past the interpreter's digit limit
            raise InvalidArgumentError("invalid_params", "a params integer is too long") from None
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidArgumentError("invalid_params", "a params number must be finite")
        return str(value)
    if isinstance(value, Mapping | list | tuple):
        return _json(value).decode()
    raise InvalidArgumentTypeError(
        "invalid_params",
        "a params value must be a string, number, bool, None, mapping or list,"
        f" not {type(value).__name__}",
    )


#: RFC 9110 token characters: what a header name is made of.
_HEADER_NAME = lazy(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
#: Printable ASCII, inner spaces and tabs; no white space at either end.
_HEADER_VALUE = lazy(r"(?:[\x21-\x7e](?:[\x20-\x7e\t]*[\x21-\x7e])?)?")
#: Headers a call may not set: the protocol's own (§2), and the framing and hop headers
#: the HTTP library writes (``User-Agent`` names the SDK; the server derives the session's
#: ``userAgent`` from it). Content-Type is the protocol's only when a JSON body is sent.
_PROTECTED = frozenset(
    {
        "x-client",
        "x-client-key",
        "authorization",
        "session",
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "cookie",
        "user-agent",
    }
)


def request_headers(headers: object, *, json_body: bool) -> tuple[tuple[str, str], ...]:
    """A call's own headers, checked: names are tokens, values printable ASCII, no name
    twice (in any case), and none of the protocol's or the HTTP library's own headers
    (``protected_header``: a call never silently replaces them)."""
    if headers is None:
        return ()
    if not isinstance(headers, Mapping):
        raise InvalidArgumentTypeError(_HEADER_CODE, "headers must be a mapping of str to str")
    checked: dict[str, tuple[str, str]] = {}
    for name, value in headers.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise InvalidArgumentTypeError(_HEADER_CODE, "headers must be a mapping of str to str")
        if not _HEADER_NAME.fullmatch(name):
            raise InvalidArgumentError(
                _HEADER_CODE, "a header name must be ASCII letters, digits or !#$%&'*+.^_`|~-"
            )
        key = name.lower()
        if key in _PROTECTED or (json_body and key == "content-type"):
            raise InvalidArgumentError(
                _PROTECTED_CODE, f"the {name} header is agnost's own; a call cannot set it"
            )
        if key in checked:
            raise InvalidArgumentError(_HEADER_CODE, f"the {name} header is given twice")
        if not _HEADER_VALUE.fullmatch(value):
            # The value is not shown: it may be a credential.
            raise InvalidArgumentError(
                _HEADER_CODE,
                f"the value of the {name} header must be printable ASCII, without line"
                " breaks or white space at either end",
            )
        checked[key] = (name, value)
    return tuple(checked.values())


def _max_response_bytes(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InvalidArgumentTypeError(
            "invalid_max_response_bytes", "max_response_bytes must be a positive int or None"
        )
    return value


def call(
    method: str,
    path: str,
    *,
    json: object = UNSET,
    params: Params = None,
    headers: HeaderMap = None,
    returns: str = "json",
    max_response_bytes: int | None = None,
) -> tuple[Reader[Any], Endpoint]:
    """Check a call's arguments; return how its answer is read and what to send.

    Every argument is checked before anything is sent; a refusal is an
    :class:`InvalidArgumentError` or :class:`InvalidArgumentTypeError` naming the problem.
    """
    verb = method.upper() if isinstance(method, str) else method
    if verb not in _METHODS:
        raise InvalidArgumentError(
            "invalid_method", f"method must be one of {', '.join(_METHODS)}"
        )
    if not isinstance(returns, str) or returns not in RETURNS:
        raise InvalidArgumentError(
            "invalid_returns", f"returns must be one of {', '.join(map(repr, RETURNS))}"
        )
    body = None if json is UNSET else _json(json)
    endpoint = Endpoint(
        verb,
        request_path(path),
        encode_params(params),
        body,
        headers=request_headers(headers, json_body=body is not None),
        max_response_bytes=_max_response_bytes(max_response_bytes),
    )
    return RETURNS[returns][0], endpoint


# --- the table codegen renders -------------------------------------------------------------


_ENDPOINTMETHOD_FIELDS = ("name", "http_method", "body", "doc", "js_name")


class EndpointMethod:
    """One method of ``client.endpoint``: its name, HTTP method (``None``: the caller's),
    whether it takes a JSON body (``"positional"`` after the path, ``"keyword"``, or
    ``None``), its docstring, and the official client's name for it (``None``: none).
    Read-only."""

    # A plain slotted class, not attrs (attrs compiles each class's methods at import).
    __slots__ = ("body", "doc", "http_method", "js_name", "name")

    name: str
    http_method: str | None
    body: str | None
    doc: str
    js_name: str | None

    def __init__(
        self,
        name: str,
        http_method: str | None,
        body: str | None,
        doc: str,
        js_name: str | None = None,
    ) -> None:
        _set = object.__setattr__
        for field, value in zip(
            _ENDPOINTMETHOD_FIELDS, (name, http_method, body, doc, js_name), strict=True
        ):
            _set(self, field, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"EndpointMethod is read-only: cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"EndpointMethod is read-only: cannot delete {name!r}")

    def __repr__(self) -> str:
        return f"EndpointMethod(name={self.name!r}, http_method={self.http_method!r})"


_RETURNS_DOC = """

        ``params`` is the query (a mapping, or ``(key, value)`` pairs), each value
        percent-encoded as the official client does: a mapping or list JSON-encoded, ``None``
        empty. ``headers`` are added to agnost's own (one naming a protocol header is
        refused). ``returns`` is ``"json"`` (the decoded body; ``None`` when the body is empty
        or not JSON), ``"text"``, ``"bytes"`` or ``"response"`` (an
        :class:`agnost.EndpointResponse` with status and headers). ``max_response_bytes``
        replaces the client's cap on the answer's size for this call.

        The session token is sent as for the auth calls. ``path`` is relative to the env URL;
        one that could leave it (a scheme, ``//host``, a backslash, ``..`` above the env URL,
        their %-escaped forms, ``?`` or ``#``) is refused before sending. A non-2xx answer
        raises the :class:`agnost.APIError` its code calls for (a refused session is
        invalidated, as for the auth calls); a redirect raises :class:`agnost.RedirectError`."""

_BODY_DOC = """

        ``json`` is the JSON body; left out, no body is sent (``json=None`` sends ``null``)."""

METHODS: tuple[EndpointMethod, ...] = (
    EndpointMethod(
        "get",
        "GET",
        None,
        "GET ``path`` of the app's own endpoints." + _RETURNS_DOC,
        "endpoint.get",
    ),
    EndpointMethod(
        "post",
        "POST",
        "positional",
        "POST to ``path`` of the app's own endpoints." + _BODY_DOC + _RETURNS_DOC,
        "endpoint.post",
    ),
    EndpointMethod(
        "put",
        "PUT",
        "positional",
        "PUT to ``path`` of the app's own endpoints." + _BODY_DOC + _RETURNS_DOC,
        "endpoint.put",
    ),
    EndpointMethod(
        "patch",
        "PATCH",
        "positional",
        "PATCH ``path`` of the app's own endpoints." + _BODY_DOC + _RETURNS_DOC,
    ),
    EndpointMethod(
        "delete",
        "DELETE",
        "keyword",
        "DELETE ``path`` of the app's own endpoints." + _BODY_DOC + _RETURNS_DOC,
        "endpoint.delete",
    ),
    EndpointMethod(
        "request",
        None,
        "keyword",
        "Send ``method`` (GET, POST, PUT, PATCH or DELETE) to ``path`` of the app's"
        " endpoints." + _BODY_DOC + _RETURNS_DOC,
    ),
)
