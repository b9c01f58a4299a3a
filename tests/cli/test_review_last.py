"""Review (rev-last): a mistyped word on the command line can be a code or a password, and
argparse's "unrecognized arguments: ..." would repeat it. Real ``agnost`` processes."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ._support import ROOT, without_agnost_vars

SECRET = "Zq7-SECRET-491"


@pytest.mark.parametrize(
    "argv",
    [
        ["auth", "sign-in", "--email", "a@example.com", SECRET],  # the password as a word
        ["auth", "sign-in", "--email", "a@example.com", "-p" + SECRET],  # -pPASSWORD
        ["auth", "verify-phone", "--phone", "+15550001", "-c" + SECRET],
        ["auth", "sign-in", "--email", "a@example.com", "--bogus=" + SECRET],
        ["auth", "sign-in", "--email", "a@example.com", "--passw=" + SECRET],  # not --password
        ["auth", "verify-phone", "--phone", "+15550001", "--code-st=" + SECRET],
    ],
)
def test_unrecognized_arguments_are_refused_without_being_repeated(argv: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "agnost", *argv],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env=without_agnost_vars(PYTHONPATH=str(ROOT)),
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "unrecognized argument" in done.stderr
    assert "not shown" in done.stderr
    assert SECRET not in done.stdout + done.stderr
