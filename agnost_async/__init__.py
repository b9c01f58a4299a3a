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

from agnost._public import *  # noqa: F403 - the names both packages share
from agnost._public import __all__ as _shared

from .client import AsyncClient, create_client

__all__ = [*_shared, "AsyncClient", "create_client"]
