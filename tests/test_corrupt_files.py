"""Corrupt array files are the user's error (exit 2), never convcli's (exit 3).

A seeded fuzz: valid .npy, .npz (stored and compressed) and .h5 files with
bytes flipped or the file cut short, each given both as a config input and
as ``check --against``. The fuzz that wrote this test found exit 3 from
HDF5's RuntimeError/KeyError on a corrupt object header or B-tree, from
zipfile's NotImplementedError on a corrupt zip header, from zlib.error, and
from an unknown .npy format version."""

from __future__ import annotations

import os
import random
import re

import h5py
import numpy as np
import pytest

from test_cli_helpers import assert_error, run, write

KINDS = ("npy", "npz", "npzc", "h5")


def _good(tmp_path, kind: str):
    rng = np.random.default_rng(0)
    Z, dW = rng.random((2, 4, 4, 4)), rng.random((2, 2, 3, 4))
    path = tmp_path / f"good.{kind.rstrip('c')}"
    if kind == "npy":
        np.save(path, Z)
    elif kind == "npz":
        np.savez(path, Z=Z, dW=dW)
    elif kind == "npzc":
        np.savez_compressed(path, Z=Z, dW=dW)
    else:
        with h5py.File(path, "w") as f:
            f["conv1/Z"], f["conv1/dW"] = Z, dW
    return path.read_bytes()


@pytest.mark.parametrize("kind", KINDS)
def test_a_corrupt_file_is_exit_2_or_graded_never_a_bug(tmp_path, kind):
    cfg = write(tmp_path, "seed: 1\ninputs:\n  A_prev: {random: [2, 5, 5, 3]}\n  W: {random: [2, 2, 3, 4]}\n"
                          "  b: {random: [4]}\nlayers:\n  - {type: conv, W: W, b: b}\n")
    good = _good(tmp_path, kind)
    ext = ".npy" if kind == "npy" else ".npz" if kind.startswith("npz") else ".h5"
    key = {".npy": "", ".npz": ", key: Z", ".h5": ", dataset: conv1/Z"}[ext]
    R = random.Random(kind)
    outcomes = set()
    for i in range(40):
        raw = bytearray(good)
        if R.random() < 0.3:
            raw = raw[:R.randrange(len(raw))]
        else:
            for _ in range(R.randrange(1, 40)):
                raw[R.randrange(len(raw))] = R.randrange(256)
        sub = tmp_path / f"s{i}"
        sub.mkdir()
        name = sub / (f"conv1.Z{ext}" if ext == ".npy" else f"sub{ext}")
        name.write_bytes(bytes(raw))
        graded = run(["check", cfg, "--against", sub if ext == ".npy" else name, "--json"])
        (sub / "c.yaml").write_text(f"inputs:\n  A_prev: {{file: {name.name}{key}}}\nlayers:\n  - {{type: relu}}\n")
        used = run(["forward", sub / "c.yaml", "--out", sub / "out"])
        for result in (graded, used):
            assert result.exit_code in (0, 1, 2), (i, result.exit_code, result.stderr)
            assert "internal error" not in result.stderr, (i, result.stderr)
            if result.exit_code == 2:
                assert result.stderr.startswith("convcli: error: ") and result.stderr.count("\n") == 1
            outcomes.add(result.exit_code)
    assert 2 in outcomes  # not vacuous: corruption was met and refused


@pytest.mark.parametrize("kind", ["npz", "h5"])
@pytest.mark.parametrize("cut", ["truncated", "not an archive"])
def test_a_corrupt_submission_under_complete_is_graded_every_quantity_missing(tmp_path, kind, cut):
    """An instructor's grading loop: a student's .npz or .h5 that cannot be
    opened at all was exit 2 even under --complete, the code of a broken
    config. Grading a whole submission, it is every quantity missing (exit 1)
    with the reason listed; without --complete it stays a usage error."""
    import json

    cfg = write(tmp_path, "seed: 1\ninputs:\n  A_prev: {random: [2, 5, 5, 3]}\n  W: {random: [2, 2, 3, 4]}\n"
                          "  b: {random: [4]}\nlayers:\n  - {type: conv, W: W, b: b}\nbackward: {grad: ones}\n")
    good = _good(tmp_path, kind)
    sub = tmp_path / f"sub.{kind}"
    sub.write_bytes(good[: len(good) // 2] if cut == "truncated" else b"hello, not an array")
    result = run(["check", cfg, "--against", sub, "--complete", "--json"])
    assert result.exit_code == 1, result.stderr
    doc = json.loads(result.stdout)
    assert doc["ok"] is False
    assert sorted(a["quantity"] for a in doc["against"]) == ["conv1.Z", "conv1.dA_prev", "conv1.dW", "conv1.db"]
    assert {a["status"] for a in doc["against"]} == {"missing"}
    (why,) = doc["unknown"]
    assert why["entry"] == sub.name
    assert ("not a readable .npz" if kind == "npz" else "cannot be opened as HDF5") in why["note"]
    result = run(["check", cfg, "--against", sub])
    assert result.exit_code == 2 and result.stderr.startswith(f"convcli: error: --against {sub}")


@pytest.mark.parametrize("name, kind", [("hw3.tar.gz", ".tar.gz"), ("hw3.TGZ", ".tgz"), ("hw3.rar", ".rar")])
def test_an_archive_convcli_does_not_read_is_said_and_graded_missing_under_complete(tmp_path, name, kind):
    """An instructor's review: a student's .tar.gz was exit 2 under
    --complete (the grader's usage error, mid-loop), where a corrupt .zip
    is every quantity missing with its reason listed (exit 1); and the
    message did not say the archive is not read. A file of another kind
    (notes.txt) stays a usage error."""
    import json

    cfg = write(tmp_path, "seed: 1\ninputs:\n  A_prev: {random: [2, 5, 5, 3]}\n  W: {random: [2, 2, 3, 4]}\n"
                          "  b: {random: [4]}\nlayers:\n  - {type: conv, W: W, b: b}\nbackward: {grad: ones}\n")
    sub = tmp_path / name
    sub.write_bytes(b"\x1f\x8b not unpacked")
    said = f"{name} is a {kind} archive, which convcli does not read: unpack it and give its folder; expected a folder"
    result = run(["check", cfg, "--against", sub])
    assert result.exit_code == 2 and said in result.stderr and result.stderr.count("\n") == 1, result.stderr
    result = run(["check", cfg, "--against", sub, "--complete", "--json"])
    doc = json.loads(result.stdout)
    assert result.exit_code == 1 and {a["status"] for a in doc["against"]} == {"missing"}, result.stdout
    (why,) = doc["unknown"]
    assert why["entry"] == name and why["note"].startswith(f"a {kind} archive, which convcli does not read"), why
    (tmp_path / "notes.txt").write_text("x")
    assert run(["check", cfg, "--against", tmp_path / "notes.txt", "--complete"]).exit_code == 2


def test_a_file_compressed_alone_is_told_to_decompress_and_an_npz_named_tar_is_no_archive(tmp_path):
    """A review: conv1.Z.npy.gz was told to unpack it and give its folder
    (gunzip gives a file); an .npz named results.tar was called a .tar
    archive (its first bytes say a zip)."""
    cfg = write(tmp_path, "seed: 1\ninputs:\n  A_prev: {random: [2, 5, 5, 3]}\nlayers:\n  - {type: relu}\n")
    gz = tmp_path / "conv1.Z.npy.gz"
    gz.write_bytes(b"\x1f\x8b not decompressed")
    result = run(["check", cfg, "--against", gz])
    assert result.exit_code == 2 and "conv1.Z.npy.gz is a .gz file, which convcli does not read: decompress it " \
        "(gunzip) and give the file" in result.stderr, result.stderr
    np.savez(tmp_path / "results.npz", Z=np.ones(2))
    (tmp_path / "results.npz").rename(tmp_path / "results.tar")
    result = run(["check", cfg, "--against", tmp_path / "results.tar"])
    assert result.exit_code == 2 and "archive" not in result.stderr and result.stderr.rstrip().endswith(
        "results.tar is an .npz file by its contents: rename it to end in .npz"), result.stderr
    # under --complete, the student's submission, as any archive's name (a later review: exit 2 mid-loop)
    assert run(["check", cfg, "--against", tmp_path / "results.tar", "--complete"]).exit_code == 1


def test_named_pipes_in_a_folder_are_never_opened(tmp_path):
    """A review: a named pipe named as an archive (hw.tar.gz) or as a
    resource fork (._conv1.Z.npy) in a folder given to --against was opened
    to read its first bytes, which blocks for ever."""
    import threading

    from convcli import check as check_module

    (tmp_path / "sub").mkdir()
    os.mkfifo(tmp_path / "sub" / "hw.tar.gz")
    os.mkfifo(tmp_path / "._conv1.Z.npy")
    got = {}
    worker = threading.Thread(target=lambda: got.update(
        archives=check_module._archives_inside(tmp_path), fork=check_module._resource_fork(tmp_path / "._conv1.Z.npy"),
        kind=check_module._archive_kind(tmp_path / "sub" / "hw.tar.gz")), daemon=True)
    worker.start()
    worker.join(20)
    assert not worker.is_alive(), "blocked on a named pipe"
    assert got == {"archives": [], "fork": False, "kind": ".tar.gz"}, got


def test_an_npz_is_opened_by_its_directory_not_by_inflating_every_member(tmp_path):
    """A robustness review: a 3 MB .npz whose member inflates to 3 GB took 22 s
    in check --against, which inflated every member (zipfile's testzip) to
    learn what its header already says (a shape that is not the
    quantity's). The member's header is read, its data is not: a member
    whose data is corrupt past its header grades by its shape; an
    encrypted member (a flag np.savez never sets) is unreadable, said in
    one line, and fails itself (exit 1), as any unreadable array of a
    submission does; as a config's input, it is one line, exit 2."""
    import io
    import json
    import zipfile

    cfg = write(tmp_path, "seed: 1\ninputs:\n  A_prev: {random: [2, 5, 5, 3]}\n  W: {random: [2, 2, 3, 4]}\n"
                          "  b: {random: [4]}\nlayers:\n  - {type: conv, W: W, b: b}\n")
    buf = io.BytesIO()
    np.save(buf, np.zeros((2, 4, 4, 40)))  # conv1.Z is (2, 4, 4, 4)
    raw = bytearray(buf.getvalue())
    raw[-1] ^= 0xFF  # the data's last byte: its CRC no longer matches
    with zipfile.ZipFile(tmp_path / "sub.npz", "w", zipfile.ZIP_STORED) as z:
        z.writestr("Z.npy", bytes(raw))
    result = run(["check", cfg, "--against", tmp_path / "sub.npz", "--json"])
    assert result.exit_code == 1, result.stderr
    (z_,) = json.loads(result.stdout)["against"]
    assert z_["status"] == "fail" and z_["note"].startswith("shape (2, 4, 4, 40), expected (2, 4, 4, 4)")
    locked = bytearray((tmp_path / "sub.npz").read_bytes())
    central = locked.rfind(b"PK\x01\x02")
    locked[central + 8] |= 0x1  # the central directory's flag bits: encrypted
    (tmp_path / "locked.npz").write_bytes(bytes(locked))
    result = run(["check", cfg, "--against", tmp_path / "locked.npz", "--json"])
    assert result.exit_code == 1, result.stderr
    (z_,) = json.loads(result.stdout)["against"]
    assert z_["status"] == "unreadable"
    assert z_["note"].endswith("locked.npz[Z] is encrypted (a password-protected zip): zip it again without a password")
    as_input = write(tmp_path, "inputs: {A_prev: {file: locked.npz, key: Z}}\nlayers: [{type: relu}]\n", "in.yaml")
    result = run(["forward", as_input, "-o", tmp_path / "out"])
    from test_cli_helpers import assert_error

    assert_error(result, "inputs.A_prev", "locked.npz[Z] is encrypted")
    assert not (tmp_path / "out").exists()


def test_an_encrypted_member_of_a_zip_fails_itself_the_others_are_graded(tmp_path):
    """A review: one password-protected member made the whole upload exit 2,
    its right arrays ungraded. conv1.Z in the clear passes; conv1.dW, its
    central directory entry flagged encrypted (as zip -P writes it), is
    unreadable."""
    import json
    import zipfile

    cfg = write(tmp_path, "seed: 1\ninputs:\n  A_prev: {random: [2, 5, 5, 3]}\n  W: {random: [2, 2, 3, 4]}\n"
                          "  b: {random: [4]}\nlayers:\n  - {type: conv, W: W, b: b}\nbackward: {grad: ones}\n")
    assert run(["backward", cfg, "-o", tmp_path / "out"]).exit_code == 0
    with zipfile.ZipFile(tmp_path / "sub.zip", "w") as z:
        for name in ("conv1.Z.npy", "conv1.dW.npy"):
            z.write(tmp_path / "out" / name, name)
    raw = bytearray((tmp_path / "sub.zip").read_bytes())
    entry = raw.index(b"PK\x01\x02", raw.index(b"PK\x01\x02") + 1)  # the second member's, conv1.dW.npy
    assert raw[entry + 46:entry + 46 + 12] == b"conv1.dW.npy"
    raw[entry + 8] |= 0x1
    (tmp_path / "sub.zip").write_bytes(bytes(raw))
    result = run(["check", cfg, "--against", tmp_path / "sub.zip", "--json"])
    assert result.exit_code == 1, result.stderr
    by = {a["quantity"]: a for a in json.loads(result.stdout)["against"]}
    assert by["conv1.Z"]["status"] == "pass"
    assert by["conv1.dW"]["status"] == "unreadable"
    assert by["conv1.dW"]["note"].endswith("sub.zip[conv1.dW] is encrypted (a password-protected zip): zip it again "
                                           "without a password")


def test_a_pickled_array_with_a_npy_name_says_pickle_and_np_save(tmp_path):
    """An instructor's review: a student's pickle.dump(array) saved as
    conv1.Z.npy was "not a .npy file (no NumPy header); is it corrupt?".
    A pickle's first bytes (0x80 and its protocol, 2-5) say what it is; it
    is named and never loaded, as a config input and as a submission."""
    import json
    import pickle

    from test_cli_helpers import CONFIGS, assert_error

    for protocol in (2, 4, 5):
        with open(tmp_path / "A.npy", "wb") as f:
            pickle.dump(np.ones((1, 4, 4, 1)), f, protocol=protocol)
        cfg = write(tmp_path, "inputs: {A_prev: {file: A.npy}}\nlayers: [{type: relu}]\n")
        assert_error(run(["forward", cfg, "--out", tmp_path / "out"]),
                     "A.npy is a Python pickle (pickle.dump), not a .npy file: save the array with np.save "
                     "(a pickle is never loaded: loading one can run code)")
    sub = tmp_path / "sub"
    sub.mkdir()
    with open(sub / "conv1.db.npy", "wb") as f:
        pickle.dump(np.ones(4), f)
    (o,) = json.loads(run(["check", CONFIGS / "stack.yaml", "--against", sub, "--json"]).stdout)["against"]
    assert o["status"] == "unreadable" and "conv1.db.npy is a Python pickle (pickle.dump)" in o["note"], o


def test_a_npy_header_with_a_boolean_size_is_corrupt_not_a_bug(tmp_path):
    """A fuzz: a .npy header whose shape holds True passed NumPy's header
    check (True is an int to isinstance) and failed its reshape with a
    TypeError: exit 3, 'internal error', as a submission (folder, zip,
    --each-layer) and as a config input. It is a corrupt header: the array
    unreadable (exit 1 for a submission), exit 2 for an input."""
    import json
    import struct
    import zipfile

    from test_cli_helpers import assert_error

    h = b"{'descr': '<f8', 'fortran_order': False, 'shape': (True, 3, 3, 1), }"
    h += b" " * (16 - (10 + len(h) + 1) % 16) + b"\n"
    raw = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h + np.zeros(9).tobytes()
    cfg = write(tmp_path, "inputs: {A_prev: {random: [1, 3, 3, 1]}, W: {random: [1, 1, 1, 1]}, b: {random: [1]}}\n"
                          "layers: [{type: conv, W: W, b: b}]\n")
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "Z.npy").write_bytes(raw)
    with zipfile.ZipFile(tmp_path / "sub.zip", "w") as z:
        z.writestr("Z.npy", raw)
    said = "has a corrupt .npy header (shape (True, 3, 3, 1): its sizes must be whole numbers, none negative)"
    for against, extra in ((sub, []), (sub, ["--each-layer"]), (tmp_path / "sub.zip", [])):
        result = run(["check", cfg, "--against", against, "--json", *extra])
        assert result.exit_code == 1, result.output
        (o,) = json.loads(result.stdout)["against"]
        assert o["status"] == "unreadable" and said in o["note"], o
    bad = write(tmp_path, "inputs: {A_prev: {file: sub/Z.npy}}\nlayers: [{type: relu}]\n", "bad.yaml")
    assert_error(run(["forward", bad, "--out", tmp_path / "out"]), said)
    # a negative size too (a later review: the layer was blamed, 'broadcast shape must be non-negative')
    (sub / "Z.npy").write_bytes(raw.replace(b"(True, 3, 3, 1)", b"(  -1, 3, 3, 1)"))
    assert_error(run(["forward", bad, "--out", tmp_path / "out"]), "has a corrupt .npy header (shape (-1, 3, 3, "
                 "1): its sizes must be whole numbers, none negative)")


def test_a_name_a_zip_holds_twice_is_graded_as_its_last_copy_and_the_earlier_listed(tmp_path):
    """A review: Python's zipfile appends a second conv1.Z.npy (a student
    re-adding a fixed file) instead of replacing it, and the last was graded
    with nothing said of the first. It still is (what unzip leaves), and the
    earlier copy is listed as not graded."""
    import json
    import warnings
    import zipfile

    cfg = write(tmp_path, "seed: 1\ninputs:\n  A_prev: {random: [2, 5, 5, 3]}\n  W: {random: [2, 2, 3, 4]}\n"
                          "  b: {random: [4]}\nlayers:\n  - {type: conv, W: W, b: b}\n")
    assert run(["forward", cfg, "-o", tmp_path / "out"]).exit_code == 0
    right = np.load(tmp_path / "out" / "conv1.Z.npy")
    with warnings.catch_warnings(), zipfile.ZipFile(tmp_path / "sub.zip", "w") as z:
        warnings.simplefilter("ignore")  # zipfile's "Duplicate name"
        for a in (right * 2, right):  # the wrong one first, then the fix
            np.save(tmp_path / "x.npy", a)
            z.write(tmp_path / "x.npy", "conv1.Z.npy")
    result = run(["check", cfg, "--against", tmp_path / "sub.zip", "--json"])
    assert result.exit_code == 0, result.stdout
    report = json.loads(result.stdout)
    assert [a["status"] for a in report["against"]] == ["pass"]
    assert report["unknown"] == [{"entry": "conv1.Z.npy (an earlier copy)", "given": None, "differs": None, "misnamed": None,
                                  "note": "sub.zip holds conv1.Z.npy twice: the last written is graded, as "
                                          "unzip leaves it"}]


def test_an_input_npz_holding_a_name_twice_reads_its_last_copy(tmp_path):
    """A fuzzing review: an input .npz holding x.npy twice (Python's zipfile
    appends) was refused, "key 'x' is not in dup.npz; it holds: x.npy",
    where np.load reads its last copy. It is read as np.load reads it."""
    import warnings
    import zipfile

    with warnings.catch_warnings(), zipfile.ZipFile(tmp_path / "dup.npz", "w") as z:
        warnings.simplefilter("ignore")  # zipfile's "Duplicate name"
        for value in (1.0, 2.0):  # the stale copy first
            np.save(tmp_path / "x.npy", np.full((1, 3, 3, 2), value))
            z.write(tmp_path / "x.npy", "x.npy")
    assert np.load(tmp_path / "dup.npz")["x"][0, 0, 0, 0] == 2.0  # (np.load: the last copy)
    cfg = write(tmp_path, "inputs:\n  A_prev: {file: dup.npz, key: x}\nlayers:\n  - {type: relu}\n")
    result = run(["forward", cfg, "--out", tmp_path / "out"])
    assert result.exit_code == 0, result.output
    assert (np.load(tmp_path / "out" / "relu1.A.npy") == 2.0).all()


@pytest.mark.parametrize("dataset, says", [
    ("part", "x.h5[part] has 30 of its 40 chunks never written (a writer stopped before the end?), which HDF5 "
             "reads as its fill value (7.0); write them"),
    ("blank", "x.h5[blank] was never written: HDF5 reads every element as its fill value (0.0); write its data"),
])
@pytest.mark.parametrize("streamed", [False, True])
def test_an_h5_dataset_never_wholly_written_is_refused_not_read_as_fill_values(tmp_path, dataset, says, streamed):
    """A streaming review: a dataset of chunks of one sample, its writer
    stopped after 10 of 40 samples, ran with 30 samples of its fill value,
    exit 0, as a contiguous dataset never written reads as zeros. Refused,
    in memory and streamed; one written whole, chunks of fill values
    included, runs."""
    with h5py.File(tmp_path / "x.h5", "w") as f:
        part = f.create_dataset("part", (40, 4, 4, 3), "f4", chunks=(1, 4, 4, 3), fillvalue=7.0)
        part[:10] = 1.0
        f.create_dataset("blank", (40, 4, 4, 3), "f4")
        whole = f.create_dataset("whole", (40, 4, 4, 3), "f4", chunks=(8, 4, 4, 3), compression="gzip")
        whole[...] = 0.0
    from convcli import runner, streaming

    text = "inputs:\n  A_prev: {{file: x.h5, dataset: {}}}\nlayers: [{{type: pool, f: 2}}]\n"
    chunk = streaming.estimate(runner.plan(write(tmp_path, text.format("whole"))), False).chunk(5)  # (the same shape)
    budget = ["--memory-budget", str(chunk)] if streamed else []
    for name, code in ((dataset, 2), ("whole", 0)):
        cfg = write(tmp_path, text.format(name))
        result = run(["forward", cfg, "--out", tmp_path / name, *budget])
        if code:
            assert_error(result, "inputs.A_prev (line 2)", says)
            assert not (tmp_path / name).exists()
        else:
            assert result.exit_code == 0, result.stderr
            assert ("streamed 40 samples in 8 chunks of 5" in result.stdout) == streamed, result.stdout
    # a review: the rows written of a dataset made larger than them, read with a slice: of them, run
    sliced = "inputs:\n  A_prev: {{file: x.h5, dataset: part, slice: '{}'}}\nlayers: [{{type: pool, f: 2}}]\n"
    result = run(["forward", write(tmp_path, sliced.format("0:10")), "--out", tmp_path / "written"])
    assert result.exit_code == 0, result.stderr
    result = run(["forward", write(tmp_path, sliced.format("5:15:2")), "--out", tmp_path / "past"])
    assert_error(result, "x.h5[part] has 2 of the 5 chunks of the rows read never written")


def test_chunks_never_written_are_found_without_hdf5_s_chunk_iterator(tmp_path):
    """A review: where h5py has no chunk_iter (HDF5 before 1.12.3: h5py 3.8's
    wheels), a slice: turned the check off, and rows never written read as
    fill values. The chunks of the rows read are then looked up one by one."""
    from convcli import arrays
    from convcli.errors import ConvcliError

    with h5py.File(tmp_path / "x.h5", "w") as f:
        part = f.create_dataset("part", (40, 4, 4, 3), "f4", chunks=(1, 2, 4, 3), fillvalue=7.0)
        part[:10] = 1.0

    class NoIterator:  # the dataset's id, as an h5py without chunk_iter has it
        def __init__(self, inner):
            self._inner = inner

        def __getattr__(self, name):
            if name == "chunk_iter":
                raise AttributeError(name)
            return getattr(self._inner, name)

    with h5py.File(tmp_path / "x.h5") as f:
        dataset = f["part"]
        old = type("OldDataset", (), {"__getattr__": lambda self, name: getattr(dataset, name),
                                      "id": NoIterator(dataset.id)})()
        assert not hasattr(old.id, "chunk_iter")
        arrays._check_written(old, slice(0, 10, 1), "w", "x.h5[part]")  # written: no error
        with pytest.raises(ConvcliError, match=r"has 4 of the 10 chunks of the rows read never written"):
            arrays._check_written(old, slice(5, 15, 2), "w", "x.h5[part]")  # by hand: rows 11, 13, two chunks each


def test_h5_data_kept_in_other_files_is_refused_not_read_as_zeros(tmp_path, monkeypatch):
    """A review: a virtual dataset whose source file was gone, and a dataset
    in an external raw file cut short, ran with exit 0 on zeros (HDF5 fills
    what it cannot read); the raw file was looked up from the current
    folder, not the config's; a submission of virtual datasets mapped from
    convcli's own outputs.h5 passed check. Both kinds are refused, as a
    config's input (exit 2) and as one array of a submission (unreadable,
    the others graded)."""
    import json

    x = np.random.default_rng(0).random((2, 4, 4, 1))
    layout = h5py.VirtualLayout(shape=x.shape, dtype="f8")
    layout[:] = h5py.VirtualSource("gone.h5", "x", shape=x.shape)
    with h5py.File(tmp_path / "vds.h5", "w") as f:
        f.create_virtual_dataset("v", layout, fillvalue=0)
    x.tofile(tmp_path / "raw.bin")
    with h5py.File(tmp_path / "ext.h5", "w") as f:
        f.create_dataset("x", shape=x.shape, dtype="f8", external=[("raw.bin", 0, x.nbytes)])
    for name, where in (("vds.h5", "v"), ("ext.h5", "x")):
        cfg = write(tmp_path, f"inputs:\n  A_prev: {{file: {name}, dataset: {where}}}\nlayers: [{{type: relu}}]\n")
        result = run(["forward", cfg, "--out", tmp_path / "out"])
        assert result.exit_code == 2 and "Traceback" not in result.stderr, result.stderr
        assert (f"{name}[{where}] is a virtual dataset (mapped from x in gone.h5)" if where == "v" else
                f"{name}[{where}] keeps its data in external raw files (raw.bin)") in result.stderr
        assert "convcli reads only datasets that hold their own data" in result.stderr
        assert not (tmp_path / "out").exists()
    # mapped from its own file, refused too: a source that maps itself crashed HDF5 (a review: a segmentation
    # fault), and one that is itself virtual, or in external raw files, read as fill values
    with h5py.File(tmp_path / "self.h5", "w") as f:
        f["plain"] = x
        own = h5py.VirtualLayout(shape=x.shape, dtype="f8")
        own[:] = h5py.VirtualSource(".", "plain", shape=x.shape)
        f.create_virtual_dataset("v", own, fillvalue=0)
        loop = h5py.VirtualLayout(shape=x.shape, dtype="f8")
        loop[:] = h5py.VirtualSource(".", "loop", shape=x.shape)
        f.create_virtual_dataset("loop", loop, fillvalue=0)
    for name in ("v", "loop"):
        cfg = write(tmp_path, f"inputs:\n  A_prev: {{file: self.h5, dataset: {name}}}\nlayers: [{{type: relu}}]\n")
        result = run(["forward", cfg, "--out", tmp_path / "out"])
        source = "plain" if name == "v" else "loop"
        assert result.exit_code == 2 and f"self.h5[{name}] is a virtual dataset (mapped from {source}), whose " \
                                        "missing or unmapped parts read as fill values" in result.stderr, result.stderr
    # a submission: relu1.A mapped from convcli's own outputs.h5, relu1.dA_prev stored in the file
    cfg = write(tmp_path, "inputs:\n  A_prev: {random: [2, 4, 4, 1]}\nlayers: [{type: relu}]\n"
                          "backward: {grad: ones}\n")
    assert run(["backward", cfg, "--out", tmp_path / "ours", "--format", "h5"]).exit_code == 0
    monkeypatch.chdir(tmp_path)
    with h5py.File(tmp_path / "ours" / "outputs.h5") as f:
        A, dA = f["relu1.A"][()], f["relu1.dA_prev"][()]
    mapped = h5py.VirtualLayout(shape=A.shape, dtype=A.dtype)
    mapped[:] = h5py.VirtualSource("ours/outputs.h5", "relu1.A", shape=A.shape)
    with h5py.File(tmp_path / "sub.h5", "w") as f:
        f.create_virtual_dataset("relu1.A", mapped)
        f["relu1.dA_prev"] = dA
    result = run(["check", cfg, "--against", tmp_path / "sub.h5", "--json"])
    assert result.exit_code == 1, result.stderr
    by = {a["quantity"]: a for a in json.loads(result.stdout)["against"]}
    assert by["relu1.dA_prev"]["status"] == "pass"
    assert by["relu1.A"]["status"] == "unreadable" and "is a virtual dataset" in by["relu1.A"]["note"]


def test_an_npz_member_whose_header_asks_for_more_than_it_holds_is_truncated(tmp_path):
    """A review: a member with 64 bytes of data under a header of shape
    (1000000, 1000, 1000, 3) streamed, and failed writing the output ("--out
    o: cannot write A_prev.npy: Invalid argument", blamed on the output). The
    zip's directory says how many bytes the member holds: refused up front,
    as a lone .npy is, stored or compressed."""
    import io
    import zipfile

    from numpy.lib import format as fmt

    buf = io.BytesIO()
    fmt.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False, "shape": (1000000, 1000, 1000, 3)})
    buf.write(b"\0" * 64)
    for compression in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        with zipfile.ZipFile(tmp_path / "bomb.npz", "w", compression) as z:
            z.writestr("A.npy", buf.getvalue())
        cfg = write(tmp_path, "inputs:\n  A_prev: {file: bomb.npz, key: A}\nlayers: [{type: relu}]\n")
        result = run(["forward", cfg, "--out", tmp_path / "out"])
        assert result.exit_code == 2 and "Traceback" not in result.stderr, result.stderr
        assert ("bomb.npz[A] is truncated: its header says shape (1000000, 1000, 1000, 3) float64 "
                "(24000000000000 bytes) but only 64 bytes follow the header") in result.stderr
        assert not (tmp_path / "out").exists()


def test_a_filter_this_installation_lacks_is_named_before_reading(tmp_path, monkeypatch):
    """A review: a dataset compressed with a filter no plugin here decodes
    (blosc, 32001) failed at the read with HDF5's "can't open directory
    (/usr/local/lib/plugin)". The filter is named, with what to do, before
    anything is read. A gzip dataset stands in for it here, HDF5 made to say
    it cannot decode filter 1 (the real file needs a plugin's writer) and
    hdf5plugin made absent."""
    import builtins

    import h5py

    with h5py.File(tmp_path / "z.h5", "w") as f:
        f.create_dataset("x", data=np.ones((2, 4, 4, 1)), chunks=(1, 4, 4, 1), compression="gzip")
    cfg = write(tmp_path, "inputs:\n  A_prev: {file: z.h5, dataset: x}\nlayers: [{type: relu}]\n")
    assert run(["forward", cfg, "--out", tmp_path / "ok"]).exit_code == 0  # gzip is decoded, as ever
    real_avail, real_import = h5py.h5z.filter_avail, builtins.__import__
    monkeypatch.setattr(h5py.h5z, "filter_avail", lambda code: code != h5py.h5z.FILTER_DEFLATE and real_avail(code))

    plugin = {}

    def no_plugin(name, *args, **kwargs):
        if name == "hdf5plugin":
            raise plugin["raises"]
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_plugin)
    for raises, fix in ((ModuleNotFoundError("No module named 'hdf5plugin'", name="hdf5plugin"),
                         "pip install hdf5plugin (convcli loads it)"),
                        (OSError("libblosc.so: cannot open shared object file"),  # installed, and broken
                         "hdf5plugin is installed but failed to load (libblosc.so: cannot open shared object file)")):
        plugin["raises"] = raises
        result = run(["forward", cfg, "--out", tmp_path / "out"])
        assert result.exit_code == 2 and "Traceback" not in result.stderr, result.stderr
        assert (f"z.h5[x] is compressed with HDF5 filter 1, which this installation cannot decode ({fix}); or "
                "rewrite the file with gzip: h5repack -f GZIP=4 IN.h5 OUT.h5") in result.stderr
        assert not (tmp_path / "out").exists()


def test_a_npy_header_too_long_to_read_safely_is_not_told_to_allow_pickle(tmp_path):
    """A review: a .npy whose header passes NumPy's 10000-byte limit (a
    structured dtype of 600 fields) was called corrupt, with NumPy's advice
    to pass allow_pickle=True. It is said for what it is."""
    np.save(tmp_path / "wide.npy", np.zeros(2, dtype=[(f"f{i}", "<f8") for i in range(600)]))
    cfg = write(tmp_path, "inputs:\n  A_prev: {file: wide.npy}\nlayers: [{type: relu}]\n")
    result = run(["forward", cfg, "--out", tmp_path / "out"])
    assert result.exit_code == 2 and "Traceback" not in result.stderr, result.stderr
    assert "allow_pickle" not in result.stderr and "corrupt" not in result.stderr
    import re

    size = re.search(r"wide\.npy has a \.npy header of (\d+) bytes, more than NumPy reads safely", result.stderr)
    assert size and int(size[1]) > 10000, result.stderr


def test_an_optional_filter_its_writer_lacked_too_is_read(tmp_path):
    """A review: a dataset created with an unknown filter marked optional
    (h5py's allow_unknown_filter) has its chunks stored unfiltered, and h5py
    reads it; convcli refused it for the filter it cannot decode. Only a
    chunk that went through the filter makes it refuse."""
    import h5py

    if h5py.h5z.filter_avail(32001):
        pytest.skip("blosc is installed here: the filter would be applied")
    x = np.random.default_rng(0).random((4, 4, 4, 2))
    with h5py.File(tmp_path / "opt.h5", "w") as f:
        f.create_dataset("o", data=x, chunks=(1, 4, 4, 2), compression=32001, allow_unknown_filter=True)
    with h5py.File(tmp_path / "opt.h5") as f:
        plist = f["o"].id.get_create_plist()
        assert plist.get_filter(0)[:2] == (32001, h5py.h5z.FLAG_OPTIONAL)
    cfg = write(tmp_path, "inputs:\n  A_prev: {file: opt.h5, dataset: o}\nlayers: [{type: relu}]\n")
    result = run(["forward", cfg, "--out", tmp_path / "out"])
    assert result.exit_code == 0, result.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "out" / "A_prev.npy"), x)


def _damage_header(path, name):
    """Overwrite the first bytes of ``name``'s object header in the .h5 at
    ``path``: the file still lists ``name``, HDF5 cannot open it ("bad object
    header version number")."""
    with h5py.File(path, "r") as f:
        addr = h5py.h5o.get_info(f[name].id).addr
    raw = bytearray(path.read_bytes())
    raw[addr:addr + 4] = b"XXXX"
    path.write_bytes(bytes(raw))


def test_an_h5_dataset_listed_but_unreadable_is_called_damaged_not_missing(tmp_path):
    """Two reviews: a damaged .h5 that lists 'y', whose header HDF5 cannot
    read, was reported as "dataset 'y' is not in t.h5 (did you mean 'y'?)"
    as a config's input, and as "not among your arrays" in a submission
    (check exited 0 with nothing said of the damage)."""
    with h5py.File(tmp_path / "t.h5", "w") as f:
        f.create_dataset("y", data=np.ones((2, 4, 4, 1)))
        f.create_dataset("g", data=np.ones((2, 4, 4, 1)))
    _damage_header(tmp_path / "t.h5", "y")
    cfg = write(tmp_path, "inputs:\n  A_prev: {file: t.h5, dataset: y}\nlayers: [{type: relu}]\n")
    result = run(["forward", cfg, "--out", tmp_path / "out"])
    assert result.exit_code == 2 and "Traceback" not in result.stderr, result.stderr
    assert ("t.h5[y] cannot be read: the file lists it, but HDF5 cannot open it (the file is damaged?)"
            in result.stderr)
    assert "did you mean" not in result.stderr and not (tmp_path / "out").exists()
    # a submission: the damaged array is graded unreadable, saying why; the others are graded
    seed = write(tmp_path, "seed: 1\ninputs:\n  A_prev: {random: [2, 4, 4, 3]}\n  W: {random: [2, 2, 3, 2]}\n"
                           "  b: {random: [1, 1, 1, 2]}\nlayers: [{type: conv, W: W, b: b, pad: 1}]\n")
    made = run(["backward", seed, "--out", tmp_path / "theirs", "--format", "h5"])
    assert made.exit_code == 0, made.stderr
    with h5py.File(tmp_path / "theirs" / "outputs.h5", "r") as f:
        dW = next(n for n in f if n.endswith("dW"))
    _damage_header(tmp_path / "theirs" / "outputs.h5", dW)
    graded = run(["check", seed, "--against", tmp_path / "theirs" / "outputs.h5"])
    assert "Traceback" not in graded.stderr, graded.stderr
    assert graded.exit_code == 1, graded.stdout + graded.stderr
    out = graded.stdout + graded.stderr
    assert f"outputs.h5[{dW}] cannot be read: the file lists it, but HDF5 cannot open it" in out
    assert re.search(rf"{re.escape(dW)}\s+unreadable", out) and "1 of 4 checks FAILED" in out


def test_a_damaged_h5_object_is_never_picked_past_nor_called_unknown(tmp_path):
    """A review of the fix above: with no dataset: named, a file of a readable
    'g' and a damaged 'y' gave 'g', the damage unsaid; a damaged group was
    "not in" the file as a config's input, and in a submission an "unknown
    quantity 'conv1' (did you mean 'conv1.Z'?)", the arrays under it
    called missing."""
    with h5py.File(tmp_path / "t.h5", "w") as f:
        f.create_dataset("y", data=np.ones((2, 4, 4, 1)))
        f.create_dataset("g", data=np.ones((2, 4, 4, 1)))
        f.create_dataset("grp/x", data=np.ones((2, 4, 4, 1)))
    _damage_header(tmp_path / "t.h5", "y")
    _damage_header(tmp_path / "t.h5", "grp")
    for dataset, message in (
            (None, "t.h5 holds 1 readable dataset (g), and grp, y cannot be read: the file lists them, but HDF5 "
                   "cannot open them (the file is damaged?); say which with dataset: NAME"),
            ("grp/x", "t.h5[grp/x] cannot be read: the file lists it, but HDF5 cannot open it (the file is damaged?)")):
        name = "{file: t.h5}" if dataset is None else f"{{file: t.h5, dataset: {dataset}}}"
        cfg = write(tmp_path, f"inputs:\n  A_prev: {name}\nlayers: [{{type: relu}}]\n")
        result = run(["forward", cfg, "--out", tmp_path / "out"])
        assert result.exit_code == 2 and "Traceback" not in result.stderr, result.stderr
        assert message in result.stderr, result.stderr
        assert not (tmp_path / "out").exists()
    # a submission whose conv1 group is damaged: said so, its quantities not among the arrays
    seed = write(tmp_path, "seed: 1\ninputs:\n  A_prev: {random: [2, 4, 4, 3]}\n  W: {random: [2, 2, 3, 2]}\n"
                           "  b: {random: [1, 1, 1, 2]}\nlayers: [{type: conv, W: W, b: b, pad: 1}]\n")
    made = run(["backward", seed, "--out", tmp_path / "theirs", "--format", "h5"])
    assert made.exit_code == 0, made.stderr
    with h5py.File(tmp_path / "theirs" / "outputs.h5", "r") as src, h5py.File(tmp_path / "sub.h5", "w") as f:
        layer = next(k for k in src if k.endswith(".dW")).split(".")[0]
        for k in src:
            if k.startswith(layer + "."):
                f.create_dataset(f"{layer}/{k.split('.', 1)[1]}", data=src[k][()])
    _damage_header(tmp_path / "sub.h5", layer)
    graded = run(["check", seed, "--against", tmp_path / "sub.h5", "--complete"])
    out = graded.stdout + graded.stderr
    assert graded.exit_code == 1 and "Traceback" not in out, out
    assert (f"not graded: {layer}: cannot be read: the file lists it, but HDF5 cannot open it (the file is "
            "damaged?); arrays under it cannot be graded") in out
    assert "unknown quantity" not in out and "did you mean" not in out
