"""The one cattrs converter between wire JSON and the models, configured once.

Rules: a field's wire name is its camelCase (or the ``wire`` name in its metadata, as for
``User.id`` <- ``_id``); keys the model does not know go to ``extra`` and come back out
unchanged; timestamps are ISO 8601 on the wire and aware datetimes in Python; structuring is
strict (a number where a string belongs is an error, not ``str(number)``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.gen import make_dict_unstructure_fn, override

from .errors import InvalidArgumentError
from .models import Device, OperatingSystem, Session, User, UserAgent

__all__ = ["converter", "from_wire", "to_wire"]

T = TypeVar("T")

# The key under which the generated structure functions receive the unknown keys.
_EXTRA_KEY = "\x00extra"
_CAMEL = re.compile(r"_([a-z])")


def _wire_name(field: attrs.Attribute[Any]) -> str:
    wire = field.metadata.get("wire")
    return wire if isinstance(wire, str) else _CAMEL.sub(lambda m: m.group(1).upper(), field.name)


def _strict(kind: type[T]) -> Callable[[Any, type[T]], T]:
    def structure(value: Any, _: type[T]) -> T:
        if not isinstance(value, kind):
            raise TypeError(f"expected {kind.__name__}, got {type(value).__name__}")
        return value

    return structure


# RFC 3339, the timestamps the server sends; checked here so that what parses does not
# depend on the Python version (3.11's fromisoformat also takes ISO week dates and more).
_RFC3339 = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})[Tt ](?P<time>\d{2}:\d{2}:\d{2})(?:\.(?P<fraction>\d+))?"
    r"(?P<zone>[Zz]|[+-]\d{2}:\d{2})"
)


def _structure_datetime(value: Any, _: type[datetime]) -> datetime:
    if not isinstance(value, str):
        raise TypeError(f"expected an RFC 3339 timestamp, got {type(value).__name__}")
    match = _RFC3339.fullmatch(value)
    if match is None:
        raise ValueError("not an RFC 3339 timestamp with a time zone")
    fraction = (match["fraction"] or "")[:6].ljust(6, "0")  # microseconds, as Python keeps
    zone = "+00:00" if match["zone"] in ("Z", "z") else match["zone"]
    return datetime.fromisoformat(f"{match['date']}T{match['time']}.{fraction}{zone}")


def _unstructure_datetime(value: datetime) -> str:
    if value.utcoffset() is None:
        raise InvalidArgumentError(
            "invalid_argument", "a naive datetime: agnost timestamps must be timezone-aware"
        )
    # The server's form: UTC, milliseconds, "Z"; microseconds only when there are some.
    utc = value.astimezone(timezone.utc)
    micro = utc.microsecond
    fraction = f"{micro // 1000:03d}" if micro % 1000 == 0 else f"{micro:06d}"
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{fraction}Z"


def _structure_tuple_of_str(value: Any, _: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise TypeError("expected a list of strings")
    return tuple(value)


def _register_model(conv: cattrs.Converter, cls: type[Any]) -> None:
    """Register the hooks of a model that keeps its unknown keys in ``extra``."""
    fields = [f for f in attrs.fields(cls) if f.name != "extra"]
    renames = {f.name: override(rename=_wire_name(f)) for f in fields}
    # Empty tuples are data on the wire (`"accessGroupKeys": []`), so only Nones are omitted.
    unstructure_fn = make_dict_unstructure_fn(
        cls,
        conv,
        extra=override(omit=True),
        **renames,  # type: ignore[arg-type]
    )

    def unstructure(obj: Any) -> dict[str, Any]:
        wire = {k: v for k, v in unstructure_fn(obj).items() if v is not None}
        wire.update(obj.extra)
        return wire

    conv.register_structure_hook(cls, _fast_structure_fn(conv, cls))
    conv.register_unstructure_hook(cls, unstructure)


def _fast_structure_fn(conv: cattrs.Converter, cls: type[Any]) -> Callable[[Any, Any], Any]:
    """A structure function written for ``cls``, like the ones cattrs generates, but lean.

    Sessions are structured on every ``get_all_sessions``, so this is the SDK's hot path:
    one generated function per model, strict checks inline for plain strings and booleans,
    no per-field dispatch, and the unknown keys collected only when there are any.
    """
    lines = [
        "def structure(data, _):",
        "    if not isinstance(data, Mapping):",
        f"        raise TypeError('expected a JSON object for {cls.__name__}')",
    ]
    names: dict[str, Any] = {"Mapping": Mapping, "cls": cls, "NOTHING": attrs.NOTHING}
    arguments = []
    known = []
    fields = attrs.fields(attrs.resolve_types(cls))
    for field in fields:
        if field.name == "extra":
            arguments.append("extra")  # positional, in the class's field order
            continue
        wire, var = _wire_name(field), f"v_{field.name}"
        known.append(wire)
        arguments.append(var)
        optional = _optional_of(field.type)
        kind = optional if optional is not None else field.type
        if kind in (str, bool):
            # Checked inline: plain strings and booleans are most of every model.
            names[f"t_{field.name}"] = kind
            null_ok = f"{var} is not None and " if optional is not None else ""
            convert = [
                f"if {null_ok}{var}.__class__ is not t_{field.name}:",
                f"    raise TypeError('{wire}: expected {kind.__name__}, got '"
                f" + type({var}).__name__)",
            ]
        else:
            # Nested models, timestamps and key lists: a cattrs-style hook (value, type).
            names[f"h_{field.name}"] = conv.get_structure_hook(kind)
            names[f"k_{field.name}"] = kind
            call = f"{var} = h_{field.name}({var}, k_{field.name})"
            convert = [f"if {var} is not None:", f"    {call}"] if optional is not None else [call]
        if field.default is attrs.NOTHING:
            lines.append(f"    {var} = data[{wire!r}]")
            lines += [f"    {line}" for line in convert]
            continue
        # A missing key takes the default (a fresh one for a factory); a present one is
        # checked and converted like any other.
        default = field.default
        if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
            names[f"f_{field.name}"] = default.factory
            fallback = f"f_{field.name}()"
        else:
            names[f"d_{field.name}"] = default
            fallback = f"d_{field.name}"
        lines += [
            f"    {var} = data.get({wire!r}, NOTHING)",
            f"    if {var} is NOTHING:",
            f"        {var} = {fallback}",
            "    else:",
            *(f"        {line}" for line in convert),
        ]
    names["known"] = frozenset(known)
    names["new"] = object.__new__
    names["set"] = object.__setattr__
    lines += [
        "    extra = {} if known.issuperset(data) else "
        "{k: v for k, v in data.items() if k not in known}",
        # Built without __init__: its checks of a hand-made model repeat the ones above.
        "    obj = new(cls)",
        *(f"    set(obj, {f.name!r}, {a})" for f, a in zip(fields, arguments, strict=True)),
        "    return obj",
    ]
    exec("\n".join(lines), names)
    return names["structure"]  # type: ignore[no-any-return]


def _optional_of(kind: Any) -> Any:
    """``X`` for ``X | None``, else ``None``."""
    args = getattr(kind, "__args__", ())
    if (
        type(None) in args
        and len(args) == 2
        and type(kind).__name__ in ("UnionType", "_UnionGenericAlias")
    ):
        return next(a for a in args if a is not type(None))
    return None


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter()
    conv.register_structure_hook(str, _strict(str))
    conv.register_structure_hook(bool, _strict(bool))
    conv.register_structure_hook(datetime, _structure_datetime)
    conv.register_unstructure_hook(datetime, _unstructure_datetime)
    # Generic aliases are not classes, so these two are dispatched by predicate.
    conv.register_structure_hook_func(lambda t: t == tuple[str, ...], _structure_tuple_of_str)
    conv.register_unstructure_hook_func(lambda t: t == tuple[str, ...], list)
    conv.register_structure_hook_func(lambda t: t == Mapping[str, Any], _strict(dict))
    # Nested models first: a model's structure function looks up its fields' hooks.
    for cls in (Device, OperatingSystem, UserAgent, Session, User):
        _register_model(conv, cls)
    # AuthGrant and SignUpResult are envelopes: their field names are their wire names, and
    # a null session stays null.
    return conv


#: The converter agnost uses for every model; extend it with ``register_*_hook`` at your risk.
converter = _make_converter()


def from_wire(cls: type[T], data: Any) -> T:
    """Build a model (``User``, ``Session``, ...) from its wire JSON.

    Raises ``ValueError`` when ``data`` does not have the model's shape (a missing or
    mistyped field); the message names the problem, never the values.
    """
    try:
        return converter.structure(data, cls)
    except (KeyError, TypeError, ValueError, cattrs.BaseValidationError) as exc:
        problem = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
        raise ValueError(f"not the wire form of a {cls.__name__}: {problem}") from None


def to_wire(obj: Any) -> dict[str, Any]:
    """Return a model as wire JSON: camelCase keys, ISO timestamps, custom fields included.

    The form is the server's canonical one: known fields that are ``None`` are left out,
    timestamps are UTC with a ``Z``, milliseconds (microseconds when there are some). So
    ``to_wire(from_wire(x)) == x`` for what Agnost servers send; stores keep the server's
    own JSON, untouched, in any case.
    """
    result = converter.unstructure(obj)
    if not isinstance(result, dict):
        raise TypeError(f"{type(obj).__name__} is not an agnost model")
    return result
