"""The command line (DESIGN.md section 3): parse, call the library, print.

This is the one place where errors become exit codes:

- 0: success;
- 1: a check or gradcheck failed;
- 2: bad usage or bad input: one line ``convcli: error: WHERE: WHAT`` on
  stderr, no traceback (``--debug`` shows one), nothing left on disk;
- 3: a bug in convcli (an exception it did not expect), also one line.

Human output is rich tables on stdout (no colour codes when stdout is not a
terminal); ``--json`` prints exactly one JSON document on stdout instead.
Errors and progress bars go to stderr.
"""

from __future__ import annotations

import errno
import json
import logging
import math
import os
import re
import shutil
import signal
import sys
import threading
import time
import traceback
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Annotated, Optional

import numpy as np
import typer
from typer.core import TyperCommand, TyperGroup
from rich import box
from rich.console import Console
from rich.segment import Segment
from rich.table import Table
from rich.text import Text

from . import __version__, stops
from .arrays import DEFAULT_MAX_MEMORY, format_size, parse_size
from .errors import ConvcliError, broken_link, fmt_shape, nearest_folder, path_error, short_path
from .hparams import joined
from .stats import TABLE_DIGITS

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_BUG = 0, 1, 2, 3

# A flag takes no value: FLAG keeps the help from showing one (typer's default, <bool>, suggests --force true).
FLAG = ""


class _HelpIsAFlag:
    """--help/-h is a flag too: without this, typer shows it as ``-h <bool>``."""

    def get_help_option(self, ctx):
        option = super().get_help_option(ctx)
        if option is not None:
            option.metavar = FLAG
        return option


class _Group(_HelpIsAFlag, TyperGroup):
    pass


class _Command(_HelpIsAFlag, TyperCommand):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for param in self.params:  # a path read through _path shows as typer's own paths do: <path>, not <Path>
            if getattr(getattr(getattr(param, "type_descriptor", None), "parameter_info", None), "parser", None) is _path:
                param.display_type_rich = lambda ctx: "<path>"

    def parse_args(self, ctx, args):
        _refuse_repeated(ctx, self.params, args)
        return super().parse_args(ctx, args)


def _refuse_repeated(ctx, params, args: list[str]) -> None:
    """An option that takes one value, given twice, is a usage error: click
    keeps the last one silently, so a grading loop's ``--against $A
    --against $B`` graded B alone and exited 0 (a review). ``--opt=V``,
    ``-oV`` and ``-o V`` count alike; the words after ``--`` are no
    options; a flag, or an option given the same value twice, says the
    same thing twice and stands; --help anywhere but as an option's value
    (``-o -h``) shows the help, as click has it, and a value left out is
    click's to say (a review)."""
    takes = {}  # option string -> the option, for those that take a value
    for p in params:
        if getattr(p, "param_type_name", "") == "option" and not p.is_flag and not p.count and not p.multiple:
            for o in p.opts + p.secondary_opts:
                takes[o] = p
    given: list[tuple[str, object, str]] = []  # (as written, option, value) of each option that takes one
    i = 0
    while i < len(args) and args[i] != "--":
        token, value = args[i], None
        name = token
        if token.startswith("--") and "=" in token:
            name, value = token.split("=", 1)
        elif not token.startswith("--") and token.startswith("-") and len(token) > 2 and token[:2] in takes:
            name, value = token[:2], token[2:]  # -oV
        option = takes.get(name)
        if option is None and token in ctx.help_option_names:
            return
        if option is not None:
            if value is None:
                if i + option.nargs >= len(args):  # "requires an argument": click's own line
                    return
                value = " ".join(args[i + 1:i + 1 + option.nargs])
                i += option.nargs
            given.append((name, option, value))
        i += 1
    seen: dict = {}  # option's name -> its value as first given
    for name, option, value in given:
        if option.name in seen and seen[option.name] != value:
            errors = sys.modules[typer.BadParameter.__module__]  # click's exceptions, vendored by typer or not
            name = next((o for o in option.opts if o.startswith("--")), name)  # as other usage errors say it
            both = f"'{short_path(seen[option.name])}', then '{short_path(value)}'"
            raise errors.BadOptionUsage(name, f"given twice ({both}); give it once", ctx=ctx)
        seen[option.name] = value


app = typer.Typer(
    cls=_Group,
    name="convcli",
    help=(
        "Run 2-D convolution and pooling layers forward and backward on NumPy, "
        "from a YAML config; write the results, check them, check the gradients.\n\n"
        "Exit codes: 0 ok, 1 a check or gradcheck failed, 2 bad usage or input, 3 a bug (please report it); "
        "130, 143, 129 stopped by SIGINT, SIGTERM, SIGHUP (nothing written)."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["--help", "-h"]},
)

# ----------------------------------------------------------------- options


def _path(text: str) -> Path:
    """A path argument or option as given: ``Path("")`` is ``Path(".")``, so an
    empty one (``--out "$UNSET"``) would read as the current folder."""
    if not text:
        raise typer.BadParameter("is empty; give a file or folder name")
    return Path(text)


ConfigArg = Annotated[Path, typer.Argument(help="The YAML config file.", show_default=False, metavar="CONFIG", parser=_path)]
OutOpt = Annotated[
    Optional[Path],
    typer.Option("--out", "-o", help="Output folder. (default: convcli-out/<config stem>)", show_default=False,
                 parser=_path),
]
FormatOpt = Annotated[str, typer.Option("--format", help="Output format: npy (a file per quantity) or h5 (outputs.h5).")]
EngineOpt = Annotated[
    Optional[str], typer.Option("--engine", help="fast or reference. (default: the config's, else fast)", show_default=False)
]
DtypeOpt = Annotated[
    Optional[str], typer.Option("--dtype", help="float64 or float32. (default: the config's, else float64)", show_default=False)
]
ForceOpt = Annotated[
    bool, typer.Option("--force", metavar=FLAG, help="Replace an existing output folder (one convcli wrote).")
]
JsonOpt = Annotated[
    bool, typer.Option("--json", metavar=FLAG, help="Print one JSON document on stdout instead of tables.")
]
DebugOpt = Annotated[bool, typer.Option("--debug", metavar=FLAG, help="Show the Python traceback of an error.")]
# convcli is installed from a clone, not from PyPI: `pip install 'convcli[plot]'`
# finds nothing there (a review), so help names matplotlib itself.
PLOT_EXTRA = "matplotlib: pip install matplotlib"
PlotOpt = Annotated[
    bool,
    typer.Option("--plot", metavar=FLAG, help=f"Also draw one PNG per quantity into OUT/plots/ (needs {PLOT_EXTRA})."),
]
MemOpt = Annotated[
    str,
    typer.Option("--max-memory", help="Refuse any array larger than this, before allocating it (e.g. 512MiB, 4GiB)."),
]
# forward and backward stream a file input's batch rather than refuse it
RunMemOpt = Annotated[
    str,
    typer.Option("--max-memory", help="Refuse any array larger than this, before allocating it (e.g. 512MiB, "
                                      "4GiB); a batch read from a file is streamed in chunks instead."),
]
PlotJsonOpt = Annotated[
    bool, typer.Option("--json", metavar=FLAG, help="Print one JSON document on stdout (what was drawn) instead "
                                                   "of a line.")
]
DEFAULT_MEM = "4GiB"
assert parse_size(DEFAULT_MEM) == DEFAULT_MAX_MEMORY
BudgetOpt = Annotated[
    str,
    typer.Option("--memory-budget", help="Working memory for the run; a batch that does not fit is streamed "
                                         "in chunks of samples (e.g. 512MiB, 2GiB)."),
]
DEFAULT_BUDGET = "512MiB"
# A progress bar shows only for a run still going after this many seconds.
PROGRESS_DELAY = 0.5


def _version(value: bool) -> None:
    if value:
        typer.echo(f"convcli {__version__} (numpy {np.__version__})")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", metavar=FLAG, callback=_version, is_eager=True,
                           help="Print the version and exit.")
    ] = False,
) -> None:
    """Run 2-D convolution and pooling layers forward and backward on NumPy,
    from a YAML config; write the results, check them, check the gradients.

    Exit codes: 0 ok, 1 a check or gradcheck failed, 2 bad usage or input, 3 a bug (please report it);
    130, 143, 129 stopped by SIGINT, SIGTERM, SIGHUP (nothing written).
    """


# ----------------------------------------------------------------- plumbing


def _stdout_closed() -> None:
    """The reader of stdout went away (``convcli check ... | head -1``).

    The rest of the report is dropped, quietly, and the command goes on to
    end as it would have: exit 0, or 1 when a check failed. DESIGN.md
    section 3 gives exit 1 to a failed check alone, so a closed pipe must
    neither fake one (rich's default exits 1) nor hide one (exit 0 always);
    by then the outputs are written and the checks are done.
    """
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())  # so the final flush at exit fails no more
        os.close(null)
    except (OSError, ValueError):  # a stdout without a file descriptor (tests)
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (for the rest of the process)


class _StdoutFailed(Exception):
    """Writing standard output failed for a reason other than a closed pipe
    (a full disk, ``> /dev/full``): the report is lost, so the command ends
    with one line and exit 2, wherever it was (:func:`main` says it).

    The message is that line, built here alone, whichever way stdout failed
    (rich's writer, the JSON report, click's --help, no stdout at all)."""

    def __init__(self, exc: OSError):
        super().__init__(f"cannot write to standard output: {exc.strerror or exc}")


class _Console(Console):
    def on_broken_pipe(self) -> None:
        self.quiet = True  # print nothing more
        _stdout_closed()


class _Stdout:
    """The console's file: stdout, whose writes that fail for any reason but
    a closed pipe (rich's own on_broken_pipe, above) raise _StdoutFailed;
    everything else (isatty, encoding, fileno) is stdout's."""

    def __init__(self, file):
        self._file = file

    def _io(self, call, *args):
        try:
            return call(*args)
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise _StdoutFailed(exc) from None

    def write(self, text: str) -> int:
        return self._io(self._file.write, text)

    def flush(self) -> None:
        self._io(self._file.flush)

    def __getattr__(self, name):
        return getattr(self._file, name)


def _console() -> Console:
    """A console on the current stdout (CliRunner swaps it); no colour codes
    when it is not a terminal; wide enough for the tables in a log. On a
    terminal, a line longer than it wraps between words (the terminal's own
    wrap split "-0.396035134142" from "00325"); in a log or a pipe every
    line stays whole, for grep: a table as wide as its widest row (at a
    fixed 120 columns, a 50-character layer name was folded in two)."""
    tty = sys.stdout.isatty()
    environ = _environ()
    wide = tty or "COLUMNS" in environ
    return _Console(file=_Stdout(sys.stdout), highlight=False, soft_wrap=not tty,
                    width=None if wide else LOG_WIDTH, _environ=environ)


def _environ() -> dict[str, str]:
    """The environment the consoles read, with a COLUMNS or LINES that is no
    size left out, and one with spaces around it stripped (rich took
    COLUMNS=0 as a width of 0: a review's check printed nothing, exit 0;
    COLUMNS=abc or ' 200 ' made a log's table 80 wide; COLUMNS=² raised)."""
    env = dict(os.environ)
    _clean_sizes(env)
    return env


def _clean_sizes(env) -> None:
    """COLUMNS and LINES in ``env`` as a console may take them: digits,
    above 0, at most 6 of them (20 made rich overflow, 5000 Python's int():
    a review), spaces stripped; any other value removed."""
    for k in ("COLUMNS", "LINES"):
        if k in env:
            value = env[k].strip()
            if value.isascii() and value.isdecimal() and len(value) <= 6 and int(value) > 0:
                env[k] = value
            else:
                del env[k]


# Below this many columns --help is click's plain help: typer's rich panels cut
# what does not fit their columns with "..." (a terminal review at 40 columns:
# --sampl..., --thres...; at 56 a description's eps*max(1,|x|...), an option
# that cannot be read cannot be typed; none was cut from 58 columns on).
HELP_RICH_MIN_WIDTH = 64
# An unknown option's near names that are said: the nearest, and those within this of its likeness
# (difflib's ratio): --formt is 0.93 like --format, 0.71 like --force.
NEAR_OPTIONS = 0.1
_RICH_HELP = typer.core.HAS_RICH  # (TYPER_USE_RICH=0 turns it off everywhere)


def _click_formatting():
    """click's formatting module, vendored by typer or not (as its exceptions are)."""
    return sys.modules[typer.BadParameter.__module__.rsplit(".", 1)[0] + ".formatting"]

# The width of a console that is no terminal (a log, a pipe), COLUMNS unset:
# wider than any table convcli prints, which are only as wide as they need.
LOG_WIDTH = 10_000


def _say_error(text: str) -> None:
    _say("convcli: error: " + " ".join(str(text).split()) + "\n")


def _say(line: str) -> None:
    try:  # a closed stderr (2>&-: Python's sys.stderr is None; a hung-up terminal) must not change the exit code
        sys.stderr.write(line)
        sys.stderr.flush()
    except (AttributeError, OSError, ValueError):
        pass


_Terminated = stops.Terminated  # SIGTERM or SIGHUP, raised as Ctrl-C is (see convcli.stops)


# The signals that stop a run cleanly, and how the last line names each.
_STOP_SIGNALS = stops.STOP_SIGNALS

# Where forward/backward put their outputs, once they are in place (a report
# that then cannot be written says so); plot and check --plot their picture
# ("picture": True).
_committed: dict = {}


def _written() -> str:
    """What is in place, and where: 'the outputs were written to OUT' (or
    'the picture was ...'); '' before anything is."""
    if not _committed:
        return ""
    return f"{'the picture was' if _committed.get('picture') else 'the outputs were'} written to {_committed['out']}"


@contextmanager
def _reporting(as_json: bool = False):
    """The report of a run whose outputs are in place (:data:`_committed`): a
    stop signal now ends it with the signal's exit code and a line saying
    where the outputs are (_guard's "nothing was written" is over by then)."""
    try:
        yield
    except KeyboardInterrupt as exc:
        raise _stopped(exc, as_json) from None


def _stopped(exc: KeyboardInterrupt, as_json: bool = False) -> typer.Exit:
    """A stop signal's last line (what it interrupted, and whether the
    outputs are in place) and its exit code, 128 + the signal's number;
    under --json also the error document on stdout (a script reading it
    reads JSON whatever happened)."""
    signum = exc.signum if isinstance(exc, _Terminated) else signal.SIGINT
    as_json = as_json and not _said.get("final")  # (one document only)
    _said["stop"] = True
    done = _written() or "nothing was written"
    notes = "".join(f"; {note}" for note in getattr(exc, "__notes__", ()))  # where replaced outputs wait
    what = f"{_STOP_SIGNALS[signum]}; {done}{notes}"
    _say(f"convcli: {what}\n")
    if as_json:
        try:
            _print_json({"ok": False, "error": {"where": "", "what": what, "exit_code": 128 + signum}})
        except (OSError, ValueError, KeyboardInterrupt, typer.Exit):  # a stdout closed by the same Ctrl-C, or a
            pass  # second signal: the line above said it
    return typer.Exit(128 + signum)


# The stop signal received, if any (see _on_signal); the same dict as
# convcli.__main__'s, which takes the signals while the CLI loads.
_signalled: dict = stops.received

# This command's own: "stop" once a stop signal's line has been said (main
# says it where a stop outside _guard ended the command: typer turns it into
# exit 130, silently), "final" once its last document is being written,
# "raised" when a stop's exception was last raised (see _on_signal).
_said: dict = {}


_stop = stops.stop


def _on_signal(signum, frame) -> None:
    """A stop signal (:data:`_STOP_SIGNALS`): raised where Python is, and
    remembered. Raised inside a module being imported (NumPy's lazily loaded
    numpy.random: 1 run in 3 killed right after its staging folder appeared
    went on and exited 0; :func:`main` now imports it first), the exception
    can be lost, so :func:`_stop_if_signalled` raises it again before
    anything is committed."""
    _signalled.setdefault("signum", signum)  # the first is the one said
    raised = _said.get("raised")
    if _holds or _said.get("final") or (raised is not None and time.monotonic() - raised < STOP_GRACE_S):
        # held: raised when the hold ends (_holding_stops); after the last document, nothing to stop; and
        # one raised a moment ago unwinds the run: a second, raised inside its cleanup (a folder's removal,
        # a put-back, the line, the document), cut them short (two reviews: the old outputs left hidden,
        # a PNG's temp file left, two lines, no document, exit 130 for a SIGTERM). Later than that, the
        # first's exception was lost (third-party code swallowed it) and the run goes on: raised again
        # (a review: a long reference-engine layer could not be stopped until it ended)
        return
    raise _raised(_signalled["signum"])


# After a stop is raised, the next ones wait this long (seconds): a cleanup's moments.
STOP_GRACE_S = 2.0


def _raised(signum: int) -> KeyboardInterrupt:
    """A stop's exception, noted as raised now (see _on_signal)."""
    _said["raised"] = time.monotonic()
    return _stop(signum)


# Open holds of the stop signals (_holding_stops).
_holds: list = []


@contextmanager
def _holding_stops():
    """A stop signal arriving inside is raised at its end: the steps in it
    (a rename and the note that it was made) are never cut in two."""
    _holds.append(None)
    try:
        yield
    finally:
        _holds.pop()
    if not _holds:
        _stop_if_signalled()


def _stop_if_signalled(*_) -> None:
    """Raise the stop signal received, if any (one whose exception was lost);
    the progress callbacks' check between steps and chunks (their arguments
    ignored)."""
    if "signum" in _signalled:
        raise _raised(_signalled["signum"])


_default_unraisablehook = sys.unraisablehook


def _unraisable(unraisable) -> None:
    """Python's report of an exception it cannot raise (one in a weakref or
    garbage-collector callback), but not a stop signal's: its exception is
    lost there, and the next check raises it again (the progress callbacks',
    between steps and chunks; a review: a traceback, then the run went on to
    its end)."""
    if isinstance(unraisable.exc_value, KeyboardInterrupt) and "signum" in _signalled:
        return
    _default_unraisablehook(unraisable)


@contextmanager
def _guard(debug: bool, as_json: bool = False):
    """Turn every error into one line on stderr and an exit code; with
    ``--json``, also a JSON document on stdout (``ok`` false, ``error``
    with ``where``, ``what`` and the exit code), so that a script reading
    stdout reads a document whatever happened."""
    _committed.clear()  # a command's own: commands run in one process one after another (tests, the API)
    _said.clear()
    # NumPy's floating-point warnings are noise on a user's stderr: every number convcli reports is
    # checked (NaN, overflow) and said in its own words; --debug shows them
    quiet = nullcontext() if debug else np.errstate(all="ignore")
    if not debug:  # matplotlib's own warnings (a HOME it cannot write its cache in) are not the user's business
        logging.getLogger("matplotlib").setLevel(logging.ERROR)
    try:
        with quiet:
            yield
        _stop_if_signalled()  # one that third-party code swallowed
    except (typer.Exit, _StdoutFailed):
        raise
    except ConvcliError as exc:
        _failed(debug, as_json, exc.where, exc.what, EXIT_BAD_INPUT)
    except KeyboardInterrupt as exc:  # Ctrl-C, SIGTERM or SIGHUP (_Terminated): the staging folder is gone by now
        raise _stopped(exc, as_json) from None
    except MemoryError:
        _failed(debug, as_json, "", "out of memory: use a smaller input (slice:) or a lower --max-memory to refuse "
                                    "it up front", EXIT_BAD_INPUT)
    except Exception as exc:  # a bug: still one line, unless --debug
        if "signum" in _signalled and not debug:
            # a stop signal's exception turned into another by the code it hit (HDF5's callback into the
            # file object: SystemError; a module compiled as it came: SyntaxError; a review: exit 3)
            raise _stopped(_stop(_signalled["signum"]), as_json) from None
        _failed(debug, as_json, "", f"internal error: {type(exc).__name__}: {exc} (a bug in convcli; run with "
                                    "--debug for the traceback and please report it)", EXIT_BUG)


def _failed(debug: bool, as_json: bool, where: str, what: str, code: int):
    """:func:`_guard`'s end of a command that failed: the traceback under
    --debug, the one line on stderr, under --json the document on stdout,
    then the exit code."""
    if debug:
        traceback.print_exc()
    _say_error(f"{where}: {what}" if where else what)
    if as_json:
        _print_json({"ok": False, "error": {"where": where, "what": what, "exit_code": code}})
    raise typer.Exit(code) from None


def _plan(config: Path, dtype, engine, max_memory: str | None, memory_budget: str | None = None,
          backward: bool | None = True, expected: bool = True):
    """runner.plan for a command's options; ``max_memory`` None: no cap but
    the largest size there is (``shapes``, which computes nothing).
    ``expected``: whether the config's expected: entries are in use (not
    under check --expected FILE, whose entries stand in for them)."""
    from . import parallel, runner
    from .config import MAX_SIZE

    budget = None if memory_budget is None else parse_size(memory_budget, "--memory-budget")
    cap = MAX_SIZE if max_memory is None else parse_size(max_memory)
    if max_memory is not None:
        try:  # a bad one is the environment's mistake, not the first layer's
            parallel.threads()
        except ValueError as exc:
            where, what = str(exc).split(": ", 1)
            raise ConvcliError(f"{where} (environment variable)", what) from None
    try:
        p = runner.plan(config, dtype=dtype, engine=engine, max_memory=cap,
                        memory_budget=budget, backward=backward)
    except ConvcliError as exc:
        if exc.where == "--memory-budget" and memory_budget == DEFAULT_BUDGET:  # an option never given
            raise ConvcliError(f"--memory-budget (default {DEFAULT_BUDGET})", exc.what) from None
        raise
    if p.cfg.model.expected and expected:
        from .check import collect_expected

        # Every command finds a mistake in them (a misspelt quantity, an index out of range), not
        # only check: the run that makes an answer key is where its author looks.
        collect_expected(p, p.cfg.model.expected, p.cfg, files=False)
    return p


def _clean(obj):
    """JSON-safe: NaN/Infinity as strings (:func:`stats.json_number`), NumPy
    scalars as Python numbers."""
    from .stats import json_number

    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _clean(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    return json_number(obj)


def _print_json(doc: dict) -> None:
    """A command's one document on stdout (its report, or its error's): the
    last thing it says, so a stop signal after it changes nothing, neither
    a second document nor the exit code (a review: two documents, 'Extra
    data' to json.load)."""
    out = _Stdout(sys.stdout)
    text = json.dumps(_clean(doc), indent=2, allow_nan=False) + "\n"
    _said["final"] = True  # (before the write: a stop during it raised as it returned, and a second followed)
    try:
        out.write(text)
        out.flush()
    except BrokenPipeError:
        _stdout_closed()


def _num(x) -> str:
    if x is None:
        return "-"
    if isinstance(x, (list, tuple)):
        return str(list(x))
    if isinstance(x, np.ndarray):
        return f"array {x.shape}"
    if isinstance(x, str):
        return x
    x = float(x)
    return repr(x) if math.isfinite(x) else str(x)


def _err(x) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.2e}"


def _g(x) -> str:
    return f"{x:.{TABLE_DIGITS}g}"


class _Table(Table):
    """A table whose numbers (right-aligned columns) never fold (a
    "-4.88484e+" over "06" misreads): they and the first column stay on one
    line each when the table fits the terminal with every other column
    wrapped at its spaces; else the numbers alone; and on a terminal too
    narrow even for that, each row is written as a record, its first cell
    on a line and every other cell on a line of its own under its column's
    name. Never cut, never wider than the terminal, whatever the width."""

    blank_above = True  # off for a table right below another, which already left a blank line
    numbers: list = []  # the columns of numbers (_table sets them)

    def __rich_console__(self, console, options):
        numbers = self.numbers
        records, lines = False, []
        for whole in ([self.columns[0], *numbers], numbers):
            lines = self._fitted(console, options, whole)
            if lines is not None:
                break
        else:
            records = True
        # A blank line above and below, as the box's edges gave (show_edge is off:
        # the edge columns cost the two characters an 80-column table lacked).
        if self.blank_above:
            yield Segment.line()
        if records:
            # folded here, at the width: a console that soft-wraps (a log, a pipe) would crop them
            width = max(options.max_width, 1)
            indent = 4 if width >= 12 else 0  # a folded line's rest, indented: not read as a new record
            for text in self._records():
                first = text.wrap(console, width, overflow="fold")[0]  # a line of the width
                # the rest of the text itself (lines wrapped and glued back had lost the spaces
                # their breaks fell on: "[0, 0,0, 0]"), from where the first line's text ends
                rest = text[len(first.plain):]
                rest = rest[len(rest.plain) - len(rest.plain.lstrip(" ")):]
                first.rstrip()
                yield first
                if rest.plain:
                    for line in rest.wrap(console, width - indent, overflow="fold"):
                        line.rstrip()
                        yield Text(" " * indent) + line
            yield Segment.line()
            return
        for line in lines:
            yield from line
            yield Segment.line()
        yield Segment.line()

    def _lines(self, console, options) -> list:
        return [self._trimmed(line) for line in Segment.split_lines(super().__rich_console__(console, options))]

    def _fitted(self, console, options, whole) -> list | None:
        """The table's lines with the columns ``whole`` on one line each and
        every other column wrapped at its spaces only, never inside a word (a
        name, a shape's number or an index cut in two, "relu2.A.mea" over "n",
        "conv1.dW." over "npy", reads as another), in the terminal's width;
        or None where it cannot be. The widths are set here, each wrapped
        column narrowed a column at a time, the one with the most to spare
        first: rich's own sharing out widened columns back to their least
        after it, and a table that measured fit ran 1-3 columns past the
        terminal (a review: shapes at 64 columns, 67-68 wide)."""
        columns = self.columns
        kept = [any(c is w for w in whole) for c in columns]  # (columns are no dict keys: unhashable)
        cells = [self._cell_widths(c) for c in columns]
        widths = [max(w) for w in cells]  # each column's widest line
        least = [w if k else self._longest_word(c) for c, k, w in zip(columns, kept, widths)]
        for c, k, w in zip(columns, kept, widths):
            c.no_wrap, c.min_width, c.width = k, None, w
        # the spaces between columns, measured where nothing is narrowed
        roomy = options.update(width=sum(widths) + 1000)
        spacing = max((Segment.get_line_length(line) for line in self._lines(console, roomy)), default=0)
        room = options.max_width - (spacing - sum(widths))
        while sum(widths) > room:
            spare = [i for i in range(len(columns)) if widths[i] > least[i]]
            if not spare:  # (rendered anyway, rich would cut every column to fit: "laye", "56,3")
                for c in columns:
                    c.width = None
                return None
            # the column a column narrower wraps the fewest of its cells (a heading over two lines before
            # every shape of a column: "first / differs" rather than "(4, 8, 8," / "4)"), then the most spare
            widths[min(spare, key=lambda i: (sum(w >= widths[i] for w in cells[i]), least[i] - widths[i]))] -= 1
        for c, w in zip(columns, widths):
            c.width = w
        lines = self._lines(console, options)
        for c in columns:
            c.width = None
        fits = max((Segment.get_line_length(line) for line in lines), default=0) <= options.max_width
        return lines if fits else None

    @staticmethod
    def _trimmed(line: list) -> list:
        """A rendered line without the padding rich leaves after its last cell
        ("pass  "): noise in a log, a diff or a copy."""
        while line and not line[-1].text.rstrip() and not line[-1].control:
            line.pop()
        if line and not line[-1].control:
            line[-1] = Segment(line[-1].text.rstrip(), line[-1].style)
        return line

    @staticmethod
    def _cell_widths(column) -> list[int]:
        """The widest line of each of a column's header and cells."""
        texts = [Text.from_markup(x) if isinstance(x, str) else x for x in [column.header, *column.cells]]
        return [max(line.cell_len for line in t.split("\n")) for t in texts]

    @staticmethod
    def _longest_word(column) -> int:
        """The longest word (run without a space) of a column's header and cells."""
        texts = [x.plain if isinstance(x, Text) else str(x) for x in [column.header, *column.cells]]
        return max((len(word) for t in texts for word in t.split()), default=1)

    def _records(self):
        """The rows one under another, as Text lines: ``NAME`` then
        ``  column: cell``."""
        heads = [c.header.plain if isinstance(c.header, Text) else str(c.header) for c in self.columns]
        cells = [list(c.cells) for c in self.columns]
        for r, row in enumerate(self.rows):
            style = row.style or ""
            yield Text(str(cells[0][r]), style=style, overflow="fold")
            for head, column in zip(heads[1:], cells[1:]):
                if not str(column[r]).strip():  # (shapes' total row: no type, input, output of its own)
                    continue
                # a stacked column ("expected / got", a cell a line each) as a line each
                # (its values one under the other, digit under digit: "got:      10.5817...")
                parts, lines = head.split(" / "), str(column[r]).split("\n")
                wide = max(map(len, parts))
                for h, v in (zip(parts, lines) if len(parts) == len(lines) > 1 else [(head, str(column[r]))]):
                    yield Text(f"  {(h + ':').ljust(wide + 1)} {v}", style=style, overflow="fold")


def _provenance(p) -> dict:
    """What a grader logs beside a check, gradcheck, shapes or plot report:
    the config as given, which convcli, and which config exactly
    (forward/backward's summary.json has these in its own layout)."""
    return {"config": str(p.cfg.display), "convcli": __version__, "config_sha256": p.cfg.sha256}


def _table(*columns: str, right: tuple[str, ...] = (), numbers: tuple[str, ...] | None = None) -> Table:
    """A table of ``columns``; those in ``right`` right-aligned; those in
    ``numbers`` (by default ``right``) never folded (see :class:`_Table`)."""
    t = _Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, collapse_padding=True)
    numbers = right if numbers is None else numbers
    for c in columns:
        t.add_column(Text(c, overflow="fold"), justify="right" if c in right else "left", no_wrap=False)
    t.numbers = [col for col, c in zip(t.columns, columns) if c in numbers]
    return t


def _row(t: Table, *cells, style: str | None = None) -> None:
    # Folded, never cut: a number or a name with its last digits replaced by "…" misleads.
    t.add_row(*(Text(str(c), overflow="fold") for c in cells), style=style)


def _width(heads, rows) -> int:
    """Columns a table of ``rows`` needs with every cell on one line."""
    return sum(max(len(h), *(len(str(r[i])) for r in rows)) for i, h in enumerate(heads)) + 2 * (len(heads) - 1)


def _shown(o) -> str:
    """An outcome's name in check's table: its entry or array, a missing
    array's quantity."""
    return o.quantity if o.status == "missing" else o.label


def _names_itself(o) -> bool:
    """Whether that name says the quantity it is checked as: ``conv1.dW.npy``,
    the .h5 dataset ``conv1/dW``, a missing quantity (but ``dW.npy`` is
    graded as conv1.dW in a one-layer config)."""
    name = _shown(o)
    return (name[:-4] if name.lower().endswith(".npy") else name).replace("/", ".") == o.quantity  # (.NPY too)


def _tally(n: int, n_bad: int, one: str, many: str, verb: str) -> str:
    """``all 3 checks passed`` / ``the check passed`` / ``1 of 3 checks FAILED``."""
    if n_bad:
        return f"{n_bad} of {n} {many if n > 1 else one} FAILED"
    if n == 1:
        return f"the {one} {verb if verb != 'agree' else 'agrees'}"
    return f"all {n} {many} {verb}"


# ----------------------------------------------------------------- forward / backward


def _run_and_write(command: str, config, out, fmt, engine, dtype, force, as_json, debug, max_memory,
                   plot: bool = False, memory_budget: str = DEFAULT_BUDGET):
    from .outputs import FORMATS, Staging, expected_yaml, summary, write_arrays, write_expected, write_summary

    with _guard(debug, as_json):
        t0 = time.perf_counter()
        if fmt not in FORMATS:
            raise ConvcliError("--format", f"expected npy or h5, got {fmt!r}")
        if plot:
            from .plot import require_matplotlib

            require_matplotlib("--plot")  # before any computing
        p = _plan(config, dtype, engine, max_memory, memory_budget, backward=(command == "backward"))
        if plot and p.stream is not None:
            why = (f"--max-memory {max_memory} refuses its batch whole" if p.stream.too_large
                   else f"it does not fit --memory-budget {memory_budget}")
            raise ConvcliError("--plot", "draws every quantity from memory, but this run streams "
                                         f"{p.input_name} in chunks ({why}); plot a smaller run (a slice: of the "
                                         f"input), or use --memory-budget {p.stream.in_memory} or more to run it "
                                         "in memory")
        default = out is None
        out = Path("convcli-out") / _default_name(p.cfg.path) if default else out
        with Staging(out, force, p.cfg.files_read(), default) as staging:
            if p.stream is not None:
                from .streaming import run_streaming

                with _delayed_progress(not as_json, command, p.stream.samples, "samples") as progress:
                    results, placed = run_streaming(p, command == "backward", staging.path, fmt, progress,
                                                    where=staging.where)
            else:
                results = _run(p, command == "backward", not as_json, command)
                t = time.perf_counter()
                placed = write_arrays(staging.path, results.quantities, fmt, where=staging.where)
                results.timings["write"] = time.perf_counter() - t
            pictures, not_drawn = _plot_all(p, results, staging.path, out) if plot else ({}, {})
            results.timings["total"] = time.perf_counter() - t0
            doc = summary(results, command, fmt, placed, pictures)
            if not_drawn:  # quantity -> why (a picture for every other one)
                doc["plot_not_drawn"] = not_drawn
            write_summary(staging.path, doc, where=staging.where)
            write_expected(staging.path, expected_yaml(results, command, doc["quantities"],
                                                       str(Path(out) / doc["expected"])),  # whole: a command to copy
                           where=staging.where)
            _stop_if_signalled()  # one that third-party code swallowed: nothing is committed
            try:
                staging.commit()
            finally:  # a stop signal once the outputs are in place must say they are
                if staging.committed:
                    _committed["out"] = short_path(out)
            if staging.left is not None:  # the new outputs are in place; the old ones not all gone
                _say(f"convcli: warning: {short_path(out)}: the outputs it held before could not all be "
                     f"deleted; what is left of them is in {short_path(staging.left)}: delete it by hand\n")
    with _reporting(as_json):
        _report(command, p, doc, placed, pictures, results, fmt, out, as_json)


def _default_name(config: Path) -> str:
    """The default output's name: the config's stem (``seed`` for
    seed.yaml), or its whole name where the stem is no name of its own
    (``..yaml``'s ``.`` wrote into convcli-out itself)."""
    stem = config.stem
    return stem if stem.strip(".") else config.name


def _report(command, p, doc, placed, pictures, results, fmt, out, as_json) -> None:
    """forward/backward's report, once the outputs are in place."""
    if as_json:
        # config and config_sha256 as check, gradcheck, shapes and plot give them (a grader's script
        # reads one type under one key); summary.json's config is {path, sha256}, the path absolute
        _print_json({"ok": True, "out": str(out), **doc, "config": p.cfg.display, "config_path": doc["config"]["path"],
                     "config_sha256": p.cfg.sha256})
        return
    con = _console()
    n_layers = len(p.network)
    con.print(Text(
        f"convcli {command} {p.cfg.display}: {n_layers} layer{'s' * (n_layers != 1)}, "
        f"{p.dtype}, {p.engine} engine"
    ))
    t = _table("quantity", "shape", "mean", "std", "min", "max", right=("mean", "std", "min", "max"))
    for name, d in doc["quantities"].items():
        _row(t, name, fmt_shape(d["shape"]), *(_num_g(d[k]) for k in ("mean", "std", "min", "max")))
    con.print(t)
    drawn = f", {len(pictures)} pictures in plots/" if pictures else ""
    if doc.get("plot_not_drawn"):
        drawn += " (not drawn: " + "; ".join(f"{q}: {why}" for q, why in doc["plot_not_drawn"].items()) + ")"
    streamed = ""
    if p.stream is not None:
        sp = p.stream
        last = sp.samples - (sp.chunks - 1) * sp.rows  # (an instructor's review: "42 chunks of 29", the last 11)
        streamed = (f"; streamed {sp.samples} samples in {sp.chunks} chunk{'s' * (sp.chunks != 1)} of "
                    f"{sp.rows}{f', the last of {last}' if last != sp.rows else ''} "
                    f"(--memory-budget {format_size(sp.budget)}"
                    + (f", --max-memory {format_size(p.max_memory)}" if sp.too_large else "") + ")")
    con.print(Text(
        f"wrote {len(placed)} arrays ({fmt}){drawn}, summary.json and {doc['expected']} to {out} "
        f"in {results.timings['total']:.2f} s{streamed}"
    ))
    if p.stream is not None and p.stream.rows < min(p.stream.group, p.stream.samples):
        from .streaming import budget_arg
        sp = p.stream  # (a streaming review: small output maps moved by an ulp, and nothing said so)
        group = min(sp.group, sp.samples)  # (a review: 128 of a batch of 10)
        # what holds a group: the option that cut the chunks, or both where both would (rounded up: a review's
        # "11.2 KiB" held 3 samples, not 4)
        rooms = [f"--max-memory {math.ceil(p.max_memory * group / sp.rows / 1024)}KiB or more"] \
            if sp.max_memory_rows else []
        if sp.estimate.chunk(group) > sp.budget:
            rooms.append(f"--memory-budget {budget_arg(sp.estimate.chunk(group))} or more")
        room = f" ({' and '.join(rooms)} hold{'s' * (len(rooms) == 1)} {group} a chunk)" if rooms else ""
        con.print(Text(
            f"note: chunks of {sp.rows} hold fewer samples than the {group} a conv layer's forward product "
            f"takes (its output maps are small): its outputs may differ from an in-memory run's in their last "
            f"bits, and so a max pool's ties after it{room}"))


def _plot_all(p, results, folder: Path, out: Path) -> tuple[dict[str, str], dict[str, str]]:
    """One PNG per quantity that can be drawn into ``folder/plots`` (inside
    the staging folder, so the rename into place covers them): ``(quantity ->
    plots/NAME.png, quantity not drawn -> why)``.
    A failed write names the PNG under the user's ``out``, where it was to
    be, not under the staging folder (gone by the time the user reads it)."""
    from . import plot as plots

    t = time.perf_counter()
    kinds, drawable, not_drawn = _plot_kinds(p), {}, {}
    for name, a in results.quantities.items():  # an input no layer takes may be no picture: the rest are
        try:
            plots.check_drawable(a.shape, name, kinds.get(name))
            drawable[name] = a
        except ConvcliError as exc:
            not_drawn[name] = exc.what
    paths = plots.plot_quantities(drawable, folder / "plots", kinds=kinds, shown_as=out / "plots")
    results.timings["plot"] = time.perf_counter() - t
    return {name: f"plots/{path.name}" for name, path in zip(drawable, paths)}, not_drawn


def _num_g(x) -> str:
    """A summary's statistic for a table: 6 digits, and NaN or an infinity
    as NumPy prints them (nan, inf), as check's table and notes do (the
    summary's JSON spells them "NaN", "Infinity")."""
    return _JSON_NONFINITE.get(x, x) if isinstance(x, str) else _g(x)


_JSON_NONFINITE = {"NaN": "nan", "Infinity": "inf", "-Infinity": "-inf"}


@app.command(cls=_Command)
def forward(
    config: ConfigArg,
    out: OutOpt = None,
    format: FormatOpt = "npy",
    engine: EngineOpt = None,
    dtype: DtypeOpt = None,
    force: ForceOpt = False,
    json_: JsonOpt = False,
    debug: DebugOpt = False,
    max_memory: RunMemOpt = DEFAULT_MEM,
    plot: PlotOpt = False,
    memory_budget: BudgetOpt = DEFAULT_BUDGET,
) -> None:
    """Run the layers forward; write the inputs, every layer's output, summary.json and expected.yaml.

    With --plot, also one PNG per quantity in OUT/plots/. An input whose run
    does not fit --memory-budget (or a file input --max-memory would refuse
    whole) is streamed in chunks of samples.
    """
    _run_and_write("forward", config, out, format, engine, dtype, force, json_, debug, max_memory, plot,
                   memory_budget)


@app.command(cls=_Command)
def backward(
    config: ConfigArg,
    out: OutOpt = None,
    format: FormatOpt = "npy",
    engine: EngineOpt = None,
    dtype: DtypeOpt = None,
    force: ForceOpt = False,
    json_: JsonOpt = False,
    debug: DebugOpt = False,
    max_memory: RunMemOpt = DEFAULT_MEM,
    plot: PlotOpt = False,
    memory_budget: BudgetOpt = DEFAULT_BUDGET,
) -> None:
    """Run forward, then backward; write the inputs, the outputs, the upstream gradient, every gradient, summary.json and expected.yaml.

    With --plot, also one PNG per quantity in OUT/plots/. An input whose run
    does not fit --memory-budget (or a file input --max-memory would refuse
    whole) is streamed in chunks of samples.
    """
    _run_and_write("backward", config, out, format, engine, dtype, force, json_, debug, max_memory, plot,
                   memory_budget)


# ----------------------------------------------------------------- check


@app.command(cls=_Command)
def check(
    config: ConfigArg,
    expected: Annotated[
        Optional[Path],
        typer.Option("--expected", help="A YAML file with expected: entries (and tolerance:) to use instead of the config's.",
                     show_default=False, parser=_path),
    ] = None,
    against: Annotated[
        Optional[Path],
        typer.Option("--against", help="Your arrays: a folder of Q.npy files, an .npz (or a .zip of .npy files), or an .h5 with a dataset per quantity.",
                     show_default=False, parser=_path),
    ] = None,
    plot: Annotated[
        Optional[Path],
        typer.Option("--plot", help="With --against: draw |yours - convcli's| of every quantity that differs, "
                                    f"per channel, into this PNG (needs {PLOT_EXTRA}).", show_default=False, parser=_path),
    ] = None,
    force: Annotated[bool, typer.Option("--force", metavar=FLAG, help="Replace an existing --plot PNG.")] = False,
    complete: Annotated[
        bool,
        typer.Option("--complete", metavar=FLAG,
                     help="With --against: every quantity the run computes must be among your arrays (not the "
                          "inputs or upstream gradient the config gives; the gradients when the config has a "
                          "backward: section, or an expected entry is a gradient); a missing "
                          "one fails (grading a whole submission)."),
    ] = False,
    each_layer: Annotated[
        bool,
        typer.Option("--each-layer", metavar=FLAG,
                     help="With --against: grade each layer on your own inputs to it (your previous layer's "
                          "output, your next layer's dA_prev), as the notebook tests one function at a time: one "
                          "mistake does not fail every quantity after it."),
    ] = False,
    rtol: Annotated[
        Optional[float],
        typer.Option("--rtol", help="Relative tolerance for every comparison, instead of the "
                                             "tolerance: of the config or --expected FILE (an entry's own "
                                             "rtol still wins). Default: 1e-6 float64, 1e-4 float32.",
                     show_default=False),
    ] = None,
    atol: Annotated[
        Optional[float],
        typer.Option("--atol", help="Absolute tolerance, the same way. Default: 1e-8 float64, "
                                             "1e-5 float32.", show_default=False),
    ] = None,
    engine: EngineOpt = None,
    dtype: DtypeOpt = None,
    json_: JsonOpt = False,
    debug: DebugOpt = False,
    max_memory: MemOpt = DEFAULT_MEM,
) -> None:
    """Compare convcli's results with the expected values (exit 1 if any differs).

    Expected values come from the config's expected: section, or --expected FILE.
    With --against, your arrays are graded against convcli's results: per
    quantity, the largest absolute and relative errors and the first index
    that differs. --plot FILE.png draws where they differ (a padding mistake,
    for one, shows as a frame).
    """
    from . import check as chk
    from .config import read_expected_file

    with _guard(debug, json_):
        if plot is not None:
            if against is None:
                raise ConvcliError("--plot", "draws where your arrays differ from convcli's; "
                                             "give them with --against PATH")
            from .plot import require_matplotlib

            require_matplotlib("--plot")
            _png_target(plot, force, "--plot")
        if force and plot is None:
            raise ConvcliError("--force", "replaces an existing --plot PNG; give one with --plot FILE.png")
        if complete and against is None:
            raise ConvcliError("--complete", "asks for every quantity among your arrays; give them with --against PATH")
        if each_layer and against is None:
            raise ConvcliError("--each-layer", "grades each layer of your arrays on your own inputs; give them "
                                               "with --against PATH")
        for option, value in (("--rtol", rtol), ("--atol", atol)):
            # checked here, not by click's min=0 (which called nan "not >= 0.0")
            if value is not None and not math.isfinite(value):  # as a config's tolerance: (inf passes anything)
                raise ConvcliError(option, f"must be a finite number, got {value!r}")
            if value is not None and value < 0:
                raise ConvcliError(option, f"must be >= 0, got {value!r}")
        p = _plan(config, dtype, engine, max_memory, backward=None,  # backward or not: known once run
                  expected=expected is None)
        p.tolerance_given = (rtol, atol)
        if expected is not None:  # its tolerance: stands in for the config's, for --against too
            source, entries, p.tolerance_file, came = read_expected_file(expected)
        else:
            source, entries, came = p.cfg, p.cfg.model.expected, None
        if not entries and against is None:
            if expected is not None:
                raise ConvcliError(f"--expected {short_path(expected)}",
                                   "nothing to check: it has no expected: entries; add some, or pass --against PATH")
            raise ConvcliError(
                p.cfg.display,
                "nothing to check: no expected: entries; add some, or pass --expected FILE or --against PATH",
            )

        def run(backward: bool, only: list[str] | None):
            """The run, with check's progress bar; ``only``: the quantities a
            forward-only run is for (it goes through the layers they need)."""
            return _run(p, backward, not json_, "check",
                        layers_needed=None if only is None else _layers_needed(p, only))

        def plot_target(reads) -> None:  # the PNG once the files the check reads are known
            _png_target(plot, force, "--plot", reads)

        report = chk.grade(p, entries=entries, source=source, came=came, run=run, expected=expected,
                           against=against, complete=complete, layer_by_layer=each_layer,
                           plot_target=plot_target if plot is not None else None)
        pictured = _plot_differences(plot, report.graded, p, report.reference, force) if plot is not None else None
    if json_:
        _check_json(p, report, each_layer, pictured, against)
    else:
        _check_text(p, report, source, against, each_layer, complete, plot, pictured)
    if not report.ok:
        raise typer.Exit(EXIT_FAILED)


def _check_json(p, report, each_layer: bool, pictured: dict | None, against=None) -> None:
    """check's --json document."""
    from .check import ROUNDING_FACTOR

    outcomes, graded, every = report.outcomes, report.graded, report.every
    _print_json({
        "ok": report.ok, **_provenance(p), "dtype": p.dtype, "engine": p.engine,
        "against_path": None if against is None else str(against),  # the submission, as given (a gradebook's key)
        "checks": len(every), "passed": sum(o.passed for o in every), "each_layer": each_layer,
        # the two kinds apart: a grader scores a submission by "against" alone (the config's
        # expected: entries are checked against convcli's own run)
        "counts": {"expected": {"checks": len(outcomes), "passed": sum(o.passed for o in outcomes)},
                   "against": {"checks": len(graded), "passed": sum(o.passed for o in graded),
                               # quantities none of the arrays is (failed among the checks with --complete)
                               "missing": len(report.missing)}},
        "expected": [o.as_json() for o in outcomes],
        "against": [o.as_json() for o in graded],
        # --against: arrays whose names are no quantity (not graded), and quantities no array is
        "unknown": [u.as_json() for u in report.unknown],
        "missing": report.missing,
        # a float32 run's: each array's atol also allows this many times float32's rounding of convcli's own
        "rounding_factor": ROUNDING_FACTOR if report.rounded else None,
        "note": report.note,
        "convcli_own": report.convcli_own,
        "expected_note": report.came_from,
        **({"plot": pictured} if pictured is not None else {}),
    })


def _check_text(p, report, source, against, each_layer: bool, complete: bool, plot, pictured: dict | None) -> None:
    """check's tables and lines: the expected values', your arrays', then
    what was not graded, the notes, and a FAIL line per failure."""
    from .check import DRAWN, GIVEN, ROUNDING_FACTOR, listed

    outcomes, graded, unknown, missing = report.outcomes, report.graded, report.unknown, report.missing
    con = _console()
    # beside your arrays, the config's entries (convcli's own run against them) in a table only where one fails:
    # the last line counts them (an instructor's review: a student's report opened with 11 lines of "pass")
    if outcomes and not (graded and all(o.passed for o in outcomes)):
        label = f"expected values from {source.display}"
        rt, at = p.tolerance  # what "pass" means, as --against's heading says it (an |expected| far
        own = any((o.rtol, o.atol) != (rt, at) for o in outcomes)  # under atol passes on atol alone)
        tol = f"{p.dtype}, rtol {rt:g}, atol {at:g}" + ("; some entries set their own" if own else "")
        con.print(Text(f"convcli check {p.cfg.display}: {label} ({tol})"))
        rows = [(o.label, _num(o.expected), _num(o.got), _err(o.abs_err), _err(o.rel_err),
                 "pass" if o.passed else "FAIL") for o in outcomes]
        heads = ("entry", "expected", "got", "abs err", "rel err", "result")
        if _width(heads, rows) <= con.width:
            t = _table(*heads, right=("abs err", "rel err"), numbers=("expected", "got", "abs err", "rel err"))
            for row in rows:
                _row(t, *row)
        else:  # expected over got, digit under digit, rather than each folded in two
            t = _table("entry", "expected / got", "abs err", "rel err", "result", right=("abs err", "rel err"),
                       numbers=("expected / got", "abs err", "rel err"))
            for label, want, got, *rest in rows:
                _row(t, label, f"{want}\n{got}", *rest)
        con.print(t)
        if report.came_from:
            con.print(Text(f"note: {report.came_from}"))
    if graded:
        how = ", each layer on your own inputs to it" if each_layer else ""
        rt, at = p.tolerance  # what "pass" means here, said before anything passes
        rounded = f", and {ROUNDING_FACTOR} times float32's rounding of each" if report.rounded else ""
        con.print(Text(f"convcli check {p.cfg.display}: your arrays in {against}, against convcli's{how} "
                       f"({p.dtype}, rtol {rt:g}, atol {at:g}{rounded})"))
        # errors: the largest over each array (an 80-column terminal holds these six columns whole)
        t = _table("array", "shape", "abs err", "rel err", "first differs", "result", right=("abs err", "rel err"))
        for o in graded:  # (a missing array's shape cell says missing)
            _row(t, _shown(o), o.got.replace("array ", "").removeprefix("shape "), _err(o.abs_err),
                 _err(o.rel_err), "-" if o.first is None else str(o.first), "pass" if o.passed else "FAIL")
        con.print(t)
        renamed = [f"{o.label} as {o.quantity}" for o in graded if not _names_itself(o)]
        if renamed:
            con.print(Text(f"graded: {', '.join(renamed)}"))
    handed_out = [u.label for u in unknown if u.quantity is not None and not u.misnamed]
    if handed_out:  # the hand-out's arrays in a submission, or convcli's own outputs folder: one line
        con.print(Text(f"not graded ({GIVEN}): {', '.join(handed_out)}"))
    for u in unknown:  # named as what the config gives, shaped as what it computes
        if u.misnamed:
            con.print(Text(f"not graded: {u.label}: {u.misnamed}"))
    other = [u for u in unknown if u.differs]
    follows = any("other_inputs" in o.hints for o in graded) or (each_layer and not all(o.passed for o in graded))
    drawn = [u for u in other if u.differs.startswith(DRAWN)]  # (their cause known: no guess at it)
    rest = [u for u in other if u not in drawn]
    if rest and follows:  # and failures follow from them (not worked out per layer with --each-layer)
        con.print(Text(f"note: your {listed([u.label for u in rest])} not the config's "
                       f"({rest[0].quantity}: {rest[0].differs}): yours follow from other inputs "
                       "(another seed, another file?)"))
    if drawn and follows:
        con.print(Text(f"note: your {listed([u.label for u in drawn])} not the config's ({drawn[0].differs}): "
                       "yours follow from other inputs"))
    unnamed = [u for u in unknown if u.quantity is None]
    known = f"; known: {', '.join(p.shapes)}"  # Plan.unknown's ending
    several = len(unnamed) > 1 and any(u.note.endswith(known) for u in unnamed)
    for u in unnamed:  # the run's quantities said once below, not after each name (a review: six times)
        con.print(Text(f"not graded: {u.label}: {u.note.removesuffix(known) if several else u.note}"))
    if several:
        con.print(Text(f"known quantities: {known.removeprefix('; known: ')}"))
    if missing and not complete:
        con.print(Text(f"not among your arrays: {', '.join(missing)} (--complete fails them)"))
    if report.linked:  # graded as given, but an instructor will want to know
        con.print(Text(f"note: graded through links to files outside {against}: {'; '.join(report.linked)}"))
    if report.note:
        con.print(Text(f"note: {report.note}"))
    if pictured is not None:
        drawn, skipped = pictured["drawn"], pictured["not_drawn"]
        line = f"wrote {plot}: " + (f"|yours - convcli's| of {', '.join(drawn)}" if drawn
                                     else "no array differs" if report.ok else "no array to draw")
        if skipped:
            line += f" (not drawn, their shapes differ: {', '.join(skipped)})"
        con.print(Text(line))
    advice, advised = ", or grade each layer on your inputs with --each-layer", False
    for o in report.every:
        # the entry or array, and the quantity where its name does not say it
        name = _shown(o) if _names_itself(o) else f"{o.label} ({o.quantity})"
        if o.passed and o.note:  # a bias compared in convcli's shape
            con.print(Text(f"pass {name}: {o.note}"))
        if not o.passed:  # the tolerance, where numbers were compared (not a shape, not a missing array)
            tol = f" (rtol {o.rtol:g}, atol {o.atol:g})" if o.abs_err is not None else ""
            note = (o.note or "beyond tolerance").replace(advice, "")  # said once, below
            advised = advised or note != (o.note or "beyond tolerance")
            con.print(Text(f"FAIL {name}: {note}{tol}"))
    if advised:
        con.print(Text("to grade each layer on your own inputs to it instead (not on convcli's): --each-layer"))
    def tally(of: list) -> str:
        return _tally(len(of), sum(not o.passed for o in of), "check", "checks", "passed")

    said = tally(graded if outcomes and graded else report.every)
    if unnamed or any(u.misnamed for u in unknown):  # (a learner's review: "the check passed" of 1 array of 8)
        n = len(unnamed) + sum(bool(u.misnamed) for u in unknown)
        # (a folder or an archive listed is no array: a review read "2 of your arrays" of two folders)
        whole = any(u.label.endswith("/") or Path(u.label).suffix.lower() in (".zip", ".npz", ".h5", ".hdf5", ".gz",
                                                                              ".tgz", ".tar", ".7z", ".rar")
                    for u in unnamed)
        said += f"; {n} of your {'arrays, folders or files' if whole else 'arrays'} not graded (their names: above)"
    if missing and not complete:  # "passed" must not read as "all done"
        said += f"; {len(missing)} not among your arrays (--complete fails them)"
    if outcomes and graded:  # apart: a submission is graded by its own arrays, not the config's entries
        said = f"your arrays: {said}; expected values: {tally(outcomes)}"
    con.print(Text(said))


# ----------------------------------------------------------------- gradcheck


@app.command(cls=_Command)
def gradcheck(
    config: ConfigArg,
    samples: Annotated[
        int, typer.Option("--samples", help="Coordinates to perturb per quantity at most (0: all).", min=0)
    ] = 100,
    eps: Annotated[
        Optional[float], typer.Option("--eps", help="Relative step: a coordinate x moves by eps*max(1,|x|), a layer input's by at least eps "
                                        "times its channel's root mean square (README: gradcheck). "
                                        "(default: 1e-5 float64, 1e-4 float32)", show_default=False)
    ] = None,
    threshold: Annotated[
        Optional[float],
        typer.Option("--threshold", help="Largest error that passes. (default: 1e-6 float64, 1e-3 float32)",
                     show_default=False),
    ] = None,
    engine: EngineOpt = None,
    dtype: DtypeOpt = None,
    json_: JsonOpt = False,
    debug: DebugOpt = False,
    max_memory: MemOpt = DEFAULT_MEM,
) -> None:
    """Check every gradient of convcli's against central differences: ||g - n|| / (||g|| + ||n||) per quantity (exit 1 if any is too large). Your own arrays: check --against."""
    from . import gradcheck as gc

    with _guard(debug, json_):
        gc.check_options(eps, threshold)  # before any computing
        p = _plan(config, dtype, engine, max_memory)
        results = _run(p, True, not json_, "gradcheck")
        with _progress(not json_, gc.planned_coordinates(results, samples)) as progress:
            report = gc.gradcheck(results, samples=samples, eps=eps, threshold=threshold, progress=progress)
    ok = all(r.passed for r in report)
    if json_:
        _print_json({"ok": ok, **_provenance(p), "dtype": p.dtype, "engine": p.engine,
                     "quantities": [r.as_json() for r in report]})
    else:
        con = _console()
        con.print(Text(f"convcli gradcheck {p.cfg.display}: central differences, {p.dtype}, {p.engine} engine"))
        t = _table("quantity", "shape", "checked", "error", "threshold", "result", right=("error", "threshold"))
        for r in report:
            checked = f"{r.checked} of {r.total}" + (f" ({r.skipped} at kinks skipped)" if r.skipped else "")
            checked += ", against ties: all" if r.ties else ""
            _row(t, r.quantity, fmt_shape(r.shape), checked, _err(r.error), _err(r.threshold),
                 "FAIL" if r.status == "fail" else r.status)
        con.print(t)
        for line in gc.tie_notes(report):
            con.print(Text(f"note: {line}"))
        for r in report:
            if r.note:
                con.print(Text(f"note: {r.quantity}: {r.note}"))
            if r.status == "not checked":
                tries = (["more --samples"] if r.skipped < r.total else []) + ["a smaller --eps", "another input"]
                con.print(Text(f"NOT CHECKED {r.quantity}: all {r.skipped} coordinates sampled were at kinks, "
                               f"so nothing was compared; try {', '.join(tries[:-1])} or {tries[-1]} (a smaller "
                               "--eps helps an input near a kink; one exactly at it, as zeros into a ReLU, "
                               "stays there whatever --eps)"))
            elif not r.passed:
                # a step far below the default fails correct gradients on rounding alone (a review: --eps
                # 1e-10 failed stack.yaml's conv1.db at 2.6e-6, and the row blamed ties: all)
                small = eps is not None and eps < gc.DEFAULTS[p.dtype][0] / 10
                con.print(Text(f"FAIL {r.quantity}: error {r.error:.2e} > {r.threshold:g}; "
                               f"largest difference at {r.worst}"
                               + (f"; a step of --eps {eps:g}, far below the default "
                                  f"{gc.DEFAULTS[p.dtype][0]:g}, can fail on rounding alone: try the default"
                                  if small else "")))
        n_failed = sum(r.status == "fail" for r in report)
        n_unchecked = sum(r.status == "not checked" for r in report)
        if n_unchecked:
            n = len(report)
            con.print(Text("; ".join(([f"{n_failed} of {n} gradients FAILED"] if n_failed else [])
                                     + [f"{n_unchecked} of {n} gradient{'s' * (n > 1)} not checked"])))
        else:
            con.print(Text(_tally(len(report), n_failed, "gradient", "gradients", "agree")))
    if not ok:
        raise typer.Exit(EXIT_FAILED)


@contextmanager
def _progress(enabled: bool, plan: list[tuple[str, int]]):
    """gradcheck's bar: ``step(quantity, done)`` over every quantity's
    coordinates in ``plan`` (quantity, count), as :func:`_delayed_progress`
    shows one (it showed at once, flashing on runs of 0.2 s)."""
    total = sum(n for _, n in plan)
    offsets, acc = {}, 0
    for name, n in plan:
        offsets[name] = acc
        acc += n
    with _delayed_progress(enabled, "gradcheck", total, "coordinates", remaining=False) as progress:
        def step(name: str, done: int) -> None:
            progress(offsets[name] + done, total, name)

        yield step


def _stderr_is_terminal() -> bool:
    """Whether a bar may be drawn on stderr: a terminal that can redraw a
    line (TERM=dumb cannot: a bar there left a stray blank line)."""
    return sys.stderr.isatty() and os.environ.get("TERM", "").lower() not in ("dumb", "unknown")


def _progress_console() -> Console:
    return Console(stderr=True, _environ=_environ())


@contextmanager
def _delayed_progress(enabled: bool, label: str, total: int, unit: str, remaining: bool = True):
    """``progress(done, total[, description])``: a transient bar on stderr,
    only when stderr is a terminal, and only once the run has gone on for
    PROGRESS_DELAY seconds (a quick run shows nothing). It shows from then
    even while one long step runs (a timer starts it; rich redraws it, with
    the time, between calls). ``remaining``: an estimate of the time left
    (for steps of one size, as a stream's chunks are), else the time taken."""
    if not (enabled and _stderr_is_terminal()):
        yield _stop_if_signalled  # no bar: the check between steps alone
        return
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)

    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn(unit),
                   TimeRemainingColumn() if remaining else TimeElapsedColumn(),
                   console=_progress_console(), transient=True)
    task = bar.add_task(label, total=total)
    start = time.perf_counter()
    lock = threading.Lock()
    state = {"shown": False, "over": False}

    def show() -> None:
        with lock:
            if not (state["shown"] or state["over"]):
                # Shown first: a Ctrl-C inside start() must still stop it
                # (rich's Live restores stdout/stderr and the cursor then).
                state["shown"] = True
                _quietly(bar.start)

    timer = threading.Timer(PROGRESS_DELAY, show)
    timer.daemon = True
    timer.start()

    def step(done: int, total: int, description: str | None = None) -> None:
        _stop_if_signalled()
        if time.perf_counter() - start >= PROGRESS_DELAY:
            show()
        bar.update(task, completed=done, total=total,
                   **({"description": f"{label}: {description}"} if description else {}))

    try:
        yield step
    finally:
        timer.cancel()
        with lock:
            state["over"] = True
            if state["shown"]:
                _quietly(bar.stop)


def _quietly(draw) -> None:
    """A bar's start or stop, whose drawing never decides a run's outcome: a
    terminal gone (SIGHUP, a closed pty: OSError EIO) had turned a finished
    run into an internal error, its outputs discarded."""
    try:
        draw()
    except (OSError, ValueError):
        pass


def _layers_needed(p, names) -> int:
    """How many layers a forward-only run goes through to make ``names``: an
    input needs none, a layer's output the layers up to it (plot and check
    of a large config held every layer's output: 1.2 GB to draw A_prev)."""
    outputs = [spec.output for spec in p.network.layers]
    return max((outputs.index(q) + 1 for q in names if q in outputs), default=0)


def _run(p, backward: bool, enabled: bool, label: str, layers_needed: int | None = None):
    """runner.run with a progress bar of its steps (reading the inputs, each
    layer forward and backward) on a terminal, for a run longer than a moment."""
    from .runner import run

    with _delayed_progress(enabled, label, 1, "steps", remaining=False) as progress:
        return run(p, backward=backward, progress=progress, layers_needed=layers_needed)


# ----------------------------------------------------------------- shapes


@app.command(cls=_Command)
def shapes(
    config: ConfigArg,
    dtype: DtypeOpt = None,
    json_: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Per layer: input and output shapes, parameters, FLOPs, hyperparameters (reads no data, only file headers)."""
    from .network import FLOPS_COUNTED

    from .hparams import as_given
    from .runner import check_backward_sizes

    with _guard(debug, json_):
        # No --max-memory: nothing is allocated, and the shapes of a run too big to make are worth seeing.
        # An upstream gradient file of the wrong shape is said after the table (a learner's review: the
        # command for shapes showed none, for a config forward runs); with --json, as the one document.
        p = _plan(config, dtype, None, None, backward=None)
        if json_:
            check_backward_sizes(p)
    layers = [
        {"index": s.index, "name": s.name, "type": s.kind, "input_shape": list(s.in_shape),
         "output_shape": list(s.out_shape), "params": s.params, "flops": s.flops,
         "hyperparameters": as_given(s.hyper, layer.hparameters)}
        for s, layer in zip(p.layer_shapes, p.network.layers)
    ]
    inputs = {name: {"shape": list(i.shape), "stored_dtype": str(i.dtype),
                     "source": p.cfg.model.inputs[name].describe()} for name, i in p.input_info.items()}
    # Each input once, as PyTorch counts parameters: two layers that share a W share its numbers.
    used = {n: math.prod(p.input_info[n].shape) for layer in p.network.layers if layer.kind == "conv"
            for n in (layer.W, layer.b)}
    total_params = sum(used.values())
    total_flops = sum(s.flops for s in p.layer_shapes)
    biggest = max(math.prod(s.out_shape) for s in p.layer_shapes) * np.dtype(p.dtype).itemsize
    if json_:
        _print_json({"ok": True, **_provenance(p), "dtype": p.dtype, "inputs": inputs, "layers": layers,
                     "total_params": total_params, "total_flops": total_flops, "flops_counted": FLOPS_COUNTED,
                     "largest_output_bytes": biggest})
        return
    con = _console()
    con.print(Text(f"convcli shapes {p.cfg.display}: {p.dtype}"))
    t = _table("input", "shape", "source")
    for name, d in inputs.items():
        _row(t, name, fmt_shape(d["shape"]), d["source"])
    con.print(t)
    t = _table("layer", "type", "input", "output", "params", "FLOPs", "hyperparameters", right=("params", "FLOPs"))
    t.blank_above = False
    for d in layers:
        hyper = ", ".join(f"{k} {_hyper(v)}" for k, v in d["hyperparameters"].items())
        _row(t, d["name"], d["type"], fmt_shape(d["input_shape"]), fmt_shape(d["output_shape"]),
             f"{d['params']:,}", f"{d['flops']:,}", hyper or "-")
    _row(t, "total", "", "", "", f"{total_params:,}", f"{total_flops:,}", "")
    con.print(t)
    shared = "Parameters: each input counted once (one is used more than once). " if total_params < sum(
        s.params for s in p.layer_shapes) else ""
    con.print(Text(f"FLOPs: {FLOPS_COUNTED}.\n{shared}Largest layer output: {format_size(biggest)}."))
    with _guard(debug):
        check_backward_sizes(p)


def _hyper(v) -> str:
    if isinstance(v, list) and len(set(v)) == 1:
        return str(v[0])
    return str(v).replace(" ", "") if isinstance(v, list) else str(v)


# ----------------------------------------------------------------- plot


def _channels(text: str | None, name: str, shape: tuple[int, ...]) -> list[int] | None:
    """``"0,1,5-7"`` -> ``[0, 1, 5, 6, 7]``, each range checked against the
    channels of ``name`` (its last axis) before it is written out."""
    from .plot import channel_out_of_range, check_channel_count

    if text is None:
        return None
    out: list[int] = []
    for part in text.split(","):
        lo, dash, hi = part.strip().partition("-")
        try:
            first, last = int(lo), int(hi if dash else lo)
        except ValueError:
            raise ConvcliError("--channels", f"expected channels like 0,1,5-7, got {text!r}") from None
        if first > last:
            raise ConvcliError("--channels", f"the range {part.strip()} is reversed; write {last}-{first}")
        if last >= shape[-1]:  # (plot refuses a shape without channels before this)
            raise channel_out_of_range(last, name, shape)
        out += range(first, last + 1)
    out = list(dict.fromkeys(out))  # each drawn once: 0,0 or 0-3,2 (a learner's review drew one twice)
    check_channel_count(out, shape[-1])  # before anything is computed
    return out


@app.command(cls=_Command)
def plot(
    config: ConfigArg,
    quantity: Annotated[str, typer.Option("--quantity", "-q", help="The quantity to draw: conv1.Z, dW, W1, ...",
                                          show_default=False)],
    out: Annotated[
        Optional[Path],
        typer.Option("--out", "-o", help="The PNG to write. (default: convcli-out/<config stem>.<quantity>.png)",
                     show_default=False, parser=_path),
    ] = None,
    sample: Annotated[Optional[int], typer.Option("--sample", help="The sample of a batch to draw; -1 the last. (default: 0)",
                                                  show_default=False)] = None,
    channels: Annotated[Optional[str], typer.Option("--channels", help="Channels to draw, e.g. 0,1,5-7; at most 256. (default: all, or the first 64)",
                                                    show_default=False)] = None,
    force: Annotated[bool, typer.Option("--force", metavar=FLAG, help="Replace an existing PNG.")] = False,
    engine: EngineOpt = None,
    dtype: DtypeOpt = None,
    json_: PlotJsonOpt = False,
    debug: DebugOpt = False,
    max_memory: MemOpt = DEFAULT_MEM,
) -> None:
    """Draw one quantity as a PNG: feature maps, filters or a bias (needs matplotlib: pip install matplotlib).

    A batch (an input, a layer's output, a gradient) is drawn as one panel per
    channel of --sample; conv weights (W and dW) as one panel per output
    channel, a kernel per input channel (a colour image where a W has 3,
    never a dW); a bias as bars. Gradients and anything signed use a
    blue-white-red scale centred on 0.
    """

    with _guard(debug, json_):
        from . import plot as plots

        plots.require_matplotlib()  # before any computing
        p = _plan(config, dtype, engine, max_memory, backward=None)  # backward for a gradient only
        name = p.resolve(quantity, "--quantity")
        # A shape plot cannot draw (one number has no channels to bound a
        # --channels range) is refused before the range is written out.
        plots.check_drawable(p.shapes[name], name, _plot_kinds(p).get(name))
        chosen = _channels(channels, name, p.shapes[name])
        path = out if out is not None else Path("convcli-out") / f"{_default_name(p.cfg.path)}.{plots.file_name(name)}"
        _png_target(path, force, "--out" if out is not None else "", p.cfg.files_read())
        backward = p.needs_backward([name])
        results = _run(p, backward, not json_, "plot", layers_needed=None if backward else _layers_needed(p, [name]))
        with _png_folder(path), _placing_png(path):
            plots.plot_quantity(results.quantities[name], name, path, sample=sample, channels=chosen,
                                kind=_plot_kinds(p).get(name), overwrite=force)
    shape = results.quantities[name].shape
    with _reporting(json_):
        if json_:
            # what was drawn, defaults resolved (it said null for the sample 0 and all channels it drew)
            drawn_sample, drawn = plots.drawn_selection(results.quantities[name], name, sample=sample,
                                                        channels=chosen, kind=_plot_kinds(p).get(name))
            _print_json({"ok": True, **_provenance(p), "out": str(path), "quantity": name, "shape": list(shape),
                         "sample": drawn_sample, "channels": drawn})
            return
        _console().print(Text(f"wrote {path}: {name} {fmt_shape(shape)}"))


@contextmanager
def _placing_png(path: Path):
    """Around the drawing of a PNG (written beside ``path``, then renamed
    onto it): the rename and the note that the picture is in place are made
    under a hold of the stop signals (plot.placing), so that a stop's line
    says where it is once it is (a review: 'nothing was written', the new
    PNG there and the old one gone)."""
    from . import plot as plots

    shown = short_path(path)

    @contextmanager
    def renaming():
        with _holding_stops():
            yield
            _committed.update(out=shown, picture=True)

    token = plots.placing.set(renaming)
    try:
        yield
    finally:
        plots.placing.reset(token)


def _plot_kinds(p) -> dict[str, str]:
    """How to draw each quantity, from the roles the layers give them: an
    input a conv layer uses as W, and that layer's dW, are weights whatever
    their names (W1, kernels); its b and db are bars; what flows between
    layers (inputs, outputs, gradients) is a batch of maps. Inputs no layer
    uses are left to plot's choice from name and shape."""
    kinds = {p.input_name: "maps"}
    for layer in p.network.layers:
        kinds[layer.output] = kinds[layer.upstream] = kinds[f"{layer.name}.dA_prev"] = "maps"
    for layer in p.network.layers:
        if layer.kind == "conv":
            kinds[layer.W] = kinds[f"{layer.name}.dW"] = "weights"
            kinds[layer.b] = kinds[f"{layer.name}.db"] = "vector"
    return kinds


def _png_target(path: Path, force: bool, option: str, reads=()) -> None:
    """Refuse, before any computing, a PNG path that will not do; ``option``
    (``--out``, ``--plot``, or "" for the default path) is named with it.
    ``reads``: (key, path) of the files the run reads, which the PNG may
    not be (a symlink to one is written through), --force or not."""
    from .outputs import out_where, read_as

    # the default one said to be (it was blamed on a path no one gave, as forward's --out once was)
    where = f"{option} {short_path(path)}" if option else out_where(path, default=True)
    try:  # a name too long, a folder that may not be searched: the OS says why
        folder, there = path.is_dir(), path.exists()
        read = read_as(path, reads) if reads and (there or path.is_symlink()) else None
    except OSError as exc:
        raise path_error(option or "--out", path, exc) from None
    if read:
        raise ConvcliError(where, f"is {read}: the picture would replace it; give it another name")
    if folder:  # before the suffix: "pictures are PNG" about a folder named out/ would puzzle
        raise ConvcliError(where, "is a folder; give a file name ending in .png")
    if there and not path.is_file():  # a PNG renamed over a device or a FIFO (through a link too) replaces it
        from .plot import NOT_REGULAR

        raise ConvcliError(where, NOT_REGULAR)
    if path.suffix.lower() != ".png":
        raise ConvcliError(where, "pictures are PNG: give a file name ending in .png")
    # The nearest folder that exists: _png_folder makes the rest.
    above, above_is_folder, _ = nearest_folder(path.absolute().parent, option or "--out", path)
    if not there and path.is_symlink():  # written through: the PNG it names is made, if it can be
        real = Path(os.path.realpath(path))
        if real.is_symlink() or not real.parent.is_dir():  # a loop (it ends on a link), or no folder for it
            raise ConvcliError(where, broken_link(path))
    if there and not force:
        raise ConvcliError(where, "already exists; pass --force to replace it")
    if not above_is_folder:
        raise ConvcliError(where, f"cannot create it: {short_path(above)} is a file, not a folder")
    if not os.access(above, os.W_OK | os.X_OK):  # found now, not once the run is done (a read-only folder)
        try:  # a read-only mount says so, as forward's --out does (the OS's EROFS)
            why = "read-only file system" if os.statvfs(above).f_flag & os.ST_RDONLY else "permission denied"
        except (OSError, AttributeError):
            why = "permission denied"
        raise ConvcliError(where, f"cannot write in {short_path(above)}: {why}")


@contextmanager
def _png_folder(path: Path):
    """Create the PNG's missing parent folders; remove them again if drawing fails."""
    _, _, missing = nearest_folder(path.absolute().parent, "", path)
    for d in reversed(missing):
        try:
            d.mkdir()
        except OSError as exc:
            _remove_empty(missing)
            raise ConvcliError(
                short_path(path), f"cannot create folder {short_path(d)}: {exc.strerror or exc}"
            ) from None
    try:
        yield
    except BaseException:
        _remove_empty(missing)
        raise


def _remove_empty(folders: list[Path]) -> None:
    for d in folders:  # deepest first
        try:
            d.rmdir()
        except OSError:
            pass


def _plot_differences(path: Path, graded, p, reference: dict, force: bool = False) -> dict:
    """``check --plot``: |yours - convcli's| of every quantity that differs
    (``reference``: convcli's results, or with --each-layer its layers on
    your inputs), in one PNG, at the tolerances check used. Returns what was
    drawn, for the report: ``{"out", "drawn", "not_drawn"}`` (not drawn:
    another shape)."""
    from . import plot as plots

    rtol, atol = p.tolerance
    yours = {o.quantity: o.array for o in graded if o.array is not None}
    # in the network's order (convcli's results are): a cause drawn above its effects
    pairs = {q: (yours[q], ours) for q, ours in reference.items() if q in yours}
    other_shape = {o.quantity: o.note for o in graded if o.array is None and o.status == "fail"}
    # check's hints ("yours is convcli's times 1/4 everywhere"), not its first difference: the title has that
    # (nor its count of elements that differ: the title's first lines count them)
    hints = {o.quantity: "; ".join(part for part in o.note.split("; ")
                                   if not part.startswith(("first differs at", "compared as"))
                                   and not re.match(r"\d+ of \d+ elements? differs?\b", part))
             for o in graded if o.array is not None and not o.passed}
    # missing or unreadable: nothing to draw, but the picture names them (it may be kept apart from the report)
    nothing = {o.quantity: o.note for o in graded if o.array is None and not o.passed and o.quantity not in other_shape}
    with _png_folder(path), _placing_png(path):
        plots.plot_differences(pairs, path, rtol=rtol, atol=atol, not_drawn=other_shape, notes=hints,
                               nothing_to_draw=nothing, overwrite=force,
                               atols={o.quantity: o.atol if o.graded_atol is None else o.graded_atol
                                      for o in graded if o.array is not None})
    return {
        "out": str(path),
        "drawn": [o.quantity for o in graded if not o.passed and o.array is not None],
        # another shape; not the missing or unreadable ones, which have nothing to draw
        "not_drawn": list(other_shape),
    }


# ----------------------------------------------------------------- entry point


def main(fresh: bool = True) -> None:
    """The ``convcli`` console script and ``python -m convcli``.

    Runs the app with ``standalone_mode=False`` so that click's usage errors
    (a missing argument, a bad or unknown option, an unknown command) reach
    here and become the one line every other error is, exit 2, instead of
    click's boxed usage text. A bare ``convcli`` still prints the help (exit 2).
    ``fresh``: a stop signal received before is not this run's (main may
    run again in one process: tests, a library's caller); convcli.__main__
    passes False, whose handlers took any while the CLI loaded.
    """
    _said.clear()  # this command's
    if fresh:
        _signalled.clear()
    errors = sys.modules[typer.BadParameter.__module__]  # click's exceptions, vendored by typer or not
    # NumPy loads numpy.random on first use; a stop signal raised inside that
    # import was lost, so the run would go on to its end (see _on_signal).
    import numpy.random  # noqa: F401
    for signum in _STOP_SIGNALS:
        if signal.getsignal(signum) is not signal.SIG_IGN:  # a background job's ignored Ctrl-C (nohup's SIGHUP) stays ignored
            signal.signal(signum, _on_signal)
    sys.unraisablehook = _unraisable
    for stream in (sys.stdout, sys.stderr):  # a character the stream's encoding lacks (a path's é on an
        try:  # ASCII terminal) is written escaped: a review's report raised UnicodeEncodeError, exit 1
            stream.reconfigure(errors="backslashreplace")
        except (AttributeError, ValueError, OSError):  # None (closed), or no text wrapper
            pass
    _clean_sizes(os.environ)  # for click's and typer's help too, which read them from os.environ
    args = sys.argv[1:]  # on a narrow terminal, click's plain help (see HELP_RICH_MIN_WIDTH)
    columns = shutil.get_terminal_size().columns
    narrow = (not args or "--help" in args or "-h" in args) and columns < HELP_RICH_MIN_WIDTH
    typer.core.HAS_RICH = _RICH_HELP and not narrow
    # (click's plain help is never narrower than 50 columns unless told: at 40, 31 of 45 lines ran past)
    _click_formatting().FORCED_WIDTH = max(columns - 2, 20) if narrow else None
    if sys.stderr is None:  # started with stderr closed (2>&-): a run goes on, its messages unseen
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115 (for the rest of the process; a review: every
        # command that looked whether stderr was a terminal, for a progress bar, exited 3 having written nothing)
    if sys.stdout is None:  # started with stdout closed (>&-): no report could be shown
        _say_error(str(_StdoutFailed(OSError(errno.EBADF, os.strerror(errno.EBADF)))))
        sys.exit(EXIT_BAD_INPUT)
    try:
        code = app(prog_name="convcli", standalone_mode=False)
        if "signum" in _signalled and not (_said.get("stop") or _said.get("final")):
            # a stop outside _guard (a command's imports, its report): typer made it exit 130, silently,
            # whatever the signal (a review); said here, with the signal's own code
            stop = _stopped(_stop(_signalled["signum"]), as_json="--json" in sys.argv[1:])
            sys.exit(stop.exit_code)
    except SystemExit as exc:
        # Without standalone mode a command's exit code is returned, not
        # raised: a SystemExit from in there is a closed pipe under --help
        # (rich's console exits 1) or --version (click's, exits 1; stdout
        # wrapped). The commands' reports handle their own closed pipe (exit
        # 1 is for a failed check), so this was help or version, and it was
        # said enough: exit 0 (2 for the help a bare ``convcli`` prints).
        if exc.code == EXIT_FAILED:
            _stdout_closed()
            sys.exit(EXIT_OK if sys.argv[1:] else EXIT_BAD_INPUT)
        raise
    except BrokenPipeError:  # the same, had click let it through
        _stdout_closed()
        sys.exit(EXIT_OK)
    except (_StdoutFailed, OSError) as exc:
        # The commands' own work runs under _guard, which turns every error
        # into its line; what gets here failed writing stdout (their report,
        # or click's --help/--version, which raise the bare OSError).
        failed = exc if isinstance(exc, _StdoutFailed) else _StdoutFailed(exc)
        _stdout_closed()  # so that the flush at exit fails no more
        # The report comes after the outputs are in place: say so, lest exit 2 read as "nothing written".
        written = f" ({_written()})" if _committed else ""
        _say_error(str(failed) + written)
        sys.exit(EXIT_BAD_INPUT)
    except errors.UsageError as exc:
        if type(exc).__name__ != "NoArgsIsHelpError":  # that one has printed the help already
            _say_error(_usage_line(exc, errors))
        sys.exit(EXIT_BAD_INPUT)
    except errors.ClickException as exc:
        _say_error(exc.format_message())
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.stderr.write("convcli: aborted\n")
        sys.exit(EXIT_FAILED)
    sys.exit(code if isinstance(code, int) else EXIT_OK)


def _commands_taking(ctx, option: str) -> list[str]:
    """The other convcli commands that have OPTION (``--memory-budget`` on
    ``check``: forward and backward stream, check does not)."""
    group = ctx.parent.command if ctx is not None and ctx.parent is not None else None
    commands = getattr(group, "commands", {})
    return [
        name
        for name, command in commands.items()
        if ctx is not None and command is not ctx.command and any(option in p.opts for p in command.params)
    ]


def _usage_line(exc, errors) -> str:
    """A click usage error as ``WHERE: WHAT``: the option or argument (or the
    command) it is about, then what is wrong, in convcli's words where
    click's are a sentence about something else (a pydantic parse)."""
    import re

    ctx = getattr(exc, "ctx", None)
    command = ctx.command_path if ctx is not None else "convcli"
    see = f" (see {command} --help)"
    if isinstance(exc, errors.NoSuchOption):
        if exc.option_name == "--version" and ctx is not None and ctx.parent is not None:  # convcli's own option
            return "--version: an option of convcli itself, not of a command: convcli --version"
        takers = _commands_taking(ctx, exc.option_name)
        if takers:  # another command's option, not a typo: click's near names would mislead
            name = ctx.info_name if ctx is not None else "this command"
            return f"{exc.option_name}: {name} has no such option; {joined(takers)} take{'s' if len(takers) == 1 else ''} it{see}"
        if exc.possibilities:  # the nearest, and any about as near (a review: --formt was told --force or --format or --out)
            import difflib

            near = {p: difflib.SequenceMatcher(None, exc.option_name, p).ratio() for p in exc.possibilities}
            best = max(near.values())
            said = sorted((p for p in near if near[p] >= best - NEAR_OPTIONS), key=lambda p: (-near[p], p))
            return f"{exc.option_name}: no such option (did you mean {' or '.join(said)}?)"
        return f"{exc.option_name}: no such option{see}"
    if isinstance(exc, errors.BadParameter):
        param = exc.param
        if param is None:
            where = command
        elif getattr(param, "param_type_name", "") == "argument":
            where = (param.name or "argument").upper()
        else:
            where = next((o for o in param.opts if o.startswith("--")), param.opts[0])
        if isinstance(exc, errors.MissingParameter):
            return f"{where}: missing{see}"
        cause = exc.__cause__
        if cause is not None and hasattr(cause, "errors") and cause.errors():
            from .config import validation_message

            return f"{where}: {validation_message(cause.errors()[0])}"
        return f"{where}: {_sentence(exc.message)}"
    message = exc.format_message()
    unknown = re.match(r"No such command '(.*?)'\.\s*(.*)$", message)
    if unknown:
        hint = unknown.group(2).strip().rstrip(".")
        commands = ", ".join(getattr(ctx.command, "commands", {})) if ctx is not None else ""
        hint = f" ({_sentence(hint)}?)" if hint else (f"; commands: {commands}" if commands else see)
        return f"{unknown.group(1)}: no such command{hint.replace('??', '?')}"
    if isinstance(exc, errors.BadOptionUsage):
        what = re.sub(rf"^Option '{re.escape(exc.option_name)}' ", "", message)
        return f"{exc.option_name}: {_sentence(what)}"
    return f"{command.split(' ', 1)[-1]}: {_sentence(message)}{see}"


def _sentence(text: str) -> str:
    """A message as the WHAT of ``WHERE: WHAT``: one line, no final period,
    lower case first unless it starts an acronym (``CONFIG``)."""
    text = " ".join(str(text).split()).rstrip(".")
    if len(text) > 1 and text[0].isupper() and not text[1].isupper():
        text = text[0].lower() + text[1:]
    return text
