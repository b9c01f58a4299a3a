"""Secrets: password hashes, session and access tokens, and what is stored in their place.

Passwords are hashed with scrypt (``hashlib.scrypt``) under a random salt, and each stored
hash records its own cost, so the configured cost can change without locking anyone out.
Tokens are 256 random bits; the database keeps only their SHA-256, so a copy of the database
file signs nobody in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

__all__ = [
    "dummy_check",
    "hash_password",
    "new_object_id",
    "new_token",
    "stored_cost",
    "token_digest",
    "verify_password",
]

_SCRYPT_R = 8
_SCRYPT_P = 1
_KEY_LENGTH = 32
_SALT_LENGTH = 16


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _utf8(text: str) -> bytes:
    # "surrogatepass": text from a header or body may hold lone surrogates (aiohttp decodes
    # non-UTF-8 header bytes with surrogateescape); they hash like any other character
    # instead of raising.
    return text.encode("utf-8", "surrogatepass")


def _scrypt(password: str, salt: bytes, cost: int) -> bytes:
    n = 2**cost
    return hashlib.scrypt(
        _utf8(password),
        salt=salt,
        n=n,
        r=_SCRYPT_R,
        p=_SCRYPT_P,
        dklen=_KEY_LENGTH,
        # OpenSSL's default 32 MiB cap is below what the top costs need.
        maxmem=128 * _SCRYPT_R * (n + _SCRYPT_P + 2),
    )


def hash_password(password: str, cost: int) -> str:
    """Return ``scrypt$<cost>$<r>$<p>$<salt>$<key>`` for storage; slow on purpose.

    ``cost`` is log2 of scrypt's N. Call it off the event loop: at the default cost it takes
    tens of milliseconds of CPU.
    """
    salt = secrets.token_bytes(_SALT_LENGTH)
    key = _scrypt(password, salt, cost)
    return f"scrypt${cost}${_SCRYPT_R}${_SCRYPT_P}${_b64(salt)}${_b64(key)}"


def stored_cost(stored: str) -> int | None:
    """The cost a stored hash was made with, or None if it is not one of ours."""
    scheme, _, rest = stored.partition("$")
    cost_text = rest.partition("$")[0]
    ok = scheme == "scrypt" and cost_text.isascii() and cost_text.isdigit()
    return int(cost_text) if ok else None


def verify_password(password: str, stored: str) -> bool:
    """Tell whether ``password`` matches the ``stored`` hash, comparing in constant time.

    The check costs what the hash's own cost says; a failed sign-in pads that out (see
    :func:`dummy_check`), so that its time does not tell which accounts exist.
    """
    scheme, cost_text, r_text, p_text, salt_text, key_text = stored.split("$")
    if scheme != "scrypt" or (int(r_text), int(p_text)) != (_SCRYPT_R, _SCRYPT_P):
        raise ValueError("unknown password hash format")
    actual = _scrypt(password, base64.b64decode(salt_text), int(cost_text))
    return hmac.compare_digest(actual, base64.b64decode(key_text))


def dummy_check(password: str, cost: int) -> None:
    """Do the work of checking ``password`` against a hash made at ``cost``, for a sign-in
    that has no such hash to check (an unknown account, one without a password, one whose
    hash is cheaper than the costliest stored one)."""
    _scrypt(password, b"\0" * _SALT_LENGTH, cost)


def new_token() -> str:
    """Return a new session or access token: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """Return what the database stores for ``token``: its SHA-256, in hex.

    A plain hash is enough here (unlike for passwords): the token already has 256 bits of
    entropy, so there is nothing to guess.
    """
    return hashlib.sha256(_utf8(token)).hexdigest()


def new_object_id() -> str:
    """Return a new user id: 24 hex digits, the shape of the ids Agnost servers hand out."""
    return secrets.token_hex(12)
