#!/usr/bin/env python
"""convcli benchmark suite (issue 4): convcli's fast engine against PyTorch CPU.

Run it as ``make bench``, which runs::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python benchmarks/run.py

It prints one table (case, dtype, convcli time, PyTorch time, ratio, % of GEMM,
peak memory), the fast-vs-reference engine speed-up, then every target with
its measured value and PASS/MISS, and writes the same as JSON
(``benchmarks/results/latest.json`` unless ``--json-out``). PyTorch is
optional: without it convcli's own figures are printed and the comparison is
reported as skipped. See benchmarks/README.md for what each column means.

On Linux the script first starts itself again with glibc's malloc told to
keep freed memory (``MALLOC_ENV``; ``--default-malloc`` skips that), so that
neither library pays page faults on fresh memory at every call, which made
PyTorch's times depend on the order of the cases.

Timing: ``time.perf_counter``; each function is warmed up, then convcli and
PyTorch are timed in alternating rounds in the same process (the order flips
every round) and the *minimum* over all repeats is reported for each side; the
median is kept in the JSON. Inputs are prepared outside the timed region on
both sides (NHWC arrays for convcli, NCHW contiguous tensors for PyTorch, the
upstream gradient of ones included), so each side is timed on its compute only.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import fnmatch
import gc
import hashlib
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
# Benchmark the checkout this script lives in, whatever is installed.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

import convcli  # noqa: E402
from convcli import conv_backward, conv_forward, pool_backward, pool_forward  # noqa: E402

ENGINE_SOURCES = ("conv.py", "pool.py", "hparams.py")


def source_hashes() -> dict:
    """sha256 (12 hex digits) of the engine files as imported by this run."""
    out = {}
    pkg = Path(convcli.__file__).resolve().parent
    for name in ENGINE_SOURCES:
        try:
            out[name] = hashlib.sha256((pkg / name).read_bytes()).hexdigest()[:12]
        except OSError:
            out[name] = None
    return out


# Taken right after the import: the files may be edited while the run goes on.
_IMPORTED_SOURCES = source_hashes()

DEFAULT_JSON = ROOT / "benchmarks" / "results" / "latest.json"
SCHEMA = 1
GEMM_N = 2048
DTYPES = ("float64", "float32")
ENV_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
# glibc malloc settings the script runs itself under (it starts again with them
# set, unless --default-malloc or either is set already): freed memory stays in
# the process instead of going back to the kernel, so neither library pays
# first-touch page faults on every call. With glibc's defaults, every buffer
# above 32 MiB, and a smaller one unless larger frees made earlier in the
# process raised glibc's thresholds, is returned, and PyTorch's times moved
# with the order of the cases: PyTorch alone in a fresh process, defaults vs
# these settings, float64 m64 61.9 vs 28.7 ms, m32 35.5 vs 11.5 ms, float32
# m64 8.4 vs 6.0 ms (12,500-113,000 page faults per call under the defaults).
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": str(1 << 30), "MALLOC_TRIM_THRESHOLD_": str(1 << 30)}
OTHER_ENV_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                  "OPENBLAS_VERBOSE", "GOTO_NUM_THREADS")


# ----------------------------------------------------------------- cases


@dataclass(frozen=True)
class ConvCase:
    """A conv layer: A_prev (m, hw, hw, c_prev), W (f, f, c_prev, c)."""

    m: int
    hw: int
    c_prev: int
    f: int
    c: int
    stride: int
    pad: int

    @property
    def name(self) -> str:
        return (f"conv-m{self.m}-h{self.hw}-c{self.c_prev}-f{self.f}-k{self.c}"
                f"-s{self.stride}-p{self.pad}")

    @property
    def n_out(self) -> int:
        return (self.hw + 2 * self.pad - self.f) // self.stride + 1

    @property
    def flops_forward(self) -> int:
        """2*m*n_H*n_W*C*f*f*C_prev: one multiply and one add per weight use."""
        return 2 * self.m * self.n_out ** 2 * self.c * self.f * self.f * self.c_prev

    def shape(self) -> dict:
        return dict(m=self.m, H=self.hw, W=self.hw, C_prev=self.c_prev, f=self.f,
                    C=self.c, stride=self.stride, pad=self.pad)


@dataclass(frozen=True)
class PoolCase:
    """A pool layer: A_prev (m, hw, hw, c), window f, stride; max's tie rule."""

    mode: str
    m: int
    hw: int
    c: int
    f: int
    stride: int
    ties: str = "all"

    @property
    def name(self) -> str:
        tie = "" if self.ties == "all" else f"-{self.ties}"
        return f"pool-{self.mode}-m{self.m}-h{self.hw}-c{self.c}-f{self.f}-s{self.stride}{tie}"

    @property
    def n_out(self) -> int:
        return (self.hw - self.f) // self.stride + 1

    def shape(self) -> dict:
        return dict(m=self.m, H=self.hw, W=self.hw, C=self.c, f=self.f,
                    stride=self.stride, mode=self.mode, ties=self.ties)


# (m, H=W, C_prev, f, C, stride, pad), from issue 4.
CONV_CASES = [
    ConvCase(64, 32, 16, 3, 32, 1, 1),
    ConvCase(16, 56, 64, 3, 64, 1, 1),
    ConvCase(32, 64, 3, 4, 8, 1, 2),
]
# --more: common layers beyond the issue's, timed the same way, with no
# target: what a tuning for the three shapes above does to other layers
# (attempt 57 gained 2-4% there and lost up to 15% on layers like these).
MORE_CONV_CASES = [
    ConvCase(64, 28, 1, 3, 16, 1, 1),     # grayscale images (one input channel)
    ConvCase(32, 28, 32, 3, 64, 1, 1),
    ConvCase(8, 112, 32, 3, 32, 1, 1),    # large images, bands of rows
    ConvCase(64, 16, 64, 3, 128, 1, 1),   # wide output
    ConvCase(32, 14, 256, 3, 256, 1, 1),  # deep, small images
    ConvCase(16, 56, 64, 1, 64, 1, 0),    # 1x1
    ConvCase(32, 56, 64, 3, 128, 2, 1),   # stride 2 (input gradient by col2im)
    ConvCase(32, 32, 32, 5, 32, 1, 2),    # 5x5
    ConvCase(16, 112, 3, 7, 64, 2, 3),    # a ResNet stem: 7x7 stride 2 on RGB
    ConvCase(64, 14, 6, 5, 16, 1, 0),     # LeNet's second layer: valid, 5.2 times wider by positions
]
# The conv case whose forward must reach GEMM_TARGET of the GEMM rate.
GEMM_CASE = ConvCase(16, 56, 64, 3, 64, 1, 1)
POOL_CASES = [
    PoolCase(mode, 64, 32, 32, f, s)
    for f, s in ((2, 2), (3, 1))
    for mode in ("max", "average")
]
# --more: pools beyond the issue's. f 3 stride 2 overlaps at a stride (AlexNet,
# ResNet, Inception); ties: first is what matching PyTorch's max_pool2d takes
# (on these tie-free inputs, the same numbers as ties: all).
MORE_POOL_CASES = [
    PoolCase("max", 64, 32, 32, 3, 2),
    PoolCase("average", 64, 32, 32, 3, 2),
    PoolCase("max", 64, 32, 32, 3, 1, "first"),
    PoolCase("max", 64, 32, 32, 2, 2, "first"),
]
# fast vs reference engine (forward + backward, float64).
ENGINE_CASE = ConvCase(4, 12, 3, 3, 8, 1, 1)

# Targets. Ratios are convcli time / PyTorch time (lower is better).
CONV_RATIO_TARGET = {"float64": 0.5, "float32": 1.0}
POOL_RATIO_TARGET = 1.0
GEMM_TARGET = 50.0  # % of the same-dtype GEMM FLOP rate, conv forward
ENGINE_TARGET = 1000.0  # reference time / fast time
PEAK_TARGET = 2.0  # peak traced bytes / bytes of inputs, outputs and gradients


# ----------------------------------------------------------------- timing


@dataclass
class Timing:
    samples: list[float]

    @property
    def best(self) -> float:
        return min(self.samples)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    def as_json(self) -> dict:
        return {"min_s": self.best, "median_s": self.median, "n": len(self.samples),
                "samples_s": [round(x, 7) for x in self.samples]}


@dataclass(frozen=True)
class Plan:
    """How hard to time: ``rounds`` alternating rounds, in each round enough
    calls of every function to spend about ``budget / rounds`` seconds on it
    (at least one, at most ``max_per_round``). ``settle``: seconds to sleep
    whenever the timing switches between NumPy and PyTorch (see
    :func:`time_interleaved`)."""

    rounds: int
    budget: float
    max_per_round: int
    settle: float = 0.2

    @classmethod
    def full(cls) -> "Plan":
        return cls(rounds=8, budget=1.5, max_per_round=40)

    @classmethod
    def quick(cls) -> "Plan":
        return cls(rounds=2, budget=0.2, max_per_round=5)


def _call_time(fn: Callable) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _library(name: str) -> str:
    return "torch" if name.startswith("torch") else "numpy"


def time_interleaved(fns: dict[str, Callable], plan: Plan) -> dict[str, Timing]:
    """Time every function in ``fns`` in alternating rounds; return all samples.

    Each function is called twice first (warm-up: first-touch page faults,
    BLAS thread start-up, lazy initialisation). The order of the functions
    flips every round so that neither side always runs first.

    Whenever the next block of calls belongs to the other library (a name
    starting with ``torch`` is PyTorch, anything else NumPy), the loop sleeps
    ``plan.settle`` seconds first: after a call, OpenBLAS's idle worker keeps
    spinning on a core for ~0.1 s (and OpenMP's for a few ms), and on a
    2-core machine a PyTorch call made during that time runs on one core
    (measured: 40 ms instead of 3 ms for a pool backward). Users don't
    alternate libraries call by call; a benchmark must not either.
    """
    names = list(fns)
    last_lib = None

    def settle(name):
        nonlocal last_lib
        if last_lib is not None and _library(name) != last_lib:
            time.sleep(plan.settle)
        last_lib = _library(name)

    per_round = {}
    for name in names:
        settle(name)
        fns[name]()
        warm = _call_time(fns[name])
        per_round[name] = max(1, min(plan.max_per_round,
                                     math.ceil(plan.budget / plan.rounds / max(warm, 1e-7))))
    samples: dict[str, list[float]] = {name: [] for name in fns}
    gc_was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        for r in range(plan.rounds):
            for name in (names if r % 2 == 0 else names[::-1]):
                settle(name)
                fn = fns[name]
                for _ in range(per_round[name]):
                    samples[name].append(_call_time(fn))
    finally:
        if gc_was_enabled:
            gc.enable()
    return {name: Timing(s) for name, s in samples.items()}


class OtherLoad:
    """CPU time used by *other* processes while a row is measured, in CPUs
    (0.0 = the machine was ours; 1.0 = one core's worth went elsewhere). On a
    shared machine this says which rows to distrust. Needs psutil; without it
    the figure is None."""

    def __init__(self):
        try:
            import psutil
        except ImportError:
            psutil = None
        self._psutil = psutil
        self._start = None

    def _sample(self):
        ps = self._psutil
        cpu = ps.cpu_times()
        # On Linux guest time is already inside user/nice: leave it out.
        busy = sum(getattr(cpu, f, 0.0) for f in
                   ("user", "nice", "system", "irq", "softirq", "steal"))
        own = ps.Process().cpu_times()
        return time.perf_counter(), busy, own.user + own.system

    def __enter__(self):
        if self._psutil is not None:
            self._start = self._sample()
        return self

    def __exit__(self, *exc):
        if self._psutil is not None:
            self._end = self._sample()

    @property
    def cpus(self) -> float | None:
        if self._psutil is None or self._start is None:
            return None
        (t0, b0, o0), (t1, b1, o1) = self._start, self._end
        return max(0.0, ((b1 - b0) - (o1 - o0)) / max(t1 - t0, 1e-9))


def peak_traced(fn: Callable):
    """Peak bytes allocated while ``fn`` runs (tracemalloc; NumPy reports its
    array buffers to it), not counting anything allocated before. Returns
    ``(peak_bytes, fn())``."""
    gc.collect()
    tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        result = fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - base, result


def nbytes(*arrays) -> int:
    return int(sum(np.asarray(a).nbytes for a in arrays))


# ----------------------------------------------------------------- environment


def blas_info() -> dict:
    """NumPy's BLAS as threadpoolctl sees it. Call before importing torch, whose
    own OpenMP/BLAS libraries would otherwise show up too."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return {"library": "unknown (threadpoolctl not installed)", "threads": os.cpu_count() or 1,
                "architecture": "unknown", "version": None, "threading_layer": None,
                "filepath": None}
    numpy_dir = Path(np.__file__).resolve().parent.parent
    blas = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    # Prefer the library NumPy ships (numpy.libs/...) over any other on the path.
    blas.sort(key=lambda i: not str(i.get("filepath", "")).startswith(str(numpy_dir)))
    if not blas:
        return {"library": "none found", "threads": 1, "architecture": "unknown",
                "version": None, "threading_layer": None, "filepath": None}
    i = blas[0]
    return {
        "library": i.get("internal_api"),
        "prefix": i.get("prefix"),
        "version": i.get("version"),
        "architecture": i.get("architecture", "n/a"),
        "threads": int(i.get("num_threads") or 1),
        "threading_layer": i.get("threading_layer"),
        "filepath": i.get("filepath"),
    }


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_caches() -> dict:
    """Data and unified cache sizes per level as Linux reports them for CPU 0
    (``/sys/devices/system/cpu/cpu0/cache``), e.g. ``{"L1d": "48K", "L2":
    "2048K", "L3": "491520K"}``; empty elsewhere. The engine's block sizes
    were tuned on one machine: these say how another's caches compare."""
    out = {}
    for index in sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
        try:
            kind = (index / "type").read_text().strip()
            level = (index / "level").read_text().strip()
            size = (index / "size").read_text().strip()
        except OSError:
            continue
        if kind != "Instruction":
            out[f"L{level}" + ("d" if kind == "Data" else "")] = size
    return out


def git_state() -> dict:
    def git(*args):
        try:
            out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                                 timeout=10)
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    dirty = git("status", "--porcelain", "--untracked-files=no", "--", "convcli")
    return {"commit": git("rev-parse", "--short", "HEAD"),
            "convcli_dirty": None if dirty is None else bool(dirty),
            # The engine may be edited between runs without a commit: the
            # hashes say whether two runs measured the same code.
            "sources": _IMPORTED_SOURCES}



def load_torch(disabled: bool):
    """``(torch, None)`` or ``(None, reason)``."""
    if disabled:
        return None, "--no-torch given"
    try:
        import torch
        import torch.nn.functional  # noqa: F401
    except ImportError as exc:
        return None, f"PyTorch not installed ({exc})"
    return torch, None


def collect_header(blas: dict, torch, torch_reason) -> dict:
    env = {k: os.environ.get(k) for k in ENV_VARS}
    header = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cpu_caches": cpu_caches(),
        "logical_cpus": os.cpu_count(),
        "loadavg_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "numpy": np.__version__,
        "convcli": convcli.__version__,
        "git": git_state(),
        "blas": blas,
        "env": env,
        "env_other": {k: os.environ[k] for k in OTHER_ENV_VARS if k in os.environ},
        "malloc": {k: os.environ.get(k) for k in MALLOC_ENV},
        "torch": torch.__version__ if torch is not None else None,
        "torch_skipped": torch_reason,
    }
    if torch is not None:
        header["torch_threads"] = torch.get_num_threads()
        header["torch_backends"] = {
            "mkl": bool(torch.backends.mkl.is_available()),
            "mkldnn": bool(torch.backends.mkldnn.is_available()),
        }
    return header


# ----------------------------------------------------------------- measurements


def _rel_err(a, b) -> float:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30))


def _tolerance(dtype: str) -> float:
    return 1e-9 if dtype == "float64" else 1e-4


def conv_arrays(case: ConvCase, dtype: str):
    """A case's inputs (seeded), hyperparameters and upstream gradient of ones."""
    rng = np.random.default_rng(0)
    A = rng.standard_normal((case.m, case.hw, case.hw, case.c_prev)).astype(dtype)
    W = rng.standard_normal((case.f, case.f, case.c_prev, case.c)).astype(dtype)
    b = rng.standard_normal((1, 1, 1, case.c)).astype(dtype)
    hp = {"stride": case.stride, "pad": case.pad}
    dZ = np.ones((case.m, case.n_out, case.n_out, case.c), dtype=dtype)
    return A, W, b, hp, dZ


def measure_conv(case: ConvCase, dtype: str, plan: Plan, torch=None) -> dict:
    """convcli conv forward+backward (and forward alone) against PyTorch."""
    A, W, b, hp, dZ = conv_arrays(case, dtype)

    def convcli_step():
        Z, cache = conv_forward(A, W, b, hp)
        return (Z,) + conv_backward(dZ, cache)

    def convcli_forward():
        return conv_forward(A, W, b, hp)

    fns = {"convcli": convcli_step, "convcli_forward": convcli_forward,
           "gemm": gemm_step(dtype)}
    check = None
    if torch is not None:
        F = torch.nn.functional
        x = torch.from_numpy(np.ascontiguousarray(A.transpose(0, 3, 1, 2))).requires_grad_()
        w = torch.from_numpy(np.ascontiguousarray(W.transpose(3, 2, 0, 1))).requires_grad_()
        bias = torch.from_numpy(b.reshape(-1).copy()).requires_grad_()
        gout = torch.ones((case.m, case.c, case.n_out, case.n_out), dtype=x.dtype)

        def torch_step():
            x.grad = w.grad = bias.grad = None
            y = F.conv2d(x, w, bias, stride=case.stride, padding=case.pad)
            y.backward(gout)
            return y

        fns["torch"] = torch_step
        # Both sides compute the same thing (a broken engine is not fast).
        Z, dA, dW, db = convcli_step()
        y = torch_step()
        errs = {
            "Z": _rel_err(Z, y.detach().numpy().transpose(0, 2, 3, 1)),
            "dA_prev": _rel_err(dA, x.grad.numpy().transpose(0, 2, 3, 1)),
            "dW": _rel_err(dW, w.grad.numpy().transpose(2, 3, 1, 0)),
            "db": _rel_err(db.reshape(-1), bias.grad.numpy()),
        }
        check = {"max_rel_err": max(errs.values()), "per_quantity": errs,
                 "ok": max(errs.values()) <= _tolerance(dtype)}

    times = time_interleaved(fns, plan)
    peak, (Z, dA, dW, db) = peak_traced(convcli_step)
    io = nbytes(A, W, b, Z, dZ, dA, dW, db)
    t_fwd = times["convcli_forward"].best
    gemm = gemm_gflops(times["gemm"].best)
    row = {
        "case": case.name,
        "kind": "conv",
        "dtype": dtype,
        "shape": case.shape(),
        "flops_forward": case.flops_forward,
        "convcli": times["convcli"].as_json(),
        "convcli_forward": times["convcli_forward"].as_json(),
        "torch": times["torch"].as_json() if "torch" in times else None,
        "convcli_s": times["convcli"].best,
        "convcli_forward_s": t_fwd,
        "forward_gflops": case.flops_forward / t_fwd / 1e9,
        "gemm": dict(times["gemm"].as_json(), n=GEMM_N, gflops=gemm),
        "torch_s": times["torch"].best if "torch" in times else None,
        "ratio": times["convcli"].best / times["torch"].best if "torch" in times else None,
        "pct_gemm": 100.0 * case.flops_forward / t_fwd / 1e9 / gemm,
        # The forward, the weight gradient and the input gradient each make
        # the same multiply-adds: at the row's GEMM rate they take this long.
        "gemm_bound_s": 3 * case.flops_forward / (gemm * 1e9),
        "peak_bytes": peak,
        "io_bytes": io,
        "peak_ratio": peak / io,
        "check": check,
    }
    return row


def measure_pool(case: PoolCase, dtype: str, plan: Plan, torch=None) -> dict:
    """convcli pool forward+backward against PyTorch max_pool2d/avg_pool2d."""
    rng = np.random.default_rng(0)
    A = rng.standard_normal((case.m, case.hw, case.hw, case.c)).astype(dtype)
    hp = {"f": case.f, "stride": case.stride, "ties": case.ties}
    dA = np.ones((case.m, case.n_out, case.n_out, case.c), dtype=dtype)

    def convcli_step():
        out, cache = pool_forward(A, hp, mode=case.mode)
        return out, pool_backward(dA, cache, mode=case.mode)

    fns = {"convcli": convcli_step}
    check = None
    if torch is not None:
        F = torch.nn.functional
        pool = F.max_pool2d if case.mode == "max" else F.avg_pool2d
        x = torch.from_numpy(np.ascontiguousarray(A.transpose(0, 3, 1, 2))).requires_grad_()
        gout = torch.ones((case.m, case.c, case.n_out, case.n_out), dtype=x.dtype)

        def torch_step():
            x.grad = None
            y = pool(x, case.f, case.stride)
            y.backward(gout)
            return y

        fns["torch"] = torch_step
        out, dA_prev = convcli_step()
        y = torch_step()
        errs = {
            "A": _rel_err(out, y.detach().numpy().transpose(0, 2, 3, 1)),
            "dA_prev": _rel_err(dA_prev, x.grad.numpy().transpose(0, 2, 3, 1)),
        }
        check = {"max_rel_err": max(errs.values()), "per_quantity": errs,
                 "ok": max(errs.values()) <= _tolerance(dtype)}

    times = time_interleaved(fns, plan)
    peak, (out, dA_prev) = peak_traced(convcli_step)
    io = nbytes(A, out, dA, dA_prev)
    return {
        "case": case.name,
        "kind": "pool",
        "dtype": dtype,
        "shape": case.shape(),
        "convcli": times["convcli"].as_json(),
        "torch": times["torch"].as_json() if "torch" in times else None,
        "convcli_s": times["convcli"].best,
        "torch_s": times["torch"].best if "torch" in times else None,
        "ratio": times["convcli"].best / times["torch"].best if "torch" in times else None,
        "pct_gemm": None,
        "gemm_bound_s": None,
        "peak_bytes": peak,
        "io_bytes": io,
        "peak_ratio": peak / io,
        "check": check,
    }


def measure_engines(case: ConvCase, dtype: str, plan: Plan) -> dict:
    """Fast vs reference engine, forward + backward, timed side by side in
    the same alternating rounds (:func:`time_interleaved`): the reference,
    slow, takes a few calls a round (3 in a full run), the fast engine its
    many. Both sides' minimum over the same stretch of time, so that
    neither catches a quieter moment of the machine than the other (two
    reference calls timed apart from the fast engine's rounds moved the
    speed-up by 2x between runs: 82.67-179.61 ms for the reference,
    attempt 116)."""
    A, W, b, hp, dZ = conv_arrays(case, dtype)

    def step(engine):
        Z, cache = conv_forward(A, W, b, hp, engine=engine)
        return (Z,) + conv_backward(dZ, cache)

    times = time_interleaved({"fast": lambda: step("fast"), "reference": lambda: step("reference")}, plan)
    fast, ref = times["fast"], times["reference"]
    ref_out = step("reference")
    errs = {k: _rel_err(f, r) for k, f, r in zip(("Z", "dA_prev", "dW", "db"), step("fast"), ref_out)}
    return {
        "case": "engine-" + case.name.removeprefix("conv-"),
        "kind": "engine",
        "dtype": dtype,
        "shape": case.shape(),
        "fast": fast.as_json(),
        "reference": ref.as_json(),
        "fast_s": fast.best,
        "reference_s": ref.best,
        "speedup": ref.best / fast.best,
        "check": {"max_rel_err": max(errs.values()), "per_quantity": errs,
                  "ok": max(errs.values()) <= _tolerance(dtype)},
    }


_GEMM_OPERANDS: dict[str, tuple] = {}


def gemm_step(dtype: str, n: int | None = None) -> Callable:
    """``n x n @ n x n`` through NumPy's BLAS (2*n**3 FLOPs): the rate a conv
    forward is compared with. Timed inside every conv case's rounds, so that
    the "% of GEMM" ratio is side by side like the PyTorch one (on a shared
    machine the GEMM rate itself swings by 2x from one second to the next)."""
    n = n or GEMM_N
    if dtype not in _GEMM_OPERANDS or _GEMM_OPERANDS[dtype][0].shape[0] != n:
        rng = np.random.default_rng(1)
        _GEMM_OPERANDS[dtype] = (rng.standard_normal((n, n)).astype(dtype),
                                 rng.standard_normal((n, n)).astype(dtype),
                                 np.empty((n, n), dtype=dtype))
    a, b_, c = _GEMM_OPERANDS[dtype]
    return lambda: np.matmul(a, b_, out=c)


def gemm_gflops(seconds: float, n: int | None = None) -> float:
    return 2 * (n or GEMM_N) ** 3 / seconds / 1e9


# ----------------------------------------------------------------- targets


def _target(name, row, metric, value, op, limit, skip_reason=None) -> dict:
    if value is None:
        status = "SKIP"
    else:
        status = "PASS" if (value <= limit if op == "<=" else value >= limit) else "MISS"
    return {"target": name, "case": row["case"], "dtype": row["dtype"], "metric": metric,
            "value": value, "op": op, "limit": limit, "status": status,
            "reason": skip_reason if value is None else None}


def _conv_ratio_target(name, row, limit, skip_reason) -> dict:
    """A conv row's ratio target, with the time its limit allows
    (``limit_s``) and whether that is below the time the layer's
    multiply-adds take at the row's own rate of NumPy's 2048 GEMM
    (``below_gemm_bound``): then an im2col + GEMM engine on NumPy's BLAS
    cannot meet it on this machine."""
    t = _target(name, row, "ratio", row["ratio"], "<=", limit, skip_reason)
    t["limit_s"] = None if row["torch_s"] is None else limit * row["torch_s"]
    t["gemm_bound_s"] = row["gemm_bound_s"]
    t["below_gemm_bound"] = None if t["limit_s"] is None else t["limit_s"] < row["gemm_bound_s"]
    return t


def evaluate_targets(rows: list[dict], torch_reason) -> list[dict]:
    targets = []
    for row in rows:
        if row["kind"] == "conv":
            limit = CONV_RATIO_TARGET[row["dtype"]]
            targets.append(_conv_ratio_target(f"conv fwd+bwd <= {limit}x PyTorch", row, limit, torch_reason))
        if row["kind"] == "pool":
            targets.append(_target(f"pool fwd+bwd <= {POOL_RATIO_TARGET}x PyTorch", row,
                                   "ratio", row["ratio"], "<=", POOL_RATIO_TARGET, torch_reason))
    for row in rows:
        if row["kind"] == "conv" and row["case"] == GEMM_CASE.name:
            targets.append(_target(f"conv fwd >= {GEMM_TARGET:g}% of GEMM", row, "pct_gemm",
                                   row["pct_gemm"], ">=", GEMM_TARGET))
    for row in rows:
        if row["kind"] == "engine":
            targets.append(_target(f"fast >= {ENGINE_TARGET:g}x reference", row, "speedup",
                                   row["speedup"], ">=", ENGINE_TARGET))
    for row in rows:
        if row["kind"] in ("conv", "pool"):
            targets.append(_target(f"peak memory <= {PEAK_TARGET:g}x io", row, "peak_ratio",
                                   row["peak_ratio"], "<=", PEAK_TARGET))
    return targets


# ----------------------------------------------------------------- output


def _fmt_time(s) -> str:
    if s is None:
        return "-"
    if s >= 1:
        return f"{s:.3f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.2f} ms"
    return f"{s * 1e6:.1f} us"


def _fmt_value(metric, v) -> str:
    if v is None:
        return "-"
    if metric == "pct_gemm":
        return f"{v:.1f}%"
    if metric == "speedup":
        return f"{v:,.0f}x"
    return f"{v:.2f}x"


def header_lines(h: dict, plan: Plan, quick: bool) -> list[str]:
    blas = h["blas"]
    env = ", ".join(f"{k}={'unset' if v is None else repr(v)}" for k, v in h["env"].items())
    lines = [
        f"convcli {h['convcli']} (git {h['git']['commit'] or '?'}"
        + (", convcli/ has uncommitted changes" if h["git"]["convcli_dirty"] else "")
        + f")  numpy {h['numpy']}  torch {h['torch'] or 'not used'}  python {h['python']}",
        "engine sources: " + ", ".join(f"{k} {v}" for k, v in h["git"]["sources"].items()),
        f"CPU: {h['cpu']}, {h['logical_cpus']} logical CPUs"
        + (" (caches: " + ", ".join(f"{k} {v}" for k, v in h["cpu_caches"].items()) + ")"
           if h.get("cpu_caches") else "")
        + ", load average at start "
        + (", ".join(f"{x:.2f}" for x in h["loadavg_at_start"]) if h["loadavg_at_start"] else "?"),
        f"BLAS (NumPy): {blas['library']} {blas.get('version') or ''} kernel "
        f"{blas['architecture']}, {blas['threads']} threads"
        + (f" ({blas['threading_layer']})" if blas.get("threading_layer") else ""),
        f"PyTorch threads: {h.get('torch_threads', '-')} (set to NumPy's BLAS threads)"
        if h["torch"] else f"PyTorch comparison skipped: {h['torch_skipped']}",
        f"Environment: {env}"
        + (f"; also set: {h['env_other']}" if h["env_other"] else ""),
        f"Timing: perf_counter, warm-up, {plan.rounds} alternating rounds, minimum over all "
        f"repeats reported (median in the JSON){'; --quick' if quick else ''}",
    ]
    malloc = h.get("malloc") or {}
    if all(malloc.get(k) == v for k, v in MALLOC_ENV.items()):
        lines.append("malloc: " + ", ".join(f"{k}={v}" for k, v in MALLOC_ENV.items())
                     + " (glibc then keeps freed memory in the process, so neither side pays "
                     "page faults on fresh memory at every call)")
    else:
        found = ", ".join(f"{k}={v}" for k, v in malloc.items() if v is not None) or "glibc's defaults"
        lines.append(f"malloc: as found ({found}); with glibc's defaults PyTorch's times "
                     "depend on the order of the cases (benchmarks/README.md)")
    if any(v is not None for v in h["env"].values()):
        lines.append("WARNING: OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE are set; users' machines "
                     "don't set them. Run `make bench` for representative numbers.")
    return lines


def table_rows(rows: list[dict]) -> list[list[str]]:
    out = []
    for r in rows:
        if r["kind"] == "engine":
            continue
        note = ""
        if r.get("check") and not r["check"]["ok"]:
            note = f" (!) results differ from PyTorch: {r['check']['max_rel_err']:.1e}"
        out.append([
            r["case"] + note,
            r["dtype"],
            _fmt_time(r["convcli_s"]),
            _fmt_time(r["torch_s"]),
            _fmt_value("ratio", r["ratio"]),
            _fmt_value("pct_gemm", r["pct_gemm"]),
            _fmt_time(r.get("gemm_bound_s")),
            f"{r['peak_ratio']:.2f}x ({r['peak_bytes'] / 2**20:.1f} MiB)",
            _fmt_load(r.get("other_load_cpus")),
        ])
    return out


def _fmt_load(cpus) -> str:
    if cpus is None:
        return "?"
    return f"{cpus:.2f}" + (" (!)" if cpus > NOISY_LOAD else "")


# Rows during which other processes used more CPU than this are flagged.
NOISY_LOAD = 0.25
COLUMNS = ["case", "dtype", "convcli", "PyTorch", "ratio", "% of GEMM", "at GEMM rate", "peak memory",
           "other load"]


def _plain_table(title: str, columns: list[str], rows: list[list[str]], right=()) -> str:
    widths = [max(len(c), *(len(r[i]) for r in rows)) if rows else len(c)
              for i, c in enumerate(columns)]
    fmt = "  ".join(("{:>%d}" if i in right else "{:<%d}") % w for i, w in enumerate(widths))
    lines = [title, fmt.format(*columns), "  ".join("-" * w for w in widths)]
    lines += [fmt.format(*r) for r in rows]
    return "\n".join(lines)


class Printer:
    def __init__(self, plain: bool):
        self.console = None
        if not plain:
            try:
                from rich.console import Console
            except ImportError:
                pass
            else:
                width = None if sys.stdout.isatty() else 140
                self.console = Console(width=width, highlight=False)

    def text(self, s: str = ""):
        if self.console is not None:
            self.console.print(s, markup=False)
        else:
            print(s)

    def table(self, title: str, columns: list[str], rows: list[list[str]], right=()):
        if self.console is None:
            print(_plain_table(title, columns, rows, right))
            return
        from rich.table import Table

        t = Table(title=title, title_justify="left")
        for i, c in enumerate(columns):
            t.add_column(c, justify="right" if i in right else "left", no_wrap=True)
        for r in rows:
            t.add_row(*r)
        self.console.print(t)


def print_report(p: Printer, result: dict, plan: Plan, quick: bool):
    h = result["header"]
    for line in header_lines(h, plan, quick):
        p.text(line)
    if result["gemm"]:
        p.text("GEMM (NumPy matmul %dx%d), best in the run: " % (GEMM_N, GEMM_N) + ", ".join(
            f"{dt} {g['gflops']:.1f} GFLOP/s ({_fmt_time(g['min_s'])})"
            for dt, g in result["gemm"].items()))
    p.text()
    rows = table_rows([r for r in result["rows"] if not r["kind"].endswith("-more")])
    if rows:
        p.table("forward + backward, upstream gradient of ones", COLUMNS, rows,
                right=(2, 3, 4, 5, 6, 7, 8))
    more = table_rows([r for r in result["rows"] if r["kind"].endswith("-more")])
    if more:
        p.table("more layers (--more; no targets): forward + backward, upstream gradient of ones", COLUMNS, more,
                right=(2, 3, 4, 5, 6, 7, 8))
    engine = [r for r in result["rows"] if r["kind"] == "engine"]
    if engine:
        p.table("fast vs reference engine (conv forward + backward)",
                ["case", "dtype", "fast", "reference", "speed-up", "other load"],
                [[r["case"], r["dtype"], _fmt_time(r["fast_s"]), _fmt_time(r["reference_s"]),
                  _fmt_value("speedup", r["speedup"]), _fmt_load(r.get("other_load_cpus"))]
                 for r in engine], right=(2, 3, 4, 5))
    noisy = [r for r in result["rows"] if (r.get("other_load_cpus") or 0) > NOISY_LOAD]
    if noisy:
        p.text(f"(!) {len(noisy)} row(s) ran while other processes used more than "
               f"{NOISY_LOAD} CPU on average; their times may be pessimistic. Re-run them "
               "with --only when the machine is quiet.")
    if not h["torch"]:
        p.text(f"PyTorch comparison skipped: {h['torch_skipped']}")
    p.text()
    print_targets(p, result)


def print_targets(p: Printer, result: dict):
    targets = result["targets"]
    p.table("targets", ["target", "case", "dtype", "measured", "status"],
            [[t["target"], t["case"], t["dtype"], _fmt_value(t["metric"], t["value"]),
              t["status"] + (f" ({t['reason']})" if t["reason"] else "")
              + (" *" if t.get("below_gemm_bound") else "")] for t in targets],
            right=(3,))
    below = [t for t in targets if t.get("below_gemm_bound")]
    if below:
        p.text("* the limit is below the time the layer's multiply-adds take at this run's rate of NumPy's "
               "2048 GEMM (column 'at GEMM rate'): " + "; ".join(
                   f"{t['case']} {t['dtype']} {_fmt_time(t['limit_s'])} against {_fmt_time(t['gemm_bound_s'])}"
                   for t in below)
               + ". An im2col + GEMM engine on NumPy's BLAS cannot meet it on this machine.")
    s = result["summary"]
    p.text(f"{s['pass']} of {s['total']} targets met, {s['miss']} missed, {s['skip']} skipped.")


# ----------------------------------------------------------------- main


def _selected(name: str, patterns: list[str] | None) -> bool:
    if not patterns:
        return True
    for pat in patterns:
        if any(ch in pat for ch in "*?["):
            if fnmatch.fnmatch(name, pat):
                return True
        elif pat in name:
            return True
    return False


def parse_args(argv=None):
    ap = argparse.ArgumentParser(
        allow_abbrev=False,  # the restart (_malloc_env_or_reexec) reads the options as spelt
        description="Benchmark convcli's fast engine against PyTorch CPU (issue 4).")
    ap.add_argument("--quick", action="store_true",
                    help="fewer repeats, for a fast look (numbers are noisier)")
    ap.add_argument("--only", action="append", metavar="PATTERN",
                    help="run only the rows whose 'case/dtype' contains PATTERN (or matches "
                         "it as a glob if it has * ? [); repeatable, comma-separated allowed. "
                         "Examples: --only conv-m16  --only float32  --only 'pool-max-*'")
    ap.add_argument("--json-out", type=Path, default=DEFAULT_JSON, metavar="PATH",
                    help=f"where to write the JSON (default {DEFAULT_JSON.relative_to(ROOT)})")
    ap.add_argument("--no-torch", action="store_true",
                    help="skip the PyTorch comparison even if torch is installed")
    ap.add_argument("--plain", action="store_true", help="plain-text tables, no rich")
    ap.add_argument("--strict", action="store_true",
                    help="exit 1 if any target is missed (default: always exit 0)")
    ap.add_argument("--list", action="store_true", help="list the rows and exit")
    ap.add_argument("--more", action="store_true",
                    help="also time nine common conv layers and four pool layers beyond the issue's "
                         "(no targets; about 4 more minutes)")
    ap.add_argument("--default-malloc", action="store_true",
                    help="keep glibc's default malloc settings (the script otherwise runs itself "
                         "again with freed memory kept in the process; see benchmarks/README.md)")
    args = ap.parse_args(argv)
    if args.only:
        args.only = [p.strip() for item in args.only for p in item.split(",") if p.strip()]
    return args


def planned_rows(only, more: bool = False) -> list[tuple[str, object, str]]:
    """(kind, case, dtype) for every selected row, in table order; with
    ``more``, MORE_CONV_CASES and MORE_POOL_CASES at the end (kinds
    "conv-more", "pool-more")."""
    rows = []
    for dtype in DTYPES:
        rows += [("conv", c, dtype) for c in CONV_CASES]
    for dtype in DTYPES:
        rows += [("pool", c, dtype) for c in POOL_CASES]
    rows.append(("engine", ENGINE_CASE, "float64"))
    if more:
        for dtype in DTYPES:
            rows += [("conv-more", c, dtype) for c in MORE_CONV_CASES if c not in CONV_CASES]
        for dtype in DTYPES:
            rows += [("pool-more", c, dtype) for c in MORE_POOL_CASES if c not in POOL_CASES]

    def label(kind, case, dtype):
        name = case.name if kind != "engine" else "engine-" + case.name.removeprefix("conv-")
        return f"{name}/{dtype}"

    return [(k, c, d) for k, c, d in rows if _selected(label(k, c, d), only)]


def run(args) -> dict:
    plan = Plan.quick() if args.quick else Plan.full()
    todo = planned_rows(args.only, args.more)
    blas = blas_info()  # before torch is imported
    torch, torch_reason = load_torch(args.no_torch)
    if torch is not None:
        torch.set_num_threads(blas["threads"])
    header = collect_header(blas, torch, torch_reason)
    log = (lambda s: print(s, file=sys.stderr, flush=True))

    rows = []
    for kind, case, dtype in todo:
        log(f"[bench] {kind} {case.name} {dtype}")
        with OtherLoad() as load:
            if kind in ("conv", "conv-more"):
                row = measure_conv(case, dtype, plan, torch)
                row["kind"] = kind
            elif kind in ("pool", "pool-more"):
                row = measure_pool(case, dtype, plan, torch)
                row["kind"] = kind
            else:
                row = measure_engines(case, dtype, plan)
        row["other_load_cpus"] = load.cpus
        rows.append(row)
    _GEMM_OPERANDS.clear()

    # The best GEMM rate seen in the run, per dtype (for the header only; each
    # conv row's % of GEMM uses the GEMM timed in its own rounds).
    gemm = {}
    for row in rows:
        if row["kind"] in ("conv", "conv-more"):
            g = row["gemm"]
            if row["dtype"] not in gemm or g["gflops"] > gemm[row["dtype"]]["gflops"]:
                gemm[row["dtype"]] = {"n": GEMM_N, "min_s": g["min_s"], "gflops": g["gflops"]}

    skip_reason = None if torch is not None else f"PyTorch comparison skipped: {torch_reason}"
    targets = evaluate_targets(rows, skip_reason)
    summary = {s.lower(): sum(t["status"] == s for t in targets) for s in ("PASS", "MISS", "SKIP")}
    summary["total"] = len(targets)
    return {
        "schema": SCHEMA,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "argv": sys.argv[1:],
        "settings": {"quick": bool(args.quick), "only": args.only, "statistic": "min",
                     "rounds": plan.rounds, "budget_s_per_side": plan.budget,
                     "settle_s": plan.settle},
        "header": header,
        "gemm": gemm,
        "rows": rows,
        "targets": targets,
        "summary": summary,
    }


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.list:
        for kind, case, dtype in planned_rows(args.only, args.more):
            name = case.name if kind != "engine" else "engine-" + case.name.removeprefix("conv-")
            print(f"{name}/{dtype}")
        return 0
    if not planned_rows(args.only, args.more):
        print(f"run.py: error: --only {args.only} matches no case (see --list)", file=sys.stderr)
        return 2
    plan = Plan.quick() if args.quick else Plan.full()
    result = run(args)
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps(result, indent=2) + "\n")
    print_report(Printer(args.plain), result, plan, args.quick)
    print(f"JSON written to {args.json_out}")
    return 1 if args.strict and result["summary"]["miss"] else 0


def _malloc_env_or_reexec(argv: list[str]) -> None:
    """Start this script again, with the interpreter's own options, and with
    MALLOC_ENV set (glibc reads these variables once, when the process
    starts). Not when --default-malloc or --list is given, when either
    variable is set already (the user's choice, or this is the restarted
    script), or off Linux."""
    if (not sys.platform.startswith("linux") or "--default-malloc" in argv or "--list" in argv
            or any(k in os.environ for k in MALLOC_ENV)):
        return
    env = {**os.environ, **MALLOC_ENV}
    sys.stdout.flush()
    try:
        os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], env)
    except OSError as exc:
        print(f"run.py: could not restart with {' '.join(MALLOC_ENV)} set ({exc}); "
              "running with malloc as found", file=sys.stderr)


if __name__ == "__main__":
    _malloc_env_or_reexec(sys.argv[1:])
    sys.exit(main())
