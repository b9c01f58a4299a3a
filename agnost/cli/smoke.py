"""The session lifecycle as a smoke test: the main job of ``agnost smoke``.

:func:`run_smoke` signs up a throwaway user (or signs in a given one), opens a second
session, lists sessions, reads the user from the database, checks that an app endpoint
receives the session, signs out the second session (or, when asked, all but the current
one), checks that the other session is now refused, exchanges an access token when the
environment gives one, and signs out. On an agnost emulator, whose outbox is the mail, it then
resets the throwaway user's password through an emailed link and signs in through a magic
link. Only the sessions it opened are signed out unless asked: a smoke run against a real
account leaves the people using it signed in, and its password is never changed.
Each step is checked, not just called: a step passes only when the answer is what the
protocol promises.

It runs through the blocking client or the async one (``flavour="async"``); both are driven
by the same steps, so a pass means the two behave alike against that environment.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import secrets
import signal
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from functools import partial
from typing import Any, Literal, TypeVar

import attrs

from .._core.errors import (
    AccessTokenError,
    AgnostError,
    InvalidCredentialsError,
    MissingSessionTokenError,
    SessionTokenError,
)
from .._core.models import AuthGrant
from ..storage import MemoryStore

__all__ = [
    "ECHO_PATH",
    "OUTBOX_PATH",
    "RECOVERY_STEPS",
    "SmokeCheckFailed",
    "SmokeStep",
    "run_smoke",
]

T = TypeVar("T")
Flavour = Literal["sync", "async"]

#: The app endpoint the step "an app endpoint receives the session" calls on an emulator.
ECHO_PATH = "/agnost-smoke/echo"

#: Where an agnost emulator lists the messages it "sent" (the recovery steps read links there).
OUTBOX_PATH = "/_emulator/outbox"

#: The outbox kinds of the messages the recovery steps wait for.
RESET_KIND, MAGIC_KIND = "password_reset", "magic_link"

#: The steps that need an emulator's outbox; elsewhere they are skipped with a note.
RECOVERY_STEPS = ("reset the password by an emailed link", "sign in through a magic link")


class SmokeCheckFailed(AgnostError):
    """A smoke step got an answer, but not the one the protocol promises."""


@attrs.frozen
class SmokeStep:
    """One step of a smoke run: its name, whether it passed, and what it saw.

    ``detail`` never contains a token. ``error`` is the exception that failed the step.
    """

    name: str
    ok: bool
    detail: str
    seconds: float
    skipped: bool = False
    error: BaseException | None = attrs.field(default=None, repr=False, eq=False)


def run_smoke(
    env_url: str,
    client_key: str,
    *,
    api_key: str | None = None,
    email: str | None = None,
    password: str | None = None,
    flavour: Flavour = "sync",
    access_token: str | None = None,
    endpoint: str | None = None,
    enforce_session: Callable[[bool], None] | None = None,
    sign_out_others: bool = False,
    recovery: bool = False,
    on_step: Callable[[SmokeStep], None] = lambda step: None,
) -> list[SmokeStep]:
    """Run the lifecycle against ``env_url`` and return its steps, stopping at the first failure.

    With ``email`` and ``password`` that user signs in; otherwise a throwaway user is signed
    up. ``access_token`` is exchanged in the grant step; without one, an agnost emulator's
    fake OAuth provider supplies one, and other environments skip the step.

    The app-endpoint step needs an agnost emulator, which ``enforce_session`` turns session
    enforcement on and off for (``lambda on: emulator.configure(enforce_session=on)``): its
    echo of ``endpoint`` (default :data:`ECHO_PATH`) must name the signed-in user, and with
    enforcement on, a call without a session must be refused while the signed-in client's
    goes through and keeps its session. Without it, the step GETs ``endpoint`` with the
    session and needs a 2xx (and, if the answer is an emulator's echo, that it names the
    user); with neither, it is skipped.

    The run signs out only the sessions it opened (the second one by its token), so a smoke
    test against a real account leaves the sessions of the people using it alone;
    ``sign_out_others`` tests ``sign_out_all_except_current`` instead, which signs out every
    other session of the user. ``on_step`` is called as each step ends (to print progress).
    Sessions live in memory only: the stored session of this machine is never touched.

    ``recovery`` says that ``env_url`` is an agnost emulator: the steps of
    :data:`RECOVERY_STEPS` then read the links it "sent" from its outbox (:data:`OUTBOX_PATH`):
    they reset the throwaway user's password through the emailed link (checking the link is
    single-use, the old password is refused and the new one signs in), and sign in through a
    magic link (single-use too), each in a session of its own that it signs out; a request
    for an unknown address must answer the same and send nothing. Without ``recovery`` they
    are skipped with a note, and with ``email`` given (a real account) the reset is skipped:
    smoke never changes the password of an account it did not make.
    """
    run = _Run(env_url, client_key, api_key, flavour, on_step)
    lifecycle = run.lifecycle(
        email, password, access_token, endpoint, enforce_session, sign_out_others, recovery
    )
    if flavour == "async":
        return asyncio.run(_interruptibly(lifecycle))
    return _run_blocking(lifecycle)


def _run_blocking(work: Coroutine[Any, Any, T]) -> T:
    """Run the blocking flavour's lifecycle, whose calls block the loop's thread: there,
    Ctrl-C must raise KeyboardInterrupt inside the waiting call. ``asyncio.run`` (from 3.11)
    would only cancel the task, which takes effect once the call has timed out.

    After a Ctrl-C nothing more runs: cancelling the lifecycle would run its clean-up, whose
    sign-outs block on the same server that made the user press Ctrl-C. The sessions it
    opened are left as they are."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(work)
    except KeyboardInterrupt:
        for task in asyncio.all_tasks(loop):
            # Not run again, on purpose: no "Task was destroyed but it is pending!" for it.
            with contextlib.suppress(AttributeError):
                task._log_destroy_pending = False  # type: ignore[attr-defined]
        raise
    finally:
        loop.close()


async def _interruptibly(work: Awaitable[T]) -> T:
    """Await ``work``; Ctrl-C cancels it and then raises KeyboardInterrupt, as ``asyncio.run``
    does from Python 3.11 on. Before 3.11 the KeyboardInterrupt struck inside whatever
    callback was running, which can lose a task's wake-up so that the clean-up then waits
    forever. Outside the main thread (no signal handlers there), Ctrl-C is left alone."""
    if sys.version_info >= (3, 11):
        return await work
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(work)
    interrupted = False

    def interrupt() -> None:
        nonlocal interrupted
        interrupted = True
        task.cancel()

    try:
        loop.add_signal_handler(signal.SIGINT, interrupt)
    except (NotImplementedError, RuntimeError, ValueError):
        return await task
    try:
        return await task
    except asyncio.CancelledError:
        if interrupted:
            raise KeyboardInterrupt from None
        raise
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.remove_signal_handler(signal.SIGINT)


class _Run:
    def __init__(
        self,
        env_url: str,
        client_key: str,
        api_key: str | None,
        flavour: Flavour,
        on_step: Callable[[SmokeStep], None],
    ) -> None:
        self.env_url = env_url
        self.client_key = client_key
        self.api_key = api_key
        self.flavour = flavour
        self.on_step = on_step
        self.steps: list[SmokeStep] = []
        self.clients: list[Any] = []
        self.state: dict[str, Any] = {}

    def client(self) -> Any:
        if self.flavour == "async":
            import agnost_async

            made: Any = agnost_async.create_client(
                self.env_url, self.client_key, api_key=self.api_key, storage=MemoryStore()
            )
        else:
            from ..client import create_client

            made = create_client(
                self.env_url, self.client_key, api_key=self.api_key, storage=MemoryStore()
            )
        self.clients.append(made)
        return made

    async def step(self, name: str, action: Callable[[], Awaitable[str]]) -> bool:
        started = time.perf_counter()
        try:
            detail = await action()
        except _Skip as skip:
            result = SmokeStep(name, True, str(skip), time.perf_counter() - started, True)
        except (AgnostError, AssertionError) as error:
            detail = _describe(error)
            result = SmokeStep(name, False, detail, time.perf_counter() - started, error=error)
        else:
            result = SmokeStep(name, True, detail, time.perf_counter() - started)
        self.steps.append(result)
        self.on_step(result)
        return result.ok

    async def lifecycle(
        self,
        email: str | None,
        password: str | None,
        access_token: str | None,
        endpoint: str | None,
        enforce_session: Callable[[bool], None] | None,
        sign_out_others: bool,
        recovery: bool,
    ) -> list[SmokeStep]:
        first, second = self.client(), self.client()
        throwaway = email is None or password is None
        if email is None or password is None:
            email = f"agnost-smoke-{uuid.uuid4().hex[:12]}@example.com"
            password = secrets.token_urlsafe(18)
            opening = ("sign up a throwaway user", partial(self._sign_up, first, email, password))
        else:
            opening = ("sign in", partial(self._sign_in, first, email, password))
        plan: list[tuple[str, Callable[[], Awaitable[str]]]] = [
            opening,
            ("open a second session", partial(self._second, second, email, password)),
            ("list sessions", partial(self._list, first)),
            ("read the user from the database", partial(self._user, first)),
            (
                "an app endpoint receives the session",
                partial(self._endpoint, first, endpoint, enforce_session),
            ),
            (
                ("sign out all but the current session", partial(self._others, first))
                if sign_out_others
                else ("sign out the second session", partial(self._second_out, first))
            ),
            ("the other session is refused", partial(self._refused, second)),
            ("exchange an access token", partial(self._grant, access_token)),
            ("sign out", partial(self._sign_out, first)),
            (
                RECOVERY_STEPS[0],
                partial(self._reset, email, password, recovery=recovery, throwaway=throwaway),
            ),
            (RECOVERY_STEPS[1], partial(self._magic_link, email, recovery=recovery)),
        ]
        try:
            for name, action in plan:
                if not await self.step(name, action):
                    break
        finally:
            for made in self.clients:
                await _call(made.aclose if self.flavour == "async" else made.close)
        return self.steps

    async def _sign_up(self, client: Any, email: str, password: str) -> str:
        result = await _call(client.auth.sign_up_with_email, email, password, "agnost smoke")
        _check(result.user.email == email.lower() or result.user.email == email, "user email")
        _check(
            result.session is not None,
            "sign-up returned no session: email confirmation is on; pass --email and a"
            " password of a confirmed user",
        )
        self.state["grant"] = result
        return f"user {result.user.id}"

    async def _sign_in(self, client: Any, email: str, password: str) -> str:
        grant: AuthGrant = await _call(client.auth.sign_in_with_email, email, password)
        self.state["grant"] = grant
        return f"user {grant.user.id}"

    async def _second(self, client: Any, email: str, password: str) -> str:
        grant: AuthGrant = await _call(client.auth.sign_in_with_email, email, password)
        _check(grant.user.id == self.state["grant"].user.id, "second session is for the same user")
        _check(grant.session.token != self.state["grant"].session.token, "a new session token")
        self.state["second"] = grant
        return "a second session for the same user"

    async def _list(self, client: Any) -> str:
        sessions = await _call(client.auth.get_all_sessions)
        _check(len(sessions) >= 2, f"at least 2 active sessions, got {len(sessions)}")
        _check(
            all(s.user_id == self.state["grant"].user.id for s in sessions),
            "every listed session belongs to the user",
        )
        return f"{len(sessions)} active sessions"

    async def _user(self, client: Any) -> str:
        user = await _call(client.auth.get_user_from_db)
        _check(user.id == self.state["grant"].user.id, "the database user is the signed-in user")
        return f"user {user.id}"

    async def _endpoint(
        self, client: Any, path: str | None, enforce: Callable[[bool], None] | None
    ) -> str:
        if enforce is None:
            if path is None:
                raise _Skip("skipped: pass --endpoint PATH to call one of the app's endpoints")
            answer = await _call(client.endpoint.get, path, returns="response")
            if answer.headers.get("Content-Type", "").startswith("application/json"):
                self._check_echo(answer.json(), required=False)
            return f"GET {path}: HTTP {answer.status}"
        path = path or ECHO_PATH
        self._check_echo(await _call(client.endpoint.get, path), required=True)
        await asyncio.to_thread(enforce, True)
        try:
            anonymous = self.client()
            try:
                await _call(anonymous.endpoint.get, path)
            except MissingSessionTokenError:
                pass
            else:
                raise SmokeCheckFailed("a call without a session was accepted")
            self._check_echo(await _call(client.endpoint.get, path), required=True)
            stored = await _call(client.auth.get_session)
            _check(
                stored is not None and stored.token == self.state["grant"].session.token,
                "the signed-in client to keep its session",
            )
        finally:
            await asyncio.to_thread(enforce, False)
        return "the echo names the user; enforced, no session is refused"

    def _check_echo(self, echo: Any, *, required: bool) -> None:
        """Check an emulator's echo names the signed-in user (``required``: that it is one)."""
        is_echo = isinstance(echo, dict) and {"user", "session"} <= echo.keys()
        if not is_echo:
            _check(not required, "an emulator's echo of the call")
            return
        user_id = self.state["grant"].user.id
        user, session = echo["user"], echo["session"]
        _check(isinstance(user, dict) and user.get("_id") == user_id, "the echo to name the user")
        _check(
            isinstance(session, dict) and session.get("userId") == user_id,
            "the echo to carry the user's session",
        )
        _check("token" not in session, "no token in the echo")

    async def _others(self, client: Any) -> str:
        await _call(client.auth.sign_out_all_except_current)
        sessions = await _call(client.auth.get_all_sessions)
        _check(len(sessions) == 1, f"exactly 1 session left, got {len(sessions)}")
        return "1 session left"

    async def _second_out(self, client: Any) -> str:
        token = self.state["second"].session.token
        await _call(client.auth.sign_out, token)
        sessions = await _call(client.auth.get_all_sessions)
        _check(all(s.token != token for s in sessions), "the second session no longer listed")
        current = await _call(client.auth.get_session)
        _check(current is not None, "the first client to keep its session")
        return f"{len(sessions)} sessions left"

    async def _refused(self, client: Any) -> str:
        try:
            await _call(client.auth.get_user_from_db)
        except SessionTokenError as error:
            _check(await _call(client.auth.get_session) is None, "local session invalidated")
            return f"refused with {error.code}"
        raise SmokeCheckFailed("the signed-out session was still accepted")

    async def _grant(self, access_token: str | None) -> str:
        client = self.client()
        if access_token is None:
            access_token = await asyncio.to_thread(
                _emulator_access_token, client.auth.sign_in_with_provider("github")
            )
        if access_token is None:
            raise _Skip("skipped: the environment gives no access token (pass --access-token)")
        grant: AuthGrant = await _call(client.auth.get_auth_grant, access_token)
        stored = await _call(client.auth.get_session)
        _check(stored is not None and stored.token == grant.session.token, "grant established")
        await _call(client.auth.sign_out)
        return f"user {grant.user.id}"

    async def _sign_out(self, client: Any) -> str:
        await _call(client.auth.sign_out)
        _check(await _call(client.auth.get_session) is None, "no local session after sign-out")
        return "signed out"

    async def _reset(self, email: str, password: str, *, recovery: bool, throwaway: bool) -> str:
        if not recovery:
            raise _Skip(_NEEDS_OUTBOX)
        if not throwaway:
            raise _Skip(
                "skipped: smoke resets only the password of a throwaway user it signed up"
                " (run it without --email)"
            )
        client = self.client()
        link = await self._sent(
            RESET_KIND, email, partial(_call, client.auth.send_reset_pwd_email, email)
        )
        new_password = secrets.token_urlsafe(18)
        await _call(client.auth.reset_pwd_with_token, link, new_password)
        await self._refused_again(
            partial(_call, client.auth.reset_pwd_with_token, link, secrets.token_urlsafe(18)),
            "the reset link to be single-use",
        )
        try:
            await _call(client.auth.sign_in_with_email, email, password)
        except InvalidCredentialsError:
            pass
        else:
            raise SmokeCheckFailed("the old password still signs in after the reset")
        grant: AuthGrant = await _call(client.auth.sign_in_with_email, email, new_password)
        _check(
            grant.user.id == self.state["grant"].user.id, "the new password to sign the user in"
        )
        await _call(client.auth.sign_out)
        await self._nothing_for_nobody(client.auth.send_reset_pwd_email)
        return "link sent and used once; the old password refused, the new one signs in"

    async def _magic_link(self, email: str, *, recovery: bool) -> str:
        if not recovery:
            raise _Skip(_NEEDS_OUTBOX)
        client = self.client()
        link = await self._sent(
            MAGIC_KIND, email, partial(_call, client.auth.send_magic_link_email, email)
        )
        grant: AuthGrant = await _call(client.auth.get_auth_grant, link)
        _check(grant.user.id == self.state["grant"].user.id, "the magic link to sign the user in")
        stored = await _call(client.auth.get_session)
        _check(stored is not None and stored.token == grant.session.token, "grant established")
        await _call(client.auth.sign_out)
        await self._refused_again(
            partial(_call, self.client().auth.get_auth_grant, link),
            "the magic link to be single-use",
        )
        await self._nothing_for_nobody(client.auth.send_magic_link_email)
        return "link sent, exchanged for a session once, signed out"

    async def _sent(self, kind: str, recipient: str, send: Callable[[], Awaitable[Any]]) -> str:
        """Call ``send`` and return the link of the one message of ``kind`` it put in the
        outbox for ``recipient``."""
        before = {m.get("id") for m in await self._outbox(recipient)}
        await send()
        new = [m for m in await self._outbox(recipient) if m.get("id") not in before]
        _check(
            len(new) == 1 and new[0].get("kind") == kind,
            f"one {kind} message to the user in the outbox, got"
            f" {sorted(str(m.get('kind')) for m in new) or 'none'}",
        )
        link = new[0].get("link")
        _check(isinstance(link, str) and "access_token=" in link, f"the {kind} message's link")
        return str(link)

    async def _nothing_for_nobody(self, send: Callable[[str], Any]) -> None:
        """A send for an address without an account answers as one with, and sends nothing."""
        nobody = f"agnost-smoke-nobody-{uuid.uuid4().hex[:12]}@example.com"
        await _call(send, nobody)
        _check(not await self._outbox(nobody), "no message for an address without an account")

    async def _refused_again(self, call: Callable[[], Awaitable[Any]], what: str) -> None:
        try:
            await call()
        except AccessTokenError:
            return
        raise SmokeCheckFailed(f"expected {what}: a second use was accepted")

    async def _outbox(self, recipient: str) -> list[dict[str, Any]]:
        return await asyncio.to_thread(_read_outbox, self.env_url, recipient)


_NEEDS_OUTBOX = (
    "skipped: needs an agnost emulator's outbox (the embedded emulator, or --recovery-steps"
    " against `agnost emulator`)"
)


def _read_outbox(env_url: str, recipient: str) -> list[dict[str, Any]]:
    """The messages an agnost emulator at ``env_url`` "sent" to ``recipient``."""
    import requests

    url = env_url.rstrip("/") + OUTBOX_PATH
    try:
        answer = requests.get(url, params={"recipient": recipient}, timeout=10)
        body = answer.json() if answer.status_code == 200 else None
    except (requests.RequestException, ValueError) as error:
        raise SmokeCheckFailed(
            f"could not read the emulator's outbox at {OUTBOX_PATH} ({type(error).__name__})"
        ) from None
    messages = body.get("messages") if isinstance(body, dict) else None
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise SmokeCheckFailed(
            f"expected an agnost emulator's outbox at {OUTBOX_PATH}, got HTTP {answer.status_code}"
        )
    return messages


class _Skip(Exception):
    """A step that does not apply to this environment."""


def _check(condition: bool, what: str) -> None:
    if not condition:
        raise SmokeCheckFailed(f"expected {what}")


async def _call(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    # One lifecycle drives both flavours: async methods are awaited, sync ones just return.
    result = func(*args, **kwargs)
    return await result if inspect.isawaitable(result) else result


def _describe(error: BaseException) -> str:
    code = getattr(error, "code", None)
    return f"{type(error).__name__}: {error}" if not code else f"{code}: {error}"


def _emulator_access_token(provider_url: str) -> str | None:
    """Start the fake OAuth flow of an agnost emulator and return the access token it grants.

    Real environments send the browser to a real provider; they give no token here.
    """
    import requests

    from .._core.operations import _access_token

    try:
        answer = requests.get(provider_url, allow_redirects=False, timeout=10)
    except requests.RequestException:
        return None
    location = answer.headers.get("Location", "")
    if answer.status_code not in (301, 302, 303, 307, 308) or "access_token=" not in location:
        return None
    try:
        return _access_token(location)
    except AgnostError:
        return None
