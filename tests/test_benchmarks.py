"""The benchmark script (benchmarks/run.py) still runs and writes its JSON.

A smoke test so the script never rots: it runs the script's real code path on
tiny cases (the module's case lists shrunk in-process) and checks the fields
of the JSON it writes. It asserts no timing and no target: timed tests are
forbidden here, machines are noisy. The PyTorch part skips without torch.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import import_torch

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "run.py"


@pytest.fixture
def bench(monkeypatch):
    """benchmarks/run.py as a module, with tiny cases in place of the real ones."""
    spec = importlib.util.spec_from_file_location("convcli_bench_run", SCRIPT)
    run = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, run)  # dataclasses look the module up
    spec.loader.exec_module(run)
    tiny_conv = run.ConvCase(2, 6, 3, 3, 4, 1, 1)
    monkeypatch.setattr(run, "CONV_CASES", [tiny_conv])
    monkeypatch.setattr(run, "GEMM_CASE", tiny_conv)
    monkeypatch.setattr(run, "GEMM_N", 64)
    monkeypatch.setattr(run, "POOL_CASES", [run.PoolCase("max", 2, 6, 3, 2, 2),
                                            run.PoolCase("average", 2, 6, 3, 3, 1)])
    monkeypatch.setattr(run, "ENGINE_CASE", run.ConvCase(1, 4, 2, 3, 2, 1, 1))
    monkeypatch.setattr(run, "MORE_CONV_CASES", [run.ConvCase(2, 5, 1, 3, 3, 1, 1), tiny_conv])
    monkeypatch.setattr(run, "MORE_POOL_CASES", [run.PoolCase("max", 2, 7, 3, 3, 2, "first"),
                                                 run.PoolCase("max", 2, 6, 3, 2, 2)])
    # --quick's plan without the sleeps between libraries: fewer seconds, same code.
    quick = run.Plan.quick()
    monkeypatch.setattr(run.Plan, "quick",
                        classmethod(lambda cls: dataclasses.replace(quick, settle=0.0)))
    return run


ROW_FIELDS = {"case", "kind", "dtype", "shape", "convcli_s", "torch_s", "ratio", "pct_gemm", "gemm_bound_s",
              "peak_bytes", "io_bytes", "peak_ratio", "other_load_cpus", "check"}
HEADER_FIELDS = {"python", "cpu", "cpu_caches", "numpy", "convcli", "git", "blas", "env", "torch",
                 "torch_skipped", "loadavg_at_start"}


def _run(bench, tmp_path, *extra):
    out = tmp_path / "results" / "bench.json"
    code = bench.main(["--quick", "--plain", "--json-out", str(out), *extra])
    assert code == 0
    # Strict JSON: no NaN/Infinity sneaks in.
    return json.loads(out.read_text(), parse_constant=lambda c: pytest.fail(f"JSON has {c}"))


def _check_common(result, torch_expected: bool):
    assert result["schema"] == 1
    assert set(result) >= {"created", "settings", "header", "gemm", "rows", "targets", "summary"}
    assert result["settings"]["statistic"] == "min"
    header = result["header"]
    assert set(header) >= HEADER_FIELDS
    assert set(header["env"]) == {"OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"}
    assert set(header["malloc"]) == {"MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"}
    assert set(header["blas"]) >= {"library", "version", "architecture", "threads"}
    assert header["blas"]["threads"] >= 1
    assert set(header["git"]["sources"]) == {"conv.py", "pool.py", "hparams.py"}
    assert (header["torch"] is not None) == torch_expected

    rows = result["rows"]
    kinds = [r["kind"] for r in rows]
    assert kinds.count("conv") == 2  # the tiny case in float64 and float32
    assert kinds.count("pool") == 4  # two tiny cases x two dtypes
    assert kinds.count("engine") == 1
    for r in rows:
        if r["kind"] == "engine":
            assert set(r) >= {"fast_s", "reference_s", "speedup", "check"}
            assert r["fast_s"] > 0 and r["reference_s"] > 0 and r["check"]["ok"]
            continue
        assert set(r) >= ROW_FIELDS, r["case"]
        assert r["dtype"] in ("float64", "float32")
        assert r["convcli_s"] > 0
        assert r["peak_bytes"] >= 0 and r["io_bytes"] > 0
        assert r["peak_ratio"] == pytest.approx(r["peak_bytes"] / r["io_bytes"])
        if r["kind"] == "conv":
            assert r["pct_gemm"] > 0 and r["gemm"]["gflops"] > 0
            # forward, weight gradient and input gradient: 3 products of m*n_H*n_W*C*f*f*C_prev
            # multiply-adds, by hand from the shape, at the row's GEMM rate
            sh = r["shape"]
            n_out = (sh["H"] + 2 * sh["pad"] - sh["f"]) // sh["stride"] + 1
            madds = sh["m"] * n_out * n_out * sh["C"] * sh["f"] ** 2 * sh["C_prev"]
            assert r["gemm_bound_s"] == pytest.approx(3 * 2 * madds / (r["gemm"]["gflops"] * 1e9))
        else:
            assert r["pct_gemm"] is None and r["gemm_bound_s"] is None
        if torch_expected:
            assert r["torch_s"] > 0 and r["ratio"] == pytest.approx(r["convcli_s"] / r["torch_s"])
            assert r["check"]["ok"], (r["case"], r["check"])
        else:
            assert r["torch_s"] is None and r["ratio"] is None and r["check"] is None
    assert set(result["gemm"]) == {"float64", "float32"}

    targets = result["targets"]
    assert {t["metric"] for t in targets} == {"ratio", "pct_gemm", "speedup", "peak_ratio"}
    rows_by = {(r["case"], r["dtype"]): r for r in rows}
    for t in targets:
        assert set(t) >= {"target", "case", "dtype", "metric", "value", "limit", "status"}
        assert t["status"] in ("PASS", "MISS", "SKIP")
        row = rows_by[t["case"], t["dtype"]]
        if t["metric"] == "ratio" and row["kind"] == "conv":
            if torch_expected:
                assert t["limit_s"] == pytest.approx(t["limit"] * row["torch_s"])
                assert t["below_gemm_bound"] == (t["limit_s"] < row["gemm_bound_s"])
            else:
                assert t["limit_s"] is None and t["below_gemm_bound"] is None
    s = result["summary"]
    assert s["pass"] + s["miss"] + s["skip"] == s["total"] == len(targets)
    return targets


def test_without_torch(bench, tmp_path, monkeypatch, capsys):
    # As if torch were not installed: `import torch` raises ImportError.
    monkeypatch.setitem(sys.modules, "torch", None)
    result = _run(bench, tmp_path)
    targets = _check_common(result, torch_expected=False)
    assert "not installed" in result["header"]["torch_skipped"]
    for t in targets:
        if t["metric"] == "ratio":
            assert t["status"] == "SKIP" and "skipped" in t["reason"]
        else:
            assert t["status"] in ("PASS", "MISS")
    out = capsys.readouterr().out
    assert "PyTorch comparison skipped" in out
    assert "targets" in out and "JSON written to" in out


def test_with_torch(bench, tmp_path):
    torch = import_torch()
    threads = torch.get_num_threads()  # the script sets it; give the oracle tests theirs back
    try:
        result = _run(bench, tmp_path)
    finally:
        torch.set_num_threads(threads)
    _check_common(result, torch_expected=True)
    assert result["header"]["torch_threads"] == result["header"]["blas"]["threads"]
    assert all(t["status"] != "SKIP" for t in result["targets"])


def test_a_limit_below_the_gemm_bound_is_marked(bench, capsys):
    """A conv ratio target whose allowed time (0.5x PyTorch's 10 ms: 5 ms)
    is below the time of the layer's multiply-adds at the run's GEMM rate
    (here 500 ms) gets a '*' and a footnote naming both times; one above it
    (1 ms) does not."""
    row = {"case": "conv-x", "dtype": "float64", "kind": "conv", "ratio": 2.0, "torch_s": 0.01,
           "gemm_bound_s": 0.5, "pct_gemm": 1.0, "peak_ratio": 1.0}
    below = bench.evaluate_targets([row], None)[0]
    assert below["limit_s"] == pytest.approx(0.005) and below["below_gemm_bound"] is True
    above = bench.evaluate_targets([dict(row, gemm_bound_s=0.001)], None)[0]
    assert above["below_gemm_bound"] is False
    for t, marked in ((below, True), (above, False)):
        bench.print_targets(bench.Printer(plain=True),
                            {"targets": [t], "summary": {"pass": 0, "miss": 1, "skip": 0, "total": 1}})
        out = capsys.readouterr().out
        assert ("MISS *" in out) == marked and ("conv-x float64 5.00 ms against 500.00 ms" in out) == marked, out


def test_more_layers_are_timed_without_targets(bench, tmp_path, monkeypatch, capsys):
    """--more adds MORE_CONV_CASES and MORE_POOL_CASES (less any of the
    issue's cases) in both dtypes, in their own table, and no target is set
    on them."""
    monkeypatch.setitem(sys.modules, "torch", None)
    result = _run(bench, tmp_path, "--more", "--only", "conv-,pool-max-")
    more = [r for r in result["rows"] if r["kind"] == "conv-more"]
    assert [(r["case"], r["dtype"]) for r in more] == [("conv-m2-h5-c1-f3-k3-s1-p1", dt) for dt in ("float64", "float32")]
    assert all(r["convcli_s"] > 0 and r["pct_gemm"] > 0 for r in more)
    pools = [r for r in result["rows"] if r["kind"] == "pool-more"]
    assert [(r["case"], r["dtype"]) for r in pools] == [("pool-max-m2-h7-c3-f3-s2-first", dt) for dt in ("float64", "float32")]
    assert all(r["convcli_s"] > 0 and r["shape"]["ties"] == "first" for r in pools)
    assert {t["case"] for t in result["targets"]} == {"conv-m2-h6-c3-f3-k4-s1-p1", "pool-max-m2-h6-c3-f2-s2"}
    out = capsys.readouterr().out
    assert "more layers (--more; no targets)" in out and "pool-max-m2-h7-c3-f3-s2-first" in out


def test_cli_lists_cases_and_rejects_unknown_patterns():
    """Through the real door: the real case list, and a pattern matching nothing."""
    listed = subprocess.run([sys.executable, str(SCRIPT), "--list"], capture_output=True,
                            text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    names = listed.stdout.split()
    assert "conv-m16-h56-c64-f3-k64-s1-p1/float64" in names
    assert "pool-max-m64-h32-c32-f3-s1/float32" in names
    assert any(n.startswith("engine-") for n in names)
    only = subprocess.run([sys.executable, str(SCRIPT), "--list", "--only", "pool-max-*,float32"],
                          capture_output=True, text=True, timeout=60)
    assert only.returncode == 0, only.stderr
    picked = only.stdout.split()
    assert picked and set(picked) < set(names)
    assert all(n.startswith("pool-max-") or n.endswith("/float32") for n in picked)
    more = subprocess.run([sys.executable, str(SCRIPT), "--list", "--more"], capture_output=True,
                          text=True, timeout=60).stdout.split()
    assert set(names) < set(more) and "conv-m64-h28-c1-f3-k16-s1-p1/float32" in more
    bad = subprocess.run([sys.executable, str(SCRIPT), "--only", "no-such-case"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2
    assert "matches no case" in bad.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the malloc restart is for glibc on Linux")
@pytest.mark.parametrize("extra, expected", [
    ((), {"MALLOC_MMAP_THRESHOLD_": "1073741824", "MALLOC_TRIM_THRESHOLD_": "1073741824"}),
    (("--default-malloc",), {"MALLOC_MMAP_THRESHOLD_": None, "MALLOC_TRIM_THRESHOLD_": None}),
])
def test_script_restarts_itself_with_malloc_settings(tmp_path, extra, expected):
    """Run as a script, it starts again with glibc told to keep freed memory
    (what its header and JSON record), unless --default-malloc."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    out = tmp_path / "r.json"
    done = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--no-torch", "--plain", "--only", "engine",
                           "--json-out", str(out), *extra], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(out.read_text())["header"]["malloc"] == expected
    assert ("malloc: MALLOC_MMAP_THRESHOLD_=1073741824" in done.stdout) == (expected["MALLOC_MMAP_THRESHOLD_"] is not None)
