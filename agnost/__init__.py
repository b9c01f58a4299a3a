"""agnost: the Python client for Agnost auth sessions.

Blocking client (on requests)::

    import agnost

    with agnost.create_client("https://myapp.example.com", "client-key") as client:
        grant = client.auth.sign_in_with_email("ada@example.com", "secret")
        print(client.auth.get_all_sessions())

The async twin is ``agnost_async`` (on aiohttp). Models and errors are the same classes in
both and are importable from either package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._public import *  # noqa: F403 - the names both packages share
from ._public import __all__ as _shared

if TYPE_CHECKING:
    from .client import Client, create_client

__all__ = [*_shared, "Client", "create_client"]


def __getattr__(name: str) -> Any:
    # The client pulls in requests; loading it on first use keeps `import agnost` light and
    # lets agnost_async share this package's core without ever importing requests.
    if name in ("Client", "create_client"):
        from . import client

        return getattr(client, name)
    raise AttributeError(f"module 'agnost' has no attribute {name!r}")


# Tracebacks and reprs name the public path (agnost.InvalidSessionTokenError), not the
# private module a class happens to live in; pickling works since agnost.<name> exists.
for _name in __all__:
    _obj = globals().get(_name)
    if isinstance(_obj, type) and _obj.__module__.startswith("agnost._"):
        _obj.__module__ = "agnost"
del _name, _obj
