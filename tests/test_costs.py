"""The cost model of a configuration (dnn-manifolds estimate) and the rules' resources."""

import re

import yaml

from conftest import REPO, run_snakemake
from dnn_manifolds.cli import main
from dnn_manifolds.workflow.config import check_config
from dnn_manifolds.workflow.costs import estimate, resources

MINI = REPO / "tests/data/mini.yaml"


def _cfg(path):
    return check_config(yaml.safe_load(path.read_text()), base_dir=REPO)


def test_the_estimate_counts_the_jobs_the_workflow_runs(workdir):
    costs = {c.rule: c for c in estimate(_cfg(MINI))}
    proc = run_snakemake(
        "-n",
        "--quiet",
        "rules",
        "--directory",
        workdir,
        "--cores",
        "1",
        "--configfile",
        MINI,
    )
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", proc.stdout, re.M))
    for rule in ("generate_shard", "collect", "capacity", "geometry"):
        assert costs[rule].jobs == int(counts[rule]), rule
    assert all(c.cpu_s > 0 and c.peak_mb > 0 for c in costs.values())


def test_resources_grow_with_the_attempt():
    cfg = _cfg(MINI)
    job = next(j for j in cfg.analysis_jobs(lambda *a: "/".join(a)) if j["experiment"] == "capacity")
    first, second, third = (resources(cfg, "capacity", job, attempt=k) for k in (1, 2, 3))
    assert first["mem_mb"] < second["mem_mb"] < third["mem_mb"]
    assert second["runtime"] == 2 * first["runtime"] and third["runtime"] == 4 * first["runtime"]


def test_bigger_manifolds_cost_more_and_the_paper_preset_is_priced(capsys):
    cfg = _cfg(REPO / "config/paper.yaml")
    costs = {c.rule: c for c in estimate(cfg)}
    assert costs["capacity"].cpu_s > 100 * 3600 and costs["generate_shard"].disk_mb > 1e6
    assert main(["estimate", str(REPO / "config/paper.yaml"), "--device", "cuda"]) == 0
    out = capsys.readouterr().out
    assert "| **total** |" in out and "GPU-hours" in out
    assert main(["estimate", str(REPO / "config/nowhere.yaml")]) == 2


def test_geometry_variants_that_copy_the_session_ask_for_its_copies():
    """A z-scored or shuffled geometry of the paper's 2-d sets holds float64 / extra copies of
    the session: its job asks for that memory on top of the baseline geometry's."""
    from dnn_manifolds.workflow.costs import job_cost

    cfg = _cfg(REPO / "config/paper.yaml")
    jobs = list(cfg.analysis_jobs(lambda *a: "/".join(a)))

    def peak(experiment):
        return max(job_cost(cfg, "experiment" if experiment != "geometry" else "geometry", j)[2]
                   for j in jobs if j["experiment"] == experiment and j["network"] == "alexnet")

    base, controls = peak("geometry"), peak("geometry_zscore")
    # P = 64, M = 3201, N = 4096: 8 bytes a value more for the z-scored float64 copy, 6.3 GB
    assert controls - base > 0.9 * 8 * 4096 * 3201 * 64 / 2**20, (base, controls)


def test_the_shuffle_control_of_the_geometry_is_priced_from_its_own_measurements():
    """Shuffled manifolds' anchors touch dozens to hundreds of points: the shuffle variant costs many
    times the baseline geometry of the same set, and the paper preset runs it only where that
    stays affordable."""
    from dnn_manifolds.workflow import costs

    cfg = _cfg(REPO / "config/paper.yaml")
    for name in ("affine_1d_rf16", "random_2d_rf0p5", "random_2d_rf16"):
        man = cfg.manifolds[name]
        base = costs._set_cost("geometry", man, {})[0]
        assert costs._set_cost("geometry", man, {"control": "shuffle"})[0] > 10 * base
        assert costs._set_cost("geometry", man, {"zscore": True})[0] == base  # time: as the baseline
    # never cheaper than the baseline, also below the smallest measured size
    for name, man in cfg.manifolds.items():
        if man.kind != "point-cloud":
            assert costs._set_cost("geometry", man, {"control": "shuffle"})[0] >= costs._set_cost("geometry", man, {})[0], name
    jobs = list(cfg.analysis_jobs(lambda *a: "/".join(a)))
    shuffled = {m for j in jobs if j["experiment"] == "geometry_controls" for m in j["manifolds"]}
    assert {"cloud", "affine_1d_rf16", "random_2d_rf2"} <= shuffled and "random_2d_rf16" not in shuffled
    # a shuffle job (one network's layer and transform) holds the 2-d sets up to M = 801 only
    job = next(j for j in jobs if j["experiment"] == "geometry_controls" and j["network"] == "alexnet"
               and j["transform"] == "translation")
    assert "random_2d_rf2" in job["manifolds"] and "random_2d_rf4" not in job["manifolds"]
