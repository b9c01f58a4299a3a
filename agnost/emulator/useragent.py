"""A request's ``User-Agent`` turned into the session's ``userAgent`` object (protocol.md §4).

Parsing uses ``ua-parser`` (the ``emulator`` extra). The shape is the one Agnost servers send:
browser, device and OS each with ``family``, ``major``, ``minor`` and ``patch`` as strings,
with ``"Other"`` and ``"0"`` where the string says nothing.
"""

from __future__ import annotations

import functools
import json
from typing import Any

try:
    import ua_parser
except ImportError as exc:  # pragma: no cover - depends on how agnost was installed
    from . import INSTALL_EXTRA

    raise ImportError(f"the agnost emulator needs ua-parser: {INSTALL_EXTRA}") from exc

__all__ = ["user_agent_json"]

# Past this length a User-Agent is junk or an attack on the regexes; parse only the start.
_MAX_LENGTH = 512


def _part(found: Any, family: str | None = None) -> dict[str, str]:
    return {
        "family": family or getattr(found, "family", None) or "Other",
        "major": getattr(found, "major", None) or "0",
        "minor": getattr(found, "minor", None) or "0",
        "patch": getattr(found, "patch", None) or "0",
    }


def user_agent_json(header: str | None) -> str:
    """Return the §4 ``userAgent`` object for a ``User-Agent`` header, as JSON text.

    JSON text because that is what the session row stores, and because an immutable result
    can be cached: clients send the same string on every request.
    """
    return _cached((header or "")[:_MAX_LENGTH])


@functools.lru_cache(maxsize=256)
def _cached(header: str) -> str:
    result = ua_parser.parse(header)
    user_agent = _part(result.user_agent)
    device = result.device.family if result.device else None
    # Agnost's device object carries versions too; a User-Agent never has them, hence "0".
    return json.dumps({**user_agent, "device": _part(None, device), "os": _part(result.os)})
