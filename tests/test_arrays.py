"""Array sources in (convcli/arrays.py): probe before read, slice, cast then
scale, NaN/Inf, sizes."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
from pydantic import ValidationError

from convcli.arrays import check_size, format_size, load, parse_size, probe
from convcli.config import Source
from convcli.errors import ConvcliError


def rng():
    return np.random.RandomState(0)


def test_probe_reads_headers_only(tmp_path, monkeypatch):
    np.save(tmp_path / "a.npy", np.zeros((5, 2, 3), dtype=np.uint8))
    np.savez(tmp_path / "b.npz", x=np.zeros((4, 3)), y=np.zeros(1))
    with h5py.File(tmp_path / "c.h5", "w") as f:
        f.create_dataset("g/d", data=np.zeros((6, 2), dtype=np.int16))
    monkeypatch.setattr("convcli.arrays.np.load", lambda *a, **k: pytest.fail("np.load"))
    assert probe(Source(file="a.npy", slice="1:4"), tmp_path, "w").shape == (3, 2, 3)
    info = probe(Source(file="c.h5", dataset="g/d", slice="::2"), tmp_path, "w")
    assert info.shape == (3, 2) and info.dtype == np.int16


def test_npz_probe_and_single_key_default(tmp_path):
    np.savez(tmp_path / "one.npz", only=np.ones((2, 3)))
    assert probe(Source(file="one.npz"), tmp_path, "w").shape == (2, 3)
    np.savez(tmp_path / "two.npz", x=np.ones(1), y=np.ones(1))
    with pytest.raises(ConvcliError, match=r"holds 2 arrays \(x, y\); say which with key"):
        probe(Source(file="two.npz"), tmp_path, "w")


def test_integer_input_is_cast_then_scaled(tmp_path):
    np.save(tmp_path / "img.npy", np.array([[0, 128, 255]], dtype=np.uint8))
    a = load(Source(file="img.npy", scale=1 / 255), tmp_path, "w", dtype="float32", rng=rng())
    assert a.dtype == np.float32
    np.testing.assert_array_equal(a, np.array([[0, 128, 255]], dtype=np.float32) * np.float32(1 / 255))


def test_h5_slice_reads_only_those_rows(tmp_path):
    data = np.arange(40, dtype=np.float64).reshape(10, 4)
    with h5py.File(tmp_path / "d.h5", "w") as f:
        f["x"] = data
    a = load(Source(file="d.h5", dataset="x", slice="2:8:3"), tmp_path, "w", dtype="float64", rng=rng())
    np.testing.assert_array_equal(a, data[2:8:3])


def test_npy_slice_with_negative_bounds(tmp_path):
    np.save(tmp_path / "a.npy", np.arange(10.0))
    a = load(Source(file="a.npy", slice="-3:"), tmp_path, "w", dtype="float64", rng=rng())
    np.testing.assert_array_equal(a, [7.0, 8.0, 9.0])


def test_a_slice_that_selects_nothing(tmp_path):
    np.save(tmp_path / "a.npy", np.arange(4.0))
    with pytest.raises(ConvcliError, match="selects no rows"):
        probe(Source(file="a.npy", slice="3:1"), tmp_path, "w")


@pytest.mark.parametrize("text, bound", [("0:100", 99), ("0:7", 6), ("5:9", 8), ("-7:", -7), ("-2:100", 99)])
def test_a_slice_past_the_rows_there_are_is_refused(tmp_path, text, bound):
    """0:100 of 6 rows was cut to 6, labelled rows 0:100: every statistic
    then described 6 samples where 100 were asked for."""
    np.save(tmp_path / "a.npy", np.arange(6.0))
    with pytest.raises(ConvcliError, match=rf"slice: {text} asks for row {bound}, outside a.npy, whose first axis "
                                           r"has 6 rows \(0\.\.5, or -6\.\.-1 from the end\)"):
        probe(Source(file="a.npy", slice=text), tmp_path, "w")


@pytest.mark.parametrize("rows, says", [(0, r"has no rows$"), (1, r"has 1 row \(0\.\.0, or -1\.\.-1 from the end\)")])
def test_a_slice_past_an_empty_or_one_row_array_says_so_plainly(tmp_path, rows, says):
    """A fuzzing review: a slice of an array of 0 rows read "whose first
    axis has 0 rows (0..-1, or -0..-1 from the end)"."""
    np.save(tmp_path / "a.npy", np.zeros((rows, 4, 4, 3)))
    with pytest.raises(ConvcliError, match=rf"slice: 0:2 asks for row 1?, outside a.npy, whose first axis {says}"):
        probe(Source(file="a.npy", slice="0:2"), tmp_path, "w")


def test_a_slice_past_the_rows_names_the_dataset_or_member(tmp_path):
    with h5py.File(tmp_path / "d.h5", "w") as f:
        f["images"] = np.zeros((6, 2))
    np.savez(tmp_path / "w.npz", W1=np.zeros((6, 2)))
    for src, label in ((Source(file="d.h5", dataset="images", slice="0:100"), r"d\.h5\[images\]"),
                       (Source(file="w.npz", key="W1", slice="0:100"), r"w\.npz\[W1\]")):
        with pytest.raises(ConvcliError, match=rf"asks for row 99, outside {label}, whose first axis has 6 rows"):
            probe(src, tmp_path, "w")
        with pytest.raises(ConvcliError, match=rf"asks for row 99, outside {label}"):
            load(src, tmp_path, "w", dtype="float64", rng=rng())


@pytest.mark.parametrize("text, rows", [("0:6", [0, 1, 2, 3, 4, 5]), ("-6:", [0, 1, 2, 3, 4, 5]), ("6:", None),
                                        (":", [0, 1, 2, 3, 4, 5]), ("1::2", [1, 3, 5]), ("-2:6", [4, 5]),
                                        ("1:7:2", [1, 3, 5]),  # asks for no row beyond 5: nothing is cut
                                        ("2:-9", None), ("0:0", None)])
def test_a_slice_to_the_edges_is_python_s(tmp_path, text, rows):
    np.save(tmp_path / "a.npy", np.arange(6.0))
    if rows is None:  # within the rows, and empty
        with pytest.raises(ConvcliError, match="selects no rows"):
            probe(Source(file="a.npy", slice=text), tmp_path, "w")
        return
    a = load(Source(file="a.npy", slice=text), tmp_path, "w", dtype="float64", rng=rng())
    assert a.tolist() == rows


def test_random_zeros_ones_value():
    r = rng()
    a = load(Source(random=(2, 3)), Path("."), "w", dtype="float32", rng=r)
    np.testing.assert_array_equal(a, np.random.RandomState(0).randn(2, 3).astype(np.float32))
    assert load(Source(zeros=(2,)), Path("."), "w", dtype="float64", rng=r).tolist() == [0, 0]
    assert load(Source(ones=(2,), scale=3), Path("."), "w", dtype="float64", rng=r).tolist() == [3, 3]
    assert load(Source(value=[[1, 2]]), Path("."), "w", dtype="float64", rng=r).shape == (1, 2)
    with pytest.raises(ValidationError, match="not a rectangular array"):  # the config model refuses it
        Source(value=[[1, 2], [3]])


def test_non_numeric_and_complex_files_are_refused(tmp_path):
    np.save(tmp_path / "s.npy", np.array(["a", "b"]))
    np.save(tmp_path / "c.npy", np.ones(2, dtype=complex))
    with pytest.raises(ConvcliError, match="not a plain numeric array"):
        probe(Source(file="s.npy"), tmp_path, "w")
    with pytest.raises(ConvcliError, match="complex"):
        probe(Source(file="c.npy"), tmp_path, "w")


def test_nonfinite_allowed_on_request(tmp_path):
    src = Source(value=[1.0, float("nan")])
    with pytest.raises(ConvcliError, match="contains 1 NaN"):
        load(src, tmp_path, "w", dtype="float64", rng=rng())
    assert np.isnan(load(src, tmp_path, "w", dtype="float64", rng=rng(), allow_nonfinite=True)[1])


def test_sizes():
    assert parse_size("4GiB") == 4 << 30
    assert parse_size("512 MiB") == 512 << 20
    assert parse_size("100MB") == 100_000_000
    assert parse_size("1e9") == 10**9
    assert parse_size("2048") == 2048
    with pytest.raises(ConvcliError, match="--max-memory"):
        parse_size("lots")
    assert format_size(3840) == "3.8 KiB"
    assert format_size(2**62) == "4096.0 PiB"
    assert format_size(10**400) == "more than 4096.0 PiB"  # 10**400 / 1024 overflows a float
    check_size((1024,), 8, "w", 8192)
    with pytest.raises(ConvcliError, match="needs 8.0 KiB, more than --max-memory 8.0 KiB"):
        check_size((1025,), 8, "w", 8192)


def test_size_arg_is_a_max_memory_value_that_holds_the_bytes():
    """The cap an error suggests, passed back, holds what it was for (a
    review: 6.8PiB read back as less than the 6.8 PiB needed)."""
    from convcli.arrays import parse_size, size_arg

    assert (size_arg(3136), size_arg(20736), size_arg(20480), size_arg(1000)) == ("3.1KiB", "20.3KiB", "20KiB", "1000B")
    rng = np.random.default_rng(0)
    for n in [1, 1023, 1024, 1025, 2**50 + 1, 7656119366529843, 2**62] + [int(x) for x in rng.integers(1, 2**62, 5000)]:
        assert n <= parse_size(size_arg(n)) <= n * 1.1 + 1, n


def test_a_zip_made_on_macos_reads_as_an_npz_input(tmp_path):
    """A review: a .zip input (read as an .npz) made on macOS holds
    __MACOSX/ copies beside its arrays, which made a one-array zip say it
    held two; and a member in a folder (data/W.npy) was not found by key W."""
    import zipfile

    from convcli import arrays
    from convcli.config import Source

    W = np.arange(6.0).reshape(2, 3)
    buf = tmp_path / "w.npy"
    np.save(buf, W)
    with zipfile.ZipFile(tmp_path / "in.zip", "w") as z:
        z.write(buf, "data/W.npy")
        z.writestr("__MACOSX/data/._W.npy", b"\x00\x05\x16\x07 a resource fork")
    for key in (None, "W", "data/W"):
        got = arrays.read_file(Source(file="in.zip", key=key), tmp_path, "inputs.W", 1 << 30)
        np.testing.assert_array_equal(got, W)


def test_a_key_in_two_folders_of_a_zip_names_both(tmp_path):
    """A review: key W with a/W.npy and b/W.npy in the zip said the key was
    not in it (and past 20 members named neither)."""
    import zipfile

    from convcli import arrays
    from convcli.config import Source
    from convcli.errors import ConvcliError

    buf = tmp_path / "w.npy"
    np.save(buf, np.zeros(2))
    with zipfile.ZipFile(tmp_path / "in.zip", "w") as z:
        for k in range(25):
            z.write(buf, f"k{k:02d}.npy")
        z.write(buf, "a/W.npy")
        z.write(buf, "zz/W.npy")
    with pytest.raises(ConvcliError) as err:
        arrays.read_file(Source(file="in.zip", key="W"), tmp_path, "inputs.W", 1 << 30)
    assert "key 'W' is in 2 folders of in.zip: a/W, zz/W; say which with key: a/W" in str(err.value)


def test_a_zip_member_saved_as_npy_in_capitals_is_an_array(tmp_path):
    """A zip made on some systems holds W.NPY: it was no array at all ('holds
    no .npy arrays'), where a folder's W.NPY was read. Read whole, by rows
    (streaming) and graded alike; a.npy beside a.NPY keeps both whole names."""
    import zipfile

    from convcli import arrays

    W = np.arange(24.0).reshape(4, 6)
    with zipfile.ZipFile(tmp_path / "in.zip", "w") as z:
        z.writestr("data/W.NPY", _npy_bytes(W))
    for key in (None, "W", "data/W"):
        np.testing.assert_array_equal(
            arrays.read_file(Source(file="in.zip", key=key), tmp_path, "inputs.W", 1 << 30), W)
    np.testing.assert_array_equal(
        arrays.read_file(Source(file="in.zip", key="W", slice="1:3"), tmp_path, "inputs.W", 1 << 30), W[1:3])
    with arrays.Rows(Source(file="in.zip", key="W"), tmp_path, "w", dtype="float64", rng=None) as rows:
        np.testing.assert_array_equal(np.concatenate([rows.read(0, 3), rows.read(3, 4)]), W)
    with zipfile.ZipFile(tmp_path / "two.zip", "w") as z:
        z.writestr("a.npy", _npy_bytes(W))
        z.writestr("a.NPY", _npy_bytes(2 * W))
    np.testing.assert_array_equal(
        arrays.read_file(Source(file="two.zip", key="a.NPY"), tmp_path, "inputs.W", 1 << 30), 2 * W)
    with pytest.raises(ConvcliError) as err:
        arrays.read_file(Source(file="two.zip", key="a"), tmp_path, "inputs.W", 1 << 30)
    assert "it holds: a.npy, a.NPY" in str(err.value)


def _npy_bytes(a) -> bytes:
    import io

    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


@pytest.mark.parametrize("compressed", [False, True])
def test_a_slice_of_an_npz_member_holds_only_its_rows(tmp_path, compressed):
    """A review: a slice: of an .npz member was refused by --max-memory for
    the whole member's size (301 samples) where the 3 asked for fitted, and
    the same input without a slice streamed. The rows are read through the
    member, only they held; NumPy's own slicing of the whole is the oracle."""
    from convcli.arrays import read_file

    rng = np.random.default_rng(5)
    A = rng.random((301, 10, 10, 1)).astype(">f4")  # a stored byte order kept, as read_file keeps it
    F = np.asfortranarray(rng.random((12, 3, 3, 2)))
    (np.savez_compressed if compressed else np.savez)(tmp_path / "x.npz", A=A, F=F)
    row = 10 * 10 * 1 * 8  # one row as held (float64, what the run computes in)
    for text in ("-3:", "0:1", "5:300:7", "300:", "::1", "1::2"):
        src = Source(file="x.npz", key="A", slice=text)
        got = read_file(src, tmp_path, "inputs.A_prev", max_memory=301 * row)
        rows = slice(*(int(t) if t else None for t in text.split(":")))
        np.testing.assert_array_equal(got, A[rows])
        assert got.dtype == A.dtype
    # the budget counts the rows asked for: 3 fit in 3 rows' bytes, 4 do not
    assert read_file(Source(file="x.npz", key="A", slice="-3:"), tmp_path, "w", max_memory=3 * row).shape[0] == 3
    with pytest.raises(ConvcliError, match=r"x.npz\[A\] of shape \(4, 10, 10, 1\) needs"):
        read_file(Source(file="x.npz", key="A", slice="-4:"), tmp_path, "w", max_memory=3 * row)
    # a member in Fortran order scatters its rows: read whole, then sliced, as before
    np.testing.assert_array_equal(read_file(Source(file="x.npz", key="F", slice="2:5"), tmp_path, "w",
                                            max_memory=1 << 20), F[2:5])


def test_a_corrupt_byte_past_a_slices_rows_of_an_npz_is_still_refused(tmp_path):
    """The member is read to its end, where zipfile checks its CRC: a byte
    changed after the last row a slice takes is refused, as a whole read
    refuses it (stored, so the byte can be changed in place)."""
    from convcli.arrays import read_file

    A = np.arange(40.0).reshape(10, 2, 2, 1)
    np.savez(tmp_path / "x.npz", A=A)
    raw = bytearray((tmp_path / "x.npz").read_bytes())
    at = raw.index(A[9].tobytes())  # the last row, stored as is
    raw[at] ^= 0xFF
    (tmp_path / "x.npz").write_bytes(bytes(raw))
    with pytest.raises(ConvcliError, match=r"x.npz\[A\] cannot be read \(Bad CRC-32"):
        read_file(Source(file="x.npz", key="A", slice="0:2"), tmp_path, "w", max_memory=1 << 20)
