"""The command line's ``agnost api --include``: a session token the server echoes in its
reason phrase is hidden, as it is in the headers and the body (found by rev-client)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import agnost

from ._support import CLIENT_KEY, CURRENT_TOKEN, RecordingServer, Reply, session_wire

COMMAND = (sys.executable, "-m", "agnost.cli", "api", "GET", "/x")


@pytest.mark.parametrize("output", [[], ["--json"]])
def test_api_include_hides_a_token_echoed_in_the_reason_phrase(
    server: RecordingServer, tmp_path: Path, output: list[str]
) -> None:
    url = server.url + "/e:abc"
    store = agnost.FileStore(url, CLIENT_KEY, data_dir=tmp_path)
    with agnost.create_client(url, CLIENT_KEY, storage=store) as client:
        client.auth.set_session(agnost.from_wire(agnost.Session, session_wire(CURRENT_TOKEN)))
    headers = (("Content-Type", "application/json"), ("X-Echo", CURRENT_TOKEN))
    server.script(Reply(200, b'{"a": 1}', reason=f"Echo {CURRENT_TOKEN}", headers=headers))
    env = {**os.environ, "AGNOST_DATA_DIR": str(tmp_path)}
    done = subprocess.run(
        [*COMMAND, "-i", *output, "--env-url", url, "--client-key", CLIENT_KEY],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert server.last.header("Session") == CURRENT_TOKEN  # the token was sent
    assert CURRENT_TOKEN not in done.stdout + done.stderr
    if output:
        assert json.loads(done.stdout)["body"] == {"a": 1}
    else:
        assert done.stdout.startswith("HTTP 200 Echo ")
