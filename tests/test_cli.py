"""Every command through its real door: CliRunner in-process, and once each
through the installed ``convcli`` script as a user would run it."""

from __future__ import annotations

import hashlib
import io
import json
import math
from collections import Counter
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml

import convcli
from conftest import require
from convcli.cli import app
from test_cli_helpers import CONFIGS, SEED, SMALL, assert_error, run, seed_data, tree, write

COMMANDS = ["forward", "backward", "check", "gradcheck", "shapes", "plot"]


# --------------------------------------------------------------------- forward / backward


def test_forward_writes_inputs_outputs_and_summary(tmp_path):
    cfg = write(tmp_path, SMALL)
    result = run(["forward", cfg, "--out", tmp_path / "out"])
    assert result.exit_code == 0, result.stderr
    files = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert files == ["A_prev.npy", "W.npy", "b.npy", "conv1.Z.npy", "expected.yaml", "pool3.A.npy", "relu2.A.npy",
                     "summary.json"]
    assert "wrote 6 arrays (npy), summary.json and expected.yaml" in result.stdout
    assert "\x1b[" not in result.stdout  # no colour codes when stdout is not a terminal
    assert result.stderr == ""


def test_backward_writes_every_gradient(tmp_path):
    cfg = write(tmp_path, SEED)
    result = run(["backward", cfg, "--out", tmp_path / "out"])
    assert result.exit_code == 0, result.stderr
    out = tmp_path / "out"
    for q in ["conv1.Z", "conv1.dZ", "conv1.dA_prev", "conv1.dW", "conv1.db"]:
        assert (out / f"{q}.npy").is_file(), q
    assert np.load(out / "conv1.dA_prev.npy").mean() == pytest.approx(9.608990675868995, rel=1e-12)
    assert np.array_equal(np.load(out / "conv1.dZ.npy"), np.load(out / "conv1.Z.npy"))  # grad: output


def test_expected_yaml_is_an_instructors_key_with_every_digit(tmp_path):
    """An instructor's review: nothing wrote an expected: block, and numbers
    copied from the tables (six digits) fail rtol 1e-6. expected.yaml holds
    the statistics of every computed quantity, not the inputs or the given
    upstream gradient: the notebook's printed means to the last digit, a
    check against it passes, and a run of another seed fails it."""
    cfg = write(tmp_path, SEED)
    result = run(["backward", cfg, "--out", tmp_path / "out"])
    assert "summary.json and expected.yaml" in result.stdout
    key = tmp_path / "out" / "expected.yaml"
    text = key.read_text()
    assert f"#   convcli check {cfg} --expected {key}" in text
    entries = yaml.safe_load(text)["expected"]
    notebook = {"conv1.dA_prev.mean": 9.608990675868995, "conv1.dW.mean": 10.581741275547566,
                "conv1.db.mean": 76.37106919563735}  # printed by the seed notebook
    for k, v in notebook.items():
        assert entries[k] == pytest.approx(v, rel=1e-13), k
    assert entries["conv1.Z.shape"] == [10, 7, 7, 8]
    stats = [k for k in entries if "[" not in k]
    quantities = {k.rsplit(".", 1)[0] for k in stats}
    assert quantities == {"conv1.Z", "conv1.dA_prev", "conv1.dW", "conv1.db"}  # no A_prev, W, b, conv1.dZ
    assert len(stats) == 4 * 7
    # and each one's element largest in magnitude, at its index (found here from the arrays written)
    for q in quantities:
        a = np.load(tmp_path / "out" / f"{q}.npy")
        at = np.unravel_index(int(np.argmax(np.abs(a))), a.shape)
        assert entries[f"{q}[{', '.join(str(int(i)) for i in at)}]"] == a[at], q
    assert len(entries) == 4 * 8
    result = run(["check", cfg, "--expected", key])
    assert result.exit_code == 0 and "all 32 checks passed" in result.stdout
    other = write(tmp_path, SEED.replace("seed: 1", "seed: 2"), "other.yaml")
    assert run(["check", other, "--expected", key]).exit_code == 1
    # a review: the same data mirrored (maps and kernels flipped left to right) has the same statistics,
    # and passed all 28; its largest elements sit elsewhere
    A, W, b = (np.load(tmp_path / "out" / f"{q}.npy") for q in ("A_prev", "W", "b"))
    for q, x in (("A", A[:, :, ::-1]), ("W", W[:, ::-1]), ("b", b)):
        np.save(tmp_path / f"m_{q}.npy", x)
    mirrored = write(tmp_path, SEED.replace("  A_prev: {random: [10, 4, 4, 3]}\n  W: {random: [2, 2, 3, 8]}\n"
                                            "  b: {random: [1, 1, 1, 8]}\n",
                                            "  A_prev: {file: m_A.npy}\n  W: {file: m_W.npy}\n  b: {file: m_b.npy}\n"),
                     "mirrored.yaml")
    assert "m_A.npy" in mirrored.read_text()
    result = run(["check", mirrored, "--expected", key])
    # Z, dA_prev and dW fail; db, a sum over the positions, is the same mirrored: it passes, rightly
    assert result.exit_code == 1 and "3 of 32 checks FAILED" in result.stdout, result.stdout
    # convcli's own folder still: --force replaces it
    assert run(["backward", cfg, "--out", tmp_path / "out", "--force"]).exit_code == 0
    # a run with --dtype float32 names it in the command (a review: without it the check ran float64
    # and failed rtol 1e-6), and a folder with a space is quoted for the shell
    out32 = tmp_path / "float 32"
    assert run(["backward", cfg, "--out", out32, "--dtype", "float32"]).exit_code == 0
    line = next(t for t in (out32 / "expected.yaml").read_text().splitlines() if t.startswith("#   convcli check"))
    assert line == f"#   convcli check {cfg} --dtype float32 --expected '{out32 / 'expected.yaml'}'"
    assert run(["check", cfg, "--dtype", "float32", "--expected", out32 / "expected.yaml"]).exit_code == 0


def test_a_failed_check_against_another_runs_expected_yaml_says_whose_values_they_are(tmp_path, monkeypatch):
    """An instructor's key from one config, checked against an edited one
    (or in another dtype): the failures alone did not say the values were
    another run's. expected.yaml names the config (sha256) and the dtype it
    was computed from; a check that fails says so, one that passes does not."""
    monkeypatch.chdir(tmp_path)  # short paths, said whole
    write(tmp_path, SEED)
    cfg, key = "cfg.yaml", "out/expected.yaml"
    assert run(["backward", cfg, "--out", "out"]).exit_code == 0
    sha = hashlib.sha256((tmp_path / cfg).read_bytes()).hexdigest()
    came = yaml.safe_load((tmp_path / key).read_text())["computed_from"]
    assert came == {"config": cfg, "sha256": sha, "dtype": "float64", "engine": "fast", "convcli": convcli.__version__}
    same = run(["check", cfg, "--expected", key])
    assert same.exit_code == 0 and "note:" not in same.stdout

    other = write(tmp_path, SEED.replace("seed: 1", "seed: 2"), "other.yaml")
    sha_other = hashlib.sha256(other.read_bytes()).hexdigest()
    wide = {"COLUMNS": "1000"}  # the note on one line
    result = run(["check", "other.yaml", "--expected", key], env=wide)
    assert result.exit_code == 1
    assert (f"\nnote: --expected {key} was computed from {cfg} (sha256 {sha[:12]}), "
            f"not from other.yaml (sha256 {sha_other[:12]})\n") in result.stdout
    report = json.loads(run(["check", "other.yaml", "--expected", key, "--json"]).stdout)
    assert not report["ok"] and report["expected_note"].startswith(f"--expected {key} was computed from {cfg} ")

    # the same config in float32, checked tighter than float32 holds: the dtype is named
    result = run(["check", cfg, "--expected", key, "--dtype", "float32", "--rtol", "1e-12"], env=wide)
    assert result.exit_code == 1
    assert f"\nnote: --expected {key} was computed in float64, not in float32 as this run\n" in result.stdout
    # a key written by hand (no computed_from:) fails as before, without a note
    write(tmp_path, {"expected": {"conv1.Z.mean": 1.0}}, "hand.yaml")
    result = run(["check", cfg, "--expected", "hand.yaml"])
    assert result.exit_code == 1 and "note:" not in result.stdout
    # a key of another network, refused for a quantity this config has not, says whose it is (a review: it read
    # as a typo in the learner's file); one written by hand is refused as before
    key2 = yaml.safe_load((tmp_path / key).read_text())
    key2["expected"]["relu9.A.mean"] = 1.0
    (tmp_path / "key2.yaml").write_text(yaml.safe_dump(key2))
    result = run(["check", "other.yaml", "--expected", "key2.yaml"])
    assert result.exit_code == 2, result.output
    assert result.output.rstrip().endswith(f"unknown quantity 'relu9.A'; known: A_prev, W, b, conv1.Z, conv1.dZ, "
                                           f"conv1.dA_prev, conv1.dW, conv1.db; --expected key2.yaml was computed "
                                           f"from {cfg} (sha256 {sha[:12]}), not from other.yaml (sha256 "
                                           f"{sha_other[:12]})"), result.output
    write(tmp_path, {"expected": {"relu9.A.mean": 1.0}}, "hand.yaml")
    result = run(["check", cfg, "--expected", "hand.yaml"])
    assert result.exit_code == 2 and result.output.rstrip().endswith("conv1.dW, conv1.db"), result.output


@pytest.mark.parametrize("fmt", ["npy", "h5"])
def test_expected_yaml_compares_the_whole_array_where_its_statistics_are_nan(tmp_path, fmt):
    """A review's repro: with allow_nonfinite, one NaN makes every statistic
    NaN, NaN matches NaN, and a wholly different array (100x larger, another
    seed, its NaN elsewhere) passed all of expected.yaml's checks. Such a
    quantity's whole array is now an entry too, from the file beside it."""
    A = np.random.RandomState(0).randn(1, 4, 4, 1)
    A[0, 0, 0, 0] = np.nan
    B = np.random.RandomState(5).randn(1, 4, 4, 1) * 100
    B[0, 3, 3, 0] = np.nan
    np.save(tmp_path / "a.npy", A)
    np.save(tmp_path / "b.npy", B)
    data = {"allow_nonfinite": True, "layers": [{"type": "relu"}]}
    cfg_a = write(tmp_path, {**data, "inputs": {"A_prev": {"file": "a.npy"}}}, "a.yaml")
    cfg_b = write(tmp_path, {**data, "inputs": {"A_prev": {"file": "b.npy"}}}, "b.yaml")
    assert run(["forward", cfg_a, "--out", tmp_path / "out", "--format", fmt]).exit_code == 0
    key = tmp_path / "out" / "expected.yaml"
    entries = yaml.safe_load(key.read_text())["expected"]
    assert math.isnan(entries["relu1.A.mean"])
    assert entries["relu1.A"] == ({"file": "relu1.A.npy"} if fmt == "npy"
                                  else {"file": "outputs.h5", "dataset": "relu1.A"})
    assert run(["check", cfg_a, "--expected", key]).exit_code == 0  # NaN where a's NaN is
    report = json.loads(run(["check", cfg_b, "--expected", key, "--json"]).stdout)
    assert not report["ok"]
    failed = [e for e in report["expected"] if not e["passed"]]
    assert [e["entry"] for e in failed] == ["relu1.A"] and failed[0]["first_index"] == [0, 0, 0, 0]
    # a finite run's expected.yaml has statistics only
    np.save(tmp_path / "a.npy", np.nan_to_num(A))
    assert run(["forward", cfg_a, "--out", tmp_path / "fin"]).exit_code == 0
    assert "relu1.A" not in yaml.safe_load((tmp_path / "fin" / "expected.yaml").read_text())["expected"]


def test_summary_json(tmp_path):
    cfg = write(tmp_path, SEED)
    assert run(["backward", cfg, "--out", tmp_path / "out", "--engine", "reference"]).exit_code == 0
    s = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert s["convcli"] == convcli.__version__ and s["numpy"] == np.__version__
    assert s["config"]["path"] == str(cfg.resolve())
    assert s["config"]["sha256"] == hashlib.sha256(cfg.read_bytes()).hexdigest()
    assert (s["seed"], s["dtype"], s["engine"], s["format"], s["command"]) == (1, "float64", "reference", "npy", "backward")
    assert {"load", "forward", "backward", "write", "total"} <= set(s["timings"])
    db = s["quantities"]["conv1.db"]
    assert set(db) >= {"shape", "dtype", "mean", "std", "min", "max", "sum", "norm", "role", "file"}
    assert db["mean"] == pytest.approx(76.37106919563735, rel=1e-12)
    assert db["shape"] == [1, 1, 1, 8] and db["file"] == "conv1.db.npy" and db["role"] == "gradient"


def test_summary_json_records_the_threads_and_blas_it_ran_on(tmp_path, monkeypatch):
    """An instructor's review: two keys of one config made on other thread
    settings differed (a product rounds otherwise on more threads, and an
    ulp moves a max pool's tie), and nothing in summary.json said so."""
    from threadpoolctl import threadpool_info

    monkeypatch.setenv("CONVCLI_THREADS", "3")
    cfg = write(tmp_path, SEED)
    assert run(["forward", cfg, "--out", tmp_path / "out"]).exit_code == 0
    t = json.loads((tmp_path / "out" / "summary.json").read_text())["threads"]
    blas = [lib for lib in threadpool_info() if lib["user_api"] == "blas" and "numpy" in lib["filepath"]]
    every = [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]
    assert t["engine"] == 3 and t["blas"] == max(every or [1])
    assert all(str(lib["version"]) in t["blas_library"] and lib["internal_api"] in t["blas_library"] for lib in blas)


def test_h5_format(tmp_path):
    cfg = write(tmp_path, SMALL)
    result = run(["backward", cfg, "--out", tmp_path / "out", "--format", "h5"])
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["expected.yaml", "outputs.h5", "summary.json"]
    with h5py.File(tmp_path / "out" / "outputs.h5") as f:
        assert {"conv1.Z", "relu2.A", "pool3.A", "pool3.dA", "conv1.dW", "relu2.dA_prev"} <= set(f)
        assert f["conv1.dW"].shape == (3, 3, 3, 2)


def test_default_out_and_force(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = write(tmp_path, SEED, name="seed.yaml")
    assert run(["forward", cfg]).exit_code == 0
    out = tmp_path / "convcli-out" / "seed"
    assert (out / "summary.json").is_file()
    again = run(["backward", cfg])
    assert again.exit_code == 2 and "pass --force" in again.stderr
    assert not (out / "conv1.dW.npy").exists()
    assert run(["backward", cfg, "--force"]).exit_code == 0
    assert (out / "conv1.dW.npy").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["convcli-out", "seed.yaml"]  # no temp folders left


def test_dtype_float32(tmp_path):
    cfg = write(tmp_path, SEED)
    assert run(["backward", cfg, "--out", tmp_path / "out", "--dtype", "float32"]).exit_code == 0
    assert np.load(tmp_path / "out" / "conv1.dW.npy").dtype == np.float32
    s = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert s["dtype"] == "float32" and s["quantities"]["conv1.Z"]["dtype"] == "float32"


def test_random_inputs_then_random_gradient_from_one_stream(tmp_path):
    """RandomState(seed): the random inputs in the order listed, then the gradient."""
    cfg = write(tmp_path, SMALL)
    assert run(["backward", cfg, "--out", tmp_path / "out"]).exit_code == 0
    rng = np.random.RandomState(0)
    A, W, b = rng.randn(2, 5, 5, 3), rng.randn(3, 3, 3, 2), rng.randn(2)
    grad = rng.randn(2, 2, 2, 2)
    out = tmp_path / "out"
    assert np.array_equal(np.load(out / "A_prev.npy"), A)
    assert np.array_equal(np.load(out / "b.npy"), b)
    assert np.array_equal(np.load(out / "pool3.dA.npy"), grad)


def test_forward_json_is_one_document_on_stdout(tmp_path):
    cfg = write(tmp_path, SEED)
    result = run(["forward", cfg, "--out", tmp_path / "out", "--json"])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["out"] == str(tmp_path / "out") and doc["command"] == "forward"
    assert doc["quantities"]["conv1.Z"]["shape"] == [10, 7, 7, 8]


# --------------------------------------------------------------------- check


def test_check_passes_on_the_seed_config(tmp_path):
    result = run(["check", write(tmp_path, SEED)])
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "dA_prev.mean" in result.stdout and "9.608990675868995" in result.stdout
    assert "all 3 checks passed" in result.stdout
    assert tree(tmp_path) == {"cfg.yaml"}  # check writes nothing


def test_a_wrong_expected_value_exits_1_and_names_the_entry(tmp_path):
    data = seed_data()
    data["expected"]["dW.mean"] = 10.6
    result = run(["check", write(tmp_path, data)])
    assert result.exit_code == 1, result.stdout
    assert "FAIL dW.mean (conv1.dW): got 10.581741275547" in result.stdout
    assert "expected 10.6" in result.stdout
    assert "1 of 3 checks FAILED" in result.stdout


def test_a_wrong_element_names_its_index(tmp_path):
    data = seed_data()
    data["expected"] = {"db[0, 0, 0]": [0.0] * 8}
    result = run(["check", write(tmp_path, data), "--json"])
    assert result.exit_code == 1
    (entry,) = json.loads(result.stdout)["expected"]
    assert entry["entry"] == "db[0, 0, 0]" and entry["quantity"] == "conv1.db"
    assert entry["first_index"] == [0, 0, 0, 0] and entry["passed"] is False


def test_check_json(tmp_path):
    result = run(["check", write(tmp_path, SEED), "--json"])
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["ok"] is True and doc["against"] == []
    assert [e["entry"] for e in doc["expected"]] == ["dA_prev.mean", "dW.mean", "db.mean"]
    assert all(e["passed"] for e in doc["expected"])


def test_expected_entries_of_every_form(tmp_path):
    np.random.seed(1)
    data = seed_data()
    rng = np.random.RandomState(1)
    A = rng.randn(10, 4, 4, 3)
    np.save(tmp_path / "A.npy", A)
    data["expected"] = {
        "A_prev": {"file": "A.npy"},  # an input, whole, from a file
        "A_prev[0, 0, 0]": A[0, 0, 0].tolist(),
        "A_prev[..., 2]": {"value": A[..., 2].tolist(), "rtol": 0, "atol": 0},
        "A_prev[1:3, ::2, -1]": A[1:3, ::2, -1].tolist(),
        "conv1.Z.shape": [10, 7, 7, 8],
        "Z.max": {"value": 20.226, "rtol": 1e-3},
        "W.norm": float(np.linalg.norm(rng.randn(2, 2, 3, 8))),
    }
    result = run(["check", write(tmp_path, data)])
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "all 7 checks passed" in result.stdout


def test_expected_file_replaces_the_configs_entries(tmp_path):
    cfg = write(tmp_path, SEED)
    exp = write(tmp_path, "expected:\n  db.mean: 76.37106919563735\n  Z.shape: [10, 7, 7, 8]\n", name="exp.yaml")
    result = run(["check", cfg, "--expected", exp])
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "all 2 checks passed" in result.stdout and "exp.yaml" in result.stdout
    bad = write(tmp_path, "expected:\n  db.mean: 1.0\ntolerance: {rtol: 0.5}\n", name="bad.yaml")
    result = run(["check", cfg, "--expected", bad])
    assert result.exit_code == 1 and "FAIL db.mean" in result.stdout


def test_expected_file_with_an_unknown_key(tmp_path):
    cfg = write(tmp_path, SEED)
    exp = write(tmp_path, "expect:\n  db.mean: 1\n", name="exp.yaml")
    result = run(["check", cfg, "--expected", exp])
    assert result.exit_code == 2 and "exp.yaml: expect (line 1): unknown key (did you mean 'expected'?)" in result.stderr
    # entries written at the top, as in a config's expected: block (a review: "known keys: expected, tolerance")
    top = write(tmp_path, "tolerance: {rtol: 1.0e-3}\ndb.mean: 1\n", name="top.yaml")
    assert_error(run(["check", cfg, "--expected", top]), "top.yaml: ['db.mean'] (line 2): ",
                 "an expected entry at the top of the file: put it under expected:")


# --------------------------------------------------------------------- --against


def _backward(tmp_path, text, *extra) -> Path:
    cfg = write(tmp_path, text)
    out = tmp_path / "out"
    result = run(["backward", cfg, "--out", out, *extra])
    assert result.exit_code == 0, result.stderr
    return cfg


def test_against_passes_on_arrays_convcli_wrote(tmp_path):
    cfg = _backward(tmp_path, SMALL)
    result = run(["check", cfg, "--against", tmp_path / "out"])
    assert result.exit_code == 0, result.stdout + result.stderr
    # the 8 quantities the run computes; its inputs and upstream gradient are the config's, not graded
    assert "all 8 checks passed" in result.stdout
    assert ("not graded (given by the config, not computed): A_prev.npy, W.npy, b.npy, pool3.dA.npy"
            in result.stdout)


def test_against_fails_naming_the_quantity_and_the_index(tmp_path):
    cfg = _backward(tmp_path, SMALL)
    path = tmp_path / "out" / "conv1.dW.npy"
    dW = np.load(path)
    dW[1, 2, 0, 1] += 1e-3
    np.save(path, dW)
    result = run(["check", cfg, "--against", tmp_path / "out"])
    assert result.exit_code == 1, result.stdout
    assert "FAIL conv1.dW.npy: first differs at [1, 2, 0, 1]" in result.stdout
    assert "1 of 8 checks FAILED" in result.stdout
    # the table: a row each on an 80-column terminal (its 7 columns had folded every row over two
    # lines); an array named as its quantity is not named twice
    table = run(["check", cfg, "--against", tmp_path / "out"], env={"COLUMNS": "80"}).stdout.splitlines()
    rows = [line.split() for line in table if line.startswith(("conv1.", "pool3.", "relu2."))]
    assert len(rows) == 8 and all(len(line) <= 80 for line in table if line.startswith(("conv1.", "array")))
    (bad,) = [r for r in rows if r[-1] == "FAIL"]
    assert bad[0] == "conv1.dW.npy" and " ".join(bad[-5:-1]) == "[1, 2, 0, 1]"
    doc = json.loads(run(["check", cfg, "--against", tmp_path / "out", "--json"]).stdout)
    (bad,) = [o for o in doc["against"] if not o["passed"]]
    assert bad["quantity"] == "conv1.dW" and bad["first_index"] == [1, 2, 0, 1]
    assert bad["abs_err"] == pytest.approx(1e-3, rel=1e-6)


def test_against_a_folder_written_for_another_config_says_so(tmp_path):
    _backward(tmp_path, SMALL)
    other = write(tmp_path, SMALL.replace("seed: 0", "seed: 5"), name="other.yaml")
    result = run(["check", other, "--against", tmp_path / "out"])
    assert result.exit_code == 1
    assert "note: " in result.stdout and "were written for" in result.stdout and "cfg.yaml" in result.stdout


def test_against_an_h5_file(tmp_path):
    cfg = _backward(tmp_path, SMALL, "--format", "h5")
    h5 = tmp_path / "out" / "outputs.h5"
    assert run(["check", cfg, "--against", h5]).exit_code == 0
    assert run(["check", cfg, "--against", tmp_path / "out"]).exit_code == 0  # the folder finds outputs.h5
    with h5py.File(h5, "r+") as f:
        f["pool3.A"][0, 1, 1, 0] = 42.0
    result = run(["check", cfg, "--against", h5])
    assert result.exit_code == 1
    assert "FAIL pool3.A: first differs at [0, 1, 1, 0]: got 42.0" in result.stdout


def test_against_an_h5_with_its_datasets_in_a_group_of_the_users(tmp_path):
    """A review's campaign: datasets saved under a group (results/conv1.Z)
    were each unknown ('results.conv1.Z'); the names below the group are
    graded, and a layer's own group (conv1/dW) still reads as conv1.dW."""
    sub = _submission(tmp_path, [])
    ref = tmp_path / "ref"
    with h5py.File(sub / "mine.h5", "w") as f:
        f["results/conv1.Z"] = np.load(ref / "conv1.Z.npy")
        f["results/conv1/dW"] = np.load(ref / "conv1.dW.npy") * 2
    result = run(["check", CONFIGS / "stack.yaml", "--against", sub / "mine.h5", "--expected", _no_expected(tmp_path)])
    assert result.exit_code == 1, result.stdout
    assert "graded: results/conv1.Z as conv1.Z, results/conv1/dW as conv1.dW" in result.stdout  # network order
    assert "FAIL results/conv1/dW (conv1.dW): first differs" in result.stdout and "times 2 everywhere" in result.stdout
    assert "1 of 2 checks FAILED" in result.stdout


def test_against_bare_names_in_a_one_layer_config(tmp_path):
    cfg = write(tmp_path, SEED)
    mine = tmp_path / "mine"
    mine.mkdir()
    rng = np.random.RandomState(1)
    A, W, b = rng.randn(10, 4, 4, 3), rng.randn(2, 2, 3, 8), rng.randn(1, 1, 1, 8)
    from convcli import conv_backward, conv_forward

    Z, cache = conv_forward(A, W, b, {"pad": 2, "stride": 1, "bias": "window"})
    np.save(mine / "Z.npy", Z)
    np.save(mine / "dW.npy", conv_backward(Z, cache)[1])
    db = conv_backward(Z, cache)[2]
    np.save(mine / "db.npy", db.reshape(8))  # (8,) for convcli's (1, 1, 1, 8): the same numbers in order
    np.save(mine / "dA_prev.npy", np.zeros((10, 4, 4, 3)))  # wrong
    result = run(["check", cfg, "--against", mine, "--json"])
    doc = json.loads(result.stdout)
    by = {o["quantity"]: o for o in doc["against"]}
    assert by["conv1.Z"]["passed"] and by["conv1.dW"]["passed"]
    assert by["conv1.db"]["passed"] and by["conv1.db"]["note"] == "compared as (1, 1, 1, 8) (yours: (8,))"
    assert not by["conv1.dA_prev"]["passed"]
    assert all(o["dtype"] == "float64" for o in doc["against"])
    assert doc["unknown"] == [] and doc["missing"] == []
    assert result.exit_code == 1
    # the report names the quantity an array is graded as where its name is not it
    table = run(["check", cfg, "--against", mine], env={"COLUMNS": "80"}).stdout
    assert re.search(r"^Z\.npy +\(10, 7, 7, 8\) .* pass *$", table, re.M)
    assert re.search(r"^dA_prev\.npy +\(10, 4, 4, 3\) .* \[0, 0, 0, 0\] +FAIL *$", table, re.M)
    assert "pass db.npy (conv1.db): compared as (1, 1, 1, 8) (yours: (8,))" in table
    assert "FAIL dA_prev.npy (conv1.dA_prev): first differs at [0, 0, 0, 0]" in table
    (said,) = [line for line in table.splitlines() if line.startswith("graded: ")]
    assert sorted(said[len("graded: "):].split(", ")) == [
        "Z.npy as conv1.Z", "dA_prev.npy as conv1.dA_prev", "dW.npy as conv1.dW", "db.npy as conv1.db"]
    # (a review) a name that says its quantity, in capitals (conv1.Z.NPY), is not listed: check reads .NPY too
    (mine / "Z.npy").rename(mine / "conv1.Z.NPY")
    table = run(["check", cfg, "--against", mine], env={"COLUMNS": "80"}).stdout
    assert re.search(r"^conv1\.Z\.NPY +\(10, 7, 7, 8\) .* pass *$", table, re.M), table
    (said,) = [line for line in table.splitlines() if line.startswith("graded: ")]
    assert "conv1.Z" not in said, said


def _submission(tmp_path, names) -> Path:
    """A folder of stack.yaml's quantities ``names`` as convcli computes them
    (grading mechanics, not numbers: the same arrays must pass)."""
    ref = tmp_path / "ref"
    if not ref.exists():
        assert run(["backward", CONFIGS / "stack.yaml", "--out", ref]).exit_code == 0
    sub = tmp_path / "sub"
    sub.mkdir()
    for name in names:
        shutil.copy(ref / f"{name}.npy", sub / f"{name}.npy")
    return sub


def test_against_json_has_what_a_grader_needs_without_reading_the_notes(tmp_path):
    """A review's autograder could score only by matching the English of the
    notes: the submission's shape, the values at the first difference and the
    kind of mistake are fields now, and the counts are per kind of check."""
    sub = _submission(tmp_path, ["relu2.A"])
    ref = tmp_path / "ref"
    np.save(sub / "conv1.Z.npy", np.load(ref / "conv1.Z.npy").transpose(0, 3, 1, 2))  # NCHW
    dW = np.load(ref / "conv1.dW.npy")
    np.save(sub / "conv1.dW.npy", dW / 4)  # divided by m
    result = run(["check", CONFIGS / "stack.yaml", "--against", sub, "--complete", "--json"])
    doc = json.loads(result.stdout)
    by = {o["quantity"]: o for o in doc["against"]}
    assert by["conv1.Z"]["shape"] == [4, 4, 8, 8] and by["conv1.Z"]["expected_shape"] == [4, 8, 8, 4]
    assert by["conv1.Z"]["hints"] == ["axis_order"]
    first = tuple(by["conv1.dW"]["first_index"])
    assert by["conv1.dW"]["hints"] == ["scale"]
    assert by["conv1.dW"]["got_at_first"] == dW[first] / 4 and by["conv1.dW"]["expected_at_first"] == dW[first]
    assert by["relu2.A"]["passed"] and by["relu2.A"]["hints"] == [] and by["relu2.A"]["got_at_first"] is None
    missing = by["pool3.A"]
    assert missing["status"] == "missing" and missing["shape"] is None and missing["expected_shape"] == [4, 4, 4, 4]
    # stack.yaml's 11 expected: entries are checked against convcli's own run, apart
    n_expected = doc["counts"]["expected"]["checks"]
    assert n_expected == 11 and doc["counts"]["expected"]["passed"] == 11
    # with --complete the missing quantities are among the checks, failed; their number is counted apart too
    assert len(doc["missing"]) == 5 and sum(o["status"] == "missing" for o in doc["against"]) == 5
    assert doc["counts"]["against"] == {"checks": len(doc["against"]), "passed": 1, "missing": 5}
    assert doc["checks"] == n_expected + len(doc["against"])


def test_a_failed_array_says_how_many_elements_differ_and_where_the_most(tmp_path):
    """An instructor's review: a failure gave the largest error and the
    first index beyond tolerance only, so one slip (1 of 216 elements) read
    like a frame of errors (a padding mistake: the border only). The note
    and --json say how many elements differ and where the largest
    difference is; --json names the submission graded (a gradebook's key)."""
    sub = _submission(tmp_path, [])
    ref = tmp_path / "ref"
    dW = np.load(ref / "conv1.dW.npy")  # (3, 3, 3, 4): 108 elements
    slip = dW.copy()
    slip[1, 2, 0, 3] += 0.5
    np.save(sub / "conv1.dW.npy", slip)
    Z = np.load(ref / "conv1.Z.npy")  # (4, 8, 8, 4)
    frame = Z.copy()
    frame[:, 0] -= 1.0  # the top row of every map: 4 * 8 * 4 = 128 elements
    frame[2, 0, 5, 1] -= 2.0  # the most
    np.save(sub / "conv1.Z.npy", frame)
    doc = json.loads(run(["check", CONFIGS / "stack.yaml", "--against", sub, "--json"]).stdout)
    assert doc["against_path"] == str(sub)
    by = {o["quantity"]: o for o in doc["against"]}
    assert (by["conv1.dW"]["n_differ"], by["conv1.dW"]["worst_index"]) == (1, [1, 2, 0, 3])
    assert "; 1 of 108 elements differs;" in by["conv1.dW"]["note"], by["conv1.dW"]["note"]
    assert (by["conv1.Z"]["n_differ"], by["conv1.Z"]["worst_index"]) == (128, [2, 0, 5, 1])
    assert "; 128 of 1024 elements differ, the most at [2, 0, 5, 1]: got " in by["conv1.Z"]["note"]
    np.save(sub / "conv1.dW.npy", dW)
    np.save(sub / "conv1.Z.npy", Z)
    doc = json.loads(run(["check", CONFIGS / "stack.yaml", "--against", sub, "--json"]).stdout)
    assert all(o["n_differ"] is None and o["worst_index"] is None for o in doc["against"])
    assert json.loads(run(["check", CONFIGS / "stack.yaml", "--json"]).stdout)["against_path"] is None


def test_against_lists_unknown_and_missing_arrays_and_grades_the_rest(tmp_path):
    """The grading review: one stray file aborted the whole grade (exit 2),
    and a submission missing quantities passed without a word."""
    sub = _submission(tmp_path, ["conv1.Z", "relu2.A"])
    np.save(sub / "scratch.npy", np.zeros(3))
    np.save(sub / "dA_prev.npy", np.zeros((4, 8, 8, 3)))  # a bare name in a config of three layers
    result = run(["check", CONFIGS / "stack.yaml", "--against", sub, "--expected", _no_expected(tmp_path),
                  "--json"])
    assert result.exit_code == 0, result.stdout + result.stderr
    doc = json.loads(result.stdout)
    assert [o["quantity"] for o in doc["against"]] == ["conv1.Z", "relu2.A"]
    assert all(o["passed"] for o in doc["against"])
    unknown = {u["entry"]: u["note"] for u in doc["unknown"]}
    assert set(unknown) == {"scratch.npy", "dA_prev.npy"}
    # the layers' dA_prev of its shape only (a learner's review: all three offered for conv1's shape)
    assert unknown["dA_prev.npy"].startswith(
        "unknown quantity 'dA_prev' (did you mean 'conv1.dA_prev', of its shape (4, 8, 8, 3)?)")
    # what the run computes: the outputs, and (stack.yaml has a backward: section) every gradient but the
    # given upstream one (pool3.dA); never the inputs (A_prev, W1, b1)
    assert doc["missing"] == ["pool3.A", "conv1.dA_prev", "conv1.dW", "conv1.db", "relu2.dA_prev", "pool3.dA_prev"]
    table = run(["check", CONFIGS / "stack.yaml", "--against", sub, "--expected", _no_expected(tmp_path)]).stdout
    assert "not graded: scratch.npy: unknown quantity 'scratch'" in table
    assert "not among your arrays: pool3.A, conv1.dA_prev, conv1.dW" in table
    # the last line counts them too (a learner's review: "the check passed" of 1 array of 8)
    assert table.rstrip().endswith("all 2 checks passed; 2 of your arrays not graded (their names: above); 6 not "
                                   "among your arrays (--complete fails them)"), table
    # the run's quantities once, under the names (an instructor's review: a copy after each of six names)
    known = "A_prev, W1, b1, conv1.Z, relu2.A, pool3.A, pool3.dA, conv1.dA_prev, conv1.dW, conv1.db, relu2.dA_prev"
    assert "; known:" not in table and f"\nknown quantities: {known}, pool3.dA_prev\n" in table
    # the notebook's dZ of conv1, which relu2 follows: the gradient coming into it is relu2.dA_prev
    np.save(sub / "dZ.npy", np.zeros((4, 8, 8, 4)))
    table = run(["check", CONFIGS / "stack.yaml", "--against", sub, "--expected", _no_expected(tmp_path)]).stdout
    assert "not graded: dZ.npy: unknown quantity 'dZ' (did you mean 'relu2.dA_prev', the dZ of conv1?)\n" in table
    assert "not graded: scratch.npy: unknown quantity 'scratch'\n" in table and "\nnote:" not in table
    shutil.copy(tmp_path / "ref" / "conv1.dW.npy", sub)
    for shape, offered in (((4, 8, 8, 4), "'relu2.dA_prev' or 'pool3.dA_prev', of its shape (4, 8, 8, 4)?"),
                           ((2, 2), "'conv1.dA_prev' or 'relu2.dA_prev' or 'pool3.dA_prev'?")):
        np.save(sub / "dA_prev.npy", np.zeros(shape))
        doc = json.loads(run(["check", CONFIGS / "stack.yaml", "--against", sub, "--expected",
                              _no_expected(tmp_path), "--json"]).stdout)
        unknown = {u["entry"]: u["note"] for u in doc["unknown"]}
        assert unknown["dA_prev.npy"].startswith(f"unknown quantity 'dA_prev' (did you mean {offered})"), unknown
    assert doc["missing"] == ["pool3.A", "conv1.dA_prev", "conv1.db", "relu2.dA_prev", "pool3.dA_prev"]


def test_against_a_folder_with_npy_files_and_an_outputs_h5_says_which_it_grades(tmp_path):
    sub = _submission(tmp_path, ["conv1.Z"])
    assert run(["backward", CONFIGS / "stack.yaml", "--out", tmp_path / "h5", "--format", "h5"]).exit_code == 0
    shutil.copy(tmp_path / "h5" / "outputs.h5", sub)
    result = run(["check", CONFIGS / "stack.yaml", "--against", sub, "--expected", _no_expected(tmp_path),
                  "--json"])
    doc = json.loads(result.stdout)
    assert [o["entry"] for o in doc["against"]] == ["conv1.Z.npy"]
    assert doc["unknown"] == [{"entry": "outputs.h5", "note": "the folder's .npy files are graded instead; "
                                                              f"--against {sub / 'outputs.h5'} grades it",
                               "given": None, "differs": None, "misnamed": None}]
    # a stray .npy beside the outputs.h5 that is the work: the outputs.h5 is graded
    (sub / "conv1.Z.npy").unlink()
    np.save(sub / "scratch.npy", np.zeros(3))
    doc = json.loads(run(["check", CONFIGS / "stack.yaml", "--against", sub, "--expected", _no_expected(tmp_path),
                          "--json"]).stdout)
    assert len(doc["against"]) == 8 and all(o["passed"] for o in doc["against"])  # every computed quantity in it
    assert [u["entry"] for u in doc["unknown"] if u["given"] is None] == ["scratch.npy"]
    assert sorted(u["given"] for u in doc["unknown"] if u["given"]) == ["A_prev", "W1", "b1", "pool3.dA"]


def test_against_complete_fails_a_missing_quantity(tmp_path):
    sub = _submission(tmp_path, ["conv1.Z", "relu2.A", "pool3.A", "conv1.dA_prev", "conv1.dW", "conv1.db",
                                 "relu2.dA_prev"])
    args = ["check", CONFIGS / "stack.yaml", "--against", sub, "--expected", _no_expected(tmp_path)]
    assert run(args).exit_code == 0  # partial work passes without --complete
    result = run(args + ["--complete", "--json"])
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    (bad,) = [o for o in doc["against"] if not o["passed"]]
    assert (bad["entry"], bad["quantity"], bad["got"], bad["note"]) == (
        None, "pool3.dA_prev", "missing", "not among your arrays (convcli's has shape (4, 8, 8, 4))")
    # the table names the quantity missing (its row had lost the name with the quantity column)
    table = run(args + ["--complete"]).stdout
    assert re.search(r"^pool3\.dA_prev +missing +- +- +- +FAIL *$", table, re.M)
    assert "FAIL pool3.dA_prev: not among your arrays (convcli's has shape (4, 8, 8, 4))" in table
    shutil.copy(tmp_path / "ref" / "pool3.dA_prev.npy", sub)
    assert run(args + ["--complete"]).exit_code == 0
    # The review: the forward's outputs alone were complete (no gradient among them, none asked) and
    # scored above a submission with one gradient. Under a config with a backward: section they are not.
    fwd = tmp_path / "fwd"
    fwd.mkdir()
    for q in ("conv1.Z", "relu2.A", "pool3.A"):
        shutil.copy(tmp_path / "ref" / f"{q}.npy", fwd)
    doc = json.loads(run(["check", CONFIGS / "stack.yaml", "--against", fwd, "--expected", _no_expected(tmp_path),
                          "--complete", "--json"]).stdout)
    assert (doc["ok"], doc["checks"], doc["passed"]) == (False, 8, 3)
    # A forward assignment's config has no backward: section: its outputs are the whole of it.
    forward_only = write(tmp_path, (CONFIGS / "stack.yaml").read_text().replace(
        "backward:\n  grad: random", "").replace("../sample_data", str(CONFIGS.parent / "sample_data")), "fwd.yaml")
    assert run(["check", forward_only, "--against", fwd, "--expected", _no_expected(tmp_path),
                "--complete"]).exit_code == 0
    # A gradient among the arrays is graded (grad: output), but asks for no other: the assignment is the
    # config's (an instructor's review: a leftover dW.npy made every gradient required, 3 of 8). The key's
    # dW was made under grad: random, so it fails here on its own; grad: output's passes.
    shutil.copy(tmp_path / "ref" / "conv1.dW.npy", fwd)
    doc = json.loads(run(["check", forward_only, "--against", fwd, "--expected", _no_expected(tmp_path),
                          "--complete", "--json"]).stdout)
    assert doc["missing"] == [] and (doc["counts"]["against"]["checks"], doc["counts"]["against"]["passed"]) == (4, 3)
    (bad,) = [o for o in doc["against"] if not o["passed"]]
    assert bad["quantity"] == "conv1.dW" and bad["status"] == "fail", bad
    assert run(["backward", forward_only, "--out", tmp_path / "out_fwd"]).exit_code == 0
    shutil.copy(tmp_path / "out_fwd" / "conv1.dW.npy", fwd)
    assert run(["check", forward_only, "--against", fwd, "--expected", _no_expected(tmp_path),
                "--complete"]).exit_code == 0
    (fwd / "conv1.dW.npy").unlink()
    (fwd / "pool3.A.npy").unlink()
    assert run(["check", forward_only, "--against", fwd, "--expected", _no_expected(tmp_path),
                "--complete"]).exit_code == 1
    # A zip unpacked one level down (or two) is graded from its one folder of .npy files, as the zip is
    # (an instructor's review: 0 of 8 unpacked, 8 of 8 zipped); macOS's __MACOSX/ copies aside.
    empty = tmp_path / "empty"
    (empty / "hw").mkdir(parents=True)
    (empty / "__MACOSX" / "hw").mkdir(parents=True)
    shutil.copy(tmp_path / "ref" / "conv1.Z.npy", empty / "hw")
    (empty / "__MACOSX" / "hw" / "._conv1.Z.npy").write_bytes(b"\x00\x05\x16\x07")
    (empty / "__MACOSX" / "._conv1.Z.npy").write_bytes(b"\x00\x05\x16\x07")
    doc = json.loads(run(["check", forward_only, "--against", empty, "--expected", _no_expected(tmp_path),
                          "--complete", "--json"]).stdout)
    assert (doc["ok"], doc["checks"], doc["passed"]) == (False, 3, 1)
    assert [(o["entry"], o["status"]) for o in doc["against"] if o["entry"]] == [("hw/conv1.Z.npy", "pass")]
    # two levels down (a review: "eb/ inside it" of a folder that was inside another)
    shutil.move(empty / "hw", tmp_path / "hw")
    (empty / "unzipped").mkdir()
    shutil.move(tmp_path / "hw", empty / "unzipped" / "hw")
    result = run(["check", forward_only, "--against", empty, "--expected", _no_expected(tmp_path), "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["against"][0]["entry"] == "unzipped/hw/conv1.Z.npy"
    # one more a level further down is a second attempt, as in its zip (a review: hw3/ graded, old/attempt1/
    # not even listed)
    (empty / "hw1").mkdir()
    shutil.copy(tmp_path / "ref" / "conv1.Z.npy", empty / "hw1")
    assert_error(run(["check", forward_only, "--against", empty, "--expected", _no_expected(tmp_path)]),
                 "hw1/ and unzipped/hw/ inside it have some: --against the one that is your work")
    shutil.rmtree(empty / "hw1")
    # Two such folders: which one is the work is the user's to say. Under --complete every quantity fails,
    # each folder named; without it, it is an error.
    shutil.copytree(empty / "unzipped" / "hw", empty / "unzipped" / "hw_old")
    doc = json.loads(run(["check", forward_only, "--against", empty, "--expected", _no_expected(tmp_path),
                          "--complete", "--json"]).stdout)
    assert (doc["ok"], doc["checks"], doc["passed"]) == (False, 3, 0)
    assert doc["unknown"][0]["note"] == (f"a folder of .npy files inside; --against {empty / 'unzipped' / 'hw'} "
                                         "grades it")
    assert_error(run(["check", forward_only, "--against", empty, "--expected", _no_expected(tmp_path)]),
                 "the folder has no .npy files (and no outputs.h5); unzipped/hw/ and unzipped/hw_old/ inside it "
                 "have some: --against the one that is your work")
    assert_error(run(["check", CONFIGS / "stack.yaml", "--complete"]), "--complete: ", "--against PATH")
    # check's --force only replaces a --plot PNG: without one it was silently taken
    assert_error(run(["check", CONFIGS / "stack.yaml", "--force"]), "--force: ", "--plot FILE.png")


def test_against_hints_at_layout_and_dtype(tmp_path):
    sub = _submission(tmp_path, [])
    ref = tmp_path / "ref"
    np.save(sub / "conv1.Z.npy", np.load(ref / "conv1.Z.npy").transpose(0, 3, 1, 2))  # NCHW: (4, 4, 8, 8)
    # float32 from a float32 computation (convcli's own stands in for the user's)
    assert run(["backward", CONFIGS / "stack.yaml", "--out", tmp_path / "ref32", "--dtype", "float32"]).exit_code == 0
    shutil.copy(tmp_path / "ref32" / "conv1.dA_prev.npy", sub)
    result = run(["check", CONFIGS / "stack.yaml", "--against", sub, "--expected", _no_expected(tmp_path),
                  "--json"])
    by = {o["quantity"]: o for o in json.loads(result.stdout)["against"]}
    # the numbers say which order: the transpose that fixes it (an instructor's review: the shape alone
    # named NHWC and no fix)
    assert by["conv1.Z"]["note"] == ("shape (4, 4, 8, 8), expected (4, 8, 8, 4); yours is convcli's in NCHW order "
                                     "(m, n_C, n_H, n_W); convcli's arrays are NHWC: save yours.transpose(0, 2, 3, 1)")
    assert by["conv1.Z"]["hints"] == ["axis_order"]
    assert by["conv1.dA_prev"]["dtype"] == "float32" and not by["conv1.dA_prev"]["passed"]
    assert by["conv1.dA_prev"]["note"].endswith(
        "yours are float32 and this run is float64: --dtype float32 computes in float32 and checks at rtol 0.0001, "
        "atol 1e-05 and float32's rounding then, within which yours are this run's numbers")  # not the run's
    # float64 one (a review: ambiguous)
    assert run(["check", CONFIGS / "stack.yaml", "--against", sub, "--expected", _no_expected(tmp_path),
                "--dtype", "float32", "--json"]).stdout.count('"passed": true') == 1  # dA_prev, in float32


def test_against_hints_at_another_axis_order_in_the_same_shape(tmp_path):
    """Square maps with as many channels, (3, 3, 3, 3) weights: an NCHW array,
    or a PyTorch-layout dW, keeps convcli's shape, and the shape hint cannot
    fire (a review's pool3.A (4, 4, 4, 4) failed with no word on why)."""
    cfg = write(tmp_path, """\
        seed: 3
        inputs: {A_prev: {random: [2, 3, 3, 3]}, W: {random: [3, 3, 3, 3]}, b: {random: [3]}}
        layers: [{type: conv, W: W, b: b, pad: 1}]
        backward: {grad: ones}
        """)
    assert run(["backward", cfg, "--out", tmp_path / "ref"]).exit_code == 0
    sub = tmp_path / "mine"
    sub.mkdir()
    np.save(sub / "Z.npy", np.load(tmp_path / "ref" / "conv1.Z.npy").transpose(0, 3, 1, 2))
    np.save(sub / "dW.npy", np.load(tmp_path / "ref" / "conv1.dW.npy").transpose(3, 2, 0, 1))  # torch's weight.grad
    result = run(["check", cfg, "--against", sub, "--json"])
    by = {o["quantity"]: o for o in json.loads(result.stdout)["against"]}
    assert result.exit_code == 1 and not by["conv1.Z"]["passed"] and not by["conv1.dW"]["passed"]
    assert by["conv1.Z"]["note"].endswith("; yours is convcli's in NCHW order (m, n_C, n_H, n_W); convcli's arrays "
                                          "are NHWC: save yours.transpose(0, 2, 3, 1)")
    assert by["conv1.dW"]["note"].endswith("; yours is convcli's in PyTorch's weight layout (n_C, n_C_prev, f_H, f_W); "
                                           "convcli's weights are (f_H, f_W, n_C_prev, n_C): save yours.transpose(2, 3, 1, 0)")


@pytest.mark.torch
def test_against_a_max_pool_gradient_under_another_tie_rule_says_so(tmp_path, torch):
    """The learner's review: a max-pool dA_prev that differs only in tied
    windows said "got 0.0, expected -0.977". stack.yaml pools relu2.A, whose
    zeros tie; PyTorch's max_pool2d backward (the learner's oracle) sends a
    tied window's gradient to its first maximum."""
    sub = _submission(tmp_path, [])
    ref = tmp_path / "ref"
    x = torch.tensor(np.load(ref / "relu2.A.npy").transpose(0, 3, 1, 2), requires_grad=True)
    out = torch.nn.functional.max_pool2d(x, 2, 2)
    out.backward(torch.tensor(np.load(ref / "pool3.dA.npy").transpose(0, 3, 1, 2)))
    np.save(sub / "pool3.dA_prev.npy", x.grad.numpy().transpose(0, 2, 3, 1))
    doc = json.loads(run(["check", CONFIGS / "stack.yaml", "--against", sub, "--expected", _no_expected(tmp_path),
                          "--json"]).stdout)
    (o,) = doc["against"]
    assert not o["passed"]  # the config's ties: all gives every tied zero the gradient
    assert o["note"].endswith("; yours is this layer's gradient with ties: first (the config's is ties: all; "
                              "PyTorch's max_pool2d is ties: first)")


def test_against_names_the_notebooks_bias_in_the_window(tmp_path):
    """The seed notebook's slip, np.sum(a_slice_prev * W + b), adds b to each
    of the window's 2*2*3 = 12 elements: a learner's Z made that way (here by
    einsum, without convcli) fails under bias: once with a hint saying so;
    one wrong in another way gets no such hint."""
    from numpy.lib.stride_tricks import sliding_window_view

    np.random.seed(1)  # the notebook's case: A_prev (10, 4, 4, 3), W (2, 2, 3, 8), pad 2
    A, W, b = np.random.randn(10, 4, 4, 3), np.random.randn(2, 2, 3, 8), np.random.randn(1, 1, 1, 8)
    win = sliding_window_view(np.pad(A, ((0, 0), (2, 2), (2, 2), (0, 0))), (2, 2), axis=(1, 2))
    windowed = np.einsum("mhwcij,ijcn->mhwn", win, W) + 12 * b  # b inside the sum: 12 times
    mine = tmp_path / "mine"
    mine.mkdir()
    args = ["check", CONFIGS / "seed_once.yaml", "--against", mine, "--expected", _no_expected(tmp_path)]
    for Z, hinted in [(windowed, True), (windowed + 1e-3, False)]:
        np.save(mine / "conv1.Z.npy", Z)
        result = run(args)
        assert result.exit_code == 1
        assert ("yours is this layer's output with b added to each of the window's 12 elements" in result.stdout) \
            is hinted, result.stdout
    np.save(mine / "conv1.Z.npy", windowed)
    assert run(["check", CONFIGS / "seed.yaml", "--against", mine, "--expected", _no_expected(tmp_path)]
               ).exit_code == 0  # and bias: window (seed.yaml) is exactly it


def test_an_expected_files_tolerance_applies_to_against_too(tmp_path):
    """--expected FILE stands in for the config's expected: and tolerance:
    (--help); its tolerance was used for its entries only, and --against
    graded at the config's. A float32 computation (convcli's own stands in for
    a student's) fails the float64 default 1e-6 and passes at rtol 1e-4."""
    sub = _submission(tmp_path, [])
    assert run(["backward", CONFIGS / "stack.yaml", "--out", tmp_path / "ref32", "--dtype", "float32"]).exit_code == 0
    shutil.copy(tmp_path / "ref32" / "conv1.dA_prev.npy", sub)
    loose = tmp_path / "loose.yaml"
    loose.write_text("expected: {}\ntolerance: {rtol: 1.0e-4, atol: 1.0e-5}\n")
    args = ["check", CONFIGS / "stack.yaml", "--against", sub, "--json", "--expected"]
    strict = json.loads(run(args + [_no_expected(tmp_path)]).stdout)["against"][0]
    assert not strict["passed"] and strict["rtol"] == 1e-6
    graded = json.loads(run(args + [loose]).stdout)["against"][0]
    assert graded["passed"] and (graded["rtol"], graded["atol"]) == (1e-4, 1e-5)


def test_an_expected_files_tolerance_replaces_the_configs_whole(tmp_path):
    """A review: a key's tolerance: {rtol: 1e-3} took the config's atol (0.5
    there, a million here) for the half it left out, so a config could
    loosen an answer key it is checked against. The file's tolerance stands
    in whole: the half it leaves out is the dtype's default (atol 1e-8).
    Without a tolerance: the file takes the config's; --atol replaces
    either one's atol. (Z.mean of the seed config is a mean of sums of 24
    products of standard normals, nowhere near 12345.)"""
    data = yaml.safe_load(SEED)
    data["tolerance"] = {"atol": 1.0e6}
    cfg = write(tmp_path, data)
    key = write(tmp_path, {"expected": {"conv1.Z.mean": 12345.0}, "tolerance": {"rtol": 1.0e-3}}, "key.yaml")
    result = json.loads(run(["check", cfg, "--expected", key, "--json"]).stdout)
    assert not result["ok"]
    assert (result["expected"][0]["rtol"], result["expected"][0]["atol"]) == (1e-3, 1e-8)
    bare = write(tmp_path, {"expected": {"conv1.Z.mean": 12345.0}}, "bare.yaml")
    result = json.loads(run(["check", cfg, "--expected", bare, "--json"]).stdout)
    assert result["ok"] and result["expected"][0]["atol"] == 1e6
    result = json.loads(run(["check", cfg, "--expected", key, "--atol", "1e6", "--json"]).stdout)
    assert result["ok"] and (result["expected"][0]["rtol"], result["expected"][0]["atol"]) == (1e-3, 1e6)


def test_an_array_in_another_axis_order_gets_the_transpose_that_fixes_it(tmp_path):
    """An instructor's review: a dW with the kernel's rows and columns
    swapped (dW.transpose(1, 0, 2, 3), the same shape for a square kernel)
    got no hint; only NCHW maps and PyTorch's weights were tried. Every
    order that keeps the shape is tried now; where the shape differs and no
    order matches the numbers, the sizes alone are named, as before."""
    sub = _submission(tmp_path, [])
    ref = tmp_path / "ref"
    dW = np.load(ref / "conv1.dW.npy")  # (3, 3, 3, 4)
    np.save(sub / "conv1.dW.npy", dW.transpose(1, 0, 2, 3))
    np.save(sub / "relu2.A.npy", np.load(ref / "relu2.A.npy").transpose(0, 2, 1, 3))  # H and W swapped
    np.save(sub / "conv1.Z.npy", np.random.default_rng(0).random((4, 4, 8, 8)))  # NCHW-sized, other numbers
    by = _graded(tmp_path, sub)
    # (a learner's review: and the loops' slip that makes such a dW, which the transpose would only hide)
    assert by["conv1.dW"]["note"].endswith(
        "; yours is convcli's with its axes in another order: save yours.transpose(1, 0, 2, 3), or, if your "
        "loops made it so, index the window and W alike, [h, w] (the row first)")
    assert by["relu2.A"]["note"].endswith("save yours.transpose(0, 2, 1, 3)")
    assert by["conv1.dW"]["hints"] == by["relu2.A"]["hints"] == ["axis_order"]
    fixed = np.load(sub / "conv1.dW.npy").transpose(1, 0, 2, 3)  # the fix it names does fix it
    np.save(sub / "conv1.dW.npy", fixed)
    by = _graded(tmp_path, sub)
    assert by["conv1.dW"]["passed"]
    assert by["conv1.Z"]["note"] == ("shape (4, 4, 8, 8), expected (4, 8, 8, 4); the same sizes in another order: "
                                     "convcli's arrays are NHWC (m, n_H, n_W, n_C) and its weights "
                                     "(f_H, f_W, n_C_prev, n_C)")


def test_float32_grading_allows_float32_s_rounding_of_long_sums(tmp_path):
    """An instructor's review: a dW summed over 4096 positions, graded with
    --dtype float32 (rtol 1e-4, atol 1e-5), failed the exact answer
    (0.0562541 against convcli's float32 0.0562363) and a float32
    computation in another order alike: float32's rounding of sums that
    cancel is larger than that atol, convcli's own too. A float32 run now
    allows each array ROUNDING_FACTOR times what float32 moved convcli's own
    (measured against the same layers in float64): the exact answer (here
    by einsum in float64, independent of convcli) and the notebook's
    float32 loops (one running sum over every position) pass; a mistake
    (dW averaged over the batch, one weight's sum short of one position's
    term) still fails."""
    rng = np.random.default_rng(7)
    m, n, c, k = 32, 16, 8, 16
    A = rng.standard_normal((m, n, n, c)).astype(np.float32)
    W = (0.3 * rng.standard_normal((3, 3, c, k))).astype(np.float32)
    dZ = rng.standard_normal((m, n, n, k)).astype(np.float32)
    for name, x in (("A", A), ("W", W), ("b", np.zeros(k, np.float32)), ("dZ", dZ)):
        np.save(tmp_path / f"{name}.npy", x)
    cfg = write(tmp_path, "dtype: float32\ninputs: {A_prev: {file: A.npy}, W: {file: W.npy}, b: {file: b.npy}}\n"
                          "layers: [{type: conv, W: W, b: b, pad: 1}]\nbackward: {grad: {file: dZ.npy}}\n")
    windows = np.lib.stride_tricks.sliding_window_view(np.pad(A, ((0, 0), (1, 1), (1, 1), (0, 0))), (3, 3),
                                                       axis=(1, 2))  # (m, n, n, c, 3, 3)
    exact = np.einsum("mhwcij,mhwk->ijck", windows.astype(np.float64), dZ.astype(np.float64))
    loops = np.zeros(W.shape, np.float32)  # the notebook's conv_backward: dW += a_slice * dZ, in float32
    for i in range(m):
        for h in range(n):
            for w in range(n):
                loops += windows[i, h, w].transpose(1, 2, 0)[..., None] * dZ[i, h, w]
    assert np.abs(loops - exact).max() > 1e-4  # float32's rounding, beyond atol 1e-5 + rtol 1e-4 of small ones
    short = exact.copy()
    short[0, 0, 0, 0] -= windows[0, 0, 0, 0, 0, 0] * dZ[0, 0, 0, 0] + 0.5  # a term left out (and a slip)
    for name, dW, ok in (("exact", exact, True), ("loops", loops, True), ("mean", exact / m, False),
                         ("short", short, False)):
        sub = tmp_path / name
        sub.mkdir()
        np.save(sub / "conv1.dW.npy", dW)
        result = run(["check", cfg, "--against", sub, "--json"])
        doc = json.loads(result.stdout)
        (o,) = doc["against"]
        assert o["passed"] is ok and result.exit_code == (0 if ok else 1), (name, o)
        assert doc["rounding_factor"] == 16 and o["atol"] > 1e-5, (name, o)  # each failed without it
    text = run(["check", cfg, "--against", tmp_path / "loops"]).stdout
    assert "against convcli's (float32, rtol 0.0001, atol 1e-05, and 16 times float32's rounding of each)" in text


def test_float32_s_allowance_is_capped_where_rounding_flips_a_max_pool_s_choice(tmp_path):
    """A review of the float32 allowance: where float32's rounding flips a
    decision, the float32 and float64 runs differ by a gradient's whole size,
    and 16 times that passed any array (dA_prev and dW times 1.5). By hand:
    1 and 1 + 2**-23 (exact in float32) plus a bias of 16 are 17 and 17 in
    float32 (its step at 17 is 2**-19), a tie whose ties: all gives both the
    window's gradient of 1, and 17 and 17 + 2**-23 in float64, one maximum.
    The float64 run's backward takes the float32 run's caches (its maxima,
    its ReLU masks), so the pool's gradient, routed the same way, has no
    rounding at all, and the allowance is at most 2**-10 of the array's
    largest magnitude anyway: the key passes, the arrays times 1.5 fail."""
    rng = np.random.default_rng(0)
    A = rng.random((2, 4, 4, 1)).astype(np.float32)
    A[0, 0, 0, 0], A[0, 0, 1, 0] = 1.0, np.float32(1.0) + np.float32(2.0 ** -23)
    for name, x in (("A", A), ("W", np.ones((1, 1, 1, 1), np.float32)), ("b", np.full(1, 16.0, np.float32))):
        np.save(tmp_path / f"{name}.npy", x)
    cfg = write(tmp_path, "dtype: float32\ninputs: {A_prev: {file: A.npy}, W: {file: W.npy}, b: {file: b.npy}}\n"
                          "layers: [{type: conv, W: W, b: b}, {type: pool, f: 2}]\nbackward: {grad: ones}\n")
    key = tmp_path / "key"
    assert run(["backward", cfg, "--out", key]).exit_code == 0
    assert np.load(key / "pool2.dA_prev.npy")[0, 0, :2, 0].tolist() == [1.0, 1.0]  # the float32 tie
    assert run(["check", cfg, "--against", key]).exit_code == 0
    bad = tmp_path / "bad"
    bad.mkdir()
    for q in ("pool2.dA_prev", "conv1.dW"):
        np.save(bad / f"{q}.npy", 1.5 * np.load(key / f"{q}.npy"))
    doc = json.loads(run(["check", cfg, "--against", bad, "--json"]).stdout)
    assert {o["quantity"]: o["status"] for o in doc["against"]} == {"pool2.dA_prev": "fail", "conv1.dW": "fail"}
    for o in doc["against"]:
        largest = np.abs(np.load(key / f"{o['quantity']}.npy")).max()
        assert o["atol"] <= 1e-5 + 2.0 ** -10 * largest, o
    assert {o["quantity"]: o["atol"] for o in doc["against"]}["pool2.dA_prev"] == 1e-5  # routed alike: exact


def test_a_float32_submission_under_a_set_tolerance_gets_the_options_that_grade_it(tmp_path):
    """An instructor's review: with the float64 default written out in a
    tolerance: (as the README's example config has it), the hint's
    "--dtype float32" kept rtol 1e-6 and a right float32 submission still
    failed. The hint names --rtol/--atol then, and they grade it; the header
    says the dtype and tolerance a pass means."""
    sub = _submission(tmp_path, [])
    ref = np.load(tmp_path / "ref" / "conv1.dA_prev.npy")  # a float32 computation's rounding, a few 1e-6
    wobble = 1 + 5e-6 * np.where(np.arange(ref.size).reshape(ref.shape) % 2, 1.0, -1.0)
    np.save(sub / "conv1.dA_prev.npy", (ref * wobble).astype(np.float32))
    tight = tmp_path / "tight.yaml"
    tight.write_text("expected: {}\ntolerance: {rtol: 1.0e-6, atol: 1.0e-8}\n")
    args = ["check", CONFIGS / "stack.yaml", "--against", sub, "--expected", tight]
    graded = json.loads(run(args + ["--json"]).stdout)["against"][0]
    assert not graded["passed"] and graded["hints"] == ["float32"]
    assert graded["note"].endswith(
        "yours are float32 and this run is float64: --dtype float32 --rtol 0.0001 --atol 1e-05 grades them in "
        "float32 at float32's default tolerance")
    # the tolerance set here is the one the FAIL line ends with, said once (a review: twice)
    fail = next(line for line in run(args).stdout.splitlines() if line.startswith("FAIL conv1.dA_prev"))
    assert fail.count("rtol 1e-06, atol 1e-08") == 1, fail
    assert run(args + ["--dtype", "float32"]).exit_code == 1  # what the old hint said: still rtol 1e-6
    result = run(args + ["--dtype", "float32", "--rtol", "1e-4", "--atol", "1e-5"])
    assert result.exit_code == 0, result.stdout
    # (passed at the tolerance alone: float32's rounding was not asked for, nor said)
    assert f"your arrays in {sub}, against convcli's (float32, rtol 0.0001, atol 1e-05)\n" in result.stdout
    assert "(float64, rtol 1e-06, atol 1e-08)" in run(args).stdout
    # --rtol alone keeps the set atol; an expected entry's own tolerance still wins over the options
    doc = json.loads(run(["check", CONFIGS / "stack.yaml", "--rtol", "0.5", "--json"]).stdout)
    assert {(o["rtol"], o["atol"]) for o in doc["expected"]} == {(0.5, 1e-8)}
    assert_error(run(args + ["--atol", "inf"]), "--atol: ", "must be a finite number, got inf")


def test_against_helps_a_learner_find_the_mistake(tmp_path):
    """A learner's review: a dW divided by m (10 samples) is convcli's times
    1/10, said so; gradients that fail while the forward fails too say to fix
    the forward first (with grad: output, the upstream gradient is convcli's
    Z); the notebook's name dA.npy suggests dA_prev; and a partial
    submission's "passed" says what is not there."""
    ref, mine = tmp_path / "ref", tmp_path / "mine"
    assert run(["backward", CONFIGS / "seed_once.yaml", "--out", ref]).exit_code == 0
    mine.mkdir()
    np.save(mine / "conv1.dW.npy", np.load(ref / "conv1.dW.npy") / 10)
    np.save(mine / "conv1.db.npy", np.load(ref / "conv1.db.npy") * 0.37)
    args = ["check", CONFIGS / "seed_once.yaml", "--against", mine, "--expected", _no_expected(tmp_path), "--json"]
    by = {o["quantity"]: o for o in json.loads(run(args).stdout)["against"]}
    assert by["conv1.dW"]["note"].endswith("; yours is convcli's times 1/10 everywhere (1/10: a mean over the 10 "
                                           "samples, where the gradient is their sum)")
    assert by["conv1.db"]["note"].endswith("; yours is convcli's times 0.37 everywhere")
    assert "fix the forward first" not in by["conv1.dW"]["note"]
    Z = np.load(ref / "conv1.Z.npy")
    Z[0, 0, 0, 0] += 1.0
    np.save(mine / "conv1.Z.npy", Z)
    dW = np.load(ref / "conv1.dW.npy")
    dW[0, 0, 0, 0] += 1.0  # wrong with no pattern: the forward's error is the likely cause
    np.save(mine / "conv1.dW.npy", dW)
    by = {o["quantity"]: o for o in json.loads(run(args).stdout)["against"]}
    assert by["conv1.dW"]["note"].endswith(
        "your forward output conv1.Z differs too, and convcli's gradients follow from its own forward pass: "
        "fix the forward first, or grade each layer on your inputs with --each-layer")
    assert "fix the forward first" not in by["conv1.Z"]["note"] + by["conv1.db"]["note"]  # db has its own hint
    assert by["conv1.dW"]["hints"] == ["forward_first"] and "forward_first" not in by["conv1.db"]["hints"]
    # under grad: output a dZ among the arrays is the user's own Z (a review: it was called another input)
    np.save(mine / "conv1.dZ.npy", Z)
    doc = json.loads(run(args).stdout)
    assert {u["entry"]: u["differs"] for u in doc["unknown"]} == {"conv1.dZ.npy": None}
    assert [o["hints"] for o in doc["against"] if o["quantity"] == "conv1.dW"] == [["forward_first"]]
    (mine / "conv1.dZ.npy").unlink()
    np.save(mine / "conv1.Z.npy", np.load(ref / "conv1.Z.npy"))
    (mine / "conv1.dW.npy").unlink()
    (mine / "conv1.db.npy").unlink()
    np.save(mine / "dA.npy", np.load(ref / "conv1.dA_prev.npy"))
    out = run(args[:-1]).stdout
    # (a later learner's review: the notebook's own name was listed, not graded) graded as conv1.dA_prev
    assert "graded: dA.npy as conv1.dA_prev" in out
    assert "all 2 checks passed; 2 not among your arrays (--complete fails them)" in out


def _nudge(folder: Path, name: str, at: int = 0, by: float = 1.0) -> None:
    """Make one element of the saved ``name`` wrong: flat index ``at`` moved by ``by``."""
    a = np.load(folder / f"{name}.npy")
    a.flat[at] += by
    np.save(folder / f"{name}.npy", a)


def _graded(tmp_path, sub: Path) -> dict:
    """stack.yaml's --against outcomes for ``sub``, by quantity (no expected entries)."""
    args = ["check", CONFIGS / "stack.yaml", "--against", sub, "--expected", _no_expected(tmp_path), "--json"]
    return {o["quantity"]: o for o in json.loads(run(args).stdout)["against"]}


_HW = ("seed: 3\ninputs:\n  A_prev: {random: [4, 6, 6, 3]}\n  W: {random: [3, 3, 3, 5]}\n  b: {random: [5]}\n"
       "layers:\n  - {type: conv, W: W, b: b, pad: PAD}\n  - {type: relu}\n  - {type: pool, f: 2}\n"
       "backward: {grad: ones}\n")


def _pad_off_by_one(tmp_path) -> tuple[Path, Path]:
    """An assignment (a 3x3 conv with pad 1 on 6x6 images, ReLU, 2x2 max
    pool) and a student's whole submission made with pad 0: every array of
    theirs right for their own conv1.Z, of 4x4 maps where 6x6 are asked."""
    cfg = write(tmp_path, _HW.replace("PAD", "1"), "hw.yaml")
    theirs = write(tmp_path, _HW.replace("PAD", "0"), "pad0.yaml")
    assert run(["backward", theirs, "--out", tmp_path / "made"]).exit_code == 0
    sub = tmp_path / "sub"
    sub.mkdir()
    for q in ("conv1.Z", "relu2.A", "pool3.A", "conv1.dA_prev", "conv1.dW", "conv1.db", "relu2.dA_prev",
              "pool3.dA_prev"):
        shutil.copy(tmp_path / "made" / f"{q}.npy", sub)
    return cfg, sub


def test_an_output_of_another_size_says_which_padding_makes_it(tmp_path):
    """A grading review: off-by-one padding, the assignment's most common
    mistake, got only "shape (4, 4, 4, 5), expected (4, 6, 6, 5)", and the
    arrays after it no word of why. By hand: a 3x3 kernel over 6x6 maps
    makes 6 - 3 + 1 = 4 rows without padding, 6 with pad 1; a 2x2 pool of
    4x4 maps 2x2."""
    cfg, sub = _pad_off_by_one(tmp_path)
    doc = json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)
    by = {o["quantity"]: o for o in doc["against"]}
    assert by["conv1.Z"]["hints"] == ["geometry"]
    assert by["conv1.Z"]["note"] == ("shape (4, 4, 4, 5), expected (4, 6, 6, 5); (4, 4, 4, 5) is what pad 0 makes "
                                     "of conv1's input (4, 6, 6, 3); the config's pad is 1")
    # after it: no padding or stride of their own to blame, their input to it was the wrong shape
    for q, cause in (("relu2.A", "conv1.Z"), ("pool3.A", "relu2.A")):
        assert by[q]["hints"] == ["forward_first"], by[q]
        assert f"your forward output {cause} differs too" in by[q]["note"]
    # the report says the --each-layer advice once, not on every FAIL line (a review counted 11); the JSON
    # notes keep it each
    table = run(["check", cfg, "--against", sub]).stdout
    assert table.count("--each-layer") == 1 and "to grade each layer on your own inputs" in table
    assert sum("--each-layer" in o["note"] for o in doc["against"]) >= 2
    # (a later review) a shape follows from shapes only: an extra axis is not blamed on a conv1.Z whose
    # numbers, not its shape, differ
    right = tmp_path / "right"
    assert run(["backward", cfg, "--out", right]).exit_code == 0
    odd = tmp_path / "odd"
    odd.mkdir()
    np.save(odd / "conv1.Z.npy", np.load(right / "conv1.Z.npy") + 1)
    np.save(odd / "pool3.A.npy", np.load(right / "pool3.A.npy")[None])
    by_odd = {o["quantity"]: o for o in json.loads(run(["check", cfg, "--against", odd, "--json"]).stdout)["against"]}
    assert by_odd["pool3.A"]["hints"] == ["reshaped"] and by_odd["pool3.A"]["note"] == (
        "shape (1, 4, 3, 3, 5), expected (4, 3, 3, 5); yours is convcli's numbers in another shape: save "
        "yours.reshape(4, 3, 3, 5)")
    # a pool's output of another size on an input of convcli's: the stride that makes it
    np.save(sub / "relu2.A.npy", np.load(tmp_path / "made" / "relu2.A.npy").repeat(2, axis=1)[:, :6]
            .repeat(2, axis=2)[:, :, :6])  # (4, 6, 6, 5): convcli's shape, wrong numbers
    x = np.load(right / "relu2.A.npy")  # convcli's input to the pool; its 2x2 maxima at stride 1, by hand:
    np.save(sub / "pool3.A.npy", np.maximum.reduce([x[:, i:i + 5, j:j + 5] for i in (0, 1) for j in (0, 1)]))
    by = {o["quantity"]: o for o in json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)["against"]}
    assert by["pool3.A"]["hints"] == ["geometry"]
    assert by["pool3.A"]["note"].endswith("(4, 5, 5, 5) is what stride 1 makes of pool3's input (4, 6, 6, 5); "
                                          "the config's stride is 2 (a pool's stride is its f unless given)")
    np.save(sub / "pool3.A.npy", np.zeros((4, 5, 5, 5)))  # 6 - 2 + 1 = 5: the size of stride 1, not its values
    by = {o["quantity"]: o for o in json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)["against"]}
    assert by["pool3.A"]["hints"] == ["geometry"]
    assert by["pool3.A"]["note"].endswith("(4, 5, 5, 5) is what stride 1 makes of pool3's input (4, 6, 6, 5) "
                                          "(in size only: yours is not its output); the config's stride is 2 "
                                          "(a pool's stride is its f unless given)")


def test_each_layer_runs_the_next_layer_on_an_output_of_another_shape(tmp_path):
    """A grading review: --each-layer dropped an array of another shape and
    reran the next layer on convcli's, silently, so a ReLU and a pool right
    for the student's (wrongly padded) conv1.Z still failed, though the
    notes sent the student to --each-layer. The next layer now takes theirs;
    where a layer cannot (a gradient of the student's shape into a conv
    layer that makes convcli's), the note says it was graded on convcli's."""
    cfg, sub = _pad_off_by_one(tmp_path)
    doc = json.loads(run(["check", cfg, "--against", sub, "--each-layer", "--json"]).stdout)
    by = {o["quantity"]: o for o in doc["against"]}
    assert {q for q, o in by.items() if o["passed"]} == {"relu2.A", "pool3.A", "relu2.dA_prev", "pool3.dA_prev"}
    assert by["conv1.Z"]["status"] == "fail" and by["conv1.Z"]["shape"] == [4, 4, 4, 5]
    # and says what each layer ran on where it is not convcli's shape (a review: a student's relu2.A, right,
    # failed with an expected shape that followed from their conv1.Z of 2 samples, and no word why)
    assert by["relu2.A"]["note"] == "relu2 ran on your conv1.Z, (4, 4, 4, 5) (convcli's: (4, 6, 6, 5))"
    assert by["pool3.A"]["note"] == "pool3 ran on your relu2.A, (4, 4, 4, 5) (convcli's: (4, 6, 6, 5))"
    for q in ("conv1.dA_prev", "conv1.dW", "conv1.db"):
        assert by[q]["note"].endswith("graded on convcli's relu2.dA_prev: yours, (4, 4, 4, 5), does not fit "
                                      "conv1.Z as conv1 makes it, (4, 6, 6, 5)"), by[q]["note"]
    # a pool input no pool takes: (4, 1, 1, 5) under a 2x2 window; graded on convcli's relu2.A, and said
    np.save(sub / "relu2.A.npy", np.zeros((4, 1, 1, 5)))
    by = {o["quantity"]: o for o in json.loads(run(["check", cfg, "--against", sub, "--each-layer",
                                                    "--json"]).stdout)["against"]}
    assert "graded on convcli's relu2.A: yours, (4, 1, 1, 5), is no input pool3 takes" in by["pool3.A"]["note"]


def test_each_layer_says_a_gradient_was_graded_on_convclis_upstream_where_yours_is_missing(tmp_path):
    """A review: a submission made with pad 0 and no relu2.dA_prev had its
    conv1 gradients FAIL under --each-layer with no word that they were
    graded on convcli's relu2.dA_prev (the layer had none of the learner's
    to run on), though one given that does not fit was said. The missing
    one (or one that cannot be read) is said now, in the table and --json;
    the config's own upstream gradient is nobody's, and says nothing."""
    # grad: random is of the pool output convcli makes, (4, 3, 3, 5): the learner's pool3 makes (4, 2, 2, 5),
    # so pool3's and relu2's gradients are the whole run's, and conv1 runs backward on convcli's relu2.dA_prev
    hw = _HW.replace("grad: ones", "grad: random")
    cfg = write(tmp_path, hw.replace("PAD", "1"), "hw.yaml")
    assert run(["backward", write(tmp_path, hw.replace("PAD", "0"), "pad0.yaml"), "--out", tmp_path / "made"]
               ).exit_code == 0
    sub = tmp_path / "sub"
    sub.mkdir()
    for q in ("conv1.Z", "relu2.A", "pool3.A", "conv1.dA_prev", "conv1.dW", "conv1.db"):
        shutil.copy(tmp_path / "made" / f"{q}.npy", sub)
    said = "graded on convcli's relu2.dA_prev: yours is not among your arrays"
    result = run(["check", cfg, "--against", sub, "--each-layer"])
    assert result.exit_code == 1, result.stdout
    for q in ("conv1.dA_prev", "conv1.dW", "conv1.db"):
        line = next(x for x in result.stdout.splitlines() if x.startswith(f"FAIL {q}.npy: "))
        assert said in line, line
    result = run(["check", cfg, "--against", sub, "--each-layer", "--json"])
    assert result.exit_code == 1
    by = {o["quantity"]: o for o in json.loads(result.stdout)["against"]}
    assert {q for q, o in by.items() if said in o["note"]} == {"conv1.dA_prev", "conv1.dW", "conv1.db"}
    assert not by["conv1.dW"]["passed"] and by["conv1.dW"]["note"].endswith(said)
    # one given that cannot be read is among them, and fails on its own: not called missing
    (sub / "relu2.dA_prev.npy").write_bytes(b"not an array")
    by = {o["quantity"]: o for o in json.loads(run(["check", cfg, "--against", sub, "--each-layer",
                                                    "--json"]).stdout)["against"]}
    assert by["relu2.dA_prev"]["status"] == "unreadable"
    assert by["conv1.dW"]["note"].endswith(
        "graded on convcli's relu2.dA_prev: yours is unreadable or no 4-D array of numbers"), by["conv1.dW"]
    # right arrays but for relu2.dA_prev: they pass, and still say what they were graded on; under
    # grad: output the upstream gradient is the last output, said the same way when it is missing
    key = write(tmp_path, _HW.replace("PAD", "1").replace("grad: ones", "grad: output"), "out.yaml")
    assert run(["backward", key, "--out", tmp_path / "key"]).exit_code == 0
    right = tmp_path / "right"
    right.mkdir()
    for q in ("relu2.A", "conv1.dW", "pool3.dA_prev"):
        shutil.copy(tmp_path / "key" / f"{q}.npy", right)
    result = run(["check", key, "--against", right, "--each-layer", "--json"])
    assert result.exit_code == 0, result.stdout
    by = {o["quantity"]: o for o in json.loads(result.stdout)["against"]}
    assert by["conv1.dW"]["note"] == said
    assert by["pool3.dA_prev"]["note"] == "graded on convcli's pool3.A: yours is not among your arrays"
    assert by["relu2.A"]["note"] == ""
    # the config's upstream gradient (grad: ones) is no array of yours: the last layer's gradient says nothing
    ones = tmp_path / "ones"
    ones.mkdir()
    cfg1 = write(tmp_path, _HW.replace("PAD", "1"), "ones.yaml")
    assert run(["backward", cfg1, "--out", tmp_path / "key1"]).exit_code == 0
    shutil.copy(tmp_path / "key1" / "pool3.dA_prev.npy", ones)
    (o,) = json.loads(run(["check", cfg1, "--against", ones, "--each-layer", "--json"]).stdout)["against"]
    assert o["passed"] and o["note"] == "", o


def test_geometry_hints_blame_the_likely_setting_and_only_where_the_input_is_known(tmp_path):
    """A review of the hints: (a) with relu2.A not given and conv1.Z of
    another shape, pool3.A was told a stride from convcli's input (its true
    cause, conv1.Z, dropped); (b) a strided conv run at stride 1 was told a
    padding; (c) under --each-layer the first layer, whose input is the
    config's, had no hint at all; (d) --each-layer passed an NCHW relu2.A
    (the next layer took it as maps); (e) its notes could start with "; "."""
    cfg, sub = _pad_off_by_one(tmp_path)
    (sub / "relu2.A.npy").unlink()
    by = {o["quantity"]: o for o in json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)["against"]}
    assert by["pool3.A"]["hints"] == ["forward_first"] and "conv1.Z differs too" in by["pool3.A"]["note"]
    # (c) by hand: 6 + 2*0 - 3 + 1 = 4 rows at pad 0
    doc = json.loads(run(["check", cfg, "--against", sub, "--each-layer", "--json"]).stdout)
    z = next(o for o in doc["against"] if o["quantity"] == "conv1.Z")
    assert z["hints"] == ["geometry"] and "(4, 4, 4, 5) is what pad 0 makes of conv1's input" in z["note"]
    assert not any(o["note"].startswith(";") for o in doc["against"])
    # (b) stride 2, pad 0 on 9x9: (9 - 3)//2 + 1 = 4; at stride 1: 7 (pad 3 at stride 2 makes 7 too)
    s2 = write(tmp_path, "seed: 1\ninputs:\n  A_prev: {random: [2, 9, 9, 3]}\n  W: {random: [3, 3, 3, 4]}\n"
                         "  b: {random: [4]}\nlayers:\n  - {type: conv, W: W, b: b, stride: 2}\n", "s2.yaml")
    (tmp_path / "s2").mkdir()
    assert run(["forward", s2, "--out", tmp_path / "s2key"]).exit_code == 0
    A, W, b = (np.load(tmp_path / "s2key" / f"{q}.npy") for q in ("A_prev", "W", "b"))
    Z1 = np.zeros((2, 7, 7, 4))  # at stride 1, by hand
    for i, h, w, c in np.ndindex(Z1.shape):
        Z1[i, h, w, c] = np.sum(A[i, h:h + 3, w:w + 3] * W[..., c]) + b.reshape(-1)[c]
    np.save(tmp_path / "s2" / "conv1.Z.npy", Z1)
    (o,) = json.loads(run(["check", s2, "--against", tmp_path / "s2", "--json"]).stdout)["against"]
    assert o["note"].endswith("(2, 7, 7, 4) is what stride 1 makes of conv1's input (2, 9, 9, 3); "
                              "the config's stride is 2")
    # of that size but neither's output: both named, the size only
    np.save(tmp_path / "s2" / "conv1.Z.npy", np.zeros((2, 7, 7, 4)))
    (o,) = json.loads(run(["check", s2, "--against", tmp_path / "s2", "--json"]).stdout)["against"]
    assert o["hints"] == ["geometry"] and o["note"].endswith(
        "(2, 7, 7, 4) is what stride 1 or pad 3 makes of conv1's input (2, 9, 9, 3) (in size only: yours is none "
        "of their outputs); the config's stride is 2, pad is 0"), o
    # a dilated conv (2, 3x3, pad 2 on 10x10: 10 rows) run undilated: 12 rows, which pad 3 makes too
    d2 = write(tmp_path, "seed: 1\ninputs:\n  A_prev: {random: [2, 10, 10, 2]}\n  W: {random: [3, 3, 2, 4]}\n"
                         "  b: {random: [4]}\nlayers:\n  - {type: conv, W: W, b: b, pad: 2, dilation: 2}\n",
               "d2.yaml")
    assert run(["forward", d2, "--out", tmp_path / "d2key"]).exit_code == 0
    A, W, b = (np.load(tmp_path / "d2key" / f"{q}.npy") for q in ("A_prev", "W", "b"))
    A = np.pad(A, ((0, 0), (2, 2), (2, 2), (0, 0)))
    Z1 = np.zeros((2, 12, 12, 4))  # the taps side by side, by hand
    for i, h, w, c in np.ndindex(Z1.shape):
        Z1[i, h, w, c] = np.sum(A[i, h:h + 3, w:w + 3] * W[..., c]) + b.reshape(-1)[c]
    np.save(tmp_path / "s2" / "conv1.Z.npy", Z1)
    (o,) = json.loads(run(["check", d2, "--against", tmp_path / "s2", "--json"]).stdout)["against"]
    assert o["note"].endswith("(2, 12, 12, 4) is what dilation 1 makes of conv1's input (2, 10, 10, 2); "
                              "the config's dilation is 2")
    np.save(tmp_path / "s2" / "conv1.Z.npy", np.zeros((2, 12, 12, 4)))
    (o,) = json.loads(run(["check", d2, "--against", tmp_path / "s2", "--json"]).stdout)["against"]
    assert o["note"].endswith("(2, 12, 12, 4) is what dilation 1 or pad 3 makes of conv1's input (2, 10, 10, 2) "
                              "(in size only: yours is none of their outputs); the config's dilation is 2, "
                              "pad is 2"), o
    # (d) NCHW under --each-layer: a layout mistake, not the next layer's input
    nchw = tmp_path / "nchw"
    nchw.mkdir()
    ref = tmp_path / "ref1"
    assert run(["backward", cfg, "--out", ref]).exit_code == 0
    for q in ("conv1.Z", "relu2.A"):
        np.save(nchw / f"{q}.npy", np.load(ref / f"{q}.npy").transpose(0, 3, 1, 2))
    doc = json.loads(run(["check", cfg, "--against", nchw, "--each-layer", "--json"]).stdout)
    assert [(o["quantity"], o["passed"], o["hints"]) for o in doc["against"]] == [
        ("conv1.Z", False, ["axis_order"]), ("relu2.A", False, ["axis_order"])]


def test_each_layer_grades_the_layer_after_a_rounded_save_on_the_numbers_it_stands_for(tmp_path):
    """An instructor's review: a float32 save of every right array passed the
    whole run and failed 4 of 14 under --each-layer (the layers rerun on the
    rounded inputs), and an average pool's dA_prev saved as integers failed
    the conv before it (its backward rerun on the cut gradient). An array that
    is convcli's to the precision it was saved at stands for convcli's as the
    next layer's input; it is still graded itself as saved."""
    cfg = write(tmp_path, "seed: 5\ninputs:\n  A_prev: {random: [2, 6, 6, 3]}\n  W: {random: [3, 3, 3, 4]}\n"
                          "  b: {random: [4]}\nlayers:\n  - {type: conv, W: W, b: b, pad: 1}\n"
                          "  - {type: pool, f: 2, mode: average}\nbackward: {grad: ones}\n")
    ref = tmp_path / "ref"
    assert run(["backward", cfg, "--out", ref]).exit_code == 0
    names = ("conv1.Z", "pool2.A", "conv1.dA_prev", "conv1.dW", "conv1.db", "pool2.dA_prev")
    f32 = tmp_path / "f32"
    f32.mkdir()
    for q in names:
        np.save(f32 / f"{q}.npy", np.load(ref / f"{q}.npy").astype(np.float32))
    for extra in ([], ["--each-layer"]):
        doc = json.loads(run(["check", cfg, "--against", f32, "--json", *extra]).stdout)
        assert doc["ok"], [(o["quantity"], o["note"]) for o in doc["against"] if not o["passed"]]
    whole = tmp_path / "int"
    shutil.copytree(ref, whole, ignore=shutil.ignore_patterns("*.json", "*.yaml", "A_prev.npy", "W.npy", "b.npy",
                                                               "pool2.dA.npy"))
    np.save(whole / "pool2.dA_prev.npy", np.load(ref / "pool2.dA_prev.npy").astype(np.int64))  # 0.25 -> 0
    by = {o["quantity"]: o for o in json.loads(run(["check", cfg, "--against", whole, "--each-layer",
                                                    "--json"]).stdout)["against"]}
    assert by["pool2.dA_prev"]["status"] == "fail" and "integer" in by["pool2.dA_prev"]["hints"]
    assert all(by[q]["passed"] for q in names if q != "pool2.dA_prev"), by


def test_a_scale_that_the_incoming_gradient_explains_is_said_as_that(tmp_path):
    """An instructor's review: an average pool's gradient divided by f
    instead of f*f is convcli's times 2, and so, through it, is every
    gradient of the conv before it; each was told "times 2", none pointed to
    the pool. Backward is linear in its incoming gradient: the conv's are the
    layer's own on the student's pool gradient, said as such; the pool's own
    keeps its factor. A scale that the inputs do not explain keeps it too."""
    cfg = write(tmp_path, "seed: 5\ninputs:\n  A_prev: {random: [2, 6, 6, 3]}\n  W: {random: [3, 3, 3, 4]}\n"
                          "  b: {random: [4]}\nlayers:\n  - {type: conv, W: W, b: b, pad: 1}\n"
                          "  - {type: pool, f: 2, mode: average}\nbackward: {grad: ones}\n")
    ref = tmp_path / "ref"
    assert run(["backward", cfg, "--out", ref]).exit_code == 0
    sub = tmp_path / "sub"
    sub.mkdir()
    for q in ("pool2.dA_prev", "conv1.dA_prev", "conv1.dW", "conv1.db"):
        np.save(sub / f"{q}.npy", 2 * np.load(ref / f"{q}.npy"))
    by = {o["quantity"]: o for o in json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)["against"]}
    assert by["pool2.dA_prev"]["hints"] == ["scale"] and "times 2 everywhere" in by["pool2.dA_prev"]["note"]
    for q in ("conv1.dA_prev", "conv1.dW", "conv1.db"):
        assert by[q]["hints"] == ["gradient_first"], by[q]
        assert "your pool2.dA_prev, differs too" in by[q]["note"] and "times" not in by[q]["note"]
    np.save(sub / "conv1.dW.npy", 3 * np.load(ref / "conv1.dW.npy"))  # not what its inputs make: its own
    by = {o["quantity"]: o for o in json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)["against"]}
    assert by["conv1.dW"]["hints"] == ["scale"] and "times 3 everywhere" in by["conv1.dW"]["note"]


def test_the_layer_by_layer_rerun_falls_back_on_the_whole_runs_arrays(tmp_path):
    """A crash fuzz (exit 3): under --each-layer (or the rerun a scale hint
    asks for), an output of yours of another channel count went through a
    ReLU, which takes any shape, and the conv after it could take neither
    yours nor the rerun's; and a max pool's ties hint ran the pool's
    backward on your input with convcli's gradient. Both now grade, on the
    whole run's arrays where nothing else fits."""
    cfg = write(tmp_path, "inputs:\n  A_prev: {random: [2, 4, 4, 2]}\n  W1: {random: [1, 1, 2, 3]}\n"
                          "  b1: {random: [3]}\n  W2: {random: [1, 1, 3, 4]}\n  b2: {random: [4]}\nlayers:\n"
                          "  - {type: conv, W: W1, b: b1}\n  - {type: relu}\n  - {type: conv, W: W2, b: b2}\n"
                          "backward:\n  grad: ones\n")
    assert run(["backward", cfg, "--out", tmp_path / "out"]).exit_code == 0
    sub = tmp_path / "sub"
    sub.mkdir()
    np.save(sub / "conv1.Z.npy", np.zeros((2, 4, 4, 2)))  # 2 channels where conv1 makes 3
    for extra in (["--each-layer"], []):
        result = run(["check", cfg, "--against", sub, "--json", *extra])
        assert result.exit_code == 1, result.stderr
    np.save(sub / "conv3.dW.npy", 2 * np.load(tmp_path / "out" / "conv3.dW.npy"))  # a scale: the rerun asked
    doc = json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)
    assert {o["quantity"]: o["hints"] for o in doc["against"]}["conv3.dW"] == ["scale"]
    pool = write(tmp_path, "inputs:\n  A_prev: {random: [1, 4, 4, 2]}\nlayers:\n  - {type: relu}\n"
                           "  - {type: pool, f: 2, mode: max}\nbackward:\n  grad: random\n", "pool.yaml")
    sub2 = tmp_path / "sub2"
    sub2.mkdir()
    # (not constant: a max pool of ones is an average pool's, which tests nothing of it)
    np.save(sub2 / "relu1.A.npy", np.arange(1.0, 49.0).reshape(1, 4, 4, 3))
    np.save(sub2 / "pool2.dA_prev.npy", np.zeros((1, 4, 4, 2)))
    result = run(["check", pool, "--against", sub2, "--each-layer", "--json"])
    assert result.exit_code == 1, result.stderr
    by = {o["quantity"]: o for o in json.loads(result.stdout)["against"]}
    assert "graded on convcli's pool2.dA: the config's, (1, 2, 2, 2), does not fit pool2.A" in \
        by["pool2.dA_prev"]["note"]
    # (a review) where the array no layer took is not yours but what the layers made of yours, the note
    # says so: conv1.Z of 2x2 maps, no relu2.A, and a 2x2 pool after a 2x2 pool of it
    two = write(tmp_path, "seed: 3\ninputs:\n  A_prev: {random: [2, 6, 6, 2]}\n  W: {random: [3, 3, 2, 2]}\n"
                          "  b: {random: [2]}\nlayers:\n  - {type: conv, W: W, b: b, pad: 1}\n  - {type: relu}\n"
                          "  - {type: pool, f: 2}\n  - {type: pool, f: 2}\nbackward: {grad: ones}\n", "two.yaml")
    assert run(["backward", two, "--out", tmp_path / "k2"]).exit_code == 0
    sub3 = tmp_path / "sub3"
    sub3.mkdir()
    # (some below 0: of ones, a ReLU is the identity, which tests nothing of it)
    np.save(sub3 / "conv1.Z.npy", np.arange(-3.0, 13.0).reshape(2, 2, 2, 2))
    shutil.copy(tmp_path / "k2" / "pool4.A.npy", sub3)
    by = {o["quantity"]: o for o in json.loads(run(["check", two, "--against", sub3, "--each-layer",
                                                    "--json"]).stdout)["against"]}
    assert by["pool4.A"]["passed"]
    assert by["pool4.A"]["note"].startswith("graded on convcli's pool3.A: the one the layers before it made of "
                                            "yours, (2, 1, 1, 2), is no input pool4 takes")


def test_check_with_an_expected_file_ignores_the_configs_entries(tmp_path):
    """A review: every command now refuses a misspelt expected: entry, but
    under check --expected FILE the config's entries are not used (the
    file's stand in for them whole), and a typo there stopped the check."""
    data = yaml.safe_load(SEED)
    data["expected"] = {"dWW.mean": 1.0}
    cfg = write(tmp_path, data)
    key = tmp_path / "key.yaml"
    key.write_text("expected:\n  Z.shape: [10, 7, 7, 8]\n")
    assert run(["check", cfg, "--expected", key]).exit_code == 0
    assert_error(run(["check", cfg]), "unknown quantity 'dWW'")


def test_arrays_are_graded_in_the_networks_order(tmp_path):
    """A grading review: the table followed the files (a folder's in name
    order: pool3.A before relu2.A), so "relu2.A differs too: fix it first"
    pointed down the table; missing ones came last. The order is the
    network's, a missing quantity in its place."""
    sub = _submission(tmp_path, ["pool3.A", "relu2.A", "conv1.Z", "pool3.dA_prev", "conv1.dW"])
    args = ["check", CONFIGS / "stack.yaml", "--against", sub, "--expected", _no_expected(tmp_path), "--complete"]
    doc = json.loads(run(args + ["--json"]).stdout)
    assert [o["quantity"] for o in doc["against"]] == [
        "conv1.Z", "relu2.A", "pool3.A", "conv1.dA_prev", "conv1.dW", "conv1.db", "relu2.dA_prev", "pool3.dA_prev"]
    table = run(args).stdout
    rows = [line.split()[0] for line in table.splitlines() if line.endswith(("pass", "FAIL"))]
    assert rows == ["conv1.Z.npy", "relu2.A.npy", "pool3.A.npy", "conv1.dA_prev", "conv1.dW.npy", "conv1.db",
                    "relu2.dA_prev", "pool3.dA_prev.npy"]


def test_fix_the_forward_first_only_for_outputs_the_backward_uses(tmp_path):
    """stack.yaml's upstream gradient is random: its last output (pool3.A)
    feeds no gradient, so a wrong pool3.A explains no wrong gradient; a wrong
    relu2.A (pool3's input: its mask) may."""
    sub = _submission(tmp_path, ["pool3.A", "relu2.A", "conv1.dW"])
    _nudge(sub, "pool3.A")
    _nudge(sub, "conv1.dW")
    assert "fix the forward first" not in _graded(tmp_path, sub)["conv1.dW"]["note"]
    _nudge(sub, "relu2.A", at=5)
    assert _graded(tmp_path, sub)["conv1.dW"]["note"].endswith(
        "your forward output relu2.A differs too, and convcli's gradients follow from its own forward pass: "
        "fix the forward first, or grade each layer on your inputs with --each-layer")


def test_fix_the_forward_first_names_only_outputs_that_gradient_depends_on(tmp_path):
    """The review: conv1.Z wrong at one negative entry (relu2.A still right)
    and pool3.dA_prev wrong: pool3's backward uses relu2.A and the random
    upstream gradient, never conv1.Z, so no note; conv1.dW's does. An
    unreadable forward output is not one that "differs"."""
    sub = _submission(tmp_path, ["conv1.Z", "relu2.A", "pool3.dA_prev", "conv1.dW"])
    _nudge(sub, "conv1.Z", at=int(np.argmin(np.load(sub / "conv1.Z.npy"))), by=-1.0)  # the ReLU zeroes it anyway
    _nudge(sub, "pool3.dA_prev", at=3)
    _nudge(sub, "conv1.dW", at=3)
    by = _graded(tmp_path, sub)
    assert by["relu2.A"]["passed"] and not by["conv1.Z"]["passed"]
    assert "fix the forward first" not in by["pool3.dA_prev"]["note"]
    assert "your forward output conv1.Z differs too" in by["conv1.dW"]["note"]
    np.save(sub / "conv1.Z.npy", np.load(tmp_path / "ref" / "conv1.Z.npy"))
    (sub / "relu2.A.npy").write_bytes(b"garbage")
    by = _graded(tmp_path, sub)
    assert by["relu2.A"]["status"] == "unreadable" and "fix the forward first" not in by["conv1.dW"]["note"]


def test_a_gradient_whose_own_inputs_agree_is_not_blamed_on_the_forward(tmp_path):
    """An instructor's review: a bias-in-the-window conv1.Z (wrong) whose
    mistake the ReLU and pool carry into relu2.A, but the gradient coming
    into conv1 (relu2.dA_prev) right, and conv1.dW wrong by a mistake of its
    own: conv1.dW follows from the config's input and that right gradient
    only, so "fix the forward first" was the wrong advice; relu2.A follows
    from conv1.Z, and says so."""
    sub = _submission(tmp_path, ["conv1.Z", "relu2.A", "relu2.dA_prev", "conv1.dW"])
    _nudge(sub, "conv1.Z", at=int(np.argmax(np.load(sub / "conv1.Z.npy"))))  # positive: the ReLU keeps it
    _nudge(sub, "relu2.A", at=int(np.argmax(np.load(sub / "relu2.A.npy"))))
    _nudge(sub, "conv1.dW", at=3)
    by = _graded(tmp_path, sub)
    assert not by["conv1.dW"]["passed"] and by["relu2.dA_prev"]["passed"]
    assert by["conv1.dW"]["hints"] == [] and "forward" not in by["conv1.dW"]["note"]
    assert by["relu2.A"]["hints"] == ["forward_first"]
    assert by["relu2.A"]["note"].endswith(
        "your forward output conv1.Z differs too, and this layer's input follows from it: fix it first, "
        "or grade each layer on your inputs with --each-layer")
    # the gradient into conv1 not given: relu2's follows from pool3.dA_prev, which differs, and from conv1.Z
    (sub / "relu2.dA_prev.npy").unlink()
    shutil.copy(tmp_path / "ref" / "pool3.dA_prev.npy", sub)
    _nudge(sub, "pool3.dA_prev", at=int(np.flatnonzero(np.load(sub / "pool3.dA_prev.npy"))[0]))
    by = _graded(tmp_path, sub)
    assert by["conv1.dW"]["hints"] == ["forward_first", "gradient_first"]
    assert ("the gradient coming into this layer, your pool3.dA_prev, differs too: fix that one first"
            in by["conv1.dW"]["note"])
    # (a grading review: the --each-layer advice came after each cause, twice in one note)
    assert by["conv1.dW"]["note"].count("--each-layer") == 1
    assert by["conv1.dW"]["note"].endswith("fix that one first, or grade each layer on your inputs with --each-layer")


def test_each_gradient_is_blamed_only_on_what_it_follows_from(tmp_path):
    """A review: a conv's dA_prev follows from W and the incoming gradient,
    not from the layer's input, and its db from the incoming gradient alone,
    but each was told to fix a forward output; a max pool's dA_prev follows
    from its input (the mask) and the incoming gradient. conv1 -> max pool2
    -> conv3, grad: ones; conv1.Z wrong (and so pool2.A), and every gradient
    given wrong by a mistake of its own."""
    cfg = write(tmp_path, "seed: 3\ninputs:\n  A_prev: {random: [2, 6, 6, 2]}\n  W1: {random: [3, 3, 2, 3]}\n"
                          "  b1: {random: [3]}\n  W3: {random: [2, 2, 3, 2]}\n  b3: {random: [2]}\nlayers:\n"
                          "  - {type: conv, W: W1, b: b1, pad: 1}\n  - {type: pool, f: 2, mode: max}\n"
                          "  - {type: conv, W: W3, b: b3}\nbackward: {grad: ones}\n")
    ref, sub = tmp_path / "ref", tmp_path / "sub"
    assert run(["backward", cfg, "--out", ref]).exit_code == 0
    sub.mkdir()
    for name in ("conv1.Z", "pool2.A", "pool2.dA_prev", "conv3.dA_prev", "conv3.dW", "conv3.db"):
        a = np.load(ref / f"{name}.npy")
        a.flat[1] += 1.0
        np.save(sub / f"{name}.npy", a)
    by = {o["quantity"]: o for o in json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)["against"]}
    assert not any(o["passed"] for o in by.values())
    assert by["pool2.A"]["hints"] == ["forward_first"] and "conv1.Z" in by["pool2.A"]["note"]
    assert by["conv3.dW"]["hints"] == ["forward_first"] and "pool2.A" in by["conv3.dW"]["note"]  # its input
    assert by["conv3.dA_prev"]["hints"] == [] and by["conv3.db"]["hints"] == []  # W, ones: the config's
    assert by["pool2.dA_prev"]["hints"] == ["forward_first", "gradient_first"]  # its mask, and conv3.dA_prev
    assert "conv1.Z" in by["pool2.dA_prev"]["note"] and "conv3.dA_prev" in by["pool2.dA_prev"]["note"]


def test_cause_notes_name_several_outputs_and_skip_what_routes_to_fixed_places(tmp_path):
    """An oracle campaign's findings: two forward outputs were named as one
    ("conv1.Z, relu2.A differs"); a NaN count kept the cause away; a max pool
    over 1x1 windows sends the gradient to fixed places, whatever its input.
    conv1 -> relu2 -> max pool3 (f 1), grad: output."""
    cfg = write(tmp_path, "seed: 2\ninputs:\n  A_prev: {random: [2, 5, 5, 2]}\n  W: {random: [3, 3, 2, 3]}\n"
                          "  b: {random: [3]}\nlayers:\n  - {type: conv, W: W, b: b, pad: 1}\n  - {type: relu}\n"
                          "  - {type: pool, f: 1, mode: max}\nbackward: {grad: output}\n")
    ref, sub = tmp_path / "ref", tmp_path / "sub"
    assert run(["backward", cfg, "--out", ref]).exit_code == 0
    sub.mkdir()
    for name in ("conv1.Z", "relu2.A", "conv1.dW", "pool3.dA_prev"):
        a = np.load(ref / f"{name}.npy")
        a.flat[int(np.argmax(np.load(ref / "relu2.A.npy").flat)) if name != "conv1.dW" else 0] += 1.0
        np.save(sub / f"{name}.npy", a)
    a = np.load(sub / "relu2.A.npy")
    a.flat[-1] = np.nan
    np.save(sub / "relu2.A.npy", a)
    (sub / "pool3.dA_prev.npy").rename(tmp_path / "pool3.dA_prev.npy")  # conv1.dW then follows from relu2.A
    by = {o["quantity"]: o for o in json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)["against"]}
    assert "your forward outputs conv1.Z and relu2.A differ too" in by["conv1.dW"]["note"]
    assert by["relu2.A"]["hints"] == ["nan_in_yours", "forward_first"] and "conv1.Z" in by["relu2.A"]["note"]
    (tmp_path / "pool3.dA_prev.npy").rename(sub / "pool3.dA_prev.npy")
    by = {o["quantity"]: o for o in json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)["against"]}
    # pool3's dA_prev follows from the gradient coming in (under grad: output pool3.A, not given: relu2.A
    # through the pool) but not from its input as a mask
    assert by["pool3.dA_prev"]["hints"] == ["forward_first"] and "relu2.A" in by["pool3.dA_prev"]["note"]
    np.save(sub / "pool3.A.npy", np.load(ref / "pool3.A.npy"))  # the gradient coming in, right
    by = {o["quantity"]: o for o in json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)["against"]}
    assert by["pool3.dA_prev"]["hints"] == [], by["pool3.dA_prev"]


def test_cause_notes_for_a_deep_network(tmp_path):
    """A review: 200 layers ended in a RecursionError (exit 3)."""
    layers = "".join("  - {type: relu}\n" for _ in range(200))
    cfg = write(tmp_path, f"inputs:\n  A_prev: {{random: [1, 2, 2, 1]}}\nlayers:\n{layers}backward: {{grad: ones}}\n")
    assert run(["backward", cfg, "--out", tmp_path / "ref"]).exit_code == 0
    sub = tmp_path / "sub"
    sub.mkdir()
    for name in ("relu1.dA_prev", "relu200.dA_prev"):  # one element wrong in each
        a = np.load(tmp_path / "ref" / f"{name}.npy")
        a.flat[0] += 3.0
        np.save(sub / f"{name}.npy", a)
    doc = json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)
    by = {o["quantity"]: o for o in doc["against"]}
    assert by["relu1.dA_prev"]["hints"] == ["gradient_first"] and "relu200.dA_prev" in by["relu1.dA_prev"]["note"]


def test_a_submission_made_from_other_inputs_says_so_once(tmp_path):
    """A student who ran on other inputs (another seed) and handed in their
    copies of them: every array fails, and the reason is that, not "fix the
    forward first". Copies that are the config's say nothing."""
    sub = _submission(tmp_path, ["A_prev", "W1", "conv1.Z", "pool3.A", "conv1.dW"])
    args = ["check", CONFIGS / "stack.yaml", "--against", sub, "--expected", _no_expected(tmp_path)]
    assert run(args).exit_code == 0 and "note:" not in run(args).stdout
    np.save(sub / "W1.npy", np.load(sub / "W1.npy").transpose(3, 2, 0, 1))  # another layout: not other numbers
    assert run(args).exit_code == 0 and "note:" not in run(args).stdout
    shutil.copy(tmp_path / "ref" / "W1.npy", sub)
    rng = np.random.default_rng(5)
    np.save(sub / "A_prev.npy", rng.random(np.load(sub / "A_prev.npy").shape))
    for name in ("conv1.Z", "pool3.A", "conv1.dW"):
        _nudge(sub, name, at=7)
    result = run(args)
    assert result.exit_code == 1
    assert "note: your A_prev.npy is not the config's (A_prev: first differs at [0, 0, 0, 0]: yours " in result.stdout
    assert "): yours follow from other inputs (another seed, another file?)" in result.stdout
    doc = json.loads(run(args + ["--json"]).stdout)
    differs = {u["entry"]: u["differs"] for u in doc["unknown"]}
    assert differs["W1.npy"] is None and differs["A_prev.npy"].startswith("first differs at [0, 0, 0, 0]")
    for o in doc["against"]:  # pool3.A through conv1.Z, which differs: the root is named, not conv1.Z
        assert o["hints"] == ["other_inputs"], o
        assert o["note"].endswith("; yours follow from other inputs: your A_prev is not the config's")
    # --each-layer runs the first layer on the config's A_prev, never on a copy among the arrays (a
    # review: zeros everywhere, inputs included, passed when it took theirs); right work on other
    # inputs fails there too (an independent conv, einsum over the windows, of their A_prev)
    ref = tmp_path / "ref"
    A = np.load(sub / "A_prev.npy")
    W, b = np.load(ref / "W1.npy"), np.load(ref / "b1.npy")
    Z = np.einsum("nhwijc,ijck->nhwk", np.lib.stride_tricks.sliding_window_view(
        np.pad(A, ((0, 0), (1, 1), (1, 1), (0, 0))), (3, 3), axis=(1, 2)).transpose(0, 1, 2, 4, 5, 3), W) + b
    np.save(sub / "conv1.Z.npy", Z)
    result = run(args + ["--each-layer", "--json"])
    assert result.exit_code == 1
    by = {o["quantity"]: o for o in json.loads(result.stdout)["against"]}
    assert not by["conv1.Z"]["passed"]
    for name in ("A_prev", "W1", "conv1.Z"):  # self-consistent zeros, the inputs' copies included
        np.save(sub / f"{name}.npy", np.zeros_like(np.load(sub / f"{name}.npy")))
    assert run(args + ["--each-layer"]).exit_code == 1


def test_against_names_files_in_the_folder_it_does_not_read(tmp_path):
    """A quantity saved with np.savetxt, or an .npz beside the .npy files,
    was ignored without a word: listed now, with what to do."""
    sub = _submission(tmp_path, ["conv1.Z"])
    np.savetxt(sub / "conv1.dW.txt", np.zeros(3))
    np.savez(sub / "more.npz", a=np.zeros(2))
    (sub / "notes.md").write_text("not work")
    unknown = {u["entry"]: u["note"] for u in json.loads(run(
        ["check", CONFIGS / "stack.yaml", "--against", sub, "--expected", _no_expected(tmp_path), "--json"]
    ).stdout)["unknown"]}
    assert unknown == {"conv1.dW.txt": "not read: only .npy files are; save conv1.dW with np.save",
                       "more.npz": f"not read from a folder; --against {sub / 'more.npz'} grades it"}
    (sub / "conv1.Z.npy").unlink()
    assert_error(run(["check", CONFIGS / "stack.yaml", "--against", sub]),
                 "the folder has no .npy files (and no outputs.h5); conv1.dW.txt: not read: only .npy files are")


def test_against_reads_npy_files_whatever_the_case_of_their_extension(tmp_path):
    """conv1.dW.NPY (as some systems save it) was skipped without a word,
    and a folder of such files had 'no .npy files'; a config's file: took
    the same name. Graded now, the folder one level down found too."""
    sub = _submission(tmp_path, ["conv1.Z", "conv1.dW"])
    (sub / "conv1.dW.npy").rename(sub / "conv1.dW.NPY")
    args = ["check", CONFIGS / "stack.yaml", "--expected", _no_expected(tmp_path), "--json"]
    doc = json.loads(run(args + ["--against", sub]).stdout)
    assert {o["quantity"]: o["status"] for o in doc["against"]} == {"conv1.Z": "pass", "conv1.dW": "pass"}
    assert doc["unknown"] == []
    (sub / "conv1.Z.npy").rename(sub / "conv1.Z.Npy")
    doc = json.loads(run(args + ["--against", sub]).stdout)
    assert sorted(o["quantity"] for o in doc["against"]) == ["conv1.Z", "conv1.dW"]
    outer = tmp_path / "outer"
    outer.mkdir()
    sub.rename(outer / "sub")  # a folder holding only the folder of work: graded, its extensions as they are
    doc = json.loads(run(args + ["--against", outer]).stdout)
    assert sorted(o["entry"] for o in doc["against"]) == ["sub/conv1.Z.Npy", "sub/conv1.dW.NPY"]


def _learner_with_b_in_the_window(folder: Path) -> None:
    """The seed notebook's case done by hand (einsum and loops, no convcli)
    with its slip, b inside the window sum (12 times), and a backward that is
    right for that Z (grad: output: dZ is their own Z)."""
    from numpy.lib.stride_tricks import sliding_window_view

    np.random.seed(1)
    A, W, b = np.random.randn(10, 4, 4, 3), np.random.randn(2, 2, 3, 8), np.random.randn(1, 1, 1, 8)
    A_pad = np.pad(A, ((0, 0), (2, 2), (2, 2), (0, 0)))
    win = sliding_window_view(A_pad, (2, 2), axis=(1, 2))  # (10, 7, 7, 3, 2, 2)
    Z = np.einsum("mhwcij,ijcn->mhwn", win, W) + 12 * b
    dA_pad = np.zeros_like(A_pad)
    for h in range(7):
        for w in range(7):
            dA_pad[:, h:h + 2, w:w + 2, :] += np.einsum("mn,ijcn->mijc", Z[:, h, w, :], W)
    folder.mkdir()
    for name, array in {"conv1.Z": Z, "conv1.dA_prev": dA_pad[:, 2:-2, 2:-2, :],
                        "conv1.dW": np.einsum("mhwcij,mhwn->ijcn", win, Z), "conv1.db": Z.sum(axis=(0, 1, 2))}.items():
        np.save(folder / f"{name}.npy", array)


def test_each_layer_grades_a_layer_on_the_learners_own_inputs(tmp_path):
    """One slip in the forward failed all four quantities; --each-layer
    reruns the backward on their own Z (their upstream gradient under
    grad: output), so only Z fails, and their correct backward passes."""
    mine = tmp_path / "mine"
    _learner_with_b_in_the_window(mine)
    args = ["check", CONFIGS / "seed_once.yaml", "--against", mine, "--expected", _no_expected(tmp_path), "--json"]
    doc = json.loads(run(args).stdout)
    assert (doc["checks"], doc["passed"], doc["each_layer"]) == (4, 0, False)
    doc = json.loads(run(args + ["--each-layer"]).stdout)
    by = {o["quantity"]: o["status"] for o in doc["against"]}
    assert by == {"conv1.Z": "fail", "conv1.dA_prev": "pass", "conv1.dW": "pass", "conv1.db": "pass"}
    assert doc["each_layer"] is True
    assert_error(run(["check", CONFIGS / "seed_once.yaml", "--each-layer"]), "--each-layer: ", "--against PATH")


def test_each_layer_takes_the_previous_layers_output_as_given(tmp_path):
    """stack.yaml: a conv1.Z that is wrong, and relu2.A and pool3.A computed
    by hand from it (np.maximum, a 2x2 max by reshape): layer by layer,
    the relu and the pool are right."""
    sub = _submission(tmp_path, ["conv1.Z"])
    _nudge(sub, "conv1.Z", at=int(np.argmax(np.load(sub / "conv1.Z.npy"))), by=1.0)
    Z = np.load(sub / "conv1.Z.npy")
    relu = np.maximum(Z, 0.0)
    np.save(sub / "relu2.A.npy", relu)
    np.save(sub / "pool3.A.npy", relu.reshape(4, 4, 2, 4, 2, 4).max(axis=(2, 4)))
    args = ["check", CONFIGS / "stack.yaml", "--against", sub, "--expected", _no_expected(tmp_path), "--json"]
    plain = {o["quantity"]: o["status"] for o in json.loads(run(args).stdout)["against"]}
    assert plain == {"conv1.Z": "fail", "relu2.A": "fail", "pool3.A": "fail"}
    layered = {o["quantity"]: o["status"] for o in json.loads(run(args + ["--each-layer"]).stdout)["against"]}
    assert layered == {"conv1.Z": "fail", "relu2.A": "pass", "pool3.A": "pass"}
    # Without their relu2.A (the notebook has no relu: a learner hands in Z and the pool's output), the
    # pool takes the relu rerun on their Z, not convcli's whole run (the review: pool3.A failed).
    (sub / "relu2.A.npy").unlink()
    layered = {o["quantity"]: o["status"] for o in json.loads(run(args + ["--each-layer"]).stdout)["against"]}
    assert layered == {"conv1.Z": "fail", "pool3.A": "pass"}


def test_each_layer_on_right_arrays_is_the_plain_grade(tmp_path):
    """Every layer rerun on right inputs gives convcli's own results: a whole
    right submission passes either way, and one wrong gradient fails either
    way (pool3's dA_prev, fed by the given random upstream gradient)."""
    names = ["conv1.Z", "relu2.A", "pool3.A", "conv1.dA_prev", "conv1.dW", "conv1.db", "relu2.dA_prev",
             "pool3.dA_prev"]
    sub = _submission(tmp_path, names)
    args = ["check", CONFIGS / "stack.yaml", "--against", sub, "--expected", _no_expected(tmp_path), "--json",
            "--each-layer"]
    doc = json.loads(run(args).stdout)
    assert doc["ok"] and doc["passed"] == 8
    _nudge(sub, "pool3.dA_prev", at=int(np.argmax(np.load(sub / "pool3.dA_prev.npy") != 0)))
    by = {o["quantity"]: o["status"] for o in json.loads(run(args).stdout)["against"]}
    assert by["pool3.dA_prev"] == "fail" and by["pool3.A"] == "pass"
    # relu2's backward takes their (wrong) pool3.dA_prev, so it is graded on it: fails only if it is not
    # relu's gradient of that, which it is not (it is convcli's)
    assert by["relu2.dA_prev"] == "fail" and by["conv1.dW"] == "pass"


def test_against_counts_the_nans_in_a_submission(tmp_path):
    """A NaN where convcli has a number is an infinite error: the note says
    where the inf comes from (an instructor read it as an overflow)."""
    sub = _submission(tmp_path, ["conv1.Z"])
    Z = np.load(sub / "conv1.Z.npy")
    Z[0, 1, 1, 1] = Z[1, 2, 2, 2] = np.nan
    np.save(sub / "conv1.Z.npy", Z)
    doc = json.loads(run(["check", CONFIGS / "stack.yaml", "--against", sub, "--expected", _no_expected(tmp_path),
                          "--json"]).stdout)
    (o,) = doc["against"]
    assert o["status"] == "fail" and o["abs_err"] == "Infinity"
    assert "got nan" in o["note"] and "2 NaN in yours where convcli's are numbers" in o["note"]
    # The other way: convcli's relu carries their NaN Z through, a learner's np.where(Z > 0, Z, 0) does not.
    np.save(sub / "relu2.A.npy", np.where(Z > 0, Z, 0.0))
    doc = json.loads(run(["check", CONFIGS / "stack.yaml", "--against", sub, "--expected", _no_expected(tmp_path),
                          "--json", "--each-layer"]).stdout)
    (relu,) = [o for o in doc["against"] if o["quantity"] == "relu2.A"]
    assert "2 numbers in yours where convcli's are NaN" in relu["note"]


def test_against_only_a_bias_may_drop_its_axes_of_length_1(tmp_path):
    """(n_C,) for a bias's (1, 1, 1, n_C) is the same array (DESIGN section
    1); an axis added to, or dropped from, anything else is a shape error
    (the review: a (2, 1, 3, 4) Z for (2, 3, 1, 4), H and W swapped, passed)."""
    sub = _submission(tmp_path, [])
    ref = tmp_path / "ref"
    np.save(sub / "conv1.Z.npy", np.load(ref / "conv1.Z.npy")[..., None])  # (4, 8, 8, 4, 1)
    np.save(sub / "conv1.db.npy", np.load(ref / "conv1.db.npy").reshape(1, 1, 1, 4))
    doc = json.loads(run(["check", CONFIGS / "stack.yaml", "--against", sub, "--expected", _no_expected(tmp_path),
                          "--json"]).stdout)
    by = {o["quantity"]: o for o in doc["against"]}
    assert not by["conv1.Z"]["passed"] and by["conv1.Z"]["note"] == (
        "shape (4, 8, 8, 4, 1), expected (4, 8, 8, 4); yours is convcli's numbers in another shape: save "
        "yours.reshape(4, 8, 8, 4)")
    assert by["conv1.db"]["passed"] and by["conv1.db"]["note"] == "compared as (4,) (yours: (1, 1, 1, 4))"
    # Only those two layouts (the review: a (4, 1) db passed as "compared as (1, 1, 1, 4)").
    np.save(sub / "conv1.db.npy", np.load(ref / "conv1.db.npy").reshape(4, 1))
    doc = json.loads(run(["check", CONFIGS / "stack.yaml", "--against", sub, "--expected", _no_expected(tmp_path),
                          "--json"]).stdout)
    by = {o["quantity"]: o for o in doc["against"]}
    assert not by["conv1.db"]["passed"] and by["conv1.db"]["note"] == (
        "shape (4, 1), expected (4,); yours is convcli's numbers in another shape: save yours.reshape(4,) "
        "(a bias or its gradient is (4,) or (1, 1, 1, 4))")


def _no_expected(tmp_path) -> Path:
    """An --expected file with no entries: the grade is the arrays' alone."""
    path = tmp_path / "none.yaml"
    path.write_text("expected: {}\n")
    return path


def test_expected_bias_gradient_as_n_c_numbers(tmp_path):
    """A bias may be (n_C,) or (1, 1, 1, n_C) (DESIGN section 1), and so may
    its expected gradient, in a file or as a list, as --against takes it.
    By hand: zero input and weights make Z = b at each of the 2*3*3 = 18
    positions, and with grad: output, db = 18 * b = [18, 36]."""
    np.save(tmp_path / "db.npy", np.array([18.0, 36.0]))
    cfg = write(tmp_path, """\
        inputs:
          A_prev: {zeros: [2, 3, 3, 1]}
          W: {zeros: [1, 1, 1, 2]}
          b: {value: [[[[1.0, 2.0]]]]}
        layers:
          - {type: conv, W: W, b: b}
        backward: {grad: output}
        expected:
          db: [18.0, 36.0]
          conv1.db: {file: db.npy}
          b: [1.0, 2.0]
        """)
    result = run(["check", cfg])
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "all 3 checks passed" in result.stdout
    np.save(tmp_path / "db.npy", np.array([18.0, 36.5]))  # not vacuous: a wrong number fails
    assert run(["check", cfg]).exit_code == 1
    np.save(tmp_path / "db.npy", np.array([[18.0, 36.0]]))  # (1, 2) is neither of a bias's two layouts
    assert_error(run(["check", cfg]), "expected['conv1.db']", "holds shape (1, 2) but conv1.db has shape (1, 1, 1, 2)")
    np.save(tmp_path / "db.npy", np.array([18.0, 36.0, 0.0]))  # but not another number of channels
    assert_error(run(["check", cfg]), "expected['conv1.db']", "holds shape (3,) but conv1.db has shape (1, 1, 1, 2)")
    np.save(tmp_path / "db.npy", np.array([18.0, 36.0]))
    cfg.write_text(cfg.read_text().replace("db: [18.0, 36.0]", "db: [18.0, 36.0, 0.0]"))
    assert_error(run(["check", cfg]), "expected.db", "give a nested list of shape (1, 1, 1, 2) (or a list of its 2 numbers)")


def test_a_narrow_terminal_folds_table_cells_and_cuts_none(tmp_path):
    """At 80 columns rich shrank the columns and cut cells with "…": a FLOP
    count of 15,157,166,080 read "15,157,166…" and the checked values lost
    their last digits. Folded, every character is still there: the same
    characters as at 200 columns, only on more lines."""
    data = {"inputs": {"A_prev": {"zeros": [64, 224, 224, 3]}, "W1": {"zeros": [7, 7, 3, 64]},
                       "b1": {"zeros": [64]}},
            "layers": [{"type": "conv", "W": "W1", "b": "b1", "stride": 2, "pad": "same"}]}

    def ink(text):  # what a table shows, without its spacing and rules
        return Counter(c for c in text if not c.isspace() and c != "─")

    for args in (["shapes", write(tmp_path, data)], ["check", CONFIGS / "stack.yaml"]):
        wide = run(args, env={"COLUMNS": "200"}).stdout
        narrow = run(args, env={"COLUMNS": "80"}).stdout
        assert len(narrow.splitlines()) > len(wide.splitlines())  # the narrow one did fold
        assert "…" not in narrow
        # (check's narrow table stacks expected over got, under one header)
        assert ink(narrow.replace("expected / got", "expected got")) == ink(wide), args[0]
    # By hand: 64*112*112 outputs of 64 channels, each 7*7*3 multiply-adds (2 FLOPs) and a bias add.
    assert "15,157,166,080" in run(["shapes", write(tmp_path, data)], env={"COLUMNS": "200"}).stdout


def test_a_columns_of_0_is_no_width(tmp_path):
    """A review: COLUMNS=0 (a broken terminal setup, a script's export)
    made rich draw in 0 columns: check printed nothing at all, exit 0. It
    counts as unset, as does any other COLUMNS that is no size."""
    unset = run(["check", CONFIGS / "stack.yaml"]).stdout
    assert "conv1.dW.mean" in unset and "all 11 checks passed" in unset
    # (a superscript 2 is a digit to str.isdigit, and raised; 20 digits overflowed rich, 5000 Python's int())
    for columns in ("0", "00", "abc", "80x", "\u00b2", "9" * 20, "9" * 5000):
        assert run(["check", CONFIGS / "stack.yaml"], env={"COLUMNS": columns}).stdout == unset, columns
    # spaces around a size are no reason to ignore it (rich did, at 80 columns)
    assert run(["check", CONFIGS / "stack.yaml"], env={"COLUMNS": " 60 "}).stdout == \
        run(["check", CONFIGS / "stack.yaml"], env={"COLUMNS": "60"}).stdout != unset
    # the help, which click and typer draw from os.environ themselves, was blank under COLUMNS=0
    import subprocess
    import sys

    for columns in ("0", "9" * 5000):
        shown = subprocess.run([sys.executable, "-m", "convcli", "check", "--help"], capture_output=True, text=True,
                               env={**os.environ, "COLUMNS": columns})
        assert shown.returncode == 0 and "Usage: convcli check" in shown.stdout and "--against" in shown.stdout


def test_check_without_against_lists_no_missing_arrays(tmp_path):
    """"not among your arrays" is about --against; without it there are none."""
    cfg = write(tmp_path, SEED)
    result = run(["check", cfg])
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "not among your arrays" not in result.stdout
    assert json.loads(run(["check", cfg, "--json"]).stdout)["missing"] == []


def test_against_an_unknown_array_name(tmp_path):
    cfg = write(tmp_path, SEED)
    (tmp_path / "mine").mkdir()
    np.save(tmp_path / "mine" / "dw.npy", np.zeros((2, 2, 3, 8)))
    result = run(["check", cfg, "--against", tmp_path / "mine"])
    assert result.exit_code == 2
    assert "none of its arrays is a quantity this run computes: dw.npy (did you mean 'dW'?); known:" in result.stderr


def test_no_array_a_quantity_suggests_a_name_for_each(tmp_path):
    """A grading review: an .npz of bare names (Z, dW, ...) in a three-layer
    config was told the nearest quantity of the first name only, and an .h5
    dataset in a group of the user's (grads/dW) none at all."""
    cfg = CONFIGS / "stack.yaml"
    np.savez(tmp_path / "wk.npz", Z=np.zeros(2), dW=np.zeros(2), dA_prev=np.zeros(2))
    result = run(["check", cfg, "--against", tmp_path / "wk.npz"])
    assert_error(result, "none of its arrays is a quantity this run computes: Z (did you mean 'conv1.Z'?), "
                         "dW (did you mean 'conv1.dW'?), dA_prev (did you mean 'conv1.dA_prev' or "
                         "'relu2.dA_prev' or 'pool3.dA_prev'?); known: A_prev, ")
    assert result.stderr.count("known:") == 1
    # (an instructor's review) gradients in the notebook's words point at gradients, not at the
    # forward array or the input their spelling is nearest: dW1 at W1 made the work a copy of the hand-out
    names = tmp_path / "names"
    names.mkdir()
    for name in ("dW1", "relu2.dZ", "conv1.dZ"):  # (conv1.dA is conv1.dA_prev: test_check.py)
        np.save(names / f"{name}.npy", np.zeros(2))
    w1 = write(tmp_path, (CONFIGS / "stack.yaml").read_text().replace("../sample_data", str(CONFIGS.parent /
                                                                                           "sample_data")), "w.yaml")
    np.save(names / "relu2.dA.npy", np.zeros(2))  # the gradient at the ReLU's output: pool3's dA_prev
    assert_error(run(["check", w1, "--against", names]), "conv1.dZ.npy (did you mean 'relu2.dA_prev'?), dW1.npy (did you mean 'conv1.dW'?), "
                 "relu2.dA.npy (did you mean 'pool3.dA_prev'?), relu2.dZ.npy (did you mean 'relu2.dA_prev'?)")
    with h5py.File(tmp_path / "grp.h5", "w") as f:
        f["grads/dW"] = np.zeros(2)
    assert_error(run(["check", cfg, "--against", tmp_path / "grp.h5"]),
                 "computes: grads/dW (did you mean 'conv1.dW'?); known:")
    # (a grader's review) dA.npy, conv_backward's first result, was pointed at pool3.dA alone: the upstream
    # gradient the config gives, never graded; the layers' dA_prev come first, the given one last
    bare = tmp_path / "bare"
    bare.mkdir()
    np.save(bare / "dA.npy", np.zeros(2))
    assert_error(run(["check", cfg, "--against", bare]), "dA.npy (did you mean 'conv1.dA_prev' or 'relu2.dA_prev' or "
                 "'pool3.dA_prev' or 'pool3.dA'?)")


def test_against_a_pickle_is_refused(tmp_path):
    """Not loaded; and it fails that array only: an autograder's loop gets the
    grade of the rest (it was exit 2 for the whole submission)."""
    cfg = write(tmp_path, SEED)
    mine = tmp_path / "mine"
    mine.mkdir()
    np.save(mine / "Z.npy", np.array([None], dtype=object), allow_pickle=True)
    assert run(["backward", cfg, "--out", tmp_path / "ref"]).exit_code == 0
    shutil.copy(tmp_path / "ref" / "conv1.dW.npy", mine / "dW.npy")
    result = run(["check", cfg, "--against", mine, "--json"])
    assert result.exit_code == 1, result.stderr
    by = {o["quantity"]: o for o in json.loads(result.stdout)["against"]}
    assert by["conv1.dW"]["status"] == "pass"
    assert by["conv1.Z"]["status"] == "unreadable" and "pickled object arrays are refused" in by["conv1.Z"]["note"]


# --------------------------------------------------------------------- gradcheck


def test_gradcheck_passes(tmp_path):
    result = run(["gradcheck", write(tmp_path, SMALL)])
    assert result.exit_code == 0, result.stdout + result.stderr
    for q in ["conv1.dA_prev", "conv1.dW", "conv1.db", "relu2.dA_prev", "pool3.dA_prev"]:
        assert q in result.stdout
    assert "all 5 gradients agree" in result.stdout


def test_gradcheck_json_reports_coordinates_checked(tmp_path):
    result = run(["gradcheck", write(tmp_path, SEED), "--json", "--samples", "20"])
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    by = {q["quantity"]: q for q in doc["quantities"]}
    assert by["conv1.dA_prev"]["total"] == 480
    assert by["conv1.dA_prev"]["checked"] + by["conv1.dA_prev"]["skipped_at_kinks"] == 20
    assert by["conv1.db"]["checked"] == 8  # small arrays: every coordinate
    assert "bias: window" in by["conv1.db"]["note"]


@pytest.mark.parametrize("factor", [1.01, 0.0])
def test_gradcheck_fails_on_a_broken_conv_gradient(tmp_path, monkeypatch, factor):
    import convcli.network as network

    real = network.conv_backward

    def broken(dZ, cache):
        dA_prev, dW, db = real(dZ, cache)
        return dA_prev, dW * factor, db

    monkeypatch.setattr(network, "conv_backward", broken)
    result = run(["gradcheck", write(tmp_path, SMALL)])
    assert result.exit_code == 1, result.stdout
    assert "FAIL conv1.dW: error" in result.stdout
    assert "FAIL conv1.dA_prev" not in result.stdout
    assert "1 of 5 gradients FAILED" in result.stdout


def test_gradcheck_fails_on_a_broken_pool_gradient(tmp_path, monkeypatch):
    import convcli.network as network

    real = network.pool_backward
    monkeypatch.setattr(network, "pool_backward", lambda dA, cache, mode: real(dA, cache, mode=mode) * 1.5)
    result = run(["gradcheck", write(tmp_path, SMALL), "--json"])
    assert result.exit_code == 1
    failed = [q["quantity"] for q in json.loads(result.stdout)["quantities"] if not q["passed"]]
    # The pool's own gradient is wrong, and so is every gradient below it.
    assert failed == ["conv1.dA_prev", "conv1.dW", "conv1.db", "relu2.dA_prev", "pool3.dA_prev"]


# --------------------------------------------------------------------- shapes


def test_shapes(tmp_path):
    result = run(["shapes", write(tmp_path, SMALL)])
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "(2, 5, 5, 3)" in out and "(2, 5, 5, 2)" in out and "(2, 2, 2, 2)" in out
    assert "f 3, stride 1, pad 1, dilation 1, bias once" in out
    assert "f 2, stride 2, mode max, ties all" in out


def test_shapes_json_and_flops(tmp_path):
    result = run(["shapes", write(tmp_path, SEED), "--json"])
    doc = json.loads(result.stdout)
    (conv,) = doc["layers"]
    assert conv["output_shape"] == [10, 7, 7, 8] and conv["params"] == 2 * 2 * 3 * 8 + 8
    assert conv["flops"] == 2 * (2 * 2 * 3) * (10 * 7 * 7 * 8) + 10 * 7 * 7 * 8
    assert conv["hyperparameters"]["pad"] == [2, 2, 2, 2]


def test_shapes_counts_a_shared_weight_once_and_says_how_it_counts(tmp_path):
    """Two convs that share W and b hold 2 + 2 numbers, not 4 (PyTorch's
    count); the table's footnote and the JSON say how FLOPs are counted."""
    data = {"inputs": {"A_prev": {"random": [1, 2, 2, 1]}, "W": {"random": [1, 1, 1, 1]}, "b": {"random": [1]}},
            "layers": [{"type": "conv", "W": "W", "b": "b"}, {"type": "conv", "W": "W", "b": "b"},
                       {"type": "relu"}, {"type": "pool", "f": 2}]}
    cfg = write(tmp_path, data)
    doc = json.loads(run(["shapes", cfg, "--json"]).stdout)
    assert [layer["params"] for layer in doc["layers"]] == [2, 2, 0, 0] and doc["total_params"] == 2
    # per 1x1 conv output: 1 multiply-add (2) + 1 bias add; relu 1 per element; a 2x2 pool 4 per output
    assert doc["total_flops"] == 2 * (4 * 3) + 4 + 1 * 4
    assert doc["largest_output_bytes"] == 4 * 8  # (1, 2, 2, 1) float64
    assert "multiply-add 2, bias 1 per output" in doc["flops_counted"]
    table = run(["shapes", cfg], env={"COLUMNS": "200"}).stdout
    assert "each input counted once (one is used more than once)" in table
    assert re.search(r"^total\s+2\s+32\s*$", table, re.M)
    # one blank line between the inputs' table and the layers' (it was two)
    lines = table.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("layer "))
    assert lines[at - 1] == "" and lines[at - 2].startswith("b ")


def test_shapes_shows_the_stride_and_dilation_as_given(tmp_path):
    """A stride past the input (one window per axis) and a dilation of a
    1-wide kernel compute as their equivalents (stride 1 here, dilation 1),
    but shapes shows what the config says: 1000, [7, 2**62], 99."""
    cfg = write(tmp_path, """\
        inputs:
          A_prev: {random: [2, 5, 5, 3]}
          W: {random: [1, 1, 3, 2]}
          b: {random: [2]}
        layers:
          - {type: conv, W: W, b: b, stride: 1000, dilation: [7, 4611686018427387904], pad: 1}
          - {type: pool, f: 1, stride: 99}
        """)
    result = run(["shapes", cfg, "--json"])
    assert result.exit_code == 0, result.stderr
    conv, pool = (layer["hyperparameters"] for layer in json.loads(result.stdout)["layers"])
    assert conv["stride"] == [1000, 1000] and conv["dilation"] == [7, 2**62] and pool["stride"] == [99, 99]
    table = run(["shapes", cfg]).stdout
    assert "stride 1000, pad 1" in table and "stride 99, mode max" in table
    # (5 + 2 padding - 1) // 1000 + 1 = 1 window per axis: the run still computes
    assert json.loads(result.stdout)["layers"][0]["output_shape"] == [2, 1, 1, 2]
    assert run(["forward", cfg, "--out", tmp_path / "out"]).exit_code == 0


def test_shapes_shows_ties_for_max_pools_only(tmp_path):
    """ties says where a max pool's gradient goes; an average pool has none."""
    data = {"inputs": {"A_prev": {"zeros": [1, 4, 4, 3]}},
            "layers": [{"type": "pool", "f": 2, "mode": "average"}, {"type": "pool", "f": 2}]}
    layers = json.loads(run(["shapes", write(tmp_path, data), "--json"]).stdout)["layers"]
    assert "ties" not in layers[0]["hyperparameters"] and layers[1]["hyperparameters"]["ties"] == "all"


def test_shapes_shows_its_table_then_refuses_an_upstream_gradient_of_the_wrong_shape(tmp_path):
    """A learner's review: shapes printed nothing for a config whose
    backward.grad file does not fit the last layer's output (which forward
    runs: it never reads it). The table first, then the one-line error and
    exit 2; with --json the error document alone, as before."""
    np.save(tmp_path / "g.npy", np.ones((1, 3, 3, 1)))
    cfg = write(tmp_path, {"inputs": {"A_prev": {"zeros": [1, 4, 4, 1]}}, "layers": [{"type": "pool", "f": 2}],
                           "backward": {"grad": {"file": "g.npy"}}})
    result = run(["shapes", cfg])
    assert result.exit_code == 2 and "pool1  pool  (1, 4, 4, 1)  (1, 2, 2, 1)" in result.stdout, result.stdout
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("convcli: error: ") and line.endswith(
        "cfg.yaml: backward.grad (line 12): upstream gradient of shape (1, 3, 3, 1) does not match "
        "the last layer's output pool1.A (1, 2, 2, 1)"), line
    result = run(["shapes", cfg, "--json"])
    doc = json.loads(result.stdout)
    assert result.exit_code == 2 and doc["ok"] is False and "layers" not in doc, doc
    assert doc["error"]["what"].startswith("upstream gradient of shape (1, 3, 3, 1) does not match"), doc
    assert run(["forward", cfg, "--out", tmp_path / "out"]).exit_code == 0  # (forward never reads it)


def test_summary_json_records_each_layer_s_hyperparameters_as_it_ran(tmp_path):
    """An engineer's review: an archived run did not say how "same" was
    split nor which ties rule ran (only shapes --json did). By hand: 7 rows
    at stride 2 by 4 taps need (4 - 1) + 2 * 3 + 1 - 7 = 3 rows of padding,
    1 on the top and 2 on the bottom (PyTorch's, TensorFlow's); 8 columns
    by 3 taps, (3 - 1) + 2 * 3 + 1 - 8 = 1, on the right."""
    data = {"inputs": {"A_prev": {"zeros": [1, 7, 8, 2]}, "W": {"zeros": [4, 3, 2, 3]}, "b": {"zeros": [3]}},
            "layers": [{"type": "conv", "W": "W", "b": "b", "stride": 2, "pad": "same"},
                       {"type": "pool", "f": 2, "ties": "first"}, {"type": "relu"}]}
    for command in ("forward", "backward"):
        result = run([command, write(tmp_path, data), "--out", tmp_path / command, "--json"])
        assert result.exit_code == 0, result.stderr
        on_disk = json.loads((tmp_path / command / "summary.json").read_text())
        conv, pool, relu = (layer["hyperparameters"] for layer in on_disk["layers"])
        assert conv == {"f": [4, 3], "stride": [2, 2], "pad": [1, 2, 0, 1], "dilation": [1, 1], "bias": "once"}
        assert pool == {"f": [2, 2], "stride": [2, 2], "mode": "max", "ties": "first"} and relu == {}
        assert json.loads(result.stdout)["layers"] == on_disk["layers"]


def test_shapes_reads_no_data(tmp_path, monkeypatch):
    monkeypatch.setattr("convcli.arrays.load", lambda *a, **k: pytest.fail("loaded"))
    data = {"inputs": {"A_prev": {"zeros": [100, 64, 64, 3]}}, "layers": [{"type": "pool", "f": 2}]}
    assert run(["shapes", write(tmp_path, data)]).exit_code == 0


def test_shapes_of_a_run_too_big_to_make(tmp_path):
    """shapes allocates nothing, so no --max-memory refuses it (the review:
    it refused a config whose layers exceed the default 4 GiB): a 2000-image
    224x224x64 layer is 47.9 GiB of output, 2000*224*224*64*8 bytes."""
    data = {"inputs": {"A_prev": {"random": [2000, 224, 224, 64]}, "W": {"random": [3, 3, 64, 64]},
                       "b": {"zeros": [64]}},
            "layers": [{"type": "conv", "W": "W", "b": "b", "pad": "same"}]}
    cfg = write(tmp_path, data)
    assert run(["forward", cfg, "--out", tmp_path / "o"]).exit_code == 2  # refused: more than 4 GiB
    result = run(["shapes", cfg, "--json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["layers"][0]["output_shape"] == [2000, 224, 224, 64]
    assert "Largest layer output: 47.9 GiB." in run(["shapes", cfg]).stdout
    refused = run(["shapes", cfg, "--max-memory", "1GiB"])
    assert refused.exit_code == 2 and "No such option: --max-memory" in refused.output


def test_shapes_of_a_shape_no_machine_holds_names_no_option_it_lacks(tmp_path):
    """10**12 * 10**9 * 4 * 3 float64 is past the largest size there is
    (2**62 bytes): said so, not "more than --max-memory", which shapes has not."""
    data = {"inputs": {"A_prev": {"random": [10**12, 10**9, 4, 3]}}, "layers": [{"type": "relu"}]}
    line = assert_error(run(["shapes", write(tmp_path, data)]), "inputs.A_prev",
                        "needs more than 4096.0 PiB, more than any machine's memory")
    assert "--max-memory" not in line


# --------------------------------------------------------------------- plot


def test_plot_a_quantity(tmp_path):
    require("matplotlib", "pip install -e '.[plot]'")
    cfg = write(tmp_path, SMALL)
    png = tmp_path / "w.png"
    result = run(["plot", cfg, "--quantity", "W", "--out", png])
    assert result.exit_code == 0, result.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    again = run(["plot", cfg, "-q", "W", "--out", png])
    assert again.exit_code == 2 and "--force" in again.stderr
    assert run(["plot", cfg, "-q", "relu2.dA_prev", "--out", png, "--force", "--sample", "1",
                "--channels", "0-1"]).exit_code == 0


def test_plot_writes_through_a_symlink_and_takes_a_long_name(tmp_path):
    """--out LINK.png replaces the file the link names and keeps the link
    (as --out does for folders); a 250-byte name works (its hidden
    temporary file keeps a prefix and a hash of it)."""
    require("matplotlib", "pip install -e '.[plot]'")
    cfg = write(tmp_path, SMALL)
    link = tmp_path / "latest.png"
    link.symlink_to("real.png")  # dangling until the first run
    assert run(["plot", cfg, "-q", "W", "--out", link]).exit_code == 0
    assert link.is_symlink() and (tmp_path / "real.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert run(["plot", cfg, "-q", "W", "--out", link]).exit_code == 2  # exists: --force
    assert run(["plot", cfg, "-q", "W", "--out", link, "--force"]).exit_code == 0 and link.is_symlink()
    # Links it cannot write through: refused before computing, named as the user gave them.
    (tmp_path / "loop.png").symlink_to("loop.png")
    assert_error(run(["plot", cfg, "-q", "W", "--out", tmp_path / "loop.png"]),
                 "loop.png: is a symlink that loops back on itself")
    (tmp_path / "away.png").symlink_to(Path("nodir") / "x.png")
    assert_error(run(["plot", cfg, "-q", "W", "--out", tmp_path / "away.png"]),
                 "away.png: is a symlink to ", "x.png, which is not there")
    (tmp_path / "loop.png").unlink()
    (tmp_path / "away.png").unlink()
    long = tmp_path / ("p" * 246 + ".png")
    result = run(["plot", cfg, "-q", "W", "--out", long])
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["cfg.yaml", "latest.png", "real.png", long.name])


def test_plot_default_out_and_errors(tmp_path, monkeypatch):
    require("matplotlib", "pip install -e '.[plot]'")
    monkeypatch.chdir(tmp_path)
    cfg = write(tmp_path, SEED, name="seed.yaml")
    assert run(["plot", cfg, "-q", "dW"]).exit_code == 0
    assert (tmp_path / "convcli-out" / "seed.conv1.dW.png").is_file()
    result = run(["plot", cfg, "-q", "Z", "--sample", "10"])
    assert result.exit_code == 2 and "--sample: sample 10 out of range" in result.stderr
    assert run(["plot", cfg, "-q", "Z", "--channels", "a-b"]).exit_code == 2
    assert sorted(p.name for p in (tmp_path / "convcli-out").iterdir()) == ["seed.conv1.dW.png"]


# --------------------------------------------------------------------- help, version


def test_version():
    result = run(["--version"])
    assert result.exit_code == 0 and result.stdout.startswith(f"convcli {convcli.__version__}")


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command):
    result = run([command, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.stdout and "config" in result.stdout.lower()
    from typer.main import get_command

    assert get_command(app).commands[command].help, command


def test_top_level_help_lists_every_command():
    result = run(["--help"])
    assert result.exit_code == 0
    for command in COMMANDS:
        assert command in result.stdout
    assert "Exit codes" in result.stdout


def test_usage_error_exits_2():
    result = run(["forward"])
    assert result.exit_code == 2


# --------------------------------------------------------------------- the installed script


def _convcli() -> list[str]:
    script = shutil.which("convcli", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "convcli"]


@pytest.mark.parametrize(
    "args, code, marker",
    [
        (["forward", "{seed}", "--out", "{tmp}/f"], 0, "wrote 4 arrays"),
        (["backward", "{seed}", "--out", "{tmp}/b", "--format", "h5"], 0, "wrote 8 arrays (h5)"),
        (["check", "{seed}"], 0, "all 4 checks passed"),
        (["gradcheck", "{seed}", "--samples", "10"], 0, "all 3 gradients agree"),
        (["shapes", "{stack}"], 0, "pool3"),
        (["--version"], 0, convcli.__version__),
        (["check", "{tmp}/missing.yaml"], 2, "convcli: error: "),
    ],
)
def test_installed_script(tmp_path, args, code, marker):
    subs = {"{seed}": str(CONFIGS / "seed.yaml"), "{stack}": str(CONFIGS / "stack.yaml"), "{tmp}": str(tmp_path)}
    argv = [a for a in args]
    for i, a in enumerate(argv):
        for k, v in subs.items():
            a = a.replace(k, v)
        argv[i] = a
    proc = subprocess.run(_convcli() + argv, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert marker in (proc.stdout + proc.stderr)
    assert "\x1b[" not in proc.stdout
    if code == 2:
        assert proc.stdout == "" and len(proc.stderr.splitlines()) == 1 and "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    "args, code",
    [
        (["check", "{seed}", "--against", "{tmp}/mine"], 0),
        (["check", "{seed}", "--against", "{tmp}/mine", "--json"], 0),
        (["check", "{wrong}"], 1),
        (["check", "{wrong}", "--json"], 1),
        (["forward", "{seed}", "--out", "{tmp}/f"], 0),
        # help and version, said into a closed pipe (convcli --help | head -1), were exit 1
        (["--help"], 0),
        (["--version"], 0),
        (["check", "--help"], 0),
    ],
)
def test_a_closed_stdout_keeps_the_exit_code_of_the_result(tmp_path, args, code):
    """``convcli check ... | head -1``: the reader is gone before convcli
    writes a byte (rich alone exits 1, which means "a check failed"). The
    exit code is the result's, quietly; a forward run's outputs are there."""
    assert run(["backward", CONFIGS / "seed.yaml", "--out", tmp_path / "mine"]).exit_code == 0
    wrong = (CONFIGS / "seed.yaml").read_text().replace("dW.mean: 10.581741275547566", "dW.mean: 10.5")
    assert wrong != (CONFIGS / "seed.yaml").read_text()
    subs = {"{seed}": str(CONFIGS / "seed.yaml"), "{wrong}": str(write(tmp_path, wrong)), "{tmp}": str(tmp_path)}
    argv = [subs.get(a, a.replace("{tmp}", str(tmp_path))) for a in args]
    reader, writer = os.pipe()
    os.close(reader)
    try:
        proc = subprocess.run(_convcli() + argv, stdout=writer, stderr=subprocess.PIPE, text=True, timeout=120,
                              cwd=tmp_path)
    finally:
        os.close(writer)
    assert proc.returncode == code, proc.stderr
    assert proc.stderr == ""
    if args[0] == "forward":
        assert (tmp_path / "f" / "summary.json").is_file()


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux), a device every write to fails")
@pytest.mark.parametrize("args", [
    ["check", "{seed}"],
    ["check", "{seed}", "--json"],
    ["shapes", "{seed}"],
    ["forward", "{seed}", "--out", "{tmp}/f"],
    ["--help"],
    ["--version"],
])
def test_a_stdout_that_cannot_be_written_is_one_line_and_exit_2(tmp_path, args):
    """``convcli check ... > /dev/full``: the report is lost, which is neither
    a failed check (exit 1) nor a bug (a traceback): one line naming why.
    forward's report comes once its outputs are in place: the line says
    where they are (the review: exit 2 read as "nothing written")."""
    argv = [a.replace("{seed}", str(CONFIGS / "seed.yaml")).replace("{tmp}", str(tmp_path)) for a in args]
    with open("/dev/full", "w") as full:
        proc = subprocess.run(_convcli() + argv, stdout=full, stderr=subprocess.PIPE, text=True, timeout=120,
                              cwd=tmp_path)
    written = f" (the outputs were written to {tmp_path / 'f'})" if args[0] == "forward" else ""
    assert (proc.returncode, proc.stderr) == (
        2, f"convcli: error: cannot write to standard output: No space left on device{written}\n")
    if written:
        assert (tmp_path / "f" / "summary.json").is_file()


def test_a_closed_stdout_descriptor_is_one_line_and_exit_2(tmp_path):
    """``convcli check ... >&-``: there is no stdout at all (Python's
    sys.stdout is None); said up front, before any work."""
    proc = subprocess.run(_convcli() + ["forward", CONFIGS / "seed.yaml", "--out", tmp_path / "f"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=120,
                          preexec_fn=lambda: os.close(1))
    assert (proc.returncode, proc.stderr) == (
        2, "convcli: error: cannot write to standard output: Bad file descriptor\n")
    assert not (tmp_path / "f").exists()


@pytest.mark.skipif(not hasattr(os, "kill") or sys.platform == "win32", reason="needs POSIX signals")
@pytest.mark.parametrize("signame, code, said", [("SIGTERM", 143, "terminated"), ("SIGINT", 130, "interrupted"),
                                                 ("SIGHUP", 129, "hung up")])
def test_a_stop_signal_mid_run_leaves_nothing(tmp_path, signame, code, said):
    """``kill PID`` (a scheduler's time limit), Ctrl-C or a dropped ssh
    session (SIGHUP: the review left a 627 MB hidden staging folder so) while
    the outputs are being made: the run unwinds, removing its staging folder:
    exit 128 + the signal's number, one line, and the folder as it was. Sent as soon
    as the staging folder appears, when the run is still importing NumPy's
    lazily loaded modules (an exception raised in there could be lost: exit
    0 in 1 run of 3 before cli._stop_if_signalled)."""
    import signal
    import time

    (tmp_path / "slow.yaml").write_text(
        "seed: 1\nengine: reference\n"
        "inputs:\n  A_prev: {random: [400, 16, 16, 3]}\n  W: {random: [3, 3, 3, 8]}\n  b: {zeros: [8]}\n"
        "layers:\n  - {type: conv, W: W, b: b, pad: 1}\n")
    before = sorted(p.name for p in tmp_path.iterdir())
    proc = subprocess.Popen(_convcli() + ["backward", "slow.yaml", "--out", "out"], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not any(p.name.startswith(".out.tmp-") for p in tmp_path.iterdir()):  # staging made: it is running
        assert proc.poll() is None and time.monotonic() < deadline, "the run ended before it could be stopped"
        time.sleep(0.002)
    proc.send_signal(getattr(signal, signame))
    _, stderr = proc.communicate(timeout=60)
    assert (proc.returncode, stderr) == (code, f"convcli: {said}; nothing was written\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == before


@pytest.mark.parametrize("signame, code, said", [("SIGTERM", 143, "terminated"), ("SIGINT", 130, "interrupted")])
def test_a_stop_signal_after_the_outputs_are_in_place_says_where_they_are(tmp_path, signame, code, said,
                                                                           monkeypatch, capsys):
    """A signal while the report prints (stdout blocked), once the outputs
    are in place: exit 128 + the signal, and a line saying where they are
    (the second review: exit 130 and nothing said)."""
    import signal

    from convcli import cli

    def stopped(doc):
        raise cli._stop(getattr(signal, signame))

    monkeypatch.setattr(cli, "_print_json", stopped)
    monkeypatch.setattr(sys, "argv", ["convcli", "forward", str(CONFIGS / "seed.yaml"), "--out",
                                      str(tmp_path / "o"), "--json"])
    monkeypatch.setattr(cli, "_signalled", {})
    monkeypatch.setattr(cli, "_committed", {})  # module state: the next test gets the old (empty) one back
    with pytest.raises(SystemExit) as info:
        cli.main()
    assert info.value.code == code
    assert capsys.readouterr().err == f"convcli: {said}; the outputs were written to {tmp_path / 'o'}\n"
    assert (tmp_path / "o" / "summary.json").is_file()


def test_ctrl_c_while_force_deletes_the_old_outputs_says_where_the_new_ones_are(tmp_path, monkeypatch, capsys):
    """The review's run: Ctrl-C while --force deleted the outputs it had
    just replaced said "nothing was written" (they were in place) and left
    the old ones half deleted beside OUT."""
    import shutil

    from convcli import cli

    out = tmp_path / "o"
    args = ["convcli", "forward", str(CONFIGS / "seed.yaml"), "--out", str(out)]
    monkeypatch.setattr(sys, "argv", args)
    with pytest.raises(SystemExit) as info:
        cli.main()
    assert info.value.code == 0
    capsys.readouterr()
    real, stopped = shutil.rmtree, []

    def rmtree(path, *a, **kw):
        if ".o.del-" in str(path) and not stopped:
            stopped.append(path)
            raise KeyboardInterrupt
        real(path, *a, **kw)

    monkeypatch.setattr("convcli.outputs.shutil.rmtree", rmtree)
    monkeypatch.setattr(sys, "argv", args + ["--force", "--json"])
    monkeypatch.setattr(cli, "_signalled", {})
    monkeypatch.setattr(cli, "_committed", {})
    with pytest.raises(SystemExit) as info:
        cli.main()
    assert stopped and info.value.code == 130
    assert capsys.readouterr().err == f"convcli: interrupted; the outputs were written to {out}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o"]
    assert (out / "summary.json").is_file()


@pytest.mark.parametrize("signame, code, said", [("SIGTERM", 143, "terminated"), ("SIGINT", 130, "interrupted")])
def test_a_stop_signal_under_json_still_prints_a_document(signame, code, said, monkeypatch, capsys):
    """A robustness review: killed under --json, stdout was empty, though a
    script reading it reads JSON whatever happened (README, exit codes)."""
    import signal

    import typer

    from convcli import cli

    monkeypatch.setattr(cli, "_signalled", {})
    monkeypatch.setattr(cli, "_committed", {})
    with pytest.raises(typer.Exit) as info:
        with cli._guard(debug=False, as_json=True):
            raise cli._stop(getattr(signal, signame))
    assert info.value.exit_code == code
    out, err = capsys.readouterr()
    assert err == f"convcli: {said}; nothing was written\n"
    assert json.loads(out) == {"ok": False, "error": {"where": "", "what": f"{said}; nothing was written",
                                                      "exit_code": code}}


@pytest.mark.parametrize("signame, code", [("SIGTERM", 143), ("SIGINT", 130), ("SIGHUP", 129)])
def test_a_stop_signal_whose_exception_was_lost_still_stops_the_command(signame, code, monkeypatch, capsys):
    """Third-party code may swallow the exception a stop signal raised (it
    happened inside NumPy's lazy import of numpy.random): the signal is
    remembered, and the guarded command ends with the signal's exit code
    once its work returns, instead of exit 0."""
    import signal

    import typer

    from convcli import cli

    monkeypatch.setattr(cli, "_signalled", {"signum": getattr(signal, signame)})
    with pytest.raises(typer.Exit) as info:
        with cli._guard(debug=False):
            pass  # the work finished as if nothing had been received
    assert info.value.exit_code == code
    assert "nothing was written" in capsys.readouterr().err


_STOP_AT_IMPORT = """
import os, runpy, signal, sys
sig, at, after_cli = getattr(signal, sys.argv[1]), sys.argv[2], sys.argv[3] == "cli"
seen = []
def hook(event, args):
    # the signal sent from inside the import of module AT (NumPy's C init imports datetime), or with
    # after_cli at the AT-th import once the CLI's handlers are in place (a command's own lazy imports)
    if event != "import" or (after_cli and signal.getsignal(sig) is not getattr(
            sys.modules.get("convcli.cli"), "_on_signal", None)):
        return
    seen.append(args[0])
    if (args[0] == at if not after_cli else len(seen) == int(at)) and len(seen) < 10**6:
        seen.extend([None] * 10**6)
        os.kill(os.getpid(), sig)
sys.addaudithook(hook)
if os.environ.get("STOP_AT_EXEC"):  # the signal inside code made by exec (as a dataclass's methods are)
    import convcli.cli as cli
    plan = cli._plan
    def exec_then_plan(*a, **kw):
        seen.extend([None] * 10**6)
        exec("import os\\nos.kill(os.getpid(), %d)\\nfor _ in range(10**6): pass" % sig)
        return plan(*a, **kw)
    cli._plan = exec_then_plan
if os.environ.get("STOP_AGAIN_AT_EXIT"):  # Ctrl-C once more while Python shuts down, after the line
    import atexit, time
    atexit.register(lambda: (os.kill(os.getpid(), signal.SIGINT), time.sleep(0.05)))
if os.environ.get("STOP_AGAIN_AT_WRITE"):  # Ctrl-C once more as the first stop's line is written
    class Stderr:
        def __init__(self, stream):
            self.stream, self.sent = stream, False
        def write(self, text):
            if len(seen) >= 10**6 and not self.sent:
                self.sent = True
                os.kill(os.getpid(), signal.SIGINT)
            return self.stream.write(text)
        def __getattr__(self, name):
            return getattr(self.stream, name)
    sys.stderr = Stderr(sys.stderr)
sys.argv = ["convcli"] + sys.argv[4:]
runpy.run_module("convcli", run_name="__main__", alter_sys=True)
"""


@pytest.mark.skipif(not hasattr(os, "kill") or sys.platform == "win32", reason="needs POSIX signals")
@pytest.mark.parametrize("signame, code, said", [("SIGINT", 130, "interrupted"), ("SIGTERM", 143, "terminated"),
                                                 ("SIGHUP", 129, "hung up")])
def test_a_stop_signal_while_the_cli_loads_or_outside_its_guard_is_said_with_its_code(tmp_path, signame, code,
                                                                                      said):
    """A review of stop signals: Ctrl-C inside NumPy's import printed NumPy's
    ImportError traceback and exited 1; SIGTERM or SIGHUP before the CLI's
    handlers were in place ended the process with nothing said; and one in
    a command's lazy imports (outside its guard) exited 130 silently,
    whatever the signal, with no document under --json. Each is sent at a
    set import here (deterministic: an audit hook), and each ends with the
    signal's line and exit code."""
    driver = tmp_path / "driver.py"
    driver.write_text(_STOP_AT_IMPORT)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    for where in (["datetime", "early"], ["2", "cli"]):
        for command in (["check", str(CONFIGS / "seed.yaml"), "--json"], ["shapes", str(CONFIGS / "seed.yaml")]):
            proc = subprocess.run([sys.executable, str(driver), signame, *where, *command], capture_output=True,
                                  text=True, timeout=120, env=env, cwd=tmp_path)
            assert (proc.returncode, proc.stderr) == (code, f"convcli: {said}; nothing was written\n"), (where, proc)
            if "--json" in command:
                assert json.loads(proc.stdout) == {"ok": False, "error": {
                    "where": "", "what": f"{said}; nothing was written", "exit_code": code}}, proc.stdout
    # a second Ctrl-C as Python shuts down after a stop while loading ended the process by SIGINT (-2); one
    # while the first unwound printed a traceback, or was said in its place (a review)
    for again in ({"STOP_AGAIN_AT_EXIT": "1"}, {"STOP_AGAIN_AT_WRITE": "1"}):
        proc = subprocess.run([sys.executable, str(driver), signame, "datetime", "early", "shapes",
                               str(CONFIGS / "seed.yaml"), "--json"], capture_output=True, text=True, timeout=120,
                              env={**env, **again}, cwd=tmp_path)
        assert (proc.returncode, proc.stderr) == (code, f"convcli: {said}; nothing was written\n"), (again, proc)
        assert json.loads(proc.stdout)["error"]["exit_code"] == code
    # a Ctrl-C inside code made by exec left CPython's mark of an unhandled KeyboardInterrupt, and Python
    # then ended the process by SIGINT (-2) after convcli's line and exit code (a review)
    # (as `python -m`, which looks at that mark: the console script's file is run otherwise)
    proc = subprocess.run([sys.executable, "-m", "driver", signame, "1000", "cli", "check", str(CONFIGS / "seed.yaml")],
                          capture_output=True, text=True, timeout=120, env={**env, "STOP_AT_EXEC": "1"}, cwd=tmp_path)
    assert (proc.returncode, proc.stderr) == (code, f"convcli: {said}; nothing was written\n"), proc


def test_a_stop_signal_turned_into_another_exception_is_still_a_stop(monkeypatch, capsys):
    """A review: Ctrl-C while HDF5 called back into convcli's file object
    came out as a SystemError (exit 3, 'a bug in convcli'); a module compiled
    as it was imported, as a SyntaxError. A stop signal received makes any
    such error the stop it was."""
    import signal

    import typer

    from convcli import cli

    monkeypatch.setattr(cli, "_signalled", {"signum": signal.SIGINT})
    monkeypatch.setattr(cli, "_committed", {})
    with pytest.raises(typer.Exit) as info:
        with cli._guard(debug=False):
            raise SystemError("<function _Sink.flush> returned a result with an exception set")
    assert info.value.exit_code == 130
    assert capsys.readouterr().err == "convcli: interrupted; nothing was written\n"
    monkeypatch.setattr(cli, "_signalled", {})
    with pytest.raises(typer.Exit) as info:  # without a signal it is a bug, as before
        with cli._guard(debug=False):
            raise SystemError("x")
    assert info.value.exit_code == 3


def test_a_stop_whose_exception_python_could_not_raise_is_quiet_and_stops_at_the_next_step(monkeypatch, capsys):
    """A review: a stop signal landing in a garbage-collector or weakref
    callback printed 'Exception ignored in ... KeyboardInterrupt' with a
    traceback, and the run went on to its end (no check between a stream's
    chunks). Python's report of it is dropped; the progress callback, given
    with or without a bar, raises it at the next step."""
    import signal
    import types

    from convcli import cli

    monkeypatch.setattr(cli, "_signalled", {})
    shown = []
    monkeypatch.setattr(cli, "_default_unraisablehook", shown.append)
    lost = types.SimpleNamespace(exc_value=KeyboardInterrupt(), exc_type=KeyboardInterrupt)
    cli._unraisable(lost)
    assert shown == [lost]  # no signal received: Python's own report, as ever
    monkeypatch.setattr(cli, "_signalled", {"signum": signal.SIGTERM})
    cli._unraisable(lost)
    assert shown == [lost] and capsys.readouterr().err == ""
    for enabled in (False, True):
        with pytest.raises(KeyboardInterrupt) as info:
            with cli._delayed_progress(enabled, "backward", 3, "samples") as step:
                step(1, 3)
        assert isinstance(info.value, cli._Terminated) and info.value.signum == signal.SIGTERM


def test_a_second_stop_while_the_first_is_said_changes_nothing(monkeypatch, capsys):
    """A review: a second signal while the first's line or document was
    written lost the document, or both (exit 130 for a SIGTERM), or said
    the line twice; one in a folder's removal or a put-back cut them short.
    Once a stop is raised, the next ones only wait: one line, one document,
    the first's exit code."""
    import signal

    import typer

    from convcli import cli

    monkeypatch.setattr(cli, "_signalled", {})
    monkeypatch.setattr(cli, "_committed", {})
    real_say = cli._say

    def say(line):
        cli._on_signal(signal.SIGINT, None)  # Ctrl-C as the line is written
        real_say(line)

    monkeypatch.setattr(cli, "_say", say)
    with pytest.raises(typer.Exit) as info:
        with cli._guard(debug=False, as_json=True):
            cli._on_signal(signal.SIGTERM, None)  # the first: raised
    out, err = capsys.readouterr()
    assert info.value.exit_code == 143 and err == "convcli: terminated; nothing was written\n"
    assert json.loads(out)["error"]["exit_code"] == 143


def test_a_stop_while_the_document_is_written_changes_nothing(monkeypatch, capsys):
    """A review: a stop arriving while the last document was written was
    raised as the write returned: a second document, the error's."""
    import signal

    from convcli import cli

    class Stdout(io.StringIO):
        def write(self, text):
            cli._on_signal(signal.SIGTERM, None)
            return super().write(text)

    out = Stdout()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(cli, "_signalled", {})
    monkeypatch.setattr(cli, "_said", {})
    cli._print_json({"ok": True})
    assert json.loads(out.getvalue()) == {"ok": True}


def test_a_stop_after_the_document_changes_nothing(monkeypatch, capsys):
    """A review: a stop signal once check --json had printed its document
    added a second one (json.load: 'Extra data') and made the exit 143. The
    document is the last word: the command ends as it would have."""
    import signal

    from convcli import cli

    real = cli._check_json

    def then_stopped(*a, **kw):
        real(*a, **kw)
        cli._on_signal(signal.SIGTERM, None)  # the handler, as the signal would run it

    monkeypatch.setattr(cli, "_check_json", then_stopped)
    monkeypatch.setattr(sys, "argv", ["convcli", "check", str(CONFIGS / "seed.yaml"), "--json"])
    monkeypatch.setattr(cli, "_signalled", {})
    with pytest.raises(SystemExit) as info:
        cli.main()
    out, err = capsys.readouterr()
    assert info.value.code == 0 and err == "" and json.loads(out)["ok"] is True


def test_a_stop_turned_into_another_exception_outside_the_cli_is_still_a_stop(monkeypatch, capsys):
    """A review: a stop in check's import (outside its guard) came out of a
    class body's __set_name__ as a RuntimeError: a traceback, exit 1, no
    document. Any exception with a stop signal received is that stop."""
    import signal

    from convcli import __main__ as entry, cli, stops

    def main(fresh=True):
        stops.received["signum"] = signal.SIGHUP
        raise RuntimeError("Error calling __set_name__ on '_Remade'")

    monkeypatch.setattr(cli, "main", main)
    monkeypatch.setattr(stops, "received", {})
    monkeypatch.setattr(cli, "_signalled", stops.received)
    monkeypatch.setattr(cli, "_said", {})  # (cli.main, which clears it, is the stand-in here)
    monkeypatch.setattr(entry, "_finished", lambda signals: None)  # (the test process keeps its handlers)
    monkeypatch.setattr(sys, "argv", ["convcli", "check", "x.yaml", "--json"])
    with pytest.raises(SystemExit) as info:
        entry._main()
    out, err = capsys.readouterr()
    assert info.value.code == 129 and err == "convcli: hung up; nothing was written\n"
    assert json.loads(out)["error"]["exit_code"] == 129


def test_a_stop_received_by_an_earlier_command_in_the_process_is_not_this_one_s(monkeypatch, capsys):
    """A review: after a stopped cli.main(), the next one in the same
    process (tests, a library's caller) said 'terminated', exit 143."""
    import signal

    from convcli import cli

    monkeypatch.setattr(cli, "_signalled", {"signum": signal.SIGTERM})  # left by the earlier command
    monkeypatch.setattr(sys, "argv", ["convcli", "shapes", str(CONFIGS / "seed.yaml")])
    with pytest.raises(SystemExit) as info:
        cli.main()
    assert info.value.code == 0 and "conv1" in capsys.readouterr().out


def test_a_second_stop_while_the_first_unwinds_leaves_the_first_said(tmp_path, monkeypatch):
    """A review: a SIGTERM as the staging folder was made, then Ctrl-C
    while it was removed, said 'interrupted' (the second), where the same
    two later in the run said 'terminated' (the first)."""
    import shutil
    import signal

    from convcli import cli, outputs

    def lock(path):
        raise cli._stop(signal.SIGTERM)

    real, cut = shutil.rmtree, []

    def rmtree(path, *a, **kw):
        if not cut:
            cut.append(path)
            raise KeyboardInterrupt
        real(path, *a, **kw)

    monkeypatch.setattr(outputs, "_lock", lock)
    monkeypatch.setattr("convcli.outputs.shutil.rmtree", rmtree)
    with pytest.raises(KeyboardInterrupt) as info:
        outputs.Staging(tmp_path / "o").__enter__()
    assert cut and isinstance(info.value, cli._Terminated) and info.value.signum == signal.SIGTERM
    assert list(tmp_path.iterdir()) == []


def test_a_second_ctrl_c_while_the_staging_folder_is_removed_leaves_nothing(tmp_path, monkeypatch, capsys):
    """A review: Ctrl-C pressed twice (the second while the first's unwinding
    removed the staging folder) left the hidden folder, 100-225 MB, beside
    OUT. The removal now goes to its end; one line, exit 130."""
    import shutil

    from convcli import cli

    real, cut = shutil.rmtree, []

    def rmtree(path, *a, **kw):
        if ".o.tmp-" in str(path) and not cut:
            cut.append(path)
            raise KeyboardInterrupt  # the second Ctrl-C, at the removal's start
        real(path, *a, **kw)

    def first(*a, **kw):
        raise KeyboardInterrupt  # the first Ctrl-C, while the outputs are made

    monkeypatch.setattr("convcli.outputs.shutil.rmtree", rmtree)
    monkeypatch.setattr("convcli.outputs.write_summary", first)
    monkeypatch.setattr(sys, "argv", ["convcli", "forward", str(CONFIGS / "seed.yaml"), "--out", str(tmp_path / "o")])
    monkeypatch.setattr(cli, "_signalled", {})
    monkeypatch.setattr(cli, "_committed", {})
    with pytest.raises(SystemExit) as info:
        cli.main()
    assert cut and info.value.code == 130
    assert capsys.readouterr().err == "convcli: interrupted; nothing was written\n"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["plot", "check"])
def test_a_stop_signal_once_the_png_is_in_place_says_it_was_written(tmp_path, monkeypatch, capsys, command):
    """A review: plot (and check --plot) stopped just after the PNG's rename
    said 'nothing was written', the new PNG in place and the old one gone;
    and a stop while the report printed, outside the guard, exited 130
    silently. Now the line says where the picture is, with the signal's
    code, either way."""
    import signal

    from convcli import cli, plot

    require("matplotlib", "pip install -e '.[plot]'")
    png = tmp_path / "p.png"
    png.write_bytes(b"old")
    real = plot._save

    def save_then_stop(*a, **kw):
        real(*a, **kw)
        cli._signalled["signum"] = signal.SIGTERM
        raise cli._stop(signal.SIGTERM)

    real_replace = os.replace

    def replace_then_signal(*a, **kw):  # (a later review) the signal just after the rename, before its note
        real_replace(*a, **kw)
        cli._on_signal(signal.SIGTERM, None)

    if command == "plot":
        args = ["plot", str(CONFIGS / "seed.yaml"), "-q", "Z", "--out", str(png), "--force"]
    else:
        mine = tmp_path / "mine"
        mine.mkdir()
        np.save(mine / "Z.npy", np.zeros((10, 7, 7, 8)))
        args = ["check", str(CONFIGS / "seed.yaml"), "--against", str(mine), "--plot", str(png), "--force"]
    monkeypatch.setattr(cli, "_said", {})  # (once: main clears it for each command it runs)
    for how in ("at the rename", "in the rename", "in the report"):
        monkeypatch.setattr(cli, "_signalled", {})
        monkeypatch.setattr(cli, "_committed", {})
        if how == "at the rename":
            monkeypatch.setattr(plot, "_save", save_then_stop)
        elif how == "in the rename":
            monkeypatch.setattr(plot, "_save", real)
            monkeypatch.setattr(plot.os, "replace", replace_then_signal)
        else:
            monkeypatch.setattr(plot.os, "replace", real_replace)
            monkeypatch.setattr(plot, "_save", real)

            def stopped(*a, **kw):
                cli._signalled["signum"] = signal.SIGTERM
                raise cli._stop(signal.SIGTERM)

            monkeypatch.setattr(cli, "_console", stopped)
        png.write_bytes(b"old")
        monkeypatch.setattr(sys, "argv", ["convcli", *args])
        with pytest.raises(SystemExit) as info:
            cli.main()
        assert info.value.code == 143, how
        assert capsys.readouterr().err == f"convcli: terminated; the picture was written to {png}\n", how
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", how


def test_table_numbers_stay_whole_where_they_fit_and_are_never_cut():
    """80 columns: the numbers and names on one line each, the shape wrapped
    at its spaces (a review saw -4.88484e+06 split over two lines); 72: the
    table would need a word cut (a later review: -5.97582e+ over 06; then
    another: the name in pieces of 8, "conv1.dA_" over "prev", a shape's
    "(64, 6" over "4, 16)"), so each row is a record, a cell a line under
    its column's name; 40 too. No word is ever cut, nothing is lost."""
    from collections import Counter

    from rich.console import Console

    from convcli.cli import _row, _table

    header = ["quantity", "shape", "mean", "std", "min", "max"]
    cells = ["conv1.dA_prev", "(64, 64, 64, 16)", "-5.70385e+07", "6.65906e+08", "-1.22099e+09", "1.35898e+09"]
    for width in (80, 72, 40):
        t = _table(*header, right=tuple(header[2:]))
        _row(t, *cells)
        con = Console(width=width, record=True, file=io.StringIO())
        con.print(t)
        lines = con.export_text().splitlines()
        assert all(len(line) <= width for line in lines)
        if width < 80:
            assert [line for line in lines if line] == [cells[0]] + [f"  {h}: {c}" for h, c in zip(header[1:], cells[1:])]
            continue
        row = next(line for line in lines if line.startswith("conv1.")).split()
        assert row[0] == cells[0] and row[-4:] == cells[2:]
        words = Counter(w for line in lines for w in line.split() if set(w) != {"─"})
        assert words == Counter(w for cell in header + cells for w in cell.split())  # each word whole
        assert "(64, 64, 64, 16)" not in "\n".join(lines)  # (the shape wrapped at a space: the case asked for)
        # nothing cut: the characters shown are exactly those given (no "…", none lost)
        shown = Counter(ch for line in lines for ch in line if ch not in " ─")
        assert shown == Counter(ch for cell in header + cells for ch in cell if ch != " ")


def test_narrow_check_puts_got_under_expected_digit_under_digit(tmp_path):
    """A terminal review: at 40 columns a record said "expected: 10.58..."
    over "got: 10.58...", the digits 5 columns apart where a learner
    compares them one by one; the labels are padded now. And a shape that
    differs read "shape (4, 4, 8, 8)" under the column "shape" (the word
    twice)."""
    from test_cli_helpers import ROOT, run

    lines = run(["check", ROOT / "configs" / "seed.yaml"], env={"COLUMNS": "40"}).stdout.splitlines()
    expected = [line for line in lines if line.startswith("  expected: ")]
    got = [line for line in lines if line.startswith("  got: ")]
    assert len(expected) == len(got) == 4
    for e, g in zip(expected, got):  # the value in the same column, the "got" line padded to it
        assert e[:12] == "  expected: " and g[:12] == "  got:      " and e[12] != " " != g[12], (e, g)
    # convcli's dW.mean, against the notebook's printed 10.581741275547566: its last digits are the BLAS's
    # order of summation (an Intel machine's 10.58174127554756, an AMD one's 10.581741275547568), not the layout
    assert float(got[1].split()[-1]) == pytest.approx(10.581741275547566, rel=1e-14), got[1]
    out = tmp_path / "out"
    assert run(["backward", ROOT / "configs" / "seed.yaml", "--out", out]).exit_code == 0
    mine = tmp_path / "mine"
    mine.mkdir()
    np.save(mine / "Z.npy", np.load(out / "conv1.Z.npy").transpose(0, 3, 1, 2))  # NCHW: another shape
    table = run(["check", ROOT / "configs" / "seed.yaml", "--against", mine], env={"COLUMNS": "100"}).stdout
    row = next(line for line in table.splitlines() if line.startswith("Z.npy"))
    assert row.split()[1:6] == ["(10,", "8,", "7,", "7)", "-"] and "shape" not in row, row


def test_no_table_runs_past_the_terminal(tmp_path):
    """A review: a table whose least widths measured fit was rendered 1-3
    columns wider (rich shares the width out, then widens columns back to
    their least): shapes at 47-53 and 59-71 columns, gradcheck at 59-61,
    check --against at 61, which a terminal then wraps. Every line of every
    table is at most the width, from 40 to 100 columns (the prose lines
    above and below a table are the console's to wrap)."""
    from test_cli_helpers import CONFIGS

    stack = CONFIGS / "stack.yaml"
    assert run(["backward", stack, "--out", tmp_path / "out"]).exit_code == 0
    commands = [["shapes", stack], ["gradcheck", stack, "--samples", "3"], ["check", stack],
                ["check", stack, "--against", tmp_path / "out"]]
    prose = ("convcli ", "FLOPs:", "note:", "all ", "graded:", "not graded", "your arrays")
    # (the rules are as wide as their tables; a record leaves out its first column's heading)
    headings = {"/", "quantity", "entry", "array", "layer", "input"}
    words = {i: {w for w in run(args, env={"COLUMNS": "300"}).stdout.split() if w not in headings and set(w) != {"─"}}
             for i, args in enumerate(commands)}
    for width in range(40, 101):
        for i, args in enumerate(commands):
            out = run(args, env={"COLUMNS": str(width)}).stdout
            wide = [line for line in out.splitlines() if len(line) > width and not line.startswith(prose)]
            assert not wide, (width, args[0], wide)
            # and no word cut, nor lost (a review's fix had rich cut every column to fit: "laye", "56,3")
            shown = set(out.split()) | {w.removesuffix(":") for w in out.split()}  # (a record's "input:")
            assert not words[i] - shown, (width, args[0], words[i] - shown)
            # no record line of nothing (one whose value wrapped to the next line, indented, is no such line)
            assert not re.search(r"\n  [a-z ]+:\n(?!    )", out), (width, args[0], out)


def test_a_table_narrows_the_column_that_wraps_the_fewest_cells(tmp_path):
    """Where a table needs a few columns less, the column narrowed is the one
    that wraps the fewest of its cells: check --against's heading "first
    differs" over two lines, not every shape "(4, 8, 8," over "4)" (the
    column with the most to spare, before)."""
    from test_cli_helpers import CONFIGS

    assert run(["backward", CONFIGS / "stack.yaml", "--out", tmp_path / "out"]).exit_code == 0
    out = run(["check", CONFIGS / "stack.yaml", "--against", tmp_path / "out"], env={"COLUMNS": "72"}).stdout
    rows = [line for line in out.splitlines() if line.split() and line.split()[0].endswith(".npy")]
    assert len(rows) == 8 and all(len(row) <= 72 for row in rows), rows
    # each shape whole on its row
    assert all(re.search(r"\((\d+, )*\d+,?\)", row) and row.rstrip().endswith("pass") for row in rows), rows
    assert any(line.split() == ["first"] for line in out.splitlines()), out  # the heading wrapped instead


@pytest.mark.parametrize("columns", ["60", "45"])
def test_check_table_never_folds_a_value_on_a_narrow_terminal(columns):
    """A review: at 60 columns check's "expected over got" cells folded
    (0.0567061809628 over 8484). Now the names fold, or, where the values
    do not fit even so, each entry is a record; the config's own value is
    shown whole either way."""
    import yaml

    out = run(["check", CONFIGS / "stack.yaml"], env={"COLUMNS": columns}).stdout
    assert all(len(line) <= int(columns) for line in out.splitlines()[1:])  # (the title names the config's path)
    given = yaml.safe_load((CONFIGS / "stack.yaml").read_text())["expected"]["relu2.A.mean"]
    assert repr(given) in out.split()
    if columns == "45":
        lines = out.splitlines()
        assert f"  expected: {given!r}" in lines
        # folded, not cropped, in a pipe too (a review: "encoder_..._pooling_" lost its ".A.mean")
        assert lines.count("  result: pass") == 11
        long = {"layers": [{"type": "relu", "name": "a_layer_name_longer_than_the_terminal_is_wide"}],
                "inputs": {"A_prev": {"ones": [1, 2, 2, 1]}},
                "expected": {"a_layer_name_longer_than_the_terminal_is_wide.A.mean": 1.0}}
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            text = run(["check", write(Path(tmp), long)], env={"COLUMNS": "20"}).stdout
        # the name's rest indented under it, not read as a new record
        name = text.splitlines()[2:5]
        assert name[0] == "a_layer_name_longer_" and all(line.startswith("    ") for line in name[1:]), text
        assert "".join(line.strip() for line in name) == "a_layer_name_longer_than_the_terminal_is_wide.A.mean"


def test_check_table_keeps_17_digit_values_whole_at_80_columns():
    """The notebook's means to 17 digits, expected and got side by side, fit
    80 columns once the cells' padding collapses (it folded them: 9.60899067586899
    over 5)."""
    out = run(["check", CONFIGS / "seed.yaml"], env={"COLUMNS": "80"}).stdout
    lines = out.splitlines()
    table = lines[lines.index(next(line for line in lines if line.startswith("entry"))):]
    assert all(len(line) <= 80 for line in table)  # (the title names the config's whole path)
    row = next(line for line in table if line.startswith("dA_prev.mean")).split()
    # the expected value is the notebook's printed number
    assert row[:2] == ["dA_prev.mean", "9.608990675868995"] and row[-1] == "pass"
    assert float(row[2]) == pytest.approx(9.608990675868995, rel=1e-12)


@pytest.mark.parametrize("args", [["check", "stack.yaml"], ["shapes", "stack.yaml"], ["gradcheck", "seed.yaml"]])
def test_no_output_line_ends_in_spaces(args):
    """Rich padded every row's last cell ("pass  "): noise in a log or a diff."""
    for columns in ("80", "200"):
        out = run([args[0], CONFIGS / args[1]], env={"COLUMNS": columns}).stdout
        assert out.count("\n") > 5 and not [line for line in out.splitlines() if line != line.rstrip()]


def test_trimmed_table_lines_keep_their_styles_on_a_terminal(monkeypatch):
    """The trailing padding goes, the bold of a header cell it followed stays."""
    from convcli import cli

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.delenv("NO_COLOR", raising=False)
    out = Terminal()
    monkeypatch.setattr(sys, "stdout", out)
    t = cli._table("name", "ok")
    cli._row(t, "conv1.dW", "passed")  # "ok" is padded to "passed"'s width in its header line
    cli._console().print(t)
    lines = out.getvalue().splitlines()
    header = next(line for line in lines if "name" in line)
    assert header.endswith("\x1b[1mok\x1b[0m"), repr(header)  # bold, closed, and no spaces after it
    assert all(line == line.rstrip() for line in lines)


def test_long_lines_wrap_between_words_on_a_terminal_and_stay_whole_in_a_pipe(monkeypatch):
    """A FAIL line longer than the terminal was left to the terminal, which
    split -0.39603513414200325 mid-number; in a pipe, lines stay whole."""
    from rich.text import Text

    from convcli import cli

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    line = "FAIL conv1.dW.npy (conv1.dW): first differs at [0, 1, 2, 3]: got -0.39603513414200325, expected x"
    monkeypatch.setenv("COLUMNS", "60")
    for tty in (True, False):
        out = Terminal() if tty else io.StringIO()
        monkeypatch.setattr(sys, "stdout", out)
        cli._console().print(Text(line))
        shown = out.getvalue().splitlines()
        if tty:
            assert len(shown) == 2 and all(len(x) <= 60 for x in shown) and "-0.39603513414200325" in shown[1]
        else:
            assert shown == [line]


def test_check_table_stacks_expected_over_got_where_side_by_side_would_fold():
    """stack.yaml's entries (up to 20 characters) and 17-digit values need
    89 columns side by side: on 80, expected sits over got, each whole (they
    were folded: 0.05670618096288 over 484)."""
    narrow = run(["check", CONFIGS / "stack.yaml"], env={"COLUMNS": "80"}).stdout.splitlines()
    at = next(i for i, line in enumerate(narrow) if line.startswith("relu2.A.mean"))
    assert narrow[at].split()[:2] == ["relu2.A.mean", "0.05670618096288484"]  # the config's expected value
    got = narrow[at + 1].split()
    assert len(got) == 1 and float(got[0]) == pytest.approx(0.05670618096288484, rel=1e-12)
    assert any(line.startswith("entry") and "expected / got" in line for line in narrow)
    table = narrow[next(i for i, line in enumerate(narrow) if line.startswith("entry")):]
    assert all(len(line) <= 80 for line in table)
    wide = run(["check", CONFIGS / "stack.yaml"], env={"COLUMNS": "120"}).stdout.splitlines()
    row = next(line for line in wide if line.startswith("relu2.A.mean")).split()
    assert row[1] == "0.05670618096288484" and float(row[2]) == pytest.approx(0.05670618096288484, rel=1e-12)


@pytest.mark.parametrize("command", [["check"], ["gradcheck", "--samples", "3"], ["shapes"], ["forward"],
                                     ["backward"], ["plot", "--quantity", "W"]])
def test_reports_say_which_convcli_and_which_config(command, tmp_path):
    """A grader logging check's JSON could not tell which convcli or which
    config made it (only forward/backward's summary.json said); and a later
    review: forward/backward's config was an object where the others' is
    the path as given; and plot's had no config at all."""
    if command[0] == "plot":
        require("matplotlib", "pip install -e '.[plot]'")
    out = (["--out", tmp_path / "out"] if command[0] in ("forward", "backward") else
           ["--out", tmp_path / "W.png"] if command[0] == "plot" else [])
    result = run([*command[:1], CONFIGS / "seed.yaml", *command[1:], *out, "--json"])
    doc = json.loads(result.stdout)
    assert doc["convcli"] == convcli.__version__
    assert doc["config_sha256"] == hashlib.sha256((CONFIGS / "seed.yaml").read_bytes()).hexdigest()
    assert doc["config"] == str(CONFIGS / "seed.yaml")
    if command[0] in ("forward", "backward"):  # summary.json keeps its {path, sha256}, the path absolute
        assert doc["config_path"] == str((CONFIGS / "seed.yaml").resolve())
        summary = json.loads((tmp_path / "out" / "summary.json").read_text())
        assert summary["config"] == {"path": doc["config_path"], "sha256": doc["config_sha256"]}


def test_tables_spell_nan_and_infinities_as_numpy_does(tmp_path):
    """A review: forward's table said NaN / Infinity, check's table and notes
    nan / inf: a grep of a log for one missed the other."""
    A = np.ones((1, 2, 2, 1))
    A[0, 0, 0, 0], A[0, 1, 1, 0] = np.nan, np.inf
    np.save(tmp_path / "a.npy", A)
    cfg = write(tmp_path, {"allow_nonfinite": True, "inputs": {"A_prev": {"file": "a.npy"}},
                           "layers": [{"type": "relu"}], "expected": {"relu1.A[0, 1, 1, 0]": 1.0}})
    out = run(["forward", cfg, "--out", tmp_path / "out"]).stdout
    row = next(line for line in out.splitlines() if line.startswith("relu1.A")).split()
    assert row[-4:] == ["nan", "nan", "nan", "nan"]  # mean std min max: NaN wins over inf
    assert "NaN" not in out and "Infinity" not in out
    check = run(["check", cfg]).stdout
    assert "got inf, expected 1.0" in check and "Infinity" not in check
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["quantities"]["relu1.A"]["mean"] == "NaN"  # JSON's own spelling stays


def test_a_record_s_folded_lines_keep_every_character(tmp_path):
    """A review: the record layout wrapped a line, glued its rest back and
    wrapped it again, losing the spaces the breaks fell on ("[0, 0,0, 0]").
    Folded or not, the words read back as they were; the rest is indented."""
    out = tmp_path / "ref"
    assert run(["backward", CONFIGS / "seed.yaml", "--out", out]).exit_code == 0
    bad = tmp_path / "bad"
    bad.mkdir()
    np.save(bad / "conv1.dW.npy", np.load(out / "conv1.dW.npy") / 4)
    for columns in ("12", "15", "20"):
        text = run(["check", CONFIGS / "seed.yaml", "--against", bad], env={"COLUMNS": columns}).stdout
        lines = text.splitlines()
        start = lines.index("conv1.dW.npy")
        record = lines[start:lines.index("", start)]
        joined = " ".join(line.strip() for line in record)
        assert "shape: (2, 2, 3, 8)" in joined and "first differs: [0, 0, 0, 0]" in joined, (columns, text)
        assert all(len(line) <= int(columns) for line in record)


def test_a_stop_whose_exception_was_swallowed_is_raised_again_by_a_later_one(monkeypatch):
    """A review: once a stop was raised, later ones only waited, for the
    first's cleanup; but were its exception swallowed (third-party code),
    a long step (a reference-engine layer) could not be stopped until it
    ended. A second signal within STOP_GRACE_S of the first waits; one
    later is raised."""
    import signal

    from convcli import cli

    monkeypatch.setattr(cli, "_signalled", {})
    monkeypatch.setattr(cli, "_said", {})
    monkeypatch.setattr(cli, "_holds", [])
    with pytest.raises(KeyboardInterrupt):
        cli._on_signal(signal.SIGINT, None)  # the first, swallowed below
    cli._on_signal(signal.SIGINT, None)  # a moment later: waits
    monkeypatch.setattr(cli, "STOP_GRACE_S", 0.0)
    with pytest.raises(KeyboardInterrupt):
        cli._on_signal(signal.SIGINT, None)  # later: raised again
