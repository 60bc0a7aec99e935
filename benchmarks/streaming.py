"""Streaming benchmark (issue 4): peak memory of `convcli backward` over an
input much larger than `--memory-budget`, and streamed == in memory.

1. Peak RSS: writes a ~1.6 GB float32 .h5 input into a temporary folder (a
   block of samples at a time, so making it needs little memory), runs
   `convcli backward` on it as a subprocess with the default budget (512 MiB)
   over a conv -> relu -> max pool stack with a random upstream gradient, and
   prints the child's peak RSS (getrusage RUSAGE_CHILDREN ru_maxrss, exact;
   and the largest VmHWM seen by polling /proc with psutil, a cross-check)
   beside the input size, the budget, the chunk size and the wall time, with
   PASS/MISS against "peak RSS < 512 MiB".
2. Streamed == in memory: on a smaller input, one run in memory and one
   streamed in several chunks (a small budget); every array and every
   summary statistic is compared.
3. Chunk size vs speed: a 200 MB input streamed in process with the
   chunk's working memory capped at 1 to 256 MiB (streaming.CHUNK_TARGET),
   time per sample: the measurement behind the cap.

It asserts nothing: it prints what it measured. Usage:

    .venv/bin/python benchmarks/streaming.py [--input-gb 1.6] [--workdir DIR] [--no-sweep]

Needs the disk space for the input and its outputs (about 9x the input) in
the work folder (default: a new folder under the system's temp folder,
removed at the end).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import h5py
import numpy as np

H, W, C = 64, 64, 3  # one sample: 48 KiB of float32
TARGET_RSS = 512 << 20
STACK = """\
  - {type: conv, W: W1, b: b1, stride: 1, pad: same}
  - {type: relu}
  - {type: pool, f: 2, mode: max}
"""


def config_text(path: str, n: int, dtype: str) -> str:
    return (
        f"seed: 0\ndtype: {dtype}\ninputs:\n"
        f"  A_prev: {{file: {path}, dataset: images}}\n"
        f"  W1: {{random: [3, 3, {C}, 4]}}\n  b1: {{random: [4]}}\n"
        f"layers:\n{STACK}backward:\n  grad: random\n"
    )


def make_input(path: Path, n: int, block: int = 1024) -> None:
    """n samples of (H, W, C) float32, written a block at a time."""
    rng = np.random.default_rng(0)
    with h5py.File(path, "w") as f:
        d = f.create_dataset("images", shape=(n, H, W, C), dtype="float32")
        for i in range(0, n, block):
            k = min(block, n - i)
            d[i:i + k] = rng.random((k, H, W, C), dtype=np.float32)


def mib(n: float) -> str:
    return f"{n / 2**20:,.1f} MiB"


def run_convcli(args: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess, float, int]:
    """Run convcli as a child; returns (process, wall seconds, largest polled VmHWM in bytes)."""
    import psutil

    cmd = [sys.executable, "-m", "convcli", *args]
    t0 = time.perf_counter()
    child = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    hwm = 0
    done = threading.Event()

    def poll() -> None:
        nonlocal hwm
        proc = psutil.Process(child.pid)
        while not done.is_set():
            try:
                with open(f"/proc/{proc.pid}/status") as fp:
                    for line in fp:
                        if line.startswith("VmHWM:"):
                            hwm = max(hwm, int(line.split()[1]) * 1024)
            except (OSError, psutil.Error):
                pass
            done.wait(0.05)

    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    out, err = child.communicate()
    done.set()
    watcher.join()
    wall = time.perf_counter() - t0
    return subprocess.CompletedProcess(cmd, child.returncode, out, err), wall, hwm


def baseline_rss(work: Path) -> int:
    """Peak RSS of `convcli backward` on 16 samples: the interpreter, NumPy,
    h5py and the rest, with next to no data (a separate child, so that
    RUSAGE_CHILDREN, a maximum over children, is read before the big run)."""
    src = work / "tiny.h5"
    make_input(src, 16)
    cfg = work / "tiny.yaml"
    cfg.write_text(config_text(src.name, 16, "float32"))
    code = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, capture_output=True); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)")
    out = subprocess.run([sys.executable, "-c", code, sys.executable, "-m", "convcli", "backward", str(cfg),
                          "--out", str(work / "tiny-out")], check=True, capture_output=True, text=True, cwd=work)
    return int(out.stdout)


def peak_rss(work: Path, gb: float) -> None:
    n = int(gb * 1e9 // (H * W * C * 4))
    src = work / "big.h5"
    print(f"## 1. peak RSS: {n:,} samples of {H}x{W}x{C} float32")
    print(f"baseline: `convcli backward` on 16 samples peaks at {mib(baseline_rss(work))} of RSS")
    t = time.perf_counter()
    make_input(src, n)
    size = src.stat().st_size
    print(f"input: {src.name}, {size / 1e9:.2f} GB ({mib(size)}), written in {time.perf_counter() - t:.1f} s")
    cfg = work / "big.yaml"
    cfg.write_text(config_text(src.name, n, "float32"))
    proc, wall, polled = run_convcli(["backward", str(cfg), "--out", str(work / "big-out"), "--format", "h5",
                                      "--json"], work)
    if proc.returncode != 0:
        print(f"convcli failed ({proc.returncode}): {proc.stderr.strip()}")
        return
    ru = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # KiB on Linux
    doc = json.loads(proc.stdout)
    s = doc["streaming"]
    written = sum(p.stat().st_size for p in (work / "big-out").iterdir())
    print(f"budget: {mib(s['memory_budget'])} (the default); chunks: {s['chunks']} of {s['chunk_rows']} samples; "
          f"estimated working memory {mib(s['estimated_peak'])} ({mib(s['per_sample'])} per sample x "
          f"{s['chunk_rows']} + {mib(s['fixed'])} fixed + {mib(s.get('cache_kept', 0))} kept by the conv caches"
          f" + {mib(s.get('pool_scratch', 0))} of pool scratch)")
    print(f"wall time: {wall:.1f} s ({n / wall:,.0f} samples/s); wrote {written / 1e9:.2f} GB; "
          f"timings: {', '.join(f'{k} {v:.1f} s' for k, v in doc['timings'].items())}")
    print(f"peak RSS: {mib(ru)} (ru_maxrss); {mib(polled)} (VmHWM, polled)")
    verdict = "PASS" if ru < TARGET_RSS else "MISS"
    print(f"{verdict}: peak RSS {mib(ru)} < {mib(TARGET_RSS)} for a {size / 1e9:.2f} GB input")
    shutil.rmtree(work / "big-out")
    src.unlink()


def compare(work: Path, n: int = 768) -> None:
    """Streamed vs in-memory on a smaller input."""
    print(f"\n## 2. streamed == in memory: {n} samples, float32 and float64")
    src = work / "small.h5"
    make_input(src, n)
    for dtype in ("float32", "float64"):
        cfg = work / f"small-{dtype}.yaml"
        cfg.write_text(config_text(src.name, n, dtype))
        runs = {}
        for label, budget in (("memory", "64GiB"), ("streamed", "40MiB")):
            out = work / f"small-{dtype}-{label}"
            proc, wall, _ = run_convcli(["backward", str(cfg), "--out", str(out), "--format", "npy",
                                         "--json", "--memory-budget", budget, "--force"], work)
            if proc.returncode != 0:
                print(f"{label} run failed: {proc.stderr.strip()}")
                return
            runs[label] = (out, json.loads(proc.stdout), wall)
        (a_out, a_doc, a_wall), (b_out, b_doc, b_wall) = runs["memory"], runs["streamed"]
        s = b_doc["streaming"]
        assert a_doc["streaming"] is None
        print(f"{dtype}: in memory {a_wall:.2f} s; streamed in {s['chunks']} chunks of {s['chunk_rows']} "
              f"(--memory-budget 40MiB) {b_wall:.2f} s")
        worst_stat = 0.0
        for name, d in a_doc["quantities"].items():
            x = np.load(a_out / d["file"])
            y = np.load(b_out / b_doc["quantities"][name]["file"])
            same = np.array_equal(x, y)
            rel = float(np.max(np.abs(x.astype(np.float64) - y)) / max(np.max(np.abs(x)), 1e-300))
            for k in ("mean", "std", "min", "max", "sum", "norm"):
                u, v = d[k], b_doc["quantities"][name][k]
                worst_stat = max(worst_stat, abs(u - v) / max(abs(u), 1e-300))
            streamed = "streamed" if b_doc["quantities"][name].get("streamed") else "whole"
            print(f"  {name:15s} {str(tuple(x.shape)):20s} {streamed:8s} "
                  f"{'identical' if same else f'max rel diff {rel:.1e}'}")
        print(f"  summary statistics: largest relative difference {worst_stat:.1e}")


def sweep(work: Path, n: int = 4096) -> None:
    """Time per sample against the cap on a chunk's working memory."""
    from convcli import runner, streaming

    print(f"\n## 3. chunk size vs speed: {n} samples, float32, streamed in process, best of 3")
    src = work / "sweep.h5"
    make_input(src, n)
    cfg = work / "sweep.yaml"
    cfg.write_text(config_text(src.name, n, "float32"))
    saved = streaming.CHUNK_TARGET
    try:
        for target_mib in (1, 4, 16, 64, 256):
            streaming.CHUNK_TARGET = target_mib << 20
            p = runner.plan(cfg)
            e = streaming.estimate(p, True)
            rows = max(1, min(n, streaming.CHUNK_TARGET // e.per_sample))
            p.stream = streaming.StreamPlan(1 << 40, n, rows, e)
            best = math.inf
            for _ in range(3):
                out = Path(tempfile.mkdtemp(dir=work))
                t = time.perf_counter()
                streaming.run_streaming(p, True, out, "h5")
                best = min(best, time.perf_counter() - t)
                shutil.rmtree(out)
            print(f"  cap {target_mib:4d} MiB: chunks of {rows:5d} samples, "
                  f"{best:.2f} s, {best / n * 1e6:.0f} us per sample")
    finally:
        streaming.CHUNK_TARGET = saved
    src.unlink()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--input-gb", type=float, default=1.6, help="size of the large input in GB (default 1.6)")
    ap.add_argument("--workdir", type=Path, default=None, help="where to write (default: a temporary folder)")
    ap.add_argument("--no-sweep", action="store_true", help="skip part 3")
    args = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # a line at a time, also into a log file
    work = Path(tempfile.mkdtemp(prefix="convcli-stream-", dir=args.workdir))
    try:
        import convcli

        print(f"convcli {convcli.__version__}, numpy {np.__version__}, h5py {h5py.__version__}, "
              f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; work folder {work}")
        peak_rss(work, args.input_gb)
        compare(work)
        if not args.no_sweep:
            sweep(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
