"""Defects found reviewing the client speed work of issue 12 (rev-client), fixed in 4c96ef5:
a missing or broken generated structure module neither breaks ``import agnost`` nor stops
``python -m codegen`` from writing it again; blanks around a reason phrase are stripped in
both flavours, as http.client strips them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import agnost
from tests import samples

from ._support import Flavour, RecordingServer, Reply, error_body
from .test_review_speed import JSON, _env_for, _run, _tree_copy


def test_the_package_imports_and_codegen_rebuilds_when_the_structure_module_is_missing(
    tmp_path: Path,
) -> None:
    # The generated module is an optimisation: without it (deleted, or left broken by a
    # merge) the structure functions must be compiled at import as before, and, above all,
    # `python -m codegen` must still run to write it again; it imports agnost._core.wire.
    tree = _tree_copy(tmp_path)
    structure = tree / "agnost" / "_core" / "_structure.py"
    expected = structure.read_text(encoding="utf-8")
    for broken in (None, "<<<<<<< HEAD\n"):
        if broken is None:
            structure.unlink()
        else:
            structure.write_text(broken, encoding="utf-8")
        out = _run(
            "import agnost\n"
            f"session = agnost.from_wire(agnost.Session, {{**{samples.SESSION!r}, 'new': 1}})\n"
            "print(session.extra == {'new': 1})\n",
            cwd=tree,
            env=_env_for(tree),
        )
        assert out.split() == ["True"]
        done = subprocess.run(
            [sys.executable, "-m", "codegen"],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tree,
            env=_env_for(tree),
            check=False,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert structure.read_text(encoding="utf-8") == expected


BLANKED = ["  OK", "OK  ", "\tOK\t", " Bad Request ", "\xa0OK\xa0", "   ", "\x1fO  K\x1c"]


@pytest.mark.parametrize("reason", BLANKED)
def test_blanks_around_a_reason_phrase_are_the_same_in_both_flavours(
    server: RecordingServer, reason: str
) -> None:
    # http.client strips them; aiohttp keeps them, and agnost_async._transport._reason (which
    # says it gives the phrase "as the blocking flavour gives it") passes them on.
    seen = []
    for name in ("sync", "async"):
        with Flavour(name) as flavour:
            client = flavour.make(server.url + "/e:abc")
            server.script(Reply(200, b"{}", reason=reason, headers=JSON))
            answer = flavour.run(client.endpoint.get("/x", returns="response"))
            server.script(Reply(400, error_body("validation_error"), reason=reason, headers=JSON))
            with pytest.raises(agnost.ValidationError) as caught:
                flavour.run(client.endpoint.get("/x"))
            seen.append((name, answer.reason, caught.value.status_text, str(caught.value)))
    assert seen[0][1:] == seen[1][1:], seen
