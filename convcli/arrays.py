"""Arrays in: the sources of DESIGN.md section 2, read safely.

Two steps, so that nothing big is allocated before it is known to fit:

- :func:`probe` tells an array's shape and stored dtype without reading its
  data (the ``.npy`` header, the ``.npz`` member's header, the ``.h5``
  dataset's metadata; for ``random``/``zeros``/``ones`` the shape given);
- :func:`load` reads it, refuses it if it is larger than ``max_memory``,
  casts it to the compute dtype, multiplies by ``scale``, and refuses NaN/Inf
  unless allowed. Of an ``.h5`` dataset or an ``.npy`` it reads only the rows
  a ``slice`` selects; an ``.npz`` member is read whole, then sliced (a zip
  member has no random access), so its whole size counts against
  ``max_memory``.

Safety: ``.npy``/``.npz`` are read with ``allow_pickle=False`` and object
dtypes are refused from the header, before ``np.load`` sees them.

Every problem is a :class:`~convcli.errors.ConvcliError`; ``where`` is given
by the caller (the config file and key path).
"""

from __future__ import annotations

import collections
import itertools
import lzma
import math
import os
import re
import tokenize
import zipfile
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import H5_SUFFIXES, MAX_SIZE, NPZ_SUFFIXES, Source, slice_text, value_shape
from .errors import ConvcliError, path_error, printable, short_path
from .hparams import did_you_mean
from .stats import all_finite

DEFAULT_MAX_MEMORY = 4 << 30  # 4 GiB, DESIGN.md section 6
_NPY_MAGIC = b"\x93NUMPY"
# Rows streams a file this many bytes at a time: a zip member's reader holds
# a few times what one read asks for (the compressed bytes, the inflated
# ones, their join). Within streaming.IO_BUFFERS.
READ_PIECE = 1 << 20

_UNITS = {
    "": 1, "b": 1,
    "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9, "gb": 10**9, "t": 10**12, "tb": 10**12,
    "p": 10**15, "pb": 10**15, "e": 10**18, "eb": 10**18,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40, "pib": 2**50, "eib": 2**60,
}  # up to EiB: the cap, MAX_SIZE (4 EiB), is said in PiB and must read back


def parse_size(text: str, option: str = "--max-memory") -> int:
    """``"4GiB"``, ``"512MiB"``, ``"100MB"``, ``"1e9"``, ``"1048576"`` -> bytes.
    ``option`` names the option in an error."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([A-Za-z]*)\s*", str(text))
    unit = m.group(2).lower() if m else None
    if not m or unit not in _UNITS:
        raise ConvcliError(option, f"cannot read {text!r} as a size (examples: 4GiB, 512MiB, 100MB, 1e9)")
    size = float(m.group(1)) * _UNITS[unit]
    if not size <= MAX_SIZE:  # 1e400 is inf: int() of it would raise OverflowError
        raise ConvcliError(option, f"{text!r} is too large: at most {format_size(MAX_SIZE)}")
    size = int(size)
    if size < 1:
        raise ConvcliError(option, f"must be at least 1 byte, got {text!r}")
    return size


def size_arg(n: int) -> str:
    """``n`` bytes as an option's value that holds them: 20736 -> "20.3KiB"
    (rounded up, where :func:`format_size` rounds to the nearest)."""
    for unit, scale in (("B", 1), ("KiB", 2**10), ("MiB", 2**20), ("GiB", 2**30), ("TiB", 2**40), ("PiB", 2**50)):
        if n < scale * 1024 or unit == "PiB":
            if unit == "B":
                return f"{n}B"
            tenths = -(-n * 10 // scale)
            while parse_size(f"{tenths / 10:g}{unit}") < n:  # parse_size's float product may come out short
                tenths += 1
            return f"{tenths / 10:g}{unit}"
    raise AssertionError  # pragma: no cover


def format_size(n: float) -> str:
    if n > MAX_SIZE:  # a shape of huge sizes: its byte count may not even fit a float
        return f"more than {format_size(MAX_SIZE)}"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError  # pragma: no cover


def check_size(shape, itemsize: int, where: str, max_memory: int, what: str = "array", hint: str = "") -> None:
    """Refuse an array of ``shape`` before it is allocated; ``hint``, e.g.
    `` (raise --max-memory)``, ends the message with what would make it fit."""
    nbytes = math.prod(shape) * itemsize
    if nbytes > max_memory and max_memory >= MAX_SIZE:  # no --max-memory (shapes): the largest size there is
        raise ConvcliError(where, f"{what} of shape {tuple(shape)} needs {format_size(nbytes)}, "
                                  "more than any machine's memory")
    if nbytes > max_memory:
        raise ConvcliError(
            where,
            f"{what} of shape {tuple(shape)} needs {format_size(nbytes)}, more than --max-memory "
            f"{format_size(max_memory)}; refused before allocating it{hint}",
        )


@dataclass(frozen=True)
class H5Chunks:
    """An ``.h5`` dataset stored in compressed (filtered) chunks: HDF5
    inflates a whole chunk to read any element of it."""

    dataset: str  # its path in the file
    chunks: tuple[int, ...]  # the chunk shape

    def cache(self, shape: tuple[int, ...], itemsize: int) -> tuple[int, int]:
        """(slots, bytes) of a chunk cache that holds every chunk a row of
        ``shape`` (the dataset's, first axis sliced or not) touches: read
        row after row, each chunk is then inflated once."""
        count = math.prod(-(-n // c) for n, c in zip(shape[1:], self.chunks[1:]))
        return count, count * math.prod(self.chunks) * itemsize


@dataclass(frozen=True)
class ArrayInfo:
    """What :func:`probe` learns without reading the data."""

    shape: tuple[int, ...]
    dtype: np.dtype  # as stored; load() casts to the compute dtype
    h5_chunks: H5Chunks | None = None


# --------------------------------------------------------------------- files


def resolve(src_file: str, base_dir: Path, where: str) -> Path:
    path = (base_dir / src_file) if not Path(src_file).is_absolute() else Path(src_file)
    try:  # a name too long, a folder that may not be searched: the OS says why
        found, folder, regular = path.exists(), path.is_dir(), path.is_file()
    except OSError as exc:
        raise path_error(where, src_file, exc) from None
    if not found:
        if path.is_symlink():  # exists() follows it: a dangling link, or a loop of links
            raise ConvcliError(where, f"{short_path(src_file)} is a symbolic link to {short_path(os.readlink(path))}, "
                                      "which leads to no file")
        looked = f" (looked for {short_path(path)})" if short_path(path) != short_path(src_file) else ""
        raise ConvcliError(where, f"file not found: {short_path(src_file)}{looked}"
                                  f"{_from_here_hint(src_file, base_dir)}")
    if folder:
        raise ConvcliError(where, f"{short_path(src_file)} is a folder, not an array file")
    if not regular:
        raise not_regular(where, src_file)
    return path


def _from_here_hint(src_file: str, base_dir: Path) -> str:
    """A relative path that names a file from the current folder but not
    from the config's: paths in a config are relative to the config's own
    folder (a learner's usual slip, typing them as from the shell)."""
    here = Path(src_file)
    try:
        if here.is_absolute() or not here.is_file():
            return ""
        fixed = os.path.relpath(here.resolve(), base_dir.resolve())
    except (OSError, ValueError):  # ValueError: another drive, on Windows
        return ""
    return (f"; {short_path(src_file)} from the current folder exists: name it {short_path(fixed)} "
            "(a config's paths are relative to the config's own folder)")


def not_regular(where: str, shown) -> ConvcliError:
    """The error for an array file that is a named pipe or a device: a pipe
    would be waited on forever for a writer, and NumPy and HDF5 seek in what
    they read."""
    return ConvcliError(where, f"{short_path(shown)} is not a regular file (a pipe or a device); "
                               "arrays are read from .npy, .npz or .h5 files")


# What zipfile raises on a corrupt .npz besides OSError/EOFError: a bad
# archive, a deflate stream that does not inflate, a header naming a
# compression method or zip version it lacks.
# (lzma's is no OSError: a corrupt LZMA member was exit 3, a review)
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, lzma.LZMAError, NotImplementedError)
# ... and, only where a zip member's bytes are read, the RuntimeError of a corrupt bzip2 member ("Invalid
# sequence of commands sent to libbzip2", a later review; an encrypted member, zipfile's other RuntimeError,
# is refused by its flag before it is opened): not in _ZIP_ERRORS, whose wider handlers would take a bug of
# convcli's for a student's unreadable file (a review of that)
_ZIP_READ_ERRORS = (*_ZIP_ERRORS, RuntimeError)


def _check_dtype(dtype: np.dtype, where: str, name: str, h5: bool = False) -> None:
    if h5 and dtype.hasobject:  # h5py's vlen and string types: no pickle involved
        raise ConvcliError(where, f"{name} is a variable-length or string HDF5 dataset (dtype {dtype}); "
                                  "convcli needs a plain numeric array")
    if dtype.hasobject:
        raise ConvcliError(
            where,
            f"{name} holds Python objects (dtype {dtype}); pickled object arrays are refused "
            "because loading them can run code",
        )
    if dtype.kind == "c":
        raise ConvcliError(where, f"{name} is complex (dtype {dtype}); convcli needs real numbers")
    if dtype.kind not in "biuf" or dtype.fields is not None or dtype.subdtype is not None:
        raise ConvcliError(where, f"{name} is not a plain numeric array (dtype {dtype})")


def _npy_header(fp, where: str, name: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    fmt = np.lib.format
    try:
        version = fmt.read_magic(fp)
    except (ValueError, OSError, EOFError, zlib.error):
        pickled = False
        try:
            fp.seek(0)
            head = fp.read(8)
            kind = _kind_of(head)
            pickled = head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05")  # its protocol
        except (OSError, ValueError, zlib.error, *_ZIP_READ_ERRORS):
            kind = None
        if kind == ".npz" and _torch_zip(fp):  # (renamed to .npz it would hold "no .npy arrays": a review)
            raise ConvcliError(where, torch_saved_message(name)) from None
        if kind is not None and kind != ".npy":
            raise ConvcliError(where, f"{name} is an {kind} file with a .npy name; rename it to "
                                      f"{'.h5' if kind == 'HDF5' else kind}") from None
        if kind is None and pickled:
            raise ConvcliError(where, f"{name} is a Python pickle (pickle.dump), not a .npy file: save the "
                                      "array with np.save (a pickle is never loaded: loading one can run code)"
                               ) from None
        raise ConvcliError(where, f"{name} is not a .npy file (no NumPy header); is it corrupt?") from None
    try:
        if version == (1, 0):
            shape, fortran, dtype = fmt.read_array_header_1_0(fp)
        elif version == (2, 0):
            shape, fortran, dtype = fmt.read_array_header_2_0(fp)
        elif version == (3, 0):  # a utf-8 header; its reader is private (numpy.lib._format_impl in NumPy 2)
            impl = getattr(np.lib, "_format_impl", fmt)
            shape, fortran, dtype = impl._read_array_header(fp, version)
        else:
            raise ValueError(f"unknown .npy format version {version[0]}.{version[1]}")
    except (ValueError, OSError, EOFError, SyntaxError, zlib.error, tokenize.TokenError) as exc:
        # NumPy tokenizes the header's dict literal: garbage there is a TokenError
        size = re.match(r"Header info length \((\d+)\) is large", str(exc))
        if size:  # (NumPy's text told the user to pass allow_pickle=True: a review)
            raise ConvcliError(where, f"{name} has a .npy header of {size[1]} bytes, more than NumPy reads "
                                      "safely (a numeric array's takes about 128: a structured dtype of many "
                                      "fields?); convcli reads plain numeric arrays") from None
        raise ConvcliError(where, f"{name} has a corrupt .npy header ({_one_line(exc)})") from None
    if any(type(d) is not int or d < 0 for d in shape):  # NumPy's check takes True for 1 (a fuzz), and -1
        raise ConvcliError(where, f"{name} has a corrupt .npy header (shape {tuple(shape)!r}: its sizes must be "
                                  "whole numbers, none negative)")
    _check_dtype(dtype, where, name)
    return tuple(shape), fortran, dtype


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:200] if text else type(exc).__name__


def _row_outside(rows: slice, n: int) -> int | None:
    """The first row ``rows`` asks for that an axis of ``n`` rows lacks, as
    written (``-7`` or ``99``), or None. Only the rows the slice would take
    count: ``1:7:2`` of 6 rows takes 1, 3, 5 and asks for nothing more."""
    step = rows.step or 1
    start = 0 if rows.start is None else rows.start
    stop = n if rows.stop is None else rows.stop
    first = start + n if start < 0 else start
    end = stop + n if stop < 0 else stop
    if first >= end:
        return None  # empty, said as such by the caller (or a negative stop before the start)
    if first < 0:
        return start
    last = first + (end - 1 - first) // step * step
    return None if last < n else last


def _rows(shape: tuple[int, ...], rows: slice | None, where: str, name: str) -> tuple[slice | None, tuple[int, ...]]:
    """Normalise ``rows`` over the first axis; the shape after slicing."""
    if rows is None:
        return None, shape
    if not shape:
        raise ConvcliError(where, f"slice: {name} is a scalar; it has no first axis to slice")
    rows_in = shape[0]
    # Python would cut 0:100 to the 6 rows there are, and every statistic would quietly
    # describe 6 samples where 100 were asked for: a row the slice asks for must exist.
    bad = _row_outside(rows, rows_in)
    if bad is not None:
        has = (f"has {rows_in} row{'s' * (rows_in != 1)} (0..{rows_in - 1}, or -{rows_in}..-1 from the end)"
               if rows_in else "has no rows")  # (a review: "0 rows (0..-1, or -0..-1 from the end)")
        raise ConvcliError(where, f"slice: {slice_text(rows)} asks for row {bad}, outside {name}, whose first axis "
                                  f"{has}")
    start, stop, step = rows.indices(rows_in)
    n = len(range(start, stop, step))
    if n == 0:
        raise ConvcliError(
            where, f"slice: {slice_text(rows)} selects no rows of {name}, whose first axis has {shape[0]}"
        )
    return slice(start, stop, step), (n,) + shape[1:]


def _npy_probe(path: Path, where: str, name: str):
    try:
        with open(path, "rb") as fp:
            shape, fortran, dtype = _npy_header(fp, where, name)
            offset = fp.tell()
        size = path.stat().st_size - offset
    except OSError as exc:  # a file that may not be read
        raise path_error(where, name, exc) from None
    _check_size(shape, dtype, size, where, name)
    return shape, dtype


def _check_size(shape, dtype: np.dtype, size: int, where: str, name: str) -> None:
    """Refuse an array whose header asks for more bytes than ``size`` follow it."""
    need = math.prod(shape) * dtype.itemsize
    if size < need:
        raise ConvcliError(
            where,
            f"{name} is truncated: its header says shape {shape} {dtype} ({need} bytes) "
            f"but only {size} bytes follow the header",
        )


def npz_keys(z) -> tuple[list[str], list[str]]:
    """The keys of an open .npz's (or .zip's) arrays (its ``.npy`` members,
    the suffix dropped, whatever its case: a zip made on some systems holds
    ``conv1.dW.NPY``), and the names of its other members (np.savez writes
    none, but any zip may hold some)."""
    names = _zip_files(z)
    members = _npz_members(names)
    return list(members), [n for n in names if n not in members.values()]


def zip_repeats(path: Path) -> dict[str, int]:
    """Member names a zip holds more than once -> how many times (Python's
    zipfile appends a second ``conv1.Z.npy`` rather than replacing it):
    reading by name gives the last written, as unzip leaves it."""
    with zipfile.ZipFile(path) as zf:
        names = [n for n in zf.namelist() if not n.startswith("__MACOSX/") and not n.endswith("/")]
    return {n: k for n, k in collections.Counter(names).items() if k > 1}


# The first bytes of a macOS resource fork (AppleDouble), ._name beside each file copied from a Mac.
APPLE_DOUBLE = b"\x00\x05\x16\x07"


def _zip_files(z) -> list[str]:
    # (a .zip made on macOS holds a resource-fork copy of each file under __MACOSX/: no array; nor
    # are its folders' own entries; nor a fork beside its file, ._conv1.Z.npy, as a folder's are: a review;
    # each fork's head read once for the open zip, not at every call: a later review, 8 reads of each)
    files = getattr(z, "_convcli_files", None)
    if files is None:
        files = [n for n in z.zip.namelist() if not n.startswith("__MACOSX/") and not n.endswith("/")
                 and not (n.rsplit("/", 1)[-1].startswith("._") and _zip_head(z.zip, n) == APPLE_DOUBLE)]
        z._convcli_files = files
    return files


def _zip_head(zf, name: str) -> bytes:
    """A zip member's first 4 bytes (b"" where it cannot be read)."""
    try:
        with zf.open(name) as f:
            return f.read(4)
    except (OSError, ValueError, RuntimeError, EOFError, *_ZIP_READ_ERRORS):  # (corrupt, encrypted: not a fork,
        return b""  # and read later with its own error)


def _npz_members(names: list[str]) -> dict[str, str]:
    """key -> member name of a zip's .npy members. np.savez's members end in
    .npy; any other case of it is the same key, but a member in both cases
    (a.npy and a.NPY) keeps its whole name as its key: neither is meant. A
    name the zip holds twice (appended to, as Python's zipfile does) is one
    member, the last copy, as np.load and zipfile read it (a review: key x of
    a zip holding x.npy twice was 'not in' it, 'it holds: x.npy')."""
    found: dict[str, list[str]] = {}
    for n in dict.fromkeys(names):
        if n[-4:].lower() == ".npy":
            found.setdefault(n[:-4], []).append(n)
    return {k if len(ms) == 1 else m: m for k, ms in found.items() for m in ms}


def npz_member_file(z, member: str) -> str:
    """The zip member an array key of ``npz_keys`` names."""
    return _npz_members(_zip_files(z))[member]


def _npz_member(z, key: str | None, where: str, name: str) -> str:
    keys, others = npz_keys(z)
    if not keys and is_torch_zip(others):
        raise ConvcliError(where, torch_saved_message(name, npz=True))
    if not keys:
        holds = f"it holds: {_names(others)}" if others else "the archive is empty"
        raise ConvcliError(where, f"{name} holds no .npy arrays ({holds})")
    if key is not None and key in others:
        raise ConvcliError(
            where, f"{key!r} in {name} is not a .npy array; its arrays: {_names(keys)}"
        )
    if key is None:
        if len(keys) == 1:
            return keys[0]
        raise ConvcliError(where, f"{name} holds {len(keys)} arrays ({_names(keys)}); say which with key: NAME")
    if key not in keys:
        below = [k for k in keys if k.rsplit("/", 1)[-1] == key]  # a .zip's data/W.npy: key W
        if len(below) == 1:
            return below[0]
        if below:
            raise ConvcliError(where, f"key {key!r} is in {len(below)} folders of {name}: {_names(below)}; "
                                      f"say which with key: {below[0]}")
        raise ConvcliError(
            where, f"key {key!r} is not in {name}{did_you_mean(key, keys)}; it holds: {_names(keys)}"
        )
    return key


def _names(names: list[str], limit: int = 20) -> str:
    if not names:
        return "nothing"
    shown = ", ".join(printable(n) for n in names[:limit])  # a zip's members: anyone's names
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def _kind_of(head: bytes) -> str | None:
    """What a file's first 8 bytes say it is: ".npy", ".npz" (a zip),
    "HDF5", or None."""
    if head.startswith(_NPY_MAGIC):
        return ".npy"
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):  # a zip, or an empty one
        return ".npz"
    if head.startswith(_HDF5_MAGIC):
        return "HDF5"
    return None


def is_torch_zip(names: list[str]) -> bool:
    """Whether a zip's member names are the layout ``torch.save`` writes
    (PyTorch 1.6 on): one folder named after the file holding ``data.pkl``
    and ``version`` or ``.format_version`` (beside ``byteorder`` and
    ``data/0``, the tensors' bytes). By the names alone: its pickle is
    never loaded (loading one can run code)."""
    tops = {n.split("/", 1)[0] for n in names if "/" in n}
    return any(f"{t}/data.pkl" in names and (f"{t}/version" in names or f"{t}/.format_version" in names)
               for t in tops)


def _torch_zip(fp) -> bool:
    """Whether the open file ``fp`` (a zip by its first bytes) is one
    ``torch.save`` wrote; False where its directory cannot be read (then it
    is said to be a zip, as before)."""
    try:
        fp.seek(0)
        with zipfile.ZipFile(fp) as zf:
            return is_torch_zip(zf.namelist())
    except (*_ZIP_READ_ERRORS, OSError, EOFError, ValueError):
        return False


def torch_saved_message(name: str, npz: bool = False) -> str:
    """What to say of a file ``torch.save`` wrote (a .npy or .npz name on
    it): np.save of the tensor as an array is what convcli reads. (np.save
    appends .npy to a path that has another suffix: a .npz name is told so.)"""
    return (f"{name} was saved with torch.save (a PyTorch zip, whose pickle convcli never loads: loading one "
            f"can run code); save the tensor with np.save(path, t.detach().cpu().numpy())"
            + (" to a .npy file" if npz else ""))


def _open_npz(path: Path, where: str, name: str):
    try:
        with open(path, "rb") as fp:
            head = fp.read(8)
        npy = head.startswith(_NPY_MAGIC)
    except OSError as exc:
        raise path_error(where, name, exc) from None
    if npy:
        raise ConvcliError(where, f"{name} is a .npy file with an .npz name; rename it to .npy")
    if _kind_of(head) == "HDF5":
        raise ConvcliError(where, f"{name} is an HDF5 file with an .npz name; rename it to .h5")
    # Check the zip first: np.load leaks its file handle when a zip is corrupt. Its directory only:
    # testzip() inflated every member, and a small upload of a member that inflates to gigabytes
    # (refused anyway, by its shape or --max-memory) took 11 s a look; a member's own data that is
    # corrupt is found where it is read (its CRC, zlib's errors).
    kind = ".zip" if Path(name).suffix.lower() == ".zip" else ".npz (zip)"  # a student's upload is a .zip
    try:
        with zipfile.ZipFile(path):  # its directory read, or the error (an encrypted member: when it is read)
            pass
    except (*_ZIP_ERRORS, OSError, EOFError, ValueError) as exc:
        raise ConvcliError(where, f"{name} is not a readable {kind} file ({_one_line(exc)})") from None
    try:
        z = np.load(path, allow_pickle=False)
    except (*_ZIP_ERRORS, OSError, EOFError, ValueError) as exc:
        raise ConvcliError(where, f"{name} is not a readable {kind} file ({_one_line(exc)})") from None
    return z  # an NpzFile: np.load gives an array only for the .npy magic refused above


def _npz_open_member(z, member: str, where: str, label: str):
    """The open member ``member`` of the .npz (.zip) ``z``; one that is
    encrypted (zipfile asks for a password, a RuntimeError; np.savez never
    encrypts) cannot be read, said of it alone: a zip's other members are
    graded (a review: one such member made the whole upload exit 2)."""
    try:
        info = z.zip.getinfo(npz_member_file(z, member))
        if info.flag_bits & 0x1:
            raise ConvcliError(where, f"{label} is encrypted (a password-protected zip): zip it again without "
                                      "a password")
        return z.zip.open(info)
    except (*_ZIP_READ_ERRORS, OSError, EOFError) as exc:
        raise ConvcliError(where, f"{label} cannot be read ({_one_line(exc)})") from None


def _npz_probe(path: Path, key: str | None, where: str, name: str):
    with _open_npz(path, where, name) as z:
        member = _npz_member(z, key, where, name)
        label = f"{name}[{member}]"
        try:
            with _npz_open_member(z, member, where, label) as fp:
                shape, _, dtype = _npy_header(fp, where, label)
                # the zip's directory gives the member's size: a header that asks for more is refused
                # up front (a review's 64 bytes of data under a header of 3e12 elements streamed, and
                # failed writing the output: "--out o: cannot write A_prev.npy: Invalid argument")
                size = z.zip.getinfo(npz_member_file(z, member)).file_size - fp.tell()
        except (*_ZIP_READ_ERRORS, OSError, EOFError) as exc:
            raise ConvcliError(where, f"{label} cannot be read ({_one_line(exc)})") from None
    _check_size(shape, dtype, size, where, label)
    return member, shape, dtype


def _h5_open(path: Path, where: str, name: str):
    import h5py  # only here: the NumPy core never needs it

    try:
        return h5py.File(path, "r")
    except (OSError, ValueError) as exc:
        try:
            with open(path, "rb") as fp:
                kind = _kind_of(fp.read(8))
        except OSError:
            kind = None
        if kind in (".npy", ".npz"):
            raise ConvcliError(where, f"{name} is a {kind} file with an HDF5 name; rename it to {kind}") from None
        if "unable to lock file" in str(exc):  # HDF5's: another process has it open for writing
            raise ConvcliError(where, f"{name} is open for writing in another program (HDF5 locks it); close it "
                                      "there (a notebook's h5py.File(..., 'a')), or, if nothing writes it, set "
                                      "HDF5_USE_FILE_LOCKING=FALSE") from None
        raise ConvcliError(where, f"{name} cannot be opened as HDF5 ({_one_line(exc)})") from None


def _raised_in_h5py(exc: BaseException) -> bool:
    """Whether ``exc`` is HDF5's report of a corrupt file: raised inside h5py
    (RuntimeError, KeyError, OSError or ValueError from wherever HDF5 first
    trips), but not by h5py's checks of what it was asked (a selection, a name
    that does not exist), which would be convcli's own mistake."""
    tb, last = exc.__traceback__, None
    while tb is not None:
        last, tb = tb, tb.tb_next
    if last is None:
        return False
    path = Path(last.tb_frame.f_code.co_filename)
    if "h5py" not in path.parts or path.stem.startswith(("_selector", "selections")):
        return False
    return not (isinstance(exc, KeyError) and "doesn't exist" in str(exc))  # a lookup of a name not there


@contextmanager
def h5_errors(where: str, name: str):
    """An error HDF5 raises while an open file is walked or read (a corrupt
    object header, B-tree, heap or datatype) as the file's error, not a bug."""
    try:
        yield
    except ConvcliError:
        raise
    except (RuntimeError, KeyError, OSError, ValueError, TypeError, IndexError) as exc:
        if not _raised_in_h5py(exc):
            raise
        raise ConvcliError(where, f"cannot read {name}: {_one_line(exc)} (a corrupt HDF5 file?)") from exc


# How many external links deep the walk follows groups (each group is
# walked once anyway: this bounds a chain of files).
H5_WALK_DEPTH = 64


def _h5_walk(f, limit: int | None = None, files: set | None = None):
    """Every name in an open h5py File that is a dataset or a link that cannot
    be followed, as (path, link or None): first every hard-linked name in the
    file's order, then what the soft and external links lead to; groups
    walked through any link, each group once (links can make cycles, within
    a file or across files), under the name it was first reached by (a hard
    one where it has one); an external link only to a file beside the one holding it
    (or at its absolute path), never to one HDF5 would find in the current
    folder; a soft link in a loop counts as one that cannot be followed.
    Over at most ``limit`` entries, if given; ``files``, a set, gets the
    real path of every file an external link was followed to. (h5py's
    visititems sees each object under one hard-linked name only, and its
    visit_links fails on an external link whose file is missing.)"""
    import h5py

    looked, seen, short = 0, set(), False
    later = []  # soft and external links, followed once every hard-linked name is known

    def walk(root, prefix: str, hops: int):
        """Depth first through hard links, with a stack (a file nested 1,000
        groups deep passed Python's recursion limit)."""
        nonlocal looked, short
        key = _h5_identity(root)
        if key in seen or short:
            return
        seen.add(key)
        stack = [(root, prefix, iter(list(root)))]
        while stack:
            group, at, names = stack[-1]
            name = next(names, None)
            if name is None:
                stack.pop()
                continue
            looked += 1
            if limit is not None and looked > limit:
                short = True
                return
            path = f"{at}/{name}".lstrip("/")
            link = group.get(name, getlink=True)
            if not isinstance(link, h5py.HardLink):
                later.append((group, name, link, path, hops))
                continue
            obj = _follow(group, name, link)
            if isinstance(obj, h5py.Group):
                key = _h5_identity(obj)
                if key not in seen:
                    seen.add(key)
                    stack.append((obj, path, iter(list(obj))))
            elif isinstance(obj, h5py.Dataset):
                yield path, None
            elif obj is None:  # a name the file holds whose object HDF5 cannot open: a damaged file
                yield path, link

    yield from walk(f, "", 0)
    # Then the links, in the order met: a group a link leads to keeps the names it was walked under
    # ("aliases/latest" -> /conv1 takes none of conv1's), one reached only by a link gets the link's.
    k = 0
    while k < len(later):  # (past the limit, those already met: a walk stopped short says what it saw)
        group, name, link, path, hops = later[k]
        k += 1
        external = isinstance(link, h5py.ExternalLink)
        if external and hops >= H5_WALK_DEPTH:  # a chain of files: bounded, and said so
            short = True
            continue
        obj = _follow(group, name, link)
        if files is not None and obj is not None and external:
            files.add(os.path.realpath(obj.file.filename))
        if isinstance(obj, h5py.Group):
            yield from walk(obj, path, hops + external)
        elif isinstance(obj, h5py.Dataset):
            yield path, None
        elif obj is None:
            yield path, link
    if short:
        yield None, None  # the walk stopped short


def _one_object(f, names: list[str]) -> bool:
    """Whether every name in ``names`` is the same HDF5 object (one array
    under several names), stopping at the first other one."""
    first = _h5_identity(_h5_get(f, names[0])) if names else None
    return bool(names) and all(_h5_identity(_h5_get(f, n)) == first for n in names[1:])


def _h5_identity(obj):
    """Which HDF5 object ``obj`` is, whatever name or file handle it was
    reached by: its file's real path and its address in it."""
    import h5py

    try:
        return os.path.realpath(obj.file.filename), h5py.h5o.get_info(obj.id).addr
    except (OSError, ValueError, RuntimeError, KeyError, AttributeError):  # (None: a name that leads nowhere)
        return id(obj)


def _follow(group, name: str, link):
    """``group[name]``, or None where the link cannot be followed (see
    :func:`_followable`), leads nowhere, or loops (HDF5's "too many links",
    a RuntimeError)."""
    try:
        return group.get(name) if _followable(group, link) else None
    except (KeyError, ValueError, OSError, RuntimeError):  # an external file missing, not HDF5, unreadable
        return None


def _followable(group, link) -> bool:
    """Whether an h5py link may be followed: an external one only to its
    file beside the file holding the link, or at its absolute path."""
    import h5py

    if not isinstance(link, h5py.ExternalLink):
        return True
    return (Path(group.file.filename).parent / link.filename).is_file()


def _h5_path(f, path: str) -> tuple[object, str]:
    """``(obj, broken)``: the object at ``path`` in ``f``, each link along the
    path followed as :func:`_h5_walk` would (an external link in the middle
    of it too), or None where one cannot be; and where the first soft or
    external link that cannot be followed points ("" if none): ``'/y' in
    other.h5``, or for one before the path's end, ``g -> '/grp' in other.h5``."""
    obj, names = f, [p for p in path.split("/") if p]
    for k, name in enumerate(names):
        try:
            link = obj.get(name, getlink=True) if hasattr(obj, "get") else None  # (a dataset, more path after it)
        except (KeyError, ValueError, OSError, RuntimeError):  # a path HDF5 cannot walk
            return None, ""
        if link is None:
            return None, ""
        nxt = _follow(obj, name, link)
        if nxt is None:
            text = _link_text(link)
            return None, text if not text or k == len(names) - 1 else f"{'/'.join(names[:k + 1])} -> {text}"
        obj = nxt
    return obj, ""


def _h5_get(f, path: str):
    """The object at ``path`` in ``f`` (:func:`_h5_path`), or None."""
    return _h5_path(f, path)[0]


def h5_linked_files(path: Path) -> set[str]:
    """The real paths of the files an .h5's external links lead to (as
    convcli follows them), or none where it cannot be read."""
    import h5py

    files: set[str] = set()
    try:
        with h5py.File(path, "r") as f:
            for _ in _h5_walk(f, files=files):
                pass
    except Exception:  # noqa: BLE001  a file that cannot be read links nowhere convcli reads
        return set()
    return files


def h5_datasets(f, dangling: bool = False) -> list[str]:
    """Every dataset's path in an open h5py File (groups walked, links
    followed, see :func:`_h5_walk`); with ``dangling``, the links that
    cannot be followed too (a user's array that cannot be read)."""
    return [path for path, link in _h5_walk(f) if path is not None and (link is None or dangling)]


def _h5_dataset(f, dataset: str | None, where: str, name: str):
    import h5py

    walked = [(path, link) for path, link in _h5_walk(f) if path is not None]  # (one walk for both)
    names = [path for path, link in walked if link is None]
    # the names the file lists whose objects HDF5 cannot open (_h5_walk gives their hard links)
    damaged = [path for path, link in walked if isinstance(link, h5py.HardLink)] if dataset is None else []
    if damaged:  # never picked past (a review: the readable one of a file of two was read, the damage unsaid)
        held = f"{len(names)} readable dataset{'s' * (len(names) != 1)} ({_names(names)})" if names else \
            "no readable dataset"
        said = _damaged_text(len(damaged))
        raise ConvcliError(where, f"{name} holds {held}, and {_names(damaged)} cannot be read: {said}"
                                  + ("; say which with dataset: NAME" if names else ""))
    if not names and dataset is None:
        raise ConvcliError(where, f"{name} holds no datasets{dangling_links(f)}")
    if dataset is None:
        # one array under several names (a soft link or a second hard link to it, "latest") is one
        if _one_object(f, names):
            dataset = names[0]
        else:
            raise ConvcliError(
                where, f"{name} holds {len(names)} datasets ({_names(names)}); say which with dataset: NAME"
            )
    obj, target = _h5_path(f, dataset)
    if target:
        how = "goes through the link" if " -> " in target else "is a link to"
        raise ConvcliError(where, f"{name}[{dataset}] {how} {target}, which cannot be "
                                  "followed (not there, or not readable)")
    if isinstance(obj, h5py.Group):  # its datasets by the path it was named by (a link's, perhaps)
        inside = [f"{dataset.strip('/')}/{n}".lstrip("/") for n, link in _h5_walk(obj) if n and link is None]
        held = f"the datasets in it: {_names(inside)}" if inside else "it holds no datasets"
        raise ConvcliError(where, f"{name}[{dataset}] is a group, not a dataset; {held}")
    if obj is None and _damaged(f, dataset):  # (a review: "not in t.h5 (did you mean 'y'?)" for 'y' itself)
        raise ConvcliError(where, f"{name}[{dataset}] cannot be read: {DAMAGED}")
    if not isinstance(obj, h5py.Dataset):
        held = f"it holds: {_names(names)}" if names else f"it holds no datasets{dangling_links(f)}"
        raise ConvcliError(where, f"dataset {dataset!r} is not in {name}{did_you_mean(dataset, names)}; {held}")
    label = f"{name}[{dataset}]"
    if obj.shape is None:  # an HDF5 null dataspace (h5py.Empty): a dtype and no array
        raise ConvcliError(where, f"{label} is empty (a null dataspace): it holds no array")
    _check_dtype(obj.dtype, where, label, h5=True)
    _check_stored_inside(obj, where, label)
    _check_filters(obj, where, label)
    return obj, label, dataset


# HDF5's registered filter ids (https://github.com/HDFGroup/hdf5_plugins): the names of the common plugins,
# for an error when one is missing (the name a file stores is its writer's, and may say anything)
H5_FILTERS = {307: "bzip2", 32000: "lzf", 32001: "blosc", 32004: "lz4", 32008: "bitshuffle", 32013: "zfp",
              32015: "zstd", 32017: "sz", 32026: "blosc2"}


def _check_filters(obj, where: str, label: str) -> None:
    """Refuse, before reading, a dataset compressed with an HDF5 filter this
    installation cannot decode (a review: "Can't synchronously read data
    (can't open directory (/usr/local/lib/plugin)...)"). hdf5plugin, where
    installed, is loaded first: it registers the common ones. An optional
    filter (gzip is one) that its writer lacked too was skipped, and the
    chunks it skipped read without it: refused only where a chunk went
    through it (its filter mask says so)."""
    import h5py

    plist = obj.id.get_create_plist()
    pipeline = [plist.get_filter(i)[:2] for i in range(plist.get_nfilters())]  # (id, flags), in order
    missing = [(i, code, flags) for i, (code, flags) in enumerate(pipeline) if not h5py.h5z.filter_avail(code)]
    fix = "pip install hdf5plugin (convcli loads it)"
    if missing:
        try:
            import hdf5plugin  # noqa: F401  (registers its filters with HDF5)
            fix = "hdf5plugin, installed, has no such filter: put a plugin for it on HDF5_PLUGIN_PATH"
        except Exception as exc:  # noqa: BLE001  not installed, or installed and broken
            if not (isinstance(exc, ModuleNotFoundError) and exc.name == "hdf5plugin"):
                fix = f"hdf5plugin is installed but failed to load ({_one_line(exc)})"
        missing = [m for m in missing if not h5py.h5z.filter_avail(m[1])]
    missing = [code for i, code, flags in missing if not flags & h5py.h5z.FLAG_OPTIONAL or _went_through(obj, i)]
    if missing:
        names = ", ".join(f"{code} ({H5_FILTERS[code]})" if code in H5_FILTERS else str(code) for code in missing)
        raise ConvcliError(where, f"{label} is compressed with HDF5 filter{'s' * (len(missing) > 1)} {names}, "
                                  f"which this installation cannot decode ({fix}); or rewrite the file with "
                                  "gzip: h5repack -f GZIP=4 IN.h5 OUT.h5")


def _went_through(obj, i: int) -> bool:
    """Whether any stored chunk of ``obj`` went through filter ``i`` of its
    pipeline (bit i of a chunk's filter mask set: skipped). In one pass
    over the chunk index (get_chunk_info(k) walks it from the start each
    time: 40,000 chunks took 52 s, a review); where HDF5 cannot iterate
    its chunks, assumed so."""
    seen = []
    try:
        obj.id.chunk_iter(lambda info: seen.append(not info.filter_mask >> i & 1))
    except (AttributeError, ValueError, RuntimeError, OSError, TypeError):
        return True
    return any(seen)


def _check_stored_inside(obj, where: str, label: str) -> None:
    """Refuse a dataset that does not hold its own data: a virtual dataset
    (a missing source, or a part no source maps, reads as its fill value;
    a source's relative path is looked up from the current folder first; a
    source may itself be virtual, or map itself: HDF5 then crashed the
    process) or one in external raw files (a short or missing one reads as
    zeros, also from the current folder). A review ran both on zeros, exit
    0; a virtual dataset could also read convcli's own outputs unseen."""
    plain = "convcli reads only datasets that hold their own data; write it out as a plain dataset " \
            "(h5py: new[NAME] = old[NAME][()])"
    if obj.is_virtual:
        sources = sorted({m.dset_name if m.file_name == "." else f"{m.dset_name} in {m.file_name}"
                          for m in obj.virtual_sources()})
        raise ConvcliError(where, f"{label} is a virtual dataset (mapped from {_names(sources)}), whose missing "
                                  f"or unmapped parts read as fill values: {plain}")
    if obj.external:
        files = sorted({os.fsdecode(name) for name, *_ in obj.external})
        raise ConvcliError(where, f"{label} keeps its data in external raw files ({_names(files)}), whose missing "
                                  f"parts read as zeros: {plain}")


# The most chunks _check_written looks up one at a time, where HDF5 has no chunk iterator.
CHUNK_LOOKUPS = 100_000


def _check_written(obj, rows: slice | None, where: str, label: str) -> None:
    """Refuse a dataset whose storage was never (or not wholly) written,
    where ``rows`` (of the first axis, :func:`_rows`'s; None for all) are
    read: HDF5 reads a chunk never written, or a contiguous dataset never
    written, as its fill value (a streaming review: a writer stopped after
    10 of 400 samples, chunks of one, and 390 samples of 7.0 ran, exit 0;
    a review of that: the rows written of a dataset made larger, read with
    a slice: of them, are read)."""
    import h5py

    if not obj.size or obj.id.get_create_plist().get_layout() == h5py.h5d.COMPACT:
        return  # (a compact dataset's data is in its header, written with it)
    fill = obj.fillvalue
    fill = f" ({fill.item() if hasattr(fill, 'item') and np.ndim(fill) == 0 else 'its fill value'})"
    if obj.chunks is None:
        if obj.id.get_storage_size() == 0:
            raise ConvcliError(where, f"{label} was never written: HDF5 reads every element as its fill value"
                                      f"{fill}; write its data")
        return
    grid = [-(-n // c) for n, c in zip(obj.shape, obj.chunks)]
    across = math.prod(grid[1:])  # a row of chunks
    total, written = grid[0] * across, obj.id.get_num_chunks()
    if rows is not None and written < total:  # (all written: the common case, one call)
        # the chunks of the rows read (HDF5's H5Dget_num_chunks ignores a selection)
        needed = {r // obj.chunks[0] for r in range(rows.start, rows.stop, rows.step)}
        total = len(needed) * across
        if hasattr(obj.id, "chunk_iter"):  # (HDF5 1.12.3 and later)
            found = collections.Counter()
            obj.id.chunk_iter(lambda info: found.update((info.chunk_offset[0] // obj.chunks[0],)))
            written = sum(min(found[k], across) for k in needed)
        elif total <= CHUNK_LOOKUPS:  # one lookup a chunk (a review: without chunk_iter, a slice skipped it all)
            written = sum(obj.id.get_chunk_info_by_coord((k * obj.chunks[0],) + tuple(
                i * c for i, c in zip(at, obj.chunks[1:]))).byte_offset is not None
                for k in needed for at in itertools.product(*(range(n) for n in grid[1:])))
        else:
            return
    if written < total:
        what = "its" if rows is None else "the"
        read = "" if rows is None else " of the rows read"  # (a review: "of the rows' read 7 chunks" read oddly)
        raise ConvcliError(where, f"{label} has {total - written:,} of {what} {total:,} chunks{read} never written (a "
                                  f"writer stopped before the end?), which HDF5 reads as its fill value{fill}; "
                                  "write them")


def _link_text(link) -> str:
    """Where a soft or external h5py link points ("" for any other)."""
    import h5py

    if isinstance(link, h5py.SoftLink):
        return repr(link.path)
    if isinstance(link, h5py.ExternalLink):
        return f"{link.path!r} in {link.filename}"
    return ""


DAMAGED = "the file lists it, but HDF5 cannot open it (the file is damaged?)"


def _damaged_text(n: int) -> str:
    """DAMAGED, said of n names."""
    return DAMAGED if n == 1 else DAMAGED.replace(" it", " them")


def _damaged(f, path: str) -> bool:
    """Whether ``path`` in ``f`` is, or goes through, a hard link whose object
    the file lists but HDF5 cannot open (a damaged dataset or group)."""
    import h5py

    names = [p for p in path.split("/") if p]
    for k in range(len(names)):
        at = "/".join(names[:k + 1])
        try:
            link = f.get(at, getlink=True)
        except Exception:  # noqa: BLE001  a path HDF5 cannot walk says nothing of its end
            return False
        if not isinstance(link, h5py.HardLink):  # absent, or a soft or external link: said otherwise
            return False
        try:
            f[at]
        except Exception:  # noqa: BLE001  listed, and cannot be opened
            return True
    return False


def dangling_links(f, limit: int = 10_000) -> str:
    """"" or a note on the file's links that cannot be followed (a dataset
    they would have named is missing, not absent), over at most ``limit``
    entries."""
    broken, short = [], False
    for path, link in _h5_walk(f, limit):
        if path is None:
            short = True
        elif link is not None:
            broken.append(f"{path} -> {_link_text(link) or 'an object HDF5 cannot open (the file is damaged?)'}")
    if not broken:
        return ""
    more = f"; the first {limit} entries looked at" if short else ""
    return f" (links it cannot follow: {_names(broken)}{more})"


def _h5_chunks(obj) -> H5Chunks | None:
    """How an h5py Dataset is chunked, if it is in filtered chunks."""
    if obj.chunks is None or not obj.id.get_create_plist().get_nfilters():
        return None
    return H5Chunks(obj.name, tuple(obj.chunks))


# --------------------------------------------------------------------- sources


def probe(src: Source, base_dir: Path, where: str, shown: str | None = None) -> ArrayInfo:
    """Shape (after ``slice``) and stored dtype of a source, without its data.
    Messages name the file as ``shown`` (default: as the source gives it)."""
    kind = src.kind
    if kind in ("random", "zeros", "ones"):
        return ArrayInfo(tuple(getattr(src, kind)), np.dtype(np.float64))
    if kind == "value":
        # From the structure: the array is built by load(), once it is known to fit.
        return ArrayInfo(value_shape(src.value), np.dtype(np.float64))
    path = resolve(src.file, base_dir, where)
    name = shown or src.file
    suffix = path.suffix.lower()
    chunks, label = None, name
    if suffix in NPZ_SUFFIXES:
        member, shape, dtype = _npz_probe(path, src.key, where, name)
        label = f"{name}[{member}]"
    elif suffix in H5_SUFFIXES:
        with _h5_open(path, where, name) as f, h5_errors(where, name):
            obj, label, _ = _h5_dataset(f, src.dataset, where, name)
            shape, dtype, chunks = tuple(obj.shape), obj.dtype, _h5_chunks(obj)
            _check_written(obj, _rows(shape, src.slice, where, label)[0], where, label)
    else:
        shape, dtype = _npy_probe(path, where, name)
    _, shape = _rows(shape, src.slice, where, label)
    return ArrayInfo(shape, np.dtype(dtype), chunks)


def _value_array(value, where: str) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=np.float64)
    except (ValueError, TypeError, OverflowError) as exc:
        raise ConvcliError(where, f"value: not a rectangular array of numbers ({_one_line(exc)})") from None
    return array


def _file_state(path: Path, where: str, name: str) -> tuple[int, int]:
    """(size, mtime) of an input file, to tell whether it changed while read."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise ConvcliError(where, f"cannot read {name}: {_one_line(exc)}") from None
    return st.st_size, st.st_mtime_ns


def _check_unchanged(path: Path, state: tuple[int, int], where: str, name: str) -> None:
    """The file is still as it was when its reading began: HDF5 gives zeros,
    not an error, for the rows of a file cut short under it, and a file
    rewritten in place would mix two inputs."""
    now = _file_state(path, where, name)
    if now != state:
        size = f" (it was {state[0]} bytes, now {now[0]})" if now[0] != state[0] else ""
        raise ConvcliError(where, f"{name} changed while it was being read{size}; "
                                  "run again once nothing writes to it")


def _linked_target(obj, path: Path, where: str, name: str) -> list[tuple[Path, tuple[int, int], str]]:
    """The file an .h5 dataset reached through an external link lives in,
    with its state now and how to name it, to be watched as ``path`` is
    (a streaming review: a target cut short under a streamed run gave rows
    of zeros and exit 0), or none where it lives in ``path`` itself."""
    home = Path(obj.file.filename)
    if os.path.realpath(home) == os.path.realpath(path):
        return []
    shown = f"{home.name} (linked from {name})"
    return [(home, _file_state(home, where, shown), shown)]


def read_file(src: Source, base_dir: Path, where: str, max_memory: int, itemsize: int = 8,
              shown: str | None = None) -> np.ndarray:
    """The stored array a file source names (``slice`` applied, not cast);
    messages name the file as ``shown`` (default: as the source gives it)."""
    path = resolve(src.file, base_dir, where)
    name = shown or src.file
    suffix = path.suffix.lower()
    try:
        if suffix in H5_SUFFIXES:
            state = _file_state(path, where, name)
            with _h5_open(path, where, name) as f, h5_errors(where, name):
                obj, label, _ = _h5_dataset(f, src.dataset, where, name)
                linked = _linked_target(obj, path, where, name)
                rows, shape = _rows(tuple(obj.shape), src.slice, where, label)
                _check_written(obj, rows, where, label)
                check_size(shape, max(obj.dtype.itemsize, itemsize), where, max_memory, label)
                array = np.asarray(obj[()] if rows is None else obj[rows])
            for watched, was, shown_as in [(path, state, name), *linked]:
                _check_unchanged(watched, was, where, shown_as)
            return array
        if suffix in NPZ_SUFFIXES:
            member, shape, dtype = _npz_probe(path, src.key, where, name)
            label = f"{name}[{member}]"
            rows, selected = _rows(shape, src.slice, where, label)
            try:
                with _open_npz(path, where, name) as z:
                    if rows is not None:  # only the rows asked for held (a review: the whole member was
                        with _npz_open_member(z, member, where, label) as fp:  # refused where they fitted)
                            array = _npz_rows(fp, rows, selected, where, label, max(dtype.itemsize, itemsize),
                                              max_memory)
                        if array is not None:
                            return array
                    # read whole (zip), then sliced: a member in Fortran order scatters its rows
                    check_size(shape, max(dtype.itemsize, itemsize), where, max_memory, label)
                    array = z[npz_member_file(z, member)]
            except RuntimeError as exc:  # a corrupt bzip2 member's (_ZIP_READ_ERRORS)
                raise ConvcliError(where, f"cannot read {name}: {_one_line(exc)}") from None
            return array if rows is None else array[rows]
        shape, dtype = _npy_probe(path, where, name)
        rows, selected = _rows(shape, src.slice, where, name)
        check_size(selected, max(dtype.itemsize, itemsize), where, max_memory, name)
        if rows is None:
            return np.load(path, allow_pickle=False)
        mapped = np.load(path, mmap_mode="r", allow_pickle=False)
        try:
            return np.array(mapped[rows])
        finally:
            del mapped
    except ConvcliError:
        raise
    except (*_ZIP_ERRORS, ValueError, OSError, EOFError, KeyError) as exc:
        raise ConvcliError(where, f"cannot read {name}: {_one_line(exc)}") from None


def _npz_rows(fp, rows: slice, selected: tuple[int, ...], where: str, label: str, itemsize: int,
              max_memory: int) -> np.ndarray | None:
    """The rows ``rows`` of an open .npz member, read through it in order
    (what lies between discarded in pieces, and the rest to the member's
    end, where zipfile checks its CRC), holding only those; None for a
    member in Fortran order, whose rows are scattered."""
    stored, fortran, dtype = _npy_header(fp, where, label)
    if fortran and len(stored) > 1:
        return None
    check_size(selected, itemsize, where, max_memory, label)
    out = np.empty(selected, dtype=dtype)
    row_bytes = math.prod(stored[1:]) * dtype.itemsize
    flat = memoryview(out.reshape(-1).view(np.uint8))
    at = 0  # the row the member is read up to
    for j, row in enumerate(range(rows.start, rows.stop, rows.step)):
        _skip(fp, (row - at) * row_bytes, row)
        _read_exactly(fp, flat[j * row_bytes:(j + 1) * row_bytes], row)
        at = row + 1
    while fp.read(READ_PIECE):
        pass
    return out


def _skip(fp, nbytes: int, row: int) -> None:
    """Read past ``nbytes`` of ``fp``, discarding: in pieces, as zipfile's
    own seek does (a zip member cannot seek forward but by reading)."""
    while nbytes > 0:
        n = len(fp.read(min(nbytes, READ_PIECE)))
        if not n:
            raise EOFError(f"the file ends before row {row}")
        nbytes -= n


def _read_exactly(fp, view: memoryview, row: int) -> None:
    """Fill ``view`` from ``fp``, in pieces (a zip member copies what it reads)."""
    done = 0
    while done < len(view):
        n = fp.readinto(view[done:done + READ_PIECE])
        if not n:
            raise EOFError(f"the file ends before row {row}")
        done += n


def load(
    src: Source,
    base_dir: Path,
    where: str,
    *,
    dtype: np.dtype | str,
    rng: np.random.RandomState,
    max_memory: int = DEFAULT_MAX_MEMORY,
    allow_nonfinite: bool = False,
) -> np.ndarray:
    """Read a source as an array of ``dtype``, scaled, checked for NaN/Inf.

    ``random`` sources draw ``rng.randn(*shape)`` from the config's single
    stream (callers load sources in the order listed), in float64 as NumPy
    draws them, then cast: so a float32 run sees the same numbers, rounded.
    """
    dtype = np.dtype(dtype)
    kind = src.kind
    if kind in ("random", "zeros", "ones"):
        shape = tuple(getattr(src, kind))
        check_size(shape, 8, where, max_memory)
        if kind == "random":
            array = rng.randn(*shape).astype(dtype, copy=False)
        else:
            array = (np.zeros if kind == "zeros" else np.ones)(shape, dtype=dtype)
        if src.scale is not None:
            with np.errstate(over="ignore", invalid="ignore"):
                array = array * dtype.type(src.scale)
        if not allow_nonfinite:
            check_finite(array, where, overflow=src.scale)
        return array
    # Passed on, not held here: the stored array is freed once cast.
    return _as_input(_value_array(src.value, where) if kind == "value"
                     else read_file(src, base_dir, where, max_memory, dtype.itemsize),
                     False, dtype, src.scale, where, allow_nonfinite)


def _as_input(raw: np.ndarray, ours: bool, dtype: np.dtype, scale, where: str, allow_nonfinite: bool,
              first_row: int | None = None) -> np.ndarray:
    """What :func:`load` and :meth:`Rows.read` make of the numbers stored:
    NaN/Inf refused as stored, then cast to ``dtype`` and multiplied by
    ``scale`` (in place when the array is ``ours`` or a copy), an overflow
    there refused as one; a second scan only when the cast or the scale
    changed the numbers."""
    if not allow_nonfinite:
        check_finite(raw, where, first_row=first_row)  # what the file (or config) holds
    with np.errstate(over="ignore", invalid="ignore"):  # overflow to inf is caught below
        array = raw.astype(dtype, copy=False)
        changed = array is not raw or scale is not None  # else found finite already
        ours = ours or array is not raw
        del raw
        if scale is not None:
            factor = dtype.type(scale)
            array = np.multiply(array, factor, out=array) if ours else array * factor
    if not allow_nonfinite and changed:
        check_finite(array, where, first_row=first_row, overflow=scale)
    return array


def check_finite(array: np.ndarray, where: str, first_row: int | None = None,
                 overflow: float | bool | None = False) -> None:
    """NaN or Inf in an input is an error (DESIGN.md section 6).

    ``first_row``: ``array`` is the rows from ``first_row`` on of a streamed
    input; the message then counts within those rows and gives the index in
    the whole input. ``overflow`` other than False: ``array`` is an input
    already found finite as stored, cast to the run's dtype and multiplied by
    ``overflow`` (its ``scale``, or None): what is not finite now overflowed
    there, and the message says so rather than blame the file."""
    if all_finite(array):
        return
    bad = ~np.isfinite(array)
    n_nan = int(np.isnan(array).sum())
    n_inf = int(bad.sum()) - n_nan
    first = [int(i) for i in np.argwhere(bad)[0]]
    parts = [f"{n_nan} NaN" if n_nan else "", f"{n_inf} Inf" if n_inf else ""]
    among = ""
    if first_row is not None:
        first[0] += first_row
        among = f" in rows {first_row}:{first_row + len(array)}"
    if overflow is not False:
        largest = float(np.finfo(array.dtype).max)
        by = f" times scale {overflow:g}" if overflow is not None else ""
        wider = " or --dtype float64" if array.dtype != np.float64 else ""
        n = int(bad.sum())
        if isinstance(overflow, (int, float)) and not isinstance(overflow, bool) and abs(overflow) > largest:
            what = f"scale {overflow:g} itself overflows {array.dtype} (its largest is {largest:.4g})"
        else:
            what = (f"{n} value{'s' * (n > 1)}{among}{by} overflow{'s' * (n == 1)} {array.dtype} "
                    f"(its largest is {largest:.4g}; first at index {first})")
        raise ConvcliError(where, f"{what}; scale the input down{wider}")
    raise ConvcliError(
        where,
        f"contains {' and '.join(p for p in parts if p)}{among} (first at index {first}); "
        "set allow_nonfinite: true in the config to accept them",
    )


# --------------------------------------------------------------------- rows, chunk by chunk


def _with_chunk_cache(obj, f, dataset: str):
    """``obj``, a chunked dataset found at ``dataset`` in the open file
    ``f``, opened again with
    a chunk cache for reading it row after row: one that holds the chunks a
    row touches if they are compressed (else HDF5 inflates a chunk again
    for every row it holds: 64 samples of 1 MiB in one chunk took 19.9 s to
    read a sample at a time, 0.35 s with the cache); none if not (HDF5 reads
    the rows straight from the file). ``streaming.estimate`` counts what it
    holds."""
    import h5py

    chunks = _h5_chunks(obj)
    slots, nbytes = chunks.cache(obj.shape, obj.dtype.itemsize) if chunks else (1, 0)
    # By its last name in the group the walk to it reached (_h5_path), which
    # may lie in another file: obj's own file and name are not enough, as
    # through a soft link into an externally linked group HDF5 names it by
    # the path in the config's file while its file is the link's target (a
    # streaming review: "component not found", called a corrupt file).
    names = [n for n in dataset.split("/") if n]
    parent = _h5_get(f, "/".join(names[:-1])) if len(names) > 1 else f
    obj.id.close()  # else HDF5 keeps the cache the open dataset has
    dapl = h5py.h5p.create(h5py.h5p.DATASET_ACCESS)
    dapl.set_chunk_cache(max(slots, 521), nbytes, 0.75)  # HDF5's default slots and preemption
    return h5py.Dataset(h5py.h5d.open(parent.id, names[-1].encode(), dapl))


class Rows:
    """A source read in chunks of its first axis, for streaming a batch.

    ``read(r0, r1)`` gives rows ``r0:r1`` of exactly what :func:`load` would
    give (the selection after ``slice``, cast to ``dtype``, scaled, checked
    for NaN/Inf), reading only those rows:

    - ``.h5``: a hyperslab of the dataset;
    - ``.npy``, and an ``.npz`` member: the rows' bytes at their offset (an
      ``.npz`` member is a zip stream, read forward, never whole). Both must
      be in C order: a Fortran-order array's rows are scattered over the file;
    - ``random``: ``rng.randn`` chunk after chunk, which draws the numbers of
      one ``rng.randn(*shape)`` call (the legacy generator carries its state,
      cached normal included, from one call to the next);
    - ``zeros``/``ones``: made per chunk; ``value``: it is in the config, whole.

    Chunks come in order: each ``r0`` is the previous ``r1``. A context
    manager: the file stays open until it exits.
    """

    def __init__(self, src: Source, base_dir: Path, where: str, *, dtype, rng: np.random.RandomState,
                 allow_nonfinite: bool = False, in_memory: str | None = None):
        """``in_memory``: the ``--memory-budget`` that would run the whole
        batch in memory, which an error names where a source cannot stream."""
        self.src = src
        self.where = where
        self.dtype = np.dtype(dtype)
        self.rng = rng
        self.allow_nonfinite = allow_nonfinite
        self.in_memory = in_memory
        self.next = 0
        self._files: list = []
        self._path: Path | None = None  # a file's, and its _file_state when opened
        self._linked: list = []  # an .h5 dataset's file through an external link: (path, state, name)
        kind = src.kind
        if kind in ("random", "zeros", "ones"):
            self.shape = tuple(getattr(src, kind))
            self._raw = self._made
        elif kind == "value":
            self._whole = _value_array(src.value, where).astype(self.dtype, copy=False)
            self.shape = self._whole.shape
            self._raw = lambda r0, r1: (self._whole[r0:r1], False)
        else:
            try:
                self._open(base_dir)
            except BaseException:
                self.close()
                raise

    # -- opening

    def _open(self, base_dir: Path) -> None:
        src, where = self.src, self.where
        path = resolve(src.file, base_dir, where)
        name = src.file
        suffix = path.suffix.lower()
        self._path, self._state = path, _file_state(path, where, name)
        if suffix in H5_SUFFIXES:
            f = _h5_open(path, where, name)
            self._files.append(f)
            with h5_errors(where, name):
                self._dataset, label, dataset = _h5_dataset(f, src.dataset, where, name)
                self._linked = _linked_target(self._dataset, path, where, name)
                if self._dataset.chunks is not None:
                    self._dataset = _with_chunk_cache(self._dataset, f, dataset)
            rows, self.shape = _rows(tuple(self._dataset.shape), src.slice, where, label)
            _check_written(self._dataset, rows, where, label)
            self._sel = rows or slice(0, self.shape[0], 1)
            self._label = name  # as load() names it when a read fails
            self._raw = self._h5_rows
            return
        if suffix in NPZ_SUFFIXES:
            z = _open_npz(path, where, name)
            self._files.append(z)
            member = _npz_member(z, src.key, where, name)
            label = f"{name}[{member}]"
            fp = _npz_open_member(z, member, where, label)
        else:
            _npy_probe(path, where, name)  # refuses a truncated file up front
            label = name
            fp = open(path, "rb")
        self._files.append(fp)
        stored, fortran, self._stored = _npy_header(fp, where, label)
        if fortran and len(stored) > 1:
            raise ConvcliError(
                where,
                f"{label} is stored in Fortran order, so its rows are scattered over the file and "
                "cannot be read a chunk at a time; save it in C order (np.ascontiguousarray) or as .h5, "
                + (f"or use --memory-budget {self.in_memory} or more to run it in memory" if self.in_memory
                   else "or raise --memory-budget to run it in memory"),
            )
        rows, self.shape = _rows(tuple(stored), src.slice, where, label)
        self._sel = rows or slice(0, self.shape[0], 1)
        self._fp, self._label = fp, label
        self._start = fp.tell()
        self._row_bytes = math.prod(stored[1:]) * self._stored.itemsize
        self._raw = self._byte_rows

    # -- raw rows: (array, whether it is ours to change in place)

    def _made(self, r0: int, r1: int):
        rest = self.shape[1:]
        kind = self.src.kind
        if kind == "random":
            return self.rng.randn(r1 - r0, *rest), True
        return (np.zeros if kind == "zeros" else np.ones)((r1 - r0,) + rest, dtype=self.dtype), True

    def _h5_rows(self, r0: int, r1: int):
        s = self._sel
        with self._reading():  # a corrupt compressed chunk, say
            return np.asarray(self._dataset[s.start + r0 * s.step: s.start + (r1 - 1) * s.step + 1: s.step]), True

    def _byte_rows(self, r0: int, r1: int):
        s = self._sel
        out = np.empty((r1 - r0,) + self.shape[1:], dtype=self._stored)
        if s.step == 1:
            self._read_into(out, s.start + r0)
        else:
            for j in range(r1 - r0):
                self._read_into(out[j:j + 1], s.start + (r0 + j) * s.step)
        return out, True

    def _read_into(self, out: np.ndarray, row: int) -> None:
        target = self._start + row * self._row_bytes
        with self._reading():
            if isinstance(self._fp, zipfile.ZipExtFile):
                _skip(self._fp, target - self._fp.tell(), row)  # forward only
            if self._fp.tell() != target:
                self._fp.seek(target)
            _read_exactly(self._fp, memoryview(out.reshape(-1).view(np.uint8)), row)

    def _to_the_end(self) -> None:
        """Read an ``.npz`` member to its end, discarding: zipfile checks the
        member's CRC there, and :func:`load` reads it whole, so a corrupt
        byte past a ``slice:``'s last row is refused streamed too."""
        with self._reading():
            while self._fp.read(READ_PIECE):
                pass

    @contextmanager
    def _reading(self):
        """A read that fails (a corrupt or truncated file) is the input's error, located."""
        try:
            yield
        except (*_ZIP_ERRORS, OSError, EOFError, ValueError, RuntimeError, KeyError, TypeError, IndexError) as exc:
            # the last four only as HDF5's report of a corrupt file, never convcli's own
            if isinstance(exc, (RuntimeError, KeyError, TypeError, IndexError)) and not _raised_in_h5py(exc):
                raise
            raise ConvcliError(self.where, f"cannot read {self._label}: {_one_line(exc)}") from exc

    # -- the chunk

    def read(self, r0: int, r1: int) -> np.ndarray:
        """Rows ``r0:r1``, as :func:`load` gives them."""
        if r0 != self.next or not r0 < r1 <= self.shape[0]:
            raise ValueError(f"rows {r0}:{r1} out of order (next is {self.next} of {self.shape[0]})")
        raw, ours = self._raw(r0, r1)
        if r1 == self.shape[0] and isinstance(getattr(self, "_fp", None), zipfile.ZipExtFile):
            self._to_the_end()
        self._unchanged()
        array = _as_input(raw, ours, self.dtype, self.src.scale, self.where, self.allow_nonfinite, first_row=r0)
        self.next = r1
        return array

    def _unchanged(self) -> None:
        if self._path is not None:
            _check_unchanged(self._path, self._state, self.where, self.src.file)
        for path, state, name in self._linked:
            _check_unchanged(path, state, self.where, name)

    def close(self) -> None:
        for f in reversed(self._files):
            try:
                f.close()
            except Exception:  # closing after an error: the first error is the one to report
                pass
        self._files = []

    def __enter__(self) -> "Rows":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
