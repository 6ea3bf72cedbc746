"""What an analysis job of the workflow costs beyond its computation (not a test).

A workflow analysis job is a fresh Python process that Snakemake starts with its script
preamble (``import snakemake`` to unpickle the job's inputs, outputs and params), which then
imports the analysis stack (numpy, scipy, xarray, netCDF4) and runs
:func:`dnn_manifolds.workflow.jobs.run_job` on one session of its manifold sets. This script
measures, each in fresh processes, fastest of ``--repeats``:

* ``python``: the bare interpreter start (``python -c pass``);
* ``preamble``: ``import snakemake.script`` (what the script preamble imports);
* ``imports``: everything an analysis job imports before it computes;
* ``job``: a whole capacity and a whole geometry job on a tiny dataset (P = 4 objects,
  M = 3 samples, N = 20 neurons, one session), from interpreter start to the written file;
* ``compute``: the same jobs' :func:`run_job` inside an already warm process;
* ``warm job``: the same jobs as a local run's job script runs them with a warm process
  (``docs/architecture.md#warm-processes``): a fresh process that imports the preamble, sends
  the job to the warm process and waits for its forked child to write the file and its log.

The fixed cost of a job is ``job − compute`` (+ the preamble, which Snakemake adds), and
``warm job − compute`` with a warm process. Example::

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python bench/bench_job_overhead.py --repeats 5
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

JOB = """
import json, sys, time
t0 = time.perf_counter()
from dnn_manifolds.workflow.jobs import run_job
spec = json.loads(sys.argv[1])
run_job(**spec, progress=False)
print(time.perf_counter() - t0)
"""

WARM_JOB = """
import json, sys
import snakemake.script  # what the job script's preamble imports
from dnn_manifolds.workflow.warm import run_in_warm_process
spec, log = json.loads(sys.argv[1]), sys.argv[2]
assert run_in_warm_process("dnn_manifolds.workflow.jobs:run_logged_job", {"job": spec, "log_path": log}) is not None
"""

IMPORTS = (
    "import numpy, scipy.linalg, scipy.optimize, scipy.special, xarray, netCDF4; "
    "import dnn_manifolds.analysis.experiments, dnn_manifolds.analysis.capacity.api, "
    "dnn_manifolds.analysis.geometry.api, dnn_manifolds.data, dnn_manifolds.workflow.jobs"
)


def _wall(args: list[str], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(args, check=True, capture_output=True)
        best = min(best, time.perf_counter() - t0)
    return best


def _dataset(path: Path) -> None:
    import numpy as np

    from dnn_manifolds.data import make_dataset, save_dataset

    rng = np.random.default_rng(0)
    tuning = rng.standard_normal((1, 20, 3, 4)) + 3 * rng.standard_normal((1, 20, 1, 4))
    save_dataset(make_dataset(tuning, sessions=["layer/transform"]), path)


def _spec(analysis: str, dataset: Path, output: Path) -> dict:
    options = {"n_t": 50} if analysis == "geometry" else {}
    key = {"network": "bench", "manifold": "tiny"}
    return {
        "analysis": analysis,
        "experiment": analysis,
        "sets": [{"key": key, "options": options, "grid": None}],
        "datasets": [str(dataset)],
        "session": "layer/transform",
        "seed": 0,
        "output": str(output),
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)
    py = sys.executable
    from dnn_manifolds.workflow import warm

    os.environ.update({var: "1" for var in warm.THREAD_VARIABLES})  # as Snakemake sets for a 1-thread job
    row = {
        "python": _wall([py, "-c", "pass"], a.repeats),
        "preamble": _wall([py, "-c", "import snakemake.script"], a.repeats),
        "imports": _wall([py, "-c", IMPORTS], a.repeats),
    }
    from dnn_manifolds.workflow.jobs import run_job

    with tempfile.TemporaryDirectory() as tmp:
        dataset = Path(tmp) / "tiny.nc"
        _dataset(dataset)
        for analysis in ("capacity", "geometry"):
            spec = _spec(analysis, dataset, Path(tmp) / f"{analysis}.nc")
            run_job(**spec, progress=False)  # warm
            compute = float("inf")
            for _ in range(a.repeats):
                t0 = time.perf_counter()
                run_job(**spec, progress=False)
                compute = min(compute, time.perf_counter() - t0)
            whole = _wall([py, "-c", JOB, json.dumps(spec)], a.repeats)
            row[f"{analysis}_job"] = whole
            row[f"{analysis}_compute"] = compute
            row[f"{analysis}_fixed"] = whole - compute + row["preamble"] - row["python"]
        started = warm.start(threads=1)
        try:
            for analysis in ("capacity", "geometry"):
                spec = dict(_spec(analysis, dataset, Path(tmp) / f"{analysis}_warm.nc"), progress=False)
                whole = _wall([py, "-c", WARM_JOB, json.dumps(spec), str(Path(tmp) / "warm.log")], a.repeats)
                row[f"{analysis}_warm_job"] = whole
                row[f"{analysis}_warm_fixed"] = whole - row[f"{analysis}_compute"]
        finally:
            started.stop()
    print(json.dumps(row), file=sys.stderr)
    print(
        "| python | preamble | imports | capacity job | its compute | geometry job | its compute "
        "| fixed cost per job (capacity / geometry) | warm job (capacity / geometry) | fixed cost, warm |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {row['python']:.2f} s | {row['preamble']:.2f} s | {row['imports']:.2f} s | {row['capacity_job']:.2f} s | "
        f"{row['capacity_compute']:.2f} s | {row['geometry_job']:.2f} s | {row['geometry_compute']:.2f} s | "
        f"{row['capacity_fixed']:.2f} s / {row['geometry_fixed']:.2f} s | "
        f"{row['capacity_warm_job']:.2f} s / {row['geometry_warm_job']:.2f} s | "
        f"{row['capacity_warm_fixed']:.2f} s / {row['geometry_warm_fixed']:.2f} s |"
    )
    if a.json:
        Path(a.json).write_text(json.dumps(row, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
