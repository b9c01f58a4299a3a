"""The blocking client's direct send (68f3014) keeps the environment's proxy settings while
``os.environ`` stays as it was: the environment it keeps them for must be the one they were
worked out from, even when it changes while they are being worked out (another thread
setting a proxy variable then). Found by rev-client, fixed in e565ac8."""

from __future__ import annotations

import os
import sys
from types import FrameType
from typing import Any

import pytest
import requests

import agnost

from ._support import RecordingServer, json_reply, signed_in_store


def test_a_proxy_set_while_the_settings_are_worked_out_is_used_by_the_next_call(
    server: RecordingServer, other_origin: RecordingServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy = other_origin
    for name in ("HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    server.script(json_reply([]))
    proxy.script(json_reply([]))
    client = agnost.create_client(server.url + "/e:abc", "ck", storage=signed_in_store())
    watched = requests.Session.merge_environment_settings.__code__
    changed: list[bool] = []

    def another_thread_sets_a_proxy(frame: FrameType, event: str, arg: Any) -> None:
        # Right as requests returns the settings of the environment without a proxy, the
        # environment changes (as another thread's os.environ[...] = ... would do then).
        if event == "return" and frame.f_code is watched and not changed:
            os.environ["HTTP_PROXY"] = proxy.url
            changed.append(True)

    try:
        sys.setprofile(another_thread_sets_a_proxy)
        try:
            assert client.auth.get_all_sessions() == []  # sent before the change: no proxy
        finally:
            sys.setprofile(None)
        assert changed and len(server.requests) == 1 and proxy.requests == []

        assert client.auth.get_all_sessions() == []  # the environment now names a proxy
    finally:
        client.close()
        # Set behind monkeypatch's back (it recorded the variable as absent): put it back.
        os.environ.pop("HTTP_PROXY", None)
    assert len(proxy.requests) == 1, "the proxy set in the environment was not used"
    assert proxy.requests[0].target.startswith(server.url + "/e:abc/")
    assert len(server.requests) == 1
