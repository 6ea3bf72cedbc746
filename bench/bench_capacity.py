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

Prints the figures and one JSON line (prefixed ``RESULT``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import time

import numpy as np
from threadpoolctl import threadpool_limits

from dnn_manifolds.analysis.capacity import lp as _lp
from dnn_manifolds.analysis import capacity as cap
from dnn_manifolds.analysis.capacity import problem as cap_problem
from dnn_manifolds.analysis.capacity.repetitions import resolve_key


def make_arcs(
    n_objects: int = 128,
    n_samples: int = 15,
    n_neurons: int = 4096,
    *,
    seed: int = 0,
    radius: float = 1.8,
    n_common: int = 6,
) -> np.ndarray:
    """Synthetic DNN-like manifolds: smooth 1-d arcs, correlated centres, rectified.

    Centres share ``n_common`` random directions (correlated centres) plus an individual part;
    each object traces a smooth curve ``c + Σ_j a_j φ_j(θ)`` over ``θ ∈ [-1, 1]`` with four
    smooth profiles of decreasing amplitude (overall scale ``radius`` relative to the centre
    norm); a ReLU with a positive offset gives sparse non-negative "activations".

    Returns
    -------
    ndarray of shape (n_neurons, n_samples, n_objects)
    """
    rng = np.random.default_rng(seed)
    scale = 1.0 / np.sqrt(n_neurons)
    common = rng.standard_normal((n_neurons, n_common)) * scale
    centres = common @ (0.8 * rng.standard_normal((n_common, n_objects)))
    centres += rng.standard_normal((n_neurons, n_objects)) * scale
    theta = np.linspace(-1.0, 1.0, n_samples)
    profiles = np.stack(
        [theta, theta**2 - 1 / 3, np.sin(np.pi * theta), np.cos(np.pi * theta)]
    )  # (4, M)
    amps = radius * np.array([1.0, 0.6, 0.4, 0.25])
    axes = rng.standard_normal((n_neurons, 4, n_objects)) * scale * amps[None, :, None]
    x = centres[:, None, :] + np.einsum("nkp,km->nmp", axes, profiles)
    return np.maximum(x + 0.5 * scale, 0.0)


def _cpu_seconds() -> float:
    """User + system CPU seconds of this process and its finished children (the workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--nested", action="store_true", help="nested projections + shortcut")
    parser.add_argument(
        "--n-reference",
        type=int,
        default=12,
        help="sampled decisions re-solved by the reference QP",
    )
    parser.add_argument("--radius", type=float, default=1.8)
    args = parser.parse_args()

    x = make_arcs(seed=args.seed, radius=args.radius)
    print(
        f"data: N={x.shape[0]} M={x.shape[1]} P={x.shape[2]}; jobs={args.jobs} "
        f"nested={args.nested}; cpus={os.cpu_count()} {platform.processor() or ''}"
    )
    t0 = time.perf_counter()
    cpu0 = _cpu_seconds()
    res = cap.critical_capacity(x, rng=args.seed, jobs=args.jobs, nested=args.nested)
    t_fast = time.perf_counter() - t0
    cpu_fast = _cpu_seconds() - cpu0
    load = os.getloadavg()[0]
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
    print(f"  {len(res.n_features)} n tested, {n_decisions} decisions, statuses {counts}")

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
    opts = cap.CapacityOptions(nested=args.nested)
    problem = cap_problem.prepare(x, resolve_key(args.seed), opts)
    agree = 0
    t_ref, t_lp = [], []
    with threadpool_limits(limits=1):
        for j in picks:
            n, r, o = lp_decisions[j]
            feats, y_obj, _ = cap_problem._features(problem, n, r)
            y = y_obj[problem.obj_index]
            t = time.perf_counter()
            fast = _lp.lp_separability(feats, y)
            t_lp.append(time.perf_counter() - t)
            t = time.perf_counter()
            ref = _lp.qp_separability(feats, y)
            t_ref.append(time.perf_counter() - t)
            same = ref.separable is not None and bool(ref.separable) == bool(o) == fast.separable
            agree += same
            print(
                f"  n={n:4d} rep={r:3d}: search {bool(o)!s:5}  LP {fast.separable!s:5} "
                f"({t_lp[-1]*1e3:6.0f} ms)  reference {ref.separable!s:5} "
                f"({t_ref[-1]:5.2f} s, {ref.message})  {'ok' if same else 'MISMATCH'}"
            )
    ref_per = float(np.mean(t_ref))
    ref_total = ref_per * n_decisions
    summary = {
        "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "jobs": args.jobs,
        "nested": args.nested,
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
    print(f"speed-up (extrapolated reference / measured fast path): {ref_total / t_fast:.0f}x")
    print("RESULT " + json.dumps(summary, sort_keys=True))


if __name__ == "__main__":
    main()
