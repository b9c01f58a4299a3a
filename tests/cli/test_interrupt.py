"""Ctrl-C during ``agnost smoke``: the run stops at once, exit status 130, one line saying so.

The server here accepts the connection and never answers, so the smoke run is waiting on the
network when the SIGINT comes, as it would be against a slow environment."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading

import pytest

from ._support import ROOT, without_agnost_vars


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_ctrl_c_while_smoke_waits_for_the_server_stops_with_130(flavour: str) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(30)
        port = listener.getsockname()[1]
        env = without_agnost_vars(PYTHONPATH=str(ROOT))
        command = [sys.executable, "-m", "agnost", "smoke", "--flavour", flavour]
        command += ["--env-url", f"http://127.0.0.1:{port}/e:x", "--client-key", "k"]
        proc = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        watchdog = threading.Timer(60, proc.kill)
        watchdog.start()
        try:
            connection, _ = listener.accept()  # the first request is on its way
            with connection:
                proc.send_signal(signal.SIGINT)
                out, err = proc.communicate(timeout=30)
        finally:
            watchdog.cancel()
            if proc.poll() is None:
                proc.kill()
            proc.wait()
    assert proc.returncode == 130, out + err
    assert err.endswith("agnost: interrupted\n") and "Traceback" not in err
