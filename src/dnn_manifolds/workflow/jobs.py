"""One analysis job of the workflow: an analysis or experiment of one session of several sets.

A job (:meth:`dnn_manifolds.workflow.config.WorkflowConfig.analysis_jobs`) analyses, for one
network, layer and transform, the session ``"<layer>/<transform>"`` of every manifold set it
lists, and writes one netCDF file with one group per set (:func:`run_job`). Each group is the
analysis's output for that set, with the set's key (network, manifold set, replicate, kind,
range factor, P, M, layer, transform, experiment) in its attributes. Doing the sets of one
transform in one process pays the interpreter and import cost once per job, not per set.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["FAIL_ONCE_ENV", "run_job", "run_logged_job"]

log = logging.getLogger(__name__)

FAIL_ONCE_ENV = "DNN_MANIFOLDS_FAIL_ONCE"
"""Fault injection for the cluster tests: when this environment variable names a file that does
not exist yet, the first analysis job to see it creates it (atomically, so exactly one job does)
and fails; every later job runs normally. This is how a test makes one job of a grouped cluster
submission fail and checks that it is retried. Unset in normal use."""


def _maybe_fail_once(output: str) -> None:
    marker = os.environ.get(FAIL_ONCE_ENV)
    if not marker:
        return
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return
    with os.fdopen(fd, "w") as fh:
        fh.write(f"{output}\n")
    raise RuntimeError(f"{FAIL_ONCE_ENV}: injected failure of the job writing {output} (fault injection)")


def run_job(
    *,
    analysis: str,
    experiment: str,
    sets: Sequence[Mapping[str, Any]],
    datasets: Sequence[str],
    session: str,
    seed: int,
    output: str,
    references: str | None = None,
    progress: bool = True,
) -> Path:
    """Run one analysis job and write its file.

    Parameters
    ----------
    analysis : {"capacity", "geometry"}
    experiment : str
        ``capacity``/``geometry`` for the baselines, else the experiment's name.
    sets : sequence of mapping
        Per manifold set: ``key`` (its key columns), ``options`` (the analysis's options for
        its kind) and ``grid`` (the experiment's variants, or None for a baseline).
    datasets : sequence of str
        The sets' manifold datasets, in the order of ``sets``.
    session : str
        ``"<layer>/<transform>"``.
    seed : int
        The analysis's seed.
    output : str
        The file to write (one group per set).
    references : str, optional
        The baseline geometry file of the same network, layer and transform (for experiments
        that need it).
    """
    from ..analysis.experiments import Experiment, run_experiment
    from ..data import load_dataset, read_groups, write_netcdf_groups

    if len(sets) != len(datasets):
        raise ValueError("one dataset per manifold set is needed")
    _maybe_fail_once(output)
    reference_groups = read_groups(references) if references else {}
    groups = {}
    for spec, path in zip(sets, datasets):
        key = dict(spec["key"])
        name = key["manifold"]
        with load_dataset(path, validate=False) as ds:  # session_data checks what it reads
            if spec.get("grid") is None:
                result = _baseline(analysis, ds, session, seed, spec["options"], progress)
            else:
                exp = Experiment(experiment, analysis, spec["options"], spec["grid"])
                reference = reference_groups.get(name) if exp.needs_reference else None
                if exp.needs_reference and reference is None:
                    raise ValueError(f"{references}: no baseline geometry of set {name!r}")
                result = run_experiment(ds, exp, session=session, seed=seed, reference=reference, progress=progress)
        result.attrs.update({f"key_{k}": ("" if v is None else v) for k, v in key.items()})
        result.attrs.update(key_layer=session.split("/")[0], key_transform=session.split("/")[1], key_experiment=experiment)
        groups[name] = result
        symbol = "alpha_c" if analysis == "capacity" else "alpha_M"
        log.info("%s %s, set %s: %s = %s", experiment, session, name, symbol, result["capacity"].values)
    from ..data.provenance import provenance_attrs

    root = provenance_attrs(
        seeds={analysis: int(seed)},
        experiment=experiment,
        analysis=analysis,
        session=session,
        manifold_sets=list(groups),
    )
    return write_netcdf_groups(groups, output, attrs=root)


def run_logged_job(job: Mapping[str, Any], log_path: str) -> Path:
    """What the workflow's analysis job script runs: :func:`run_job` with its log.

    The log file ``log_path`` receives the job's logging records and progress bars
    (:func:`.joblog.job_logger`). The script calls this in its own process, or has a warm
    process's child call it (:mod:`.warm`); the job is the same either way.
    """
    from .joblog import job_logger
    from .warm import PARENT_ENV

    job_log = job_logger(log_path, "analysis")
    warm = os.environ.get(PARENT_ENV)
    job_log.info("running in %s", f"a child of the warm process {warm}" if warm else "its own process")
    out = run_job(**job)
    job_log.info("%s %s: %d manifold sets -> %s", job["experiment"], job["session"], len(job["sets"]), job["output"])
    return out


def _baseline(analysis: str, ds, session: str, seed: int, options: Mapping[str, Any], progress: bool):
    if analysis == "capacity":
        from ..analysis.capacity import capacity

        return capacity(ds, dict(options), session=session, seed=seed, progress=progress)
    from ..analysis.geometry import geometry

    return geometry(ds, dict(options), session=session, seed=seed, progress=progress)
