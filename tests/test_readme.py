"""The README's Python blocks run against an emulator, so the README cannot rot."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

import agnost
from agnost.emulator import Emulator

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
PLACEHOLDER_URL = "https://myapp.example.com"
PLACEHOLDER_KEY = "my-client-key"


def test_the_readme_has_python_examples() -> None:
    assert len(BLOCKS) >= 5


@pytest.mark.parametrize("source", BLOCKS, ids=[f"block-{i}" for i in range(len(BLOCKS))])
def test_readme_block_runs(
    source: str,
    agnost_emulator: Emulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The examples talk to "https://myapp.example.com" as user ada@example.com; here that is
    # the test's emulator, with ada signed up.
    monkeypatch.chdir(tmp_path)
    with agnost.create_client(
        agnost_emulator.base_url, agnost_emulator.client_key, storage=agnost.MemoryStore()
    ) as setup:
        setup.auth.sign_up_with_email("ada@example.com", "correct horse", "Ada")
    code = source.replace(PLACEHOLDER_URL, agnost_emulator.base_url).replace(
        PLACEHOLDER_KEY, agnost_emulator.client_key
    )
    namespace: dict[str, Any] = {"__name__": "readme"}
    exec(compile(code, f"README.md block {BLOCKS.index(source)}", "exec"), namespace)
    # A block that defines pytest tests gets them run, with this test's emulator.
    for name, function in namespace.items():
        if name.startswith("test_") and callable(function):
            agnost_emulator.reset()
            function(agnost_emulator)
    assert "Traceback" not in capsys.readouterr().err
