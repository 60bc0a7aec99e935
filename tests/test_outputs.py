"""Atomic outputs (convcli/outputs.py): a failed run leaves nothing; --force
replaces only what convcli wrote."""

from __future__ import annotations

import json
import os
import stat
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from convcli.errors import ConvcliError
from convcli.outputs import Staging, _Sink, save_npy, write_arrays


def _summary(folder: Path, files: dict[str, str] | None = None) -> None:
    """A summary.json as convcli writes one (the keys --force looks at),
    listing ``files`` (quantity -> file)."""
    quantities = {name: {"file": file} for name, file in (files or {}).items()}
    (folder / "summary.json").write_text(json.dumps({"convcli": "0.1.0", "quantities": quantities}))


def test_commit_renames_the_staging_folder_into_place(tmp_path):
    out = tmp_path / "a" / "b" / "out"
    with Staging(out) as st:
        assert st.path.parent == out.parent and st.path.name.startswith(".out.tmp-")
        write_arrays(st.path, {"conv1.Z": np.ones(3)}, "npy")
        _summary(st.path)
        assert not out.exists()
        st.commit()
    assert sorted(p.name for p in out.iterdir()) == ["conv1.Z.npy", "summary.json"]
    assert sorted(p.name for p in out.parent.iterdir()) == ["out"]


def test_a_failure_leaves_nothing_not_even_the_parents_it_made(tmp_path):
    out = tmp_path / "a" / "b" / "out"
    with pytest.raises(KeyboardInterrupt):
        with Staging(out) as st:
            write_arrays(st.path, {"x": np.ones(3)}, "npy")
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


_BLOCK = np.arange(2 * 3 * 4 * 5, dtype=np.float64).reshape(2, 3, 4, 5)


@pytest.mark.parametrize("array", [
    _BLOCK,
    _BLOCK.astype(np.float32),
    np.asfortranarray(_BLOCK),  # saved in C order all the same (np.save would say fortran_order)
    _BLOCK[:, ::2, 1:],  # a view with gaps
    _BLOCK.transpose(3, 1, 2, 0),
    np.array(2.5),  # a single number
], ids=["C", "float32", "F", "strided", "transposed", "0-d"])
def test_save_npy_writes_what_np_save_writes(tmp_path, array):
    """save_npy writes the data itself (so that a failed write keeps its
    errno); the file must be byte for byte NumPy's own of the array in C
    order: always C order, as outputs.h5 is (a review: a Fortran-ordered
    input was written back so, and a run chained on it could not stream it)."""
    np.save(tmp_path / "numpy.npy", np.array(array, order="C"), allow_pickle=False)
    save_npy(tmp_path / "ours.npy", array)
    assert (tmp_path / "ours.npy").read_bytes() == (tmp_path / "numpy.npy").read_bytes()
    with open(tmp_path / "ours.npy", "rb") as f:
        np.lib.format.read_magic(f)
        assert np.lib.format.read_array_header_1_0(f)[1] is False  # (shape, fortran_order, dtype)


def test_force_replaces_a_convcli_folder(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    _summary(out, {"old": "old.npy", "h": "outputs.h5:h"})
    (out / "old.npy").write_text("")
    (out / "outputs.h5").write_text("")
    with pytest.raises(ConvcliError, match="pass --force"):
        Staging(out).__enter__()
    with Staging(out, force=True) as st:
        _summary(st.path)
        st.commit()
    assert sorted(p.name for p in out.iterdir()) == ["summary.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_force_says_where_replaced_outputs_it_could_not_delete_are(tmp_path, monkeypatch):
    """A review: an old output holding a file its owner protected (or a
    folder one may not write to) stayed in a hidden .OUT.del-XXXXXXXX
    folder beside OUT, the run saying nothing and exiting 0. The new
    outputs are in place and the run succeeds, but a warning names the
    folder. (Run as root, a protection does not hold: the deletion is made
    to fail instead.)"""
    import convcli.outputs as outputs_module
    from test_cli_helpers import CONFIGS, run

    cfg, out = CONFIGS / "stack.yaml", tmp_path / "out"
    assert run(["forward", cfg, "--out", out]).exit_code == 0
    monkeypatch.setattr(outputs_module.shutil, "rmtree", lambda path, ignore_errors=False: None)
    result = run(["forward", cfg, "--out", out, "--force"])
    assert result.exit_code == 0, result.output
    left = [p for p in tmp_path.iterdir() if p.name.startswith(".out.del-")]
    assert len(left) == 1 and (left[0] / "x" / "summary.json").exists()
    assert result.stderr.startswith(f"convcli: warning: {out}: the outputs it held before could not all be deleted")
    assert f"what is left of them is in {left[0]}: delete it by hand" in result.stderr
    assert (out / "summary.json").exists()
    monkeypatch.undo()
    assert run(["forward", cfg, "--out", out, "--force"]).stderr == ""  # deleted as it should be: nothing said


@pytest.mark.parametrize("summary, others, why", [
    (None, ["thesis.tex"], "it has no summary.json"),
    ('{"my": "report"}', ["thesis.tex"], "its summary.json is not one convcli wrote"),
    ("not json", [], "its summary.json is not one convcli wrote"),
    ('{"convcli": "0.1.0", "quantities": []}', [], "its summary.json is not one convcli wrote"),
    ("[" * 100_000 + "]" * 100_000, [], "its summary.json is not one convcli wrote"),  # json's recursion
    # convcli's, but with a config and its input put beside the outputs
    ({"conv1.Z": "conv1.Z.npy"}, ["c.yaml", "good.npy"], "it holds c.yaml and 1 more, which its summary.json does not list"),
    # a picture the summary does not list
    ({"conv1.Z": "conv1.Z.npy"}, ["plots/mine.png"], "it holds plots, which its summary.json does not list"),
], ids=["no-summary", "someone-else-s-summary", "not-json", "wrong-shape", "deep", "config-beside",
        "extra-picture"])
def test_force_refuses_a_folder_convcli_did_not_write(tmp_path, summary, others, why):
    """The review's repro: a folder with a summary.json of its own and a
    thesis beside it was replaced by --force, and so was a folder holding the
    config that was run and its inputs."""
    out = tmp_path / "out"
    out.mkdir()
    if isinstance(summary, dict):
        _summary(out, summary)
        for file in summary.values():
            (out / file).write_text("")
    elif summary is not None:
        (out / "summary.json").write_text(summary)
    for name in others:
        (out / name).parent.mkdir(exist_ok=True)
        (out / name).write_text("keep me")
    before = sorted((p.relative_to(out), p.read_bytes()) for p in out.rglob("*") if p.is_file())
    with pytest.raises(ConvcliError, match=f"refusing to replace a folder that convcli did not write \\({why}\\)"):
        Staging(out, force=True).__enter__()
    assert sorted((p.relative_to(out), p.read_bytes()) for p in out.rglob("*") if p.is_file()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_an_empty_existing_folder_is_used(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    with Staging(out) as st:
        _summary(st.path)
        st.commit()
    assert (out / "summary.json").is_file()


def test_an_output_that_appears_meanwhile_is_not_overwritten(tmp_path):
    """Nor said to have been there (an instructor's review: a streamed run
    whose --out another run wrote while it computed ended with "already
    exists and is not empty; pass --force", as if the user had named a full
    folder; it was empty at the start, or the run would have stopped then)."""
    out = tmp_path / "out"
    with Staging(out) as st:
        out.mkdir()
        (out / "theirs.txt").write_text("")
        with pytest.raises(ConvcliError, match=r"^--out .*: was filled while convcli computed \(another run "
                                               r"writing there\?\); kept it, and not this run's results: pass "
                                               r"--force to replace it, or give another --out$"):
            st.commit()
    assert sorted(p.name for p in out.iterdir()) == ["theirs.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


@pytest.fixture
def umask():
    """Set the process's umask for a test, and put the old one back."""
    old = os.umask(0o022)
    yield lambda mask: os.umask(mask)
    os.umask(old)


@pytest.mark.parametrize("mask, mode", [(0o022, 0o755), (0o027, 0o750), (0o002, 0o775)])
def test_the_output_folder_gets_the_mode_a_mkdir_would_give(tmp_path, umask, mask, mode):
    """Not mkdtemp's 0700: ``0o777 & ~umask``, for a new folder and a replaced one."""
    umask(mask)
    out = tmp_path / "out"
    for force in (False, True):
        with Staging(out, force=force) as st:
            _summary(st.path)
            st.commit()
        assert stat.S_IMODE(out.stat().st_mode) == mode, (force, oct(out.stat().st_mode))



def test_the_output_folder_keeps_a_setgid_parent_s_bit_and_never_reads_the_umask(tmp_path, umask, monkeypatch):
    """A shared folder (2775) passes its group on: a mkdir there gives 2755
    under umask 022, so the outputs must too. The umask is the kernel's to
    apply; reading it means setting it, which races with other threads."""
    umask(0o022)
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o2775)

    def no_umask(mask):
        raise AssertionError("os.umask called")

    monkeypatch.setattr(os, "umask", no_umask)
    out = shared / "out"
    for force in (False, True):
        with Staging(out, force=force) as st:
            _summary(st.path)
            st.commit()
        mode = out.stat().st_mode
        assert stat.S_IMODE(mode) == 0o2755, (force, oct(mode))


OLD = '{"convcli": "0.0.9", "quantities": {}}'


def convcli_folder(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "summary.json").write_text(OLD)
    return out


def test_a_replace_that_fails_at_once_leaves_no_stray_folder(tmp_path, monkeypatch):
    """The first rename (the old outputs aside) fails: nothing beside OUT is left."""
    out = convcli_folder(tmp_path)

    def refuse(src, dst):
        raise OSError(16, "Device or resource busy")

    with Staging(out, force=True) as st:
        _summary(st.path)
        monkeypatch.setattr("convcli.outputs.os.replace", refuse)
        with pytest.raises(ConvcliError, match="cannot move the results into place: Device or resource busy"):
            st.commit()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert (out / "summary.json").read_text() == OLD


def replace_raising(monkeypatch, raises: dict, after: bool = False) -> list:
    """os.replace as convcli.outputs sees it, raising ``raises[n]`` at its
    n-th call, instead of renaming (or, with ``after``, once it has);
    returns the list of calls it saw."""
    real = os.replace
    calls = []

    def replace(src, dst):
        calls.append((src, dst))
        exc = raises.get(len(calls))
        if exc is not None and not after:
            raise exc
        real(src, dst)
        if exc is not None:
            raise exc

    monkeypatch.setattr("convcli.outputs.os.replace", replace)
    return calls


def second_replace_raises(monkeypatch, exc):
    """Raising ``exc`` at the second rename (moving the new outputs in)."""
    return replace_raising(monkeypatch, {2: exc})


def test_a_replace_that_fails_halfway_puts_the_old_outputs_back(tmp_path, monkeypatch):
    """The old outputs are moved aside, the new ones cannot be moved in: the
    old ones go back, and nothing is left beside OUT."""
    out = convcli_folder(tmp_path)
    with Staging(out, force=True) as st:
        _summary(st.path)
        calls = second_replace_raises(monkeypatch, OSError(18, "Invalid cross-device link"))
        with pytest.raises(ConvcliError, match="Invalid cross-device link"):
            st.commit()
    assert len(calls) == 4  # aside, in (fails), back, the empty folder renamed for deletion
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert (out / "summary.json").read_text() == OLD


def test_ctrl_c_between_the_two_renames_puts_the_old_outputs_back(tmp_path, monkeypatch):
    """Ctrl-C after the old outputs are moved aside, before the new ones are
    in: the old ones go back (they were deleted), and Ctrl-C goes on."""
    out = convcli_folder(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        with Staging(out, force=True) as st:
            _summary(st.path)
            calls = second_replace_raises(monkeypatch, KeyboardInterrupt())
            st.commit()
    assert len(calls) == 4  # aside, in (interrupted), back, the empty folder renamed for deletion
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert (out / "summary.json").read_text() == OLD


def _commit_stopped(out: Path) -> None:
    """Commit a --force run whose stop signal the test arranged: the signal
    goes on, and the outputs count as in place."""
    with pytest.raises(KeyboardInterrupt):
        with Staging(out, force=True) as st:
            _summary(st.path)
            try:
                st.commit()
            finally:
                assert st.committed


def test_ctrl_c_between_the_renames_when_the_old_outputs_cannot_go_back(tmp_path, monkeypatch, capsys):
    """They are never deleted, and the signal carries where they are, for
    the stop line (this used BaseException.add_note, which Python 3.10 lacks)."""
    out = convcli_folder(tmp_path)
    replace_raising(monkeypatch, {2: KeyboardInterrupt(), 3: OSError(16, "Device or resource busy")})
    with pytest.raises(KeyboardInterrupt) as info:
        with Staging(out, force=True) as st:
            _summary(st.path)
            st.commit()
    aside = next(p for p in tmp_path.iterdir() if p.name.startswith(".out.old-")) / "x"
    assert (aside / "summary.json").read_text() == OLD
    from convcli.outputs import KEPT_NOTE

    assert (aside.parent / KEPT_NOTE).is_file()  # so that no later run takes them for leftovers
    from convcli.outputs import short_path

    assert info.value.__notes__ == [f"the previous outputs are in {short_path(aside)}"]
    from convcli import cli

    monkeypatch.setattr(cli, "_committed", {})
    assert cli._stopped(info.value).exit_code == 130
    assert capsys.readouterr().err == (f"convcli: interrupted; nothing was written; "
                                       f"the previous outputs are in {short_path(aside)}\n")


def test_ctrl_c_while_the_old_outputs_are_deleted(tmp_path, monkeypatch):
    """A stop signal while --force deletes the outputs it replaced, the new
    ones in place (a review: the old ones were left half deleted beside OUT
    for good, and the run said nothing was written): the deletion goes on to
    the end, the signal goes on, and the staging says it committed."""
    import shutil

    out = convcli_folder(tmp_path)
    (out / "big.npy").write_bytes(b"x" * 1000)
    _summary(out, {"big": "big.npy"})  # the old outputs, convcli's
    real, calls = shutil.rmtree, []

    def rmtree(path, *args, **kwargs):
        calls.append(path)
        if len(calls) == 1:  # the signal arrives at the first file
            os.remove(Path(path) / "x" / "big.npy")
            raise KeyboardInterrupt
        real(path, *args, **kwargs)

    monkeypatch.setattr("convcli.outputs.shutil.rmtree", rmtree)
    _commit_stopped(out)
    assert len(calls) == 2 and calls[0] == calls[1] and Path(calls[0]).name.startswith(".out.del-")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert json.loads((out / "summary.json").read_text())["quantities"] == {}  # the new one


def test_a_stop_signal_after_the_last_rename_counts_as_committed(tmp_path, monkeypatch):
    out = convcli_folder(tmp_path)
    calls = replace_raising(monkeypatch, {2: KeyboardInterrupt()}, after=True)  # done, then the signal
    _commit_stopped(out)
    assert len(calls) == 3  # not put back: the old ones renamed for deletion
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert (out / "summary.json").read_text() != OLD


@pytest.mark.parametrize("out", [".", "..", "sub/..", "./"])
def test_the_current_folder_is_never_an_output_folder(tmp_path, monkeypatch, out):
    """Renaming a folder onto the one the user is in cannot work; it is refused up front."""
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub" if out in ("..",) else tmp_path)
    with pytest.raises(ConvcliError, match="is the current folder or holds it"):
        Staging(Path(out), force=True).__enter__()


def test_a_symlinked_output_folder_is_written_through_the_link(tmp_path):
    """--out LINK replaces the folder the link names and keeps the link:
    replacing the link itself left the old outputs where it pointed."""
    real = tmp_path / "runs" / "r1"
    real.mkdir(parents=True)
    _summary(real, {"old": "old.npy"})
    (real / "old.npy").write_text("")
    link = tmp_path / "latest"
    link.symlink_to(Path("runs") / "r1")
    with Staging(link, force=True) as st:
        _summary(st.path)
        st.commit()
    assert link.is_symlink() and os.readlink(link) == os.path.join("runs", "r1")
    assert sorted(p.name for p in real.iterdir()) == ["summary.json"]
    assert sorted(p.name for p in real.parent.iterdir()) == ["r1"]  # no staging or old- folder left
    # To an empty folder (no --force needed): the rename used to fail with "Not a directory".
    empty = tmp_path / "empty"
    empty.mkdir()
    (tmp_path / "to-empty").symlink_to(empty)
    with Staging(tmp_path / "to-empty") as st:
        _summary(st.path)
        st.commit()
    assert (tmp_path / "to-empty").is_symlink() and sorted(p.name for p in empty.iterdir()) == ["summary.json"]
    # A link that leads nowhere: said so, nothing made.
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(ConvcliError, match="is a symlink to .*nowhere, which is not there"):
        Staging(tmp_path / "dangling").__enter__()
    (tmp_path / "loop").symlink_to("loop")
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(ConvcliError, match="is a symlink that loops back on itself; choose another --out"):
        Staging(tmp_path / "loop", force=True).__enter__()
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    # (a review) such a link on the way to OUT: said so, and nothing made where it points (--out dangling/x
    # made the link's target, nowhere/x; --out loop/x failed with mkdir's 'File exists')
    for link, said in (("dangling", "is a symlink to .*nowhere, which is not there"),
                       ("loop", "is a symlink that loops back on itself")):
        with pytest.raises(ConvcliError, match=f"{link}, on the way, {said}$"):
            Staging(tmp_path / link / "a" / "x").__enter__()
        assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_dot_dot_after_a_symlink_is_the_folder_the_kernel_finds(tmp_path, monkeypatch):
    """The review's repro: in work/, --out plots/.. --force with plots a link
    into a convcli folder. The kernel takes plots/.. to be that folder (the
    link target's parent), so that is the folder checked and replaced; taken
    by name it was work/ itself, which was wiped."""
    res = tmp_path / "other" / "res"
    (res / "plots").mkdir(parents=True)
    (res / "plots" / "Z.png").write_bytes(b"png")
    _summary(res, {"Z": "Z.npy"})
    doc = json.loads((res / "summary.json").read_text())
    doc["quantities"]["Z"]["plot"] = "plots/Z.png"
    (res / "summary.json").write_text(json.dumps(doc))
    (res / "Z.npy").write_text("")
    work = tmp_path / "work"
    work.mkdir()
    (work / "notes.txt").write_text("mine")
    (work / "plots").symlink_to(Path("..") / "other" / "res" / "plots")
    monkeypatch.chdir(work)
    with Staging(Path("plots/.."), force=True) as st:
        _summary(st.path)
        st.commit()
    assert sorted(p.name for p in work.iterdir()) == ["notes.txt", "plots"]
    assert sorted(p.name for p in res.iterdir()) == ["summary.json"]


def test_an_output_name_as_long_as_the_system_allows_works(tmp_path):
    """The hidden folders beside OUT repeat its name: for a 250-byte name
    (mkdir takes up to 255) they keep a prefix and a hash, not the whole."""
    out = tmp_path / ("o" * 250)
    for force in (False, True):  # the second replaces the first, through the ".old-" folder
        with Staging(out, force=force) as st:
            assert len(st.path.name) < 255
            _summary(st.path, {"a": "a.npy"})
            (st.path / "a.npy").write_text("")
            st.commit()
    assert sorted(p.name for p in out.iterdir()) == ["a.npy", "summary.json"]
    assert [p.name for p in tmp_path.iterdir()] == [out.name]


class _Raw:
    """A raw file whose reads return at most ``step`` bytes, and whose seek
    and tell fail as told."""

    def __init__(self, data: bytes, step: int, fail=None):
        self.data, self.step, self.fail, self.pos = data, step, fail, 0

    def seek(self, offset, whence=0):
        if self.fail:
            raise self.fail
        self.pos = offset
        return offset

    def tell(self):
        if self.fail:
            raise self.fail
        return self.pos

    def read(self, size):
        part = self.data[self.pos:self.pos + min(size, self.step)]
        self.pos += len(part)
        return part


def test_a_sink_keeps_the_first_seek_or_tell_error_from_hdf5():
    """lseek's EINVAL (an offset past the file system's largest file) is kept
    like a failed write, not raised into HDF5; later writes are dropped."""
    first = OSError(22, "Invalid argument")
    sink = _Sink(_Raw(b"", 1, fail=first))
    assert sink.seek(1 << 44) == 1 << 44
    assert sink.error is first
    sink.raw.fail = OSError(5, "Input/output error")
    sink.tell()
    sink.seek(0)
    assert sink.error is first
    assert sink.write(b"abc") == 3


def test_a_sink_reads_on_after_a_short_read_and_pads_only_past_the_end():
    sink = _Sink(_Raw(b"abcdefg", 3))
    assert sink.read(5) == b"abcde"  # 3 + 2 bytes, not "abc" and two zeros
    assert sink.read(5) == b"fg\0\0\0"  # the end of the file: zeros, as HDF5's own driver
    assert sink.error is None


@pytest.mark.skipif(sys.platform == "win32", reason="needs flock")
def test_a_killed_run_s_staging_folder_is_removed_by_the_next_run(tmp_path):
    """SIGKILL (the out-of-memory killer) gives a run no chance to remove its
    staging folder (the review found 627 MB of them, hidden, never removed).
    The next run to the same OUT removes those nobody holds the lock of (the
    kernel releases a killed run's), and leaves alone a live run's (locked,
    whatever PID namespace it runs in: a pid test deleted one under unshare),
    a young one (its run may not have locked it yet), another host's and
    another OUT's."""
    from convcli.outputs import STALE_AFTER_S, _lock, _staging_prefix

    prefix = _staging_prefix("out")
    stale = tmp_path / f"{prefix}4242-0badf00d"
    live = tmp_path / f"{prefix}4243-0badf00d"
    young = tmp_path / f"{prefix}4244-0badf00d"
    other_host = tmp_path / ".out.tmp-zzzzzz-4242-0badf00d"
    other_out = tmp_path / f"{_staging_prefix('other')}4242-0badf00d"
    # the staging folder of an OUT named like this one's staging: not this OUT's
    lookalike = tmp_path / f"{prefix}4242-0badf00d.tmp-{prefix.split('-')[1]}-4242-0badf00d"
    old = time.time() - STALE_AFTER_S - 5
    for folder in (stale, live, young, other_host, other_out, lookalike):
        folder.mkdir()
        (folder / "conv1.Z.npy").write_bytes(b"x" * 100)
        if folder is not young:
            os.utime(folder, (old, old))
    held = _lock(live)  # as the live run holds it
    assert held is not None
    try:
        with Staging(tmp_path / "out") as st:
            _summary(st.path)
            st.commit()
    finally:
        os.close(held)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["out", live.name, young.name, other_host.name, other_out.name, lookalike.name])


def test_replaced_outputs_left_by_a_killed_run_are_removed_and_nothing_else(tmp_path):
    """A --force run renames the outputs it replaced to .OUT.del-XXXXXXXX
    once the new ones are in place, then deletes them; killed meanwhile, it
    leaves them to the next run. .OUT.old- folders are never removed by
    another run: they may hold the old outputs' only copy (a run killed
    between its two renames), outputs commit() said it kept, or be a user's
    own (a review found the first version removed them all)."""
    from convcli.outputs import STALE_AFTER_S, _remove_stale

    def folder(name, files, age=STALE_AFTER_S + 5):
        f = tmp_path / name
        for rel, data in files.items():
            (f / rel).parent.mkdir(parents=True, exist_ok=True)
            (f / rel).write_text(data)
        f.mkdir(exist_ok=True)
        t = time.time() - age
        os.utime(f, (t, t))
        return f

    x = {"x/summary.json": json.dumps({"convcli": "0.1.0", "quantities": {}}), "x/Z.npy": "z"}
    dead = folder(".out.del-k3_9ab2x", x)
    emptied = folder(".out.del-zzzzzzzz", {})
    young = folder(".out.del-qqqqqqqq", x, age=0)
    other = folder(".other.del-k3_9ab2x", x)
    only_copy = folder(".out.old-k3_9ab2x", x)
    users = folder(".out.old-20240612", {"notes.txt": "mine"})
    (tmp_path / "out").mkdir()
    _remove_stale(tmp_path, "out")
    assert not dead.exists() and not emptied.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["out", young.name, other.name, only_copy.name, users.name])



def test_a_staging_folder_that_vanished_is_no_commit(tmp_path):
    """Removed under the run (a tmp cleaner): the rename fails, and the old
    outputs go back; the first version took the missing folder for one
    already renamed into place, and deleted the old outputs."""
    import shutil

    out = convcli_folder(tmp_path)
    with pytest.raises(ConvcliError, match="cannot move the results into place"):
        with Staging(out, force=True) as st:
            _summary(st.path)
            shutil.rmtree(st.path)
            try:
                st.commit()
            finally:
                assert not st.committed
    assert (out / "summary.json").read_text() == OLD
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_second_signal_never_costs_the_old_outputs(tmp_path, monkeypatch):
    """A review's two ways to lose the only copy of the old outputs: a second
    Ctrl-C while commit() checked whether the new ones were in place, and
    one while it wrote the note beside outputs it could not put back."""
    from pathlib import Path as P

    from convcli.outputs import KEPT_NOTE

    # 1: the second signal while commit() looks at OUT after the first
    (tmp_path / "one").mkdir()
    out = convcli_folder(tmp_path / "one")
    replace_raising(monkeypatch, {2: KeyboardInterrupt()})
    real_stat, stops = os.stat, []

    def stat(path, *a, **k):
        if Path(path) == out and not stops:
            stops.append(path)
            raise KeyboardInterrupt
        return real_stat(path, *a, **k)

    monkeypatch.setattr("convcli.outputs.os.stat", stat)
    with pytest.raises(KeyboardInterrupt):
        with Staging(out, force=True) as st:
            _summary(st.path)
            st.commit()
    monkeypatch.undo()
    assert stops
    kept = [p for p in (tmp_path / "one").iterdir() if (p / "x" / "summary.json").is_file()] + \
        ([out] if (out / "summary.json").is_file() else [])
    assert [(p / "summary.json" if p == out else p / "x" / "summary.json").read_text() for p in kept] == [OLD]

    # 2: the second signal while the note is written
    (tmp_path / "two").mkdir()
    out = convcli_folder(tmp_path / "two")
    replace_raising(monkeypatch, {2: KeyboardInterrupt(), 3: OSError(39, "Directory not empty")})
    real_write = P.write_text

    def write_text(self, *a, **k):
        if self.name == KEPT_NOTE:
            raise KeyboardInterrupt
        return real_write(self, *a, **k)

    monkeypatch.setattr(P, "write_text", write_text)
    with pytest.raises(KeyboardInterrupt):
        with Staging(out, force=True) as st:
            _summary(st.path)
            st.commit()
    monkeypatch.undo()
    aside = [p for p in (tmp_path / "two").iterdir() if p.name.startswith(".out.old-")]
    assert len(aside) == 1 and (aside[0] / "x" / "summary.json").read_text() == OLD


def test_the_outputs_are_on_disk_before_they_are_renamed_into_place(tmp_path, monkeypatch):
    """A review: no fsync anywhere, so after a crash or a power cut soon
    after a run, a committed OUT could hold empty or short files (and with
    --force the old outputs were gone). Every file and folder is synced
    before the rename, and the folder holding OUT after it."""
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}") if os.path.exists("/proc/self/fd") else fd))
        return real_fsync(fd)

    def replace(src, dst):
        events.append(("replace", str(dst)))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    out = tmp_path / "out"
    with Staging(out) as staging:
        write_arrays(staging.path, {"A": np.ones((2, 3)), "B": np.zeros(4)}, "npy")
        _summary(staging.path)
        staging.commit()
    staging_name = staging.path.name
    k = events.index(("replace", str(out)))
    synced = [e[1] for e in events[:k] if e[0] == "fsync"]
    if os.path.exists("/proc/self/fd"):
        assert {Path(s).name for s in synced} >= {"A.npy", "B.npy", "summary.json", staging_name}
        assert ("fsync", str(tmp_path)) in events[k:]
    else:
        assert len(synced) >= 4


def _after_commits_look(monkeypatch, then) -> None:
    """Run ``then`` (another program writing) right after commit's check_out
    (the second look: the first is at __enter__), before its rename."""
    import convcli.outputs as outputs

    real, calls = outputs.check_out, []

    def look(*args, **kwargs):
        real(*args, **kwargs)
        calls.append(1)
        if len(calls) == 2:
            then()

    monkeypatch.setattr(outputs, "check_out", look)


def test_a_run_that_fills_out_after_the_commit_looked_is_never_replaced(tmp_path, monkeypatch):
    """A review: two runs into one --out, no --force, both exited 0 and one
    replaced the other: the other had filled OUT between commit's look
    (check_out) and its rename, and the rename replaced any folder that was
    not empty. Without --force the rename now goes onto nothing or an empty
    folder only; the kernel refuses a folder with files in it."""
    import convcli.outputs as outputs

    out = tmp_path / "out"

    def other_run_commits_meanwhile():
        out.mkdir()
        _summary(out)  # convcli's own outputs, another run's
        (out / "A.npy").write_bytes(b"theirs")

    _after_commits_look(monkeypatch, other_run_commits_meanwhile)
    with Staging(out) as st:
        write_arrays(st.path, {"A": np.ones(3)}, "npy")
        _summary(st.path, {"A": "A.npy"})
        with pytest.raises(ConvcliError, match=r"^--out .*: was filled while convcli computed \(another run writing "
                                               r"there\?\); kept it, and not this run's results: pass --force"):
            st.commit()
    assert (out / "A.npy").read_bytes() == b"theirs"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no staging folder left


def test_with_force_a_folder_filled_after_the_look_is_replaced(tmp_path, monkeypatch):
    """A review of the race fix: with --force, a folder that another run
    filled after the commit's look was refused with "pass --force". It is
    replaced, as --force says."""
    import convcli.outputs as outputs

    out = tmp_path / "out"
    out.mkdir()  # empty at the look
    _after_commits_look(monkeypatch, lambda: _summary(out))
    with Staging(out, force=True) as st:
        write_arrays(st.path, {"A": np.ones(3)}, "npy")
        _summary(st.path, {"A": "A.npy"})
        st.commit()
    assert sorted(p.name for p in out.iterdir()) == ["A.npy", "summary.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_with_force_a_folder_someone_else_fills_meanwhile_is_kept(tmp_path, monkeypatch):
    """A review of the --force race: a folder another program filled after
    the commit's look (a thesis.tex, no summary.json) was deleted, the
    'convcli did not write it' guard skipped. It is looked at again."""
    import convcli.outputs as outputs

    out = tmp_path / "out"
    out.mkdir()
    _after_commits_look(monkeypatch, lambda: (out / "thesis.tex").write_text("mine"))
    with Staging(out, force=True) as st:
        _summary(st.path)
        with pytest.raises(ConvcliError, match="refusing to replace a folder that convcli did not write"):
            st.commit()
    assert (out / "thesis.tex").read_text() == "mine"


def test_the_largest_entry_is_numpy_s_argmax_of_magnitudes_in_any_pieces(monkeypatch):
    """expected.yaml's element largest in magnitude, found a piece at a time
    (no array-sized |a| beside the array): numpy's own np.argmax(np.abs(a))
    over the whole, the first of equals (here -3 at [0, 1] before 3 at
    [1, 0]); none for NaN, an infinity or a single element."""
    import convcli.outputs as outputs_module

    a = np.array([[1.0, -3.0, 2.0], [3.0, 0.5, -1.0]])
    for piece in (1, 2, 4, 1 << 20):
        monkeypatch.setattr(outputs_module, "LARGEST_PIECE", piece)
        assert outputs_module._largest_entry("Q", a) == ["  Q[0, 1]: -3.0"]
        b = np.random.default_rng(piece).standard_normal((3, 5, 4))
        at = np.unravel_index(int(np.argmax(np.abs(b))), b.shape)
        assert outputs_module._largest_entry("Q", b) == [f"  Q[{', '.join(map(str, at))}]: {float(b[at])!r}"]
    assert outputs_module._largest_entry("Q", np.array([1.0, np.nan])) == []
    assert outputs_module._largest_entry("Q", np.array([[2.0]])) == []


def test_a_folder_that_cannot_be_made_for_out_names_where_it_was_to_be_made(tmp_path, monkeypatch):
    """A review: --out ro/a/b/o on a read-only ro said 'cannot write in
    ro/a/b' (a folder that does not exist), not ro, where making a failed.
    (The read-only file system stood in for by mkdir failing as it would.)"""
    import errno
    import pathlib

    real = pathlib.Path.mkdir

    def mkdir(self, *a, **kw):
        if self.parent == tmp_path / "ro":
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(self))
        return real(self, *a, **kw)

    (tmp_path / "ro").mkdir()
    monkeypatch.setattr(pathlib.Path, "mkdir", mkdir)
    with pytest.raises(ConvcliError) as info:
        Staging(tmp_path / "ro" / "a" / "b" / "o").__enter__()
    assert str(info.value).endswith(f"cannot write in {tmp_path / 'ro'}: Read-only file system"), info.value
    assert [p.name for p in tmp_path.iterdir()] == ["ro"] and not any((tmp_path / "ro").iterdir())


def test_expected_yaml_numbers_read_as_floats_in_yaml_1_1_too(tmp_path):
    """A review: repr's 3e-05 and 1e+16 (no point) are strings to PyYAML,
    which follows YAML 1.1; expected.yaml writes 3.0e-05, a float to both."""
    import yaml

    from test_cli_helpers import run, write

    cfg = write(tmp_path, "inputs:\n  A_prev: {value: [[[[1.0e-5, 2.0e-5], [3.0e-5, -1.0e+16]]]]}\n"
                          "layers:\n  - {type: relu, name: r1}\n", "tiny.yaml")
    assert run(["forward", cfg, "--out", tmp_path / "o"]).exit_code == 0
    text = (tmp_path / "o" / "expected.yaml").read_text()
    entries = yaml.safe_load(text)["expected"]
    numbers = {k: v for k, v in entries.items() if not k.endswith(".shape")}
    assert numbers and all(isinstance(v, float) for v in numbers.values()), numbers
    assert entries["r1.A.max"] == 3e-05 and "r1.A.max: 3.0e-05" in text
    assert run(["check", cfg, "--expected", tmp_path / "o" / "expected.yaml"]).exit_code == 0
