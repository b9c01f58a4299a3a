"""Requests and responses as plain data, and the pure steps around them.

No sockets here: :class:`Request` is what a transport must send, :class:`Response` is what it
got back. The client configuration, headers, URL building, body decoding and the mapping of
error answers to exceptions all live here so that both flavours share them.
"""

from __future__ import annotations

import gc
import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import attrs

from .._version import __version__
from . import jsonpieces, urls
from .errors import (
    DECIDING_CODES,
    MAX_ERROR_ITEMS,
    APIError,
    ErrorItem,
    InvalidArgumentError,
    InvalidArgumentTypeError,
    RedirectError,
    ResponseDecodeError,
    api_error,
)
from .lazyre import lazy

__all__ = [
    "CLIENT_NAME",
    "LARGE_ANSWER_BYTES",
    "NO_SECRETS",
    "SESSION_COOKIE",
    "USER_AGENT",
    "ClientConfig",
    "Request",
    "Response",
    "Secrets",
    "Timeout",
    "check_status",
    "decode_json",
    "error_from_response",
    "excerpt",
    "header_safe",
]

#: The ``X-Client`` header value: which SDK is calling.
CLIENT_NAME = "agnost-python"
#: The cookie an Agnost server also accepts the session token from (protocol.md §7); agnost
#: never keeps it, so that a local sign-out also stops authenticating.
SESSION_COOKIE = "session_token"
#: The start of the ``User-Agent`` header; each transport appends its HTTP library.
USER_AGENT = f"{CLIENT_NAME}/{__version__}"

#: Answers larger than this are decoded by the async client in a worker thread, in pieces
#: (:mod:`agnost._core.jsonpieces`), so the event loop gets the GIL between pieces. Smaller
#: ones are settled on the loop: the thread and the pieces cost a few hundred microseconds,
#: more than decoding and structuring a 300-session answer (~200 KB) inline, while the worst
#: body of this size (tiny nested items) holds the loop for about 20-30 ms
#: (tests/benchmarks/bench_hostile_answers.py measures both sides).
LARGE_ANSWER_BYTES = 512 * 1024

_DEFAULT_STATUS_TEXT = "Bad Request"
#: What ``encodeURIComponent`` leaves as it is besides the letters, digits and ``-_.~``
#: that ``quote`` always keeps.
_URI_COMPONENT_SAFE = "!*'()"
_EXCERPT_LIMIT = 200
#: The longest timeout accepted, in seconds.
_MAX_TIMEOUT = 10**6


_HEADER_SAFE = re.compile(r"[\x21-\x7e]+")


def header_safe(value: str) -> bool:
    """Whether ``value`` can be sent as a header value as it is: printable ASCII, no spaces.

    Keys and tokens are checked before they are sent, so a bad one is a client-side error
    rather than an HTTP library's exception that quotes it.
    """
    return _HEADER_SAFE.fullmatch(value) is not None


@attrs.frozen
class Timeout:
    """How long a call may take, in seconds.

    ``connect`` bounds opening the connection; ``total`` bounds the whole exchange, from
    sending the request to the last byte of the answer, in both clients: a server that
    trickles its status line, headers or body, or never reads a large request body, is
    stopped when ``total`` runs out. ``None`` disables a limit; a limit is at most
    1,000,000 seconds (socket timeouts overflow far beyond it).

    The blocking client bounds the waits of its own connections only: over a caller's
    ``requests`` session whose adapter for the env URL is not a plain ``HTTPAdapter`` (a
    subclass, a mock), ``total`` holds as far as that adapter lets it.
    """

    total: float | None = 30.0
    connect: float | None = 10.0

    def __attrs_post_init__(self) -> None:
        for name in ("total", "connect"):
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidArgumentTypeError(
                    "invalid_timeout", f"Timeout.{name} must be a number of seconds or None"
                )
            if not 0 < value <= _MAX_TIMEOUT:  # NaN fails every comparison
                raise InvalidArgumentError(
                    "invalid_timeout",
                    f"Timeout.{name} must be a number of seconds above 0 and at most"
                    f" {_MAX_TIMEOUT} (11.5 days), or None for no limit",
                )


class ClientConfig:
    """What every request of one client shares: where it goes and how it identifies itself.

    Read-only once made (a client and its scopes share one). ``repr`` shows the base URL only.
    """

    # A plain slotted class, not attrs: it is internal, and attrs compiles each class's
    # methods at import (issue 12).
    __slots__ = ("api_key", "base_url", "client_key")

    base_url: str
    client_key: str
    api_key: str | None

    def __init__(self, base_url: str, client_key: str, api_key: str | None = None) -> None:
        _set = object.__setattr__
        _set(self, "base_url", base_url)
        _set(self, "client_key", client_key)
        _set(self, "api_key", api_key)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"ClientConfig is read-only: cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"ClientConfig is read-only: cannot delete {name!r}")

    def __repr__(self) -> str:
        return f"ClientConfig(base_url={self.base_url!r})"

    @classmethod
    def create(cls, env_url: object, client_key: object, api_key: object = None) -> ClientConfig:
        """Validate and normalise the constructor arguments, as the official client does."""
        base = urls.base_url(env_url)
        if not isinstance(client_key, str):
            raise InvalidArgumentTypeError("invalid_client_key", "client_key must be a string")
        if not client_key.strip():
            raise InvalidArgumentError("missing_required_value", "client_key is required")
        if not header_safe(client_key):
            raise InvalidArgumentError(
                "invalid_client_key", "client_key must be printable ASCII without spaces"
            )
        if api_key is not None and not isinstance(api_key, str):
            raise InvalidArgumentTypeError("invalid_api_key", "api_key must be a string or None")
        if api_key and not header_safe(api_key):
            raise InvalidArgumentError(
                "invalid_api_key", "api_key must be printable ASCII without spaces"
            )
        return cls(
            base_url=base,
            client_key=client_key,
            api_key=api_key or None,
        )

    def headers(self, session_token: str | None, *, json_body: bool) -> dict[str, str]:
        """The agnost headers of one request, in the order the official client sends them."""
        headers = {"X-Client": CLIENT_NAME, "X-Client-Key": self.client_key}
        if self.api_key is not None:
            headers["Authorization"] = self.api_key
        if session_token is not None:
            headers["Session"] = session_token
        if json_body:
            headers["Content-Type"] = "application/json"
        return headers

    def url(self, path: str, query: Iterable[tuple[str, str]] = ()) -> str:
        """``base + path + query``, every query key and value percent-encoded as
        JavaScript's ``encodeURIComponent`` does (protocol.md §8)."""
        if not query:  # most calls: nothing to encode
            return f"{self.base_url}{path}"
        encoded = urlencode(list(query), quote_via=quote, safe=_URI_COMPONENT_SAFE)
        return f"{self.base_url}{path}?{encoded}" if encoded else f"{self.base_url}{path}"


class Request:
    """One HTTP request to send. Headers and query are left out of ``repr``: they carry secrets.

    ``max_response_bytes``: this request's cap on the answer's body, in place of the
    transport's own (``None``: the transport's). Made once per call and never changed.
    """

    # Plain slotted classes, not attrs: made on every call, where a hand-written __init__
    # costs a fraction of attrs' frozen one, and attrs compiles each class at import.
    __slots__ = ("body", "headers", "max_response_bytes", "method", "url")

    def __init__(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None = None,
        max_response_bytes: int | None = None,
    ) -> None:
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.max_response_bytes = max_response_bytes

    def __repr__(self) -> str:
        return (
            f"Request(method={self.method!r}, url={self.url.split('?', 1)[0]!r},"
            f" max_response_bytes={self.max_response_bytes!r})"
        )


class Response:
    """What a transport got back: status, reason phrase, headers and the (bounded) body.
    Made once per exchange and never changed; ``repr`` shows neither headers nor body."""

    __slots__ = ("body", "headers", "reason", "status")

    def __init__(self, status: int, reason: str, headers: Mapping[str, str], body: bytes) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body

    def __repr__(self) -> str:
        return f"Response(status={self.status!r}, reason={self.reason!r})"


# Control characters, and runs of white space (newlines, tabs) folded into one space.
_CONTROL = lazy(r"[\s\x00-\x1f\x7f]+")
_TOKEN_FIELD = lazy(
    r'("(?:token|session|sessionToken|access_token|accessToken|key|password)"\s*:\s*")'
    r'(?:[^"\\]|\\.)*'
)
_REDACTED = "[redacted]"
_WORD = lazy(r"\w")
# The length from which a password is distinctive (NIST's minimum for a password).
_DISTINCTIVE = 8


def _present(values: Iterable[str | None]) -> tuple[str, ...]:
    return tuple(filter(None, values))


class Secrets:
    """The secrets of one exchange, which free text shown to people (an error's message, an
    excerpt of a body) never shows. Codes, statuses and data are never redacted.

    Three kinds. ``tokens`` are made by machines (the session token sent, the one a sign-out
    names, an access token, the API key): they are redacted wherever they appear, inside a
    word too (``session_<token>``, ``令牌<token>``), whatever their length. ``passwords``
    are chosen by people, and may be a word of the server's own text ("Invalid email or
    password" for the password ``password``), where a marker would alter that text and tell
    the secret by where it stands: one is redacted only where it stands as a whole token
    (an edge that is a word character touches no other word character, so ``in`` is not
    found in ``invalid``), and only when distinctive: 16 characters or more, or 8 or more
    that are not all ASCII letters. Any other password is shown as the server wrote it.
    ``codes`` are one-time codes sent by SMS (``123456``): short, so redacted whatever their
    length, but only where one stands as a whole token, so that ``123456`` inside a phone
    number (``+1555123456789``) or an id is left alone. Where a form is both a token's and
    a password's or a code's, the token's rule wins.

    Each secret is also found in its JSON-escaped and percent-encoded forms (an excerpt
    shows raw JSON, an echoed URL) and with its white space folded (as an excerpt folds it);
    overlapping secrets are all covered. One regular expression, one pass,
    whatever the number of secrets (the longest first). ``repr`` shows none of them.
    """

    # A plain slotted class, not attrs: one is made on every call, and most calls never
    # look at it, so even the empty values are only dropped on first use.
    __slots__ = ("_compiled", "_given", "_kept")

    def __init__(
        self,
        tokens: Iterable[str | None] = (),
        passwords: Iterable[str | None] = (),
        codes: Iterable[str | None] = (),
    ) -> None:
        self._given = (tokens, passwords, codes)
        self._kept: tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]] | None = None
        # Built on first use: most exchanges succeed and never redact anything.
        self._compiled: tuple[re.Pattern[str] | None, int] | None = None

    def __repr__(self) -> str:
        return "Secrets()"

    def _secrets(self) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
        if self._kept is None:
            tokens, passwords, codes = self._given
            self._kept = (_present(tokens), _present(passwords), _present(codes))
        return self._kept

    @property
    def tokens(self) -> tuple[str, ...]:
        """The machine-made secrets (empty values left out)."""
        return self._secrets()[0]

    @property
    def passwords(self) -> tuple[str, ...]:
        """The passwords (empty values left out)."""
        return self._secrets()[1]

    @property
    def codes(self) -> tuple[str, ...]:
        """The one-time codes (empty values left out)."""
        return self._secrets()[2]

    @property
    def longest(self) -> int:
        """The length of the longest text redacted (0 when none is)."""
        return self._compile()[1]

    def _compile(self) -> tuple[re.Pattern[str] | None, int]:
        if self._compiled is None:
            # form -> whether it is a token's (redacted anywhere, even when a password's too)
            found = {form: True for token in self.tokens for form in _forms(token)}
            whole = [*filter(_distinctive, self.passwords), *self.codes]
            for secret in whole:
                found.update((form, found.get(form, False)) for form in _forms(secret))
            ordered = sorted(found, key=len, reverse=True)
            alternatives = (re.escape(f) if found[f] else _whole_token(f) for f in ordered)
            # Found at every position (a lookahead), so that overlapping secrets are all
            # covered.
            pattern = re.compile(f"(?=({'|'.join(alternatives)}))") if found else None
            self._compiled = (pattern, len(ordered[0]) if ordered else 0)
        assert self._compiled is not None
        return self._compiled

    def redact(self, text: str) -> str:
        """``text`` with every secret replaced by ``[redacted]``."""
        pattern = self._compile()[0]
        if pattern is None:
            return text
        spans: list[list[int]] = []
        for match in pattern.finditer(text):
            start, end = match.start(), match.end(1)
            if spans and start < spans[-1][1]:
                spans[-1][1] = max(spans[-1][1], end)
            else:
                spans.append([start, end])
        pieces: list[str] = []
        done = 0
        for start, end in spans:
            pieces += (text[done:start], _REDACTED)
            done = end
        pieces.append(text[done:])
        return "".join(pieces)

    def shown(self, text: str, limit: int) -> str:
        """``text`` redacted and clipped to ``limit`` characters, in time bounded by
        ``limit`` whatever the length of ``text``: only its start is looked at."""
        return _shown(text, limit, self.redact, self.longest)


def _forms(secret: str) -> set[str]:
    """``secret`` as it may appear in text: as is, folded, JSON-escaped, percent-encoded."""
    forms = {secret, _CONTROL.sub(" ", secret), quote(secret, safe="")}
    forms.update(json.dumps(secret, ensure_ascii=ascii)[1:-1] for ascii in (True, False))
    return forms


def _shown(
    text: str, limit: int, redact: Callable[[str], str], longest: int, *, cut: bool = False
) -> str:
    """Redact, then clip. Only the first ``limit + longest`` characters are looked at; when
    the text went on (or ``cut`` says it did), its last ``longest`` characters are dropped
    too: they may be the start of a secret that the redactor cannot recognise."""
    if len(text) > limit + longest:
        text, cut = text[: limit + longest], True
    text = redact(text)
    if cut:
        return text[: max(len(text) - longest, 0)][: limit - 1] + "…"
    return _clipped(text, limit)


def _clipped(text: str, limit: int = _EXCERPT_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _distinctive(password: str) -> bool:
    # The rule is about common ASCII words: other letters (é, 密) count at 8 already.
    return len(password) >= 2 * _DISTINCTIVE or (
        len(password) >= _DISTINCTIVE and not (password.isascii() and password.isalpha())
    )


def _whole_token(secret: str) -> str:
    before = r"(?<!\w)" if _WORD.match(secret[0]) else ""
    after = r"(?!\w)" if _WORD.match(secret[-1]) else ""
    return before + re.escape(secret) + after


#: No secrets at all.
NO_SECRETS = Secrets()


def excerpt(response: Response, secrets: Secrets = NO_SECRETS) -> str:
    """A short, printable start of the body with known secrets and token fields redacted."""
    # Folded first, so that the clip counts the characters shown; a secret cut by the
    # byte window is dropped with the window's end.
    window = 4 * (_EXCERPT_LIMIT + secrets.longest)
    body = response.body
    text = _CONTROL.sub(" ", body[:window].decode("utf-8", errors="replace"))

    def redact(text: str) -> str:
        return _TOKEN_FIELD.sub(r"\1" + _REDACTED, secrets.redact(text))

    return _shown(text, _EXCERPT_LIMIT, redact, secrets.longest, cut=len(body) > window)


def decode_json(
    response: Response, secrets: Secrets = NO_SECRETS, *, lenient: bool = False
) -> Any:
    """Decode the body as JSON, or raise :class:`ResponseDecodeError` (``NaN`` and
    ``Infinity`` are not JSON, as for JavaScript's ``JSON.parse``).

    ``lenient``: a body that is not JSON (an empty one included) gives ``None`` instead, as
    the official client resolves it for the app's endpoints; one nested too deeply still
    raises.

    Linear in the body. Python's cyclic garbage collector is paused meanwhile: what
    ``json.loads`` builds cannot hold a reference cycle, and collecting while it allocates
    a body of small arrays made decoding 4 MiB take up to five times as long.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        body = response.body
        # What json.loads does with bytes, with one decoder made once (json.loads makes a
        # decoder, and its scanner, on every call that passes an option).
        return jsonpieces.loads(body)  # in pieces inside jsonpieces.run (async)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        too_deep = isinstance(exc, RecursionError)
        if lenient and not too_deep:
            return None
        raise ResponseDecodeError(
            "answer is nested too deeply" if too_deep else "answer is not valid JSON",
            status=response.status,
            excerpt=excerpt(response, secrets),
        ) from None
    finally:
        if collecting:
            gc.enable()


def _not_json(constant: str) -> Any:
    # NaN and Infinity are Python's extension, not JSON: the official client refuses them.
    raise ValueError(f"{constant} is not JSON")


_DECODER = json.JSONDecoder(parse_constant=_not_json)


def check_status(response: Response, secrets: Secrets = NO_SECRETS) -> None:
    """Raise what a non-2xx answer means: a 3xx is never followed (:func:`redirect_error`),
    anything else is the error it carries (:func:`error_from_response`)."""
    status = response.status
    if 300 <= status < 400:
        raise redirect_error(response)
    if not 200 <= status < 300:
        raise error_from_response(response, secrets)


def error_from_response(response: Response, secrets: Secrets = NO_SECRETS) -> APIError:
    """Turn an error answer into the :class:`APIError` subclass its code calls for.

    ``items`` follow the official client: ``errors`` when it is an array, ``[errors]`` when
    it is one object, the body itself when it is a bare array, ``[body]`` otherwise. They
    are kept exactly as sent, at most ``MAX_ERROR_ITEMS`` (100) of them (plus
    the one whose code decides the class); only the error's text is redacted.
    A body that is not JSON raises :class:`ResponseDecodeError` instead.
    """
    body = decode_json(response, secrets)
    raw: Any
    if isinstance(body, Mapping) and "errors" in body:
        errors = body["errors"]
        raw = errors if isinstance(errors, list) else [errors]
    elif isinstance(body, list):
        raw = body
    else:
        raw = [body]
    return api_error(
        response.status,
        response.reason or _DEFAULT_STATUS_TEXT,
        [ErrorItem.from_wire(item) for item in _kept(raw, response.body)],
        item_count=len(raw),
        shown=secrets.shown,
    )


def _kept(raw: list[Any], body: bytes) -> list[Any]:
    """The first :data:`MAX_ERROR_ITEMS` items, and the first later one with a deciding code
    when none of those has one (a session-token code far down still clears the session)."""
    kept = raw[:MAX_ERROR_ITEMS]
    rest = raw[MAX_ERROR_ITEMS:]
    if not rest:
        return kept
    # Without a backslash, a code the body holds is in its bytes as is: a substring search
    # (fast) spares the scan of a million items (slow) unless one of them may decide.
    escaped = b"\\" in body
    for wanted, spelt in zip(DECIDING_CODES, _DECIDING_BYTES, strict=True):
        if any(_code(item) in wanted for item in kept):
            break
        if escaped or any(code in body for code in spelt):
            later = next((item for item in rest if _code(item) in wanted), None)
            if later is not None:
                return [*kept, later]
    return kept


_DECIDING_BYTES = tuple(tuple(code.encode() for code in codes) for codes in DECIDING_CODES)


def _code(item: Any) -> str | None:
    code = item.get("code") if isinstance(item, dict) else None
    return code if isinstance(code, str) else None


def redirect_error(response: Response) -> ResponseDecodeError:
    """A 3xx answer: agnost never follows redirects, so the session never leaves the origin.

    A 304 is no redirect (agnost never sends a conditional request), nor is a 3xx without
    a ``Location``: both are answers agnost cannot use.
    """
    location = response.headers.get("Location") or response.headers.get("location") or ""
    if response.status == 304 or not location:
        what = "304 Not Modified" if response.status == 304 else "redirect without a Location"
        return ResponseDecodeError(f"unexpected {what}", status=response.status, excerpt="")
    parts = urlsplit(_CONTROL.sub(" ", location))
    # Only scheme, host and port are kept: the path or query may carry an access token,
    # the user information a password.
    host = parts.netloc.rpartition("@")[2]
    origin = f"{parts.scheme}://{host}" if host else "the same origin"
    return RedirectError(status=response.status, location_origin=_clipped(origin))
