"""``python -m agnost.emulator``: the same as ``agnost emulator``."""

from __future__ import annotations

import argparse
import sys

from .command import add_arguments, run


def main(argv: list[str] | None = None) -> int:
    """Parse the emulator's options and serve."""
    parser = argparse.ArgumentParser(
        prog="python -m agnost.emulator", description="Run the local Agnost auth emulator."
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
