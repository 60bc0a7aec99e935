"""Usage errors through the real entry point, ``convcli.cli.main`` (the
console script and ``python -m convcli``): one line ``convcli: error: WHERE:
WHAT`` on stderr and exit 2, like every other bad input, not click's boxed
usage text. --help, --version and the exit codes of commands are unchanged.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

import convcli
from convcli.cli import main
from test_cli_helpers import SEED, SMALL, write


def call(monkeypatch, capsys, *args) -> tuple[int, str, str]:
    """Run ``convcli ARGS`` through main(); (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["convcli", *map(str, args)])
    with pytest.raises(SystemExit) as info:
        main()
    out, err = capsys.readouterr()
    code = info.value.code
    return (0 if code is None else code), out, err


def one_line(code: int, out: str, err: str) -> str:
    assert code == 2, (code, out, err)
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("convcli: error: ")
    assert "╭" not in err and "Usage:" not in err and "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize(
    "args, line",
    [
        (["forward"], "convcli: error: CONFIG: missing (see convcli forward --help)"),
        (["gradcheck", "{cfg}", "--samples", "abc"], "convcli: error: --samples: expected an integer, got 'abc'"),
        (["gradcheck", "{cfg}", "--eps", "small"], "convcli: error: --eps: expected a number, got 'small'"),
        (["gradcheck", "{cfg}", "--samples", "-1"], "convcli: error: --samples: must be >= 0, got '-1'"),
        (["check", "{cfg}", "--rtol", "-1e-3"], "convcli: error: --rtol: must be >= 0, got -0.001"),
        (["check", "{cfg}", "--rtol", "nan"], "convcli: error: --rtol: must be a finite number, got nan"),
        (["gradcheck", "{cfg}", "--sampels", "3"], "convcli: error: --sampels: no such option (did you mean --samples?)"),
        (["shapes", "{cfg}", "--frobnicate"], "convcli: error: --frobnicate: no such option (see convcli shapes --help)"),
        # the nearest name alone where the others are far less like it (a review: "--force or --format or --out")
        (["forward", "{cfg}", "--formt", "h5"], "convcli: error: --formt: no such option (did you mean --format?)"),
        # another command's option: named as such, not guessed at as a typo
        (["check", "{cfg}", "--memory-budget", "1M"], "convcli: error: --memory-budget: check has no such option; "
                                                      "forward and backward take it (see convcli check --help)"),
        (["plot", "{cfg}", "--quantity", "Z", "--format", "h5"],
         "convcli: error: --format: plot has no such option; forward and backward take it (see convcli plot --help)"),
        (["gradcheck", "{cfg}", "--against", "x"],
         "convcli: error: --against: gradcheck has no such option; check takes it (see convcli gradcheck --help)"),
        # convcli's own option after a command (a review: "did you mean --json?")
        (["forward", "{cfg}", "--version"],
         "convcli: error: --version: an option of convcli itself, not of a command: convcli --version"),
        (["fowrard", "{cfg}"], "convcli: error: fowrard: no such command (did you mean 'forward'?)"),
        (["frobnicate"], "convcli: error: frobnicate: no such command; commands: forward, backward, check, "
                         "gradcheck, shapes, plot"),
        (["forward", "{cfg}", "extra"], "convcli: error: forward: got unexpected extra argument(s) (extra) "
                                        "(see convcli forward --help)"),
        (["forward", "{cfg}", "--out"], "convcli: error: --out: requires an argument"),
        (["plot", "{cfg}"], "convcli: error: --quantity: missing (see convcli plot --help)"),
        # Path("") is Path("."): an empty path ("$UNSET") read as the current folder
        (["backward", ""], "convcli: error: CONFIG: is empty; give a file or folder name"),
        (["backward", "{cfg}", "--out", ""], "convcli: error: --out: is empty; give a file or folder name"),
        (["forward", "{cfg}", "-o", ""], "convcli: error: --out: is empty; give a file or folder name"),
        (["check", "{cfg}", "--expected", ""], "convcli: error: --expected: is empty; give a file or folder name"),
        (["check", "{cfg}", "--against", ""], "convcli: error: --against: is empty; give a file or folder name"),
        (["check", "{cfg}", "--against", "{cfg}", "--plot", ""],
         "convcli: error: --plot: is empty; give a file or folder name"),
        (["plot", "{cfg}", "--quantity", "Z", "--out", ""], "convcli: error: --out: is empty; give a file or folder name"),
        # an option that takes one value, given twice: click kept the last silently (a review: a grading
        # loop's --against $A --against $B graded B alone, exit 0), in each of its spellings
        (["check", "{cfg}", "--against", "a", "--against", "b"],
         "convcli: error: --against: given twice ('a', then 'b'); give it once"),
        (["check", "{cfg}", "--against=a", "--against", "b"],
         "convcli: error: --against: given twice ('a', then 'b'); give it once"),
        (["backward", "{cfg}", "-o", "x", "-oy"], "convcli: error: --out: given twice ('x', then 'y'); give it once"),
        (["plot", "{cfg}", "-q", "Z", "--quantity", "dW"],
         "convcli: error: --quantity: given twice ('Z', then 'dW'); give it once"),
        (["check", "{cfg}", "--rtol", "1e-3", "--json", "--rtol=1e-4"],
         "convcli: error: --rtol: given twice ('1e-3', then '1e-4'); give it once"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(tmp_path, monkeypatch, capsys, args, line):
    monkeypatch.chdir(tmp_path)  # (a relative --out the check failed to refuse wrote into the repo once)
    cfg = write(tmp_path, SMALL)
    args = [str(cfg) if a == "{cfg}" else a for a in args]
    assert one_line(*call(monkeypatch, capsys, *args)) == line


def test_an_option_given_twice_writes_nothing_and_a_flag_twice_stands(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    cfg = write(tmp_path, SMALL)
    a, b = tmp_path / "a", tmp_path / "b"
    line = one_line(*call(monkeypatch, capsys, "backward", cfg, "--out", a, "--out", b))
    assert line == f"convcli: error: --out: given twice ({str(a)!r}, then {str(b)!r}); give it once"
    assert not a.exists() and not b.exists()
    # a flag given twice says the same thing twice, and so does an option given one value twice
    code, out, err = call(monkeypatch, capsys, "backward", cfg, "--json", "--json", "--out", a, "-o", a)
    assert code == 0 and a.is_dir() and '"ok": true' in out, (code, err)
    # --help anywhere shows the help, as click has it (a review: "given twice" instead)
    code, out, err = call(monkeypatch, capsys, "check", cfg, "--against", a, "--against", b, "--help")
    assert code == 0 and "--against" in out and err == "", (code, err)
    # -h as an option's value is no help (a review: it switched the check off)
    line = one_line(*call(monkeypatch, capsys, "forward", cfg, "-o", "-h", "--dtype", "float64", "--dtype", "float32"))
    assert line == "convcli: error: --dtype: given twice ('float64', then 'float32'); give it once", line
    assert not (tmp_path / "-h").exists()
    # a second one with its value left out is click's "requires an argument"
    line = one_line(*call(monkeypatch, capsys, "check", cfg, "--against", a, "--against"))
    assert line == "convcli: error: --against: requires an argument", line


def test_help_version_and_a_bare_convcli(monkeypatch, capsys):
    code, out, err = call(monkeypatch, capsys, "--help")
    assert code == 0 and "Usage:" in out and "gradcheck" in out and err == ""
    code, out, err = call(monkeypatch, capsys, "gradcheck", "--help")
    assert code == 0 and "--samples" in out
    code, out, err = call(monkeypatch, capsys, "--version")
    assert code == 0 and out.startswith(f"convcli {convcli.__version__}")
    code, out, err = call(monkeypatch, capsys)  # no command: the help, exit 2, as before
    assert code == 2 and "Usage:" in out and "convcli: error" not in err


@pytest.mark.parametrize("columns", ["40", "50"])
def test_narrow_help_cuts_no_option_name(monkeypatch, capsys, columns):
    """A terminal review: at 40 columns typer's rich help cut option names
    to "--sampl...", "--thres...", "--memory-budg..." (an option that cannot
    be read cannot be typed). Below HELP_RICH_MIN_WIDTH the help is click's
    plain one, which wraps its descriptions and keeps every name whole; at
    80 columns the rich panels as ever."""
    import typer

    monkeypatch.setattr(typer.core, "HAS_RICH", typer.core.HAS_RICH)  # (main sets them: restored after)
    from convcli.cli import _click_formatting

    monkeypatch.setattr(_click_formatting(), "FORCED_WIDTH", _click_formatting().FORCED_WIDTH)
    monkeypatch.setenv("COLUMNS", columns)
    for command, names in (("gradcheck", ["--samples", "--threshold", "--max-memory", "--engine"]),
                           ("forward", ["--memory-budget", "--max-memory", "--format", "--force"]),
                           ("check", ["--expected", "--against", "--each-layer", "--complete"])):
        code, out, err = call(monkeypatch, capsys, command, "--help")
        assert code == 0 and err == "", err
        assert "…" not in out and "╭" not in out, out
        assert all(name in out.split() or f"{name}," in out.split() for name in names), (names, out)
        # within the width too (click's own help is 50 wide at least: a later review saw 31 of 45 lines past 40)
        assert max(len(line) for line in out.splitlines()) <= int(columns), out
    monkeypatch.setenv("COLUMNS", "80")
    code, out, _ = call(monkeypatch, capsys, "gradcheck", "--help")
    assert code == 0 and "╭" in out and "--samples" in out


def test_exit_codes_of_commands_pass_through(tmp_path, monkeypatch, capsys):
    seed = write(tmp_path, SEED)
    assert call(monkeypatch, capsys, "check", seed)[0] == 0
    bad = write(tmp_path, SEED.replace("dW.mean: 10.581741275547566", "dW.mean: 10.5"), "bad.yaml")
    code, out, _ = call(monkeypatch, capsys, "check", bad)
    assert code == 1 and "1 of 3 checks FAILED" in out
    code, out, err = call(monkeypatch, capsys, "check", tmp_path / "missing.yaml")
    assert one_line(code, out, err).endswith("missing.yaml: no such file")

    def boom(*a, **k):
        raise ZeroDivisionError("oops")

    monkeypatch.setattr("convcli.runner.run", boom)
    code, _, err = call(monkeypatch, capsys, "check", seed)
    assert code == 3 and err.startswith("convcli: error: internal error: ZeroDivisionError: oops")


def test_the_installed_script(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "convcli", "gradcheck", str(write(tmp_path, SMALL)), "--samples",
                           "many"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == "convcli: error: --samples: expected an integer, got 'many'\n"


@pytest.mark.parametrize("command", [[], ["forward"], ["backward"], ["check"], ["gradcheck"], ["shapes"], ["plot"]])
def test_flags_show_no_value_in_the_help(command):
    """--force takes no value: the help must not suggest one (``--force <bool>``);
    nor --help itself (``-h <bool>``)."""
    from test_cli_helpers import run

    result = run([*command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    flags = [line for line in result.stdout.splitlines()
             if any(f"{flag} " in line for flag in ("--force", "--json", "--debug", "--plot", "--version", "--help"))]
    assert flags, result.stdout
    for line in flags:
        assert "<bool>" not in line, line


@pytest.mark.parametrize("command", ["forward", "backward", "check", "gradcheck", "shapes", "plot"])
def test_the_help_names_the_config_as_errors_do(command, monkeypatch, capsys):
    """The usage line and the error for a missing config both say CONFIG
    (the help said {config}, the error CONFIG)."""
    from test_cli_helpers import run

    usage = run([command, "--help"], env={"COLUMNS": "200"}).stdout
    assert "CONFIG" in usage and "config}" not in usage
    assert one_line(*call(monkeypatch, capsys, command)).startswith("convcli: error: CONFIG: missing")


@pytest.mark.parametrize("command", ["forward", "backward", "check", "gradcheck", "shapes", "plot"])
def test_paths_show_as_paths_in_the_help(command):
    """CONFIG, --out, --expected, --against, --plot are read through a
    parser that refuses an empty path; the help still calls them <path>, as
    typer's own paths, beside <str> and <int> (not the class name <Path>)."""
    from test_cli_helpers import run

    help_text = run([command, "--help"], env={"COLUMNS": "200"}).stdout
    config = next(line for line in help_text.splitlines() if "CONFIG " in line and "<" in line)
    assert "<path>" in config and "<Path>" not in help_text
