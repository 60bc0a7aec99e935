"""``python -m convcli`` and the ``convcli`` command.

:func:`main` imports the CLI itself, so that Ctrl-C while Python loads it
(NumPy, typer, rich: a few tenths of a second) ends with convcli's one line
and exit 130, as it does later in a run, instead of a traceback of the
import that was interrupted.
"""

from __future__ import annotations

import sys


def main() -> None:
    cli = None
    try:
        from . import cli

        cli.main()
    except KeyboardInterrupt as exc:  # one cli.main had no handler for yet (it installs them first thing)
        if cli is None:
            sys.stderr.write("convcli: interrupted; nothing was written\n")
            sys.exit(130)
        stop = cli._stopped(exc)  # its line: whether the outputs are in place, and the signal's exit code
        sys.exit(stop.exit_code)


if __name__ == "__main__":
    main()
