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


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, a job scheduler's time limit) or SIGHUP (a closed
    terminal, a dropped ssh session), raised where Python is when it arrives,
    so that the run unwinds as it does for Ctrl-C: the staging folder is
    removed and nothing is left half-written. Exit 128 + the signal's number
    (143, 129), as a shell reports a process the signal ended."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def stop(signum: int) -> KeyboardInterrupt:
    """The exception a stop signal raises: Ctrl-C's own, or :class:`Terminated`."""
    return KeyboardInterrupt() if signum == signal.SIGINT else Terminated(signum)


# The stop signal received, if any: ``{"signum": N}`` (the CLI's handler
# keeps it here too, so that one whose exception was lost, swallowed by
# third-party code, still stops the command).
received: dict = {}
