"""What every handler of one emulator shares: its settings, its database and its clock."""

from __future__ import annotations

import time
from collections.abc import Callable

import attrs
from aiohttp import web

from .config import EmulatorConfig
from .db import DatabaseThread

__all__ = ["STATE", "EmulatorState"]


@attrs.define
class EmulatorState:
    """The shared state of one emulator app, stored on the app under :data:`STATE`."""

    config: EmulatorConfig
    db: DatabaseThread
    #: Epoch seconds, read once per request so one request sees one moment.
    clock: Callable[[], float] = time.time
    #: The address the emulator listens on (``--host``): a ``Host`` it names is allowed.
    bound_host: str = "127.0.0.1"


STATE = web.AppKey("agnost_emulator_state", EmulatorState)
