"""Regular expressions compiled on first use.

Most of agnost's patterns serve error paths and optional features (an error's excerpt, a
cookie helper, an app endpoint's path checks), which most processes never reach; compiling
them all at import cost about a millisecond and a half (issue 12). A :func:`lazy` pattern
compiles on the first call of one of its methods, and keeps that method: later calls cost
what a compiled pattern's do.
"""

from __future__ import annotations

import re
from typing import Any, AnyStr, cast

__all__ = ["lazy"]


class _LazyPattern:
    """Stands for ``re.compile(source, flags)``; compiled when a method is first asked for."""

    def __init__(self, source: str | bytes, flags: int) -> None:
        self._source = source
        self._flags = flags

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        # Two threads may both compile it: the patterns are equal, either one is kept.
        value = getattr(re.compile(self._source, self._flags), name)
        self.__dict__[name] = value  # found directly from now on, without this method
        return value

    def __repr__(self) -> str:
        return f"lazy({self._source!r})"


def lazy(source: AnyStr, flags: int = 0) -> re.Pattern[AnyStr]:
    """``re.compile(source, flags)``, done on first use."""
    return cast("re.Pattern[AnyStr]", _LazyPattern(source, flags))
