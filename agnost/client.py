"""The blocking client, on requests."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

import requests

from ._auth import Auth
from ._base import DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_TIMEOUT, BaseClient
from ._core import local
from ._core.errors import InvalidArgumentTypeError, StorageError
from ._core.http import Timeout
from ._core.operations import Endpoint, Operation
from ._transport import RequestsTransport
from .storage import Storage

__all__ = ["Client", "create_client"]

T = TypeVar("T")
_C = TypeVar("_C", bound="Client")


class Client(BaseClient):
    """A blocking Agnost client. Create one with :func:`agnost.create_client`.

    The auth API is on :attr:`auth`. Use it as a context manager, or call :meth:`close`,
    to release its HTTP connections.
    """

    auth: Auth
    """Sign-up, sign-in and session management (``client.auth.sign_in_with_email(...)``)."""

    def __init__(
        self,
        env_url: str,
        client_key: str,
        *,
        api_key: str | None = None,
        storage: Storage | None = None,
        sign_in_redirect: Callable[[], Any] | None = None,
        timeout: Timeout | float | None = DEFAULT_TIMEOUT,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        http_session: requests.Session | None = None,
    ) -> None:
        super().__init__(
            env_url,
            client_key,
            api_key=api_key,
            storage=storage,
            sign_in_redirect=sign_in_redirect,
            timeout=timeout,
            max_response_bytes=max_response_bytes,
        )
        if inspect.iscoroutinefunction(sign_in_redirect):
            raise InvalidArgumentTypeError(
                "invalid_sign_in_redirect",
                "the blocking client cannot await a coroutine function as sign_in_redirect",
            )
        self._transport = RequestsTransport(http_session, self._timeout, max_response_bytes)
        self.auth = Auth(self)
        self._restore_blocking()

    def __enter__(self: _C) -> _C:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release the HTTP connections and the store's file; the session stays stored.

        A closed client sends no more requests (:class:`agnost.ClientClosedError`).
        """
        self._transport.close()
        self._close_storage()

    # --- the send loop -------------------------------------------------------------------------

    def _send(self, op: Operation[T], endpoint: Endpoint) -> T:
        self._check_open()
        token = self._token
        response = self._transport.send(self._request(endpoint, token))
        settled = self._settle(op, endpoint, response, token)
        if settled.change is not None:
            try:
                self._apply(settled.change)
            except StorageError as error:
                settled = settled.after_storage_error(error)
        return settled.unwrap()

    def _apply(self, change: local.LocalChange) -> None:
        if self._apply_blocking(change) and self._sign_in_redirect is not None:
            self._sign_in_redirect()

    def _load(self) -> local.StoredAuth:
        return self._storage.load()


def create_client(
    env_url: str,
    client_key: str,
    *,
    api_key: str | None = None,
    storage: Storage | None = None,
    sign_in_redirect: Callable[[], Any] | None = None,
    timeout: Timeout | float | None = DEFAULT_TIMEOUT,
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    http_session: requests.Session | None = None,
) -> Client:
    """Create a blocking client for the Agnost environment at ``env_url``.

    ``client_key`` is the environment's client library key; ``api_key``, when given, is
    sent as ``Authorization``. ``storage`` keeps the session between runs (default: the
    profile of this env URL and key in agnost's data directory). ``sign_in_redirect`` is
    called, with no arguments, after the session is invalidated (by ``invalidate_session``
    or by the server refusing the session's token): the Python meaning of the JS client's
    redirect URL. ``timeout`` is an :class:`agnost.Timeout` or a total in seconds;
    ``http_session`` is a ``requests.Session`` to use instead of a new one (it is then not
    closed by :meth:`Client.close`).
    """
    return Client(
        env_url,
        client_key,
        api_key=api_key,
        storage=storage,
        sign_in_redirect=sign_in_redirect,
        timeout=timeout,
        max_response_bytes=max_response_bytes,
        http_session=http_session,
    )
