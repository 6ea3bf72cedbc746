r"""Networks: torchvision models, the demo CNN, user models, analysed layers and recorded units (``docs/generation.md#generation-networks``).

The recorder, :class:`~dnn_manifolds.generation.recording.Network`, lives in
:mod:`dnn_manifolds.generation.recording` (importable from here too); models of the user's own
(import paths, timm, TorchScript) in :mod:`dnn_manifolds.generation.user_models`.

Models
------
* ``alexnet``, ``vgg16``, ``resnet50``: torchvision models with ImageNet weights
  (``weights="imagenet"``: torchvision's ``DEFAULT`` weights, downloaded into the torch hub
  cache when online, or read from ``weights_path`` offline) or untrained
  (``weights="untrained"``: torchvision's random initialisation under a fixed torch seed,
  the original's "epoch 0" control), or loaded from a checkpoint / state-dict file
  (``weights=<path>``).
* any other torchvision classification model by name (``torchvision.models.list_models``),
  with a generic layer list (:func:`network_layers`).
* ``democnn``: the compact CNN of :mod:`dnn_manifolds.generation.training`, which trains on the embedded
  stimuli in minutes on a CPU (64-px input, no resize).
* a user model: ``"package.module:factory"``, ``"file.py:factory"``, ``"timm:<name>"`` or
  ``"torchscript:<file>"`` (:mod:`dnn_manifolds.generation.user_models`), with weights
  ``"builtin"`` (as built, seeded), ``"untrained"`` or a weights file, and layers found by
  running it once (module outputs, graph nodes, outputs).

Differences from the original's MatConvNet models (deliberate, documented):

* torchvision AlexNet is the PyTorch variant (no LRN, 64/192/384/256/256 channels, 224-px
  input, 21 layer entries), the architecture of the original's "epoch" AlexNets, not the
  Caffe AlexNet (LRN, 227 px, 22 entries) of its smooth-manifold figures.
* torchvision ResNet-50 is v1.5 (stride on the 3×3 convolution, not the first 1×1).
* torchvision weights, not the Caffe/Oxford ones, so numbers differ somewhat from the paper.
* Preprocessing is torchvision's by default: bicubic resize (a = −0.5, antialias) of the 64-px
  warped image to the input size, ``/255``, ImageNet mean/std
  (:mod:`dnn_manifolds.generation.preprocessing`; configurable per network).

Layers
------
Each network has an ordered list of :class:`Layer` entries with short slugs safe for file
paths (``[A-Za-z0-9_-]+``); entry 0 is always ``pixels``: the grayscale 64 × 64 warped image
(mean over RGB of ``image/255``, 4096 features, row-major). In-place ReLUs are disabled so
that pre-ReLU outputs are kept. Counts (``docs/generation.md#generation-layers``): AlexNet 21, VGG16 38,
ResNet-50 40 (``layer_set="default"``: stem, block sums (pre-ReLU) and block outputs, head)
or 176 (``layer_set="all"``). Dropout layers are skipped (identity in eval mode). AlexNet's
list includes torchvision's ``avgpool`` (adaptive 6×6 pooling, an identity at 224 px) to
match the spec's 21 entries; VGG16's equivalent 7×7 ``avgpool`` is left out to match the
original's 38. ResNet names follow MatConvNet (``res2a`` = block sum before its ReLU,
``res2a_relu`` = block output, ``res2a_branch2b_relu`` …); the sum is recorded as the input of
the block's last ReLU call. Other torchvision models get a generic list: the leaves of nested
``nn.Sequential`` containers and the other top-level blocks, in registration order.

Units
-----
Each layer's flattened output (torch C-order, (C, H, W)) is sub-sampled to a fixed random
subset of at most 4096 units (:func:`select_units`), seeded per (``neuron_seed``, layer
position in the network's full list), so a layer's units do not depend on which other layers
are recorded. Smaller layers keep all their units (the original zero-padded them; the
manifold dataset pads them with missing (NaN) neurons instead, which the analysis drops like
the original drops all-zero neurons).
"""

from __future__ import annotations

import os
import re
import urllib.error
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UserError
from .preprocessing import IMAGENET_MEAN, IMAGENET_STD  # noqa: F401 - part of this module's API
from .user_models import build_user_model, is_user_model, load_user_weights, parse_model_source

N_UNITS = 4096
"""Units recorded per layer (the original's ``N_HMAX_FEATURES``)."""

PAPER_NETWORKS = ("alexnet", "vgg16", "resnet50")
DEMO_NETWORK = "democnn"
SLUG_RE = re.compile(r"^[A-Za-z0-9_-]+$")


class WeightsError(UserError):
    """Weights that cannot be obtained or do not fit the architecture."""


@dataclass(frozen=True)
class Layer:
    """One analysed layer.

    Attributes
    ----------
    slug : str
        Short name, ``[A-Za-z0-9_-]+`` (file paths, wildcards, session titles).
    module : str
        torch module path (``""`` for ``pixels`` and ``prob``).
    kind : str
        ``"pixels"``, ``"output"`` (the module's output), ``"input"`` (its input, e.g. a
        ResNet block sum, which is the input of the block's last ReLU call) or ``"softmax"``
        (softmax of the model's output).
    call : int
        Which call of the module in one forward pass (modules reused in a forward, such as a
        ResNet block's ReLU).
    name : str
        User models: the name a configuration may use instead of the slug (module path, graph
        node name, ``output``); ``""`` for the named networks (slugs only).

    User models add the kinds ``"node"`` (a graph node of torchvision's feature extraction,
    ``module`` = its name) and ``"model"`` (the model's output, ``module`` = ``""``, a tuple
    index or a dict key), see :mod:`dnn_manifolds.generation.user_models`.
    """

    slug: str
    module: str
    kind: str = "output"
    call: int = 0
    name: str = ""


# ============================================================================= models


def available_networks() -> list[str]:
    """Network names: the paper's three, ``democnn``, and torchvision's classification models."""
    import torchvision

    names = set(torchvision.models.list_models(module=torchvision.models))
    return sorted(names | {DEMO_NETWORK})


def build_model(name: str, *, n_classes: int | None = None):
    """An untrained model by name (torchvision's initialisation; seed it yourself)."""
    import torchvision

    if name == DEMO_NETWORK:
        from .training import DemoCNN

        return DemoCNN(n_classes=n_classes or 64)
    if name not in torchvision.models.list_models(module=torchvision.models):
        raise UserError(
            f"unknown network {name!r}; choose 'alexnet', 'vgg16', 'resnet50', 'democnn', a "
            f"torchvision classification model (torchvision.models.list_models()) or a model of "
            f"your own ('package.module:factory', 'file.py:factory', 'timm:<name>', "
            f"'torchscript:<file>')"
        )
    kwargs = {"weights": None}
    if n_classes is not None:
        kwargs["num_classes"] = n_classes
    if name.startswith(("googlenet", "inception")):
        kwargs["aux_logits"] = False
        kwargs["init_weights"] = True
    return torchvision.models.get_model(name, **kwargs)


def _disable_inplace(model) -> None:
    import torch

    if isinstance(model, torch.jit.ScriptModule):  # compiled: its attributes are constants
        return
    for module in model.modules():
        if isinstance(getattr(module, "inplace", None), bool):
            module.inplace = False


def _read_state_dict(path: Path, name: str) -> tuple[dict, dict]:
    import torch

    if not path.exists():
        raise FileNotFoundError(f"{path}: no such weights file")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # pickle/zip errors of several kinds
        raise WeightsError(f"{path}: cannot be read as torch weights ({err})") from err
    meta: dict = {}
    if isinstance(obj, dict) and "state_dict" in obj:
        meta = {k: v for k, v in obj.items() if k != "state_dict"}
        arch = meta.get("architecture")
        if arch is not None and arch != name:
            raise WeightsError(
                f"{path}: checkpoint is for architecture {arch!r}, not {name!r}"
            )
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(hasattr(v, "shape") for v in obj.values()):
        raise WeightsError(f"{path}: not a state dict (mapping of parameter names to tensors)")
    return obj, meta


def load_model(
    name: str,
    *,
    weights: str | os.PathLike | None = None,
    weights_path: str | os.PathLike | None = None,
    init_seed: int = 0,
    model_kwargs: dict[str, Any] | None = None,
    weights_prefix: str | None = None,
    base_dir: str | os.PathLike | None = None,
):
    """Build a model and load its weights.

    Parameters
    ----------
    name : str
        Network name (:func:`available_networks`).
    weights : {"imagenet", "untrained"} or path-like, optional
        Default "imagenet" (user models: "builtin", see below).
        ``"imagenet"``: torchvision's ``DEFAULT`` ImageNet weights (from ``weights_path`` if
        given, else downloaded by torchvision into its cache; a cached copy is used offline).
        ``"untrained"``: random initialisation with ``torch.manual_seed(init_seed)`` (the
        original's epoch-0 control). A path: a checkpoint of
        :func:`~dnn_manifolds.generation.training.train_demo_cnn` or any state-dict file for this
        architecture.
    weights_path : path-like, optional
        Offline copy of the ImageNet weights (the ``.pth`` file torchvision downloads).
    init_seed : int, default 0
        Seed of the random initialisation (also used, harmlessly, before loading weights).
    model_kwargs : dict, optional
        User models only: keyword arguments of the factory (or of ``timm.create_model``).
    weights_prefix : str, optional
        User models only: load the weights file's keys under this prefix (prefix removed).
    base_dir : path-like, optional
        User models only: where relative files and modules are looked up (default ".").

    User models (``"package.module:factory"``, ``"file.py:factory"``, ``"timm:<name>"``,
    ``"torchscript:<file>"``; :mod:`dnn_manifolds.generation.user_models`) take ``weights``
    ``"builtin"`` (the default for them: the model as the factory builds it under
    ``torch.manual_seed(init_seed)``, or as the archive holds it), ``"untrained"`` (the same,
    for factories and timm) or a weights file (loaded strictly).

    Returns
    -------
    model : torch.nn.Module
        In eval mode, on the CPU, in-place operations disabled.
    meta : dict
        ``weights`` (a description: "imagenet:<enum>", "untrained:seed<k>" or the file name),
        and a checkpoint's metadata (``epoch``, ``categories``, …) when there is one.

    Raises
    ------
    WeightsError
        If ImageNet weights are unavailable offline, or a file is for another architecture.
    """
    import torch

    if is_user_model(name):
        return _load_user_model(name, weights=weights, init_seed=init_seed, model_kwargs=model_kwargs,
                                weights_prefix=weights_prefix, base_dir=base_dir)
    if model_kwargs or weights_prefix:
        raise UserError(f"kwargs and weights_prefix are for user models (an import path); {name!r} is a named network")
    if weights is None:
        weights = "imagenet"
    n_classes = None
    path = None
    if isinstance(weights, (str, os.PathLike)) and str(weights) not in ("imagenet", "untrained"):
        path = Path(weights)
    elif weights not in ("imagenet", "untrained"):
        raise UserError(f"weights must be 'imagenet', 'untrained' or a file path; got {weights!r}")
    state, meta = None, {}
    if path is not None:
        state, meta = _read_state_dict(path, name)
        n_classes = meta.get("n_classes")
        meta["weights"] = f"file:{path.name}"
    if weights == "untrained" and path is None:
        meta["weights"] = f"untrained:seed{int(init_seed)}"
    elif weights == "imagenet" and path is None:
        if name == DEMO_NETWORK:
            raise WeightsError(
                "democnn has no ImageNet weights: use weights='untrained' or a checkpoint of "
                "train_demo_cnn"
            )
        if weights_path is not None:
            state, _ = _read_state_dict(Path(weights_path), name)
            meta["weights"] = f"imagenet:file:{Path(weights_path).name}"
        else:
            state, enum_name = _download_imagenet_state(name)
            meta["weights"] = f"imagenet:{enum_name}"
    model = None
    if state is not None:
        # weights replace the initialisation: build without it (meta device), then assign
        with torch.device("meta"):
            model = build_model(name, n_classes=n_classes)
        _load_state(model, state, name)
        if any(t.is_meta for t in list(model.parameters()) + list(model.buffers())):
            model = None  # a buffer the state dict does not hold: build normally
    if model is None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(init_seed))
            model = build_model(name, n_classes=n_classes)
        if state is not None:
            _load_state(model, state, name)
    _disable_inplace(model)
    model.eval()
    return model, meta


USER_WEIGHT_KEYWORDS = ("builtin", "untrained")
"""Weights keywords of user models (besides a file)."""


def _load_user_model(name, *, weights, init_seed, model_kwargs, weights_prefix, base_dir):
    source = parse_model_source(name)
    weights = "builtin" if weights is None else weights
    path = None
    if isinstance(weights, os.PathLike) or (isinstance(weights, str) and weights not in USER_WEIGHT_KEYWORDS):
        if weights == "imagenet":
            raise WeightsError(
                f"{name}: 'imagenet' weights are for the torchvision networks; give a user model "
                "'builtin' (as built), 'untrained' or a weights file"
            )
        if not isinstance(weights, (str, os.PathLike)):
            raise UserError(f"weights must be 'builtin', 'untrained' or a file path; got {weights!r}")
        path = Path(base_dir or ".") / weights
    if weights == "untrained" and source.kind == "torchscript":
        raise WeightsError(
            f"{name}: a TorchScript archive carries its own weights; use weights 'builtin' or a state-dict file"
        )
    model, defaults = build_user_model(source, kwargs=model_kwargs, init_seed=init_seed, base_dir=base_dir)
    meta: dict[str, Any] = {"preprocessing_defaults": defaults}
    if path is not None:
        load_user_weights(model, path, prefix=weights_prefix, label=name)
        meta["weights"] = f"file:{path.name}"
    elif source.kind == "torchscript":
        meta["weights"] = f"torchscript:{Path(source.target).name}"
    else:
        meta["weights"] = f"{weights}:seed{int(init_seed)}"
    _disable_inplace(model)
    model.eval()
    return model, meta


def _load_state(model, state: dict, name: str) -> None:
    on_meta = any(p.is_meta for p in model.parameters())
    try:
        model.load_state_dict(state, strict=True, assign=on_meta)
    except RuntimeError as err:
        first = str(err).splitlines()[0:3]
        raise WeightsError(
            f"weights for {name!r} do not fit its architecture (is the file for another "
            f"network?): {' '.join(first)[:300]}"
        ) from err


def _download_imagenet_state(name: str) -> tuple[dict, str]:
    import torchvision

    try:
        enum = torchvision.models.get_model_weights(name).DEFAULT
    except (ValueError, KeyError) as err:
        raise WeightsError(f"torchvision has no ImageNet weights for {name!r}") from err
    try:
        return enum.get_state_dict(progress=True, check_hash=True), str(enum)
    except (urllib.error.URLError, OSError, RuntimeError) as err:
        file_name = enum.url.rsplit("/", 1)[-1]
        raise WeightsError(
            f"ImageNet weights for {name!r} are not available ({type(err).__name__}: {err}); "
            f"offline, download {enum.url} elsewhere and pass weights_path=<{file_name}>, or "
            f"use weights='untrained'"
        ) from err


# ============================================================================= layers


def network_layers(
    name: str,
    *,
    layer_set: str = "default",
    model=None,
    model_kwargs: dict[str, Any] | None = None,
    preprocessing: Any = None,
    base_dir: str | os.PathLike | None = None,
) -> list[Layer]:
    """The analysed layers of a network, in forward order, ``pixels`` first.

    Parameters
    ----------
    name : str
        Network name.
    layer_set : {"default", "all"}
        Only ResNet-50 distinguishes them: "default" = the original's 40 enabled entries
        (stem, each block's sum and output, head), "all" = the 176 entries (every conv, BN,
        ReLU call, sum). Other networks: both give every entry.
    model : torch.nn.Module, optional
        The model (built on the meta device if omitted: cheap, no weights).
    model_kwargs, preprocessing, base_dir
        User models: the factory's keyword arguments, the preprocessing (its input size
        decides the layers' shapes) and where files are looked up. A user model is built (as
        built, no weights file) and run once on a blank image to list what it computes
        (:func:`~dnn_manifolds.generation.user_models.describe_model`); "default" is its
        default list, "all" every recordable layer.

    Returns
    -------
    list of Layer
    """
    if layer_set not in ("default", "all"):
        raise UserError(f"layer_set must be 'default' or 'all'; got {layer_set!r}")
    if is_user_model(name):
        from .recording import Network

        net = Network(name, weights=None, layer_set=layer_set, model_kwargs=model_kwargs,
                      preprocessing=preprocessing, base_dir=base_dir)
        return net.default_layers
    if model is None:
        import torch

        with torch.device("meta"):
            model = build_model(name)
    if name == "alexnet":
        layers = _alexnet_layers()
    elif name.startswith("vgg"):
        layers = _vgg_layers(model)
    elif name in ("resnet50", "resnet101", "resnet152") or name.startswith(("resnet", "resnext", "wide_resnet")):
        layers = _resnet_layers(model, full=(layer_set == "all"))
    elif name == DEMO_NETWORK:
        layers = [Layer(slug, module) for slug, module in model.LAYERS]
    else:
        layers = _generic_layers(model)
    layers = [Layer("pixels", "", "pixels")] + layers + [Layer("prob", "", "softmax")]
    for layer in layers:
        if not SLUG_RE.match(layer.slug):  # pragma: no cover - guarded by construction
            raise AssertionError(f"bad layer slug {layer.slug!r}")
    return layers


def _alexnet_layers() -> list[Layer]:
    feats = ["conv1", "relu1", "pool1", "conv2", "relu2", "pool2", "conv3", "relu3", "conv4",
             "relu4", "conv5", "relu5", "pool5"]
    out = [Layer(s, f"features.{i}") for i, s in enumerate(feats)]
    out.append(Layer("avgpool", "avgpool"))
    out += [Layer("fc6", "classifier.1"), Layer("relu6", "classifier.2"),
            Layer("fc7", "classifier.4"), Layer("relu7", "classifier.5"),
            Layer("fc8", "classifier.6")]
    return out


def _vgg_layers(model) -> list[Layer]:
    import torch.nn as nn

    out = []
    block, conv = 1, 1
    for i, m in enumerate(model.features):
        if isinstance(m, nn.Conv2d):
            out.append(Layer(f"conv{block}_{conv}", f"features.{i}"))
        elif isinstance(m, nn.ReLU):
            out.append(Layer(f"relu{block}_{conv}", f"features.{i}"))
            conv += 1
        elif isinstance(m, nn.MaxPool2d):
            out.append(Layer(f"pool{block}", f"features.{i}"))
            block, conv = block + 1, 1
        elif isinstance(m, nn.BatchNorm2d):
            out.append(Layer(f"bn{block}_{conv}", f"features.{i}"))
    fc = 6
    for i, m in enumerate(model.classifier):
        if isinstance(m, nn.Linear):
            out.append(Layer(f"fc{fc}", f"classifier.{i}"))
        elif isinstance(m, nn.ReLU):
            out.append(Layer(f"relu{fc}", f"classifier.{i}"))
            fc += 1
    return out


def _resnet_layers(model, *, full: bool) -> list[Layer]:
    out = [Layer("conv1", "conv1"), Layer("bn_conv1", "bn1"), Layer("conv1_relu", "relu"),
           Layer("pool1", "maxpool")]
    for stage in range(1, 5):
        blocks = getattr(model, f"layer{stage}")
        for b, block in enumerate(blocks):
            name = f"res{stage + 1}{chr(ord('a') + b)}" if len(blocks) <= 26 else f"res{stage + 1}_{b}"
            bn = "bn" + name[3:]
            path = f"layer{stage}.{b}"
            n_relu = 3 if hasattr(block, "conv3") else 2
            if full:
                if block.downsample is not None:
                    out += [Layer(f"{name}_branch1", f"{path}.downsample.0"),
                            Layer(f"{bn}_branch1", f"{path}.downsample.1")]
                branches = ["2a", "2b", "2c"][:n_relu]
                for k, br in enumerate(branches):
                    out.append(Layer(f"{name}_branch{br}", f"{path}.conv{k + 1}"))
                    out.append(Layer(f"{bn}_branch{br}", f"{path}.bn{k + 1}"))
                    if k < n_relu - 1:
                        out.append(Layer(f"{name}_branch{br}_relu", f"{path}.relu", "output", k))
            out.append(Layer(name, f"{path}.relu", "input", n_relu - 1))
            out.append(Layer(f"{name}_relu", f"{path}.relu", "output", n_relu - 1))
    out += [Layer("pool5", "avgpool"), Layer("fc1000", "fc")]
    return out


def _generic_layers(model) -> list[Layer]:
    """Leaves of nested ``nn.Sequential`` containers and other top-level blocks, no dropout."""
    import torch.nn as nn

    out: list[Layer] = []

    def visit(module, prefix: str) -> None:
        for child_name, child in module.named_children():
            path = f"{prefix}{child_name}"
            if isinstance(child, (nn.Dropout, nn.Identity)):
                continue
            if isinstance(child, nn.Sequential) and len(child) > 0:
                visit(child, path + ".")
            else:
                out.append(Layer(re.sub(r"[^A-Za-z0-9_-]", "_", path), path))

    visit(model, "")
    return out


def resolve_layer_names(layers: Sequence[Layer], names: Sequence[str]) -> list[str]:
    """Slugs of ``names``, each a layer's slug or (user models) its module / node name.

    Raises
    ------
    UserError
        Naming the unknown names and (up to 60 of) the layers there are.
    """
    by_slug = {layer.slug: layer for layer in layers}
    by_name = {layer.name: layer.slug for layer in layers if layer.name}
    out, unknown = [], []
    for n in names:
        if n in by_slug:
            out.append(n)
        elif n in by_name:
            out.append(by_name[n])
        else:
            unknown.append(n)
    if unknown:
        slugs = [lay.slug for lay in layers]
        shown = slugs if len(slugs) <= 60 else slugs[:60] + [f"… {len(slugs) - 60} more"]
        raise UserError(f"unknown layer(s) {unknown}; this network has: {shown}")
    return out


def select_layers(layers: Sequence[Layer], names: Sequence[str] | None) -> list[Layer]:
    """The layers named by slug (or, for user models, module / node name), in the network's
    order (all layers if ``names`` is None)."""
    if names is None:
        return list(layers)
    wanted = set(resolve_layer_names(layers, names))
    return [layer for layer in layers if layer.slug in wanted]


def select_units(n_units: int, *, neuron_seed: int, layer_position: int, max_units: int = N_UNITS) -> np.ndarray:
    """Fixed random subset of a layer's units.

    Parameters
    ----------
    n_units : int
        Units in the flattened layer (C·H·W).
    neuron_seed : int
        The "different neurons" seed (the original's metadata seed).
    layer_position : int
        Position of the layer in the network's full layer list.
    max_units : int, default 4096

    Returns
    -------
    ndarray of int64, shape (min(n_units, max_units),)
        Sorted unit indices; all units when ``n_units <= max_units``. Drawn without
        replacement from ``default_rng(SeedSequence([neuron_seed, layer_position]))``.
    """
    if n_units <= max_units:
        return np.arange(n_units, dtype=np.int64)
    rng = np.random.default_rng(np.random.SeedSequence([int(neuron_seed), int(layer_position)]))
    return np.sort(rng.choice(n_units, size=max_units, replace=False)).astype(np.int64)


# ============================================================================= recording


def __getattr__(name: str):
    # Network lives in .recording (which imports this module); keep the old import path working
    if name == "Network":
        from .recording import Network

        return Network
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
