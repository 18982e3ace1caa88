"""``python -m absorbphys.cli``: the ``absorbphys`` command."""

import sys

from absorbphys.cli import main

sys.exit(main())
