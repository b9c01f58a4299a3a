"""``python -m agnost.cli``: the ``agnost`` command line."""

import sys

from . import main

sys.exit(main())
