"""The emulator's settings: what an Agnost app's settings page would hold, plus the hash cost.

Settings live in memory for the life of the process (the command line or the in-process
runner sets them at start); ``GET``/``PATCH /_emulator/config`` read and change them while the
emulator runs. They are not stored in the database, so a restart starts from the options given
(the one exception: a generated development client key is kept in a file database, so that
clients configured with it keep working after a restart).
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Mapping
from typing import Any

import attrs

from .origins import normalise_origin

__all__ = [
    "ConfigError",
    "DEFAULT_ACCESS_TOKEN_LIFETIME",
    "DEFAULT_HASH_COST",
    "DEFAULT_SESSION_LIFETIME",
    "EmulatorConfig",
    "MAX_HASH_COST",
    "MIN_HASH_COST",
    "new_client_key",
]

#: One year, the lifetime of the official client's session cookie.
DEFAULT_SESSION_LIFETIME = 365 * 24 * 3600.0
#: One hour for verification links and OAuth redirects.
DEFAULT_ACCESS_TOKEN_LIFETIME = 3600.0
#: log2 of scrypt's N: 2**14 with r=8 is the interactive-login figure from the scrypt paper.
DEFAULT_HASH_COST = 14
MIN_HASH_COST = 1
#: 2**20 * 128 * 8 bytes is 1 GiB of memory per hash; beyond that OpenSSL refuses anyway.
MAX_HASH_COST = 20


def new_client_key() -> str:
    """Return a fresh development client key (random, URL-safe)."""
    return "dev-" + secrets.token_hex(16)


class ConfigError(ValueError):
    """A setting has an unusable value; ``field`` names it by its wire name."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = message


def _check_lifetime(field: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(field, "must be a number of seconds")
    if value < 0:
        raise ConfigError(field, "must not be negative")
    return float(value)


def _check_hash_cost(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError("hashCost", "must be an integer")
    if not MIN_HASH_COST <= value <= MAX_HASH_COST:
        raise ConfigError("hashCost", f"must be between {MIN_HASH_COST} and {MAX_HASH_COST}")
    return value


def _check_redirect_url(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        raise ConfigError("redirectUrl", "must be an http:// or https:// URL")
    return value


def _check_client_keys(value: object) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not value:
        raise ConfigError("clientKeys", "must be a non-empty list of strings")
    if not all(isinstance(key, str) and key.strip() for key in value):
        raise ConfigError("clientKeys", "every key must be a non-blank string")
    return tuple(value)


def _check_cors_origins(value: object) -> tuple[str, ...]:
    if not isinstance(value, list | tuple):
        raise ConfigError("corsOrigins", "must be a list of origins such as http://app.test:3000")
    normal = [normalise_origin(item) if isinstance(item, str) else None for item in value]
    for item, checked in zip(value, normal, strict=True):
        if checked is None:
            raise ConfigError(
                "corsOrigins", f"{item!r} is not an origin such as http://app.test:3000"
            )
    return tuple(item for item in normal if item is not None)


def _check_bool(field: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(field, "must be true or false")
    return value


@attrs.define
class EmulatorConfig:
    """The emulator's settings.

    ``session_lifetime`` is applied when a session is used, not when it is made, so lowering
    it (to 0, say) expires existing sessions at once: handy for testing expiry without waiting.
    ``hash_cost`` is log2 of scrypt's N; each stored hash records its own cost, so changing it
    never locks anyone out. ``redirect_url`` is where verification links and the fake OAuth
    provider send the browser; ``None`` means the emulator's own ``/_emulator/redirect`` page.
    ``cors_origins`` are the browser origins, beyond this machine's loopback ones
    (``http://localhost:3000``, ``http://127.0.0.1:5173``), whose pages may call the API.
    """

    client_keys: tuple[str, ...] = attrs.field(factory=lambda: (new_client_key(),))
    email_confirmation: bool = False
    session_lifetime: float = DEFAULT_SESSION_LIFETIME
    access_token_lifetime: float = DEFAULT_ACCESS_TOKEN_LIFETIME
    hash_cost: int = DEFAULT_HASH_COST
    redirect_url: str | None = None
    cors_origins: tuple[str, ...] = ()

    def __attrs_post_init__(self) -> None:
        # Constructed in Python, the same rules as over HTTP, so a bad option fails at start.
        self.update(self.to_wire())

    def to_wire(self) -> dict[str, Any]:
        """Return the settings as ``GET /_emulator/config`` shows them (camelCase keys)."""
        return {
            "clientKeys": list(self.client_keys),
            "emailConfirmation": self.email_confirmation,
            "sessionLifetime": self.session_lifetime,
            "accessTokenLifetime": self.access_token_lifetime,
            "hashCost": self.hash_cost,
            "redirectUrl": self.redirect_url,
            "corsOrigins": list(self.cors_origins),
        }

    def update(self, changes: Mapping[str, object]) -> None:
        """Apply a partial update given in wire names; all or nothing.

        Raises :class:`ConfigError` naming the first bad or unknown key; then nothing changed.
        """
        checked: dict[str, Any] = {}
        for key, value in changes.items():
            if key == "clientKeys":
                checked["client_keys"] = _check_client_keys(value)
            elif key == "emailConfirmation":
                checked["email_confirmation"] = _check_bool(key, value)
            elif key == "sessionLifetime":
                checked["session_lifetime"] = _check_lifetime(key, value)
            elif key == "accessTokenLifetime":
                checked["access_token_lifetime"] = _check_lifetime(key, value)
            elif key == "hashCost":
                checked["hash_cost"] = _check_hash_cost(value)
            elif key == "redirectUrl":
                checked["redirect_url"] = _check_redirect_url(value)
            elif key == "corsOrigins":
                checked["cors_origins"] = _check_cors_origins(value)
            else:
                raise ConfigError(key, "is not a setting")
        for name, value in checked.items():
            setattr(self, name, value)
