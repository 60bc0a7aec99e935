"""Outputs out (DESIGN.md section 4), written atomically.

:class:`Staging` makes a temporary folder beside ``OUT`` *before* any
computing (so an unwritable place fails fast), the caller writes into it, and
:meth:`Staging.commit` renames it into place. Whatever goes wrong before
that, including Ctrl-C, the temporary folder and any parent folders it had to
create are removed: a failed run leaves nothing on disk.

An existing ``OUT`` that is not empty is kept unless ``force``; even with
``force``, convcli only replaces a folder it wrote: one whose ``summary.json``
is convcli's and which holds nothing but that summary and the arrays and
pictures it lists (:func:`not_ours`). So ``--out . --force`` cannot wipe a
working directory, nor ``--force`` a folder that merely has a file of that
name, or a config and its inputs put beside the outputs.

A failed write (a full disk, a file too large) is one line naming the user's
``--out`` (:attr:`Staging.where`, never the staging folder), the file and the
OS's reason. ``outputs.h5`` is written through :class:`H5Output`, so that HDF5
never sees such a failure; a ``.npy`` through :func:`save_npy`, so that the
reason is not lost.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import platform
import re
import secrets
import shlex
import shutil
import socket
import sys
import tempfile
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path

import numpy as np

try:
    import fcntl
except ImportError:  # Windows: no stale staging folders are removed
    fcntl = None

from . import __version__, hparams, parallel
from .errors import ConvcliError, broken_link, nearest_folder, path_error, short_path
from .stats import STATS, all_finite, describe, json_number

FORMATS = ("npy", "h5")
SUMMARY = "summary.json"
H5_NAME = "outputs.h5"


def _real(path: Path) -> Path:
    """``path`` made absolute through symlinks and ``..`` as the kernel
    resolves them (``link/..`` is the link target's parent, not the folder
    holding the link): the folder a run's outputs replace, and what is
    compared with the current folder, must be the same one."""
    return Path(os.path.realpath(path))


def _mkdir_unique(parent: Path, prefix: str) -> Path:
    """A new folder ``parent/prefix<random>``, made as ``tempfile.mkdtemp``
    makes one but with mode 0o777, so that the kernel gives it what any mkdir
    would: the umask applied, a setgid parent's group and bit inherited.
    (mkdtemp's 0700 then a chmod dropped a parent's setgid bit, and the umask
    can only be read by setting it, which races with other threads.)"""
    for _ in range(100):
        path = parent / f"{prefix}{secrets.token_hex(4)}"
        try:
            os.mkdir(path, 0o777)
        except FileExistsError:
            continue
        return path
    raise FileExistsError(errno.EEXIST, "no unused name for a temporary folder", str(parent / prefix))


def _is_nonempty_dir(path: Path) -> bool:
    return path.is_dir() and any(path.iterdir())


def _files_read(reads):
    """For each of ``reads``, (key, path) pairs, the real files it is
    (through symlinks) and, for an .h5 input, the files its external links
    lead to, which the run reads too: ``(key, path, file, linked)``, the
    path itself first. One that cannot be resolved is passed over."""
    from .arrays import H5_SUFFIXES, h5_linked_files

    for key, path in reads:
        try:
            real = _real(path)
            linked = h5_linked_files(real) if real.suffix.lower() in H5_SUFFIXES and real.is_file() else ()
        except (OSError, ValueError):
            continue
        yield key, path, real, False
        for file in map(Path, sorted(linked)):
            yield key, path, file, True


def _reads(key: str) -> str:
    """How a message says the run needs the file of ``key``: forward and
    backward never open an expected entry's file (check does), but one
    inside the folder a --force would replace is lost all the same."""
    return "which the config names" if key.startswith("expected.") else "which this run reads"


def _read_inside(target: Path, reads) -> str | None:
    """The first of ``reads``, (key, path) pairs, that lies inside the folder
    ``target`` (both through symlinks), said as ``NAME, which this run reads
    (KEY)``; None if none does."""
    for key, path, file, linked in _files_read(reads):
        if target in file.parents:
            via = f" through a link in {path.name}" if linked else ""
            return f"{file.relative_to(target)}, {_reads(key)} ({key}{via})"
    return None


def read_as(target: Path, reads) -> str | None:
    """The first of ``reads``, (key, path) pairs, that the file ``target``
    is (both through symlinks, and an .h5 input's external links), said as
    ``NAME, which this run reads (KEY)``; None if none is: a picture
    written there would replace it (the PNG writers' --force)."""
    try:
        real = _real(target)
    except (OSError, ValueError):
        return None
    for key, path, file, linked in _files_read(reads):
        if file == real:
            if linked:
                return f"{short_path(file)}, {_reads(key)} ({key}, through a link in {path.name})"
            return f"{short_path(path)}, {_reads(key)} ({key})"
    return None


def out_where(out, default: bool = False) -> str:
    """How errors name the output folder: ``--out PATH``, said to be the
    default where the user gave no --out (it was blamed on an option never
    passed)."""
    return f"--out {short_path(out)}" + (" (the default)" if default else "")


def check_out(out: Path, force: bool, reads=(), default: bool = False) -> None:
    """Refuse an output folder that may not be replaced: among others, one
    that holds a file of ``reads`` (key, path), which replacing it would
    delete (a config chained on an earlier run's outputs). ``default``: the
    user gave no --out (:func:`out_where`)."""
    where = out_where(out, default)
    try:
        here = Path.cwd()
        target = _real(out)  # as getcwd() gives the current folder: through symlinks
    except OSError as exc:  # the current folder was removed under us
        raise path_error("--out", out, exc) from None
    if target in (here, *here.parents):
        # The outputs are renamed into place as one folder: never onto the folder a user is in.
        raise ConvcliError(where, "is the current folder or holds it; give a folder for the outputs, "
                                  "e.g. --out convcli-out/NAME")
    try:  # a name too long, a folder that may not be read: the OS says why
        there = out.exists() or out.is_symlink()
        folder = there and out.is_dir()
        mount = folder and is_mount(target)
        nonempty = folder and _is_nonempty_dir(out)
        read = _read_inside(target, reads) if nonempty else None
        why_not = not_ours(out) if nonempty and force else None
    except OSError as exc:
        raise path_error("--out", out, exc) from None
    if there:
        broken = "" if folder else broken_link(out)
        if broken:
            raise ConvcliError(where, f"{broken}; choose another --out")
        if not folder:
            raise ConvcliError(where, "exists and is not a folder")
        if mount:  # (a review's run computed everything, then: "Device or resource busy")
            raise ConvcliError(where, "is a mount point, which the outputs, moved into place as one folder, "
                                      "cannot replace; give a folder inside it (--out " +
                               short_path(out / "NAME") + ")")
        if nonempty:
            if read:
                raise ConvcliError(where, f"holds {read}; replacing it would delete that file: "
                                          "choose another --out")
            if not force:
                raise ConvcliError(where, "already exists and is not empty; pass --force to replace it")
            if why_not:
                raise ConvcliError(
                    where,
                    f"refusing to replace a folder that convcli did not write ({why_not}); "
                    "remove it yourself or choose another --out",
                )


# Linux lists every mount point here, bind mounts included (os.path.ismount compares
# devices, and a bind mount of a folder on the same file system has its parent's)
MOUNTINFO = "/proc/self/mountinfo"


def is_mount(path: Path) -> bool:
    """Whether ``path`` (a real path: no symlinks) is a mount point."""
    if os.path.ismount(path):
        return True
    want = os.fsencode(path)
    try:
        with open(MOUNTINFO, "rb") as f:
            for line in f:
                fields = line.split(b" ")
                # the fifth field, its spaces and other bytes written as octal escapes (\040)
                if len(fields) > 4 and re.sub(rb"\\([0-7]{3})", lambda m: bytes([int(m[1], 8)]),
                                              fields[4]) == want:
                    return True
    except OSError:  # not Linux, or no /proc
        pass
    return False


# A summary.json larger than this is not one convcli wrote (its own are a few
# KiB a quantity).
SUMMARY_MAX_BYTES = 16 << 20


def summary_doc(data: bytes) -> dict | None:
    """A ``summary.json``'s document if it is one convcli wrote (a JSON
    object with convcli's version and its quantities, each an object naming
    its file), else None, whatever the bytes hold."""
    try:
        doc = json.loads(data)
        if isinstance(doc["convcli"], str) and all(isinstance(q["file"], str) for q in doc["quantities"].values()):
            return doc
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):  # JSONDecodeError, UnicodeDecodeError too
        pass
    return None


def not_ours(out: Path) -> str | None:
    """Why the folder ``out`` is not one convcli wrote, or None if it is: its
    ``summary.json`` is convcli's (a JSON object with convcli's version and
    its quantities) and beside it are only the files that summary lists (each
    quantity's ``.npy`` or ``outputs.h5``, and ``plots/`` holding its
    pictures). OSError propagates (the caller names ``--out``)."""
    path = out / SUMMARY
    if not path.is_file():
        return f"it has no {SUMMARY}"
    doc = summary_doc(path.read_bytes()) if path.stat().st_size <= SUMMARY_MAX_BYTES else None
    if doc is None:
        return f"its {SUMMARY} is not one convcli wrote"
    files = {SUMMARY, EXPECTED} if doc.get("expected") == EXPECTED else {SUMMARY}  # (written since it was added)
    files |= {q["file"].split(":", 1)[0] for q in doc["quantities"].values()}  # outputs.h5:NAME
    pictures = {q["plot"] for q in doc["quantities"].values() if isinstance(q.get("plot"), str)}

    def listed(entry: Path) -> bool:
        if entry.is_symlink():
            return False
        if entry.name == "plots" and entry.is_dir():
            return all(p.is_file() and not p.is_symlink() and f"plots/{p.name}" in pictures
                       for p in entry.iterdir())
        return entry.name in files and entry.is_file()

    others = sorted(entry.name for entry in out.iterdir() if not listed(entry))
    if others:
        more = f" and {len(others) - 1} more" if len(others) > 1 else ""
        return f"it holds {others[0]}{more}, which its {SUMMARY} does not list"
    return None


# The longest part of OUT's name its hidden neighbours repeat: they add ~30
# bytes, and a name may have 255 (an --out a mkdir accepts must work).
NAME_BYTES_KEPT = 200


def short_name(name: str) -> str:
    """``name``, or for a long one a prefix and a hash of the whole: short
    enough for the hidden folders named after it, and still its own."""
    if len(os.fsencode(name)) <= NAME_BYTES_KEPT:
        return name
    digest = hashlib.sha256(os.fsencode(name)).hexdigest()[:12]
    keep = name
    while len(os.fsencode(keep)) > NAME_BYTES_KEPT - 13:
        keep = keep[:-1]
    return f"{keep}~{digest}"


def _staging_prefix(name: str) -> str:
    """How the staging folders of ``OUT`` named ``name`` made on this host
    begin (the process's id and a random part follow)."""
    host = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:6]
    return f".{short_name(name)}.tmp-{host}-"


# A staging folder younger than this is never taken for a killed run's: its
# run may not have locked it yet (it locks it right after making it).
STALE_AFTER_S = 60


def _lock(folder: Path) -> int | None:
    """An open descriptor of ``folder`` holding an exclusive flock on it,
    released when the descriptor is closed: by the run at its end, or by the
    kernel when the process dies however it dies (SIGKILL included). That is
    how :func:`_remove_stale` tells a live run's staging folder from a killed
    one's, whatever PID namespace or container either runs in. None where the
    lock is not to be had (no flock, a filesystem without locks, or held)."""
    if fcntl is None:
        return None
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def _old_prefix(name: str) -> str:
    """How the folder begins where :meth:`Staging.commit` puts the outputs it
    replaces until the new ones are in place (tempfile's 8 characters follow)."""
    return f".{short_name(name)}.old-"


def _del_prefix(name: str) -> str:
    """How the folder begins that replaced outputs are renamed to once the
    new ones are in place, to be deleted (the ``.old-`` folder's own 8
    characters follow). Only such folders are garbage for certain: a run
    killed while deleting one leaves it to the next run (:func:`_remove_stale`);
    an ``.old-`` folder, which can hold the old outputs' only copy (a run
    killed between its two renames), is never removed by another run."""
    return f".{short_name(name)}.del-"


def _discard(old: Path, out_name: str) -> Path | None:
    """Delete the replaced outputs of OUT named ``out_name``: ``old`` (an
    ``.old-`` folder) renamed ``.del-`` (see :func:`_del_prefix`), then
    removed, neither step cut short by a stop signal (:func:`_through_stops`).
    Cut short, the removal had left them half deleted beside OUT. Returns
    the folder where what could not be deleted is left (a file its owner
    protected, a folder in it one may not write to), else None."""
    dead = old.with_name(_del_prefix(out_name) + old.name[len(_old_prefix(out_name)):])

    def rename() -> None:
        nonlocal dead
        if old.exists() and not dead.exists():
            try:
                os.replace(old, dead)
            except OSError:  # cannot rename: removed where it is
                dead = old

    _through_stops(rename, lambda: shutil.rmtree(dead, ignore_errors=True))
    return dead if os.path.lexists(dead) else None


def _through_stops(*steps) -> None:
    """Run each of ``steps`` to its end whatever stop signal arrives
    (KeyboardInterrupt, and convcli's SIGTERM/SIGHUP, raised as one): a step
    a signal cuts short runs again, and the first signal is raised once all
    are done."""
    stop = None
    for step in steps:
        while True:
            try:
                step()
                break
            except KeyboardInterrupt as exc:
                stop = stop or exc
    if stop is not None:
        raise stop


# Written beside outputs commit() could not put back, so that no later run
# takes them for leftovers.
KEPT_NOTE = "KEPT.txt"


def _remove_stale(parent: Path, name: str) -> None:
    """Remove the staging folders of ``OUT`` left by runs on this host that
    were killed outright (SIGKILL, the out-of-memory killer: no chance to
    clean up), so that they do not pile up out of sight: those whose lock
    (:func:`_lock`) can be taken, at least :data:`STALE_AFTER_S` old. A live
    run's folder, locked, is left alone, and so is anything this cannot
    decide (a parent it may not list, a folder it may not open). Also the
    replaced outputs a ``--force`` run had renamed for deletion (``.OUT.del-``,
    :func:`_del_prefix`) and was killed while deleting, at least as old."""
    prefix, dead = _staging_prefix(name), _del_prefix(name)
    try:
        entries = list(parent.iterdir())
    except OSError:  # a folder one may write to but not list
        return
    for entry in entries:
        if entry.name.startswith(dead) and re.fullmatch(r"[a-z0-9_]{8}", entry.name[len(dead):]):
            try:
                if (not entry.is_symlink() and entry.is_dir()
                        and time.time() - entry.stat().st_mtime >= STALE_AFTER_S):
                    shutil.rmtree(entry, ignore_errors=True)
            except OSError:
                pass
            continue
        # Exactly <prefix><pid>-<8 hex digits>: not the staging folder of an OUT whose name starts like it.
        if not (entry.name.startswith(prefix)
                and re.fullmatch(r"[0-9]+-[0-9a-f]{8}", entry.name[len(prefix):])):
            continue
        try:
            if (entry.is_symlink() or not entry.is_dir()
                    or time.time() - entry.stat().st_mtime < STALE_AFTER_S):
                continue
            fd = _lock(entry)
        except OSError:
            continue
        if fd is not None:  # nobody holds it: its run is gone
            try:
                shutil.rmtree(entry, ignore_errors=True)
            finally:
                os.close(fd)


def _sync_folder(folder: Path) -> None:
    """fsync a folder (its entries: names made, renamed); where a system
    cannot (some network file systems), nothing more is done."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _sync_tree(folder: Path) -> None:
    """fsync every file under ``folder``, then the folders themselves.
    A file that cannot be synced raises (its data may not be on disk)."""
    for root, _, files in os.walk(folder):
        for name in files:
            fd = os.open(os.path.join(root, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            except OSError as exc:
                if exc.errno not in (errno.EINVAL, errno.ENOTSUP):  # a file system that does not sync
                    raise
            finally:
                os.close(fd)
        _sync_folder(Path(root))


# a folder filled at --out while the run computed, which without --force it never replaces
APPEARED = ("was filled while convcli computed (another run writing there?); kept it, and not this run's results: "
            "pass --force to replace it, or give another --out")


class Staging:
    """A temporary folder beside ``out``; ``commit()`` renames it to ``out``."""

    def __init__(self, out: str | Path, force: bool = False, reads=(), default: bool = False):
        self.out = Path(out)  # as the user wrote it, for messages
        self.default = default  # no --out given: this is the default one
        self._target = self.out  # made absolute once check_out has accepted it
        self.force = force
        self.reads = list(reads)  # (key, path) of the files the run reads: never replaced (check_out)
        self.path: Path | None = None
        self._created: list[Path] = []
        self._committed = False
        self.left: Path | None = None  # where replaced outputs that could not be deleted are (commit)
        self._identity: tuple[int, int] | None = None  # the staging folder's (device, inode)
        self._lock_fd: int | None = None  # held while the run lasts (see _lock)

    @property
    def where(self) -> str:
        """How errors name the output: the user's ``--out``, never the staging folder."""
        return out_where(self.out, self.default)

    def __enter__(self) -> "Staging":
        where = out_where(self.out, self.default)
        check_out(self.out, self.force, self.reads, self.default)
        # A folder on the way that is a link to nothing (or a loop) is refused as OUT itself is, not made
        # where it points (a review: --out DANGLING/x made the link's target, /nonexistent/q/x)
        nearest_folder(self.out.absolute().parent, where, self.out)
        # Through a symlink to the folder it names: replacing the link itself would
        # leave the folder it points at with the old outputs.
        self._target = _real(self.out)
        parent = self._target.parent
        p, folder, missing = nearest_folder(parent, "--out", self.out)
        if not folder:
            raise ConvcliError(where, f"cannot create it: {short_path(p)} is a file, not a folder")
        mine = _staging_prefix(self._target.name) + f"{os.getpid()}-"
        at = parent  # where a folder is being made: the one an error names (a review: ro/a/b for a read-only ro)
        try:
            for d in reversed(missing):
                at = d.parent
                d.mkdir()
                self._created.append(d)
            at = parent
            _remove_stale(parent, self._target.name)
            self.path = _mkdir_unique(parent, mine)
            st = os.stat(self.path)
            self._identity = (st.st_dev, st.st_ino)
            self._lock_fd = _lock(self.path)
        except OSError as exc:
            self._cleanup()
            raise ConvcliError(where, f"cannot write in {short_path(at)}: {exc.strerror or exc}") from None
        except BaseException:
            # A stop signal before __exit__ is armed (1 in ~10 of the tests'
            # stops, sent as the folder appears), perhaps before self.path
            # was set: the folder is found by its name, which holds our pid.
            if self.path is None and parent.is_dir():
                self.path = next((e for e in parent.iterdir() if e.name.startswith(mine)), None)
            self.__exit__(*sys.exc_info())  # (the first stop is the one said, as in __exit__)
            raise
        return self

    def commit(self) -> Path:
        """Rename the staging folder into place (replacing ``out`` if allowed),
        once its files are on disk: without the sync, a crash or a power cut
        soon after could leave the renamed folder with empty or short files
        (the rename reaching the disk first) and the replaced outputs gone."""
        where = out_where(self.out, self.default)
        try:
            _sync_tree(self.path)
        except OSError as exc:
            raise ConvcliError(where, f"cannot write the results to disk: {exc.strerror or exc}") from None
        # after the sync (which takes a while): it may have appeared while we computed (without --force it was
        # empty or not there at the start, or the run would have stopped then: an instructor's review had
        # "already exists" after a whole streamed run, another run having written it meanwhile)
        try:
            check_out(self.out, self.force, self.reads, self.default)
        except ConvcliError as exc:
            if self.force or not exc.what.startswith("already exists and is not empty"):
                raise
            raise ConvcliError(where, APPEARED) from None
        target = self._target
        old = None  # the folder the replaced outputs wait in until the new ones are in place
        kept = ""
        try:
            filled = self.force and target.is_dir() and _is_nonempty_dir(target)
            if not filled:
                # Onto nothing or an empty folder. Without --force, a folder that another run filled
                # since check_out looked is never replaced: the kernel refuses a rename onto it.
                try:
                    os.replace(self.path, target)
                except OSError as exc:
                    if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                        raise
                    if not self.force:
                        raise ConvcliError(where, APPEARED) from None
                    filled = True  # filled meanwhile
            if filled:
                # --force replaces it only if it may (convcli's, no file this run reads): looked at again
                # here, the last moment before it is moved aside (it may have been filled since the look above)
                check_out(self.out, self.force, self.reads, self.default)
                old = Path(tempfile.mkdtemp(prefix=_old_prefix(target.name), dir=target.parent))
                os.replace(target, old / "x")
                os.replace(self.path, target)
            self._committed = True
            _sync_folder(target.parent)  # the rename itself
        except BaseException as exc:  # a failed rename, or Ctrl-C between the two: the old outputs go back
            if self._in_place(target):  # a stop signal right after the last rename: the outputs are in place
                self._committed = True
                raise
            if old is not None and (old / "x").exists():  # (the new ones are not in place: see above)
                try:
                    os.replace(old / "x", target)
                except OSError:  # could not be put back: never delete them
                    kept_in, old = old, None  # first: whatever happens next, they stay
                    kept = f"; the previous outputs are in {short_path(kept_in / 'x')}"
                    try:
                        (kept_in / KEPT_NOTE).write_text(
                            f"convcli could not move these outputs back to {target}: they are yours to keep\n",
                            encoding="utf-8", errors="backslashreplace")
                    except (OSError, ValueError):
                        pass
            if not isinstance(exc, OSError):
                if kept:  # a stop signal: its line says where they are (BaseException.add_note is 3.11+)
                    exc.__notes__ = [*getattr(exc, "__notes__", []), kept.removeprefix("; ")]
                raise
            raise ConvcliError(
                where, f"cannot move the results into place: {exc.strerror or exc}{kept}"
            ) from None
        finally:
            # Empty, or the replaced outputs once the new ones are in place; never the
            # old outputs while they may be their only copy (a second signal mid-put-back).
            if old is not None and (self._committed or not (old / "x").exists()):
                self.left = _discard(old, target.name)
        return self.out

    def _in_place(self, target: Path) -> bool:
        """Whether ``target`` is this run's staging folder, renamed (the same
        inode; a staging folder that vanished is not a commit)."""
        try:
            st = os.stat(target)
        except OSError:
            return False
        return (st.st_dev, st.st_ino) == self._identity

    @property
    def committed(self) -> bool:
        """Whether the outputs are in place (even if commit() then raised)."""
        return self._committed

    def _cleanup(self) -> None:
        """The staging folder removed (and the folders made for OUT), unless
        committed; to the end whatever stop signal arrives meanwhile (a
        review: Ctrl-C pressed twice left a hidden 225 MB staging folder,
        the second cutting short the removal the first had begun)."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
        if self._committed:
            return

        def remove_folders() -> None:
            for d in reversed(self._created):
                try:
                    d.rmdir()
                except OSError:
                    pass

        staging = self.path
        _through_stops((lambda: shutil.rmtree(staging, ignore_errors=True)) if staging is not None else (lambda: None),
                       remove_folders)

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            self._cleanup()
        except KeyboardInterrupt:
            if exc_type is None or not issubclass(exc_type, KeyboardInterrupt):
                raise  # (the stop that is already on its way out says it once: the first, a review)


@contextmanager
def writing(where: str, file: str):
    """A failed write of ``file`` (a full disk, say) is the user's problem to
    fix: exit 2."""
    try:
        yield
    except OSError as exc:
        raise ConvcliError(where, f"cannot write {file}: {exc.strerror or exc}") from None


def save_npy(path: Path, array: np.ndarray) -> None:
    """``np.save(path, array, allow_pickle=False)``, but a failed write keeps
    the OS's errno: NumPy writes the data with ``ndarray.tofile``, whose short
    write on a full disk is an ``OSError`` with only "N requested and M
    written" (or "problem writing element N"), which would not tell the user
    why. NumPy's header, then the data with ordinary writes, no copy."""
    array = np.asanyarray(array)
    if array.dtype.hasobject:
        raise ValueError("object arrays cannot be saved when allow_pickle=False")
    header = np.lib.format.header_data_from_array_1_0(array)
    # Always C order, as outputs.h5 is (a review: an input stored in Fortran order was written back so, with
    # the ReLU outputs made of it: readers of the raw buffer as NHWC misread it, and a run chained on it
    # could not stream it); a Fortran-ordered array is gathered in rows below, never copied whole.
    header["fortran_order"] = False
    with open(path, "wb") as fp:
        np.lib.format.write_array_header_1_0(fp, header)
        if array.flags.c_contiguous:
            fp.write(array.reshape(-1).view(np.uint8))
        else:  # a view with gaps: copied ~16 MiB of rows at a time, not whole
            step = max(1, (16 << 20) // max(1, array[:1].nbytes))
            for r0 in range(0, len(array), step):
                fp.write(np.ascontiguousarray(array[r0:r0 + step]).reshape(-1).view(np.uint8))


class _Sink:
    """The file under an :class:`H5Output`, as h5py's ``fileobj`` driver uses
    it. The first failed read, write, seek or tell is kept in ``error``, and
    HDF5 is told that it succeeded: later writes are dropped, reads give
    zeros past what the file holds (as HDF5's own driver does past its end)."""

    def __init__(self, raw):
        self.raw = raw
        self.error: OSError | None = None

    def seek(self, offset: int, whence: int = 0) -> int:
        try:
            return self.raw.seek(offset, whence)
        except OSError as exc:  # lseek's EINVAL past the largest file the file system allows
            self.error = self.error or exc
            return offset

    def tell(self) -> int:
        try:
            return self.raw.tell()
        except OSError as exc:
            self.error = self.error or exc
            return 0

    def read(self, size: int) -> bytes:
        parts = []
        got = 0
        try:
            while got < size:  # a raw read may return less than asked before the end of the file
                part = self.raw.read(size - got)
                if not part:  # the end of the file
                    break
                parts.append(part)
                got += len(part)
        except OSError as exc:
            self.error = self.error or exc
        return b"".join(parts) + bytes(size - got)

    def write(self, data) -> int:
        view = memoryview(data).cast("B")
        size = len(view)
        try:
            while view and self.error is None:
                n = self.raw.write(view)
                if not n:
                    raise OSError(errno.EIO, "nothing written")
                view = view[n:]
        except OSError as exc:
            self.error = exc
        return size

    def truncate(self, size: int) -> None:
        if self.error is None:
            try:
                self.raw.truncate(size)
            except OSError as exc:
                self.error = exc

    def flush(self) -> None:
        pass  # the raw file is unbuffered


class H5Output:
    """``outputs.h5``, open for writing (``.file``, an h5py File), where a
    failed write is a :class:`ConvcliError` ("cannot write", exit 2).

    HDF5 does not recover from a failed write: its later flushes fail again,
    h5py reports them while freeing objects ("Exception ignored in ...
    __dealloc__"), and closing the file, or the interpreter's exit, can then
    crash the process (SIGSEGV, SIGBUS) before the staging folder is removed.
    So HDF5 writes into a :class:`_Sink` (h5py's ``fileobj`` driver: h5py
    3.16 hands it HDF5's buffers as memoryviews, not copies), which keeps a
    failure to itself; :meth:`guard` raises it after each write,
    :meth:`close` after the last ones. HDF5 closes the file as if nothing went wrong; it is garbage
    by then, and goes with the staging folder.

    A context manager: leaving it closes the file, quietly after an error.
    """

    def __init__(self, path: Path, where: str):
        import h5py  # only here: the NumPy core never needs it

        self.where = where
        self.name = path.name
        with writing(where, self.name):
            raw = open(path, "w+b", buffering=0)
        self._sink = _Sink(raw)
        self.file = None
        try:
            with self.guard():
                self.file = h5py.File(self._sink, "w")
        except BaseException:
            if self.file is not None:  # made, but writing its start failed
                self.abort()
            else:
                raw.close()
            raise

    @contextmanager
    def guard(self):
        """Around h5py calls that write: a failure is "cannot write"."""
        try:
            yield
        except (OSError, RuntimeError) as exc:  # how h5py reports HDF5's failures
            raise self._failed(exc) from None
        if self._sink.error is not None:
            raise self._failed(self._sink.error)

    def _failed(self, exc: BaseException) -> ConvcliError:
        exc = self._sink.error or exc
        what = exc.strerror if isinstance(exc, OSError) and exc.strerror else " ".join(str(exc).split())
        return ConvcliError(self.where, f"cannot write {self.name}: {what}")

    def close(self) -> None:
        """Close the file (HDF5 writes what it held back), then raise any
        write that failed. Once only; later calls do nothing."""
        file, self.file = self.file, None
        if file is None:
            return
        try:
            with self.guard():
                file.close()
        finally:
            with writing(self.where, self.name):
                self._sink.raw.close()

    def abort(self) -> None:
        """Close after an error, raising nothing: the error is the one to report."""
        try:
            self.close()
        except ConvcliError:
            pass

    def __enter__(self) -> "H5Output":
        return self

    def __exit__(self, exc_type, *exc_info) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def write_arrays(folder: Path, quantities: dict[str, np.ndarray], fmt: str,
                 where: str | None = None) -> dict[str, str]:
    """``<quantity>.npy`` per quantity, or datasets of ``outputs.h5``.
    Returns where each quantity went (file name, or ``outputs.h5:NAME``).
    ``where`` names the output in an error (default: ``--out FOLDER``)."""
    where = where or f"--out {folder}"
    with H5Output(folder / H5_NAME, where) if fmt == "h5" else nullcontext() as h5:
        return {name: write_quantity(folder, name, a, h5, where) for name, a in quantities.items()}


def write_quantity(folder: Path, name: str, array: np.ndarray, h5: H5Output | None, where: str) -> str:
    """Write one whole quantity: a dataset of the open ``outputs.h5`` ``h5``,
    or ``folder/<name>.npy`` when ``h5`` is None. Returns where it went, as
    :func:`write_arrays` does. (A streamed run writes its ``dW``/``db`` so.)"""
    if h5 is not None:
        with h5.guard():
            h5.file.create_dataset(name, data=array)
        return f"{H5_NAME}:{name}"
    file = f"{name}.npy"
    with writing(where, file):
        save_npy(folder / file, array)
    return file


def summary(results, command: str, fmt: str | None = None, placed: dict[str, str] | None = None,
            plots: dict[str, str] | None = None) -> dict:
    """What ``summary.json`` holds (and ``--json`` prints). ``placed`` and
    ``plots`` map a quantity to its file and its picture (``plots/Q.png``)."""
    p = results.plan
    cfg = p.cfg
    quantities = {}
    for name, a in results.quantities.items():
        # A streamed quantity (streaming.Streamed) brings the statistics it gathered chunk by chunk.
        stats = a.describe() if hasattr(a, "describe") else describe(a)
        d = {k: json_number(v) for k, v in stats.items()}
        d["role"] = p.roles.get(name, "")
        if placed:
            d["file"] = placed[name]
        if plots and name in plots:
            d["plot"] = plots[name]
        quantities[name] = d
    grad = p.grad_spec
    return {
        "convcli": __version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "command": command,
        "config": {"path": str(cfg.path.resolve()), "sha256": cfg.sha256},
        "seed": cfg.model.seed,
        "dtype": p.dtype,
        "engine": p.engine,
        # the threads and the BLAS it ran on: a run on others may round a product otherwise, and an ulp
        # can move a max pool's tie (an instructor's review: nothing said why two runs' keys differed)
        "threads": parallel.describe(),
        "format": fmt,
        "inputs": {name: src.describe() for name, src in cfg.model.inputs.items()},
        # with each layer's hyperparameters as it ran (a same padding's four sides, the ties rule): an
        # archived run says which conventions made it (an engineer's review: only shapes --json did)
        "layers": [
            {"name": s.name, "type": s.kind, "input_shape": list(s.in_shape), "output_shape": list(s.out_shape),
             "hyperparameters": hparams.as_given(s.hyper, layer.hparameters)}
            for s, layer in zip(p.layer_shapes, p.network.layers)
        ],
        "upstream_gradient": (grad if isinstance(grad, str) else grad.describe()) if results.grad is not None else None,
        "timings": {k: round(v, 6) for k, v in results.timings.items()},
        # How a run that did not fit --memory-budget was streamed; null when it ran in memory.
        "streaming": getattr(results, "streaming", None),
        "quantities": quantities,
        # the same statistics as an expected: block (expected_yaml)
        "expected": EXPECTED,
    }


EXPECTED = "expected.yaml"


def _yaml_number(x) -> str:
    """A summary's number as YAML that reads back as the same float in YAML
    1.2 and 1.1 alike (``repr``: every digit, with a point before an
    exponent; JSON's "NaN", "Infinity" as ``.nan``, ``.inf``)."""
    special = {"NaN": ".nan", "Infinity": ".inf", "-Infinity": "-.inf"}.get(x)
    if special:
        return special
    text = repr(float(x))
    mantissa, e, exponent = text.partition("e")
    if e and "." not in mantissa:  # 3e-05 -> 3.0e-05: YAML 1.1 readers (PyYAML) read 3e-05 as a string (a review)
        text = f"{mantissa}.0e{exponent}"
    return text


def expected_yaml(results, command: str, stats: dict[str, dict], shown: str = EXPECTED) -> str:
    """``expected.yaml``: the statistics of every quantity the run computed
    (its layers' outputs and gradients: not the inputs or the upstream
    gradient the config gives) as an ``expected:`` block, with every digit.
    ``check CONFIG --expected`` it to check a later run against this one, or
    paste its entries into a config (an instructor's key: the tables round
    to six digits, and a value copied from them may fail rtol 1e-6).
    ``stats``: the summary's quantities (:func:`summary`); ``shown``: this
    file's path as the user named the folder."""
    p = results.plan
    cfg = p.cfg
    # the run's own options where they overrode the config: the same run is what passes
    same = "".join(f" --{k} {v}" for k, v, c in (("dtype", p.dtype, cfg.model.dtype),
                                                  ("engine", p.engine, cfg.model.engine)) if v != c)
    config = _shell(str(cfg.display))
    lines = [
        f"# Expected values: the statistics of every quantity `convcli {command} {config}{same}` computed",
        f"# (sha256 {cfg.sha256[:12]}, {p.dtype}, {p.engine} engine, convcli {__version__}), every digit, and",
        "# its element largest in magnitude, at its index (statistics alone pass maps mirrored, samples or",
        "# channels reordered).",
        "# Check a run against them:",
        f"#   convcli check {config}{same} --expected {_shell(shown)}",
        "# or paste the entries into a config's expected: (its tolerance: applies; by default rtol 1e-6",
        "# in float64, 1e-4 in float32).",
        # the same, for check: a failed check against another config's values says so
        "computed_from:",
        f"  config: {json.dumps(str(cfg.display))}",
        f"  sha256: {cfg.sha256}",
        f"  dtype: {p.dtype}",
        f"  engine: {p.engine}",
        f"  convcli: {json.dumps(__version__)}",
        "expected:",
    ]
    for name in p.graded():
        d = stats.get(name)
        if d is None:  # a forward run has no gradients
            continue
        lines.append(f"  {name}.shape: [{', '.join(str(n) for n in d['shape'])}]")
        lines += [f"  {name}.{k}: {_yaml_number(d[k])}" for k in STATS if k != "shape"]
        lines += _largest_entry(name, results.quantities.get(name))
        if "file" in d and any(isinstance(d[k], str) for k in ("min", "max", "sum")):  # "NaN", "Infinity"
            # Its statistics are NaN or infinite whatever else it holds: any array with a NaN would
            # pass them. The whole array, beside this file, is compared too (NaN only with NaN).
            file, _, dataset = d["file"].partition(":")
            where = f", dataset: {json.dumps(dataset)}" if dataset else ""
            lines += [f"  # {name} holds NaN or Inf, which its statistics above mostly stand for: the whole",
                      f"  # array is compared too ({file} beside this file)",
                      f"  {name}: {{file: {json.dumps(file)}{where}}}"]
    return "\n".join(lines) + "\n"


def _largest_entry(name: str, a) -> list[str]:
    """``Q[i, j, k, c]: value``, the element of ``a`` largest in magnitude
    (the first of equals), for :func:`expected_yaml`: its statistics are
    the same for maps mirrored, samples or channels reordered, and so was
    the check of a run made so (a review: all 28 passed); that element
    moves with them. None for an array of one element or one holding NaN
    or an infinity (compared whole). A streamed quantity's, from the
    element its statistics kept, chunk by chunk (``stats.largest_at``)."""
    if hasattr(a, "stats") and hasattr(a.stats, "largest_at"):  # streaming.Streamed
        found = a.stats.largest_at(a.shape)
        if found is None:
            return []
        return [_element_entry(name, *found)]
    if not isinstance(a, np.ndarray) or a.size < 2 or not all_finite(a):
        return []
    flat = a.reshape(-1)  # (a quantity is C-contiguous: a view) in pieces: no array-sized |a| beside it
    best, where = -1.0, 0
    for i in range(0, flat.size, LARGEST_PIECE):
        piece = np.abs(flat[i:i + LARGEST_PIECE])
        k = int(np.argmax(piece))
        if piece[k] > best:
            best, where = float(piece[k]), i + k
    at = np.unravel_index(where, a.shape)
    return [_element_entry(name, at, a[at])]


def _element_entry(name: str, at, value) -> str:
    """An expected.yaml entry ``name[i, j, ...]: value`` of one element."""
    return f"  {name}[{', '.join(str(int(i)) for i in at)}]: {_yaml_number(value)}"


LARGEST_PIECE = 1 << 20  # elements of _largest_entry's |a| at a time


def _shell(text: str) -> str:
    """A path as a shell takes it, on one line of a YAML comment."""
    return shlex.quote(text).replace("\n", "\\n").replace("\r", "\\r")


def write_expected(folder: Path, text: str, where: str | None = None) -> None:
    with writing(where or f"--out {folder}", EXPECTED):
        # a path in its comments may hold bytes that are not UTF-8 (a file name's): escaped, not exit 3
        (folder / EXPECTED).write_text(text, encoding="utf-8", errors="backslashreplace")


def write_summary(folder: Path, data: dict, where: str | None = None) -> None:
    text = json.dumps(data, indent=2, allow_nan=False)
    with writing(where or f"--out {folder}", SUMMARY):
        (folder / SUMMARY).write_text(text + "\n", encoding="utf-8")
