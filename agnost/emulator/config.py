"""The emulator's settings: what an Agnost app's settings page would hold, plus the hash cost.

Settings live in memory for the life of the process (the command line or the in-process
runner sets them at start); ``GET``/``PATCH /_emulator/config`` read and change them while the
emulator runs. They are not stored in the database, so a restart starts from the options given
(the one exception: a generated development client key is kept in a file database, so that
clients configured with it keep working after a restart).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypedDict

import attrs

from .origins import normalise_host, normalise_origin, redirect_url_problem

__all__ = [
    "ConfigError",
    "DEFAULT_ACCESS_TOKEN_LIFETIME",
    "DEFAULT_CODE_LENGTH",
    "DEFAULT_CODE_LIFETIME",
    "DEFAULT_MAX_CODE_ATTEMPTS",
    "DEFAULT_HASH_COST",
    "DEFAULT_SESSION_LIFETIME",
    "EmulatorConfig",
    "EmulatorSettings",
    "MAX_HASH_COST",
    "MIN_HASH_COST",
    "RANGES",
    "new_client_key",
]

#: One year, the lifetime of the official client's session cookie.
DEFAULT_SESSION_LIFETIME = 365 * 24 * 3600.0
#: One hour for verification links and OAuth redirects.
DEFAULT_ACCESS_TOKEN_LIFETIME = 3600.0
#: log2 of scrypt's N: 2**14 with r=8 is the interactive-login figure from the scrypt paper.
DEFAULT_HASH_COST = 14
MIN_HASH_COST = 1
#: scrypt needs 128 * r * N bytes: at 2**16 with r=8 that is 64 MiB per hash, the most one
#: request may make the emulator allocate (an unauthenticated PATCH can set it).
MAX_HASH_COST = 16
#: One-time SMS codes: digits, 6 of them by default, valid for 10 minutes, 5 tries each.
DEFAULT_CODE_LENGTH = 6
MIN_CODE_LENGTH = 4
MAX_CODE_LENGTH = 10
DEFAULT_CODE_LIFETIME = 600.0
DEFAULT_MAX_CODE_ATTEMPTS = 5

_YEAR = 365 * 24 * 3600.0

#: The range of every numeric setting, by wire name: (least, most). Each bounds what one
#: request (or one client) can make the emulator hold: memory, time, rows or connections.
RANGES: dict[str, tuple[float, float]] = {
    "sessionLifetime": (0, 10 * _YEAR),
    "accessTokenLifetime": (0, _YEAR),
    "hashCost": (MIN_HASH_COST, MAX_HASH_COST),
    "headerTimeout": (0.05, 3600),
    "bodyTimeout": (0.05, 3600),
    "idleTimeout": (0.05, 3600),
    "maxConnections": (1, 10_000),
    "maxSessionsPerUser": (1, 10_000),
    "maxOutboxMessages": (1, 100_000),
    "codeLength": (MIN_CODE_LENGTH, MAX_CODE_LENGTH),
    "codeLifetime": (0, 24 * 3600),
    "maxCodeAttempts": (1, 100),
}
#: Bounds on the lists and strings among the settings.
MAX_LIST_ITEMS = 100
MAX_TEXT_LENGTH = 2048


def new_client_key() -> str:
    """Return a fresh development client key (random, URL-safe)."""
    return "dev-" + secrets.token_hex(16)


class ConfigError(ValueError):
    """A setting has an unusable value; ``field`` names it by its wire name."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = message


def _check_number(field: str, value: object, *, integer: bool = False) -> float:
    least, most = RANGES[field]
    kind = "an integer" if integer else "a number"
    # An int is compared as it is: a huge one cannot become a float.
    usable = isinstance(value, int) or (isinstance(value, float) and not integer)
    if isinstance(value, bool) or not usable or not least <= value <= most:  # type: ignore[operator]
        raise ConfigError(field, f"must be {kind} from {_shown(least)} to {_shown(most)}")
    return value  # type: ignore[return-value]


def _shown(bound: float) -> str:
    return str(int(bound)) if bound == int(bound) else str(bound)


def _check_text(field: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT_LENGTH:
        raise ConfigError(
            field, f"must be a non-blank string of at most {MAX_TEXT_LENGTH} characters"
        )
    return value


def _check_list(field: str, value: object, what: str) -> list[object]:
    if not isinstance(value, list | tuple) or len(value) > MAX_LIST_ITEMS:
        raise ConfigError(field, f"must be a list of at most {MAX_LIST_ITEMS} {what}")
    return list(value)


def _check_redirect_url(value: object) -> str | None:
    if value is None:
        return None
    text = _check_text("redirectUrl", value)
    problem = redirect_url_problem(text)
    if problem is not None:
        raise ConfigError("redirectUrl", problem)
    return text


def _check_client_keys(value: object) -> tuple[str, ...]:
    keys = _check_list("clientKeys", value, "keys")
    if not keys:
        raise ConfigError("clientKeys", "must be a non-empty list of strings")
    return tuple(_check_text("clientKeys", key) for key in keys)


def _check_enforced_keys(value: object) -> tuple[str, ...]:
    keys = _check_list("enforceSessionKeys", value, "client keys")
    return tuple(_check_text("enforceSessionKeys", key) for key in keys)


def _check_cors_origins(value: object) -> tuple[str, ...]:
    items = _check_list("corsOrigins", value, "origins such as http://app.test:3000")
    normal = [normalise_origin(item) if isinstance(item, str) else None for item in items]
    for item, checked in zip(items, normal, strict=True):
        if checked is None:
            raise ConfigError(
                "corsOrigins", f"{item!r} is not an origin such as http://app.test:3000"
            )
    return tuple(item for item in normal if item is not None)


def _check_allowed_hosts(value: object) -> tuple[str, ...]:
    items = _check_list("allowedHosts", value, "host names such as emulator.lan")
    normal = [normalise_host(item) if isinstance(item, str) else None for item in items]
    for item, checked in zip(items, normal, strict=True):
        if checked is None:
            raise ConfigError(
                "allowedHosts",
                f"{item!r} is not a host name such as emulator.lan (or .lan for a domain)",
            )
    return tuple(item for item in normal if item is not None)


def _check_bool(field: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(field, "must be true or false")
    return value


def _number(field: str) -> Callable[[object], float]:
    return lambda value: float(_check_number(field, value))


def _integer(field: str) -> Callable[[object], int]:
    return lambda value: int(_check_number(field, value, integer=True))


@attrs.define
class EmulatorConfig:
    """The emulator's settings; every one is bounded (see :data:`RANGES`).

    ``session_lifetime`` is applied when a session is used, not when it is made, so lowering
    it (to 0, say) expires existing sessions at once: handy for testing expiry without waiting.
    Expired sessions are deleted: when their user signs in, and by a sweep every minute.
    ``hash_cost`` is log2 of scrypt's N; each stored hash records its own cost, so changing it
    never locks anyone out. ``redirect_url`` is where verification links and the fake OAuth
    provider send the browser; ``None`` means the emulator's own ``/_emulator/redirect`` page.
    ``cors_origins`` are the browser origins, beyond this machine's loopback ones
    (``http://localhost:3000``, ``http://127.0.0.1:5173``), whose pages may call the API.
    ``allowed_hosts`` are the ``Host`` names, beyond loopback names and IP addresses, under
    which ``/_emulator/*`` answers and links may point at the emulator (``emulator.lan``, or
    ``.lan`` for a domain and its subdomains).

    Connections: ``header_timeout`` is how long a request's head may take once it has begun,
    ``body_timeout`` how long its body may take, ``idle_timeout`` how long a connection may
    wait for a (complete) request head; past one, the connection is closed (a body that is
    too slow gets a 408 first). Past ``max_connections`` open connections, a new one gets a
    503 and is closed while the others carry on. ``max_sessions_per_user``: opening one more
    signs out the user's oldest. ``max_outbox_messages``: the outbox keeps the newest ones.

    Session enforcement, the Designer's setting of a client library key: ``enforce_session``
    turns it on for every key, ``enforce_session_keys`` for the keys listed (each must be one
    of ``client_keys``). With it on, an app endpoint (any path but the auth API, ``/_auth``
    and ``/_emulator``) called with that key and without a valid session gets a 401; the auth
    endpoints never need one.
    """

    client_keys: tuple[str, ...] = attrs.field(factory=lambda: (new_client_key(),))
    email_confirmation: bool = False
    session_lifetime: float = DEFAULT_SESSION_LIFETIME
    access_token_lifetime: float = DEFAULT_ACCESS_TOKEN_LIFETIME
    hash_cost: int = DEFAULT_HASH_COST
    redirect_url: str | None = None
    cors_origins: tuple[str, ...] = ()
    allowed_hosts: tuple[str, ...] = ()
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    idle_timeout: float = 60.0
    #: Below the usual 1024 open files a process may have, with room for everything else.
    max_connections: int = 512
    max_sessions_per_user: int = 100
    max_outbox_messages: int = 1000
    enforce_session: bool = False
    enforce_session_keys: tuple[str, ...] = ()
    phone_confirmation: bool = False
    sign_in_on_phone_verification: bool = True
    code_length: int = DEFAULT_CODE_LENGTH
    code_lifetime: float = DEFAULT_CODE_LIFETIME
    max_code_attempts: int = DEFAULT_MAX_CODE_ATTEMPTS

    def __attrs_post_init__(self) -> None:
        # Constructed in Python, the same rules as over HTTP, so a bad option fails at start.
        self.update(self.to_wire())

    def to_wire(self) -> dict[str, Any]:
        """Return the settings as ``GET /_emulator/config`` shows them (camelCase keys)."""
        wire = {key: getattr(self, name) for key, (name, _) in _SETTINGS.items()}
        return {key: list(v) if isinstance(v, tuple) else v for key, v in wire.items()}

    def update(self, changes: Mapping[str, object]) -> None:
        """Apply a partial update given in wire names; all or nothing.

        Raises :class:`ConfigError` naming the first bad or unknown key; then nothing changed.
        """
        checked: dict[str, Any] = {}
        for key, value in changes.items():
            if key not in _SETTINGS:
                raise ConfigError(key, "is not a setting")
            name, check = _SETTINGS[key]
            checked[name] = check(value)
        keys = checked.get("client_keys", self.client_keys)
        stray = [
            k
            for k in checked.get("enforce_session_keys", self.enforce_session_keys)
            if k not in keys
        ]
        if stray:
            field = "enforceSessionKeys" if "enforce_session_keys" in checked else "clientKeys"
            raise ConfigError(
                field,
                "every key in enforceSessionKeys must be one of clientKeys"
                " (change both in one update)",
            )
        for name, value in checked.items():
            setattr(self, name, value)

    def apply(self, settings: Mapping[str, object], caller: str = "configure") -> None:
        """Apply a partial update given by Python names (``email_confirmation``), as
        :class:`EmulatorSettings` types them; all or nothing.

        An unknown name is a TypeError, as an unexpected keyword argument is (a wire name
        says which Python name to use); a bad value a :class:`ConfigError` naming the
        setting by its Python name.
        """
        changes: dict[str, object] = {}
        for name, value in settings.items():
            key = _WIRE_NAMES.get(name)
            if key is None:
                known = _SETTINGS.get(name)
                hint = f" (settings are snake_case here: {known[0]})" if known else ""
                raise TypeError(f"{caller}() got an unexpected keyword argument {name!r}{hint}")
            changes[key] = value
        try:
            self.update(changes)
        except ConfigError as exc:
            raise ConfigError(_SETTINGS[exc.field][0], exc.reason) from None

    def enforces_session(self, client_key: str | None) -> bool:
        """Whether app endpoints called with ``client_key`` need a valid session."""
        return self.enforce_session or client_key in self.enforce_session_keys


#: Wire name -> (attribute, checker returning the value to keep).
_SETTINGS: dict[str, tuple[str, Callable[[object], Any]]] = {
    "clientKeys": ("client_keys", _check_client_keys),
    "emailConfirmation": ("email_confirmation", lambda v: _check_bool("emailConfirmation", v)),
    "sessionLifetime": ("session_lifetime", _number("sessionLifetime")),
    "accessTokenLifetime": ("access_token_lifetime", _number("accessTokenLifetime")),
    "hashCost": ("hash_cost", _integer("hashCost")),
    "redirectUrl": ("redirect_url", _check_redirect_url),
    "corsOrigins": ("cors_origins", _check_cors_origins),
    "allowedHosts": ("allowed_hosts", _check_allowed_hosts),
    "headerTimeout": ("header_timeout", _number("headerTimeout")),
    "bodyTimeout": ("body_timeout", _number("bodyTimeout")),
    "idleTimeout": ("idle_timeout", _number("idleTimeout")),
    "maxConnections": ("max_connections", _integer("maxConnections")),
    "maxSessionsPerUser": ("max_sessions_per_user", _integer("maxSessionsPerUser")),
    "maxOutboxMessages": ("max_outbox_messages", _integer("maxOutboxMessages")),
    "enforceSession": ("enforce_session", lambda v: _check_bool("enforceSession", v)),
    "enforceSessionKeys": ("enforce_session_keys", _check_enforced_keys),
    "phoneConfirmation": ("phone_confirmation", lambda v: _check_bool("phoneConfirmation", v)),
    "signInOnPhoneVerification": (
        "sign_in_on_phone_verification",
        lambda v: _check_bool("signInOnPhoneVerification", v),
    ),
    "codeLength": ("code_length", _integer("codeLength")),
    "codeLifetime": ("code_lifetime", _number("codeLifetime")),
    "maxCodeAttempts": ("max_code_attempts", _integer("maxCodeAttempts")),
}

#: Attribute (Python name) -> wire name.
_WIRE_NAMES = {name: key for key, (name, _) in _SETTINGS.items()}


class EmulatorSettings(TypedDict, total=False):
    """The settings by their Python names, as ``Emulator(...)`` and ``Emulator.configure(...)``
    take them (``PATCH /_emulator/config`` takes the same in camelCase: ``emailConfirmation``).
    See :class:`EmulatorConfig` for what each means and :data:`RANGES` for the bounds."""

    client_keys: Sequence[str]
    email_confirmation: bool
    session_lifetime: float
    access_token_lifetime: float
    hash_cost: int
    redirect_url: str | None
    cors_origins: Sequence[str]
    allowed_hosts: Sequence[str]
    header_timeout: float
    body_timeout: float
    idle_timeout: float
    max_connections: int
    max_sessions_per_user: int
    max_outbox_messages: int
    enforce_session: bool
    enforce_session_keys: Sequence[str]
    phone_confirmation: bool
    sign_in_on_phone_verification: bool
    code_length: int
    code_lifetime: float
    max_code_attempts: int
