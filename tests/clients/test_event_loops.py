"""One async client serves one running event loop at a time: a second loop running at the same
moment gets a clear ClientError and sends nothing; once the first loop has ended, another loop
may use the client (a second ``asyncio.run``)."""

from __future__ import annotations

import asyncio
import threading

import pytest

import agnost
import agnost_async
from agnost.emulator import Emulator


def test_a_second_running_loop_is_refused_and_a_later_one_is_served() -> None:
    with Emulator() as emu:
        client = agnost_async.create_client(emu.base_url, emu.client_key, stateless=True)
        first_call_done = threading.Event()
        release = threading.Event()
        first: list[object] = []

        async def hold_a_loop() -> None:
            first.append(await client.endpoint.get("/first"))
            first_call_done.set()
            while not release.is_set():  # this loop keeps running, its session in use
                await asyncio.sleep(0.01)
            first.append(await client.endpoint.get("/again"))

        thread = threading.Thread(target=asyncio.run, args=(hold_a_loop(),))
        thread.start()
        try:
            assert first_call_done.wait(30)
            with pytest.raises(agnost.ClientError) as info:
                asyncio.run(client.endpoint.get("/second"))
            assert info.value.items[0].code == "event_loop_in_use"
            assert "one client per event loop" in str(info.value)
        finally:
            release.set()
            thread.join(30)
        # The first loop's calls were not disturbed, and its loop has ended now.
        assert [answer["path"] for answer in first] == ["/first", "/again"]  # type: ignore[index]

        async def later() -> object:
            try:
                return await client.endpoint.get("/later")
            finally:
                await client.aclose()

        assert asyncio.run(later())["path"] == "/later"  # type: ignore[index]
