"""agnost_async: the async twin of ``agnost``, on aiohttp.

::

    import agnost_async

    async with agnost_async.create_client("https://myapp.example.com", "client-key") as client:
        grant = await client.auth.sign_in_with_email("ada@example.com", "secret")
        sessions = await client.auth.get_all_sessions()

Same method names, parameters, return types and exceptions as ``agnost``; methods are
coroutines. Importing this package never imports requests.
"""

from __future__ import annotations

from agnost import (
    AccessTokenError,
    AgnostError,
    APIError,
    APIKeyError,
    AuthGrant,
    ClientClosedError,
    ClientError,
    ConnectError,
    CorruptStorageError,
    Device,
    EmailNotVerifiedError,
    ErrorItem,
    FileStore,
    InvalidArgumentError,
    InvalidArgumentTypeError,
    InvalidCredentialsError,
    InvalidSessionTokenError,
    MemoryStore,
    MissingSessionTokenError,
    NotAllowedError,
    OperatingSystem,
    RedirectError,
    RequestTimeoutError,
    ResponseDecodeError,
    ResponseTooLargeError,
    ServerError,
    Session,
    SessionTokenError,
    SignUpResult,
    Storage,
    StorageError,
    StoredAuth,
    Timeout,
    TLSError,
    TransportError,
    User,
    UserAgent,
    UserNotFoundError,
    ValidationError,
    __version__,
    from_wire,
    to_wire,
)

from .client import AsyncClient, create_client

__all__ = [
    "APIError",
    "APIKeyError",
    "AccessTokenError",
    "AgnostError",
    "AsyncClient",
    "AuthGrant",
    "ClientClosedError",
    "ClientError",
    "ConnectError",
    "CorruptStorageError",
    "Device",
    "EmailNotVerifiedError",
    "ErrorItem",
    "FileStore",
    "InvalidArgumentError",
    "InvalidArgumentTypeError",
    "InvalidCredentialsError",
    "InvalidSessionTokenError",
    "MemoryStore",
    "MissingSessionTokenError",
    "NotAllowedError",
    "OperatingSystem",
    "RedirectError",
    "RequestTimeoutError",
    "ResponseDecodeError",
    "ResponseTooLargeError",
    "ServerError",
    "Session",
    "SessionTokenError",
    "SignUpResult",
    "Storage",
    "StorageError",
    "StoredAuth",
    "TLSError",
    "Timeout",
    "TransportError",
    "User",
    "UserAgent",
    "UserNotFoundError",
    "ValidationError",
    "__version__",
    "create_client",
    "from_wire",
    "to_wire",
]
