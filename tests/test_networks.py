"""Tests of dnn_manifolds.generation.networks: layer lists, recording hooks, unit subsets, weights handling.

No weights are downloaded: models are untrained (seeded) or loaded from files the tests write.
"""

from __future__ import annotations

import urllib.error

import numpy as np
import pytest
import torch

from dnn_manifolds import cli
from dnn_manifolds.generation.networks import (
    SLUG_RE,
    Network,
    WeightsError,
    load_model,
    network_layers,
    select_units,
)

torch.set_num_threads(1)


# ----------------------------------------------------------------------------- layer lists


@pytest.mark.parametrize(
    ("name", "layer_set", "count"),
    [("alexnet", "default", 21), ("vgg16", "default", 38), ("resnet50", "default", 40),
     ("resnet50", "all", 176), ("democnn", "default", 14)],
)
def test_layer_counts_follow_the_spec(name, layer_set, count):
    layers = network_layers(name, layer_set=layer_set)
    slugs = [lay.slug for lay in layers]
    assert len(layers) == count
    assert len(set(slugs)) == count
    assert all(SLUG_RE.match(s) for s in slugs)
    assert slugs[0] == "pixels" and slugs[-1] == "prob"


def test_layer_names_match_the_original():
    alex = [lay.slug for lay in network_layers("alexnet")]
    assert alex[1:4] == ["conv1", "relu1", "pool1"] and alex[-4:] == ["fc7", "relu7", "fc8", "prob"]
    vgg = [lay.slug for lay in network_layers("vgg16")]
    assert vgg[1:6] == ["conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1"]
    assert vgg.count("pool5") == 1 and vgg[-6:] == ["fc6", "relu6", "fc7", "relu7", "fc8", "prob"]
    res = [lay.slug for lay in network_layers("resnet50")]
    assert res[:7] == ["pixels", "conv1", "bn_conv1", "conv1_relu", "pool1", "res2a", "res2a_relu"]
    assert res[-5:] == ["res5c", "res5c_relu", "pool5", "fc1000", "prob"]
    full = [lay.slug for lay in network_layers("resnet50", layer_set="all")]
    i = full.index("res2a_branch1")
    assert full[i:i + 7] == ["res2a_branch1", "bn2a_branch1", "res2a_branch2a", "bn2a_branch2a",
                             "res2a_branch2a_relu", "res2a_branch2b", "bn2a_branch2b"]
    assert "res3a_branch1" in full and "res3b_branch1" not in full


def test_any_torchvision_model_gets_a_generic_layer_list():
    slugs = [lay.slug for lay in network_layers("mobilenet_v3_small")]
    assert slugs[0] == "pixels" and slugs[-1] == "prob" and len(slugs) > 10
    assert all(SLUG_RE.match(s) for s in slugs)
    with pytest.raises(ValueError, match="unknown network 'alexnett'"):
        network_layers("alexnett")


# ----------------------------------------------------------------------------- recording


@pytest.fixture(scope="module")
def alexnet_small():
    return Network("alexnet", weights="untrained", input_size=64, max_units=10**7)


def _images(n, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).uniform(0, 255, size=(n, 3, 64, 64)).astype(np.float32))


def test_pre_relu_outputs_are_kept_apart_from_post_relu(alexnet_small):
    out = alexnet_small.record(_images(2), ["conv1", "relu1", "fc6", "relu6"])
    assert out["conv1"].min() < 0  # an in-place ReLU would have overwritten it
    np.testing.assert_array_equal(out["relu1"], np.maximum(out["conv1"], 0))
    np.testing.assert_array_equal(out["relu6"], np.maximum(out["fc6"], 0))


def test_pixel_layer_is_the_grayscale_image_and_prob_sums_to_one(alexnet_small):
    imgs = _images(2)
    out = alexnet_small.record(imgs, ["pixels", "prob"])
    np.testing.assert_allclose(out["pixels"], (imgs.mean(dim=1) / 255).reshape(2, -1).numpy(), rtol=1e-6)
    np.testing.assert_allclose(out["prob"].sum(axis=1), 1, rtol=1e-5)


def test_resnet_block_sums_are_recorded_before_the_relu():
    net = Network("resnet18", weights="untrained", input_size=32, max_units=10**7)
    out = net.record(_images(1), ["res2a", "res2a_relu", "res3a"])
    assert out["res2a"].min() < 0
    np.testing.assert_array_equal(out["res2a_relu"], np.maximum(out["res2a"], 0))
    assert net.layer_shapes()["res3a"] == (128, 4, 4)


def test_recording_does_not_depend_on_which_layers_are_asked_for():
    net = Network("alexnet", weights="untrained", input_size=64)
    both = net.record(_images(2), ["conv2", "relu5"])
    one = net.record(_images(2), ["relu5"])
    np.testing.assert_array_equal(both["relu5"], one["relu5"])


def test_unit_subsets_are_fixed_seeded_and_bounded():
    a = select_units(10_000, neuron_seed=0, layer_position=3)
    assert a.size == 4096 and np.all(np.diff(a) > 0) and a.max() < 10_000
    np.testing.assert_array_equal(a, select_units(10_000, neuron_seed=0, layer_position=3))
    assert not np.array_equal(a, select_units(10_000, neuron_seed=1, layer_position=3))
    assert not np.array_equal(a, select_units(10_000, neuron_seed=0, layer_position=4))
    np.testing.assert_array_equal(select_units(1000, neuron_seed=0, layer_position=3), np.arange(1000))


def test_network_units_use_the_layer_position(alexnet_small):
    net = Network("alexnet", weights="untrained", input_size=64, neuron_seed=2)
    pos = [lay.slug for lay in net.layers].index("conv1")
    n = int(np.prod(net.layer_shapes()["conv1"]))
    assert n > 4096
    np.testing.assert_array_equal(net.units("conv1"), select_units(n, neuron_seed=2, layer_position=pos))
    assert net.units("fc8").size == 1000  # small layers keep every unit


def test_unknown_layers_are_named_with_the_choices(alexnet_small):
    with pytest.raises(ValueError, match="unknown layer\\(s\\) \\['conv9'\\].*'conv1'"):
        alexnet_small.record(_images(1), ["conv9"])


# ----------------------------------------------------------------------------- weights


def test_untrained_initialisation_is_seeded():
    a, meta = load_model("democnn", weights="untrained", init_seed=1)
    b, _ = load_model("democnn", weights="untrained", init_seed=1)
    c, _ = load_model("democnn", weights="untrained", init_seed=2)
    pa, pb, pc = (next(m.parameters()) for m in (a, b, c))
    assert torch.equal(pa, pb) and not torch.equal(pa, pc)
    assert meta["weights"] == "untrained:seed1"


def test_weights_files_load_and_wrong_architectures_are_refused(tmp_path):
    model, _ = load_model("resnet18", weights="untrained", init_seed=5)
    torch.save(model.state_dict(), tmp_path / "resnet18.pth")
    loaded, meta = load_model("resnet18", weights="imagenet", weights_path=tmp_path / "resnet18.pth")
    assert torch.equal(next(loaded.parameters()), next(model.parameters()))
    assert meta["weights"] == "imagenet:file:resnet18.pth"
    with pytest.raises(WeightsError, match="do not fit its architecture"):
        load_model("alexnet", weights=tmp_path / "resnet18.pth")
    demo, _ = load_model("democnn", weights="untrained")
    torch.save({"architecture": "democnn", "state_dict": demo.state_dict(), "n_classes": 64},
               tmp_path / "demo.pt")
    with pytest.raises(WeightsError, match="checkpoint is for architecture 'democnn', not 'resnet18'"):
        load_model("resnet18", weights=tmp_path / "demo.pt")
    (tmp_path / "junk.pt").write_text("junk")
    with pytest.raises(WeightsError, match="cannot be read as torch weights"):
        load_model("democnn", weights=tmp_path / "junk.pt")
    with pytest.raises(FileNotFoundError):
        load_model("democnn", weights=tmp_path / "missing.pt")


def test_imagenet_weights_offline_give_a_clear_error(monkeypatch, tmp_path):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(WeightsError, match="weights_path=<alexnet-owt-.*pth>.*untrained"):
        load_model("alexnet", weights="imagenet")
    with pytest.raises(WeightsError, match="democnn has no ImageNet weights"):
        load_model("democnn", weights="imagenet")
    with pytest.raises(ValueError, match="weights must be 'imagenet', 'untrained' or a file path"):
        load_model("democnn", weights=3)


def test_cli_lists_layer_slugs(capsys):
    assert cli.main(["layers", "alexnet"]) == 0
    lines = capsys.readouterr().out.split()
    assert len(lines) == 21 and lines[0] == "pixels"
