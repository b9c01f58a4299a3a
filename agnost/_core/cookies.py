"""Server-side helpers, sans-IO: the session token of an incoming request, and the
``Set-Cookie`` values that store or expire the session cookie.

The Python form of the official client's ``getUserFromDBbyCookie``, ``setSessionCookie`` and
``removeSessionCookie`` (protocol.md §9), without a framework: they read a headers mapping
and return strings, so they fit aiohttp.web, Flask, Django, Starlette or a raw WSGI app alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

from .errors import InvalidArgumentError, InvalidArgumentTypeError
from .http import SESSION_COOKIE, header_safe
from .lazyre import lazy
from .models import Session

__all__ = [
    "DEFAULT_COOKIE_MAX_AGE",
    "SESSION_COOKIE",
    "SESSION_HEADER",
    "SameSite",
    "expired_session_cookie",
    "session_cookie",
    "session_token_from_cookie_header",
    "session_token_from_headers",
]

#: The request header that carries the session token (protocol.md §2).
SESSION_HEADER = "Session"
#: The cookie's lifetime when none is given: one year, as the official client sets it. The
#: session's own lifetime is the server's to enforce (sessions carry no expiry on the wire);
#: a cookie that outlives its session is refused by the server, and then expired.
DEFAULT_COOKIE_MAX_AGE = 31_536_000

SameSite = Literal["Lax", "Strict", "None"]

#: Headers as frameworks hand them over: a mapping (aiohttp's and werkzeug's are
#: case-insensitive, a dict may not be), or name/value pairs (str, or bytes as in ASGI;
#: tuples or two-item lists).
Headers = (
    Mapping[str, str]
    | Iterable[tuple[str | bytes, str | bytes]]
    | Iterable[list[str] | list[bytes]]
)

# RFC 6265 cookie-octet: printable ASCII except space, DQUOTE, comma, semicolon, backslash.
_COOKIE_VALUE = lazy(r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]+")
# The Path attribute's value: printable ASCII but ";" (RFC 6265 av-octet) and ",": a comma
# would let a path split one Set-Cookie into two where the header is folded (several
# Set-Cookie values joined by ", ", as some proxies and HTTP libraries do).
_PATH_VALUE = lazy(r"[\x20-\x2b\x2d-\x3a\x3c-\x7e]+")
# The Domain attribute's value: a host name (letters, digits, "-", "_", dots).
_DOMAIN_VALUE = lazy(r"[A-Za-z0-9._-]+")
#: The largest ``max_age`` accepted (browsers cap a cookie's life at 400 days anyway).
_MAX_AGE_LIMIT = 2**63 - 1
_SAME_SITE: dict[str, SameSite] = {"lax": "Lax", "strict": "Strict", "none": "None"}


def cookie_safe(value: str) -> bool:
    """Whether ``value`` can be a cookie value as it is (RFC 6265 ``cookie-octet``s)."""
    return _COOKIE_VALUE.fullmatch(value) is not None


def session_token_from_cookie_header(cookie_header: str | bytes | None) -> str | None:
    """The ``session_token`` cookie of a ``Cookie`` header, or ``None``.

    Malformed pairs are skipped, never raised; a quoted value is unquoted; the first valid
    ``session_token`` wins (browsers send the cookie of the most specific path first). A
    value that is not a valid cookie value (or could not travel as a header) counts as
    absent: the next ``session_token`` is looked at, so one Cookie header or the same
    cookies in several (as HTTP/2 may split them) give the same token.
    """
    if cookie_header is None:
        return None
    if isinstance(cookie_header, bytes):
        cookie_header = cookie_header.decode("latin-1")
    if not isinstance(cookie_header, str):
        raise InvalidArgumentTypeError("invalid_headers", "a Cookie header must be a str")
    for pair in cookie_header.split(";"):
        name, sep, value = pair.partition("=")
        if not sep or name.strip(" \t") != SESSION_COOKIE:
            continue
        value = value.strip(" \t")
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        if cookie_safe(value):
            return value
    return None


def session_token_from_headers(headers: Headers) -> str | None:
    """The session token of an incoming request, or ``None`` when it carries none.

    The ``Session`` header first (what agnost clients send), else the ``session_token``
    cookie of its ``Cookie`` header(s) (what a browser sends), as the Agnost server reads
    them. ``headers`` is the request's headers mapping (``request.headers`` in aiohttp.web,
    Flask, Django's ``request.headers``, Starlette) or its name/value pairs (str or bytes,
    as an ASGI scope holds them); names are matched in any ASCII case (a name that only
    lower-cases to one, such as ``Coo\u212aie`` with a Kelvin sign, is another header, as
    it is to the framework). Never raises for what a
    client sent: a malformed cookie, a value with characters a header or cookie cannot
    carry, or two different ``Session`` headers all give ``None``. An empty ``Session``
    header counts as absent (the cookie is read then), as the server takes it.
    """
    pairs = _pairs(headers)
    sessions: list[str] = []
    cookies: list[str] = []
    for name, value in pairs:
        if not name.isascii():
            continue
        lower = name.lower()
        if lower == "session":
            value = value.strip(" \t")
            if value:  # an empty one counts as absent, as the server reads it
                sessions.append(value)
        elif lower == "cookie":
            cookies.append(value)
    if sessions:
        if len(set(sessions)) != 1:
            return None
        token = sessions[0]
        return token if header_safe(token) else None
    for cookie in cookies:
        found = session_token_from_cookie_header(cookie)
        if found is not None:
            return found
    return None


def _pairs(headers: object) -> list[tuple[str, str]]:
    if isinstance(headers, (str, bytes)):
        raise InvalidArgumentTypeError(
            "invalid_headers",
            "headers must be a mapping or name/value pairs (for a Cookie header alone, use"
            " session_token_from_cookie_header)",
        )
    items: Iterable[object]
    if isinstance(headers, Mapping):
        # Multi-dicts (aiohttp, werkzeug) yield every value of a repeated header here.
        items = headers.items()
    elif callable(getattr(headers, "items", None)):
        items = headers.items()  # type: ignore[attr-defined]
    elif isinstance(headers, Iterable):
        items = headers
    else:
        raise InvalidArgumentTypeError(
            "invalid_headers", "headers must be a mapping or name/value pairs"
        )
    pairs: list[tuple[str, str]] = []
    for item in items:
        # Tuples, or the two-item lists the ASGI spec also allows ("[name, value]").
        if not isinstance(item, tuple | list) or len(item) != 2:
            raise InvalidArgumentTypeError(
                "invalid_headers", "headers must be a mapping or name/value pairs"
            )
        name, value = (_text(part) for part in item)
        if name is not None and value is not None:
            pairs.append((name, value))
    return pairs


def _text(part: object) -> str | None:
    if isinstance(part, str):
        return part
    if isinstance(part, bytes):
        return part.decode("latin-1")
    return None  # a value a framework left as None, say: not a header we can read


def session_cookie(
    session: Session | str,
    *,
    max_age: int | None = DEFAULT_COOKIE_MAX_AGE,
    secure: bool = True,
    same_site: SameSite = "Lax",
    path: str = "/",
    domain: str | None = None,
) -> str:
    """The ``Set-Cookie`` value that stores ``session``'s token in the browser
    (``setSessionCookie``): ``session_token=<token>; Max-Age=31536000; Path=/; HttpOnly;
    Secure; SameSite=Lax``.

    ``session`` is a :class:`agnost.Session` (say ``grant.session``) or its token.
    ``max_age`` is the cookie's lifetime in seconds (``None``: a browser-session cookie);
    the server enforces the session's own lifetime. ``HttpOnly`` is always set (page
    scripts never read the token). ``secure=False`` only for plain-HTTP development on
    localhost. ``same_site``: ``"Lax"`` by default, unlike the official client's ``None``:
    the cookie still comes with top-level navigations (a link from an email, the return
    from OAuth) but not with cross-site form posts or subrequests, which shuts out
    cross-site request forgery against your POST handlers; ``"None"`` (needs ``secure``) is
    for a front end on another site, ``"Strict"`` drops the cookie on arriving from links.

    Raises :class:`agnost.InvalidArgumentError` for a token that is not a valid cookie
    value (never quoting it), a bad attribute, or ``SameSite=None`` without ``Secure``.
    """
    if isinstance(session, Session):
        token = session.token
    elif isinstance(session, str):
        token = session
    else:
        raise InvalidArgumentTypeError(
            "invalid_session", "session must be an agnost.Session or its token (a str)"
        )
    if not cookie_safe(token):
        raise InvalidArgumentError(
            "invalid_session",
            "the session token cannot be a cookie value (empty, or characters a cookie"
            " cannot carry)",
        )
    if max_age is not None and (
        isinstance(max_age, bool)
        or not isinstance(max_age, int)
        or not 0 <= max_age <= _MAX_AGE_LIMIT
    ):
        raise InvalidArgumentError(
            "invalid_max_age", "max_age must be an int from 0 to 2**63 - 1, or None"
        )
    lifetime = "" if max_age is None else f"; Max-Age={max_age}"
    return f"{SESSION_COOKIE}={token}{lifetime}{_attributes(secure, same_site, path, domain)}"


def expired_session_cookie(
    *,
    secure: bool = True,
    same_site: SameSite = "Lax",
    path: str = "/",
    domain: str | None = None,
) -> str:
    """The ``Set-Cookie`` value that removes the session cookie (``removeSessionCookie``):
    an empty value, ``Max-Age=0`` and an ``Expires`` in 1970 (for old browsers).

    Give the ``path`` and ``domain`` the cookie was set with: a browser replaces only the
    cookie with the same name, path and domain.
    """
    return (
        f"{SESSION_COOKIE}=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT"
        f"{_attributes(secure, same_site, path, domain)}"
    )


def _attributes(secure: bool, same_site: str, path: str, domain: str | None) -> str:
    if not isinstance(secure, bool):
        raise InvalidArgumentTypeError("invalid_secure", "secure must be a bool")
    chosen = _SAME_SITE.get(same_site.lower()) if isinstance(same_site, str) else None
    if chosen is None:
        raise InvalidArgumentError(
            "invalid_same_site", 'same_site must be "Lax", "Strict" or "None"'
        )
    if chosen == "None" and not secure:
        raise InvalidArgumentError(
            "invalid_same_site", "browsers refuse SameSite=None without Secure"
        )
    if not isinstance(path, str) or not path.startswith("/") or not _PATH_VALUE.fullmatch(path):
        raise InvalidArgumentError(
            "invalid_path",
            "path must start with / and hold no ;, comma or control characters",
        )
    parts = [f"; Path={path}"]
    if domain is not None:
        if not isinstance(domain, str) or not _DOMAIN_VALUE.fullmatch(domain):
            raise InvalidArgumentError(
                "invalid_domain",
                "domain must be a host name (letters, digits, -, _ and dots)",
            )
        parts.append(f"; Domain={domain}")
    parts.append("; HttpOnly")
    if secure:
        parts.append("; Secure")
    parts.append(f"; SameSite={chosen}")
    return "".join(parts)
