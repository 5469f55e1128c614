"""``python -m flowproject.cli``: what ./deploy runs (no console script needed)."""

import sys

from .main import main

sys.exit(main())
