"""`python -m smolopt.cli`."""

import sys

from smolopt.cli import main

sys.exit(main())
