"""The one exception type for a user's mistake.

The library and the config/array readers raise :class:`ConvcliError`; the CLI
turns it into ``convcli: error: WHERE: WHAT`` and exit code 2 in one place.
The NumPy layer code raises plain ``ValueError`` (the notebook API's
contract); the CLI wraps those with the layer they came from.
"""

from __future__ import annotations

import errno
import os


class ConvcliError(Exception):
    """Bad usage or bad input: a config, an array file, an option.

    ``where`` is the file and key path (``seed.yaml: layers[0].stride``), or
    the line and column of a YAML syntax error; ``what`` says what is wrong.
    """

    exit_code = 2

    def __init__(self, where: str, what: str):
        super().__init__(where, what)
        self.where = where
        self.what = what

    def __str__(self) -> str:
        return f"{self.where}: {self.what}" if self.where else self.what


def fmt_shape(shape) -> str:
    """``(4, 8, 8, 3)``, ``(4,)``: a shape as Python writes a tuple."""
    return "(" + ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"


def short_path(path, limit: int = 80) -> str:
    """A path as an error message shows it: whole, but for a name in it
    longer than any the OS allows (255 bytes), shown as its start and end
    around ``...`` in ``limit`` characters, and a path longer than any the
    OS allows (4096 bytes) cut so too, in 5 * ``limit``: a name refused as
    too long would fill the screen. (Every path was cut at 80 characters
    once, and a deep but real one lost its middle: it could not be copied.)
    A control character in it (a NUL, ESC, a newline) is written as its
    escape (:func:`printable`): printed raw, it was invisible or acted on."""
    def cut(text: str, most: int) -> str:
        keep = (most - 3) // 2
        return f"{text[:keep]}...{text[-keep:]}"

    def size(text: str) -> int:  # bytes, as the OS counts them (a lone surrogate has no fsencode)
        return len(text.encode("utf-8", "surrogatepass"))

    text = "/".join(cut(part, limit) if size(part) > NAME_MAX else part for part in str(path).split("/"))
    return printable(cut(text, 5 * limit) if size(text) > PATH_MAX else text)


def printable(text: str) -> str:
    """``text`` with each character a terminal would act on instead of show
    written as its Python escape: control characters (ESC, a newline, a
    carriage return), format ones (a right-to-left override), a lone
    surrogate from bytes that are no UTF-8. For names from a submission
    (its files, a zip's members, an .h5's datasets): printed raw, one
    coloured or cleared the grader's terminal, or added a line such as
    "your arrays: all 8 checks passed" to the report. Letters of any
    script stay as they are."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


NAME_MAX, PATH_MAX = 255, 4096  # Linux's, and most systems': the longest name, the longest path


def path_error(where: str, path, exc: OSError) -> ConvcliError:
    """An OSError met while looking at a path a user gave (a name too long,
    a folder that may not be searched), as that user's error: the path,
    shortened, and the OS's reason."""
    return ConvcliError(where, f"{short_path(path)}: {exc.strerror or exc}")


def nearest_folder(folder, where: str, path) -> tuple:
    """``(nearest, is_folder, missing)``: the nearest of ``folder`` and the
    folders above it that exists, whether it is a folder (not a file), and
    the missing ones on the way, nearest first (to be made in reverse).
    ``where`` and ``path`` name an OSError met on the way (:func:`path_error`)."""
    missing = []
    try:
        while not folder.exists():
            if folder.is_symlink():  # a loop, or a link to nothing: no folder can be made there (a review:
                # mkdir's 'File exists' for --out LOOP/x)
                given = short_path(path)
                shown = short_path(folder if os.path.isabs(path) else os.path.relpath(folder))
                raise ConvcliError(where if given in where else f"{where} {given}".strip(),
                                   f"{shown}, on the way, {broken_link(folder)}")
            missing.append(folder)
            folder = folder.parent
        return folder, folder.is_dir(), missing
    except OSError as exc:
        raise path_error(where, path, exc) from None


def broken_link(path) -> str:
    """"" unless ``path`` is a symlink that leads nowhere: then what is wrong
    with it, for a message about the path ("is a symlink to ..., which is not
    there", or "is a symlink that loops back on itself")."""
    if not os.path.islink(path) or os.path.exists(path):
        return ""
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "is a symlink that loops back on itself"
    return f"is a symlink to {short_path(os.path.realpath(path))}, which is not there"
