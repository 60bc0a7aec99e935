"""Outputs out (DESIGN.md section 4), written atomically.

:class:`Staging` makes a temporary folder beside ``OUT`` *before* any
computing (so an unwritable place fails fast), the caller writes into it, and
:meth:`Staging.commit` renames it into place. Whatever goes wrong before
that, including Ctrl-C, the temporary folder and any parent folders it had to
create are removed: a failed run leaves nothing on disk.

An existing ``OUT`` that is not empty is kept unless ``force``; even with
``force``, convcli only replaces a folder that holds a ``summary.json`` (one it
wrote), so ``--out . --force`` cannot wipe a working directory.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
from pathlib import Path

import numpy as np

from . import __version__
from .errors import ConvcliError, path_error, short_path
from .stats import describe, json_number

FORMATS = ("npy", "h5")
SUMMARY = "summary.json"
H5_NAME = "outputs.h5"


def _absolute(path: Path) -> Path:
    """``path`` made absolute with ``.`` and ``..`` resolved by name (not
    through symlinks): what ``--out o/..`` names, with a name to stage beside."""
    return Path(os.path.abspath(path))


def _umask() -> int:
    """The process's umask (read by setting it: POSIX has no other way)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _is_nonempty_dir(path: Path) -> bool:
    return path.is_dir() and any(path.iterdir())


def check_out(out: Path, force: bool) -> None:
    """Refuse an output folder that may not be replaced."""
    where = f"--out {short_path(out)}"
    try:
        here = Path.cwd()
        target = _absolute(out)
    except OSError as exc:  # the current folder was removed under us
        raise path_error("--out", out, exc) from None
    if target in (here, *here.parents):
        # The outputs are renamed into place as one folder: never onto the folder a user is in.
        raise ConvcliError(where, "is the current folder or holds it; give a folder for the outputs, "
                                  "e.g. --out convcli-out/NAME")
    try:  # a name too long, a folder that may not be read: the OS says why
        there = out.exists() or out.is_symlink()
        folder = there and out.is_dir()
        nonempty = folder and _is_nonempty_dir(out)
        ours = nonempty and (out / SUMMARY).is_file()
    except OSError as exc:
        raise path_error("--out", out, exc) from None
    if there:
        if not folder:
            raise ConvcliError(where, "exists and is not a folder")
        if nonempty:
            if not force:
                raise ConvcliError(where, "already exists and is not empty; pass --force to replace it")
            if not ours:
                raise ConvcliError(
                    where,
                    f"refusing to replace a folder that convcli did not write (it has no {SUMMARY}); "
                    "remove it yourself or choose another --out",
                )


class Staging:
    """A temporary folder beside ``out``; ``commit()`` renames it to ``out``."""

    def __init__(self, out: str | Path, force: bool = False):
        self.out = Path(out)  # as the user wrote it, for messages
        self._target = self.out  # made absolute once check_out has accepted it
        self.force = force
        self.path: Path | None = None
        self._created: list[Path] = []
        self._committed = False

    def __enter__(self) -> "Staging":
        check_out(self.out, self.force)
        self._target = _absolute(self.out)
        where = f"--out {short_path(self.out)}"
        parent = self._target.parent
        missing = []
        p = parent
        try:
            while not p.exists():
                missing.append(p)
                p = p.parent
            folder = p.is_dir()
        except OSError as exc:
            raise path_error("--out", self.out, exc) from None
        if not folder:
            raise ConvcliError(where, f"cannot create it: {short_path(p)} is a file, not a folder")
        try:
            for d in reversed(missing):
                d.mkdir()
                self._created.append(d)
            self.path = Path(tempfile.mkdtemp(prefix=f".{self._target.name}.tmp-", dir=parent))
        except OSError as exc:
            self._cleanup()
            raise ConvcliError(where, f"cannot write in {short_path(parent)}: {exc.strerror or exc}") from None
        return self

    def commit(self) -> Path:
        """Rename the staging folder into place (replacing ``out`` if allowed)."""
        check_out(self.out, self.force)  # it may have appeared while we computed
        where = f"--out {short_path(self.out)}"
        target = self._target
        old = None  # the folder the replaced outputs wait in until the new ones are in place
        kept = ""
        try:
            # mkdtemp makes it 0700; the outputs get what a mkdir would give them.
            os.chmod(self.path, 0o777 & ~_umask())
            if target.is_dir() and _is_nonempty_dir(target):
                old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
                os.replace(target, old / "x")
                try:
                    os.replace(self.path, target)
                except OSError:
                    os.replace(old / "x", target)
                    raise
            else:
                os.replace(self.path, target)  # also replaces an empty folder
            self._committed = True
        except OSError as exc:
            if old is not None and (old / "x").exists():  # could not be put back: never delete it
                kept = f"; the previous outputs are in {short_path(old / 'x')}"
                old = None
            raise ConvcliError(
                where, f"cannot move the results into place: {exc.strerror or exc}{kept}"
            ) from None
        finally:
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        return self.out

    def _cleanup(self) -> None:
        if self.path is not None and not self._committed:
            shutil.rmtree(self.path, ignore_errors=True)
        if not self._committed:
            for d in reversed(self._created):
                try:
                    d.rmdir()
                except OSError:
                    pass

    def __exit__(self, *exc_info) -> None:
        self._cleanup()


def write_arrays(folder: Path, quantities: dict[str, np.ndarray], fmt: str) -> dict[str, str]:
    """``<quantity>.npy`` per quantity, or datasets of ``outputs.h5``.
    Returns where each quantity went (file name, or ``outputs.h5:NAME``)."""
    where = f"--out {folder}"
    placed = {}
    try:
        if fmt == "h5":
            import h5py

            with h5py.File(folder / H5_NAME, "w") as f:
                for name, a in quantities.items():
                    f.create_dataset(name, data=a)
                    placed[name] = f"{H5_NAME}:{name}"
        else:
            for name, a in quantities.items():
                np.save(folder / f"{name}.npy", a, allow_pickle=False)
                placed[name] = f"{name}.npy"
    except OSError as exc:
        raise ConvcliError(where, f"cannot write: {exc.strerror or exc}") from None
    return placed


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
        "format": fmt,
        "inputs": {name: src.describe() for name, src in cfg.model.inputs.items()},
        "layers": [
            {"name": s.name, "type": s.kind, "input_shape": list(s.in_shape), "output_shape": list(s.out_shape)}
            for s in p.layer_shapes
        ],
        "upstream_gradient": (grad if isinstance(grad, str) else grad.describe()) if results.grad is not None else None,
        "timings": {k: round(v, 6) for k, v in results.timings.items()},
        # How a run that did not fit --memory-budget was streamed; null when it ran in memory.
        "streaming": getattr(results, "streaming", None),
        "quantities": quantities,
    }


def write_summary(folder: Path, data: dict) -> None:
    text = json.dumps(data, indent=2, allow_nan=False)
    try:
        (folder / SUMMARY).write_text(text + "\n", encoding="utf-8")
    except OSError as exc:
        raise ConvcliError(f"--out {folder}", f"cannot write {SUMMARY}: {exc.strerror or exc}") from None
