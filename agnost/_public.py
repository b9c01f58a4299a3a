"""The names ``agnost`` and ``agnost_async`` share: models, errors, stores and helpers.

Both packages re-export this module whole, so the two stay in step by construction.
"""

from __future__ import annotations

from ._base import ClientOptions
from ._core.endpoint import EndpointResponse
from ._core.errors import (
    AccessTokenError,
    AgnostError,
    APIError,
    APIKeyError,
    ClientClosedError,
    ClientError,
    ConnectError,
    CorruptStorageError,
    EmailNotVerifiedError,
    ErrorItem,
    InvalidArgumentError,
    InvalidArgumentTypeError,
    InvalidCredentialsError,
    InvalidSessionTokenError,
    MissingSessionTokenError,
    NotAllowedError,
    RedirectError,
    RequestTimeoutError,
    ResponseDecodeError,
    ResponseTooLargeError,
    ServerError,
    SessionTokenError,
    StorageError,
    TLSError,
    TransportError,
    UserNotFoundError,
    ValidationError,
)
from ._core.http import Timeout
from ._core.models import (
    AuthGrant,
    Device,
    OperatingSystem,
    Session,
    SignUpResult,
    User,
    UserAgent,
)
from ._core.wire import from_wire, to_wire
from ._version import __version__
from .storage import FileStore, MemoryStore, Storage, StoredAuth

__all__ = [
    "APIError",
    "APIKeyError",
    "AccessTokenError",
    "AgnostError",
    "AuthGrant",
    "ClientClosedError",
    "ClientError",
    "ClientOptions",
    "ConnectError",
    "CorruptStorageError",
    "Device",
    "EmailNotVerifiedError",
    "EndpointResponse",
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
    "from_wire",
    "to_wire",
]
