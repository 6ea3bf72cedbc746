"""Benchmark of the mean-field-theory geometry at the paper's sizes (not a test).

Synthetic data with a DNN-like structure, N = 4096 neurons, float32 (as the workflow's
datasets), analysed with the method the workflow uses for manifolds (``method: auto`` →
``smooth``, n_t = 1000, κ = 0):

* ``1d``: P = 128 smooth 1-d arcs (:func:`make_arcs`, the idea of ``bench_capacity.make_arcs``)
  at M = 15, 51, 201;
* ``2d``: P = 64 smooth 2-d sheets (:func:`make_sheets`) at M = 201, 801, 3201 (the input alone
  is 64 × 3201 × 4096 × 4 B = 3.4 GB at M = 3201).

Each size runs in its own process (its peak RSS is its own); BLAS pinned to one thread (the
analysis pins it itself). ``--jobs 2`` spreads the objects over two worker processes (the
analysis's ``jobs``); CPU time then includes the workers', and the peak memory of the whole
(``peak_pss_mb``: the process and its workers, shared pages counted once, sampled every
0.2 s by ``bench_capacity.MemorySampler``) is reported beside the process's own peak RSS. Usage::

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python bench/bench_geometry_paper.py \
        [--size 1d:15 --size 2d:3201 ...] [--seed 0] [--n-t 1000] [--jobs 2]

Prints one line per size and a JSON line prefixed ``RESULT``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np
from bench_capacity import MemorySampler  # the same PSS sampler as the capacity benchmark

SIZES = ["1d:15", "1d:51", "1d:201", "2d:201", "2d:801", "2d:3201"]


def _centres(rng, n_neurons: int, n_objects: int, n_common: int) -> np.ndarray:
    """(N, P) centres sharing ``n_common`` random directions plus an individual part."""
    scale = 1.0 / np.sqrt(n_neurons)
    common = rng.standard_normal((n_neurons, n_common)) * scale
    centres = common @ (0.8 * rng.standard_normal((n_common, n_objects)))
    return centres + rng.standard_normal((n_neurons, n_objects)) * scale


def make_arcs(
    n_objects: int = 128,
    n_samples: int = 15,
    n_neurons: int = 4096,
    *,
    seed: int = 0,
    radius: float = 1.8,
    n_common: int = 6,
) -> np.ndarray:
    """Smooth 1-d arcs around correlated centres, rectified (float32, shape (N, M, P)).

    Object μ traces ``x(θ) = relu(c_μ + Σ_j a_{μj} φ_j(θ) + b)`` over ``θ ∈ [-1, 1]`` (M evenly
    spaced values) with the four profiles ``θ, θ² − 1/3, sin πθ, cos πθ`` of amplitudes
    ``radius · (1, 0.6, 0.4, 0.25)`` (random axes ``a`` of norm ≈ amplitude); the centres share a
    rank-``n_common`` component; ``b = 0.5/√N``.
    """
    theta = np.linspace(-1.0, 1.0, n_samples)
    profiles = np.stack([theta, theta**2 - 1 / 3, np.sin(np.pi * theta), np.cos(np.pi * theta)])
    amps = radius * np.array([1.0, 0.6, 0.4, 0.25])
    return _build(profiles, amps, n_objects, n_neurons, seed, n_common)


def make_sheets(
    n_objects: int = 64,
    n_samples: int = 201,
    n_neurons: int = 4096,
    *,
    seed: int = 0,
    radius: float = 1.8,
    n_common: int = 6,
) -> np.ndarray:
    """The 2-d analogue of :func:`make_arcs`: smooth sheets (float32, shape (N, M, P)).

    M parameter pairs ``(θ₁, θ₂)`` on a Fibonacci lattice of ``[-1, 1]²`` (deterministic, even
    cover); eight smooth profiles ``θ₁, θ₂, θ₁² − 1/3, θ₂² − 1/3, θ₁θ₂, sin πθ₁, sin πθ₂,
    cos πθ₁ cos πθ₂`` with amplitudes ``radius · (1, 1, 0.6, 0.6, 0.5, 0.4, 0.4, 0.25)``.
    """
    j = np.arange(n_samples)
    golden = (np.sqrt(5.0) - 1.0) / 2.0
    t1 = 2.0 * ((j + 0.5) / n_samples) - 1.0
    t2 = 2.0 * ((j * golden) % 1.0) - 1.0
    profiles = np.stack(
        [
            t1,
            t2,
            t1**2 - 1 / 3,
            t2**2 - 1 / 3,
            t1 * t2,
            np.sin(np.pi * t1),
            np.sin(np.pi * t2),
            np.cos(np.pi * t1) * np.cos(np.pi * t2),
        ]
    )
    amps = radius * np.array([1.0, 1.0, 0.6, 0.6, 0.5, 0.4, 0.4, 0.25])
    return _build(profiles, amps, n_objects, n_neurons, seed, n_common)


def _build(profiles, amps, n_objects, n_neurons, seed, n_common) -> np.ndarray:
    """Objects one at a time into a float32 (N, M, P) array (no float64 copy of the whole)."""
    rng = np.random.default_rng(seed)
    scale = 1.0 / np.sqrt(n_neurons)
    centres = _centres(rng, n_neurons, n_objects, n_common)
    out = np.empty((n_neurons, profiles.shape[1], n_objects), dtype=np.float32)
    for p in range(n_objects):
        axes = rng.standard_normal((n_neurons, len(amps))) * (scale * amps)
        x = centres[:, p : p + 1] + axes @ profiles + 0.5 * scale
        out[:, :, p] = np.maximum(x, 0.0)
    return out


def run_size(size: str, seed: int, n_t: int | None, options: dict) -> dict:
    """Generate one size's data and time the geometry on it (this process)."""
    from dnn_manifolds.analysis.geometry import manifold_geometry

    kind, m = size.split(":")
    m = int(m)
    x = make_arcs(128, m) if kind == "1d" else make_sheets(64, m)
    rss_data = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    t0, c0, k0 = time.perf_counter(), time.process_time(), os.times()
    with MemorySampler(period=0.2) as peak:
        res = manifold_geometry(x, method="smooth", n_t=n_t, kappa=0.0, rng=seed, **options)
    wall, cpu, k1 = time.perf_counter() - t0, time.process_time() - c0, os.times()
    cpu_workers = (k1.children_user - k0.children_user) + (k1.children_system - k0.children_system)
    return {
        "size": size,
        "P": x.shape[2],
        "M": m,
        "N": x.shape[0],
        "n_t": res.n_t,
        "seed": seed,
        "options": options,
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu + cpu_workers, 2),
        "cpu_workers_s": round(cpu_workers, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
        "worker_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0, 1),
        "peak_pss_mb": round(peak.peak / 2**20, 1),
        "rss_after_data_mb": round(rss_data, 1),
        "input_mb": round(x.nbytes / 2**20, 1),
        "capacity": res.layer["capacity"],
        "capacity_direct": res.layer["capacity_direct_harmonic"],
        "radius": res.layer["radius"],
        "dimension": res.layer["dimension"],
        "centre_correlation": res.layer["centre_correlation"],
        "K": res.n_common,
        "k_tried": int(res.centres.k[-1]),
        "frame_dimension_mean": float(np.nanmean(res.objects["frame_dimension"])),
        "solver_counts": res.solver_counts,
        "loadavg": os.getloadavg(),
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--size", action="append", choices=SIZES)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-t", type=int, default=None, help="default: the method's (1000)")
    p.add_argument("--options", default="{}", help="JSON of extra geometry options")
    p.add_argument("--jobs", type=int, default=1, help="worker processes of the analysis (default 1)")
    p.add_argument("--json", action="store_true", help="(internal) run one size, print JSON")
    args = p.parse_args(argv)
    sizes = args.size or SIZES
    options = json.loads(args.options)
    if args.jobs != 1:
        options["jobs"] = args.jobs
    if args.json:
        print(json.dumps(run_size(sizes[0], args.seed, args.n_t, options)))
        return 0
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    for size in sizes:
        cmd = [sys.executable, __file__, "--json", "--size", size, "--seed", str(args.seed)]
        cmd += ["--options", args.options, "--jobs", str(args.jobs)]
        if args.n_t is not None:
            cmd += ["--n-t", str(args.n_t)]
        proc = subprocess.run(cmd, check=False, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            print(f"{size}: failed\n{proc.stderr[-2000:]}")
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        print(
            f"{size}: P={r['P']} M={r['M']} N={r['N']} n_t={r['n_t']}  wall {r['wall_s']:.1f} s  "
            f"CPU {r['cpu_s']:.1f} s  peak RSS {r['peak_rss_mb']:.0f} MiB, all processes "
            f"{r['peak_pss_mb']} MiB PSS (input "
            f"{r['input_mb']:.0f} MiB)  alpha_M={r['capacity']:.4f} R_M={r['radius']:.4f} "
            f"D_M={r['dimension']:.2f} corr={r['centre_correlation']:.4f} K={r['K']} "
            f"D_frame={r['frame_dimension_mean']:.0f} solvers={r['solver_counts']} "
            f"load={r['loadavg'][0]:.2f}",
            flush=True,
        )
        print("RESULT " + json.dumps(r), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
