"""The workflow on a user's own model, images and recordings: the own-model preset end to end
on files the test makes, bad models and image folders stopped at parse time with one line,
an assembly through own_data."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr
import yaml
from PIL import Image
from snakemake.utils import validate

import toy_models
from conftest import REPO, run_snakemake
from dnn_manifolds.report.tables import read_table
from dnn_manifolds.workflow.config import ConfigError, check_config

SCHEMA = str(REPO / "workflow/schemas/config.schema.yaml")
PRESET = REPO / "config/own-model.yaml"


def make_user_files(workdir: Path, *, n_objects=4, n_images=8, size=(40, 40)) -> Path:
    """What a user brings: my_model.py (the tests' TinyNet), its weights, an image folder."""
    shutil.copy(toy_models.__file__, workdir / "my_model.py")
    (workdir / "data").mkdir(exist_ok=True)
    torch.manual_seed(0)
    torch.save(toy_models.build().state_dict(), workdir / "data/my_model.pt")
    rng = np.random.default_rng(0)
    for o in range(n_objects):
        colour = rng.integers(0, 255, 3)
        folder = workdir / "data/images" / f"object{o}"
        folder.mkdir(parents=True, exist_ok=True)
        for k in range(n_images):
            arr = np.full((size[1], size[0], 3), 230, np.uint8)
            y, x = rng.integers(4, 14, 2)
            arr[y:y + 14 + 3 * o, x:x + 12] = np.clip(colour + rng.integers(-30, 30, 3), 0, 255)
            Image.fromarray(arr).save(folder / f"{k}.png")
    return workdir


def preset():
    return yaml.safe_load(PRESET.read_text())


def checked(cfg, base_dir):
    validate(cfg, schema=SCHEMA)
    return check_config(cfg, base_dir=base_dir)


def test_the_preset_checks_and_dry_runs(workdir):
    make_user_files(workdir)
    cfg = checked(preset(), workdir)
    net = cfg.networks["mine"]
    assert net.layers == ("pixels", "features_0", "features_1", "features_2", "head")
    assert set(net.files) == {"data/my_model.pt"} and cfg.stimuli_source == "images"
    assert {m.n_objects for m in cfg.manifolds.values()} == {4}  # every object of the folder
    assert len(cfg.image_files) == 32
    proc = run_snakemake("-n", "--quiet", "rules", "--directory", workdir, "--cores", "2", "--configfile", workdir / "config/own-model.yaml")
    out = proc.stdout + proc.stderr
    for rule in ("image_stimuli", "generate_shard", "collect", "capacity", "geometry", "aggregate", "plots", "contact_sheet"):
        assert rule in out, rule


def _mod(cfg, path, value):
    node = cfg
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return cfg


BAD = {
    "no such callable": ((("networks", "mine", "architecture"), "my_model:biuld"),
                         r"networks\.mine\.architecture.*'my_model' has no callable 'biuld'.*did you mean \['build'"),
    "no such module": ((("networks", "mine", "architecture"), "my_modle:build"),
                       r"networks\.mine\.architecture.*cannot import module 'my_modle'"),
    "layer that does not exist": ((("networks", "mine", "layers"), ["pixels", "features.9"]),
                                  r"networks\.mine\.layers.*unknown layer\(s\) \['features\.9'\]; this network has: \['pixels', 'features_0'"),
    "weights that do not fit": ((("networks", "mine", "kwargs"), {"width": 5}),
                                r"networks\.mine\.weights.*my_model\.pt: weights do not fit my_model:build: .*shape mismatch"),
    "missing weights file": ((("networks", "mine", "weights"), "data/nowhere.pt"),
                             r"networks\.mine\.weights.*'data/nowhere\.pt' is neither one of \['builtin', 'untrained'\]"),
    "no such preprocessing function": ((("networks", "mine", "preprocessing"), {"function": "my_model:preprocesss"}),
                                       r"networks\.mine\.preprocessing\.function.*'my_model' has no callable 'preprocesss'"),
    "a preprocessing function that fails": ((("networks", "mine", "preprocessing"), {"function": "my_model:not_a_module"}),
                                            r"networks\.mine\.preprocessing.*preprocessing function my_model:not_a_module failed: TypeError"),
    "too many objects": ((("manifolds", "cloud", "n_objects"), 5),
                         r"manifolds\.cloud\.n_objects.*5 objects but the stimulus set has 4 objects in stimuli\.images\.path"),
    "imagenet weights on a user model": ((("networks", "mine", "weights"), "imagenet"),
                                         r"networks\.mine\.weights.*'imagenet' is for the named networks"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_models_are_rejected_at_parse_time_with_one_line(workdir, case):
    make_user_files(workdir)
    (path, value), message = BAD[case]
    with pytest.raises(ConfigError, match=message) as err:
        checked(_mod(preset(), path, value), workdir)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (lambda d: shutil.rmtree(d / "data/images/object1") or [shutil.rmtree(d / f"data/images/object{k}") for k in (2, 3)],
         r"stimuli\.images\.path.*needs at least 2 objects to form dichotomies; found 1"),
        (lambda d: (d / "data/images/object2/3.png").write_bytes(b"not an image"),
         r"stimuli\.images\.path.*object2/3\.png: cannot be read as an image"),
        (lambda d: Image.new("RGB", (41, 40)).save(d / "data/images/object3/9.png"),
         r"stimuli\.images\.path.*images must all have one size; 0\.png is 40×40 but .*object3/9\.png is 41×40"),
    ],
)
def test_bad_image_folders_are_rejected_at_parse_time_with_one_line(workdir, spoil, message):
    make_user_files(workdir)
    spoil(workdir)
    with pytest.raises(ConfigError, match=message) as err:
        checked(preset(), workdir)
    assert "\n" not in str(err.value)


def test_a_bad_model_stops_the_workflow_before_any_job(workdir):
    make_user_files(workdir)
    bad = workdir / "bad.yaml"
    bad.write_text(yaml.safe_dump(_mod(preset(), ("networks", "mine", "architecture"), "my_model:biuld")))
    proc = run_snakemake("--directory", workdir, "--cores", "1", "--configfile", bad, check=False)
    assert proc.returncode != 0
    assert "config key 'networks.mine.architecture': model 'my_model:biuld': 'my_model' has no callable 'biuld'" in proc.stdout + proc.stderr
    assert not (workdir / "results").exists() and not (workdir / "resources").exists()


@pytest.mark.workflow
def test_own_model_on_own_images_gives_tables_plots_and_report_with_one_command(workdir):
    make_user_files(workdir)
    run_snakemake("--directory", workdir, "--cores", "2", "--configfile", workdir / "config/own-model.yaml",
                  "--report", workdir / "results/report.html", "--report-after-run")
    table = read_table(workdir / "results/tables/results.csv")
    assert set(table["network"]) == {"mine"} and set(table["kind"]) == {"1d", "point-cloud"}
    assert set(table["layer"]) == {"pixels", "features_0", "features_1", "features_2", "head"}
    assert set(table["analysis"]) == {"capacity", "geometry"}
    cap = table[(table["measure"] == "capacity") & (table["analysis"] == "capacity")]
    assert len(cap) == 15 and np.isfinite(cap["value"].astype(float)).all()
    from dnn_manifolds.report.catalogue import FIGURES

    for plot in FIGURES:
        assert (workdir / f"results/plots/{plot}.png").stat().st_size > 0
    assert list((workdir / "results/plots/separability").glob("*/*.png"))
    assert (workdir / "results/plots/contact_sheets/affine_1d_rotation.png").exists()
    assert (workdir / "results/report.html").stat().st_size > 0
    with xr.open_dataset(workdir / "results/datasets/mine/cloud.nc", engine="h5netcdf") as ds:
        assert sorted(ds["object_label"].values) == ["object0", "object1", "object2", "object3"]
        assert ds.sizes["sample"] == 8


def _assembly(path: Path) -> None:
    rng = np.random.default_rng(3)
    objects = np.repeat(["a", "b", "c"], [5, 6, 5])
    values = rng.standard_normal((32, 40)) + np.tile(np.repeat(rng.standard_normal((3, 40)), [5, 6, 5], axis=0), (2, 1))
    xr.DataArray(
        values, dims=("presentation", "neuroid"), name="neural",
        coords={"object_name": ("presentation", np.tile(objects, 2)),
                "stimulus_id": ("presentation", np.tile([f"s{i}" for i in range(16)], 2)),
                "region": ("neuroid", np.repeat(["V4", "IT"], [15, 25]))},
    ).to_netcdf(path, engine="h5netcdf")


def test_an_assembly_through_own_data(workdir):
    _assembly(workdir / "assembly.nc")
    cfg = {"seed": 1, "networks": {}, "manifolds": {}, "geometry": {"n_t": 40},
           "capacity": {"options": {"expected_precision": 0.25}},
           "own_data": {"inputs": {"neural": {"path": "assembly.nc", "object_coord": "object_name",
                                              "session_coord": "region", "average_by": "stimulus_id"}}}}
    checked(copy.deepcopy(cfg), workdir)
    (workdir / "own.yaml").write_text(yaml.safe_dump(cfg))
    run_snakemake("--directory", workdir, "--cores", "2", "--configfile", workdir / "own.yaml")
    with xr.open_dataset(workdir / "results/own/neural/dataset.nc", engine="h5netcdf") as ds:
        assert list(ds["session"].values) == ["IT", "V4"] and ds.sizes["sample"] == 6
    from dnn_manifolds.report.tables import read_table

    table = read_table(workdir / "results/own/neural/table.csv")
    assert set(table["layer"]) == {"IT", "V4"} and set(table["kind"]) == {"own"} and set(table["network"]) == {"neural"}
