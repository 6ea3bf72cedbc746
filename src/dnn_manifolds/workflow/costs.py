"""What a configuration costs: per rule, jobs, CPU-hours, GPU-hours, peak memory and disk.

:func:`estimate` walks the jobs the workflow would run for a checked configuration (the same
job lists the DAG is built from) and prices each from per-unit costs **measured** by the
benchmarks of ``bench/`` (:data:`MEASURED`, with where each figure comes from). The same
per-job estimates give the rules' resources (:func:`resources`: ``mem_mb`` and ``runtime``,
with head-room, growing with Snakemake's ``attempt`` so that a retried job asks for more).

The model, per job:

* **generation** (one shard): setup + images / (images per second of the network on the
  device); memory = model + the shard's activations; disk = the shard (deleted after collect);
* **collect**: reading and writing the dataset at disk speed; memory = one shard (or one
  session, streamed, for datasets over 1 GiB); disk = the dataset (float32, uncompressed
  bound);
* **capacity / geometry / experiments** (one job = one session of each of its manifold sets):
  per set, a time interpolated log-log in the number of samples ``K = P·M`` between measured
  sizes (at N = 4096 units, the most a layer records: an upper bound for smaller layers), for
  each variant of an experiment (the geometry's shuffle control from its own measurements: it
  costs far more); memory = the measured peaks (the session and the method's working arrays),
  plus, for the geometry, the copies of the session that its variants make (z-scoring,
  controls, manipulations, neuron subsets: ``GeometryOptions.session_copies``).

Every figure is an estimate for planning (±50 %); the per-job fixed cost (interpreter,
imports) is included. The small figure jobs (contact sheets, per-set separability curves, the
results page) are left out: seconds each. Shards are temporary (deleted once collected), so
the total's disk leaves them out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["MEASURED", "RuleCost", "estimate", "format_table", "job_cost", "resources"]

UNITS_PER_LAYER = 4096
"""Units recorded per layer (an upper bound: smaller layers record fewer)."""

MEASURED: dict[str, Any] = {
    "generation": {
        # images per second of one shard, every layer recorded (bench/README.md, Generation:
        # CPU, one torch thread, shared machine)
        "cpu_images_per_s": {
            "democnn": 430.0,
            "alexnet": 18.1,
            "vgg16": 1.5,
            "resnet50": 5.0,
            "other": 3.0,
        },
        # one H200 (bench/bench_gpu.py, 2026-12-04): images per second of a whole 2-d shard of
        # M = 3201 (warps, forward passes in IEEE float32, recording, writing the file; it
        # includes the model's construction, which setup_s counts again on the host: within
        # the ±50 %; smaller shards run slower, e.g. AlexNet's 1-d M = 201 shard at 836 img/s);
        # "other" torchvision models are assumed as slow as VGG16, the slowest measured
        "gpu_images_per_s": {
            "democnn": 2600.0,
            "alexnet": 1180.0,
            "vgg16": 431.0,
            "resnet50": 730.0,
            "other": 431.0,
        },
        "setup_s": {
            "democnn": 0.3,
            "alexnet": 0.6,
            "vgg16": 2.1,
            "resnet50": 0.7,
            "other": 2.0,
        },
        "model_mb": {
            "democnn": 850.0,
            "alexnet": 1110.0,
            "vgg16": 2030.0,
            "resnet50": 1220.0,
            "other": 2000.0,
        },
    },
    "collect": {"disk_mb_per_s": 200.0},
    # CPU seconds and peak MB of one session of one manifold set, N = 4096, per number of
    # objects P: [(M, value), ...] at the sizes measured by the benchmarks (bench/README.md);
    # between and beyond them interpolated / extrapolated log-log in M, and from the nearest
    # measured P scaled linearly in P
    "capacity": {
        # bench/bench_capacity.py: one full N_c search, cutting plane (as config/paper.yaml),
        # float32 data, CPU of the search and its 2 worker processes; peak = summed PSS of the
        # processes. M = 201 (P = 128) and M = 3201 (P = 64): 2026-12-03 on a quiet machine,
        # times the CPU ratio of the screen product's blocking measured in one session on
        # another machine on 2026-12-04 (125.3 / 135.8 s and 675.0 / 811.6 s: 211 -> 194.7,
        # 1512 -> 1257.5); the others 2026-12-02 on a shared machine with lockstep groups of 4
        # (CPU somewhat inflated: upper bounds)
        "cpu_s": {128: [(15, 109.0), (51, 188.0), (201, 194.7)], 64: [(201, 266.0), (801, 519.0), (3201, 1257.5)]},
        "peak_mb": {128: [(15, 491.0), (51, 1576.0), (201, 1819.0)], 64: [(201, 1710.0), (801, 2148.0), (3201, 4947.0)]},
    },
    "geometry": {
        # bench/bench_geometry_paper.py (smooth, n_t = 1000, seed 0, the pivoted-Cholesky frame
        # at M = 3201) and bench/bench_geometry.py (point clouds, n_t = 200, seeds 0-2),
        # BLAS one thread, jobs = 1 (as the workflow's jobs); smooth: 2026-12-04 with the
        # compacted working-set solves (bench/README.md), M = 3201 times the CPU ratio of the
        # frames' Gram matrices taken from the factorisation and the single pass over the
        # input, measured in one session on another machine (116.3 / 131.9 s: 147.7 -> 130.2);
        # point clouds: 2026-12-03 on a quiet machine
        "smooth": {
            "n_t": 1000,
            "cpu_s": {128: [(15, 10.2), (51, 13.7), (201, 17.3)], 64: [(201, 6.3), (801, 23.9), (3201, 130.2)]},
            "peak_mb": {128: [(15, 229.0), (51, 356.0), (201, 650.0)], 64: [(201, 488.0), (801, 1166.0), (3201, 3860.0)]},
            # the shuffle control (samples dealt at random into the objects): anchors touch
            # dozens to hundreds of points, so every draw needs a per-draw NNLS (2026-12-04;
            # M = 801 and 3201: 64,000 draws at the 24.9 ms / 0.75 s each of the Gram-matrix
            # Lawson-Hanson and its refinement measured on 20 / 2 draws per object, plus the
            # rest of the run)
            "shuffle_cpu_s": {
                128: [(15, 14.3), (51, 29.3), (201, 310.9)],
                64: [(51, 6.5), (101, 31.1), (201, 125.3), (801, 1610.0), (3201, 48200.0)],
            },
        },
        "point_cloud": {
            "n_t": 200,
            "cpu_s": {100: [(50, 0.66)], 20: [(50, 0.21)]},
            "peak_mb": {100: [(50, 403.0)], 20: [(50, 161.0)]},
        },
    },
    # interpreter, Snakemake's script preamble and the imports of a job in its own process, as
    # on a cluster (bench/bench_job_overhead.py: 0.80 / 0.79 s for capacity / geometry,
    # 2026-12-03, quiet machine; a local run's warm process: 0.14 s)
    "job_overhead_s": 0.8,
    # aggregate, plots: not benchmarked at the paper's size (an assumption)
    "small_job_s": 30.0,
}
"""Per-unit costs measured by the benchmarks; update them with new measurements."""


@dataclass
class RuleCost:
    """The total cost of one rule's jobs."""

    rule: str
    jobs: int = 0
    cpu_s: float = 0.0
    gpu_s: float = 0.0
    peak_mb: float = 0.0
    disk_mb: float = 0.0
    temporary: bool = False
    """Its outputs are deleted once used (the shards, once collected): not in the total's disk."""

    @property
    def mean_job_min(self) -> float:
        """The mean job's time in minutes (CPU + GPU): what sizes a cluster submission group."""
        return (self.cpu_s + self.gpu_s) / 60 / self.jobs if self.jobs else 0.0

    def add(self, cpu_s: float, gpu_s: float, mem_mb: float, disk_mb: float) -> None:
        self.jobs += 1
        self.cpu_s += cpu_s
        self.gpu_s += gpu_s
        self.peak_mb = max(self.peak_mb, mem_mb)
        self.disk_mb += disk_mb


def _loglog(points, x: float) -> float:
    points = sorted(dict(points).items())  # one value per size
    xs = np.log([p[0] for p in points])
    ys = np.log([p[1] for p in points])
    lx = math.log(max(x, 1.0))
    if len(xs) == 1:
        return float(math.exp(ys[0]) * x / math.exp(xs[0]))
    if lx <= xs[0]:
        slope = (ys[1] - ys[0]) / (xs[1] - xs[0])
        return float(math.exp(ys[0] + slope * (lx - xs[0])))
    if lx >= xs[-1]:
        slope = (ys[-1] - ys[-2]) / (xs[-1] - xs[-2])
        return float(math.exp(ys[-1] + slope * (lx - xs[-1])))
    return float(math.exp(np.interp(lx, xs, ys)))


def _arch(cfg, network: str) -> str:
    arch = cfg.networks[network].architecture
    return arch if arch in MEASURED["generation"]["cpu_images_per_s"] else "other"


def _samples(man) -> int:
    return man.n_samples


def _measured(table: Mapping[int, list], n_objects: int, n_samples: int) -> float:
    """A per-session figure at (P, M) from the measured ``{P: [(M, value), ...]}``."""
    ref = min(table, key=lambda q: abs(math.log(q) - math.log(max(n_objects, 1))))
    return _loglog(table[ref], n_samples) * n_objects / ref


_SET_COSTS: dict[tuple, tuple[float, float]] = {}
"""Memo of :func:`_analysis_set_cost` (the DAG asks for the resources of every job)."""


_COPIES: dict[str, int] = {}
"""Memo of :func:`_session_copies`."""


def _session_copies(options: Mapping[str, Any], grid) -> int:
    """Bytes per float32 response value of the largest copies of a session that the geometry
    makes for these options and any variant of ``grid`` (z-scoring, controls, manipulations,
    neuron subsets: :meth:`GeometryOptions.session_copies`)."""
    from ..analysis.geometry.options import GeometryOptions

    key = repr((sorted(options.items()), [sorted(g.items()) for g in grid or ()]))
    if key not in _COPIES:
        _COPIES[key] = max(
            GeometryOptions.from_mapping({**options, **g}).session_copies(4) for g in (grid or [{}])
        )
    return _COPIES[key]


def _analysis_set_cost(analysis: str, man, options: Mapping[str, Any], copies: int = 0) -> tuple[float, float]:
    """(CPU s, peak MB) of one session of one manifold set with one variant's ``options``;
    ``copies``: bytes per response value of the copies of the session that the options make
    (geometry)."""
    key = (
        analysis,
        man.kind,
        man.n_objects,
        _samples(man),
        copies,
        *(str(options.get(k)) for k in ("method", "n_t", "n_neurons", "neuron_repeats", "control")),
    )
    if key not in _SET_COSTS:
        cpu, peak = _set_cost(analysis, man, options)
        _SET_COSTS[key] = cpu, peak + copies * UNITS_PER_LAYER * _samples(man) * man.n_objects / 2**20
    return _SET_COSTS[key]


def _set_cost(analysis: str, man, options: Mapping[str, Any]) -> tuple[float, float]:
    p, m = man.n_objects, _samples(man)
    if analysis == "geometry":
        method = options.get("method")
        if method not in ("smooth", "point_cloud"):
            method = "point_cloud" if man.kind == "point-cloud" else "smooth"
        table = MEASURED["geometry"][method]
        seconds = _measured(table["cpu_s"], p, m)
        # the shuffle control of smooth manifolds: its anchors touch far more points (never
        # priced below the baseline: below the smallest measured size the log-log extrapolation
        # of its steep growth would go under it). Shuffled point clouds are point clouds: the
        # baseline's figure (not measured separately)
        if options.get("control") == "shuffle" and "shuffle_cpu_s" in table:
            seconds = max(seconds, _measured(table["shuffle_cpu_s"], p, m))
        n_t = options.get("n_t") or table["n_t"]
        seconds *= max(n_t, 1) / table["n_t"]
        if options.get("n_neurons"):
            seconds *= max(1, int(options.get("neuron_repeats") or 1))
        return seconds, _measured(table["peak_mb"], p, m)
    table = MEASURED["capacity"]
    return _measured(table["cpu_s"], p, m), _measured(table["peak_mb"], p, m)


def job_cost(cfg, rule: str, job: Mapping[str, Any]) -> tuple[float, float, float, float]:
    """(CPU s, GPU s, peak MB, disk MB) of one job of ``rule``."""
    gen = MEASURED["generation"]
    overhead = MEASURED["job_overhead_s"]
    if rule == "generate_shard":
        net, man, shard = job["network"], cfg.manifolds[job["manifold"]], job["shard"]
        arch = _arch(cfg, net)
        images = len(shard["objects"]) * _samples(man)
        layers = len(cfg.networks[net].layers)
        gpu = cfg.device == "cuda"
        rate = gen["gpu_images_per_s" if gpu else "cpu_images_per_s"][arch]
        forward = images / rate
        host = overhead + gen["setup_s"][arch] + (0.0 if gpu else forward)
        out_mb = images * layers * UNITS_PER_LAYER * 4 / 2**20
        return host, forward if gpu else 0.0, gen["model_mb"][arch] + out_mb, out_mb
    if rule == "collect":
        man = cfg.manifolds[job["manifold"]]
        layers = len(cfg.networks[job["network"]].layers)
        size_mb = layers * len(man.transforms) * UNITS_PER_LAYER * _samples(man) * man.n_objects * 4 / 2**20
        seconds = overhead + 2 * size_mb / MEASURED["collect"]["disk_mb_per_s"]
        shard_mb = size_mb / max(1, math.ceil(man.n_objects / man.objects_per_shard)) / max(1, len(man.transforms))
        session_mb = size_mb / max(1, layers * len(man.transforms))
        mem = 400.0 + (max(session_mb, shard_mb) * 2 if size_mb > 1024 else size_mb + shard_mb)
        return seconds, 0.0, mem, size_mb
    if rule in ("capacity", "geometry", "experiment"):
        analysis = job["analysis"]
        cpu, peak = overhead, 0.0
        for spec, name in zip(cfg.job_sets(job), job["manifolds"]):
            copies = _session_copies(spec["options"], spec["grid"]) if analysis == "geometry" else 0
            for variant in spec["grid"] or [{}]:  # each variant priced with its own options
                s, m = _analysis_set_cost(analysis, cfg.manifolds[name], {**spec["options"], **variant}, copies)
                cpu += s
                peak = max(peak, m)
        return cpu, 0.0, peak + 300.0, 1.0 * len(job["manifolds"])
    return MEASURED["small_job_s"], 0.0, 2000.0, 10.0


def estimate(cfg, analysis_path=None) -> list[RuleCost]:
    """The cost of every rule of a checked configuration (:class:`~.config.WorkflowConfig`)."""
    path = analysis_path or (lambda network, layer, transform, name: f"{network}/{layer}/{transform}/{name}")
    rules: dict[str, RuleCost] = {}

    def add(rule: str, cost) -> None:
        rules.setdefault(rule, RuleCost(rule, temporary=rule == "generate_shard")).add(*cost)

    for network in cfg.networks:
        for manifold in cfg.manifolds:
            if not cfg.records(network, manifold):
                continue
            for shard in cfg.shards(manifold):
                job = {"network": network, "manifold": manifold, "shard": shard}
                add("generate_shard", job_cost(cfg, "generate_shard", job))
            add(
                "collect",
                job_cost(cfg, "collect", {"network": network, "manifold": manifold}),
            )
    for job in cfg.analysis_jobs(path):
        rule = job["experiment"] if job["experiment"] in ("capacity", "geometry") else "experiment"
        add(rule, job_cost(cfg, rule, job))
    for rule in ("aggregate", "plots"):
        add(rule, job_cost(cfg, rule, {}))
    return list(rules.values())


def resources(cfg, rule: str, job: Mapping[str, Any], attempt: int = 1) -> dict[str, int]:
    """``mem_mb`` and ``runtime`` (minutes) for a job, with head-room: memory 1.5× the estimate
    + 500 MB, time 3× + 5 min; each retry asks for 1.5× the memory and 2× the time."""
    cpu, gpu, mem, _ = job_cost(cfg, rule, job)
    grow = max(1, int(attempt)) - 1
    mem_mb = int(math.ceil((1.5 * mem + 500) * 1.5**grow))
    runtime = int(math.ceil(3 * (cpu + gpu) / 60 + 5)) * 2**grow
    return {"mem_mb": mem_mb, "runtime": runtime}


def format_table(costs: list[RuleCost]) -> str:
    """The costs as a Markdown table with a total row."""

    def hours(s: float) -> str:
        return f"{s / 3600:,.1f}"

    lines = [
        "| rule | jobs | CPU-hours | GPU-hours | mean job (min) | peak memory (GB) | disk (GB) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    total = RuleCost(
        "**total**",
        sum(c.jobs for c in costs),
        sum(c.cpu_s for c in costs),
        sum(c.gpu_s for c in costs),
        max((c.peak_mb for c in costs), default=0.0),
        sum(c.disk_mb for c in costs if not c.temporary),
    )
    for c in [*costs, total]:
        disk = f"{c.disk_mb / 1024:,.1f}" + (" (temporary)" if c.temporary else "")
        lines.append(
            f"| {c.rule} | {c.jobs:,} | {hours(c.cpu_s)} | {hours(c.gpu_s)} | {c.mean_job_min:,.1f} "
            f"| {c.peak_mb / 1024:,.1f} | {disk} |"
        )
    return "\n".join(lines)
