"""The SLURM profile, for real: the miniature workflow through sbatch on a local cluster.

Run with ``make test-slurm``: it starts a single-node SLURM cluster on localhost
(``.ci/slurm-local-up.sh``: Debian's slurm-wlm and munge, no accounting database), runs these
tests with ``DNN_MANIFOLDS_TEST_SLURM=1`` and stops the daemons it started. Without that
variable the tests are skipped (they need root and the cluster).
"""

import os
import re
import shutil
import subprocess

import numpy as np
import pytest
import scipy.io
import yaml

from conftest import REPO, run_snakemake
from dnn_manifolds.workflow.jobs import FAIL_ONCE_ENV

pytestmark = [
    pytest.mark.slurm,
    pytest.mark.skipif(
        os.environ.get("DNN_MANIFOLDS_TEST_SLURM") != "1" or shutil.which("sbatch") is None,
        reason="needs the local SLURM cluster: run `make test-slurm`",
    ),
]

MINI = REPO / "tests/data/mini.yaml"
# rules that run on the submitting machine (localrule: True), and those the profile groups
LOCAL_RULES = {
    "all",
    "aggregate",
    "browse_table",
    "plots",
    "separability_curves",
    "own_table",
    "download_thumbnails",
}
GROUPED_RULES = ("capacity", "geometry", "experiment", "contact_sheet")
# the profile as users get it, with faster status polling for a tiny CI workflow
SLURM_ARGS = (
    "--workflow-profile",
    REPO / "profiles/slurm",
    "--slurm-init-seconds-before-status-checks",
    "2",
    "--jobs",
    "4",
)


def _squeue_states() -> dict[str, str]:
    out = subprocess.run(
        ["squeue", "--states=all", "-h", "-o", "%i|%j|%T"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {line.split("|")[0]: line.split("|")[2] for line in out.splitlines() if line.strip()}


def _workdir(tmp_path):
    shutil.copytree(REPO / "config", tmp_path / "config")
    return tmp_path


def _jobs_to_run(workdir, *args) -> dict[str, int]:
    """Jobs per rule that a run would execute (a dry run), local rules included."""
    proc = run_snakemake("-n", "--quiet", "rules", "--directory", workdir, *args)
    return {rule: int(n) for rule, n in re.findall(r"^(\w+)\s+(\d+)$", proc.stdout, re.M) if rule != "total"}


def test_mini_workflow_runs_through_sbatch_in_grouped_submissions(tmp_path):
    """Every non-local job goes through sbatch, small jobs several to a submission (the profile's
    groups), and a job that fails inside a group is retried and the run completes."""
    workdir = _workdir(tmp_path)
    jobs = _jobs_to_run(workdir, "--configfile", MINI, "--cores", "1")
    remote = sum(n for rule, n in jobs.items() if rule not in LOCAL_RULES)
    grouped = sum(jobs.get(rule, 0) for rule in GROUPED_RULES)
    assert grouped >= 10, jobs
    marker = tmp_path / "failed-once"
    before = set(_squeue_states())
    proc = run_snakemake(
        "--directory",
        workdir,
        "--configfile",
        MINI,
        *SLURM_ARGS,
        "--verbose",
        env={FAIL_ONCE_ENV: str(marker)},
        timeout=1800,
    )
    out = proc.stdout + proc.stderr
    assert "sbatch call: sbatch" in out
    states = {k: v for k, v in _squeue_states().items() if k not in before}
    # one submission per group, not per job: fewer submissions than jobs reached sbatch
    assert len(states) < remote, (len(states), remote, jobs)
    assert "Group job" in out or "group job" in out.lower()
    # the injected failure happened inside a grouped analysis job; the job was retried inside its
    # submission (the rule's retries) and the submission completed
    failed_output = marker.read_text().strip()
    assert failed_output.startswith("results/analysis/"), failed_output
    group_logs = [p for p in (workdir / ".snakemake/slurm_logs").glob("group_*/*.log") if failed_output in p.read_text()]
    assert any("Trying to restart job" in p.read_text() and FAIL_ONCE_ENV in p.read_text() for p in group_logs), group_logs
    assert set(states.values()) == {"COMPLETED"}, states
    assert (workdir / failed_output).exists()
    assert (workdir / "results/tables/results.csv").exists()
    analysed = list((workdir / "results/analysis").rglob("*.nc"))
    assert len(analysed) == sum(jobs.get(r, 0) for r in ("capacity", "geometry", "experiment"))
    logs = list((workdir / ".snakemake/slurm_logs").glob("**/*.log"))
    assert logs, "no SLURM job logs"
    # resumed: nothing is left to do, and a second run submits nothing
    assert _jobs_to_run(workdir, "--configfile", MINI, "--cores", "1") == {}


def test_failed_slurm_job_is_reported_and_a_rerun_resumes(tmp_path):
    workdir = _workdir(tmp_path)
    bad = workdir / "mine_tuning.mat"
    scipy.io.savemat(bad, {"tuning_function": np.ones((4, 3, 1))})  # one object: import fails
    cfg = workdir / "own.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "seed": 1,
                "networks": {},
                "manifolds": {},
                "geometry": {"n_t": 20},
                "own_data": {"inputs": {"mine": "mine_tuning.mat"}},
            }
        )
    )
    before = set(_squeue_states())
    proc = run_snakemake(
        "--directory",
        workdir,
        "--configfile",
        cfg,
        *SLURM_ARGS,
        "--retries",
        "0",
        check=False,
        timeout=900,
    )
    assert proc.returncode != 0
    assert "FAILED" in set(v for k, v in _squeue_states().items() if k not in before)
    scipy.io.savemat(bad, {"tuning_function": np.random.default_rng(0).standard_normal((6, 4, 3))})
    run_snakemake("--directory", workdir, "--configfile", cfg, *SLURM_ARGS, timeout=900)
    assert (workdir / "results/own/mine/table.csv").exists()
