"""`python -m shared.cli` (what the `postgate` launcher in .venv/bin runs)."""

import os
import sys

from shared.cli.main import main

try:
    code = main()
    sys.stdout.flush()
except BrokenPipeError:
    # The reader left (`postgate calendar | head`): stop quietly, as Unix tools do. Python would
    # otherwise complain again when it flushes stdout at exit, so point stdout at /dev/null first.
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    code = 141  # 128 + SIGPIPE, what a shell reports for a tool killed by a closed pipe
sys.exit(code)
