"""Benchmark of the mean-field-theory geometry (not a test).

Cases
-----
a  The public reference case of the point-cloud analysis's Python port
   (``neural_manifolds_replicaMFT`` README): ``np.random.seed(0)``,
   ``X = [np.random.randn(5000, 50) for _ in range(100)]`` — P = 100 manifolds of M = 50
   Gaussian points in N = 5000 dims, analysed at κ = 0 with n_t = 200. Published result:
   α_M ≈ 0.040, R_M ≈ 1.48 (1.476), D_M ≈ 36.17, K = 1, centre correlation ≈ 0.014.
b  P = 50, M = 100, N = 5000 with a shared rank-3 centre structure:
   ``np.random.seed(1); U = np.random.randn(5000, 3); L = 0.3 * np.random.randn(3, 50);
   X = [np.random.randn(5000, 100) + (U @ L[:, i])[:, None] for i in range(50)]``.
c  P = 20, M = 50, N = 2000 with a shared rank-3 centre structure (the smaller case measured
   against the published point-cloud code): ``np.random.seed(1); U = np.random.randn(2000, 3);
   L = 0.3 * np.random.randn(3, 20);
   X = [np.random.randn(2000, 50) + (U @ L[:, i])[:, None] for i in range(20)]``.

Each case runs in its own process (so that the peak RSS is the case's own), with BLAS pinned to
one thread. Usage::

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python bench/bench_geometry.py [--case a|b|c] \
        [--method point_cloud|smooth] [--seeds 0 1 2] [--n-t 200]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

REFERENCE_A = {
    "capacity": 0.040,
    "radius": 1.476,
    "dimension": 36.16,
    "centre_correlation": 0.014,
    "K": 1,
}


def make_case(case: str):
    import numpy as np

    if case == "a":
        np.random.seed(0)
        return [np.random.randn(5000, 50) for _ in range(100)]
    if case == "b":
        np.random.seed(1)
        U = np.random.randn(5000, 3)
        L = 0.3 * np.random.randn(3, 50)
        return [np.random.randn(5000, 100) + (U @ L[:, i])[:, None] for i in range(50)]
    if case == "c":
        np.random.seed(1)
        U = np.random.randn(2000, 3)
        L = 0.3 * np.random.randn(3, 20)
        return [np.random.randn(2000, 50) + (U @ L[:, i])[:, None] for i in range(20)]
    raise ValueError(f"case must be 'a', 'b' or 'c'; got {case!r}")


def run_case(case: str, method: str, seeds: list[int], n_t: int) -> dict:
    from dnn_manifolds.analysis.geometry import manifold_geometry

    X = make_case(case)
    rows = []
    for seed in seeds:
        t0, c0 = time.perf_counter(), time.process_time()
        res = manifold_geometry(X, method=method, n_t=n_t, kappa=0.0, rng=seed)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        rows.append(
            {
                "seed": seed,
                "wall_s": round(wall, 3),
                "cpu_s": round(cpu, 3),
                "capacity": res.layer["capacity"],
                "capacity_direct": res.layer["capacity_direct_harmonic"],
                "capacity_semianalytic": res.layer["capacity_semianalytic_harmonic"],
                "capacity_ball": res.layer["capacity_ball_harmonic"],
                "radius": res.layer["radius"],
                "dimension": res.layer["dimension"],
                "centre_correlation": res.layer["centre_correlation"],
                "K": res.n_common,
                "k_tried": int(res.centres.k[-1]),
                "stiefel_iters": res.centres.stiefel_n_iter.tolist(),
                "solver_counts": res.solver_counts,
            }
        )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    data_mb = sum(x.nbytes for x in X) / 2**20
    return {
        "case": case,
        "method": method,
        "n_t": n_t,
        "rows": rows,
        "peak_rss_mb": round(peak_mb, 1),
        "input_mb": round(data_mb, 1),
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--case", choices=["a", "b", "c"], action="append")
    p.add_argument("--method", default="point_cloud", choices=["point_cloud", "smooth"])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--n-t", type=int, default=200)
    p.add_argument("--json", action="store_true", help="(internal) run one case, print JSON")
    args = p.parse_args(argv)
    cases = args.case or ["a", "b", "c"]
    if args.json:
        print(json.dumps(run_case(cases[0], args.method, args.seeds, args.n_t)))
        return 0
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    for case in cases:
        cmd = [
            sys.executable,
            __file__,
            "--json",
            "--case",
            case,
            "--method",
            args.method,
            "--n-t",
            str(args.n_t),
            "--seeds",
            *map(str, args.seeds),
        ]
        out = json.loads(
            subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
        )
        print(
            f"case {case}  method={out['method']}  n_t={out['n_t']}  input {out['input_mb']} MiB  "
            f"peak RSS {out['peak_rss_mb']} MiB"
        )
        if case == "a":
            print(f"  reference (point-cloud Python port): {REFERENCE_A}")
        for r in out["rows"]:
            print(
                f"  seed {r['seed']}: wall {r['wall_s']:.2f} s, CPU {r['cpu_s']:.2f} s  alpha_M={r['capacity']:.4f} "
                f"(direct {r['capacity_direct']:.4f}, semi-analytic {r['capacity_semianalytic']:.4f}, "
                f"ball {r['capacity_ball']:.4f})  R_M={r['radius']:.4f}  D_M={r['dimension']:.2f}  "
                f"centre corr={r['centre_correlation']:.4f}  K={r['K']} (k<= {r['k_tried']})  "
                f"solvers={r['solver_counts']}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
