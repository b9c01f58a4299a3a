"""The objects the auth API returns: users, sessions and what sign-in hands back.

All are frozen, slotted attrs classes. Wire names (``userId``, ``_id``) become snake_case
attributes; timestamps become timezone-aware datetimes; keys the server sends that this
release does not know (custom fields of the user model, say) are kept in ``extra`` and sent
back unchanged by :func:`agnost.to_wire`. Session tokens never appear in a ``repr``.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from .errors import InvalidArgumentError, InvalidArgumentTypeError

__all__ = [
    "AuthGrant",
    "Device",
    "OperatingSystem",
    "Session",
    "SignUpResult",
    "User",
    "UserAgent",
]


def _wire(name: str) -> Any:
    """Field metadata naming a wire key that is not the camelCase of the attribute."""
    return {"wire": name}


class _Checked:
    """Checks each field of a model built by hand, so that a wrong one is refused at once,
    with the field's name, rather than when it is sent or stored.

    Sessions, users and user agents structured from answers skip it: the converter has
    checked the same.
    """

    __slots__ = ()

    def __attrs_post_init__(self) -> None:
        cls = type(self)
        checks = _CHECKS.get(cls) or _CHECKS.setdefault(cls, _checks(cls))
        for name, kinds, optional in checks:
            value = getattr(self, name)
            if value is None and optional:
                continue
            if not isinstance(value, kinds) or (
                kinds is tuple and not all(isinstance(key, str) for key in value)
            ):
                wanted = _WANTED.get(kinds, kinds.__name__)
                raise InvalidArgumentTypeError(
                    "invalid_argument",
                    f"{cls.__name__}.{name} must be {wanted}{' or None' if optional else ''},"
                    f" not {type(value).__name__}",
                )
            if isinstance(value, datetime) and value.utcoffset() is None:
                raise InvalidArgumentError(
                    "invalid_argument",
                    f"{cls.__name__}.{name} is a naive datetime: give it a time zone"
                    " (agnost timestamps are timezone-aware)",
                )


_WANTED = {
    str: "a str",
    bool: "a bool",
    datetime: "a datetime",
    tuple: "a tuple of str",
    Mapping: "a mapping",
}


_CHECKS: dict[type, tuple[tuple[str, Any, bool], ...]] = {}


def _checks(cls: type) -> tuple[tuple[str, Any, bool], ...]:
    """``(name, classes, optional)`` per field: ``tuple`` stands for ``tuple[str, ...]``."""
    checks = []
    for field in attrs.fields(attrs.resolve_types(cls)):
        kind, optional = field.type, False
        if isinstance(kind, types.UnionType) and type(None) in kind.__args__:
            optional = True
            kind = next(arg for arg in kind.__args__ if arg is not type(None))
        checks.append((field.name, getattr(kind, "__origin__", kind), optional))
    return tuple(checks)


# Never made itself: its fields are its subclasses' first ones, and each subclass gets its
# own methods, so attrs is spared compiling methods nothing calls (issue 12).
@attrs.frozen(init=False, repr=False, eq=False)
class _Versioned(_Checked):
    """A name and a version, the way the server splits a User-Agent: ``Chrome 99.0.4844``."""

    family: str | None = None
    major: str | None = None
    minor: str | None = None
    patch: str | None = None
    extra: Mapping[str, Any] = attrs.field(factory=dict, repr=False)


@attrs.frozen
class Device(_Versioned):
    """The device part of a session's user agent."""


@attrs.frozen
class OperatingSystem(_Versioned):
    """The operating-system part of a session's user agent."""


@attrs.frozen
class UserAgent(_Versioned):
    """The browser or client a session was created from, as the server parsed its User-Agent."""

    device: Device | None = None
    os: OperatingSystem | None = None


@attrs.frozen
class Session(_Checked):
    """A signed-in session. ``token`` is a bearer credential and is hidden from ``repr``."""

    user_id: str
    token: str = attrs.field(repr=False)
    creation_dtm: datetime | None = None
    user_agent: UserAgent | None = None
    access_group_keys: tuple[str, ...] = ()
    extra: Mapping[str, Any] = attrs.field(factory=dict, repr=False)


@attrs.frozen
class User(_Checked):
    """A user as the auth API returns it; the password never appears.

    Fields of the app's own user model are in ``extra`` under their wire names.
    """

    id: str = attrs.field(metadata=_wire("_id"))
    provider: str | None = None
    provider_user_id: str | None = None
    email: str | None = None
    phone: str | None = None
    name: str | None = None
    profile_picture: str | None = None
    email_verified: bool | None = None
    phone_verified: bool | None = None
    sign_up_at: datetime | None = None
    last_login_at: datetime | None = None
    extra: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class AuthGrant(_Checked):
    """What a sign-in or an access-token grant returns: the user and their new session."""

    user: User
    session: Session


@attrs.frozen
class SignUpResult(_Checked):
    """What a sign-up returns: the new user, and a session unless email or phone
    confirmation is required first (then ``session`` is ``None``)."""

    user: User
    session: Session | None
