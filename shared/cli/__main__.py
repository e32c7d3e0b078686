"""`python -m shared.cli` (what the `postgate` launcher in .venv/bin runs)."""

import sys

from shared.cli.main import main

sys.exit(main())
