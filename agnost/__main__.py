"""``python -m agnost``: the same as the ``agnost`` command."""

import sys

from .cli import main

sys.exit(main())
