"""The table of auth operations: for each, a pure request builder and a pure answer parser.

Every public method of ``client.auth`` is generated from :data:`OPERATIONS` by ``codegen``:
its name, parameters and annotations come from the builder's signature, its docstring from
:attr:`Operation.doc`, its return type from :attr:`Operation.returns`.

A builder checks its arguments and returns an :class:`Endpoint`; after the exchange,
:func:`handle` turns the answer into the result and the local change, or raises.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Callable, Mapping
from typing import Any, Generic, Protocol, TypeVar
from urllib.parse import parse_qs, quote, urlsplit

from . import local
from .errors import InvalidArgumentError, InvalidArgumentTypeError, ResponseDecodeError
from .http import Response, Secrets, check_status, decode_json, excerpt
from .lazyre import lazy
from .models import AuthGrant, Session, SignUpResult, User
from .wire import from_wire, sessions_from_json

__all__ = [
    "AUTH_PATH",
    "BY_NAME",
    "OPERATIONS",
    "URL_METHODS",
    "Effect",
    "Endpoint",
    "Handler",
    "Operation",
    "Outcome",
    "handle",
]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

#: Every auth endpoint lives under this path of the environment's base URL.
AUTH_PATH = "/_api/rest/v1/auth"


class Effect(enum.Enum):
    """What a successful call changes locally (protocol.md §3, last column)."""

    NONE = "none"
    ESTABLISH = "establish"  # store the returned user and session, send the new token
    CLEAR = "clear"  # remove the stored session and user, stop sending the token
    SIGN_OUT = "sign_out"  # CLEAR, but only when the signed-out session is our own


class Endpoint:
    """Where a call goes and what it carries; the client adds the base URL and headers.

    ``path`` is percent-encoded already. ``body`` is the JSON body as UTF-8 bytes, or
    ``None`` for no body at all (a POST then sends ``Content-Length: 0`` and no
    ``Content-Type``). ``target_token`` is the session a sign-out names, when it names one.
    ``tokens`` (access tokens), ``passwords`` and ``codes`` (one-time codes sent by SMS)
    are the values no message may show (see :class:`~agnost._core.http.Secrets`); none of
    these appear in the ``repr``. ``headers`` are a call's own headers, sent after the protocol's
    (an app endpoint call's); ``max_response_bytes`` its own cap on the answer's body.

    Made by a builder and never changed afterwards (:meth:`replace` makes a changed copy).
    """

    # A plain slotted class, not attrs: one is made on every call, and attrs compiles each
    # class's methods at import (issue 12).
    __slots__ = (
        "body",
        "codes",
        "headers",
        "max_response_bytes",
        "method",
        "passwords",
        "path",
        "query",
        "target_token",
        "tokens",
    )

    def __init__(
        self,
        method: str,
        path: str,
        query: tuple[tuple[str, str], ...] = (),
        body: bytes | None = None,
        target_token: str | None = None,
        tokens: tuple[str, ...] = (),
        passwords: tuple[str, ...] = (),
        codes: tuple[str, ...] = (),
        headers: tuple[tuple[str, str], ...] = (),
        max_response_bytes: int | None = None,
    ) -> None:
        self.method = method
        self.path = path
        self.query = query
        self.body = body
        self.target_token = target_token
        self.tokens = tokens
        self.passwords = passwords
        self.codes = codes
        self.headers = headers
        self.max_response_bytes = max_response_bytes

    def replace(self, **changes: Any) -> Endpoint:
        """A copy with ``changes`` (keyword arguments of the constructor) applied."""
        fields = {name: getattr(self, name) for name in Endpoint.__slots__}
        fields.update(changes)
        return Endpoint(**fields)

    def __repr__(self) -> str:
        # The query, body, headers and secrets carry tokens, passwords and codes.
        return (
            f"Endpoint(method={self.method!r}, path={self.path!r},"
            f" max_response_bytes={self.max_response_bytes!r})"
        )


class Outcome(Generic[T_co]):
    """A successful call: the value to return and what changes locally (if anything)."""

    __slots__ = ("change", "value")

    def __init__(self, value: T_co, change: local.LocalChange | None) -> None:
        self.value = value
        self.change = change

    def __repr__(self) -> str:
        return f"Outcome(value={self.value!r}, change={self.change!r})"


class Handler(Protocol[T_co]):
    """What a client's send loop needs of a call besides its :class:`Endpoint`: the step
    that turns the answer into an :class:`Outcome` or raises (an :class:`Operation` of
    ``client.auth``, a reader of ``client.endpoint``)."""

    def handle(
        self,
        endpoint: Endpoint,
        response: Response,
        *,
        sent_token: str | None,
        secrets: tuple[str, ...] = (),
    ) -> Outcome[T_co]:
        """The outcome of the exchange, or the error the answer carries."""


_OPERATION_FIELDS = ("name", "js_name", "doc", "returns", "build", "parse", "effect")


class Operation(Generic[T]):
    """One row of the operation table.

    ``build`` has exactly the public method's signature; ``parse`` turns the decoded JSON of
    a 2xx answer into the result (``None`` for operations whose answer is empty). Read-only.
    """

    # A plain slotted class, not attrs (attrs compiles each class's methods at import).
    __slots__ = ("build", "doc", "effect", "js_name", "name", "parse", "returns")

    name: str
    js_name: str
    doc: str
    returns: str
    build: Callable[..., Endpoint]
    parse: Callable[[Any], T] | None
    effect: Effect

    def __init__(
        self,
        name: str,
        js_name: str,
        doc: str,
        returns: str,
        build: Callable[..., Endpoint],
        parse: Callable[[Any], T] | None,
        effect: Effect,
    ) -> None:
        _set = object.__setattr__
        for field, value in zip(
            _OPERATION_FIELDS, (name, js_name, doc, returns, build, parse, effect), strict=True
        ):
            _set(self, field, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Operation is read-only: cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"Operation is read-only: cannot delete {name!r}")

    def __repr__(self) -> str:
        return f"Operation(name={self.name!r}, returns={self.returns!r}, effect={self.effect})"

    def handle(
        self,
        endpoint: Endpoint,
        response: Response,
        *,
        sent_token: str | None,
        secrets: tuple[str, ...] = (),
    ) -> Outcome[T]:
        """:func:`handle` of this operation (what a client's send loop calls)."""
        return handle(self, endpoint, response, sent_token=sent_token, secrets=secrets)


def handle(
    op: Operation[T],
    endpoint: Endpoint,
    response: Response,
    *,
    sent_token: str | None,
    secrets: tuple[str, ...] = (),
) -> Outcome[T]:
    """Turn an answer into the outcome of ``op``, or raise the error it carries.

    2xx: the parsed result. 3xx: never followed, an error. Anything else: the
    :class:`~agnost.APIError` subclass its code calls for, or :class:`ResponseDecodeError`
    when the body cannot be read. ``secrets`` are the client's machine-made secrets (its
    API key): they are redacted from error messages and excerpts wherever they appear, as
    the tokens of the exchange are; the endpoint's passwords and codes by their own rules.
    """
    hidden = Secrets(
        tokens=(sent_token, endpoint.target_token, *endpoint.tokens, *secrets),
        passwords=endpoint.passwords,
        codes=endpoint.codes,
    )
    status = response.status
    check_status(response, hidden)
    if op.parse is None:
        # "Empty" answers: 200 with no body or a body that is not JSON is success.
        return Outcome(value=None, change=_effect(op.effect, endpoint, None, sent_token))  # type: ignore[arg-type]
    body = decode_json(response, hidden)
    try:
        value = op.parse(body)
    except Exception as exc:  # from_wire names the problem (never a value): a wrong shape
        # Neither the error nor its cause may keep the decoded body alive through their
        # tracebacks' frames: it can be millions of objects for the collector to walk.
        del body
        raise ResponseDecodeError(
            f"answer does not have the shape of {op.returns}",
            status=status,
            excerpt=excerpt(response, hidden),
        ) from exc.with_traceback(None)
    change = _effect(op.effect, endpoint, body, sent_token)
    if isinstance(change, local.Store) and change.token is None:
        # A session whose token cannot travel in a header would be stored but never sent.
        raise ResponseDecodeError(
            "the new session's token is not a valid header value", status=status, excerpt=""
        )
    return Outcome(value=value, change=change)


def _effect(
    effect: Effect, endpoint: Endpoint, body: Any, sent_token: str | None
) -> local.LocalChange | None:
    if effect is Effect.ESTABLISH:
        return local.establish(body)
    # Only the session that was signed out is cleared: if a newer one was stored meanwhile
    # (another call, another process), it stays.
    if effect is Effect.CLEAR or (
        effect is Effect.SIGN_OUT and endpoint.target_token in (None, sent_token)
    ):
        return local.Clear(stop_sending=True, if_token=sent_token)
    return None


# --- argument checks -----------------------------------------------------------------------


def _text(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise InvalidArgumentTypeError(
            "invalid_argument", f"{name} must be a string, not {type(value).__name__}"
        )
    if not value.isascii():
        try:
            value.encode()
        except UnicodeEncodeError:  # a lone surrogate: no bytes can carry it
            raise InvalidArgumentError(
                "invalid_argument", f"{name} is not valid Unicode text"
            ) from None
    return value


def _required(name: str, value: object) -> str:
    text = _text(name, value)
    if not text:
        raise InvalidArgumentError("missing_required_value", f"{name} is required")
    return text


def _name_or_user_data(value: object) -> Any:
    if isinstance(value, str | Mapping):
        return value
    raise InvalidArgumentTypeError(
        "invalid_argument", "name_or_user_data must be a string, a mapping or None"
    )


def _json(body: Any) -> bytes:
    """Compact UTF-8 JSON, or a client-side error for what JSON cannot carry."""
    try:
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        return text.encode()
    except TypeError as exc:
        raise InvalidArgumentTypeError(
            "invalid_argument", f"not JSON-serialisable: {exc}"
        ) from None
    except ValueError as exc:  # NaN or infinity: not JSON
        raise InvalidArgumentError("invalid_argument", f"not JSON-serialisable: {exc}") from None
    except RecursionError:
        raise InvalidArgumentError(
            "invalid_argument", "not JSON-serialisable: nested too deeply"
        ) from None
    except UnicodeEncodeError:  # a lone surrogate
        raise InvalidArgumentError(
            "invalid_argument", "a string argument is not valid Unicode text"
        ) from None


def _access_token(value: object, method: str = "get_auth_grant") -> str:
    """A bare access token, or the one in the ``access_token`` of a redirect URL."""
    text = _text("access_token", value).strip() if value is not None else ""
    if "://" in text or text.startswith(("?", "#")) or "access_token=" in text:
        # A redirect URL: the token is in its query (or, for some flows, its fragment).
        parts = urlsplit(text)
        found = parse_qs(parts.query).get("access_token") or parse_qs(parts.fragment).get(
            "access_token"
        )
        text = found[0].strip() if found else ""
    if not text:
        raise InvalidArgumentError(
            "missing_access_token",
            f"{method} needs an access token or a redirect URL carrying access_token",
        )
    return text


# --- builders ------------------------------------------------------------------------------


def _post(path: str, body: Any = None, **query: str) -> Endpoint:
    content = None if body is None else _json(body)
    return Endpoint("POST", AUTH_PATH + path, tuple(query.items()), content)


def _get(path: str, **query: str) -> Endpoint:
    return Endpoint("GET", AUTH_PATH + path, tuple(query.items()))


def _with_password(path: str, key: str, value: object, password: object, **extra: Any) -> Endpoint:
    """A sign-up or sign-in: ``{key: value, "password": password, ...}``."""
    secret = _text("password", password)
    body = {key: _text(key, value), "password": secret, **extra}
    return _post(path, body).replace(passwords=(secret,))


def _user_data(name_or_user_data: object) -> dict[str, Any]:
    if name_or_user_data is None:
        return {}
    return {"nameOrUserData": _name_or_user_data(name_or_user_data)}


def sign_up_with_email(
    email: str, password: str, name_or_user_data: str | Mapping[str, Any] | None = None
) -> Endpoint:
    return _with_password(
        "/signup-email", "email", email, password, **_user_data(name_or_user_data)
    )


def sign_up_with_phone(
    phone: str, password: str, name_or_user_data: str | Mapping[str, Any] | None = None
) -> Endpoint:
    return _with_password(
        "/signup-phone", "phone", phone, password, **_user_data(name_or_user_data)
    )


def sign_in_with_email(email: str, password: str) -> Endpoint:
    return _with_password("/signin-email", "email", email, password)


def sign_in_with_phone(phone: str, password: str) -> Endpoint:
    return _with_password("/signin-phone", "phone", phone, password)


def sign_out(session_token: str | None = None) -> Endpoint:
    if session_token is None:
        return _post("/signout", {})
    token = _required("session_token", session_token)
    return _post("/signout", {"token": token}).replace(target_token=token)


def sign_out_all() -> Endpoint:
    return _post("/signout-all")


def sign_out_all_except_current() -> Endpoint:
    return _post("/signout-all-except")


def get_all_sessions() -> Endpoint:
    return _get("/sessions")


def get_user_from_db() -> Endpoint:
    return _get("/user")


def get_auth_grant(access_token: str | None = None) -> Endpoint:
    token = _access_token(access_token)
    return _get("/grant", key=token).replace(tokens=(token,))


def _phone_and_code(path: str, phone: object, code: object, *, code_first: bool) -> Endpoint:
    """A POST whose query carries a phone number and a one-time code, in the order the
    official client sends them."""
    number = _required("phone", phone)
    secret = _required("code", code)
    query = {"code": secret, "phone": number} if code_first else {"phone": number, "code": secret}
    return _post(path, **query).replace(codes=(secret,))


def _password_body(path: str, **fields: object) -> Endpoint:
    """A POST whose JSON body is ``fields``; the ones ending in ``Password`` are passwords."""
    body = {key: _required(_snake(key), value) for key, value in fields.items()}
    passwords = tuple(v for k, v in body.items() if k.endswith("Password"))
    return _post(path, body).replace(passwords=passwords)


def _snake(wire_name: str) -> str:
    return re.sub(r"[A-Z]", lambda m: "_" + m.group().lower(), wire_name)


def sign_in_with_code(phone: str, code: str) -> Endpoint:
    return _phone_and_code("/signin-code", phone, code, code_first=True)


def change_password(new_password: str, old_password: str) -> Endpoint:
    return _password_body("/change-pwd", newPassword=new_password, oldPassword=old_password)


def change_email(current_password: str, new_email: str) -> Endpoint:
    return _password_body("/change-email", currentPassword=current_password, newEmail=new_email)


def change_phone(current_password: str, new_phone: str) -> Endpoint:
    return _password_body("/change-phone", currentPassword=current_password, newPhone=new_phone)


def verify_phone(phone: str, code: str) -> Endpoint:
    return _phone_and_code("/verify-phone", phone, code, code_first=True)


def resend_verification_email(email: str) -> Endpoint:
    return _post("/resend", email=_required("email", email))


def resend_verification_code(phone: str) -> Endpoint:
    return _post("/resend-code", phone=_required("phone", phone))


def send_magic_link_email(email: str) -> Endpoint:
    return _post("/send-magic", email=_required("email", email))


def send_reset_pwd_email(email: str) -> Endpoint:
    return _post("/send-reset", email=_required("email", email))


def send_reset_pwd_code(phone: str) -> Endpoint:
    # The Dart client posts this to /send-reset (protocol.md §6): the path is /send-reset-code.
    return _post("/send-reset-code", phone=_required("phone", phone))


def send_sign_in_code(phone: str) -> Endpoint:
    return _post("/send-code", phone=_required("phone", phone))


def reset_pwd_with_token(access_token: str, new_password: str) -> Endpoint:
    # Unlike get_auth_grant's, this token is not optional: None is a wrong type.
    token = _access_token(_text("access_token", access_token), "reset_pwd_with_token")
    password = _required("new_password", new_password)
    endpoint = _post("/reset-pwd", {"newPassword": password}, key=token)
    return endpoint.replace(tokens=(token,), passwords=(password,))


def reset_pwd_with_code(phone: str, code: str, new_password: str) -> Endpoint:
    query = _phone_and_code("/reset-pwd-code", phone, code, code_first=False)
    password = _required("new_password", new_password)
    return query.replace(body=_json({"newPassword": password}), passwords=(password,))


_PROVIDER_NAME = lazy(r"[a-z0-9][a-z0-9_-]*")


def sign_in_with_provider(base_url: str, provider: str) -> str:
    """The URL that starts the OAuth flow of ``provider`` (``google``, ``github``, ...)."""
    name = _required("provider", provider)
    if not _PROVIDER_NAME.fullmatch(name):
        raise InvalidArgumentError("invalid_provider", f"not a provider name: {name!r}")
    return f"{base_url}/_auth/{quote(name)}"


# --- parsers -------------------------------------------------------------------------------


def _parse_as(cls: type[T]) -> Callable[[Any], T]:
    def parse(body: Any) -> T:
        return from_wire(cls, body)

    parse.__name__ = f"parse_{cls.__name__}"
    return parse


def _parse_sessions(body: Any) -> list[Session]:
    # A decoded answer: equal user agents are built once (wire.sessions_from_json).
    return sessions_from_json(body)


# --- the table -----------------------------------------------------------------------------

_GRANT = "AuthGrant"
_SIGN_UP = "SignUpResult"

OPERATIONS: tuple[Operation[Any], ...] = (
    Operation(
        "sign_up_with_email",
        "signUpWithEmail",
        """Create a new user with an email and password, and sign in when the app allows.

        ``name_or_user_data`` is the user's name, or a mapping of user fields (custom fields
        of the app's user model included). When email confirmation is on, the returned
        ``session`` is ``None`` and the user must confirm before signing in; otherwise the
        new session is stored and used from now on.""",
        _SIGN_UP,
        sign_up_with_email,
        _parse_as(SignUpResult),
        Effect.ESTABLISH,
    ),
    Operation(
        "sign_up_with_phone",
        "signUpWithPhone",
        """Create a new user with a phone number and password, and sign in when the app allows.

        When phone confirmation is on, ``session`` is ``None`` and a code is sent by SMS.""",
        _SIGN_UP,
        sign_up_with_phone,
        _parse_as(SignUpResult),
        Effect.ESTABLISH,
    ),
    Operation(
        "sign_in_with_email",
        "signInWithEmail",
        """Sign in with an email and password; the new session is stored and used from now on.""",
        _GRANT,
        sign_in_with_email,
        _parse_as(AuthGrant),
        Effect.ESTABLISH,
    ),
    Operation(
        "sign_in_with_phone",
        "signInWithPhone",
        """Sign in with a phone number and password; the new session is stored and used.""",
        _GRANT,
        sign_in_with_phone,
        _parse_as(AuthGrant),
        Effect.ESTABLISH,
    ),
    Operation(
        "sign_out",
        "signOut",
        """Sign out a session: the current one, or the one whose token is given.

        Signing out the current session removes it from local storage and stops sending it.
        Unlike the official client, a failure is raised (the local session is then kept, so
        the call can be retried).""",
        "None",
        sign_out,
        None,
        Effect.SIGN_OUT,
    ),
    Operation(
        "sign_out_all",
        "signOutAll",
        """Sign out every session of the user, the current one included, and clear local data.""",
        "None",
        sign_out_all,
        None,
        Effect.CLEAR,
    ),
    Operation(
        "sign_out_all_except_current",
        "signOutAllExceptCurrent",
        """Sign out every session of the user except the current one.""",
        "None",
        sign_out_all_except_current,
        None,
        Effect.NONE,
    ),
    Operation(
        "get_all_sessions",
        "getAllSessions",
        """Return every active session of the signed-in user.""",
        "list[Session]",
        get_all_sessions,
        _parse_sessions,
        Effect.NONE,
    ),
    Operation(
        "get_user_from_db",
        "getUserFromDB",
        """Return the signed-in user as the database holds it now (the stored user is kept).""",
        "User",
        get_user_from_db,
        _parse_as(User),
        Effect.NONE,
    ),
    Operation(
        "get_auth_grant",
        "getAuthGrant",
        """Exchange an access token for the user and a new session, which is stored and used.

        ``access_token`` is the token itself, or the whole redirect URL of an email
        confirmation, magic link or OAuth flow, whose ``access_token`` query is used.""",
        _GRANT,
        get_auth_grant,
        _parse_as(AuthGrant),
        Effect.ESTABLISH,
    ),
    Operation(
        "sign_in_with_code",
        "signInWithCode",
        """Sign in with a phone number and the code ``send_sign_in_code`` sent to it by SMS;
        the new session is stored and used from now on.

        A wrong, used or expired code raises :class:`agnost.InvalidCodeError`.""",
        _GRANT,
        sign_in_with_code,
        _parse_as(AuthGrant),
        Effect.ESTABLISH,
    ),
    Operation(
        "change_password",
        "changePassword",
        """Change the signed-in user's password; ``old_password`` is the current one.

        Needs a session. The current session stays stored and used.""",
        "None",
        change_password,
        None,
        Effect.NONE,
    ),
    Operation(
        "change_email",
        "changeEmail",
        """Change the signed-in user's email address, and return the updated user.

        Needs a session and the current password. When email confirmation is on, the new
        address is confirmed through a message sent to it. The stored user is not refreshed
        (as with ``get_user_from_db``): pass the result to ``set_user`` to store it.""",
        "User",
        change_email,
        _parse_as(User),
        Effect.NONE,
    ),
    Operation(
        "change_phone",
        "changePhone",
        """Change the signed-in user's phone number, and return the updated user.

        Needs a session and the current password. When phone confirmation is on, the new
        number is confirmed with a code sent to it. The stored user is not refreshed
        (as with ``get_user_from_db``): pass the result to ``set_user`` to store it.""",
        "User",
        change_phone,
        _parse_as(User),
        Effect.NONE,
    ),
    Operation(
        "verify_phone",
        "verifyPhone",
        """Confirm a phone number with the code sent to it by SMS (on sign-up by phone, or
        by ``resend_verification_code``).

        When the app signs users in on verification, the returned ``session`` is stored and
        used from now on; otherwise it is ``None`` and nothing is stored. A wrong, used or
        expired code raises :class:`agnost.InvalidCodeError`.""",
        _SIGN_UP,
        verify_phone,
        _parse_as(SignUpResult),
        Effect.ESTABLISH,
    ),
    Operation(
        "resend_verification_email",
        "resendVerificationEmail",
        """Send the email confirmation message again to ``email``.

        The server answers the same whether or not an account has this address.""",
        "None",
        resend_verification_email,
        None,
        Effect.NONE,
    ),
    Operation(
        "resend_verification_code",
        "resendVerificationCode",
        """Send a new phone confirmation code by SMS to ``phone``.

        The server answers the same whether or not an account has this number.""",
        "None",
        resend_verification_code,
        None,
        Effect.NONE,
    ),
    Operation(
        "send_magic_link_email",
        "sendMagicLinkEmail",
        """Send a sign-in link to ``email``; the link ends in a redirect carrying
        ``access_token``, which ``get_auth_grant`` exchanges for a session.

        The server answers the same whether or not an account has this address.""",
        "None",
        send_magic_link_email,
        None,
        Effect.NONE,
    ),
    Operation(
        "send_reset_pwd_email",
        "sendResetPwdEmail",
        """Send a password reset link to ``email``; its ``access_token`` goes to
        ``reset_pwd_with_token``.

        The server answers the same whether or not an account has this address.""",
        "None",
        send_reset_pwd_email,
        None,
        Effect.NONE,
    ),
    Operation(
        "send_reset_pwd_code",
        "sendResetPwdCode",
        """Send a password reset code by SMS to ``phone``; the code goes to
        ``reset_pwd_with_code``.

        The server answers the same whether or not an account has this number.""",
        "None",
        send_reset_pwd_code,
        None,
        Effect.NONE,
    ),
    Operation(
        "send_sign_in_code",
        "sendSignInCode",
        """Send a sign-in code by SMS to ``phone``; the code goes to ``sign_in_with_code``.

        The server answers the same whether or not an account has this number.""",
        "None",
        send_sign_in_code,
        None,
        Effect.NONE,
    ),
    Operation(
        "reset_pwd_with_token",
        "resetPwdWithToken",
        """Set a new password with the access token of a password reset link.

        ``access_token`` is the token itself, or the whole link (or the URL it redirected
        to) whose ``access_token`` query is used. Nothing is stored: sign in with the new
        password afterwards. A wrong, used or expired token raises
        :class:`agnost.AccessTokenError`.""",
        "None",
        reset_pwd_with_token,
        None,
        Effect.NONE,
    ),
    Operation(
        "reset_pwd_with_code",
        "resetPwdWithCode",
        """Set a new password with the code ``send_reset_pwd_code`` sent to ``phone``.

        Nothing is stored: sign in with the new password afterwards. A wrong, used or
        expired code raises :class:`agnost.InvalidCodeError`.""",
        "None",
        reset_pwd_with_code,
        None,
        Effect.NONE,
    ),
)

#: The operations by Python name.
BY_NAME: Mapping[str, Operation[Any]] = {op.name: op for op in OPERATIONS}

#: Methods that only compute a URL: no request, no local change.
URL_METHODS: tuple[local.LocalMethod, ...] = (
    local.LocalMethod(
        "sign_in_with_provider",
        "signInWithProvider",
        """Return the URL that starts signing in with an OAuth ``provider`` (``"google"``,
        ``"facebook"``, ``"twitter"``, ``"apple"``, ``"discord"`` or ``"github"``).

        The JS client navigates the browser there; open it in a browser, and pass the URL
        the flow finally redirects to (it carries ``access_token``) to ``get_auth_grant``.
        This method does no I/O, so it is not a coroutine in the async client either.""",
        "str",
        "url",
        sign_in_with_provider,
    ),
)
