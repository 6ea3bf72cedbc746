"""Tests of dnn_manifolds.generation.manifolds (shards, collect, point clouds) and dnn_manifolds.generation.training."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import xarray as xr

from dnn_manifolds import cli
from dnn_manifolds.data.storage import load_dataset
from dnn_manifolds.generation.collect import collect_shards
from dnn_manifolds.generation.manifolds import generate_shard, parse_objects, plan_shards
from dnn_manifolds.generation.embedded import make_embedded_stimuli
from dnn_manifolds.generation.stimuli import StimulusSet
from dnn_manifolds.generation.templates import choose_categories, choose_templates
from dnn_manifolds.generation.training import train_demo_cnn
from dnn_manifolds.generation.transforms import one_dimensional_transforms

torch.set_num_threads(1)

LAYERS = ["pixels", "conv2", "relu3", "fc5", "prob"]


@pytest.fixture(scope="module")
def stim(tmp_path_factory):
    return make_embedded_stimuli(tmp_path_factory.mktemp("stim") / "s.h5", seed=1, n_categories=6,
                                 n_exemplars=5)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory, stim):
    out = tmp_path_factory.mktemp("train")
    return train_demo_cnn(out, stimuli_path=stim, epochs=10, seed=0, batch_size=10, learning_rate=3e-3)


def _gen(path, stim, **kw):
    base = dict(stimuli_path=stim, network="democnn", weights="untrained", layers=LAYERS,
                manifold_kind="1d", n_objects=4, n_samples=5, range_factor=4, batch_size=4)
    base.update(kw)
    return generate_shard(path, **base)


# ----------------------------------------------------------------------------- shards + collect


@pytest.mark.parametrize(("kind", "transforms"), [("1d", ["x-translation", "rotation"]), ("2d", ["shear"])])
def test_shards_then_collect_equal_a_single_pass(tmp_path, stim, kind, transforms):
    shards, singles = [], []
    for t in transforms:
        shards.append(_gen(tmp_path / f"{t}_a.nc", stim, manifold_kind=kind, transform=t, objects="0:3"))
        shards.append(_gen(tmp_path / f"{t}_b.nc", stim, manifold_kind=kind, transform=t, objects=[3]))
        singles.append(_gen(tmp_path / f"{t}_all.nc", stim, manifold_kind=kind, transform=t))
    split = load_dataset(collect_shards(shards[::-1], tmp_path / "split.nc"))
    whole = load_dataset(collect_shards(singles, tmp_path / "whole.nc"))
    np.testing.assert_array_equal(split["tuning"].values, whole["tuning"].values)
    for name in ("affine", "image_index"):
        np.testing.assert_array_equal(split[name].values, whole[name].values)
    assert list(split["session"].values) == [f"{lay}/{t}" for lay in LAYERS for t in transforms]


def test_collect_streamed_session_by_session_writes_the_same_dataset(tmp_path, stim, monkeypatch):
    """Datasets larger than memory are written one session at a time, read straight from the
    shards: the file holds exactly what the in-memory path writes."""
    from dnn_manifolds.generation import collect

    shards = [_gen(tmp_path / "a.nc", stim, manifold_kind="2d", transform="shear", objects="0:3"),
              _gen(tmp_path / "b.nc", stim, manifold_kind="2d", transform="shear", objects=[3])]
    memory = load_dataset(collect_shards(shards, tmp_path / "memory.nc"))
    monkeypatch.setattr(collect, "STREAM_BYTES", 0)
    streamed = load_dataset(collect_shards(shards, tmp_path / "streamed.nc"))
    xr.testing.assert_identical(
        streamed.drop_attrs(deep=False).load(), memory.drop_attrs(deep=False).load()
    )
    assert streamed["tuning"].encoding["chunksizes"] == memory["tuning"].encoding["chunksizes"]
    assert {k: v for k, v in streamed.attrs.items() if k != "created"} == {
        k: v for k, v in memory.attrs.items() if k != "created"
    }


def test_collected_dataset_has_the_documented_coordinates(tmp_path, stim):
    shard = _gen(tmp_path / "x.nc", stim, transform="x-scale", objects_seed=0)
    ds = load_dataset(collect_shards([shard], tmp_path / "d.nc"))
    with StimulusSet(stim) as s:
        templates = choose_templates(s.labels, 4, seed=0)
        labels = s.labels[templates]
        centre = s.images(templates)[:, 40:104, 40:104].astype(np.float64).mean(axis=3) / 255
    np.testing.assert_array_equal(ds["object"].values, templates)
    assert list(ds["object_label"].values) == list(labels)
    assert list(ds["layer"].values) == LAYERS and set(ds["transform"].values) == {"x-scale"}
    assert set(ds["network"].values) == {"democnn-untrained"}
    _, values = one_dimensional_transforms("x-scale", range_factor=4, n_samples=5)
    np.testing.assert_allclose(ds["transform_value"].values[0], values)
    # the centre sample is the unwarped template: the pixel layer shows its grayscale crop
    pixels = ds["tuning"].sel(session="pixels/x-scale").values[:, 2, :]  # (neuron, object)
    np.testing.assert_allclose(pixels.T, centre.reshape(4, -1), atol=1e-4)
    assert json.loads(ds.attrs["image_indices"]) == [int(i) for i in templates]
    assert json.loads(ds.attrs["seeds"])["objects_seed"] == 0
    # small layers are padded with missing neurons: prob of the untrained democnn has 64 units
    prob = ds["tuning"].sel(session="prob/x-scale").values
    assert np.isnan(prob[64:]).all() and not np.isnan(prob[:64]).any()


def test_collect_refuses_gaps_overlaps_and_mismatches(tmp_path, stim):
    a = _gen(tmp_path / "a.nc", stim, transform="x-shear", objects="0:2")
    b = _gen(tmp_path / "b.nc", stim, transform="x-shear", objects="1:4")
    c = _gen(tmp_path / "c.nc", stim, transform="x-shear", objects="2:4", range_factor=2)
    with pytest.raises(ValueError, match="no shard has object positions \\[2, 3\\]"):
        collect_shards([a], tmp_path / "out.nc")
    with pytest.raises(ValueError, match="object position 1 of transform 'x-shear' is in two shards"):
        collect_shards([a, b], tmp_path / "out.nc")
    with pytest.raises(ValueError, match="shards disagree on config_digest"):
        collect_shards([a, c], tmp_path / "out.nc")
    assert not (tmp_path / "out.nc").exists()


def test_generate_rejects_bad_arguments(tmp_path, stim):
    with pytest.raises(ValueError, match="unknown manifold_kind '3d'"):
        _gen(tmp_path / "x.nc", stim, manifold_kind="3d", transform="x-shear")
    with pytest.raises(ValueError, match="unknown transform 'shear' for manifold_kind '1d'"):
        _gen(tmp_path / "x.nc", stim, transform="shear")
    with pytest.raises(ValueError, match="odd"):
        _gen(tmp_path / "x.nc", stim, transform="x-shear", n_samples=4)
    with pytest.raises(ValueError, match="needs n_samples and range_factor"):
        _gen(tmp_path / "x.nc", stim, transform="x-shear", range_factor=None)
    with pytest.raises(ValueError, match="positions in 0..3"):
        _gen(tmp_path / "x.nc", stim, transform="x-shear", objects="2:6")
    assert not (tmp_path / "x.nc").exists()


def test_plan_shards_covers_every_object_of_every_transform():
    plan = plan_shards(manifold_kind="2d", n_objects=10, objects_per_shard=4)
    assert [p["name"] for p in plan[:3]] == ["translation_o000-003", "translation_o004-007",
                                             "translation_o008-009"]
    assert sorted(o for p in plan if p["transform"] == "shear" for o in p["objects"]) == list(range(10))
    assert parse_objects("0:2,5", 6) == [0, 1, 5]


# ----------------------------------------------------------------------------- point clouds


def test_point_cloud_variants(tmp_path, stim, checkpoints):
    final = checkpoints[-1]
    kw = dict(manifold_kind="point-cloud", n_objects=3, n_samples=None, range_factor=None,
              weights=final, objects_seed=2)
    full = load_dataset(collect_shards([_gen(tmp_path / "f.nc", stim, transform="full", **kw)],
                                       tmp_path / "full.nc"))
    with StimulusSet(stim) as s:
        cats = choose_categories(s.categories, 3, seed=2)
        idx = full["image_index"].values[0]  # (sample, object)
        for p, cat in enumerate(cats):
            np.testing.assert_array_equal(idx[:, p], s.category_images(cat))
    assert list(full["object_label"].values) == list(cats)
    shuffled = load_dataset(collect_shards([_gen(tmp_path / "s.nc", stim, transform="shuffled", **kw)],
                                           tmp_path / "sh.nc"))
    sh_idx = shuffled["image_index"].values[0]
    assert sorted(sh_idx.ravel()) == sorted(idx.ravel()) and not np.array_equal(sh_idx, idx)
    top = load_dataset(collect_shards(
        [_gen(tmp_path / "t.nc", stim, transform="top", top_fraction=0.4, **kw)], tmp_path / "top.nc"))
    top_idx = top["image_index"].values[0]
    assert top_idx.shape == (2, 3)  # 40 % of 5 exemplars
    # the kept images are those the trained network scores highest for their category
    logits = full["tuning"].sel(session="fc5/full").values  # (neuron=class, sample, object)
    classes = [f"cat{k:03d}" for k in range(6)]
    for p, cat in enumerate(cats):
        scores = logits[classes.index(cat), :, p]
        best = np.sort(idx[np.argsort(-scores)[:2], p])
        np.testing.assert_array_equal(np.sort(top_idx[:, p]), best)


def test_point_cloud_subsets_pad_missing_samples(tmp_path, stim):
    shard = _gen(tmp_path / "p.nc", stim, manifold_kind="point-cloud", transform="full", n_objects=2,
                 n_samples=3, range_factor=None)
    ds = load_dataset(collect_shards([shard], tmp_path / "p_out.nc"))
    assert ds.sizes["sample"] == 3 and (ds["image_index"].values >= 0).all()


# ----------------------------------------------------------------------------- training


def test_training_checkpoints_are_networks_that_learn(stim, checkpoints):
    assert [p.name for p in checkpoints] == [f"epoch{e:03d}.pt" for e in range(11)]
    log = json.loads((checkpoints[0].parent / "training_log.json").read_text())["log"]
    assert log[-1]["train_accuracy"] > max(0.6, log[0]["train_accuracy"] + 0.3)
    first = torch.load(checkpoints[0], weights_only=True)
    assert first["epoch"] == 0 and first["architecture"] == "democnn" and first["n_classes"] == 6
    from dnn_manifolds.generation.networks import load_model

    untrained, _ = load_model("democnn", weights="untrained", init_seed=0)
    untrained_state = {k: v for k, v in untrained.state_dict().items()}
    assert all(torch.equal(first["state_dict"][k], v) for k, v in untrained_state.items()
               if k.startswith("features"))


def test_several_checkpoints_become_network_sessions(tmp_path, stim, checkpoints):
    shard = _gen(tmp_path / "c.nc", stim, weights=[checkpoints[0], checkpoints[-1]], transform="y-shear",
                 layers=["pixels", "fc5"])
    ds = load_dataset(collect_shards([shard], tmp_path / "cc.nc"))
    assert list(ds["session"].values) == ["democnn-epoch000/pixels/y-shear", "democnn-epoch000/fc5/y-shear",
                                          "democnn-epoch010/pixels/y-shear", "democnn-epoch010/fc5/y-shear"]
    t = ds["tuning"].values
    np.testing.assert_array_equal(t[0], t[2])  # pixels do not depend on the weights
    assert not np.allclose(t[1, :6], t[3, :6])


def test_cli_generate_collect_and_train(tmp_path, stim):
    shard = tmp_path / "g.nc"
    args = ["generate", str(stim), str(shard), "--network", "democnn", "--weights", "untrained",
            "--layers", "pixels", "fc5", "--transform", "translation", "--kind", "2d", "--n-objects", "2",
            "--n-samples", "3", "--range-factor", "2"]
    assert cli.main(args) == 0
    assert cli.main(["collect", str(shard), str(tmp_path / "d.nc")]) == 0
    assert load_dataset(tmp_path / "d.nc").sizes["session"] == 2
    assert cli.main(args[:-2] + ["--range-factor", "-1"]) == 2
    assert cli.main(["train-demo", str(stim), str(tmp_path / "t"), "--epochs", "0"]) == 0
    assert (tmp_path / "t" / "epoch000.pt").exists()
    with xr.open_dataset(shard, engine="h5netcdf") as ds:
        assert ds["activation"].dims == ("network", "object", "sample", "unit")
        assert list(ds["layer"].values) == ["pixels", "fc5"]
        assert (ds["unit_layer"].values == 0).sum() == 4096


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_gpu_shard_matches_cpu(tmp_path, stim):
    cpu = _gen(tmp_path / "cpu.nc", stim, manifold_kind="2d", transform="translation")
    gpu = _gen(tmp_path / "gpu.nc", stim, manifold_kind="2d", transform="translation", device="cuda")
    with xr.open_dataset(cpu, engine="h5netcdf") as a, xr.open_dataset(gpu, engine="h5netcdf") as b:
        np.testing.assert_allclose(a["activation"].values, b["activation"].values, rtol=1e-3, atol=1e-3)
        np.testing.assert_array_equal(a["affine"].values, b["affine"].values)
        # IEEE float32 on the GPU (no TF32): every layer within float32 rounding of the CPU's
        for index in range(a.sizes["layer"]):
            units = a["unit_layer"].values == index
            x, y = a["activation"].values[..., units], b["activation"].values[..., units]
            assert np.abs(x - y).max() <= 1e-4 * max(np.abs(x).max(), 1e-30)


def test_full_float32_turns_tf32_off_on_cuda_only_and_restores():
    from dnn_manifolds.generation.runtime import full_float32

    conv = getattr(torch.backends.cudnn, "conv", None)
    if conv is not None and hasattr(conv, "fp32_precision"):  # PyTorch >= 2.9

        def flags():
            return conv.fp32_precision, torch.backends.cuda.matmul.fp32_precision

        full = ("ieee", "ieee")
    else:  # the legacy flags

        def flags():
            return torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32

        full = (False, False)
    before = flags()
    with full_float32("cpu"):
        assert flags() == before
    with full_float32("cuda:0"):
        assert flags() == full
    assert flags() == before
    with pytest.raises(KeyError), full_float32("cuda"):
        raise KeyError("restored on errors too")
    assert flags() == before


def test_trained_demo_cnn_separates_manifolds_better_than_pixels(tmp_path, stim, checkpoints):
    """The paper's effect, offline: 2-d translation manifolds of the 6 objects are separable
    with 5 random features of the trained last hidden layer far more often than with pixels or
    the untrained network (fraction of random dichotomies, capacity.separable_fraction)."""
    from dnn_manifolds.analysis.capacity import separable_fraction
    from dnn_manifolds.data.dataset import session_data

    shard = _gen(tmp_path / "e.nc", stim, weights=[checkpoints[0], checkpoints[-1]], layers=["pixels", "relu4"],
                 manifold_kind="2d", transform="translation", n_objects=6, n_samples=21, range_factor=8,
                 objects_seed=0)
    ds = load_dataset(collect_shards([shard], tmp_path / "e_out.nc"))
    frac = {str(s): separable_fraction(session_data(ds, str(s)), 5, rng=0).fraction for s in ds.session.values}
    trained = frac["democnn-epoch010/relu4/translation"]
    assert trained >= 0.5
    assert frac["democnn-epoch010/pixels/translation"] <= 0.3
    assert frac["democnn-epoch000/relu4/translation"] <= 0.3


@pytest.mark.parametrize("keep", [0.3, 0.9])
def test_collect_refuses_a_truncated_shard_and_writes_nothing(tmp_path, stim, keep):
    good = _gen(tmp_path / "a.nc", stim, transform="x-translation", objects="0:2")
    other = _gen(tmp_path / "b.nc", stim, transform="x-translation", objects="2:4")
    data = other.read_bytes()
    other.write_bytes(data[: int(len(data) * keep)])
    out = tmp_path / "out.nc"
    with pytest.raises(ValueError, match=r"b\.nc: shard cannot be read"):
        collect_shards([good, other], out)
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.nc", "b.nc"]


def test_truncated_stimulus_file_is_a_clear_error(tmp_path, stim):
    data = stim.read_bytes()
    bad = tmp_path / "thumbs.mat"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"thumbs\.mat: .*(cannot be read|truncated|damaged)"):
        with StimulusSet(bad) as s:
            s.images([len(s) - 1])
