"""Any PyTorch model: factories by import path or file, TorchScript archives, timm; weights
files; what can be recorded (module outputs, graph nodes, outputs); preprocessing; errors.

The models are defined in tests/toy_models.py (on the path as ``toy_models``); every file a
test needs (weights, TorchScript archives) is made by the test. No download.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

import toy_models
from dnn_manifolds import cli
from dnn_manifolds.errors import UserError
from dnn_manifolds.generation.networks import Network, WeightsError, load_model, network_layers
from dnn_manifolds.generation.user_models import ModelError, parse_model_source

torch.set_num_threads(1)
TOY = "toy_models:build_toy"


def _images(n, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).uniform(0, 255, size=(n, 3, 64, 64)).astype(np.float32))


@pytest.fixture(scope="module")
def toy():
    return Network(TOY, input_size=32, max_units=10**6)


# ----------------------------------------------------------------------------- sources


def test_model_sources_parse():
    assert parse_model_source("pkg.mod:make").kind == "factory"
    assert parse_model_source("models/net.py:Net.small").file == "models/net.py"
    assert parse_model_source("timm:resnet18") == parse_model_source("timm:resnet18")
    assert parse_model_source("torchscript:a/b.pt").file == "a/b.pt"
    for bad in ("pkg.mod:", "pkg mod:make", "timm:", "torchscript:", "mod:1x"):
        with pytest.raises(ModelError):
            parse_model_source(bad)


# ----------------------------------------------------------------------------- layers


def test_layers_are_modules_graph_nodes_and_the_output_in_forward_order(toy):
    names = [lay.name for lay in toy.layers]
    assert names[:3] == ["", "features.0", "features.1"]
    # the residual block: its conv, the functional sum (a graph node), its ReLU, the block itself
    i = names.index("block.conv")
    assert names[i:i + 4] == ["block.conv", "block.add", "block.relu", "block"]
    assert names[-3:] == ["flatten", "head", "output"]
    kinds = {lay.name: lay.kind for lay in toy.layers}
    assert kinds["block.add"] == kinds["flatten"] == "node" and kinds["block"] == "output" and kinds["output"] == "model"
    # default: leaves of nested Sequentials and the other top-level modules; the output is the head's
    assert [lay.slug for lay in toy.default_layers] == [
        "pixels", "features_0", "features_1", "features_2", "features_3", "features_4", "features_5", "block", "head"]
    assert toy.layer_shapes()["block_add"] == (8, 2, 2) and toy.layer_shapes()["flatten"] == (32,)


def test_recorded_values_equal_a_direct_forward_pass(toy):
    x = _images(3)
    out = toy.record(x, ["features.3", "block_add", "flatten", "block", "output"])
    m = toy.model
    with torch.no_grad():
        inp = toy.preprocess(x)
        f3 = m.features[:4](inp)
        f = m.features(inp)
        s = m.block.conv(f) + f
        logits = m.head(torch.flatten(torch.relu(s), 1))
    for slug, value in [("features_3", f3), ("block_add", s), ("flatten", torch.relu(s)), ("block", torch.relu(s)),
                        ("output", logits)]:
        np.testing.assert_allclose(out[slug], value.reshape(3, -1).numpy()[:, toy.units(slug)], rtol=1e-5, atol=1e-6)
    assert out["block_add"].min() < 0  # the block's in-place ReLU did not overwrite the sum


def test_a_graph_node_is_recorded_before_later_in_place_changes():
    net = Network("toy_models:build_inplace", input_size=16)
    node = next(lay for lay in net.layers if lay.name == "mul")
    x = _images(2)
    out = net.record(x, [node.slug, "output"])
    with torch.no_grad():
        expected = net.model.conv(net.preprocess(x)) * 2.0
    np.testing.assert_allclose(out[node.slug], expected.reshape(2, -1).numpy()[:, net.units(node.slug)], rtol=1e-5)
    np.testing.assert_allclose(out["output"], out[node.slug] + 100.0, rtol=1e-5)


def test_unit_subsets_follow_the_full_layer_list(toy):
    net = Network(TOY, input_size=32, max_units=16, neuron_seed=3)
    pos = [lay.slug for lay in net.layers].index("features_0")
    from dnn_manifolds.generation.networks import select_units

    np.testing.assert_array_equal(net.units("features_0"), select_units(4 * 32 * 32, neuron_seed=3, layer_position=pos, max_units=16))


def test_layers_are_named_by_slug_or_name_and_unknown_names_are_listed(toy):
    a = toy.record(_images(1), ["block.add", "features_0"])
    b = toy.record(_images(1), ["block_add", "features.0"])
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    with pytest.raises(UserError, match=r"unknown layer\(s\) \['layer9'\]; this network has: \['pixels', 'features_0'"):
        toy.record(_images(1), ["layer9"])


def test_network_layers_lists_default_or_every_layer():
    default = network_layers(TOY, preprocessing={"input_size": 32})
    full = network_layers(TOY, layer_set="all", preprocessing={"input_size": 32})
    assert len(default) == 9 and len(full) == 15 and {lay.slug for lay in default} <= {lay.slug for lay in full}


def test_a_model_file_by_path(tmp_path):
    shutil.copy(toy_models.__file__, tmp_path / "net_file.py")
    net = Network("net_file.py:build", base_dir=tmp_path, input_size=16, model_kwargs={"width": 3})
    assert net.layer_shapes()["features_0"] == (3, 6, 6)


# ----------------------------------------------------------------------------- weights


def test_weights_files_load_strictly_with_prefixes(tmp_path):
    torch.manual_seed(5)
    ref = toy_models.build_toy()
    torch.save(ref.state_dict(), tmp_path / "w.pt")
    model, meta = load_model(TOY, weights=tmp_path / "w.pt")
    assert torch.equal(model.head.weight, ref.head.weight) and meta["weights"] == "file:w.pt"
    # DataParallel's "module." prefix and a checkpoint with a sub-dict under a prefix
    torch.save({"state_dict": {f"module.{k}": v for k, v in ref.state_dict().items()}, "epoch": 3}, tmp_path / "dp.pt")
    assert torch.equal(load_model(TOY, weights=tmp_path / "dp.pt")[0].head.bias, ref.head.bias)
    torch.save({"model": {**{f"encoder.{k}": v for k, v in ref.state_dict().items()}, "queue": torch.zeros(3)}},
               tmp_path / "ssl.pt")
    assert torch.equal(load_model(TOY, weights=tmp_path / "ssl.pt", weights_prefix="encoder.")[0].head.bias, ref.head.bias)
    with pytest.raises(WeightsError, match="no key starts with weights_prefix 'decoder.'"):
        load_model(TOY, weights=tmp_path / "ssl.pt", weights_prefix="decoder.")


def test_weights_that_do_not_fit_give_one_line(tmp_path):
    torch.save(toy_models.build_toy(width=8).state_dict(), tmp_path / "w8.pt")
    with pytest.raises(WeightsError, match=r"w8\.pt: weights do not fit toy_models:build_toy: 7 shape mismatch\(es\), "
                                           r"first features\.0\.weight: file \(8, 3, 3, 3\) vs model \(4, 3, 3, 3\)") as err:
        load_model(TOY, weights=tmp_path / "w8.pt")
    assert "\n" not in str(err.value)
    state = toy_models.build_toy().state_dict()
    state.pop("head.bias")
    state["extra.weight"] = torch.zeros(1)
    torch.save(state, tmp_path / "partial.pt")
    with pytest.raises(WeightsError, match=r"1 missing key\(s\) \['head\.bias'\]; 1 unexpected key\(s\) \['extra\.weight'\]"):
        load_model(TOY, weights=tmp_path / "partial.pt")
    with pytest.raises(WeightsError, match="'imagenet' weights are for the torchvision networks"):
        load_model(TOY, weights="imagenet")


def test_builtin_initialisation_is_seeded():
    a = load_model(TOY, init_seed=1)[0].head.weight
    b = load_model(TOY, init_seed=1)[0].head.weight
    c = load_model(TOY, init_seed=2)[0].head.weight
    assert torch.equal(a, b) and not torch.equal(a, c)


# ----------------------------------------------------------------------------- bad models


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        ("toy_modelz:build_toy", {}, r"cannot import module 'toy_modelz'"),
        ("toy_models:build_tyo", {}, r"'toy_models' has no callable 'build_tyo' .*did you mean \['build_toy'"),
        ("toy_models:not_a_module", {}, r"returned a int, not a torch\.nn\.Module"),
        (TOY, {"widht": 3}, r"toy_models:build_toy\(widht=3\) failed: TypeError"),
        ("toy_models:build_fixed", {}, r"the forward pass on a \(1, 3, 224, 224\) input failed .*input_size"),
        ("missing.py:build", {}, r"no such file 'missing\.py'"),
    ],
)
def test_bad_models_give_one_clear_line(name, kwargs, message):
    with pytest.raises(ModelError, match=message) as err:
        Network(name, model_kwargs=kwargs)
    assert "\n" not in str(err.value)


def test_kwargs_are_refused_for_named_networks():
    with pytest.raises(UserError, match="kwargs and weights_prefix are for user models"):
        load_model("democnn", weights="untrained", model_kwargs={"x": 1})


# ----------------------------------------------------------------------------- TorchScript


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_torchscript_archives_record_their_outputs(tmp_path):
    torch.manual_seed(0)
    eager = toy_models.TwoOutputs().eval()
    traced = torch.jit.trace(eager, torch.zeros(1, 3, 32, 32), strict=False)
    torch.jit.save(traced, tmp_path / "two.pt")
    net = Network("torchscript:two.pt", base_dir=tmp_path, input_size=32)
    assert [lay.slug for lay in net.layers] == ["pixels", "output_features", "output_logits"]
    assert "TorchScript" in net.catalogue.graph_error
    x = _images(2)
    out = net.record(x)
    with torch.no_grad():
        expected = eager(net.preprocess(x))
    np.testing.assert_allclose(out["output_logits"], expected["logits"].numpy(), rtol=1e-5, atol=1e-6)
    assert net.meta["weights"] == "torchscript:two.pt"
    with pytest.raises(WeightsError, match="carries its own weights"):
        Network("torchscript:two.pt", base_dir=tmp_path, weights="untrained")
    (tmp_path / "junk.pt").write_text("junk")
    with pytest.raises(ModelError, match="cannot be read as a TorchScript archive"):
        Network("torchscript:junk.pt", base_dir=tmp_path)


# ----------------------------------------------------------------------------- preprocessing


def test_preprocessing_mean_std_size_and_callable():
    net = Network(TOY, preprocessing={"input_size": 16, "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.5, 1.0],
                                      "interpolation": "bilinear"})
    x = torch.full((1, 3, 64, 64), 255.0)
    inp = net.preprocess(x)
    assert inp.shape == (1, 3, 16, 16)
    np.testing.assert_allclose(inp[0, :, 0, 0].numpy(), [2.0, 1.0, 0.5], rtol=1e-6)
    custom = Network("toy_models:build_fixed", preprocessing={"function": "toy_models:preprocess"})
    np.testing.assert_allclose(custom.preprocess(x).numpy(), 0.5)
    assert custom.meta["preprocessing"]["function"] == "toy_models:preprocess"
    with pytest.raises(UserError, match="preprocessing std must be positive"):
        Network(TOY, preprocessing={"std": [0, 1, 1]})
    with pytest.raises(UserError, match=r"unknown preprocessing key\(s\) \['size'\]"):
        Network(TOY, preprocessing={"size": 3})


# ----------------------------------------------------------------------------- timm


def test_timm_models_offline_seeded_and_from_a_weights_file(tmp_path):
    pytest.importorskip("timm")
    a = Network("timm:test_resnet", init_seed=3)
    assert a.input_size == 160 and a.preprocessing.mean == (0.5, 0.5, 0.5)  # the model's pretrained_cfg
    b = Network("timm:test_resnet", init_seed=3, preprocessing={"input_size": 48})
    assert b.input_size == 48
    x = _images(1)
    np.testing.assert_array_equal(b.record(x, ["fc"])["fc"], Network("timm:test_resnet", init_seed=3, input_size=48).record(x, ["fc"])["fc"])
    torch.save(a.model.state_dict(), tmp_path / "timm.pt")
    c = Network("timm:test_resnet", weights=tmp_path / "timm.pt", init_seed=9, input_size=48)
    np.testing.assert_array_equal(c.record(x, ["fc"])["fc"], b.record(x, ["fc"])["fc"])
    with pytest.raises(ModelError, match="timm has no model 'test_resnett'.*did you mean"):
        Network("timm:test_resnett")


# ----------------------------------------------------------------------------- command line


def test_cli_layers_lists_what_a_user_model_can_record(capsys):
    assert cli.main(["layers", TOY, "--input-size", "32", "--layer-set", "all"]) == 0
    out = capsys.readouterr().out
    rows = [line.split("\t") for line in out.splitlines() if not line.startswith("#")]
    assert rows[0][0] == "pixels" and len(rows) == 15
    assert ["block_add", "block.add", "graph node", "8×2×2", "32"] in rows
    assert cli.main(["layers", "toy_models:build_tyo"]) == 2
    assert "has no callable 'build_tyo'" in capsys.readouterr().err


def test_timm_models_without_timm_say_so(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "timm", None)
    with pytest.raises(ModelError, match=r"timm:resnet18: timm is not installed \(pip install timm\)"):
        Network("timm:resnet18")
