"""``python -m convcli`` and the ``convcli`` command.

:func:`main` takes the stop signals (Ctrl-C, SIGTERM, SIGHUP) and then
imports the CLI itself, so that a stop while Python loads it (NumPy, typer,
rich: a few tenths of a second) ends with convcli's one line and the
signal's exit code (130, 143, 129), as it does later in a run, instead of a
traceback of the import that was interrupted (or, for SIGTERM and SIGHUP,
the signal's default action with nothing said); and once the command has
ended, a stop signal no longer changes its exit code (:func:`_finished`).
"""

from __future__ import annotations

import signal
import sys

from . import stops


def _finished(stop_signals) -> None:
    """The command is over and has said how (its report, or its error line):
    from here on a stop signal could only turn its exit code into 128 + the
    signal's number with nothing said, while Python shuts down (joining the
    engine's threads, freeing large arrays: up to 1.7 s measured after a
    200 MB run). So the stop signals (the CLI's) are ignored for that last
    stretch."""
    for signum in stop_signals:
        for _ in range(2):  # (again, once, if one arrived just as it changed: the exit said is the exit)
            try:
                signal.signal(signum, signal.SIG_IGN)
                break
            except KeyboardInterrupt:
                continue


def _early(signum, frame) -> None:
    """A stop signal while the CLI loads: remembered, and raised as Ctrl-C
    is (SIGTERM and SIGHUP too, whose default action ended the process
    with nothing said)."""
    if "signum" in stops.received:  # one is on its way out already: the first is the one said
        return
    stops.received["signum"] = signum
    raise stops.stop(signum)


def _stopped_early() -> None:
    """The line (and under --json the document) of a stop before the CLI
    had loaded, and the signal's exit code, as the CLI's own say it."""
    signum = stops.received.get("signum", signal.SIGINT)
    what = f"{stops.STOP_SIGNALS[signum]}; nothing was written"
    try:
        sys.stderr.write(f"convcli: {what}\n")
        if "--json" in sys.argv[1:]:
            import json

            sys.stdout.write(json.dumps({"ok": False, "error": {"where": "", "what": what,
                                                                 "exit_code": 128 + signum}}, indent=2) + "\n")
    except (AttributeError, OSError, ValueError):  # a closed stream
        pass
    sys.exit(128 + signum)


def main() -> None:
    try:
        _main()
    except SystemExit:  # how every command ends, whatever the outcome (its stop's line included: a second
        _finished(stops.STOP_SIGNALS)  # signal then ended the process by SIGINT itself, a review)
        # A Ctrl-C handled while code made by exec ran (a dataclass's methods, as a module loads) leaves
        # CPython's "unhandled KeyboardInterrupt" mark, and `python -m` then ends the process by SIGINT
        # (status -2) whatever the exit said (a review: after convcli's line, 3 runs in 150). An exec of
        # nothing clears the mark: the exit said is the exit.
        exec("None")
        raise


def _main() -> None:
    cli = None
    try:
        for signum in stops.STOP_SIGNALS:
            if signal.getsignal(signum) is not signal.SIG_IGN:  # an ignored one (nohup, a background job) stays so
                signal.signal(signum, _early)
        from . import cli

        cli.main(fresh=False)  # (a stop received while it loaded is this run's)
    except KeyboardInterrupt as exc:  # one cli.main had no handler for yet (it installs them first thing)
        _stopped_here(cli, exc)
    except Exception:
        # A stop turned into another exception by the code it hit: NumPy's C import makes it an ImportError
        # (its "IMPORTANT: PLEASE READ THIS" traceback, exit 1), a class body's __set_name__ a RuntimeError
        # (as check's import, outside the command's guard; two reviews)
        if "signum" in stops.received:
            _stopped_here(cli, stops.stop(stops.received["signum"]))
        raise


def _stopped_here(cli, exc: KeyboardInterrupt) -> None:
    """A stop's line (and under --json its document) and exit code, where
    the CLI did not say it: the CLI's own words once it is loaded. The stop
    signals are ignored first: this is the end (a second one, as this
    spoke, printed a traceback or ended the process by SIGINT; a review)."""
    _finished(stops.STOP_SIGNALS)
    if cli is None:
        _stopped_early()
    stop = cli._stopped(exc, as_json="--json" in sys.argv[1:])
    sys.exit(stop.exit_code)


if __name__ == "__main__":
    main()
