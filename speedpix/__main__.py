"""``python -m speedpix``: the ``speedpix`` command."""

import sys

from .cli import main

sys.exit(main())
