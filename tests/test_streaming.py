"""Streaming a batch that does not fit --memory-budget (issue 4).

A budget just large enough for a few samples makes a small input stream in
several chunks, so these runs are quick. Each streamed run is compared with
the same config run in memory: the inputs, outputs and upstream gradients
must be the same numbers (a random one included: the one RandomState gives
the chunks in row order); the computed arrays equal to rounding; dW/db,
summed per chunk, to 1e-12 (float64).
"""

from __future__ import annotations

import errno
import io
import json
import re
import math
import os
import subprocess
import sys
import threading
import tracemalloc
import zipfile
from fractions import Fraction

import h5py
import numpy as np
import pytest
import yaml
from rich.console import Console

from conftest import require
from helpers import calls

import convcli.cli as cli
from convcli import arrays, runner, streaming
from convcli import conv as conv_engine
from convcli.config import Source
from convcli.errors import ConvcliError
from convcli.stats import describe
from test_cli_helpers import ROOT, assert_error, run, tree, write

N = 10  # samples; chunks of ROWS: 3 + 3 + 3 + 1
ROWS = 3

STACKS = {
    # conv (stride 1, pad 1) -> relu -> max pool: the issue's stack
    "conv-relu-pool": [{"type": "conv", "W": "W", "b": "b", "pad": 1}, {"type": "relu"},
                       {"type": "pool", "f": 2}],
    # strided conv, uneven padding, then an overlapping average pool (col2im backward)
    "stride2-avgpool": [{"type": "conv", "W": "W", "b": "b", "stride": 2, "pad": [1, 2, 0, 1]},
                        {"type": "pool", "f": 3, "stride": 1, "mode": "average"}],
    # a pool first (first-max ties), then a dilated conv with same padding, then relu
    "pool-dilated-relu": [{"type": "pool", "f": 2, "stride": 1, "ties": "first"},
                          {"type": "conv", "W": "W", "b": "b", "pad": "same", "dilation": 2}, {"type": "relu"}],
}


def make_config(tmp_path, *, stack="conv-relu-pool", grad="output", a_prev=None, dtype="float64",
                random_first=False, name="cfg.yaml"):
    """A config over a 10-sample .h5 input (or ``a_prev``); returns its path."""
    if a_prev is None:
        with h5py.File(tmp_path / "x.h5", "a") as f:
            if "images" not in f:
                rng = np.random.RandomState(7)
                f["images"] = (rng.rand(N + 2, 9, 8, 3) * 255).astype(np.uint8)
        a_prev = {"file": "x.h5", "dataset": "images", "slice": "1:11", "scale": 1 / 255}
    inputs = {"W": {"random": [3, 3, 3, 4]}, "A_prev": a_prev, "b": {"random": [4]}}
    if random_first:  # A_prev drawn first: W and b come from the stream after all of it
        inputs = {"A_prev": a_prev, "W": inputs["W"], "b": inputs["b"]}
    data = {"seed": 3, "dtype": dtype, "inputs": inputs, "layers": STACKS[stack], "backward": {"grad": grad}}
    return write(tmp_path, data, name)


def budget_for(cfg, rows=ROWS, backward=True) -> int:
    """A budget that streams ``cfg`` in chunks of ``rows`` samples."""
    return streaming.estimate(runner.plan(cfg), backward).chunk(rows)


def read_outputs(out, fmt="npy") -> tuple[dict, dict]:
    doc = json.loads((out / "summary.json").read_text())
    found = {}
    if fmt == "h5":
        with h5py.File(out / "outputs.h5") as f:
            found = {name: f[name][()] for name in doc["quantities"]}
    else:
        found = {name: np.load(out / d["file"]) for name, d in doc["quantities"].items()}
    return found, doc


def both_ways(tmp_path, cfg, command="backward", fmt="npy", rows=ROWS, extra=()):
    """Run ``cfg`` in memory and streamed; return ((arrays, summary), (arrays, summary))."""
    whole = run([command, cfg, "--out", tmp_path / "whole", "--format", fmt, *extra])
    assert whole.exit_code == 0, whole.stderr
    budget = budget_for(cfg, rows, command == "backward")
    streamed = run([command, cfg, "--out", tmp_path / "streamed", "--format", fmt,
                    "--memory-budget", str(budget), *extra])
    assert streamed.exit_code == 0, streamed.stderr
    assert streamed.stderr == ""  # no progress bar on a non-terminal
    return read_outputs(tmp_path / "whole", fmt), read_outputs(tmp_path / "streamed", fmt)


def aligned(rows: int, group: int) -> int:
    """The samples a chunk holds where the budget holds ``rows``: a multiple
    of the conv layers' product group (conv.sample_group: a layer of 7x7
    output maps, 49 rows a sample, makes a product of four, so chunks of 7
    hold 4; the 9x8 ones of the .h5 configs here, 72 rows, of two: chunks
    of 3 hold 2), or all it can where that is fewer than the group (the
    6x7 ones here, four samples a product: chunks of 3 stay 3)."""
    return rows - rows % group if rows >= group else rows


def assert_same(whole, streamed, rtol=1e-12, upstream_computed=False, rows=ROWS):
    """Inputs, drawn or read upstream gradients and every layer's output are
    the same numbers (a chunk's conv is unfolded, cut and threaded as the
    batch's, each sample its own product: conv.planned_for); gradients
    agree to rounding: sums run over chunks, and BLAS may pick another
    kernel for a chunk's smaller matrices."""
    (a, a_doc), (b, b_doc) = whole, streamed
    assert a_doc["streaming"] is None
    assert list(b_doc["timings"]) == list(a_doc["timings"])  # the same summary, timings included
    s = b_doc["streaming"]
    rows = aligned(rows, s["product_group"])
    assert (s["samples"], s["chunk_rows"], s["chunks"]) == (N, rows, math.ceil(N / rows))
    assert s["streams_for"] and set(s["streams_for"]) <= {"memory_budget", "max_memory"}
    assert list(a) == list(b)  # the same quantities, in the same order
    for name in a:
        x, y = a[name], b[name]
        assert x.shape == y.shape and x.dtype == y.dtype, name
        role = a_doc["quantities"][name]["role"]
        batch = x.shape[:1] == (N,)
        assert b_doc["quantities"][name].get("streamed", False) == batch, name
        output = name.endswith((".Z", ".A"))
        if role == "input" or output or (name.endswith((".dZ", ".dA")) and not upstream_computed):
            np.testing.assert_array_equal(y, x, err_msg=name)  # read, drawn or a layer's output: the same numbers
        else:
            np.testing.assert_allclose(y, x, rtol=rtol, atol=rtol * np.abs(x).max(), err_msg=name)
        d, e = a_doc["quantities"][name], b_doc["quantities"][name]
        assert d["shape"] == e["shape"] and d["dtype"] == e["dtype"]
        scale = max(d["norm"] / math.sqrt(x.size), abs(d["mean"]))
        for k in ("mean", "std", "min", "max", "sum", "norm"):
            size = x.size if k == "sum" else math.sqrt(x.size) if k == "norm" else 1
            assert e[k] == pytest.approx(d[k], rel=rtol, abs=10 * rtol * scale * size), (name, k)


# ----------------------------------------------------------------- streamed == in memory


@pytest.mark.parametrize("stack", list(STACKS))
@pytest.mark.parametrize("grad", ["output", "ones", "random"])
def test_backward_streamed_equals_in_memory(tmp_path, stack, grad):
    assert_same(*both_ways(tmp_path, make_config(tmp_path, stack=stack, grad=grad)),
                upstream_computed=grad == "output")


@pytest.mark.parametrize("stack", list(STACKS))
def test_forward_streamed_equals_in_memory(tmp_path, stack):
    whole, streamed = both_ways(tmp_path, make_config(tmp_path, stack=stack), command="forward")
    assert_same(whole, streamed)
    assert list(streamed[1]["timings"]) == ["load", "forward", "write", "total"]  # no backward


def test_h5_format(tmp_path):
    cfg = make_config(tmp_path, grad="random")
    assert_same(*both_ways(tmp_path, cfg, fmt="h5"))
    with h5py.File(tmp_path / "streamed" / "outputs.h5") as f:
        assert f["conv1.Z"].shape == (N, 9, 8, 4)


def test_a_streamed_runs_expected_yaml_checks_an_in_memory_run(tmp_path):
    """expected.yaml holds the statistics gathered chunk by chunk: the
    in-memory run of the same config passes against them (they agree to
    rounding, the sums over chunks), and they are the streamed summary's."""
    cfg = make_config(tmp_path, grad="random")
    (whole, _), (_, doc) = both_ways(tmp_path, cfg)
    key = tmp_path / "streamed" / "expected.yaml"
    entries = yaml.safe_load(key.read_text())["expected"]
    assert entries["conv1.dW.sum"] == doc["quantities"]["conv1.dW"]["sum"]
    assert entries["conv1.Z.shape"] == list(whole["conv1.Z"].shape)
    result = run(["check", cfg, "--expected", key, "--json"])
    assert result.exit_code == 0, result.stdout
    assert json.loads(result.stdout)["counts"]["expected"]["checks"] == len(entries)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_streamed_expected_yaml_has_each_quantity_s_largest_element(tmp_path, dtype):
    """An instructor's review: expected.yaml's header promises each
    quantity's element largest in magnitude, at its index, and a streamed
    run's had none (12 entries fewer than the in-memory run's key). They are
    kept chunk by chunk now: the same entries, index and every digit, as
    the in-memory run's."""
    cfg = make_config(tmp_path, grad="random", dtype=dtype)
    both_ways(tmp_path, cfg)
    entries = [yaml.safe_load((tmp_path / d / "expected.yaml").read_text())["expected"] for d in ("whole", "streamed")]
    largest = [{k: v for k, v in e.items() if "[" in k} for e in entries]
    computed = {k.split("[")[0] for k in largest[0]}
    assert computed == {k.rsplit(".", 1)[0] for k in entries[0] if k.endswith(".shape")}  # every one
    assert list(largest[1]) == list(largest[0])  # the same elements
    for k, v in largest[0].items():  # batch quantities the same bits; dW, db summed over chunks, to rounding
        assert largest[1][k] == (pytest.approx(v, rel=1e-5) if ".dW[" in k or ".db[" in k else v), k
    # the largest whole-batch |value|: the entry is at it, by hand from the saved array
    Z = np.load(tmp_path / "whole" / "conv1.Z.npy")
    (key, value), = [(k, v) for k, v in largest[1].items() if k.startswith("conv1.Z[")]
    at = tuple(int(i) for i in key[len("conv1.Z["):-1].split(", "))
    assert abs(Z[at]) == np.abs(Z).max() and value == float(Z[at]) and at[0] >= ROWS  # past the first chunk
    result = run(["check", cfg, "--expected", tmp_path / "streamed" / "expected.yaml", "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["counts"]["expected"]["passed"] == len(entries[1])


def test_npy_files_are_plain_npy(tmp_path):
    """open_memmap made them: np.load reads them, header and all."""
    cfg = make_config(tmp_path)
    both_ways(tmp_path, cfg, command="forward")
    z = np.load(tmp_path / "streamed" / "conv1.Z.npy", mmap_mode="r")
    assert z.shape == (N, 9, 8, 4) and z.dtype == np.float64 and z.flags.c_contiguous


def test_random_gradient_with_a_shape(tmp_path):
    cfg = make_config(tmp_path, grad={"random": [N, 4, 4, 4]})
    assert_same(*both_ways(tmp_path, cfg))


def test_gradient_from_a_file_read_per_chunk(tmp_path):
    g = np.random.RandomState(1).randn(N + 3, 4, 4, 4).astype(np.float32)
    np.save(tmp_path / "g.npy", g)
    cfg = make_config(tmp_path, grad={"file": "g.npy", "slice": "2:12", "scale": 0.5})
    (a, _), (b, b_doc) = both_ways(tmp_path, cfg)
    assert_same((a, _), (b, b_doc))
    np.testing.assert_array_equal(b["pool3.dA"], g[2:12].astype(np.float64) * 0.5)


@pytest.mark.parametrize("random_first", [False, True])
def test_random_input_streams_from_the_one_random_stream(tmp_path, random_first):
    """A random A_prev is drawn chunk by chunk; W, b and the random gradient
    after it get the numbers they get in memory (the stream skips past it)."""
    cfg = make_config(tmp_path, a_prev={"random": [N, 6, 7, 3]}, grad="random", random_first=random_first)
    assert_same(*both_ways(tmp_path, cfg))


@pytest.mark.parametrize("a_prev", [
    {"file": "x.npy", "slice": "1::2"},
    {"file": "x.npz", "key": "x", "slice": "3:13", "scale": 2.0},
    {"file": "x.h5", "dataset": "images", "slice": "0:20:2"},
    {"file": "x.h5", "dataset": "tiles", "slice": "3:13"},  # compressed chunks of 4 samples, tiled
    {"zeros": [N, 6, 7, 3]},
    {"ones": [N, 6, 7, 3], "scale": 0.5},
])
def test_every_kind_of_input_streams(tmp_path, a_prev):
    x = np.random.RandomState(2).randn(2 * N + 1, 6, 7, 3)
    np.save(tmp_path / "x.npy", x)
    np.savez_compressed(tmp_path / "x.npz", x=x)
    with h5py.File(tmp_path / "x.h5", "w") as f:
        f["images"] = x.astype(np.float32)
        f.create_dataset("tiles", data=x, chunks=(4, 4, 4, 3), compression="gzip")
    assert_same(*both_ways(tmp_path, make_config(tmp_path, a_prev=a_prev)))


@pytest.mark.parametrize("chunks", [None, (4, 4, 4, 3)])
def test_an_h5_dataset_behind_an_external_link_streams(tmp_path, chunks):
    """The dataset named in the config is an external link into another file
    that holds the data; the config's file has its own dataset of the same
    name there (all 7s), which a streamed run must not read instead."""
    x = np.random.RandomState(4).randn(N, 6, 7, 3)
    with h5py.File(tmp_path / "target.h5", "w") as f:
        f.create_dataset("data/images", data=x, chunks=chunks, compression="gzip" if chunks else None)
    with h5py.File(tmp_path / "main.h5", "w") as f:
        f["data/images"] = np.full_like(x, 7.0)
        f["images"] = h5py.ExternalLink("target.h5", "/data/images")
    whole, streamed = both_ways(tmp_path, make_config(tmp_path, a_prev={"file": "main.h5", "dataset": "images"}))
    assert_same(whole, streamed)
    np.testing.assert_array_equal(streamed[0]["A_prev"], x)


@pytest.mark.parametrize("chunks", [None, (4, 4, 4, 3)])
def test_an_h5_dataset_through_a_soft_link_into_an_external_group_streams(tmp_path, chunks):
    """A streaming review: `dataset: grp/soft/images`, a soft link to an
    external link to a group in another file, ran in memory but streamed
    (chunked) failed 'component not found (a corrupt HDF5 file?)': the
    dataset was reopened for its chunk cache by the path in the config's
    file, in the target file. The config's file holds a decoy at the
    target's path (all 7s)."""
    x = np.random.RandomState(5).randn(N, 6, 7, 3)
    with h5py.File(tmp_path / "real.h5", "w") as f:
        f.create_dataset("data/train/images", data=x, chunks=chunks, compression="gzip" if chunks else None)
    with h5py.File(tmp_path / "glink.h5", "w") as f:
        f["data/train/images"] = np.full_like(x, 7.0)
        f["alias"] = h5py.ExternalLink("real.h5", "/data/train")
        f["grp/soft"] = h5py.SoftLink("/alias")
    whole, streamed = both_ways(tmp_path, make_config(tmp_path, a_prev={"file": "glink.h5",
                                                                        "dataset": "grp/soft/images"}))
    assert_same(whole, streamed)
    np.testing.assert_array_equal(streamed[0]["A_prev"], x)


@pytest.mark.parametrize("chunks", [None, (4, 6, 7, 3)])
def test_a_linked_file_changed_while_streamed_is_an_error(tmp_path, chunks):
    """A streaming review: the file an external link leads to, cut short
    under a streamed run, gave rows of zeros and exit 0; only the config's
    own file was watched. It is watched too, and named with its link."""
    x = np.random.RandomState(0).rand(40, 6, 7, 3)
    with h5py.File(tmp_path / "tgt.h5", "w") as f:
        f.create_dataset("x", data=x, chunks=chunks)
    with h5py.File(tmp_path / "lnk.h5", "w") as f:
        f["x"] = h5py.ExternalLink("tgt.h5", "/x")
    with arrays.Rows(Source(file="lnk.h5", dataset="x"), tmp_path, "inputs.A_prev", dtype="float64",
                     rng=None) as rows:
        np.testing.assert_array_equal(rows.read(0, 10), x[:10])
        size = os.path.getsize(tmp_path / "tgt.h5")
        os.truncate(tmp_path / "tgt.h5", size // 2)
        with pytest.raises(ConvcliError) as err:
            rows.read(10, 20)
    assert str(err.value) == (f"inputs.A_prev: tgt.h5 (linked from lnk.h5) changed while it was being read (it was "
                              f"{size} bytes, now {size // 2}); run again once nothing writes to it")


def test_float32(tmp_path):
    """float32 sums per chunk: dW, db within float32 rounding; the layers'
    outputs the same bits."""
    cfg = make_config(tmp_path, dtype="float32", grad="random")
    (a, a_doc), (b, b_doc) = both_ways(tmp_path, cfg)
    for name in a:
        rtol = 1e-5 if name.endswith((".dW", ".db")) else 0 if name.endswith((".Z", ".A")) else 1e-6
        np.testing.assert_allclose(b[name], a[name], rtol=rtol, atol=rtol * np.abs(a[name]).max(), err_msg=name)
    np.testing.assert_array_equal(b["pool3.dA"], a["pool3.dA"])


def test_rows_equal_load_chunk_by_chunk(tmp_path):
    """arrays.Rows gives, chunk by chunk, exactly what arrays.load gives whole."""
    x = (np.random.RandomState(0).rand(17, 3, 2, 2) * 255).astype(np.uint8)
    np.save(tmp_path / "x.npy", x)
    np.savez(tmp_path / "x.npz", a=x, b=x)
    with h5py.File(tmp_path / "x.h5", "w") as f:
        f["x"] = x
    for spec in [{"file": "x.npy", "slice": "2:15:3", "scale": 0.25}, {"file": "x.npz", "key": "b", "slice": "::4"},
                 {"file": "x.h5", "slice": "-9:"}, {"random": [11, 2, 2, 2]}, {"value": x[:5].tolist()}]:
        src = Source(**spec)
        whole = arrays.load(src, tmp_path, "w", dtype="float32", rng=np.random.RandomState(4))
        with arrays.Rows(src, tmp_path, "w", dtype="float32", rng=np.random.RandomState(4)) as rows:
            assert rows.shape == whole.shape
            parts = [rows.read(r, min(r + 2, len(whole))) for r in range(0, len(whole), 2)]
            with pytest.raises(ValueError, match="out of order"):
                rows.read(0, 1)
        np.testing.assert_array_equal(np.concatenate(parts), whole, err_msg=str(spec))


def test_running_stats_match_describe():
    """Chunk by chunk, with a large mean (where a naive variance loses every digit,
    and a block mean's rounding at 1e8 would cost 1e-11 of the std)."""
    x = 1e8 + np.random.RandomState(5).randn(300_001)
    stats = streaming.RunningStats()
    for i in range(0, x.size, 70_000):
        stats.update(x[i:i + 70_000])
    got, want = stats.result(), describe(x)
    for k in ("mean", "std", "min", "max", "sum", "norm"):
        assert got[k] == pytest.approx(want[k], rel=1e-12), k
    assert got["std"] == pytest.approx(1.0, rel=1e-2)



@pytest.mark.parametrize("size", [1e300, 1e-200])
def test_streamed_stats_of_huge_and_tiny_data_equal_in_memory(tmp_path, size):
    """Squares of 1e300s overflow and those of 1e-200s underflow: streamed,
    std and norm were NaN/Infinity and 0; they must be what describe gives."""
    x = size * np.random.RandomState(2).randn(N, 9, 8, 3)
    np.save(tmp_path / "x.npy", x)
    cfg = write(tmp_path, {"inputs": {"A_prev": {"file": "x.npy"}}, "layers": [{"type": "relu"}]})
    (_, whole), (_, streamed) = both_ways(tmp_path, cfg, command="forward")
    assert streamed["quantities"]["A_prev"]["streamed"]
    for name in ("A_prev", "relu1.A"):
        d, e = whole["quantities"][name], streamed["quantities"][name]
        assert math.isfinite(d["std"]) and d["norm"] > 0  # the in-memory oracle is itself sane
        for k in ("mean", "std", "min", "max", "sum", "norm"):
            assert e[k] == pytest.approx(d[k], rel=1e-12, abs=0), (name, k)


@pytest.mark.parametrize("chunks, expected", [
    # by hand: mean 3.5e300, deviations -+0.5e300, norm 5e300 (3-4-5)
    ([[3e300], [4e300]], {"mean": 3.5e300, "std": 0.5e300, "sum": 7e300, "norm": 5e300}),
    # ordinary data first (unscaled), then data far beyond 2**400: the sums are rescaled
    ([[0.0, 0.0], [3e300, 4e300]], {"mean": 1.75e300, "std": math.sqrt(25 / 4 - 1.75**2) * 1e300,
                                     "sum": 7e300, "norm": 5e300}),
    # mean -1e-200, deviations -+2e-200; norm sqrt(9 + 1) e-200
    ([[-3e-200], [1e-200]], {"mean": -1e-200, "std": 2e-200, "sum": -2e-200, "norm": math.sqrt(10) * 1e-200}),
    # tiny, then ordinary: 1e-200 is negligible beside 3 and 4
    ([[1e-200], [3.0, 4.0]], {"mean": 7 / 3, "std": math.sqrt(25 / 3 - 49 / 9), "sum": 7.0, "norm": 5.0}),
])
def test_running_stats_rescale_as_the_magnitude_grows(chunks, expected):
    stats = streaming.RunningStats()
    for chunk in chunks:
        stats.update(np.array(chunk))
    got = stats.result()
    for k, v in expected.items():
        assert got[k] == pytest.approx(v, rel=1e-14, abs=0), k


# ----------------------------------------------------------------- memory


def traced_stream_peak(tmp_path, cfg, backward, rows):
    """Stream ``cfg`` with the budget its estimate gives for chunks of
    ``rows`` samples; returns (tracemalloc's peak, the estimate)."""
    e = streaming.estimate(runner.plan(cfg), backward)
    p = runner.plan(cfg, memory_budget=e.chunk(rows), backward=backward)
    assert p.stream.rows == rows
    tracemalloc.start()
    try:
        streaming.run_streaming(p, backward, tmp_path, "h5")
        return tracemalloc.get_traced_memory()[1], e
    finally:
        tracemalloc.stop()


# rows: a chunk whose per-sample part outweighs the fixed part (the stride-2
# conv's col2im blocks count at their most, 1.5x conv.CHUNK_BYTES), under the
# cap on a chunk's working memory (streaming.CHUNK_TARGET).
@pytest.mark.parametrize("stack, backward, rows", [("conv-relu-pool", True, 12), ("stride2-avgpool", True, 18),
                                                   ("pool-dilated-relu", False, 12)])
def test_estimate_bounds_the_traced_peak(tmp_path, stack, backward, rows, monkeypatch):
    """What the chunk size is chosen from is an upper bound of what a chunk
    allocates (tracemalloc sees NumPy's buffers, not HDF5's: those are left
    out of the bound), with chunks large enough that the per-sample part
    outweighs the fixed part. One engine thread, whose kept conv buffer is
    dropped first so that tracemalloc sees it allocated again (the estimate
    counts one per thread)."""
    monkeypatch.setenv("CONVCLI_THREADS", "1")
    monkeypatch.setattr(conv_engine, "_scratch_local", threading.local())
    rng = np.random.RandomState(0)
    with h5py.File(tmp_path / "big.h5", "w") as f:
        f["x"] = rng.rand(36, 96, 96, 3).astype(np.float32)
    cfg = make_config(tmp_path, stack=stack, a_prev={"file": "big.h5"}, grad="random")
    peak, e = traced_stream_peak(tmp_path, cfg, backward, rows)
    seen = e.chunk(rows) - streaming.IO_BUFFERS
    assert rows * e.per_sample > e.fixed - streaming.IO_BUFFERS
    assert peak <= seen, (peak, e)
    assert peak >= 0.5 * seen  # and not far above it


def test_estimate_bounds_a_max_pool_whose_blocks_are_sized_by_its_row_segments(tmp_path, monkeypatch):
    """A review: f 4 stride 2 with ties: first, float32 with NaNs in the
    input, one thread. The separable backward's blocks hold a whole
    CHUNK_BYTES of row segments (64 x 32 x 32 float32 a sample), and its
    arrays (the segments' maxima, their gradient, a product, a mask, what
    each segment gave out, two masks of NaNs) plus NumPy's buffers for
    strided operands came to 1.003x the bound with four blocks counted."""
    monkeypatch.setenv("CONVCLI_THREADS", "1")
    x = np.random.RandomState(0).randint(0, 3, (32, 64, 66, 32)).astype(np.float32)
    x[:, ::7, ::5] = np.nan
    with h5py.File(tmp_path / "big.h5", "w") as f:
        f["x"] = x
    data = {"seed": 3, "dtype": "float32", "allow_nonfinite": True, "inputs": {"A_prev": {"file": "big.h5"}},
            "layers": [{"type": "pool", "f": 4, "stride": 2, "ties": "first"}], "backward": {"grad": "random"}}
    peak, e = traced_stream_peak(tmp_path, write(tmp_path, data, "cfg.yaml"), True, 8)
    assert peak <= e.chunk(8) - streaming.IO_BUFFERS, (peak, e)


def traced_conv_layer_peak(tmp_path, monkeypatch, threads, x_shape, W_shape, layer, rows, nan_at=None,
                           dtype="float64"):
    """Stream one conv layer (``layer``: its stride, pad) of ``dtype`` over an .h5
    input of ``x_shape`` on ``threads`` engine threads, each thread's kept
    buffer dropped first; returns (tracemalloc's peak, the estimate). With
    ``nan_at``, a NaN there in the input (``allow_nonfinite: true``)."""
    monkeypatch.setenv("CONVCLI_THREADS", threads)
    monkeypatch.setattr(conv_engine, "_scratch_local", threading.local())
    x = np.random.RandomState(0).rand(*x_shape)
    if nan_at is not None:
        x[nan_at] = np.nan
    with h5py.File(tmp_path / "big.h5", "w") as f:
        f["x"] = x
    data = {"seed": 3, "dtype": dtype, "allow_nonfinite": nan_at is not None,
            "inputs": {"W": {"random": list(W_shape)}, "A_prev": {"file": "big.h5"}, "b": {"random": [W_shape[3]]}},
            "layers": [{"type": "conv", "W": "W", "b": "b", **layer}], "backward": {"grad": "random"}}
    return traced_stream_peak(tmp_path, write(tmp_path, data, "cfg.yaml"), True, rows)


@pytest.mark.parametrize("threads", ["1", "2"])
def test_estimate_bounds_a_weight_heavy_layer(tmp_path, threads, monkeypatch):
    """A layer whose weights outweigh its activations (3x3, 256 -> 256
    channels on 4x4 images): the fixed part of the estimate must hold the
    weight gradient's running sums and, inside a chunk's backward, the flipped
    kernel and each engine thread's partial sum and product, all the size of W."""
    rows = 16  # a multiple of its forward product's 8 samples (16 rows each: conv.sample_group)
    peak, e = traced_conv_layer_peak(tmp_path, monkeypatch, threads, (24, 4, 4, 256), (3, 3, 256, 256),
                                     {"pad": 1}, rows)
    W_bytes = 3 * 3 * 256 * 256 * 8
    assert 4 * W_bytes <= peak <= e.chunk(rows) - streaming.IO_BUFFERS, (peak / W_bytes, e)


@pytest.mark.parametrize("threads", ["1", "2"])
@pytest.mark.parametrize("cut_along_k", [True, False])
def test_estimate_bounds_a_sliced_weight_gradient(tmp_path, threads, cut_along_k, monkeypatch):
    """3x3, 64 -> 64 channels on 16x16 images: the weight gradient's product
    (577, rows) @ (rows, 64) is cut along its 577 rows (conv.SMALL_GEMM_T_COLS;
    partial sums the size of W), or with that cut off, into slices of 27 rows
    (conv.SMALL_GEMM_MNK) whose products a thread stacks, (slices, 577, 64),
    ~4x the block it came from, before it sums them: the estimate must count
    that stack per thread (conv.grad_sum_bytes), not only arrays the size of W."""
    import convcli.conv as conv

    monkeypatch.setattr(conv, "SMALL_GEMM_MNK", 100 ** 3)  # whatever this machine's BLAS has
    monkeypatch.setattr(conv, "SMALL_GEMM_T_COLS", 24 if cut_along_k else 0)
    assert bool(conv._gemm_cols_t(577, 64)) == cut_along_k
    assert conv._gemm_rows(577, 64, 256, 8, transposed=True) < 256  # the slices of rows otherwise
    rows = 12
    peak, e = traced_conv_layer_peak(tmp_path, monkeypatch, threads, (24, 16, 16, 64), (3, 3, 64, 64),
                                     {"pad": 1}, rows)
    assert peak <= e.chunk(rows) - streaming.IO_BUFFERS, (peak, e)


@pytest.mark.parametrize("threads", ["1", "2"])
def test_estimate_bounds_a_stems_weight_gradient_by_rows(tmp_path, threads, monkeypatch):
    """Attempts 99-100: an RGB stem's weight gradient (4x4, 3 -> 8 channels)
    unfolds its input along W only, blocks of many small samples, whose
    (samples, f_H, f_W*C_in, C_out) products a thread holds before it sums
    them (conv.rows_bytes), and its input gradient dZ's, with f_H products
    a block (conv.input_rows_bytes): within the estimate, both seen to run."""
    ran = []
    real, real_input = conv_engine._weight_grad_rows, conv_engine._input_grad_rows
    monkeypatch.setattr(conv_engine, "_weight_grad_rows", lambda *a: ran.append("dW") or real(*a))
    monkeypatch.setattr(conv_engine, "_input_grad_rows", lambda *a: ran.append("dA_prev") or real_input(*a))
    rows = 16
    peak, e = traced_conv_layer_peak(tmp_path, monkeypatch, threads, (48, 40, 40, 3), (4, 4, 3, 8),
                                     {"pad": 2}, rows)
    assert ran == ["dA_prev", "dW"] * 3  # a chunk at a time (and its input gradient by rows: attempt 100)
    assert peak <= e.chunk(rows) - streaming.IO_BUFFERS, (peak, e)


@pytest.mark.parametrize("threads", ["1", "2"])
def test_estimate_bounds_a_strided_large_kernel_layer(tmp_path, threads, monkeypatch):
    """Stride 2 takes the input gradient through col2im, whose product dZ @ W.T
    is a block of (samples, n_H, n_W, 11*11*16) per GEMM (4 MB a sample,
    against 131 KB of input): one sample a block here, several blocks per
    thread. The estimate counts one block per thread, so a thread must not
    hold the last block's product while it makes the next (a fresh array per
    block kept two alive)."""
    rows = 8
    peak, e = traced_conv_layer_peak(tmp_path, monkeypatch, threads, (16, 32, 32, 16), (11, 11, 16, 16),
                                     {"stride": 2, "pad": 5}, rows)
    assert peak <= e.chunk(rows) - streaming.IO_BUFFERS, (peak, e)


@pytest.mark.parametrize("threads", ["1", "2"])
@pytest.mark.parametrize("x_shape, W_shape", [((24, 32, 32, 1), (3, 3, 1, 16)), ((24, 20, 20, 3), (5, 5, 3, 32))])
def test_estimate_bounds_a_stride1_layer_taking_col2im(tmp_path, threads, x_shape, W_shape, monkeypatch):
    """A stride-1 layer of 1-3 input channels may take its input gradient
    through col2im (conv._backward_fast): a channel-first padded dA and the
    product's blocks, which the estimate must count as for a strided layer."""
    rows = 8
    peak, e = traced_conv_layer_peak(tmp_path, monkeypatch, threads, x_shape, W_shape, {"pad": W_shape[0] // 2}, rows)
    assert peak <= e.chunk(rows) - streaming.IO_BUFFERS, (peak, e)


@pytest.mark.parametrize("threads", ["1", "2"])
@pytest.mark.parametrize("x_shape, W_shape, pad", [((24, 16, 16, 8), (3, 3, 8, 64), 1),
                                                  ((24, 12, 12, 12), (3, 3, 12, 96), 1),
                                                  ((24, 14, 14, 6), (5, 5, 6, 16), 0),
                                                  ((24, 12, 12, 16), (5, 5, 16, 32), 0)])
def test_a_streamed_widening_layer_takes_col2im_within_the_estimate(tmp_path, threads, x_shape, W_shape, pad,
                                                                   monkeypatch):
    """A stride-1 layer that widens its channels enough (8 -> 64,
    channel-first; 12 -> 96, NHWC: attempt 105), or enough by positions too
    (valid: 6 -> 16 5x5 on 14x14, 5.2 times; 16 -> 32 on 12x12, 4.5 times:
    attempt 113) takes its input gradient through col2im in each chunk, and
    its peak stays within the estimate.
    (The estimate counts the gather's terms too, over dZ's wider channels,
    and they are the larger here: this checks the peak of the path taken,
    not that col2im's own terms are what bound it.)"""
    taken = calls(monkeypatch, conv_engine, "_input_grad_col2im")
    rows = 8
    peak, e = traced_conv_layer_peak(tmp_path, monkeypatch, threads, x_shape, W_shape, {"pad": pad}, rows)
    assert len(taken) == 3, taken  # 24 samples in chunks of 8
    assert peak <= e.chunk(rows) - streaming.IO_BUFFERS, (peak, e)


@pytest.mark.parametrize("threads", ["1", "2"])
@pytest.mark.parametrize("x_shape, W_shape, layer", [((24, 15, 15, 12), (3, 3, 12, 16), {"stride": 2, "pad": 1}),
                                                     ((24, 7, 7, 96), (1, 1, 96, 64), {"stride": 2})])
def test_estimate_bounds_a_float32_strided_layer_scattering_by_phase(tmp_path, threads, x_shape, W_shape, layer,
                                                                   monkeypatch):
    """A float32 strided layer of more than 8 input channels scatters its
    input gradient by stride phase (attempt 111): a padded gradient a block
    on each thread, up to s - 1 rows and columns more than the padded input
    (7x7 at stride 2 by a 1x1 kernel: 2 phases of 4 rows and columns, 8x8;
    96 -> 64 channels: at 12 -> 8 a chunk's arrays, ~136 KB, left 5-14 KB of
    room, less than tracemalloc's noise: first-run allocations, h5py's
    registry rehashed (9 KB), NumPy < 2.3's float64 reduction buffers).
    Each chunk takes that path and its peak stays within the estimate (whose
    other terms have room for it here: the term itself is checked in
    test_the_estimate_counts_the_stride_phases_extent)."""
    taken = calls(monkeypatch, conv_engine, "_input_grad_col2im_phases")
    rows = 8
    peak, e = traced_conv_layer_peak(tmp_path, monkeypatch, threads, x_shape, W_shape, layer, rows, dtype="float32")
    assert len(taken) == 3, taken
    assert peak <= e.chunk(rows) - streaming.IO_BUFFERS, (peak, e)


@pytest.mark.parametrize("in_hw, f, C_in, C_out, pad, col2im", [
    ((14, 14), (5, 5), 6, 16, (0, 0, 0, 0), True),    # valid: 16/6 * 196/100 = 5.2 times by positions
    ((14, 14), (3, 3), 8, 16, (0, 0, 0, 0), False),   # 2 * 196/144 = 2.7
    ((10, 10), (3, 3), 4, 16, (2, 2, 2, 2), False),   # padded past "same": 4 * 100/144 = 2.8
    ((10, 10), (3, 3), 4, 16, (1, 1, 1, 1), True),    # "same": 4 times, as the channels
])
def test_the_estimate_counts_col2im_where_a_layer_widens_by_positions(in_hw, f, C_in, C_out, pad, col2im):
    """A stride-1 layer whose input gradient may take col2im because it
    widens by positions (attempt 113: C_out H_in W_in / (C_in H_out W_out),
    worked out by hand above, 4 times or more) has col2im's product block
    counted in its estimate; one that does not, has none (the engine's own
    rule agrees at the tile width it takes, float64's untiled)."""
    import types

    (H, W), s = in_hw, 8
    n_H, n_W = H + pad[0] + pad[1] - f[0] + 1, W + pad[2] + pad[3] - f[1] + 1
    ls = types.SimpleNamespace(in_shape=(8, H, W, C_in), out_shape=(8, n_H, n_W, C_out),
                               hyper={"f": f, "stride": (1, 1), "pad": pad, "dilation": (1, 1)})
    assert (streaming._conv_terms(ls, s, "fast")[4] > 0) == col2im
    assert conv_engine.stride1_col2im(C_in, C_out, 1, Fraction(H * W, n_H * n_W)) == col2im


@pytest.mark.parametrize("in_hw, f, stride, pad, phases", [
    ((7, 7), (1, 1), (2, 2), (0, 0, 0, 0), (8, 8)),      # 2 phases of 4: one row and column past the input
    ((15, 15), (3, 3), (2, 2), (1, 1, 1, 1), (18, 18)),  # 2 phases of 8 + 1 (the kernel's reach): 17 padded
    ((5, 5), (2, 2), (2, 2), (0, 0, 0, 0), (6, 6)),      # the input's last row past the scatter's 2 + 0 (a review)
    ((4, 4), (2, 2), (3, 3), (0, 0, 0, 0), (6, 6)),      # 3 phases of 2 (the input's reach): 4 past 1 + 0
])
def test_the_estimate_counts_the_stride_phases_extent(in_hw, f, stride, pad, phases):
    """The estimate's padded gradient for a strided layer's col2im covers the
    stride-phase scatter's (attempt 111), whose extent along an axis is s
    phases of the longer of the scatter's reach and the input's, worked out
    by hand above; per sample, 12 input channels, float32."""
    import types

    (H, W), C, s = in_hw, 12, 4
    n_H = (H + pad[0] + pad[1] - f[0]) // stride[0] + 1
    n_W = (W + pad[2] + pad[3] - f[1]) // stride[1] + 1
    ls = types.SimpleNamespace(in_shape=(8, H, W, C), out_shape=(8, n_H, n_W, 5),
                               hyper={"f": f, "stride": stride, "pad": pad, "dilation": (1, 1)})
    assert streaming._conv_terms(ls, s, "fast")[1] >= phases[0] * phases[1] * C * s
    assert conv_engine.phase_extent(n_H, f[0], stride[0], 1, pad[0] + H) == phases[0]


@pytest.mark.parametrize("threads", ["1", "2"])
def test_estimate_bounds_a_layer_whose_input_holds_a_nan(tmp_path, threads, monkeypatch):
    """With a NaN in its input, a layer whose weight gradient comes from the
    unfolded dZ (8 or more input channels) does that gradient again the
    plain way (conv._backward_fast): it had redone the input gradient through
    col2im too, whose padded dA the estimate does not count for this layer
    (a review: 21.65 MiB traced against 20.33 estimated)."""
    rows = 8
    peak, e = traced_conv_layer_peak(tmp_path, monkeypatch, threads, (24, 40, 40, 64), (3, 3, 64, 8),
                                     {"pad": 0}, rows, nan_at=(5, 3, 3, 0))
    assert peak <= e.chunk(rows) - streaming.IO_BUFFERS, (peak, e)


@pytest.mark.parametrize("streamed", [False, True])
def test_estimate_counts_what_the_reference_engine_holds(tmp_path, streamed, monkeypatch):
    """The reference engine's conv backward holds the padded input and the
    padded gradient at once (conv._backward_reference): with pad 60 around
    8x8 images, 2 x 128x128x3 float64 (768 KiB) a sample, which the fast
    engine's estimate counted once (in memory: 61 MB traced, 44 MB
    estimated). Its loops are slow: stride 20 keeps them to 7x7 windows."""
    monkeypatch.setenv("CONVCLI_THREADS", "1")
    m = 80
    data = {"seed": 1, "engine": "reference",
            "inputs": {"A_prev": {"random": [m, 8, 8, 3]}, "W": {"random": [3, 3, 3, 1]}, "b": {"random": [1]}},
            "layers": [{"type": "conv", "W": "W", "b": "b", "pad": 60, "stride": 20}], "backward": {"grad": "ones"}}
    cfg = write(tmp_path, data)
    if streamed:
        rows = 20
        peak, e = traced_stream_peak(tmp_path, cfg, True, rows)
        assert 2 * rows * 128 * 128 * 3 * 8 <= peak <= e.chunk(rows), (peak, e)
        return
    p = runner.plan(cfg)
    e = streaming.estimate(p, True)
    tracemalloc.start()
    try:
        runner.run(p, backward=True)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert 2 * m * 128 * 128 * 3 * 8 <= peak <= e.in_memory(m), (peak, e)


def test_a_zip_member_is_skipped_within_the_estimate(tmp_path):
    """A slice: far into an .npz member: the rows before it are read and
    dropped a piece at a time. zipfile's own seek reads up to 16 MiB at once
    and holds about three times what it reads: here 90 rows of 64 KiB, ~17
    MiB, beside an estimate of ~9 MiB."""
    np.savez_compressed(tmp_path / "x.npz", x=np.zeros((100, 32, 32, 8)))
    data = {"seed": 1, "inputs": {"A_prev": {"file": "x.npz", "slice": "90:100"}}, "layers": [{"type": "relu"}],
            "backward": {"grad": "ones"}}
    peak, e = traced_stream_peak(tmp_path, write(tmp_path, data), True, 2)
    assert peak <= e.chunk(2), (peak, e)


def test_rows_of_compressed_chunks_are_read_through_a_chunk_cache(tmp_path):
    """Read row after row, a dataset in compressed chunks is inflated once per
    chunk only if HDF5's chunk cache holds every chunk one row touches (else
    once per row: 64 samples of 1 MiB in one chunk took 19.9 s to read
    instead of 0.35 s); the estimate counts 2x that cache plus 2x a chunk. A
    chunked dataset that is not compressed is read straight from the file."""
    x = np.random.RandomState(0).rand(N, 6, 7, 3)
    with h5py.File(tmp_path / "x.h5", "w") as f:
        f.create_dataset("whole", data=x, chunks=x.shape, compression="gzip")
        f.create_dataset("tiles", data=x, chunks=(N, 3, 4, 3), compression="gzip")
        f.create_dataset("plain", data=x, chunks=(N, 3, 4, 3))
        f["contiguous"] = x
    # Bytes of the chunks a row touches: one chunk of 10*6*7*3 float64; 2*2
    # tiles of 10*3*4*3 (the dataset's 7 columns take two tiles of 4).
    whole, tiles = N * 6 * 7 * 3 * 8, 2 * 2 * N * 3 * 4 * 3 * 8
    for dataset, cache in [("whole", whole), ("tiles", tiles), ("plain", 0)]:
        with arrays.Rows(Source(file="x.h5", dataset=dataset), tmp_path, "w", dtype="float64", rng=None) as rows:
            assert rows._dataset.id.get_access_plist().get_chunk_cache()[1] == cache, dataset
            np.testing.assert_array_equal(np.concatenate([rows.read(r, r + 1) for r in range(N)]), x)
    fixed = {}
    for dataset in ("whole", "tiles", "plain", "contiguous"):
        cfg = make_config(tmp_path, a_prev={"file": "x.h5", "dataset": dataset}, name=f"{dataset}.yaml")
        fixed[dataset] = streaming.estimate(runner.plan(cfg), True).fixed
    assert fixed["plain"] == fixed["contiguous"]
    assert fixed["whole"] - fixed["contiguous"] == 2 * whole + 2 * whole
    assert fixed["tiles"] - fixed["contiguous"] == 2 * tiles + 2 * (N * 3 * 4 * 3 * 8)


@pytest.mark.parametrize("chunks", [(N, 32, 32, 3), (N, 8, 8, 3)])
def test_a_compressed_chunk_too_large_for_the_budget(tmp_path, monkeypatch, chunks):
    """An input stored compressed in one chunk for the whole batch (or in
    tiles of every sample) fits a budget only with room for the chunks a
    sample touches inflated: the error says so, with the chunk shape, the
    budget that fits and how to rechunk the dataset, one whole sample a
    chunk (a review: tiles were offered 1x8x8x3), the file named from where
    the user runs it, not from the config's folder (a review)."""
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    x = np.random.RandomState(0).rand(N, 32, 32, 3)
    with h5py.File(tmp_path / "c.h5", "w") as f:
        f.create_dataset("images", data=x, chunks=chunks, compression="gzip")
    cfg = make_config(tmp_path, a_prev={"file": "c.h5"})
    e = streaming.estimate(runner.plan(cfg), True)
    # the estimate's count: twice the chunks a sample touches, and two chunks more
    chunk, touched = math.prod(chunks) * 8, (32 // chunks[1]) * (32 // chunks[2])
    before = tree(tmp_path)
    result = run(["backward", cfg, "--out", tmp_path / "out", "--memory-budget", str(e.chunk(1) - 1)])
    line = assert_error(result, "convcli: error: --memory-budget: ", "streams A_prev (c.h5)",
                        f"HDF5 chunks of shape {chunks} ({arrays.format_size(math.prod(chunks) * 8)} each)",
                        f"takes about {arrays.format_size(2 * touched * chunk + 2 * chunk)}",
                        "(h5repack -l images:CHUNK=1x32x32x3 ../c.h5 NEW.h5)")
    assert tree(tmp_path) == before
    need = line.split("use --memory-budget ", 1)[1].split()[0]
    again = run(["backward", cfg, "--out", tmp_path / "out", "--memory-budget", need, "--json"])
    assert again.exit_code == 0, again.stderr
    assert json.loads(again.stdout)["streaming"]["chunk_rows"] >= 1


def test_a_compressed_chunk_of_one_sample_gets_no_rechunk_advice(tmp_path, monkeypatch):
    """A review: a dataset already stored in chunks of one sample was told to
    rechunk to the very layout it had (h5repack -l x:CHUNK=1x32x32x3); the
    budget or the data stored uncompressed (which the estimate counts no
    inflating for: the run then fits) are the ways there."""
    monkeypatch.chdir(tmp_path)  # the command names the file from here
    x = np.random.RandomState(0).rand(N, 32, 32, 3)
    with h5py.File(tmp_path / "c.h5", "w") as f:
        f.create_dataset("images", data=x, chunks=(1, 32, 32, 3), compression="gzip")
    cfg = make_config(tmp_path, a_prev={"file": "c.h5"})
    e = streaming.estimate(runner.plan(cfg), True)
    before = tree(tmp_path)
    result = run(["backward", cfg, "--out", tmp_path / "out", "--memory-budget", str(e.chunk(1) - 1)])
    line = assert_error(result, "convcli: error: --memory-budget: ", "HDF5 chunks of shape (1, 32, 32, 3)")
    assert "CHUNK=" not in line and "fewer samples" not in line
    assert re.search(r"use --memory-budget \S+ or more, or store it uncompressed \(h5repack -f NONE c.h5 NEW.h5\)$",
                     line), line
    assert tree(tmp_path) == before
    with h5py.File(tmp_path / "c.h5", "w") as f:  # what that command makes: the same budget runs it
        f.create_dataset("images", data=x, chunks=(1, 32, 32, 3))
    again = run(["backward", cfg, "--out", tmp_path / "out", "--memory-budget", str(e.chunk(1) - 1)])
    assert again.exit_code == 0, again.stderr


def test_a_budget_too_small_for_one_sample(tmp_path):
    cfg = make_config(tmp_path)
    before = tree(tmp_path)
    result = run(["backward", cfg, "--out", tmp_path / "out", "--memory-budget", "64KiB"])
    line = assert_error(result, "convcli: error: --memory-budget: 64.0 KiB is too small",
                        "streams A_prev (x.h5[images] rows 1:11", "one sample", "use --memory-budget")
    assert tree(tmp_path) == before
    need = line.rsplit("use --memory-budget ", 1)[1].split()[0]
    e = streaming.estimate(runner.plan(cfg), True)
    assert e.chunk(1) <= arrays.parse_size(need)
    # the parts of what any chunk needs add up to it (a review read "19.4 MiB ... : 43.9 KiB"), and
    # the inputs held whole are named (a review: a large input no layer used was called a parameter)
    W, b = (int(np.prod(runner.plan(cfg).input_info[k].shape)) * 8 for k in ("W", "b"))
    assert (f"plus {arrays.format_size(e.resident + e.fixed)} that any chunk needs "
            f"({arrays.format_size(e.fixed)} for the engine's per-thread block buffers and the I/O buffers, "
            f"{arrays.format_size(W + b)} for the inputs held whole beside A_prev (W {arrays.format_size(W)}, "
            f"b {arrays.format_size(b)}), {arrays.format_size(e.resident - W - b)} for the conv layers' weights "
            f"and their gradients' sums)") in line
    again = run(["backward", cfg, "--out", tmp_path / "out", "--memory-budget", need])
    assert again.exit_code == 0, again.stderr


def test_a_budget_too_small_for_one_sample_names_the_one_that_holds_a_product_group(tmp_path):
    """An instructor's review: the budget the error named streamed chunks of
    one sample, whose small conv maps were not the in-memory run's to the
    last bit (the run then said a larger budget would be). The error names
    both: a budget of the first runs, one of the second streams chunks of a
    group (7x7 maps, 49 rows a sample: four) with every layer output the
    in-memory run's."""
    np.save(tmp_path / "x.npy", np.random.RandomState(0).rand(N, 56, 56, 16))
    cfg = write(tmp_path, {"seed": 1, "inputs": {"A_prev": {"file": "x.npy"}, "W": {"random": [8, 8, 16, 4]},
                                                 "b": {"random": [4]}},
                           "layers": [{"type": "conv", "W": "W", "b": "b", "stride": 8}, {"type": "relu"}],
                           "backward": {"grad": "output"}})
    result = run(["backward", cfg, "--out", tmp_path / "out", "--memory-budget", "64KiB"])
    line = assert_error(result, "convcli: error: --memory-budget: 64.0 KiB is too small")
    e = streaming.estimate(runner.plan(cfg), True)
    one, group = streaming.budget_arg(e.chunk(1)), streaming.budget_arg(e.chunk(4))
    assert one != group
    assert line.endswith(f"use --memory-budget {one} or more ({group} or more for chunks of 4, whose outputs are "
                         "the in-memory run's to the last bit)"), line
    assert run(["backward", cfg, "--out", tmp_path / "whole"]).exit_code == 0
    streamed = run(["backward", cfg, "--out", tmp_path / "streamed", "--memory-budget", group])
    assert "chunks of 4" in streamed.stdout and "note:" not in streamed.stdout, streamed.stdout
    for q in ("conv1.Z", "relu2.A"):
        np.testing.assert_array_equal(np.load(tmp_path / "streamed" / f"{q}.npy"),
                                      np.load(tmp_path / "whole" / f"{q}.npy"), err_msg=q)


def test_one_samples_need_is_told_in_the_parts_the_summary_gives(tmp_path):
    """A review: the error said one sample "needs about 46.2 KiB" where the
    summary of a streamed run gave a per_sample of 14672 bytes: the error's
    figure held the conv caches' unfolded input and a pool pass's scratch
    too. It now names those parts, and they are the summary's per_sample,
    cache_kept and pool_scratch of a run in chunks of one sample."""
    cfg = make_config(tmp_path)
    e = streaming.estimate(runner.plan(cfg), True)
    line = assert_error(run(["backward", cfg, "--out", tmp_path / "no", "--memory-budget", "64KiB"]),
                        "convcli: error: --memory-budget: ")
    said = line.split("needs about ", 1)[1].split(", plus ", 1)[0]
    one = json.loads(run(["backward", cfg, "--out", tmp_path / "one", "--memory-budget", str(e.chunk(1)),
                          "--json"]).stdout)["streaming"]
    assert one["chunk_rows"] == 1
    assert one["cache_kept"] > 0 and one["pool_scratch"] > 0  # the conv-relu-pool stack has both parts
    total = one["per_sample"] + one["cache_kept"] + one["pool_scratch"]
    assert one["estimated_peak"] == one["fixed"] + total
    size = arrays.format_size
    assert said == (f"{size(total)} ({size(one['per_sample'])} for its arrays, {size(one['cache_kept'])} for what "
                    f"the conv layers' caches keep of its unfolded input, {size(one['pool_scratch'])} for a pool "
                    "pass's scratch)")


def test_chunks_unfold_as_the_whole_batch_does(tmp_path, monkeypatch):
    """A review: a float32 run streamed in chunks of 6 samples unfolded each
    chunk's conv without tiles (too small a pass for them) where the whole
    batch in memory took tiles; the last bits moved, a max pool's tie broke,
    and check failed 5 of 12 entries against the in-memory run. Every chunk
    now takes the whole batch's tile widths (conv.planned_for)."""
    rng = np.random.RandomState(1)
    with h5py.File(tmp_path / "a.h5", "w") as f:
        f["A"] = rng.randn(200, 32, 32, 3).astype(np.float32)
    cfg = write(tmp_path, {"seed": 0, "dtype": "float32",
                           "inputs": {"A_prev": {"file": "a.h5", "dataset": "A"}, "W": {"random": [3, 3, 3, 4]},
                                      "b": {"random": [4]}},
                           "layers": [{"type": "conv", "W": "W", "b": "b", "pad": 1, "stride": 2}],
                           "backward": {"grad": "ones"}})
    tiles = []
    forward_fast = conv_engine._forward_fast
    monkeypatch.setattr(conv_engine, "_forward_fast",
                        lambda A_prev, W, b, g, T: tiles.append((g.m, T)) or forward_fast(A_prev, W, b, g, T))
    assert run(["backward", cfg, "--out", tmp_path / "mem"]).exit_code == 0
    assert len(tiles) == 1 and tiles[0][0] == 200
    T = tiles[0][1]
    # by hand: 200 * 16 * 16 output positions of 3*3*3 float32 values, 5.3 MiB unfolded, past
    # TILE_MIN_BYTES; a chunk of 6 samples unfolds 166 KiB, which on its own takes no tiles
    assert T > 1 and conv_engine._tile_width(16, 3, 4, 3, 2, 1, np.float32, 6 * 16 * 16 * 27 * 4) == 1
    tiles.clear()
    result = run(["backward", cfg, "--out", tmp_path / "st", "--memory-budget", str(budget_for(cfg, 6)), "--json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["streaming"]["chunk_rows"] == 6
    assert len(tiles) == 34 and {t for _, t in tiles} == {T}
    # Z: the same bits (each sample its own product: see the next test). dA_prev: BLAS may round a
    # chunk's smaller products otherwise (OpenBLAS's Haswell kernels, on an AMD machine, moved 102 of
    # Z's 204800 values by up to 3.1e-6 before Z's products were per sample): float32 rounding of the
    # sum's terms, bounded here by 2 * K * eps of the largest (K = 36 products), far under what other
    # tiles change
    np.testing.assert_array_equal(np.load(tmp_path / "st" / "conv1.Z.npy"), np.load(tmp_path / "mem" / "conv1.Z.npy"))
    eps = np.finfo(np.float32).eps
    for name, K, scale in (("conv1.dA_prev", 36, "conv1.dZ"),):
        st, mem = (np.load(tmp_path / d / f"{name}.npy") for d in ("st", "mem"))
        terms = np.abs(np.load(tmp_path / "mem" / f"{scale}.npy")).max() * \
            np.abs(np.load(tmp_path / "mem" / "W.npy")).max()
        np.testing.assert_allclose(st, mem, rtol=0, atol=2 * K * eps * terms)


def write_flat_images(path, seed: int, n: int, corner: int, sizes: tuple[int, int]) -> None:
    """n uint8 28x28 images into ``path`` (dataset x): a flat background and
    three flat blocks of one grey each, their corners below ``corner`` and
    their sides in ``range(*sizes)``, whose equal windows tie."""
    rng = np.random.RandomState(seed)
    images = np.zeros((n, 28, 28, 1), np.uint8)
    for img in images:
        for _ in range(3):
            y, x, h, w = rng.randint(0, corner, 2).tolist() + rng.randint(*sizes, 2).tolist()
            img[y:y + h, x:x + w] = rng.choice([85, 170, 255])
    with h5py.File(path, "w") as f:
        f["x"] = images


def assert_streamed_key_passes_in_memory(tmp_path, cfg) -> None:
    """check of the streamed run's expected.yaml (tmp_path/streamed) in
    memory passes every one of its more than 50 entries."""
    result = run(["check", cfg, "--expected", tmp_path / "streamed" / "expected.yaml", "--json"])
    assert result.exit_code == 0, result.stdout
    counts = json.loads(result.stdout)["counts"]["expected"]
    assert counts["checks"] == counts["passed"] > 50, counts


@pytest.mark.parametrize("rows", [7, 13])
def test_a_streamed_float32_run_keeps_the_ties_of_flat_images(tmp_path, rows):
    """A review: 300 uint8 28x28 images with a flat background through conv
    3x3 -> 8, relu and a max pool of 2, in float32, streamed in chunks: 17-35%
    of conv1.Z was an ulp off the in-memory run's, its flat regions' equal
    values tied in one run and not in the other, dW moved by up to 25% and
    check failed 28 of 58 of the streamed expected.yaml's entries in memory.
    Now every layer output is the in-memory run's, bit for bit, so the pool
    picks the same maxima, the gradients agree to float32's rounding of
    sums over chunks, and check passes every entry."""
    write_flat_images(tmp_path / "x.h5", 4, 60, 20, (3, 9))
    cfg = write(tmp_path, {"seed": 1, "dtype": "float32",
                           "inputs": {"A_prev": {"file": "x.h5", "dataset": "x", "scale": 1 / 255},
                                      "W": {"random": [3, 3, 1, 8]}, "b": {"random": [8]}},
                           "layers": [{"type": "conv", "W": "W", "b": "b"}, {"type": "relu"},
                                      {"type": "pool", "f": 2}],
                           "backward": {"grad": "random"}})
    (a, _), (b, doc) = both_ways(tmp_path, cfg, rows=rows)
    assert doc["streaming"]["chunk_rows"] == rows
    for name in ("conv1.Z", "relu2.A", "pool3.A"):
        np.testing.assert_array_equal(b[name], a[name], err_msg=name)
    # by hand: a flat region's windows tie in every pool window it covers whole
    assert (a["pool3.A"] == 0).mean() < 0.9 and len(np.unique(a["relu2.A"])) < a["relu2.A"].size / 10
    for name in ("conv1.dW", "conv1.db", "conv1.dA_prev"):
        np.testing.assert_allclose(b[name], a[name], rtol=1e-5, atol=1e-5 * np.abs(a[name]).max(), err_msg=name)
    assert_streamed_key_passes_in_memory(tmp_path, cfg)


@pytest.mark.parametrize("limit", ["memory_budget", "max_memory"])
def test_a_streamed_float32_run_keeps_the_ties_of_small_output_maps(tmp_path, limit):
    """A review: flat 28x28 images through two stride-2 convs (7x7 maps, 49
    rows a sample), relu and a max pool, in float32, streamed: 46% of
    conv2.Z an ulp off the in-memory run's, whose blocks' products held
    rows of several samples, moved the pool's ties, dW and db by up to 28%,
    and failed 48 of 96 of the streamed expected.yaml's checks in memory.
    Samples that small now make products in groups counted from the batch's
    first (conv.sample_group: four of 49 rows), and chunks hold a multiple of
    the group: a budget for 7 samples a chunk takes 4, and so does a
    --max-memory that holds 5 of the input's samples as read (a review: it
    cut the chunks to 6 after the budget's were rounded)."""
    write_flat_images(tmp_path / "x.h5", 5, 40, 16, (6, 13))
    cfg = write(tmp_path, {"seed": 1, "dtype": "float32",
                           "inputs": {"A_prev": {"file": "x.h5", "dataset": "x", "scale": 1 / 255},
                                      "W1": {"random": [3, 3, 1, 8]}, "b1": {"random": [8]},
                                      "W2": {"random": [3, 3, 8, 16]}, "b2": {"random": [16]}},
                           "layers": [{"type": "conv", "W": "W1", "b": "b1", "stride": 2, "pad": 1},
                                      {"type": "conv", "W": "W2", "b": "b2", "stride": 2, "pad": 1},
                                      {"type": "relu"}, {"type": "pool", "f": 2}],
                           "backward": {"grad": "random"}})
    # (a --max-memory that holds 5 samples of the input as read, the code before found: not a multiple of 4)
    extra = ("--max-memory", str(7 * 6272 + 100)) if limit == "max_memory" else ()
    (a, _), (b, doc) = both_ways(tmp_path, cfg, rows=40 if extra else 7, extra=extra)
    assert a["conv2.Z"].shape == (40, 7, 7, 16)
    assert (doc["streaming"]["chunk_rows"], doc["streaming"]["product_group"]) == (4, 4)
    for name in ("conv1.Z", "conv2.Z", "relu3.A", "pool4.A"):
        np.testing.assert_array_equal(b[name], a[name], err_msg=name)
    # by hand: the flat regions' windows tie (the background's, and a block's inside)
    assert len(np.unique(a["conv2.Z"])) < a["conv2.Z"].size / 2
    for name in ("conv2.dW", "conv2.db", "conv1.dW", "conv1.dA_prev"):
        np.testing.assert_allclose(b[name], a[name], rtol=1e-5, atol=1e-5 * np.abs(a[name]).max(), err_msg=name)
    assert_streamed_key_passes_in_memory(tmp_path, cfg)


def test_a_budget_too_small_names_the_large_input_held_whole(tmp_path):
    """A review: a 69 MiB input that no layer uses made a relu's forward need
    77 MiB, and the error called it "the parameters and their gradients"."""
    cfg = write(tmp_path, "inputs:\n  A_prev: {random: [1, 2, 2, 1]}\n  B: {zeros: [3000, 3000]}\n"
                          "layers: [{type: relu}]\n")
    line = assert_error(run(["forward", cfg, "--out", tmp_path / "o", "--memory-budget", "40MiB"]),
                        "convcli: error: --memory-budget: 40.0 MiB is too small for this run")
    assert "68.7 MiB for the inputs held whole beside A_prev (B 68.7 MiB))" in line  # 3000*3000*8 bytes
    assert "parameters" not in line and "conv layers" not in line  # a ReLU holds nothing else
    assert not (tmp_path / "o").exists()
    # (a review) a forward pass sums no gradient; a batch written in the config is held whole
    cfg = write(tmp_path, "inputs:\n  A_prev: {value: [[[[1.0], [2.0]], [[3.0], [4.0]]]]}\n"
                          "  W: {random: [1, 1, 1, 2]}\n  b: {random: [2]}\n"
                          "layers: [{type: conv, W: W, b: b, pad: 300}]\n", "v.yaml")
    line = assert_error(run(["forward", cfg, "--out", tmp_path / "o", "--memory-budget", "1KiB"]),
                        "convcli: error: --memory-budget: 1.0 KiB is too small for this run")
    assert "32 B for A_prev itself, a value: written in the config, held whole" in line, line  # 4 float64
    assert "for the conv layers' weights)" in line and "sums" not in line, line


def test_a_small_run_holds_one_threads_buffers_however_many_threads(tmp_path, monkeypatch):
    """A robustness review: the estimate counted every engine thread's block
    buffers (3.3 MiB each) whatever the run, so CONVCLI_THREADS=160 (a
    160-core server's BLAS) had the seed's 4 KiB run refused under the
    default 512 MiB budget. parallel.map_blocks gives a thread two blocks at
    least, and no block holds more than its pass's whole batch: a run of
    small layers runs on one thread, whatever the count."""
    from test_cli_helpers import CONFIGS

    cfg = CONFIGS / "seed.yaml"
    fixed = {}
    for n in ("1", "160"):
        monkeypatch.setenv("CONVCLI_THREADS", n)
        e = streaming.estimate(runner.plan(cfg), True)
        fixed[n] = (e.fixed, e.resident)
        result = run(["backward", cfg, "--out", tmp_path / f"out{n}", "--json"])
        assert result.exit_code == 0, result.stderr
        assert json.loads(result.stdout)["streaming"] is None  # in memory
    assert fixed["160"] == fixed["1"]
    # a layer whose passes split into many blocks (64 MB unfolded) still counts a buffer per thread
    big = make_config(tmp_path, a_prev={"random": [64, 64, 64, 3]}, name="big.yaml")
    monkeypatch.setenv("CONVCLI_THREADS", "1")
    one = streaming.estimate(runner.plan(big), True).fixed
    monkeypatch.setenv("CONVCLI_THREADS", "4")
    assert streaming.estimate(runner.plan(big), True).fixed > one


def test_bad_budget_value(tmp_path):
    result = run(["forward", make_config(tmp_path), "--out", tmp_path / "out", "--memory-budget", "lots"])
    assert_error(result, "--memory-budget: cannot read 'lots' as a size")


def test_max_memory_caps_a_streamed_chunk_not_the_whole_batch(tmp_path):
    """A review: a 13.7 GiB .h5 input was refused by --max-memory's 4 GiB
    default "before allocating it", though a streamed run never holds it
    whole. --max-memory caps what a streamed run holds, a chunk of each
    batch-shaped array, and a batch from a file that it would refuse whole
    streams whatever the budget. Here one sample of conv1's padded input is
    11*10*3 float64 = 2640 B, of its output 9*8*4*8 = 2304 B, and of the
    upstream gradient its backward pads 11*10*4*8 = 3520 B: 8 KiB holds 2 of
    each, so the chunks shrink to 2 (from the budget's 3); the whole input
    (17,280 B) would not fit."""
    cfg = make_config(tmp_path)
    whole = run(["backward", cfg, "--out", tmp_path / "whole"])
    assert whole.exit_code == 0, whole.stderr
    result = run(["backward", cfg, "--memory-budget", str(budget_for(cfg)), "--max-memory", "8KiB",
                  "--out", tmp_path / "streamed"])
    assert result.exit_code == 0, result.stderr
    assert_same(read_outputs(tmp_path / "whole"), read_outputs(tmp_path / "streamed"), rows=2)
    # the default budget holds the run whole, but --max-memory does not: it streams, in chunks of 2
    result = run(["backward", cfg, "--max-memory", "8KiB", "--out", tmp_path / "forced"])
    assert result.exit_code == 0, result.stderr
    assert "in 5 chunks of 2 (--memory-budget 512.0 MiB, --max-memory 8.0 KiB)" in " ".join(result.stdout.split())
    forced = read_outputs(tmp_path / "forced")
    assert_same(read_outputs(tmp_path / "whole"), forced, rows=2)
    assert forced[1]["streaming"]["streams_for"] == ["max_memory"]
    assert read_outputs(tmp_path / "streamed")[1]["streaming"]["streams_for"] == ["memory_budget", "max_memory"]
    # check holds it whole: refused, as before
    assert_error(run(["check", cfg, "--max-memory", "8KiB"]),
                 "inputs.A_prev", "array of shape (10, 9, 8, 3) needs 16.9 KiB, more than --max-memory 8.0 KiB")
    # one sample beyond it: refused, named as a sample of a chunk (the widest, the padded dZ)
    assert_error(run(["backward", cfg, "--max-memory", "2KiB", "--out", tmp_path / "out"]),
                 "layers[0] (conv1)", "padded upstream gradient of conv1, one sample of a streamed chunk, of shape "
                 "(1, 11, 10, 4) needs 3.4 KiB, more than --max-memory 2.0 KiB; refused before allocating it "
                 "(raise --max-memory to 3.5KiB or more)")


def test_max_memory_caps_a_padded_batch_whole_in_memory_and_a_chunk_streamed(tmp_path):
    """A review: the padded input was capped one sample at a time, but an
    in-memory run pads the whole batch: a pad of 100 with a stride of 300
    (one output row) made 336 MiB under --max-memory 10 MiB. Here 100
    samples of 10x10x1 padded by 100 are 100*210*210*8 B = 33.6 MiB whole
    and 352,800 B a sample: 4 MiB (4,194,304 B) holds 11 of them."""
    data = {"seed": 3, "inputs": {"A_prev": {"random": [100, 10, 10, 1]}, "W": {"ones": [1, 1, 1, 1]},
                                  "b": {"zeros": [1]}},
            "layers": [{"type": "conv", "W": "W", "b": "b", "pad": 100, "stride": 300}]}
    cfg = write(tmp_path, data)
    for args in (["forward", "--out", tmp_path / "out"], ["check"]):  # made up: capped whole; check holds it whole
        assert_error(run([*args, cfg, "--max-memory", "4MiB"]), "layers[0] (conv1)",
                     "padded input of conv1 (pad 100 around 10x10 maps) of shape (100, 210, 210, 1) needs 33.6 MiB, more than --max-memory 4.0 MiB")
    np.save(tmp_path / "x.npy", np.random.RandomState(0).rand(100, 10, 10, 1))
    data["inputs"]["A_prev"] = {"file": "x.npy"}
    result = run(["forward", write(tmp_path, data), "--max-memory", "4MiB", "--out", tmp_path / "out", "--json"])
    assert result.exit_code == 0, result.stderr
    streaming = json.loads(result.stdout)["streaming"]
    assert (streaming["chunk_rows"], streaming["chunks"], streaming["streams_for"]) == (11, 10, ["max_memory"])


def test_forward_does_not_size_a_gradient_file_it_never_reads(tmp_path):
    """A review: forward sized backward.grad's file (at 8 bytes an element),
    and a gradient larger than the cap made the run stream. A float32 run
    holds its (10, 2, 2, 64) output in 10 KiB; the float64 gradient file is
    20 KiB, which only backward reads."""
    np.save(tmp_path / "x.npy", np.ones((N, 2, 2, 1)))
    np.save(tmp_path / "g.npy", np.ones((N, 2, 2, 64)))
    data = {"seed": 3, "dtype": "float32",
            "inputs": {"A_prev": {"file": "x.npy"}, "W": {"ones": [1, 1, 1, 64]}, "b": {"zeros": [64]}},
            "layers": [{"type": "conv", "W": "W", "b": "b"}], "backward": {"grad": {"file": "g.npy"}}}
    cfg = write(tmp_path, data)
    result = run(["forward", cfg, "--max-memory", "16KiB", "--out", tmp_path / "fwd", "--json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["streaming"] is None
    result = run(["backward", cfg, "--max-memory", "16KiB", "--out", tmp_path / "bwd", "--json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["streaming"]["streams_for"] == ["max_memory"]  # the gradient, 20 KiB whole


def test_max_memory_counts_what_backward_allocates_beyond_the_outputs(tmp_path):
    """A review: two arrays the cap never saw. The stride-1 input gradient
    gathers from dZ padded by d*(f-1): with a dilation of 7 and a 2x2
    kernel, (1, 16+7, 16+7, 8) float64 = 33,856 B beside a 4 KiB input and
    a 5 KiB output. And grad: random is drawn in float64 before the cast: a
    float32 run's (10, 9, 8, 4) gradient is drawn in 23,040 B, though the
    float32 output is 11,520."""
    data = {"seed": 3, "inputs": {"A_prev": {"random": [1, 16, 16, 2]}, "W": {"random": [2, 2, 2, 8]},
                                  "b": {"zeros": [8]}},
            "layers": [{"type": "conv", "W": "W", "b": "b", "dilation": 7}], "backward": {"grad": "ones"}}
    cfg = write(tmp_path, data)
    assert_error(run(["backward", cfg, "--max-memory", "16KiB", "--out", tmp_path / "out"]), "layers[0] (conv1)",
                 "padded upstream gradient of conv1 of shape (1, 23, 23, 8) needs 33.1 KiB, more than --max-memory 16.0 KiB")
    assert run(["forward", cfg, "--max-memory", "16KiB", "--out", tmp_path / "fwd"]).exit_code == 0  # no dZ
    np.save(tmp_path / "x.npy", np.ones((4, 16, 16, 2)))
    data["inputs"]["A_prev"] = {"file": "x.npy"}
    assert_error(run(["backward", write(tmp_path, data), "--max-memory", "16KiB", "--out", tmp_path / "out"]),
                 "padded upstream gradient of conv1, one sample of a streamed chunk, of shape (1, 23, 23, 8)")

    data = {"seed": 3, "dtype": "float32", "inputs": {"A_prev": {"random": [N, 9, 8, 3]}, "W": {"random": [3, 3, 3, 4]},
                                                      "b": {"zeros": [4]}},
            "layers": [{"type": "conv", "W": "W", "b": "b", "pad": 1}], "backward": {"grad": "random"}}
    cfg = write(tmp_path, data)
    assert_error(run(["backward", cfg, "--max-memory", "20KiB", "--out", tmp_path / "out"]), "backward.grad",
                 "random upstream gradient (float64 as drawn) of shape (10, 9, 8, 4) needs 22.5 KiB, "
                 "more than --max-memory 20.0 KiB")
    assert run(["forward", cfg, "--max-memory", "20KiB", "--out", tmp_path / "fwd2"]).exit_code == 0


def test_check_and_plot_size_what_only_backward_makes_only_when_they_go_backward(tmp_path):
    """A review: check and plot planned as for backward, so a forward-only
    check was refused for the padded dZ it never makes. (64,16,16,3) float64
    with a dilation of 4 and a 3x3 kernel: Z (64,8,8,8) 256 KiB, but the
    padded dZ (64,24,24,8) 2.25 MiB."""
    np.save(tmp_path / "x.npy", np.ones((64, 16, 16, 3)))
    data = {"seed": 3, "inputs": {"A_prev": {"file": "x.npy"}, "W": {"ones": [3, 3, 3, 8]}, "b": {"zeros": [8]}},
            "layers": [{"type": "conv", "W": "W", "b": "b", "dilation": 4}],
            "expected": {"Z.shape": [64, 8, 8, 8], "Z.max": 27.0}}  # 27 ones times ones
    cfg = write(tmp_path, data)
    result = run(["check", cfg, "--max-memory", "400KiB"])
    assert result.exit_code == 0, result.stdout + result.stderr
    data["expected"]["dW.mean"] = 1.0  # a gradient: the run goes backward, and the padded dZ counts
    result = run(["check", write(tmp_path, data), "--max-memory", "400KiB"])
    assert_error(result, "layers[0] (conv1)", "padded upstream gradient of conv1 of shape (64, 24, 24, 8) needs 2.2 MiB")


def test_a_forward_only_check_counts_no_backward_array_in_its_advice(tmp_path):
    """A review: the advice of a forward-only check counted the padded dZ it
    never makes ("raise --max-memory to 288KiB"). Padded by 20 for a 3x3
    kernel dilated 20, one sample of the input is 48*48*1*8 = 18,432 B, the
    widest the forward makes (conv1.Z: 8*8*16*8 = 8192 B): 20,000 B hold 1."""
    np.save(tmp_path / "a.npy", np.ones((4, 8, 8, 1)))
    data = {"seed": 0, "inputs": {"A_prev": {"file": "a.npy"}, "W": {"ones": [3, 3, 1, 16]}, "b": {"zeros": [16]}},
            "layers": [{"type": "conv", "W": "W", "b": "b", "pad": "same", "dilation": 20}],
            "expected": {"Z.shape": [4, 8, 8, 16]}}
    result = run(["check", write(tmp_path, data), "--max-memory", "20000"])
    assert_error(result, "output conv1.Z of shape (4, 8, 8, 16) needs 32.0 KiB",
                 "(raise --max-memory, or run at most 1 sample)")


def test_a_gradient_file_is_named_in_the_advice_and_the_slice_hint_only_where_a_slice_helps(tmp_path):
    np.save(tmp_path / "g.npy", np.ones((4, 8, 8, 16)))
    data = {"seed": 0, "dtype": "float32",
            "inputs": {"A_prev": {"random": [4, 8, 8, 1]}, "W": {"ones": [1, 1, 1, 16]}, "b": {"zeros": [16]}},
            "layers": [{"type": "conv", "W": "W", "b": "b"}], "backward": {"grad": {"file": "g.npy"}}}
    # one float64 sample of the gradient file is 8*8*16*8 = 8192 B, the widest
    result = run(["backward", write(tmp_path, data), "--max-memory", "4000", "--out", tmp_path / "out"])
    assert_error(result, "(raise --max-memory to 8KiB or more: one sample of backward.grad needs that)")
    np.save(tmp_path / "g.npy", np.ones((2, 8, 8, 16)))  # fewer samples than the batch, which has no slice:
    result = run(["backward", write(tmp_path, data), "--out", tmp_path / "out"])
    line = assert_error(result, "backward.grad", "upstream gradient of shape (2, 8, 8, 16) does not match")
    assert "slice" not in line


def test_the_slice_advice_names_a_gradient_file_too(tmp_path):
    """A review: "read at most 2 samples: slice: 0:2" taken, the gradient
    file's 64 samples no longer matched the batch, and that error did not
    say why."""
    np.save(tmp_path / "x.npy", np.ones((64, 16, 16, 3)))
    np.save(tmp_path / "g.npy", np.ones((64, 8, 8, 8)))
    data = {"seed": 3, "inputs": {"A_prev": {"file": "x.npy"}, "W": {"ones": [3, 3, 3, 8]}, "b": {"zeros": [8]}},
            "layers": [{"type": "conv", "W": "W", "b": "b", "stride": 2, "pad": 1}],
            "backward": {"grad": {"file": "g.npy"}}}
    result = run(["gradcheck", write(tmp_path, data), "--max-memory", "20KiB"])
    assert_error(result, "inputs.A_prev", 'read at most 2 samples: slice: "0:2", and the same on backward.grad)')
    data["inputs"]["A_prev"]["slice"] = "0:2"
    result = run(["gradcheck", write(tmp_path, data), "--max-memory", "20KiB"])
    assert_error(result, "backward.grad", "does not match the last layer's output conv1.Z (2, 8, 8, 8); its samples "
                 "are the batch's: give it the same slice: as the input")
    data["backward"]["grad"]["slice"] = "0:2"
    assert run(["gradcheck", write(tmp_path, data), "--max-memory", "20KiB"]).exit_code in (0, 1)


def test_a_forward_budget_counts_no_backward_block(tmp_path):
    """A review: the estimate of a forward run counted the backward's
    blocks, the stride-1 gather's over a 1x2048 kernel 576 MiB a thread, and
    refused a 32 KiB input under the default 512 MiB ("use --memory-budget
    1210MiB"), though the forward takes ~30 MiB."""
    np.save(tmp_path / "x.npy", np.ones((1, 1, 4096, 1)))
    data = {"seed": 0, "inputs": {"A_prev": {"file": "x.npy"}, "W": {"ones": [1, 2048, 1, 9]}, "b": {"zeros": [9]}},
            "layers": [{"type": "conv", "W": "W", "b": "b"}]}
    result = run(["forward", write(tmp_path, data), "--out", tmp_path / "out"])
    assert result.exit_code == 0, result.stderr
    assert np.all(np.load(tmp_path / "out" / "conv1.Z.npy") == 2048.0)  # 2048 ones times ones in each window


def test_one_sample_beyond_max_memory_is_said_before_any_budget(tmp_path):
    """A review: the budget's error came first ("use --memory-budget 17MiB"),
    and following it led to the cap's; then one array at a time, each
    raise of the cap refused at the next one. One sample of conv1's output
    is 9*8*4 float64 = 2304 B, of its input padded 11*10*3*8 = 2640 B, of the
    dZ its backward pads 11*10*4*8 = 3520 B: the widest is named, with a
    cap that holds it (3.5KiB, 3584 B), whatever the budget."""
    cfg = make_config(tmp_path)
    result = run(["backward", cfg, "--max-memory", "2KiB", "--memory-budget", "1MiB", "--out", tmp_path / "out"])
    assert_error(result, "layers[0] (conv1)", "padded upstream gradient of conv1, one sample of a streamed chunk, "
                 "of shape (1, 11, 10, 4) needs 3.4 KiB, more than --max-memory 2.0 KiB; refused before allocating it "
                 "(raise --max-memory to 3.5KiB or more)")
    result = run(["backward", cfg, "--max-memory", "3.5KiB", "--out", tmp_path / "out"])  # the advice, taken
    assert result.exit_code == 0, result.stderr


def test_plot_on_a_run_that_streams_for_max_memory_says_so(tmp_path):
    require("matplotlib", "pip install -e '.[plot]'")
    cfg = make_config(tmp_path)
    result = run(["backward", cfg, "--max-memory", "6KiB", "--plot", "--out", tmp_path / "out"])
    assert_error(result, "--plot: draws every quantity from memory, but this run streams A_prev in chunks "
                         "(--max-memory 6KiB refuses its batch whole)", "--max-memory")


def test_max_memory_still_caps_a_made_up_batch_whole(tmp_path):
    """random:, zeros:, ones: are a config's own shapes: a typo there, or in
    a padding that makes a layer's output huge (a review: pad 300 planned
    43 GiB of output to stream), is refused, not streamed until a disk
    fills."""
    cfg = make_config(tmp_path, a_prev={"random": [N, 9, 8, 3]})
    result = run(["backward", cfg, "--out", tmp_path / "out", "--memory-budget", str(budget_for(cfg)),
                  "--max-memory", "8KiB"])
    assert_error(result, "inputs.A_prev", "needs 16.9 KiB, more than --max-memory 8.0 KiB",
                 "(raise --max-memory, or give it a smaller shape)")
    data = yaml.safe_load(cfg.read_text())
    data["layers"][0]["pad"] = 300
    cfg = write(tmp_path, data)
    result = run(["forward", cfg, "--out", tmp_path / "out", "--max-memory", "64MiB"])
    assert_error(result, "layers[0] (conv1)", "output conv1.Z (pad 300 around 9x8 maps) of shape (10, 607, 606, 4) needs 112.3 MiB, "
                 "more than --max-memory 64.0 MiB")
    # from a file, the same layers stream, in chunks of 64 MiB at most
    np.save(tmp_path / "x.npy", np.random.RandomState(0).rand(N, 9, 8, 3))
    data["inputs"]["A_prev"] = {"file": "x.npy"}
    result = run(["forward", write(tmp_path, data), "--out", tmp_path / "out", "--max-memory", "64MiB"])
    assert result.exit_code == 0, result.stderr
    assert "streamed 10 samples in" in result.stdout


def test_nan_in_a_later_chunk(tmp_path):
    x = np.ones((N, 6, 7, 3))
    x[8, 1, 2, 0] = np.nan
    np.save(tmp_path / "x.npy", x)
    cfg = make_config(tmp_path, a_prev={"file": "x.npy"})
    before = tree(tmp_path)
    result = run(["backward", cfg, "--out", tmp_path / "out", "--memory-budget", str(budget_for(cfg))])
    assert_error(result, "inputs.A_prev", "1 NaN in rows 6:9 (first at index [8, 1, 2, 0])")
    assert tree(tmp_path) == before  # the chunks written so far went with the staging folder


def test_an_overflow_in_a_chunk_names_the_chunk(tmp_path):
    """A layer's overflow counts what it found in one chunk: said as such,
    not as the whole array's."""
    np.save(tmp_path / "x.npy", np.full((N, 6, 7, 3), 1e38))
    cfg = make_config(tmp_path, a_prev={"file": "x.npy"}, dtype="float32")
    before = tree(tmp_path)
    result = run(["backward", cfg, "--out", tmp_path / "out", "--memory-budget", str(budget_for(cfg))])
    assert_error(result, "layers[0] (conv1) (line", ": in the chunk of samples 0:3: Z: ",
                 "values overflowed float32 (its inputs are finite)")
    assert tree(tmp_path) == before


def test_dw_and_db_that_overflow_only_summed_over_the_chunks_are_refused_as_in_memory(tmp_path):
    """A review: each chunk's dW was finite, their float32 sum was not, and
    the run wrote dW = inf with exit 0 where the same run in memory is
    refused. By hand: with dZ all ones and the input all v, dW[i, j, c, k]
    is v times the number of (sample, position) pairs whose window tap (i, j)
    falls inside the 6x7 image: from 5*6 = 30 a sample (a corner tap) to 6*7
    = 42 (the centre). v = 2e36: at most 3*42*v = 2.52e38 over a chunk of 3,
    which fits float32 (3.4e38); at least 10*30*v = 6e38 over all 10."""
    np.save(tmp_path / "x.npy", np.full((N, 6, 7, 3), 2e36))
    data = {"seed": 3, "dtype": "float32",
            "inputs": {"A_prev": {"file": "x.npy"}, "W": {"ones": [3, 3, 3, 2]}, "b": {"zeros": [2]}},
            "layers": [{"type": "conv", "W": "W", "b": "b", "pad": 1}], "backward": {"grad": "ones"}}
    cfg = write(tmp_path, data)
    before = tree(tmp_path)
    whole = run(["backward", cfg, "--out", tmp_path / "out"])
    assert_error(whole, "(conv1) (line", ": dW: 54 of 54 values overflowed float32 (its inputs are finite)")
    result = run(["backward", cfg, "--out", tmp_path / "out", "--memory-budget", str(budget_for(cfg))])
    assert_error(result, "layers[0] (conv1) (line", ": dW: 54 of 54 values overflowed float32 summed over "
                 "the 4 chunks (its inputs are finite); use dtype float64, or scale the inputs down")
    assert tree(tmp_path) == before
    # a tenth of it sums to at most 8.4e37: the streamed run goes through, dW as the hand count says
    np.save(tmp_path / "x.npy", np.full((N, 6, 7, 3), 2e35))
    result = run(["backward", cfg, "--out", tmp_path / "out", "--memory-budget", str(budget_for(cfg))])
    assert result.exit_code == 0, result.stderr
    dW = np.load(tmp_path / "out" / "conv1.dW.npy")
    taps = np.array([[5 * 6, 5 * 7, 5 * 6], [6 * 6, 6 * 7, 6 * 6], [5 * 6, 5 * 7, 5 * 6]]) * N
    np.testing.assert_allclose(dW, np.broadcast_to((2e35 * taps)[:, :, None, None], (3, 3, 3, 2)), rtol=1e-5)


def test_float32_dw_and_db_whose_partial_sums_overflow_add_up_as_in_memory(tmp_path):
    """A streaming review: the chunks' db, each finite, were added up in
    float32, so 3e38 + 3e38 (two chunks' db) overflowed before -3e38 - 3e38
    came back, and the run was refused where in memory (db summed in float64,
    rounded once) it gives 1. The chunks' sums add up in float64 and round
    once. By hand: a 1x1 conv of ones, inputs 1e-30, dZ 3e38, 3e38, -3e38,
    -3e38, 1 (a sample each): db = 1, dW = 1e-30 * 1 (the 3e38 terms cancel
    exactly); one sample a chunk."""
    np.save(tmp_path / "x.npy", np.full((5, 1, 1, 1), 1e-30, np.float32))
    np.save(tmp_path / "g.npy", np.array([3e38, 3e38, -3e38, -3e38, 1.0], np.float32).reshape(5, 1, 1, 1))
    data = {"dtype": "float32", "inputs": {"A_prev": {"file": "x.npy"}, "W": {"ones": [1, 1, 1, 1]},
                                           "b": {"zeros": [1]}},
            "layers": [{"type": "conv", "W": "W", "b": "b"}], "backward": {"grad": {"file": "g.npy"}}}
    cfg = write(tmp_path, data)
    for out, extra in (("whole", []), ("streamed", ["--memory-budget", str(budget_for(cfg, rows=1))])):
        result = run(["backward", cfg, "--out", tmp_path / out, *extra])
        assert result.exit_code == 0, result.stderr
        assert np.load(tmp_path / out / "conv1.db.npy").tolist() == [1.0], out
        assert np.load(tmp_path / out / "conv1.dW.npy").dtype == np.float32
    summary = json.loads((tmp_path / "streamed" / "summary.json").read_text())
    assert summary["streaming"]["chunks"] == 5, summary["streaming"]


def test_a_corrupt_npz_member_is_refused_streamed_though_its_slice_ends_early(tmp_path):
    """A review: zipfile checks a member's CRC only at its end, and a
    streamed ``slice:`` that stops before the last row never got there, so
    a flipped byte went through where an in-memory run refuses the file."""
    x = np.arange(N * 6 * 7 * 3, dtype=np.float64).reshape(N, 6, 7, 3)
    np.savez(tmp_path / "x.npz", a=x)  # stored, not deflated: the byte flips in place
    raw = bytearray((tmp_path / "x.npz").read_bytes())
    at = raw.index(b"\x93NUMPY")
    data = at + 10 + int.from_bytes(raw[at + 8:at + 10], "little")
    raw[data + 2 * 6 * 7 * 3 * 8 + 5] ^= 0x40  # a byte of row 2
    (tmp_path / "x.npz").write_bytes(bytes(raw))
    cfg = make_config(tmp_path, a_prev={"file": "x.npz", "key": "a", "slice": "0:8"})
    for budget in ([], ["--memory-budget", str(budget_for(cfg))]):
        result = run(["backward", cfg, "--out", tmp_path / "out", *budget])
        assert_error(result, "inputs.A_prev", "x.npz", "Bad CRC-32")


@pytest.mark.parametrize("fault, code, message", [
    # The second chunk's first write is its input's rows (npy, the default format).
    (OSError(28, "No space left on device"), 2,
     "convcli: error: --out {out}: cannot write A_prev.npy: No space left on device"),
    (KeyboardInterrupt(), 130, "convcli: interrupted; nothing was written"),
])
def test_a_failure_mid_stream_leaves_nothing(tmp_path, monkeypatch, fault, code, message):
    cfg = make_config(tmp_path)
    real, calls = streaming.ChunkWriter.rows, []

    def rows(self, *args):
        calls.append(1)
        if len(calls) == 9:  # the second chunk
            with self._guard(args[0]):  # where a real write fails
                raise fault
        return real(self, *args)

    monkeypatch.setattr(streaming.ChunkWriter, "rows", rows)
    before = tree(tmp_path)
    result = run(["backward", cfg, "--out", tmp_path / "out", "--memory-budget", str(budget_for(cfg))])
    message = message.format(out=tmp_path / "out")  # the user's --out, not the staging folder
    assert result.exit_code == code and result.stderr.startswith(message), result.stderr
    assert tree(tmp_path) == before


def run_with_file_size_limit(tmp_path, limit: int, *args) -> subprocess.CompletedProcess:
    """convcli in a child process whose files may not grow past ``limit``
    bytes (RLIMIT_FSIZE, what ``ulimit -f`` sets): a write past it fails
    with EFBIG, as one fails on a full disk. (The kernel also sends SIGXFSZ,
    which Python ignores from its start, as the shell's convcli does.) A
    child, so that a crash is a failed test, not a dead test run."""
    code = ("import resource, sys; from convcli.cli import main; "
            f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, resource.getrlimit(resource.RLIMIT_FSIZE)[1])); "
            "sys.argv[0] = 'convcli'; main()")
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path, env={**os.environ, "PYTHONPATH": path})


@pytest.mark.parametrize("fmt, streamed, limit, file", [
    ("h5", True, 60_000, "outputs.h5"),
    ("h5", False, 60_000, "outputs.h5"),
    # In the inputs' order W (3*3*3*4 float64: 864 bytes and a 128-byte
    # header) fits; A_prev (10*9*8*3 float64: 17280 bytes) does not.
    ("npy", False, 10_000, "A_prev.npy"),
    # Streamed, A_prev.npy is made at its full size first (sparse: the size counts).
    ("npy", True, 10_000, "A_prev.npy"),
])
def test_a_disk_that_fills_mid_run(tmp_path, fmt, streamed, limit, file):
    """A write that fails partway through the outputs (past a file size
    limit: outputs.h5 needs ~150 kB, the largest .npy 23 kB; the small ones,
    W and b, come first) is one line naming the user's --out, the file and
    the OS's reason, exit 2, and leaves nothing behind. HDF5 never sees the
    failure (outputs.H5Output): when it did, it printed "Exception ignored in
    ...__dealloc__" tracebacks, then crashed closing the file (SIGSEGV or
    SIGBUS, the staging folder left behind), or exited 3 on its RuntimeError.
    np.save's own short write was an OSError without errno ("N requested and
    M written"), hence outputs.save_npy."""
    cfg = make_config(tmp_path)
    extra = ["--memory-budget", str(budget_for(cfg))] if streamed else []
    before = tree(tmp_path)
    proc = run_with_file_size_limit(tmp_path, limit, "backward", cfg.name, "--out", "out", "--format", fmt, *extra)
    assert (proc.returncode, proc.stdout) == (2, ""), (proc.returncode, proc.stderr[-3000:])
    assert proc.stderr == f"convcli: error: --out out: cannot write {file}: {os.strerror(errno.EFBIG)}\n"
    assert tree(tmp_path) == before


def test_a_corrupt_chunk_of_an_h5_input(tmp_path):
    """A compressed HDF5 chunk that does not decompress (sample 8's, a later
    chunk of the stream) is the input's error, located, streamed as in memory."""
    with h5py.File(tmp_path / "c.h5", "w") as f:
        d = f.create_dataset("x", data=np.random.RandomState(0).rand(N, 6, 7, 3), chunks=(1, 6, 7, 3),
                             compression="gzip")
        offset = d.id.get_chunk_info(8).byte_offset
    with open(tmp_path / "c.h5", "r+b") as fp:
        fp.seek(offset + 10)
        fp.write(b"\xff" * 200)
    cfg = make_config(tmp_path, a_prev={"file": "c.h5"})
    before = tree(tmp_path)
    for extra in ([], ["--memory-budget", str(budget_for(cfg))]):
        result = run(["backward", cfg, "--out", tmp_path / "out", *extra])
        assert_error(result, "cfg.yaml: inputs.A_prev (line ", "): cannot read c.h5: ")
        assert tree(tmp_path) == before


IN_MEMORY_HINT = re.compile(r"use --memory-budget (\d+)MiB or more to run it in memory")


def assert_fit_hint(line: str, command: list) -> None:
    """The budget an error suggests runs ``command`` in memory, and one MiB
    less would not: the hint is the smallest whole number of MiB that fits."""
    found = IN_MEMORY_HINT.findall(line)
    assert len(found) == 1, line
    mib = int(found[0])
    fits = run([*command, "--memory-budget", f"{mib}MiB"])
    assert fits.exit_code == 0, (fits.stdout, fits.stderr)
    assert json.loads(fits.stdout)["streaming"] is None  # whole, in memory
    assert run([*command, "--memory-budget", f"{mib - 1}MiB"]).exit_code == 2  # streams: refused again


def test_fortran_order_npy_is_refused_when_it_must_stream(tmp_path):
    np.save(tmp_path / "x.npy", np.asfortranarray(np.ones((N, 6, 7, 3))))
    cfg = make_config(tmp_path, a_prev={"file": "x.npy"})
    assert run(["forward", cfg, "--out", tmp_path / "a"]).exit_code == 0  # in memory: fine
    result = run(["forward", cfg, "--out", tmp_path / "b", "--memory-budget", str(budget_for(cfg, backward=False))])
    line = assert_error(result, "inputs.A_prev", "Fortran order", "--memory-budget")
    assert_fit_hint(line, ["forward", cfg, "--out", tmp_path / "c", "--json"])


def test_fortran_order_grad_file_is_refused_when_it_must_stream(tmp_path):
    """The upstream gradient is streamed with the input, so the same holds for it."""
    np.save(tmp_path / "g.npy", np.asfortranarray(np.ones((N, 4, 4, 4))))  # pool3.A's shape
    cfg = make_config(tmp_path, grad={"file": "g.npy"})
    result = run(["backward", cfg, "--out", tmp_path / "b", "--memory-budget", str(budget_for(cfg))])
    line = assert_error(result, "backward.grad", "g.npy is stored in Fortran order")
    assert_fit_hint(line, ["backward", cfg, "--out", tmp_path / "c", "--json"])


def test_plot_needs_the_arrays_in_memory(tmp_path):
    require("matplotlib", "pip install -e '.[plot]'")
    cfg = make_config(tmp_path)
    result = run(["backward", cfg, "--out", tmp_path / "out", "--plot", "--memory-budget", str(budget_for(cfg))])
    line = assert_error(result, "--plot", "streams A_prev in chunks")
    assert_fit_hint(line, ["backward", cfg, "--out", tmp_path / "c", "--plot", "--json"])


# ----------------------------------------------------------------- the terminal


def test_human_output_says_it_streamed(tmp_path):
    cfg = make_config(tmp_path)
    # 4 + 4 + 2 (9x8 output maps, 72 rows a sample, make a product of two: chunks of a multiple of 2)
    result = run(["backward", cfg, "--out", tmp_path / "out", "--memory-budget", str(budget_for(cfg, 4))])
    assert result.exit_code == 0, result.stderr
    assert f"streamed {N} samples in 3 chunks of 4, the last of 2 (--memory-budget" in result.stdout
    assert "note:" not in result.stdout, result.stdout
    assert result.stderr == ""


def test_chunks_smaller_than_a_product_group_are_said_to_move_last_bits(tmp_path):
    """A streaming review: nothing said that a streamed run's small output
    maps could differ from the in-memory run's. Where the budget holds fewer
    samples than a conv layer's product group (6x7 output maps, 42 rows a
    sample, make products of four: conv.sample_group), a note says so and
    the budget that holds a group."""
    cfg = make_config(tmp_path, a_prev={"random": [N, 6, 7, 3]})
    result = run(["backward", cfg, "--out", tmp_path / "out", "--memory-budget", str(budget_for(cfg))])
    assert result.exit_code == 0, result.stderr
    assert "4 chunks of 3, the last of 1" in result.stdout, result.stdout
    budget = streaming.budget_arg(budget_for(cfg, 4))
    assert (f"note: chunks of 3 hold fewer samples than the 4 a conv layer's forward product takes (its output "
            f"maps are small): its outputs may differ from an in-memory run's in their last bits, and so a max "
            f"pool's ties after it (--memory-budget {budget} or more holds 4 a chunk)") in " ".join(
        result.stdout.split())
    doc = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert (doc["streaming"]["chunk_rows"], doc["streaming"]["product_group"]) == (3, 4)
    result = run(["backward", cfg, "--out", tmp_path / "out", "--force", "--memory-budget",
                  str(budget_for(cfg, 4))])
    assert "3 chunks of 4, the last of 2" in result.stdout and "note:" not in result.stdout, result.stdout
    # where --max-memory sets the chunks, it says so, and the --max-memory it names holds a group
    np.save(tmp_path / "x.npy", np.random.RandomState(3).randn(N, 6, 7, 3))
    cfg = make_config(tmp_path, a_prev={"file": "x.npy"}, name="file.yaml")
    limit = 3 * 6 * 7 * 3 * 8  # three float64 samples of the input
    result = run(["backward", cfg, "--out", tmp_path / "capped", "--max-memory", str(limit)])
    assert result.exit_code == 0, result.stderr
    rows = json.loads((tmp_path / "capped" / "summary.json").read_text())["streaming"]["chunk_rows"]
    said = f"{math.ceil(limit * 4 / rows / 1024)}KiB"
    assert rows < 4 and f"(--max-memory {said} or more holds 4 a chunk)" in " ".join(result.stdout.split()), \
        result.stdout
    result = run(["backward", cfg, "--out", tmp_path / "room", "--max-memory", said])  # as printed
    assert "chunks of 4" in result.stdout and "note:" not in result.stdout, result.stdout
    # where both would cut the chunks below a group, it names both (it named --max-memory alone, which then
    # left the budget's chunks of 3)
    limit = 2 * 8 * 9 * 4 * 8  # two float64 samples of the padded upstream gradient, the widest array
    result = run(["backward", cfg, "--out", tmp_path / "both", "--max-memory", str(limit),
                  "--memory-budget", str(budget_for(cfg, 3))])
    assert "chunks of 2" in result.stdout, result.stdout + result.stderr
    said = (f"--max-memory {math.ceil(limit * 4 / 2 / 1024)}KiB", streaming.budget_arg(budget_for(cfg, 4)))
    assert f"({said[0]} or more and --memory-budget {said[1]} or more hold 4 a chunk)" in " ".join(
        result.stdout.split()), result.stdout
    result = run(["backward", cfg, "--out", tmp_path / "both-room", *said[0].split(), "--memory-budget", said[1]])
    assert "chunks of 4" in result.stdout and "note:" not in result.stdout, result.stdout


def test_a_chunk_holds_a_product_group_wherever_the_budget_does(tmp_path, monkeypatch):
    """A review: samples over the target size of a chunk
    (streaming.CHUNK_TARGET, 16 MiB) went one a chunk under a budget of 600
    MiB, smaller than their product group of 8: a streamed run's small maps
    moved in their last bits, and the note named a budget below the one
    given. A chunk holds a group where the budget does: the layers' outputs
    are the in-memory run's."""
    cfg = make_config(tmp_path, a_prev={"random": [N, 6, 7, 3]})  # 6x7 output maps: groups of 4
    monkeypatch.setattr(streaming, "CHUNK_TARGET", 1)  # every sample over the target
    (whole, _), (streamed, doc) = both_ways(tmp_path, cfg, rows=4)
    assert (doc["streaming"]["chunk_rows"], doc["streaming"]["product_group"]) == (4, 4)
    for name in ("conv1.Z", "relu2.A", "pool3.A"):
        np.testing.assert_array_equal(streamed[name], whole[name], err_msg=name)
    budget = budget_for(cfg, 9)  # room for 9: the target keeps chunks at one group
    result = run(["backward", cfg, "--out", tmp_path / "roomy", "--memory-budget", str(budget)])
    assert "3 chunks of 4, the last of 2" in result.stdout and "note:" not in result.stdout, result.stdout
    # room for 3, fewer than a group: the target's one (a review: chunks of 3 gained nothing over it)
    result = run(["backward", cfg, "--out", tmp_path / "tight", "--memory-budget", str(budget_for(cfg, 3))])
    assert "10 chunks of 1" in result.stdout and "note: chunks of 1 hold fewer" in result.stdout, result.stdout


def test_progress_never_writes_to_a_non_terminal(tmp_path, monkeypatch):
    monkeypatch.setattr(cli, "PROGRESS_DELAY", 0.0)
    cfg = make_config(tmp_path)
    for extra in ([], ["--json"]):
        result = run(["backward", cfg, "--out", tmp_path / "out", "--force",
                      "--memory-budget", str(budget_for(cfg)), *extra])
        assert result.exit_code == 0, result.stderr
        assert result.stderr == ""
    json.loads(result.stdout)


def _terminal(monkeypatch):
    monkeypatch.setattr(cli, "_stderr_is_terminal", lambda: True)
    monkeypatch.setattr(cli, "_progress_console", lambda: Console(file=sys.stderr, force_terminal=True, width=100))


def test_progress_shows_on_a_terminal(tmp_path, monkeypatch):
    _terminal(monkeypatch)
    monkeypatch.setattr(cli, "PROGRESS_DELAY", 0.0)
    cfg = make_config(tmp_path)
    result = run(["backward", cfg, "--out", tmp_path / "out", "--memory-budget", str(budget_for(cfg))])
    assert result.exit_code == 0, result.stderr
    assert "backward" in result.stderr and f"{N}/{N}" in result.stderr and "samples" in result.stderr
    assert "\x1b[" in result.stderr  # drawn, then cleared (transient)
    assert "\x1b[" not in result.stdout


def test_progress_not_under_json_nor_for_a_quick_run(tmp_path, monkeypatch):
    _terminal(monkeypatch)
    cfg = make_config(tmp_path)
    budget = str(budget_for(cfg))
    quick = run(["backward", cfg, "--out", tmp_path / "a", "--memory-budget", budget])  # under PROGRESS_DELAY
    assert quick.exit_code == 0 and quick.stderr == ""
    monkeypatch.setattr(cli, "PROGRESS_DELAY", 0.0)
    as_json = run(["backward", cfg, "--out", tmp_path / "b", "--memory-budget", budget, "--json"])
    assert as_json.exit_code == 0 and as_json.stderr == ""


def plain(text: str) -> str:
    """``text`` without its terminal control sequences."""
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)


@pytest.mark.parametrize("command, steps", [("backward", 7), ("forward", 4), ("check", 4), ("gradcheck", 7)])
def test_in_memory_runs_show_their_steps_on_a_terminal(tmp_path, monkeypatch, command, steps):
    """DESIGN.md: long runs show a progress bar; a run that fits in memory
    too, by its steps (reading the inputs, each of the 3 layers forward, and
    backward), and not under --json."""
    _terminal(monkeypatch)
    monkeypatch.setattr(cli, "PROGRESS_DELAY", 0.0)
    cfg = make_config(tmp_path)
    out = ["--out", tmp_path / command] if command in ("forward", "backward") else []
    if command == "check":  # a forward run through the 3 layers (by hand: 9x8 padded by 1 by 3x3, 2x2 pool)
        (tmp_path / "e.yaml").write_text(f"expected:\n  pool3.A.shape: [{N}, 4, 4, 4]\n")
        out = ["--expected", tmp_path / "e.yaml"]
    result = run([command, cfg, *out])
    assert result.exit_code == 0, result.stderr
    shown = plain(result.stderr)
    assert f"{command}: " in shown and f"{steps}/{steps} steps" in shown, shown
    assert "\x1b[" in result.stderr and "steps" not in result.stdout
    out = ["--out", tmp_path / f"{command}-json"] if command in ("forward", "backward") else out
    as_json = run([command, cfg, *out, "--json"])
    assert as_json.exit_code == 0 and as_json.stderr == ""


def test_the_bar_shows_while_one_long_step_runs(monkeypatch):
    """A run whose first step is long (one conv layer on the reference
    engine) shows its bar once PROGRESS_DELAY has passed, without waiting for
    the step to end; a quick one never draws it."""
    import io
    import time

    def draw(delay, wait):
        shown = io.StringIO()
        monkeypatch.setattr(cli, "_stderr_is_terminal", lambda: True)
        monkeypatch.setattr(cli, "_progress_console", lambda: Console(file=shown, force_terminal=True, width=100))
        monkeypatch.setattr(cli, "PROGRESS_DELAY", delay)
        with cli._delayed_progress(True, "backward", 3, "steps", remaining=False) as step:
            step(0, 3, "conv1 forward")
            time.sleep(wait)
            drawn = shown.getvalue()
        return drawn, shown.getvalue()

    during, after = draw(0.05, 1.0)
    assert "backward: conv1 forward" in plain(during) and "0/3 steps" in plain(during)
    assert after.endswith("\x1b[?25h") or "\x1b[2K" in after  # cleared (transient)
    during, after = draw(60.0, 0.0)
    assert during == after == ""


class _DeadTerminal(io.StringIO):
    """A terminal that hangs up once the bar has started: every write after
    the first few raises EIO, as a closed pty does."""

    def __init__(self, good_writes: int):
        super().__init__()
        self.left = good_writes

    def write(self, text):
        self.left -= 1
        if self.left < 0:
            raise OSError(errno.EIO, "Input/output error")
        return super().write(text)


def test_a_terminal_gone_under_the_bar_does_not_lose_the_run(tmp_path, monkeypatch):
    """The bar's last redraw on a terminal gone (SIGHUP ignored, a closed
    pty) raised EIO out of its stop and turned a finished run into an
    internal error (exit 3), its outputs discarded (a review); a bar never
    decides a run's outcome."""
    monkeypatch.setattr(cli, "_stderr_is_terminal", lambda: True)
    monkeypatch.setattr(cli, "_progress_console",
                        lambda: Console(file=_DeadTerminal(1), force_terminal=True, width=100))
    monkeypatch.setattr(cli, "PROGRESS_DELAY", 0.0)
    cfg = make_config(tmp_path)
    result = run(["backward", cfg, "--out", tmp_path / "out"])
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "out" / "summary.json").is_file()


def test_a_ctrl_c_while_the_bar_starts_still_stops_it(monkeypatch):
    """A SIGINT that lands inside the bar's start (on the main thread) left
    rich's redirection of stdout/stderr in place after the command, and the
    cursor hidden (a review)."""
    from rich.file_proxy import FileProxy
    from rich.live import Live

    shown = io.StringIO()
    monkeypatch.setattr(cli, "_stderr_is_terminal", lambda: True)
    monkeypatch.setattr(cli, "_progress_console", lambda: Console(file=shown, force_terminal=True, width=80))
    monkeypatch.setattr(cli, "PROGRESS_DELAY", 0.0)

    class NoTimer:  # the timer thread has not run yet: the main thread's step starts the bar
        daemon = False

        def __init__(self, *args):
            pass

        def start(self):
            pass

        def cancel(self):
            pass

    monkeypatch.setattr(cli.threading, "Timer", NoTimer)
    real = Live.refresh
    calls = []

    def refresh(self):
        calls.append(1)
        if len(calls) == 1:
            raise KeyboardInterrupt  # SIGINT's handler, raising inside Live.start
        return real(self)

    monkeypatch.setattr(Live, "refresh", refresh)
    with pytest.raises(KeyboardInterrupt):
        with cli._delayed_progress(True, "backward", 3, "steps") as step:
            step(0, 3, "conv1 forward")
    assert not isinstance(sys.stdout, FileProxy) and not isinstance(sys.stderr, FileProxy)
    assert shown.getvalue().endswith("\x1b[?25h") or "\x1b[?25h" in shown.getvalue()  # the cursor back


def test_help_documents_the_budget():
    for command in ("forward", "backward"):
        result = run([command, "--help"], env={"COLUMNS": "200"})
        assert "--memory-budget" in result.stdout and "512MiB" in result.stdout


def test_zip_member_is_read_forward_never_whole(tmp_path, monkeypatch):
    """An .npz member streams: zipfile's reader is asked for a chunk's bytes
    at a time, never for the whole member."""
    x = np.random.RandomState(3).randn(N, 6, 7, 3)
    np.savez_compressed(tmp_path / "x.npz", x=x)
    biggest = []
    real = zipfile.ZipExtFile.readinto

    def readinto(self, b):
        biggest.append(len(b))
        return real(self, b)

    monkeypatch.setattr(zipfile.ZipExtFile, "readinto", readinto)
    with arrays.Rows(Source(file="x.npz"), tmp_path, "w", dtype="float64", rng=None) as rows:
        got = np.concatenate([rows.read(r, min(r + 3, N)) for r in range(0, N, 3)])
    np.testing.assert_array_equal(got, x)
    assert max(biggest) <= 3 * x[0].nbytes


def test_streamed_input_used_as_a_weight_is_refused(tmp_path):
    data = {"inputs": {"A_prev": {"random": [3, 3, 3, 3]}, "b": {"random": [3]}},
            "layers": [{"type": "conv", "W": "A_prev", "b": "b"}]}
    cfg = write(tmp_path, data)
    with pytest.raises(ConvcliError, match="cannot also be this layer's W") as info:
        runner.plan(cfg, memory_budget=streaming.estimate(runner.plan(cfg), True).chunk(1))
    assert_fit_hint(str(info.value), ["backward", cfg, "--out", tmp_path / "c", "--json"])


def test_a_single_number_input_runs_in_memory(tmp_path):
    """A relu-only config on one number, a (1, 1, 1, 1) batch (every layer is
    NHWC): it runs in memory (the budget check used to index the missing
    first axis of a 0-d input, which layers now refuse)."""
    cfg = tmp_path / "scalar.yaml"
    cfg.write_text("inputs:\n  A_prev: {value: [[[[-2]]]]}\nlayers:\n  - {type: relu}\nbackward: {grad: ones}\n")
    result = run(["backward", cfg, "--out", tmp_path / "out", "--json"])
    assert result.exit_code == 0, result.output
    assert np.load(tmp_path / "out" / "relu1.A.npy").tolist() == [[[[0.0]]]]  # max(-2, 0)
    assert np.load(tmp_path / "out" / "relu1.dA_prev.npy").tolist() == [[[[0.0]]]]  # relu'(-2) = 0
    assert json.loads(result.stdout)["streaming"] is None


@pytest.mark.parametrize("change", ["truncate", "rewrite"])
def test_a_file_changed_while_streamed_is_an_error(tmp_path, change):
    """HDF5 reads zeros, not an error, for rows of a file cut short under a
    streamed run (a review's run wrote 1880 rows of zeros and exited 0)."""
    x = np.random.RandomState(0).rand(40, 8, 8, 3)
    with h5py.File(tmp_path / "x.h5", "w") as f:
        f["x"] = x
    with arrays.Rows(Source(file="x.h5", dataset="x"), tmp_path, "inputs.A_prev", dtype="float64", rng=None) as rows:
        np.testing.assert_array_equal(rows.read(0, 10), x[:10])
        size = os.path.getsize(tmp_path / "x.h5")
        if change == "truncate":
            os.truncate(tmp_path / "x.h5", size // 2)
        else:  # the same size, written again a moment later
            st = os.stat(tmp_path / "x.h5")
            os.utime(tmp_path / "x.h5", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
        with pytest.raises(ConvcliError) as err:
            rows.read(10, 20)
    said = f" (it was {size} bytes, now {size // 2})" if change == "truncate" else ""
    assert str(err.value) == f"inputs.A_prev: x.h5 changed while it was being read{said}; run again once nothing writes to it"


def test_a_streamed_input_overflowing_float32_names_its_rows(tmp_path):
    x = np.ones((40, 8, 8, 3))
    x[25, 3, 2, 1] = 1e39
    with h5py.File(tmp_path / "x.h5", "w") as f:
        f["x"] = x
    with arrays.Rows(Source(file="x.h5", dataset="x"), tmp_path, "inputs.A_prev", dtype="float32", rng=None) as rows:
        rows.read(0, 20)
        with pytest.raises(ConvcliError) as err:
            rows.read(20, 40)
    assert "1 value in rows 20:40 overflows float32" in str(err.value) and "[25, 3, 2, 1]" in str(err.value)


def test_a_run_past_the_default_budget_names_it_as_the_default(tmp_path):
    """A review's campaign: a run too large for the default budget was
    blamed on --memory-budget, an option the user never gave."""
    cfg = write(tmp_path, "inputs:\n  A_prev: {random: [1, 4, 4, 1]}\n  W: {random: [2, 2, 1, 1]}\n"
                          "  b: {random: [1]}\nlayers:\n  - {type: conv, W: W, b: b, pad: [0, 0, 0, 20000000]}\n")
    assert_error(run(["forward", cfg, "--out", tmp_path / "o"]),
                 "convcli: error: --memory-budget (default 512MiB): 512.0 MiB is too small for this run")
    assert_error(run(["forward", cfg, "--out", tmp_path / "o", "--memory-budget", "1GiB"]),
                 "convcli: error: --memory-budget: 1.0 GiB is too small for this run")
    assert not (tmp_path / "o").exists()


def test_a_deep_network_of_small_layers_runs_in_memory(tmp_path):
    """An oracle campaign: 300 conv layers of a few kilobytes each were
    refused the default 512 MiB budget ("967 MiB that any chunk needs"):
    the estimate counted each layer's forward block (~3 MiB) as kept in its
    cache, where a cache keeps at most the layer's unfolded chunk."""
    layers = "".join("  - {type: conv, W: W, b: b, pad: 1}\n" for _ in range(300))
    cfg = write(tmp_path, "inputs:\n  A_prev: {random: [2, 6, 6, 2]}\n  W: {random: [3, 3, 2, 2]}\n"
                          f"  b: {{random: [2]}}\nlayers:\n{layers}backward: {{grad: ones}}\n")
    e = streaming.estimate(runner.plan(cfg), True)
    assert e.in_memory(2) < 64 << 20  # the unfolded inputs: 300 x 2 x 36 x 19 x 8 bytes, ~3 MiB
    result = run(["backward", cfg, "--out", tmp_path / "out"])
    assert result.exit_code == 0, result.stderr
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["streaming"] is None


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_deep_layers_wide_blocks_are_not_counted_as_kept(dtype):
    """A review: a deep layer's blocks (3x3, 256 -> 256 channels: products of
    256 columns, blocks of conv.WIDE_MIN_ROWS rows, 7.1 MB in float64) went
    into the estimate's term for what the cache keeps, 20.3 MiB for two
    such layers of 32 samples, where a cache keeps its unfolded input only
    when one block of at most conv.block_max_bytes() (3 MiB) holds it."""
    import types

    s = np.dtype(dtype).itemsize
    ls = types.SimpleNamespace(in_shape=(32, 14, 14, 256), out_shape=(32, 14, 14, 256),
                               hyper={"f": (3, 3), "stride": (1, 1), "pad": (1, 1, 1, 1), "dilation": (1, 1)})
    block, unfolded = streaming._conv_terms(ls, s, "fast")[2]
    assert conv_engine.block_bytes(14, 256, 256, 3, 3, 1, 1, dtype) > conv_engine.block_max_bytes()
    assert block == conv_engine.block_max_bytes() and unfolded == 14 * 14 * (9 * 256 + 1) * s


@pytest.mark.parametrize("growth", [2.0, 3.0])
def test_what_a_conv_cache_keeps_is_within_the_estimate(monkeypatch, growth):
    """A review of the estimate: a conv cache keeps its chunk's unfolded
    input when one block holds it (conv.py: the state's cols), and the
    estimate bounds it by min(block, m * unfolded per sample). Random layers,
    tiled ones among them; with tiles as wide as 3 kernel widths (TILE_GROWTH
    3, its value once) a tile holds more per column, and the bound grows."""
    import random
    import types

    monkeypatch.setattr(conv_engine, "TILE_GROWTH", growth)
    rnd = random.Random(1)
    tiled = kept_any = 0
    # the review's case first: 3x1 kernels at stride (1, 2), float32, tiles of 2 columns kept whole
    cases = [(np.float32, (3, 1), (1, 1), (1, 2), 1, 4, 75, 40, 64, [0, 0, 0, 0])]
    for _ in range(150):
        f, d = (rnd.randint(1, 4), rnd.randint(1, 4)), (rnd.randint(1, 2), rnd.randint(1, 2))
        cases.append((rnd.choice([np.float32, np.float64]), f, d, (rnd.randint(1, 4), rnd.randint(1, 4)),
                      rnd.choice([1, 2, 3, 8]), rnd.choice([1, 3, 4, 8, 16]), rnd.choice([1, 3, 20, 75, 200]),
                      rnd.randint(d[0] * (f[0] - 1) + 1, 40), rnd.randint(d[1] * (f[1] - 1) + 1, 64),
                      [rnd.randint(0, 2) for _ in range(4)]))
    for dtype, f, d, s, C, n_C, m, H, W, pad in cases:
        A = np.random.rand(m, H, W, C).astype(dtype)
        Z, cache = conv_engine.conv_forward(A, np.random.rand(*f, C, n_C).astype(dtype),
                                            np.zeros(n_C, dtype), {"stride": list(s), "pad": pad, "dilation": list(d)})
        state = cache.state
        kept = 0 if state.cols is None else state.cols.nbytes
        ls = types.SimpleNamespace(in_shape=A.shape, out_shape=Z.shape,
                                   hyper={"f": f, "stride": s, "pad": tuple(pad), "dilation": d})
        block, unfolded = streaming._conv_terms(ls, np.dtype(dtype).itemsize, "fast")[2]
        assert kept <= min(block, m * unfolded), (A.shape, f, s, d, pad, n_C, state.tile, kept, block, unfolded)
        tiled += state.tile > 1
        kept_any += kept > 0
    assert tiled >= 3 and kept_any >= 50, (tiled, kept_any)  # the sweep reached both kinds


def test_gradchecks_coordinate_bar_waits_like_the_others(tmp_path, monkeypatch):
    """A review: gradcheck's coordinate bar showed at once (no PROGRESS_DELAY),
    flashing on runs of 0.2 s; now it waits like the rest, and shows the
    coordinates once the delay is past."""
    _terminal(monkeypatch)
    cfg = make_config(tmp_path)
    monkeypatch.setattr(cli, "PROGRESS_DELAY", 3600.0)
    quick = run(["gradcheck", cfg, "--samples", "3"])
    assert quick.exit_code == 0 and quick.stderr == ""
    monkeypatch.setattr(cli, "PROGRESS_DELAY", 0.0)
    shown = plain(run(["gradcheck", cfg, "--samples", "3"]).stderr)
    assert "gradcheck: " in shown and "coordinates" in shown, shown


def test_no_bar_on_a_terminal_that_cannot_redraw(monkeypatch):
    """A review: under TERM=dumb a bar could not be erased, and left a blank line."""
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    monkeypatch.setenv("TERM", "dumb")
    assert not cli._stderr_is_terminal()
    monkeypatch.setenv("TERM", "xterm-256color")
    assert cli._stderr_is_terminal()
