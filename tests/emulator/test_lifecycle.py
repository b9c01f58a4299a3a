"""Starting and stopping an in-process emulator, including a start that fails."""

from __future__ import annotations

import socket
import warnings

import pytest

from agnost.emulator import Emulator

from .conftest import Api


def test_after_a_failed_start_it_says_it_is_not_running_and_can_start_again() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        emulator = Emulator(port=port, hash_cost=4)
        with pytest.raises(OSError):
            emulator.start()

        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no "coroutine was never awaited" either
            for use in (
                lambda: emulator.config,
                lambda: emulator.configure(email_confirmation=True),
                emulator.outbox,
                emulator.clear_outbox,
                emulator.reset,
            ):
                with pytest.raises(RuntimeError, match=r"^the emulator is not running$"):
                    use()
            with pytest.raises(RuntimeError, match="has not been started"):
                _ = emulator.base_url
            emulator.stop()  # nothing to stop: does nothing

    # The port is free now: the same object starts.
    with emulator:
        assert emulator.base_url.endswith(f":{port}")
        assert emulator.config["hashCost"] == 4
        Api(emulator).sign_up()
    with pytest.raises(RuntimeError, match=r"^the emulator is not running$"):
        _ = emulator.config
