"""The command line's log: one line per request in LOG_FORMAT, with the time as
logging.Formatter writes it (the formatter makes the date text once a second, and lines are
written through a buffer flushed every LOG_FLUSH_INTERVAL, issue 12)."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
import time
from pathlib import Path

import requests

from agnost.emulator.logs import LOG_FORMAT, LogFormatter

LINE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} aiohttp\.access INFO GET /_emulator/health 200 "
)


def _count(log: Path) -> int:
    return sum(1 for line in log.read_text().splitlines() if LINE.match(line))


def test_the_formatter_writes_what_logging_formatter_writes() -> None:
    fast, plain = LogFormatter(LOG_FORMAT), logging.Formatter(LOG_FORMAT)
    for created in (0.0, 1.9994, 1.9996, 1_780_000_000.5, 1_780_000_000.999, 1_780_000_001.0):
        record = logging.LogRecord("agnost", logging.INFO, __file__, 1, "GET %s", ("/x",), None)
        record.created, record.msecs = created, (created - int(created)) * 1000
        assert fast.format(record) == plain.format(record)


def test_the_command_line_logs_one_line_per_request(tmp_path: Path) -> None:
    ready = tmp_path / "ready.json"
    command = [sys.executable, "-m", "agnost", "emulator", "--ephemeral", "--port", "0"]
    with (tmp_path / "log").open("wb") as log:
        process = subprocess.Popen([*command, "--ready-file", str(ready)], stderr=log)
        try:
            deadline = time.monotonic() + 30
            while not ready.exists() and time.monotonic() < deadline:
                assert process.poll() is None
                time.sleep(0.05)
            url = json.loads(ready.read_text())["url"]
            for _ in range(3):
                assert requests.get(url + "/_emulator/health", timeout=10).status_code == 200
            # Buffered, but written while it runs (within LOG_FLUSH_INTERVAL), not only at exit.
            while time.monotonic() < deadline and _count(tmp_path / "log") < 3:
                time.sleep(0.05)
            assert _count(tmp_path / "log") == 3
        finally:
            process.terminate()
            process.wait(10)
    assert _count(tmp_path / "log") == 3  # and nothing lost or doubled at exit
