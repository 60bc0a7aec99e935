"""``python -m convcli`` and the ``convcli`` command.

:func:`main` imports the CLI itself, so that Ctrl-C while Python loads it
(NumPy, typer, rich: a few tenths of a second) ends with convcli's one line
and exit 130, as it does later in a run, instead of a traceback of the
import that was interrupted; and once the command has ended, a stop signal
no longer changes its exit code (:func:`_finished`).
"""

from __future__ import annotations

import signal
import sys


def _finished(stop_signals) -> None:
    """The command is over and has said how (its report, or its error line):
    from here on a stop signal could only turn its exit code into 128 + the
    signal's number with nothing said, while Python shuts down (joining the
    engine's threads, freeing large arrays: up to 1.7 s measured after a
    200 MB run). So the stop signals (the CLI's) are ignored for that last
    stretch."""
    for signum in stop_signals:
        signal.signal(signum, signal.SIG_IGN)


def main() -> None:
    cli = None
    try:
        from . import cli

        cli.main()
    except SystemExit:  # how cli.main ends, whatever the outcome
        _finished(cli._STOP_SIGNALS)
        raise
    except KeyboardInterrupt as exc:  # one cli.main had no handler for yet (it installs them first thing)
        if cli is None:
            sys.stderr.write("convcli: interrupted; nothing was written\n")
            sys.exit(130)
        stop = cli._stopped(exc)  # its line: whether the outputs are in place, and the signal's exit code
        sys.exit(stop.exit_code)


if __name__ == "__main__":
    main()
