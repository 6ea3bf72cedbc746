"""The workflow's configuration: schema validation, the checks beyond it, presets' dry runs."""

import copy
import os

import numpy as np
import pytest
import scipy.io
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from conftest import REPO, run_snakemake
from dnn_manifolds.data.storage import load_dataset
from dnn_manifolds.workflow.config import ConfigError, check_config, derive_seed

SCHEMA = str(REPO / "workflow/schemas/config.schema.yaml")


def default_config():
    return yaml.safe_load((REPO / "config/config.yaml").read_text())


def checked(cfg, base_dir=REPO):
    validate(cfg, schema=SCHEMA)
    return check_config(cfg, base_dir=base_dir)


# ----------------------------------------------------------------------------- presets


@pytest.mark.parametrize("preset", ["config.yaml", "paper.yaml", "paper-mini.yaml", "own-data.yaml"])
def test_every_preset_passes_validation_and_dry_runs(workdir, preset):
    if preset == "own-data.yaml":
        (workdir / "data").mkdir()
        rng = np.random.default_rng(0)
        scipy.io.savemat(workdir / "data/example_tuning.mat", {"tuning_function": rng.standard_normal((2, 6, 4, 3))})
    proc = run_snakemake("-n", "--quiet", "rules", "--directory", workdir, "--cores", "2", "--configfile", workdir / "config" / preset)
    out = proc.stdout + proc.stderr
    assert "This was a dry-run" in out
    if preset == "config.yaml":
        for rule in ("embedded_stimuli", "train_demo_cnn", "generate_shard", "collect", "capacity", "geometry", "aggregate", "plots"):
            assert f"\n{rule} " in out, rule
    if preset == "paper.yaml":
        assert "download_thumbnails" in out
    if preset == "own-data.yaml":
        for rule in ("import_own_data", "own_capacity", "own_geometry", "own_table"):
            assert rule in out


def test_default_config_is_the_documented_demo():
    cfg = checked(default_config())
    assert cfg.stimuli_source == "embedded"
    assert {n.architecture for n in cfg.networks.values()} == {"alexnet", "democnn"}
    assert {n.weights for n in cfg.networks.values()} == {"untrained", "demo"}
    assert {m.kind for m in cfg.manifolds.values()} == {"1d", "point-cloud"}
    assert cfg.networks["alexnet_untrained"].layers[0] == "pixels"
    assert len(cfg.networks["alexnet_untrained"].layers) == 21


def test_derived_seeds_are_stable_and_distinct():
    assert derive_seed(2020, "capacity") == derive_seed(2020, "capacity")
    assert derive_seed(2020, "capacity") != derive_seed(2021, "capacity")
    assert derive_seed(2020, "capacity") != derive_seed(2020, "geometry")


# ----------------------------------------------------------------------------- bad config


def _mod(path, value):
    def apply(cfg):
        node = cfg
        for key in path[:-1]:
            node = node[key]
        if value is _DELETE:
            del node[path[-1]]
        else:
            node[path[-1]] = value
        return cfg

    return apply


_DELETE = object()

BAD_CONFIGS = {
    "unknown network": (
        _mod(("networks", "alexnet_untrained", "architecture"), "alexnett"),
        r"networks\.alexnet_untrained\.architecture.*'alexnett'.*\['alexnet', 'vgg16', 'resnet50', 'democnn'\]",
    ),
    "layer not in the network": (
        _mod(("networks", "democnn", "layers"), ["pixels", "conv9"]),
        r"networks\.democnn\.layers.*\['conv9'\] not in network 'democnn'; its layers are \['pixels', 'conv1'",
    ),
    "negative range factor": (
        _mod(("manifolds", "affine_1d", "range_factor"), -1.0),
        r"(?s)-1\.0 is less than or equal to the minimum of 0.*instance\['manifolds'\]\['affine_1d'\]\['range_factor'\]",
    ),
    "zero range factor": (
        _mod(("manifolds", "affine_1d", "range_factor"), 0),
        r"(?s)0 is less than or equal to the minimum of 0.*instance\['manifolds'\]\['affine_1d'\]\['range_factor'\]",
    ),
    "missing range factor": (
        _mod(("manifolds", "affine_1d", "range_factor"), _DELETE),
        r"manifolds\.affine_1d\.range_factor.*required for kind '1d'",
    ),
    "more objects than categories": (
        _mod(("manifolds", "cloud", "n_objects"), 65),
        r"manifolds\.cloud\.n_objects.*65 objects but the stimulus set has 64 categories",
    ),
    "even sample count for 1-d": (
        _mod(("manifolds", "affine_1d", "n_samples"), 10),
        r"manifolds\.affine_1d\.n_samples.*must be odd.*got 10",
    ),
    "more samples than exemplars": (
        _mod(("manifolds", "cloud", "n_samples"), 21),
        r"manifolds\.cloud\.n_samples.*21 samples per point cloud but each category has 20 images",
    ),
    "n_t below 1": (
        _mod(("geometry", "n_t"), 0),
        r"(?s)0 is not valid.*instance\['geometry'\]\['n_t'\]",
    ),
    "unknown transform": (
        _mod(("manifolds", "affine_1d", "transforms"), ["x-translation", "spin"]),
        r"manifolds\.affine_1d\.transforms.*\['spin'\] not allowed for kind '1d'; allowed: \['x-translation'",
    ),
    "unknown manifold kind": (
        _mod(("manifolds", "cloud", "kind"), "3d"),
        r"(?s)'3d' is not one of \['1d', '2d', 'point-cloud'\].*instance\['manifolds'\]\['cloud'\]\['kind'\]",
    ),
    "unknown geometry method": (
        _mod(("geometry", "method"), "exact"),
        r"(?s)'exact' is not one of \['auto', 'smooth', 'point_cloud'\].*instance\['geometry'\]\['method'\]",
    ),
    "unknown capacity option": (
        _mod(("capacity", "options"), {"projections": "gaussian"}),
        r"(?s)'projections' was unexpected.*instance\['capacity'\]\['options'\]",
    ),
    "bad capacity option value": (
        _mod(("capacity", "options"), {"control": "flip"}),
        r"(?s)'flip' is not one of \['none'.*instance\['capacity'\]\['options'\]\['control'\]",
    ),
    "unknown top-level key": (
        _mod(("seeed",), 1),
        r"Additional properties are not allowed \('seeed' was unexpected\)",
    ),
    "filter names an absent layer": (
        _mod(("only",), {"layers": ["conv7"]}),
        r"only\.layers.*\['conv7'\] not in this config; allowed: \[",
    ),
    "demo weights on another architecture": (
        _mod(("networks", "alexnet_untrained", "weights"), "demo"),
        r"networks\.alexnet_untrained\.weights.*'demo' weights exist only for architecture 'democnn'",
    ),
    "missing weights file": (
        _mod(("networks", "alexnet_untrained", "weights"), "weights/nowhere.pt"),
        r"networks\.alexnet_untrained\.weights.*'weights/nowhere\.pt' is neither one of \['untrained', 'imagenet', 'demo'\]",
    ),
    "experiment named like a baseline": (
        _mod(("experiments",), {"capacity": {"analysis": "capacity", "grid": {"control": ["shuffle"]}}}),
        r"experiments\.capacity.*names a baseline analysis",
    ),
    "experiment with an unknown grid option": (
        _mod(("experiments",), {"e": {"analysis": "geometry", "grid": {"balls": ["floor"]}}}),
        r"experiments\.e.*unknown geometry option\(s\) \['balls'\]",
    ),
    "experiment with a bad grid value": (
        _mod(("experiments",), {"e": {"analysis": "capacity", "grid": {"centre_scale": [0.5, -1]}}}),
        r"experiments\.e.*capacity option 'centre_scale': must be a finite number > 0",
    ),
    "experiment on no manifold set": (
        _mod(("experiments",), {"e": {"analysis": "capacity", "manifolds": ["affine_2d_*"], "grid": {"control": ["orth"]}}}),
        r"experiments\.e\.manifolds.*'affine_2d_\*' matches no manifold set",
    ),
    "experiment on an unknown layer": (
        _mod(("experiments",), {"e": {"analysis": "capacity", "layers": ["conv9"], "grid": {"control": ["orth"]}}}),
        r"experiments\.e\.layers.*\['conv9'\] are not analysed layers",
    ),
    "balls without the geometry": (
        lambda c: {**_mod(("experiments",), {"e": {"analysis": "capacity", "grid": {"balls": ["floor"]}}})(c), "geometry": {"enabled": False}},
        r"experiments\.e.*needs the baseline geometry",
    ),
    "replicate with the set's own seeds": (
        _mod(("manifolds", "affine_1d", "replicates"), [{"objects_seed": 5}, {"objects_seed": 5}]),
        r"manifolds\.affine_1d\.replicates.*replicate 2 has the seeds of replicate 1",
    ),
    "missing own data file": (
        _mod(("own_data", "inputs"), {"mine": "nowhere_tuning.mat"}),
        r"own_data\.inputs\.mine.*nowhere_tuning\.mat does not exist",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_bad_config_is_rejected_naming_the_key(case):
    modify, message = BAD_CONFIGS[case]
    cfg = modify(copy.deepcopy(default_config()))
    with pytest.raises((ConfigError, WorkflowError), match=message):
        checked(cfg)


@pytest.mark.parametrize(
    "case,message",
    [
        ("unknown top-level key", "Additional properties are not allowed ('seeed' was unexpected)"),
        ("even sample count for 1-d", "config key 'manifolds.affine_1d.n_samples': must be odd"),
    ],
)
def test_bad_config_stops_the_workflow_before_any_job(workdir, case, message):
    modify, _ = BAD_CONFIGS[case]
    bad = workdir / "bad.yaml"
    bad.write_text(yaml.safe_dump(modify(default_config())))
    proc = run_snakemake("--directory", workdir, "--cores", "1", "--configfile", bad, check=False)
    assert proc.returncode != 0
    assert message in proc.stdout + proc.stderr
    assert not (workdir / "results").exists() and not (workdir / "resources").exists()


def test_own_data_is_imported_and_analysed_by_the_workflow(workdir):
    rng = np.random.default_rng(0)
    scipy.io.savemat(workdir / "mine_tuning.mat", {"tuning_function": rng.standard_normal((2, 12, 5, 4)), "data_titles": np.array([["V1"], ["IT"]], dtype=object)})
    cfg = workdir / "own.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "seed": 1,
                "networks": {},
                "manifolds": {},
                "geometry": {"n_t": 50},
                "own_data": {"inputs": {"mine": "mine_tuning.mat"}},
            }
        )
    )
    run_snakemake("--directory", workdir, "--cores", "2", "--configfile", cfg)
    with load_dataset(workdir / "results/own/mine/dataset.nc") as ds:
        assert dict(ds["tuning"].sizes) == {"session": 2, "neuron": 12, "sample": 5, "object": 4}
    from dnn_manifolds.report.tables import read_table

    table = read_table(workdir / "results/own/mine/table.csv")
    sessions = table[["network", "manifold", "kind", "layer", "layer_index"]].drop_duplicates()
    assert sessions.values.tolist() == [["mine", "mine", "own", "V1", 0], ["mine", "mine", "own", "IT", 1]]
    assert (workdir / "logs/own/mine/import.log").exists()


def test_workflow_is_snakefmt_formatted():
    import subprocess
    import sys
    from pathlib import Path

    exe = Path(sys.executable).with_name("snakefmt")
    proc = subprocess.run([str(exe), "--check", "Snakefile", "workflow/"], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_snakemake_lint_is_clean(workdir):
    proc = run_snakemake("--directory", workdir, "--lint")
    assert "Congratulations, your workflow is in a good condition!" in proc.stdout + proc.stderr


def test_corrupt_input_stops_the_workflow_and_nothing_downstream_is_made(workdir):
    import h5py

    path = workdir / "cut_tuning.mat"
    with h5py.File(path, "w", userblock_size=512) as fh:
        fh.create_dataset("tuning_function", data=np.random.default_rng(0).standard_normal((30, 20, 40, 2)))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    cfg = workdir / "own.yaml"
    cfg.write_text(yaml.safe_dump({"seed": 1, "networks": {}, "manifolds": {}, "own_data": {"inputs": {"cut": "cut_tuning.mat"}}}))
    proc = run_snakemake("--directory", workdir, "--cores", "2", "--configfile", cfg, check=False)
    assert proc.returncode != 0
    log = (workdir / "logs/own/cut/import.log").read_text()
    assert "cut_tuning.mat: variable 'tuning_function': cannot be read" in log
    assert not (workdir / "results/own/cut").exists() or not any((workdir / "results/own/cut").iterdir())


def test_jobs_import_the_package_of_this_checkout(monkeypatch, tmp_path):
    from dnn_manifolds.workflow.config import export_source_path

    monkeypatch.setenv("PYTHONPATH", f"/elsewhere{os.pathsep}{REPO / 'src'}")
    export_source_path(REPO / "src")
    export_source_path(REPO / "src")
    assert os.environ["PYTHONPATH"].split(os.pathsep) == [str((REPO / "src").resolve()), "/elsewhere"]


def test_experiments_and_replicates_expand_into_keyed_results():
    cfg = default_config()
    cfg["manifolds"]["affine_1d"]["replicates"] = [{"objects_seed": 3}, {"neuron_seed": 9}]
    cfg["manifolds"]["cloud"]["networks"] = ["democnn"]
    cfg["experiments"] = {
        "spheres": {"analysis": "capacity", "manifolds": ["affine_*"], "layers": ["pixels", "relu4"], "grid": {"balls": ["floor", "ceil"]}},
        "shuffle": {"analysis": "geometry", "networks": ["democnn"], "grid": [{"control": "shuffle"}, {"zscore": True}]},
    }
    c = checked(cfg)
    assert [m for m in c.manifolds] == ["affine_1d", "affine_1d_r1", "affine_1d_r2", "cloud"]
    rep = c.manifolds["affine_1d_r2"]
    assert (rep.manifold_set, rep.replicate, rep.neuron_seed, rep.objects_seed) == ("affine_1d", 2, 9, None)
    path = lambda *a: "/".join(a)  # noqa: E731
    entries = c.analysis_entries(path)
    assert not any(e["manifold"] == "cloud" and e["network"] == "alexnet_untrained" for e in entries)
    spheres = [e for e in entries if e["experiment"] == "spheres"]
    assert {e["manifold"] for e in spheres} == {"affine_1d", "affine_1d_r1", "affine_1d_r2"}
    assert {e["layer"] for e in spheres} == {"pixels", "relu4"}
    keys = [(e["network"], e["manifold"], e["layer"], e["transform"], e["experiment"]) for e in entries]
    assert len(keys) == len(set(keys))
    jobs = c.analysis_jobs(path)
    sphere_jobs = [j for j in jobs if j["experiment"] == "spheres"]
    assert all(j["reference"].endswith("/geometry") and j["analysis"] == "capacity" for j in sphere_jobs)
    assert all(j["manifolds"] == ["affine_1d", "affine_1d_r1", "affine_1d_r2"] for j in sphere_jobs)  # one job, three sets
    shuffle = [j for j in jobs if j["experiment"] == "shuffle"]
    assert {j["network"] for j in shuffle} == {"democnn"} and all(j["reference"] is None for j in shuffle)
    files = [j["path"] for j in jobs]
    assert len(files) == len(set(files))
    exp = c.experiment_for("shuffle", "point-cloud")
    assert exp.variant_options()[0].method == "point_cloud" and len(exp.variants) == 2
