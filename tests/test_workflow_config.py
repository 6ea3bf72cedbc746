"""The workflow's configuration: schema validation and dry runs."""

import numpy as np
import scipy.io
import yaml

from conftest import REPO, run_snakemake
from dnn_manifolds.dataset import load_dataset


def test_default_config_dry_run_succeeds(workdir):
    proc = run_snakemake("-n", "--directory", workdir, "--cores", "1")
    assert "dry-run" in proc.stdout.lower() or "nothing to be done" in (proc.stdout + proc.stderr).lower()


def test_unknown_config_key_is_rejected_before_any_job(workdir):
    bad = workdir / "bad.yaml"
    cfg = yaml.safe_load((REPO / "config/config.yaml").read_text())
    cfg["sed"] = 1
    bad.write_text(yaml.safe_dump(cfg))
    proc = run_snakemake(
        "-n", "--directory", workdir, "--cores", "1", "--configfile", bad, check=False
    )
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "Additional properties are not allowed ('sed' was unexpected)" in out, out


def test_own_data_is_imported_by_the_workflow(workdir):
    rng = np.random.default_rng(0)
    scipy.io.savemat(workdir / "mine_tuning.mat", {"tuning_function": rng.standard_normal((2, 6, 4, 3))})
    cfg = workdir / "own.yaml"
    cfg.write_text(yaml.safe_dump({"seed": 1, "own_data": {"inputs": {"mine": "mine_tuning.mat"}}}))
    run_snakemake("--directory", workdir, "--cores", "1", "--configfile", cfg)
    with load_dataset(workdir / "results/own/mine/dataset.nc") as ds:
        assert dict(ds["tuning"].sizes) == {"session": 2, "neuron": 6, "sample": 4, "object": 3}
    assert (workdir / "logs/own/mine/import.log").exists()
