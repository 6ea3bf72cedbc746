"""The SLURM profile, for real: the miniature workflow through sbatch on a local cluster.

Run with ``make test-slurm``: it starts a single-node SLURM cluster on localhost
(``.ci/slurm-local-up.sh``: Debian's slurm-wlm and munge, no accounting database), runs these
tests with ``DNN_MANIFOLDS_TEST_SLURM=1`` and stops the daemons it started. Without that
variable the tests are skipped (they need root and the cluster).
"""

import os
import shutil
import subprocess

import numpy as np
import pytest
import scipy.io
import yaml

from conftest import REPO, run_snakemake

pytestmark = [
    pytest.mark.slurm,
    pytest.mark.skipif(
        os.environ.get("DNN_MANIFOLDS_TEST_SLURM") != "1" or shutil.which("sbatch") is None,
        reason="needs the local SLURM cluster: run `make test-slurm`",
    ),
]

MINI = REPO / "tests/data/mini.yaml"
# the profile as users get it, with faster status polling for a tiny CI workflow
SLURM_ARGS = ("--workflow-profile", REPO / "profiles/slurm", "--slurm-init-seconds-before-status-checks", "2", "--jobs", "4")


def _squeue_states() -> dict[str, str]:
    out = subprocess.run(["squeue", "--states=all", "-h", "-o", "%i|%j|%T"], capture_output=True, text=True, check=True).stdout
    return {line.split("|")[0]: line.split("|")[2] for line in out.splitlines() if line.strip()}


def _workdir(tmp_path):
    shutil.copytree(REPO / "config", tmp_path / "config")
    return tmp_path


def test_mini_workflow_runs_through_sbatch(tmp_path):
    workdir = _workdir(tmp_path)
    before = set(_squeue_states())
    proc = run_snakemake("--directory", workdir, "--configfile", MINI, *SLURM_ARGS, "--verbose", timeout=1800)
    out = proc.stdout + proc.stderr
    assert "sbatch call: sbatch" in out
    states = {k: v for k, v in _squeue_states().items() if k not in before}
    completed = [k for k, v in states.items() if v == "COMPLETED"]
    assert len(completed) >= 20, states  # every job but the local rules went through SLURM
    assert (workdir / "results/tables/results.csv").exists()
    logs = list((workdir / ".snakemake/slurm_logs").glob("**/*.log"))
    assert logs, "no SLURM job logs"


def test_failed_slurm_job_is_reported_and_a_rerun_resumes(tmp_path):
    workdir = _workdir(tmp_path)
    bad = workdir / "mine_tuning.mat"
    scipy.io.savemat(bad, {"tuning_function": np.ones((4, 3, 1))})  # one object: import fails
    cfg = workdir / "own.yaml"
    cfg.write_text(yaml.safe_dump({"seed": 1, "networks": {}, "manifolds": {}, "geometry": {"n_t": 20}, "own_data": {"inputs": {"mine": "mine_tuning.mat"}}}))
    before = set(_squeue_states())
    proc = run_snakemake("--directory", workdir, "--configfile", cfg, *SLURM_ARGS, "--retries", "0", check=False, timeout=900)
    assert proc.returncode != 0
    assert "FAILED" in set(v for k, v in _squeue_states().items() if k not in before)
    scipy.io.savemat(bad, {"tuning_function": np.random.default_rng(0).standard_normal((6, 4, 3))})
    run_snakemake("--directory", workdir, "--configfile", cfg, *SLURM_ARGS, timeout=900)
    assert (workdir / "results/own/mine/table.csv").exists()
