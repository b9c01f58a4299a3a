"""The blocking client, on requests."""

from __future__ import annotations

import inspect
from types import TracebackType
from typing import TYPE_CHECKING, TypeVar

import requests

from ._auth import Auth
from ._base import BaseClient, ClientOptions
from ._core import local
from ._core.errors import InvalidArgumentTypeError, StorageError
from ._core.operations import Endpoint, Handler
from ._endpoint import Endpoints
from ._transport import RequestsTransport

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["Client", "create_client"]

T = TypeVar("T")
_C = TypeVar("_C", bound="Client")


class Client(BaseClient):
    """A blocking Agnost client. Create one with :func:`agnost.create_client`.

    The auth API is on :attr:`auth`, calls to the app's own endpoints on :attr:`endpoint`.
    Use it as a context manager, or call :meth:`close`, to release its HTTP connections.
    """

    auth: Auth
    """Sign-up, sign-in and session management (``client.auth.sign_in_with_email(...)``)."""
    endpoint: Endpoints
    """Calls to the app's own endpoints, with the session (``client.endpoint.get("/orders")``)."""

    def __init__(
        self,
        env_url: str,
        client_key: str,
        *,
        http_session: requests.Session | None = None,
        **options: Unpack[ClientOptions],
    ) -> None:
        if http_session is not None and not isinstance(http_session, requests.Session):
            raise InvalidArgumentTypeError(
                "invalid_http_session", "http_session must be a requests.Session or None"
            )
        super().__init__(env_url, client_key, **options)
        if inspect.iscoroutinefunction(self._sign_in_redirect):
            raise InvalidArgumentTypeError(
                "invalid_sign_in_redirect",
                "the blocking client cannot await a coroutine function as sign_in_redirect",
            )
        self._transport = RequestsTransport(
            http_session, self._timeout, self._max_response_bytes, self._config.base_url
        )
        self.auth = Auth(self)
        self.endpoint = Endpoints(self)
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

    def _send(self, op: Handler[T], endpoint: Endpoint) -> T:
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
    http_session: requests.Session | None = None,
    **options: Unpack[ClientOptions],
) -> Client:
    """Create a blocking client for the Agnost environment at ``env_url``.

    ``client_key`` is the environment's client library key. ``http_session`` is a
    ``requests.Session`` to use instead of a new one (the caller closes it). The other
    options are those of :class:`agnost.ClientOptions`: ``api_key``, ``storage``,
    ``sign_in_redirect``, ``timeout`` and ``max_response_bytes``.

    A session made here honours ``HTTP_PROXY``, ``HTTPS_PROXY`` and ``NO_PROXY``, as the
    async client's does; given one, agnost mounts its deadline adapter for ``env_url`` only
    in place of a plain ``HTTPAdapter`` (an adapter of another type is left as it is).
    """
    return Client(env_url, client_key, http_session=http_session, **options)
