"""The stop signals the ``convcli`` command answers, and the one it got.

Kept apart from the CLI, and light (no NumPy): ``convcli.__main__`` takes
them from the process's first moment, while NumPy and the CLI load (a stop
there used to end in NumPy's ImportError traceback, or, for SIGTERM and
SIGHUP, in the signal's default action with nothing said; a review), and
:mod:`convcli.cli` from then on.
"""

from __future__ import annotations

import signal

# Each stop signal, and how the last line names it.
STOP_SIGNALS = {signal.SIGINT: "interrupted", signal.SIGTERM: "terminated"}
if hasattr(signal, "SIGHUP"):  # not on Windows
    STOP_SIGNALS[signal.SIGHUP] = "hung up"

# The stop signal received, if any: ``{"signum": N}`` (the CLI's handler
# keeps it here too, so that one whose exception was lost, swallowed by
# third-party code, still stops the command).
received: dict = {}
