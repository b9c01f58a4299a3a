"""Between wire JSON and the models: agnost's own structure functions, and one cattrs
converter, configured once, made on first use (``to_wire``, the envelopes ``AuthGrant`` and
``SignUpResult``, ``converter`` itself), so that importing agnost does not import cattrs.

Rules: a field's wire name is its camelCase (or the ``wire`` name in its metadata, as for
``User.id`` <- ``_id``); keys the model does not know go to ``extra`` and come back out
unchanged; timestamps are ISO 8601 on the wire and aware datetimes in Python; structuring is
strict (a number where a string belongs is an error, not ``str(number)``).
"""

from __future__ import annotations

import gc
import re
import threading
import types
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from .errors import InvalidArgumentError
from .lazyre import lazy
from .models import Device, OperatingSystem, Session, User, UserAgent

if TYPE_CHECKING:
    import cattrs

    #: The cattrs converter agnost uses for every model (made on first use, by
    #: ``__getattr__``); extend it with ``register_*_hook`` at your risk.
    converter: cattrs.Converter

__all__ = ["from_wire", "sessions_from_json", "to_wire"]

T = TypeVar("T")

# The key under which the generated structure functions receive the unknown keys.
_EXTRA_KEY = "\x00extra"


def _camel(name: str) -> str:
    """``name`` with each ``_x`` (``x`` an ASCII lowercase letter) turned into ``X``: what
    ``re.sub(r"_([a-z])", ...)`` does, without compiling a pattern at import."""
    head, *rest = name.split("_")
    return head + "".join(
        part[0].upper() + part[1:] if "a" <= part[:1] <= "z" else "_" + part for part in rest
    )


def _wire_name(field: attrs.Attribute[Any]) -> str:
    wire = field.metadata.get("wire")
    return wire if isinstance(wire, str) else _camel(field.name)


def _strict(kind: type[T]) -> Callable[[Any, type[T]], T]:
    def structure(value: Any, _: type[T]) -> T:
        if not isinstance(value, kind):
            raise TypeError(f"expected {kind.__name__}, got {type(value).__name__}")
        return value

    return structure


# RFC 3339, the timestamps the server sends; checked here so that what parses does not
# depend on the Python version (3.11's fromisoformat also takes ISO week dates and more).
_RFC3339 = lazy(
    r"(?P<date>\d{4}-\d{2}-\d{2})[Tt ](?P<time>\d{2}:\d{2}:\d{2})(?:\.(?P<fraction>\d+))?"
    r"(?P<zone>[Zz]|[+-]\d{2}:\d{2})"
)


#: The exact form Agnost servers send (UTC, milliseconds, ``Z``): parsed without the general
#: pattern's groups. Anything else takes the general path, which is as strict.
_SERVER_FORM = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", re.ASCII)
_from_iso = datetime.fromisoformat


def _structure_datetime(value: Any, _: type[datetime]) -> datetime:
    if value.__class__ is str and _SERVER_FORM.fullmatch(value) is not None:
        try:
            return _from_iso(value[:23] + "+00:00")
        except ValueError:
            raise ValueError("not a valid date and time") from None
    if not isinstance(value, str):
        raise TypeError(f"expected an RFC 3339 timestamp, got {type(value).__name__}")
    match = _RFC3339.fullmatch(value)
    if match is None:
        raise ValueError("not an RFC 3339 timestamp with a time zone")
    fraction = (match["fraction"] or "")[:6].ljust(6, "0")  # microseconds, as Python keeps
    zone = "+00:00" if match["zone"] in ("Z", "z") else match["zone"]
    try:
        return _from_iso(f"{match['date']}T{match['time']}.{fraction}{zone}")
    except ValueError:
        # Python's message quotes the value: the error names the problem only.
        raise ValueError("not a valid date and time") from None


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
    """Register the hooks of a model that keeps its unknown keys in ``extra``: agnost's own
    structure function, and an unstructure function that cattrs generates."""
    from cattrs.gen import make_dict_unstructure_fn, override

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

    conv.register_structure_hook(cls, _HOOKS[cls])
    conv.register_unstructure_hook(cls, unstructure)


def _fast_structure_fn(conv: Any, cls: type[Any]) -> Callable[[Any, Any], Any]:
    """A structure function written for ``cls``, like the ones cattrs generates, but lean.

    The source is :func:`_structure_source`'s. For agnost's own models, ``codegen`` has
    compiled it ahead of time (:mod:`agnost._core._structure`, a factory per model taking
    the names the source uses): that one is used when its source is exactly this one;
    otherwise (a model changed since ``python -m codegen`` ran, or another class) the
    source is compiled here. Compiling the five at import cost about a millisecond.
    """
    source, names = _structure_source(conv, cls)
    made = _precompiled(cls, source, names)
    if made is not None:
        return made
    exec(source, names)
    return names["structure"]  # type: ignore[no-any-return]


def _precompiled(
    cls: type[Any], source: str, names: dict[str, Any]
) -> Callable[[Any, Any], Any] | None:
    try:
        from . import _structure
    except Exception:  # missing or broken (codegen rewrites it): compile as without it
        return None

    found: Any = _structure.FACTORIES.get(cls.__qualname__)
    if found is None or found[0] != source or found[1] != tuple(sorted(names)):
        return None
    return found[2](**names)  # type: ignore[no-any-return]


def _structure_source(conv: Any, cls: type[Any]) -> tuple[str, dict[str, Any]]:
    """The source of :func:`_fast_structure_fn`'s function for ``cls`` (it defines
    ``structure``), and the names it uses besides the builtins.

    Sessions are structured on every ``get_all_sessions``, so this is the SDK's hot path:
    one generated function per model, strict checks inline for plain strings and booleans,
    no per-field dispatch, and the unknown keys collected only when there are any.
    ``conv`` gives the structure functions of the fields' other types
    (``get_structure_hook``): a cattrs converter, or agnost's own table.
    """
    lines = [
        "def structure(data, _):",
        "    if data.__class__ is not dict and not isinstance(data, Mapping):",
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
            call = [f"{var} = h_{field.name}({var}, k_{field.name})"]
            if kind is datetime:
                # The server's own form inline; anything else (a refusal too) by the hook.
                names["server_form"] = _SERVER_FORM.fullmatch
                names["from_iso"] = _from_iso
                call = [
                    f"if {var}.__class__ is str and server_form({var}) is not None:",
                    "    try:",
                    f"        {var} = from_iso({var}[:23] + '+00:00')",
                    "    except ValueError:",
                    f"        {call[0]}",
                    "else:",
                    f"    {call[0]}",
                ]
            elif kind == tuple[str, ...]:
                # No keys at all, the usual case, inline.
                call = [
                    f"if {var}.__class__ is list and not {var}:",
                    f"    {var} = ()",
                    "else:",
                    f"    {call[0]}",
                ]
            convert = (
                [f"if {var} is not None:", *(f"    {line}" for line in call)]
                if optional is not None
                else call
            )
        if field.default is None and optional is not None:
            # Missing or null: None either way.
            lines.append(f"    {var} = data.get({wire!r})")
            lines += [f"    {line}" for line in convert]
            continue
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
    setters = []
    for field, argument in zip(fields, arguments, strict=True):
        # A slot's own descriptor stores the value without the name lookup (and the frozen
        # class's refusal) of object.__setattr__.
        slot = getattr(cls, field.name, None)
        if isinstance(slot, types.MemberDescriptorType):
            names[f"s_{field.name}"] = slot.__set__
            setters.append(f"    s_{field.name}(obj, {argument})")
        else:
            names["set"] = object.__setattr__
            setters.append(f"    set(obj, {field.name!r}, {argument})")
    lines += [
        "    extra = {} if known.issuperset(data) else "
        "{k: v for k, v in data.items() if k not in known}",
        # Built without __init__: its checks of a hand-made model repeat the ones above.
        "    obj = new(cls)",
        *setters,
        "    return obj",
    ]

    return "\n".join(lines), names


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


class _SharedEmpty(dict):  # type: ignore[type-arg]
    """The ``extra`` of a user agent shared between sessions: empty, and it stays so (a
    dict for everything that reads it; a copy or a pickle of it is a plain empty dict)."""

    __slots__ = ()

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("this user agent is shared between sessions: its extra cannot change")

    __setitem__ = __delitem__ = __ior__ = _refuse
    update = setdefault = pop = popitem = clear = _refuse

    def __reduce__(self) -> Any:
        return (dict, ())

    def __copy__(self) -> dict[str, Any]:
        return {}

    def __deepcopy__(self, memo: Any) -> dict[str, Any]:
        return {}


#: The ``extra`` of a shared model: nothing, and nothing can be added to it.
_NO_EXTRA: Mapping[str, Any] = _SharedEmpty()
#: The most user agents kept for sharing (the cache is emptied when it is full).
_SHARED_USER_AGENTS = 512


def _slot_setter(cls: type[Any], name: str) -> Callable[[Any, Any], None]:
    slot = getattr(cls, name, None)
    if isinstance(slot, types.MemberDescriptorType):
        return slot.__set__
    return lambda obj, value: object.__setattr__(obj, name, value)


class _OffShape(Exception):
    """The answer is not in the server's usual shape: the general path structures it."""


def _server_sessions(
    strict: Callable[[Any, Any], Session],
    structure_agent: Callable[[Any, Any], UserAgent],
    *,
    share: bool,
) -> Callable[[Any, Any], Any]:
    """The structure function of sessions: a fast path for the exact shape Agnost servers
    send, ``strict`` (the general function) for anything else.

    The fast path takes a JSON object with exactly the five keys of a session (``userId``,
    ``token``, ``creationDtm`` in the server's own timestamp form, an empty
    ``accessGroupKeys``, and a ``userAgent`` that is null or has exactly its six keys, its
    ``device`` and ``os`` exactly their four). Everything else, and every value whose check
    is not plain, goes to ``strict``, which also names any problem. What the fast path
    builds equals what ``strict`` builds (tests/core/test_fast_structuring.py holds that).

    ``share``: the sessions of one user mostly come from the same few browsers, so a user
    agent (three models, most of a session's cost) is built once for equal wire forms and
    shared, as a frozen value whose ``extra`` is an immutable empty dict. The key is the
    twelve values of the fixed shape; only models built and checked by ``strict`` are
    shared. Equal values are the same values only for what ``json.loads`` makes (a ``str``
    subclass equals a ``str``, and ``strict`` refuses it): sharing is for decoded answers
    (:func:`sessions_from_json`), not for :func:`from_wire`, which takes any data.
    """
    new = object.__new__
    set_user_id = _slot_setter(Session, "user_id")
    set_token = _slot_setter(Session, "token")
    set_creation_dtm = _slot_setter(Session, "creation_dtm")
    set_user_agent = _slot_setter(Session, "user_agent")
    set_groups = _slot_setter(Session, "access_group_keys")
    set_extra = _slot_setter(Session, "extra")
    set_agent_extra = _slot_setter(UserAgent, "extra")
    server_form = _SERVER_FORM.fullmatch
    from_iso = _from_iso
    shared: dict[tuple[Any, ...], UserAgent] = {}

    def user_agent(agent: Any) -> UserAgent:
        if not share:
            return structure_agent(agent, UserAgent)
        if agent.__class__ is not dict or len(agent) != 6:
            raise _OffShape
        device, os = agent["device"], agent["os"]
        if device.__class__ is not dict or os.__class__ is not dict:
            raise _OffShape
        if len(device) != 4 or len(os) != 4:
            raise _OffShape
        key = (
            agent["family"],
            agent["major"],
            agent["minor"],
            agent["patch"],
            device["family"],
            device["major"],
            device["minor"],
            device["patch"],
            os["family"],
            os["major"],
            os["minor"],
            os["patch"],
        )
        found = shared.get(key)  # TypeError for an unhashable value: off the shape
        if found is not None:
            return found
        built = structure_agent(agent, UserAgent)
        for part in (built, built.device, built.os):
            set_agent_extra(part, _NO_EXTRA)  # exactly the known keys: nothing extra
        if len(shared) >= _SHARED_USER_AGENTS:
            shared.clear()
        shared[key] = built
        return built

    def structure_session(data: Any, kind: Any) -> Any:
        try:
            if data.__class__ is not dict or len(data) != 5:
                raise _OffShape
            user_id, token = data["userId"], data["token"]
            created, agent = data["creationDtm"], data["userAgent"]
            if user_id.__class__ is not str or token.__class__ is not str:
                raise _OffShape
            groups = data["accessGroupKeys"]
            if groups.__class__ is not list or groups:
                raise _OffShape
            if created.__class__ is not str or server_form(created) is None:
                raise _OffShape
            created = from_iso(created[:23] + "+00:00")
            if agent is not None:
                agent = user_agent(agent)
        except (_OffShape, KeyError, TypeError, ValueError):
            return strict(data, kind)
        session = new(Session)
        set_user_id(session, user_id)
        set_token(session, token)
        set_creation_dtm(session, created)
        set_user_agent(session, agent)
        set_groups(session, ())
        set_extra(session, {})
        return session

    return structure_session


#: The models whose wire forms agnost structures with its own functions.
_MODELS = (Device, OperatingSystem, UserAgent, Session, User)
#: Each model's general structure function, strict about every field (the fast path of
#: sessions hands it whatever is not in the server's usual shape).
_STRICT: dict[Any, Callable[[Any, Any], Any]] = {}


class _OwnHooks:
    """The structure functions of the models' field types, without cattrs: what
    :func:`_fast_structure_fn` asks a converter for."""

    def __init__(self) -> None:
        self.hooks: dict[Any, Callable[[Any, Any], Any]] = {
            str: _strict(str),
            bool: _strict(bool),
            datetime: _structure_datetime,
        }

    def get_structure_hook(self, kind: Any) -> Callable[[Any, Any], Any]:
        if kind == tuple[str, ...]:
            return _structure_tuple_of_str
        if kind == Mapping[str, Any]:
            return _strict(dict)
        return self.hooks[kind]


def _own_hooks() -> dict[Any, Callable[[Any, Any], Any]]:
    own = _OwnHooks()
    # Nested models first: a model's structure function looks up its fields' hooks.
    for cls in _MODELS:
        own.hooks[cls] = _STRICT[cls] = _fast_structure_fn(own, cls)
    hooks = dict(_STRICT)
    hooks[Session] = _server_sessions(_STRICT[Session], _STRICT[UserAgent], share=False)
    return hooks


#: The models' own structure functions, called by :func:`from_wire` without a converter.
_HOOKS: dict[Any, Callable[[Any, Any], Any]] = _own_hooks()


def _make_converter() -> cattrs.Converter:
    import cattrs

    conv = cattrs.Converter()
    conv.register_structure_hook(str, _strict(str))
    conv.register_structure_hook(bool, _strict(bool))
    conv.register_structure_hook(datetime, _structure_datetime)
    conv.register_unstructure_hook(datetime, _unstructure_datetime)
    # Generic aliases are not classes, so these two are dispatched by predicate.
    conv.register_structure_hook_func(lambda t: t == tuple[str, ...], _structure_tuple_of_str)
    conv.register_unstructure_hook_func(lambda t: t == tuple[str, ...], list)
    conv.register_structure_hook_func(lambda t: t == Mapping[str, Any], _strict(dict))
    for cls in _MODELS:
        _register_model(conv, cls)
    # AuthGrant and SignUpResult are envelopes: their field names are their wire names, and
    # a null session stays null.
    return conv


_CONVERTER: cattrs.Converter | None = None
_CONVERTER_MADE = threading.Lock()


def _converter() -> cattrs.Converter:
    global _CONVERTER
    if _CONVERTER is None:
        with _CONVERTER_MADE:
            if _CONVERTER is None:
                _CONVERTER = _make_converter()
    return _CONVERTER


def __getattr__(name: str) -> Any:
    #: ``converter``: the cattrs converter agnost uses for every model, made on first use;
    #: extend it with ``register_*_hook`` at your risk.
    if name == "converter":
        return _converter()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _validation_error(exc: Exception) -> bool:
    if _CONVERTER is None:  # cattrs was never used, so this is not its error
        return False
    import cattrs

    return isinstance(exc, cattrs.BaseValidationError)


_FROM_JSON = _server_sessions(_STRICT[Session], _STRICT[UserAgent], share=True)


def sessions_from_json(body: Any) -> list[Session]:
    """The sessions of an answer's body as ``json.loads`` decoded it (plain JSON types only:
    equal user agents among them are built once and shared).

    Raises ``TypeError`` when ``body`` is not a list, ``ValueError`` (as :func:`from_wire`
    does, naming the problem, never a value) when an item is not a session.
    """
    if not isinstance(body, list):
        raise TypeError("expected a JSON array of sessions")
    structure = _FROM_JSON
    # The cyclic collector is paused meanwhile, as for decoding: the models hold no cycles,
    # and a collection every few hundred of them cost a fifth of the time of a long answer.
    collecting = len(body) > 8 and gc.isenabled()
    if collecting:
        gc.disable()
    try:
        return [structure(item, Session) for item in body]
    except (KeyError, TypeError, ValueError) as exc:
        problem = _problem(exc)
    finally:
        if collecting:
            gc.enable()
    # Raised outside the except block: an error raised inside keeps the first one as its
    # __context__ (``from None`` only hides it), whose traceback holds the whole decoded body,
    # which would then be freed, and walked by the collector, wherever the error is dropped:
    # on the event loop, after a worker thread decoded a large answer.
    raise ValueError(f"not the wire form of a Session: {problem}")


def _problem(exc: BaseException) -> str:
    return f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)


def from_wire(cls: type[T], data: Any) -> T:
    """Build a model (``User``, ``Session``, ...) from its wire JSON.

    Raises ``ValueError`` when ``data`` does not have the model's shape (a missing or
    mistyped field); the message names the problem, never the values.
    """
    try:
        hook = _HOOKS.get(cls)
        if hook is not None:
            return hook(data, cls)  # type: ignore[no-any-return]
        return _converter().structure(data, cls)
    except Exception as exc:
        if not isinstance(exc, KeyError | TypeError | ValueError) and not _validation_error(exc):
            raise
        problem = _problem(exc)
    # Outside the except block, so the error keeps no reference to ``data`` (see above).
    raise ValueError(f"not the wire form of a {cls.__name__}: {problem}")


def to_wire(obj: Any) -> dict[str, Any]:
    """Return a model as wire JSON: camelCase keys, ISO timestamps, custom fields included.

    The form is the server's canonical one: known fields that are ``None`` are left out,
    timestamps are UTC with a ``Z``, milliseconds (microseconds when there are some). So
    ``to_wire(from_wire(x)) == x`` for what Agnost servers send; stores keep the server's
    own JSON, untouched, in any case.
    """
    result = _converter().unstructure(obj)
    if not isinstance(result, dict):
        raise TypeError(f"{type(obj).__name__} is not an agnost model")
    return result
