"""Independent blocks of layer work on every core BLAS would use.

NumPy runs its element-wise copies and reductions on one core; only BLAS
calls are multi-threaded. The fast engines cut each pass into blocks of
samples that share nothing but read-only inputs, so the blocks can run on
threads (NumPy releases the GIL inside its loops). During such a region BLAS
is held to one thread, so that the cores are shared by blocks, not
oversubscribed; it is restored afterwards.

The number of threads is the number BLAS itself uses (``OMP_NUM_THREADS``,
``OPENBLAS_NUM_THREADS`` and threadpoolctl limits apply), or
``CONVCLI_THREADS`` when set. Work is split into contiguous groups of blocks
in a fixed order and results are combined in that order, so a run gives the
same numbers every time. Not to the last bit when the caller's own threads
run layers at the same time: the BLAS limit is process-wide, so a product
outside the region may run on one thread while it holds, and a region that
finds another running runs its groups serially (the same groups, the same
sums); a BLAS product can round differently on another number of threads
(measured: 3e-15 relative in float64, 6e-7 in float32).
"""

from __future__ import annotations

import contextvars
import os
import threading
from concurrent.futures import ThreadPoolExecutor

_lock = threading.Lock()  # one parallel region at a time; others run serially
_state: dict = {}


def _after_fork_in_child() -> None:
    """A forked child (multiprocessing's default start on Linux, a grader's
    Pool) inherits the pool's bookkeeping but none of its threads: work
    submitted to it would wait forever. The child makes its own pool when it
    first needs one, and its own lock (a region running in another thread of
    the parent at the fork would have left this one held for good)."""
    global _lock
    _lock = threading.Lock()
    _state.pop("pool", None)
    limiter = _state.pop("limiter", None)  # a region was running: BLAS was held to one thread
    threads = _state.pop("blas_threads", None)  # ... or about to be, or just had been
    try:
        if limiter is not None:
            limiter.restore_original_limits()
        elif threads is not None:  # forked while the limit was being set, before the limiter was kept
            _blas().limit(limits=threads)
    except Exception:  # noqa: BLE001  a child that cannot change them keeps one thread: slower, not wrong
        pass


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _blas():
    """threadpoolctl's view of the BLAS libraries NumPy loaded (made once)."""
    if "blas" not in _state:
        from threadpoolctl import ThreadpoolController

        _state["blas"] = ThreadpoolController().select(user_api="blas")
    return _state["blas"]


# OpenBLAS cores whose GEMM has small-matrix kernels, which skip packing for
# products up to 100^3 (x86-64 with AVX-512). What counts is the core
# OpenBLAS picks for the CPU (AVX-512 ones, whatever their maker, get
# SkylakeX's), or the one OPENBLAS_CORETYPE forces: with the others (Haswell,
# Zen, ...) a small product goes through the packing path like a large one.
SMALL_KERNEL_CORES = frozenset({"skylakex", "cooperlake", "sapphirerapids"})


def _numpy_blas() -> list:
    """threadpoolctl's controllers of the BLAS NumPy uses: the ones shipped
    inside NumPy's own wheel (numpy.libs/), else every BLAS loaded (a NumPy
    linked against a system BLAS: then normally the only one)."""
    import numpy as np

    libs = _blas().lib_controllers
    site = os.path.dirname(os.path.dirname(os.path.abspath(np.__file__)))
    own = [lib for lib in libs
           if os.path.relpath(os.path.abspath(getattr(lib, "filepath", "") or "/"), site)
           .split(os.sep)[0].startswith("numpy")]
    return own or libs


def blas_small_kernels() -> bool:
    """Whether NumPy's BLAS (:func:`_numpy_blas`) is an OpenBLAS running one
    of SMALL_KERNEL_CORES' kernels; False for any other BLAS (MKL, BLIS, an
    OpenBLAS on another core, no architecture reported). Fixed for the life
    of the process (the core is chosen when OpenBLAS loads), so asked once."""
    if "small" not in _state:
        _state["small"] = any(
            getattr(lib, "internal_api", "") == "openblas"
            and str(getattr(lib, "architecture", "") or "").lower() in SMALL_KERNEL_CORES
            for lib in _numpy_blas())
    return _state["small"]


def _env_threads() -> int | None:
    """``CONVCLI_THREADS`` if set: a whole number >= 1."""
    env = os.environ.get("CONVCLI_THREADS", "").strip()
    if not env:
        return None
    if not env.isdigit() or int(env) < 1:
        raise ValueError(f"CONVCLI_THREADS: expected a whole number >= 1, got {env!r}")
    return int(env)


def _blas_threads() -> int:
    """How many threads BLAS itself uses."""
    counts = [lib.num_threads for lib in _blas().lib_controllers]
    return max(counts) if counts else 1


def describe() -> dict:
    """The threads a run ran on, for its summary: the engine's
    (:func:`threads`), BLAS's own, and which BLAS NumPy uses (name,
    version, the kernels it chose). A run on another setting or machine may
    round products otherwise (see the module's docstring)."""
    libs = _numpy_blas()
    blas = [" ".join(str(x) for x in (getattr(lib, "internal_api", None), getattr(lib, "version", None),
                                      getattr(lib, "architecture", None)) if x)
            for lib in libs]
    return {"engine": threads(), "blas": _blas_threads(), "blas_library": ", ".join(blas) or None}


def threads() -> int:
    """How many threads the engines may use."""
    env = _env_threads()
    return _blas_threads() if env is None else env


def _pool(n: int) -> ThreadPoolExecutor:
    pool = _state.get("pool")
    if pool is None or pool._max_workers < n:  # grows if the limit was raised
        if pool is not None:
            pool.shutdown(wait=False)  # its idle threads end (and free their buffers)
        pool = _state["pool"] = ThreadPoolExecutor(n, thread_name_prefix="convcli")
    return pool


def split(items: list, parts: int) -> list[list]:
    """``items`` cut into ``parts`` contiguous runs of near-equal length."""
    parts = max(1, min(parts, len(items)))
    q, r = divmod(len(items), parts)
    out, start = [], 0
    for k in range(parts):
        stop = start + q + (k < r)
        out.append(items[start:stop])
        start = stop
    return out


def sample_runs(m: int, step: int) -> list[tuple[int, int]]:
    """``m`` samples in runs ``(n0, n1)`` of at most ``step`` (>= 1) each,
    for :func:`map_blocks`: as many runs as a multiple of the threads they
    run on (:func:`threads_for` of their count), or one a sample where there
    are too few samples for that; their edges at the nearest sample to equal
    shares, so that every thread gets as many samples within one (runs of
    ``step`` and a last one of the rest, shared out by count, gave m32's
    conv passes 18 and 14 of 32 samples: benchmarks/README.md, attempt 81).
    None empty."""
    return even_runs(m, sample_run_count(m, step))


def sample_run_count(m: int, step: int) -> int:
    """How many runs :func:`sample_runs` makes (without making them)."""
    count = rounded = -(-m // step)  # count >= m / step: no run above step
    while True:  # more runs may run on more threads: until the count is a multiple of its own
        n = threads_for(rounded)
        rounded = min(m, n * -(-count // n))
        if threads_for(rounded) == n:
            return rounded


def even_runs(n: int, parts: int) -> list[tuple[int, int]]:
    """``range(n)`` in ``parts`` contiguous runs ``(a, b)``, their edges at
    the nearest whole number to equal shares: runs one longer than others
    spread out instead of coming first (as :func:`split`'s do), so that
    consecutive runs shared out by count stay even."""
    edges = [(k * n + parts // 2) // parts for k in range(parts + 1)]
    return list(zip(edges, edges[1:]))


def in_region() -> bool:
    """Whether a parallel region is running (in this thread or another), and
    so BLAS is held to one thread: a BLAS call then runs on its caller's
    thread alone (but for the moments the region takes to set the limit
    and to lift it, inside its lock: a call then may run threaded, which
    costs time, never correctness)."""
    return _lock.locked()


def threads_for(n_blocks: int, min_blocks_per_thread: int = 2) -> int:
    """How many threads :func:`map_blocks` runs ``n_blocks`` blocks on: one
    when there are fewer than ``min_blocks_per_thread`` per thread."""
    most = n_blocks // max(min_blocks_per_thread, 1)
    if most > 1:
        return min(threads(), most)
    _env_threads()  # a bad CONVCLI_THREADS is an error on every run, not only large ones
    return 1


def map_blocks(fn, blocks: list, min_blocks_per_thread: int = 2, one_blas_thread: bool = False) -> list:
    """``[fn(group) for group in split(blocks, n)]``, the groups on n threads.

    Runs serially when there is too little work to share (fewer than
    ``min_blocks_per_thread`` blocks per thread) or when one thread is
    configured; when another parallel region is already running, runs the
    same groups serially. BLAS is held to one thread while the groups run
    on threads, and with ``one_blas_thread`` while they run serially too
    (BLAS rounds a product otherwise on more threads: a caller that wants
    the same bits whatever the threads asks for that).
    """
    n = threads_for(len(blocks), min_blocks_per_thread)
    if n <= 1 and not (one_blas_thread and _blas_threads() > 1):
        return [fn(blocks)]
    groups = split(blocks, n)
    if not _lock.acquire(blocking=False):
        # Another region is running (a caller's own thread): these groups run
        # here one after the other, the same groups as on threads, so that
        # results combined per group come out the same bits either way.
        return [fn(group) for group in groups]
    try:
        _state["blas_threads"] = _blas_threads()  # for a child forked before the limiter is kept
        with _blas().limit(limits=1) as limiter:
            _state["limiter"] = limiter  # for a child forked meanwhile (_after_fork_in_child)
            # Each worker runs in a copy of the caller's context, so settings
            # such as np.errstate (a context variable) hold in every block.
            futures = [_pool(n - 1).submit(contextvars.copy_context().run, fn, group)
                       for group in groups[1:]]
            first = fn(groups[0])
            return [first] + [f.result() for f in futures]
    finally:
        _state.pop("limiter", None)
        _state.pop("blas_threads", None)
        _lock.release()
