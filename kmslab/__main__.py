"""``python -m kmslab``: the same as the ``kmslab`` command."""

import sys

from kmslab.cli import main

sys.exit(main())
