"""`python -m auger`: the same command as the `auger` console script."""

import sys

from auger.cli import main

sys.exit(main())
