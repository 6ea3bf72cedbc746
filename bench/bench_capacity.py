"""Benchmark of the direct-capacity N_c search at the paper's size (not a test).

One (layer, transform) job: P = 128 objects, M = 15 samples, N = 4096 neurons of synthetic data
with a DNN-like structure (smooth 1-d arcs around centres that share a low-rank common
component, then rectified). The fast path (certified dense LP) runs the full N_c search; the
reference (the original's hard-margin QP in cvxpy, solved by Clarabel, one problem per decision)
would take hours, so it is run on an evenly spaced sample of the fast path's LP decisions with
the *same* projections and labels: every sampled decision must agree, and the reference's time
per decision is extrapolated to the whole search (every decision of the search, shortcuts
included, since the plain reference has no shortcut).

Reproduce (from the repository root)::

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python bench/bench_capacity.py --jobs 2
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python bench/bench_capacity.py --jobs 2 --nested

The paper's sizes with the workflow's options (``config/paper.yaml``: cutting plane, 100 samples
per object), float32 data as the datasets store them::

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python bench/bench_capacity.py --jobs 2 \
        --kind 1d --objects 128 --samples 201 --cutting-plane --dtype float32
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python bench/bench_capacity.py --jobs 2 \
        --kind 2d --objects 64 --samples 3201 --cutting-plane --dtype float32

``--kind 2d`` uses smooth 2-d sheets (:func:`make_sheets`); the data are generated block by
block of neurons straight into one array of the requested dtype (3.4 GB at P = 64, M = 3201,
N = 4096 in float32), so the benchmark never holds the input twice. With ``--cutting-plane`` the
reference is the original's algorithm, the cutting plane over samples with the hard-margin QP
(cvxpy + Clarabel) on each working set, on the same materialised features. Peak memory: the
largest resident set of this process and of any worker (``getrusage``), and the peak of the sum
of the proportional set sizes of this process and its workers (shared pages counted once),
sampled every second during the search.

Prints the figures and one JSON line (prefixed ``RESULT``).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import platform
import resource
import threading
import time

import numpy as np
from threadpoolctl import threadpool_limits

from dnn_manifolds.analysis import capacity as cap
from dnn_manifolds.analysis.capacity import api as cap_api
from dnn_manifolds.analysis.capacity import lp as _lp
from dnn_manifolds.analysis.capacity import problem as cap_problem


def make_arcs(
    n_objects: int = 128,
    n_samples: int = 15,
    n_neurons: int = 4096,
    *,
    seed: int = 0,
    radius: float = 1.8,
    n_common: int = 6,
    dtype=np.float64,
) -> np.ndarray:
    """Synthetic DNN-like manifolds: smooth 1-d arcs, correlated centres, rectified.

    Centres share ``n_common`` random directions (correlated centres) plus an individual part;
    each object traces a smooth curve ``c + Σ_j a_j φ_j(θ)`` over ``θ ∈ [-1, 1]`` with four
    smooth profiles of decreasing amplitude (overall scale ``radius`` relative to the centre
    norm); a ReLU with a positive offset gives sparse non-negative "activations".

    Returns
    -------
    ndarray of shape (n_neurons, n_samples, n_objects), of ``dtype``
    """
    theta = np.linspace(-1.0, 1.0, n_samples)
    profiles = np.stack(
        [theta, theta**2 - 1 / 3, np.sin(np.pi * theta), np.cos(np.pi * theta)]
    )  # (4, M)
    amps = radius * np.array([1.0, 0.6, 0.4, 0.25])
    return _rectified_manifolds(
        profiles, amps, n_objects, n_neurons, seed, n_common, dtype
    )


def make_sheets(
    n_objects: int = 64,
    n_samples: int = 201,
    n_neurons: int = 4096,
    *,
    seed: int = 0,
    radius: float = 1.8,
    n_common: int = 6,
    dtype=np.float64,
) -> np.ndarray:
    """Synthetic DNN-like 2-d manifolds: smooth sheets, correlated centres, rectified.

    The 2-d analogue of :func:`make_arcs`: each object is a smooth surface
    ``c + Σ_j a_j φ_j(u, v)`` over ``M`` parameter points ``(u, v)`` of a rank-1 lattice that
    covers ``[-1, 1]²`` evenly (``u_m = 2(m + ½)/M − 1``, ``v_m = 2 frac(m φ) − 1``, φ the golden
    ratio), with eight smooth profiles (``u, v, u² − ⅓, v² − ⅓, uv, sin πu, sin πv, cos πu cos πv``)
    of decreasing amplitude, then the same ReLU with a positive offset.
    """
    m = np.arange(n_samples)
    u = 2.0 * (m + 0.5) / n_samples - 1.0
    v = 2.0 * np.mod(m * (np.sqrt(5.0) - 1.0) / 2.0, 1.0) - 1.0
    profiles = np.stack(
        [
            u,
            v,
            u**2 - 1 / 3,
            v**2 - 1 / 3,
            u * v,
            np.sin(np.pi * u),
            np.sin(np.pi * v),
            np.cos(np.pi * u) * np.cos(np.pi * v),
        ]
    )  # (8, M)
    amps = radius * np.array([1.0, 1.0, 0.6, 0.6, 0.5, 0.4, 0.4, 0.25])
    return _rectified_manifolds(
        profiles, amps, n_objects, n_neurons, seed, n_common, dtype
    )


def _rectified_manifolds(profiles, amps, n_objects, n_neurons, seed, n_common, dtype):
    """``max(c_p + Σ_j a_{jp} φ_j + offset, 0)`` of shape (N, M, P), written block by block of
    neurons into one array of ``dtype`` (float64 temporaries of one block only)."""
    rng = np.random.default_rng(seed)
    scale = 1.0 / np.sqrt(n_neurons)
    common = rng.standard_normal((n_neurons, n_common)) * scale
    centres = common @ (0.8 * rng.standard_normal((n_common, n_objects)))
    centres += rng.standard_normal((n_neurons, n_objects)) * scale
    n_prof, n_samples = profiles.shape
    axes = (
        rng.standard_normal((n_neurons, n_prof, n_objects))
        * scale
        * amps[None, :, None]
    )
    x = np.empty((n_neurons, n_samples, n_objects), dtype=dtype)
    step = max(1, (1 << 23) // (n_samples * n_objects))
    for i in range(0, n_neurons, step):
        blk = centres[i : i + step, None, :] + np.einsum(
            "nkp,km->nmp", axes[i : i + step], profiles
        )
        x[i : i + step] = np.maximum(blk + 0.5 * scale, 0.0)
    return x


def _cpu_seconds() -> float:
    """User + system CPU seconds of this process and its finished children (the workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


class MemorySampler:
    """Peak of the summed proportional set size (PSS) of this process and its children."""

    def __init__(self, period: float = 1.0):
        import psutil

        self.proc = psutil.Process()
        self.period = period
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        import psutil

        total = 0
        for p in [self.proc, *self.proc.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):  # a worker that just ended
                total += p.memory_full_info().pss
        self.peak = max(self.peak, total)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.period)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._sample()


def _maxrss_mb() -> tuple[float, float]:
    """Largest resident set (MB) of this process and of any finished child (Linux: KiB)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, kids


def _materialise(problem, n: int, rep: int):
    """All features of repetition ``rep`` at ``n``, object-major, as the lazy cutting plane
    defines them (``Z`` as drawn, times the basis, in float64; block by block of samples), with
    its labels and stream: what the reference decides on."""
    z, y_obj, rng = cap_problem._draw(problem, n, rep)
    order = (
        problem.order
        if problem.order is not None
        else np.arange(problem.obj_index.size)
    )
    z = None if z is None else z.astype(np.float64)
    feats = np.empty((problem.rank if z is None else n, order.size))
    for start in range(0, order.size, 4096):
        cols = np.asarray(
            problem.basis[:, order[start : start + 4096]], dtype=np.float64
        )
        feats[:, start : start + cols.shape[1]] = cols if z is None else z @ cols
    return feats, y_obj, rng


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--nested", action="store_true", help="nested projections + shortcut"
    )
    parser.add_argument(
        "--n-reference",
        type=int,
        default=12,
        help="sampled decisions re-solved by the reference QP",
    )
    parser.add_argument("--radius", type=float, default=1.8)
    parser.add_argument(
        "--kind", choices=("1d", "2d"), default="1d", help="arcs or sheets"
    )
    parser.add_argument(
        "--objects", type=int, default=None, help="P (default 128 for 1d, 64 for 2d)"
    )
    parser.add_argument("--samples", type=int, default=15, help="M")
    parser.add_argument("--neurons", type=int, default=4096, help="N")
    parser.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    parser.add_argument(
        "--cutting-plane", action="store_true", help="as config/paper.yaml"
    )
    parser.add_argument("--max-samples", type=int, default=100)
    args = parser.parse_args()

    n_objects = args.objects or (128 if args.kind == "1d" else 64)
    make = make_arcs if args.kind == "1d" else make_sheets
    load0 = os.getloadavg()
    t_gen = time.perf_counter()
    x = make(
        n_objects,
        args.samples,
        args.neurons,
        seed=args.seed,
        radius=args.radius,
        dtype=args.dtype,
    )
    t_gen = time.perf_counter() - t_gen
    options = {"nested": args.nested}
    if args.cutting_plane:
        options.update(cutting_plane=True, max_samples=args.max_samples)
    print(
        f"data: {args.kind} N={x.shape[0]} M={x.shape[1]} P={x.shape[2]} {x.dtype} "
        f"({x.nbytes / 2**30:.2f} GiB, generated in {t_gen:.1f} s); jobs={args.jobs} options={options}; "
        f"cpus={os.cpu_count()} {platform.processor() or ''}; load average at start {load0[0]:.1f}"
    )
    captured = {}
    prepare = cap_api.prepare

    def timed_prepare(*a, **k):
        t, c = time.perf_counter(), _cpu_seconds()
        captured["problem"] = prepare(*a, **k)
        captured["prepare_s"] = time.perf_counter() - t
        captured["prepare_cpu_s"] = _cpu_seconds() - c
        return captured["problem"]

    cap_api.prepare = timed_prepare
    t0 = time.perf_counter()
    cpu0 = _cpu_seconds()
    with MemorySampler() as mem:
        res = cap.critical_capacity(x, rng=args.seed, jobs=args.jobs, **options)
    t_fast = time.perf_counter() - t0
    cpu_fast = _cpu_seconds() - cpu0
    cap_api.prepare = prepare
    rss_self, rss_kids = _maxrss_mb()
    load = os.getloadavg()[0]
    problem = captured["problem"]
    print(
        f"  prepare {captured['prepare_s']:.1f} s (CPU {captured['prepare_cpu_s']:.1f} s); in place: "
        f"{problem.order is not None}; lazy cutting plane: {problem.lazy}; basis rank {problem.rank}; "
        f"peak memory: PSS sum {mem.peak / 2**20:.0f} MB, max RSS this process {rss_self:.0f} MB, "
        f"any worker {rss_kids:.0f} MB"
    )
    counts = dict(zip(cap.STATUSES, res.status_count.sum(axis=0).tolist()))
    n_decisions = int(res.n_attempts.sum())
    print(
        f"fast path: N_c = {res.critical_n_features:.0f}  alpha_c = {res.capacity:.4f}  "
        f"fit N_c = {res.fit.critical_n_features:.1f} "
        f"[{res.fit.ci_low:.1f}, {res.fit.ci_high:.1f}]  time {t_fast:.1f} s"
    )
    print(
        f"  CPU time (this process + workers) {cpu_fast:.1f} s; load average at the end "
        f"{load:.1f} on {os.cpu_count()} cores"
    )
    print(
        f"  {len(res.n_features)} n tested, {n_decisions} decisions, statuses {counts}"
    )

    # evenly spaced sample of the decisions that needed a solver, in probe order
    probe_order = np.argsort(res.probe_order)
    lp_decisions = []
    for i in probe_order:
        n = int(res.n_features[i])
        rep_res = res.repetitions[n]
        for r, (o, st) in enumerate(zip(rep_res.outcomes, rep_res.statuses)):
            if st != "shortcut":
                lp_decisions.append((n, r, o))
    k = min(args.n_reference, len(lp_decisions))
    picks = np.unique(np.round(np.linspace(0, len(lp_decisions) - 1, k)).astype(int))
    ref_problem = dataclasses.replace(
        problem, opts=dataclasses.replace(problem.opts, method="qp")
    )
    agree = 0
    t_ref, t_lp = [], []
    with threadpool_limits(limits=1):
        for j in picks:
            n, r, o = lp_decisions[j]
            t = time.perf_counter()
            if args.cutting_plane:  # the fast path's own decision, timed alone
                fast = cap_problem._lazy_cutting_plane(problem, n, r)
                t_lp.append(time.perf_counter() - t)
                feats, y_obj, rng = _materialise(problem, n, r)
            else:
                feats, y_obj, rng = cap_problem._features(problem, n, r)
            y = y_obj[problem.obj_index]
            if not args.cutting_plane:
                t = time.perf_counter()
                fast = _lp.lp_separability(feats, y)
                t_lp.append(time.perf_counter() - t)
            t = time.perf_counter()
            if (
                args.cutting_plane
            ):  # the original's algorithm: cutting plane with the QP
                ref = cap_problem._cutting_plane(ref_problem, feats, y, rng)
            else:
                ref = _lp.qp_separability(feats, y)
            t_ref.append(time.perf_counter() - t)
            del feats
            same = (
                ref.separable is not None
                and bool(ref.separable) == bool(o) == fast.separable
            )
            agree += same
            print(
                f"  n={n:4d} rep={r:3d}: search {bool(o)!s:5}  LP {fast.separable!s:5} "
                f"({t_lp[-1] * 1e3:6.0f} ms)  reference {ref.separable!s:5} "
                f"({t_ref[-1]:5.2f} s, {ref.message})  {'ok' if same else 'MISMATCH'}"
            )
    ref_per = float(np.mean(t_ref))
    ref_total = ref_per * n_decisions
    summary = {
        "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "jobs": args.jobs,
        "nested": args.nested,
        "kind": args.kind,
        "P": n_objects,
        "M": args.samples,
        "N": args.neurons,
        "dtype": args.dtype,
        "cutting_plane": args.cutting_plane,
        "max_samples": args.max_samples if args.cutting_plane else None,
        "in_place": problem.order is not None,
        "prepare_s": round(captured["prepare_s"], 1),
        "prepare_cpu_s": round(captured["prepare_cpu_s"], 1),
        "n_tested": len(res.n_features),
        "peak_pss_mb": round(mem.peak / 2**20),
        "maxrss_self_mb": round(rss_self),
        "maxrss_worker_mb": round(rss_kids),
        "load_average_start": round(load0[0], 1),
        "generate_s": round(t_gen, 1),
        "seed": args.seed,
        "N_c": res.critical_n_features,
        "alpha_c": res.capacity,
        "N_c_fit": res.fit.critical_n_features,
        "fast_time_s": round(t_fast, 1),
        "fast_cpu_s": round(cpu_fast, 1),
        "load_average_1min": round(load, 1),
        "decisions": n_decisions,
        "statuses": counts,
        "sampled": len(picks),
        "agree": agree,
        "lp_ms_per_decision_sampled": round(1e3 * float(np.mean(t_lp)), 1),
        "reference_s_per_decision": round(ref_per, 2),
        "reference_extrapolated_s": round(ref_total, 0),
        "speedup": round(ref_total / t_fast, 1),
    }
    print(f"agreement: {agree}/{len(picks)} sampled decisions")
    print(
        f"reference: {ref_per:.2f} s per decision x {n_decisions} decisions = "
        f"{ref_total:.0f} s ({ref_total / 3600:.2f} h) extrapolated"
    )
    print(
        f"speed-up (extrapolated reference / measured fast path): {ref_total / t_fast:.0f}x"
    )
    print("RESULT " + json.dumps(summary, sort_keys=True))


if __name__ == "__main__":
    main()
