r"""Recording: a network's responses at its analysed layers to warped 64-px images
(``docs/generation.md#generation-recording``).

:class:`Network` wraps any model — the paper's networks, torchvision and timm models, a
factory by import path, a TorchScript archive (:mod:`~dnn_manifolds.generation.networks`,
:mod:`~dnn_manifolds.generation.user_models`) — with its preprocessing
(:mod:`~dnn_manifolds.generation.preprocessing`) and records layers three ways:

* module outputs (and, for ResNet block sums, module inputs) with forward hooks, copied — as
  the recorded unit subset — the moment the module returns, so a later in-place operation
  cannot change them;
* graph nodes through torchvision's ``create_feature_extractor``, run by an FX interpreter
  that copies each node's value the moment it is computed (for the same reason);
* the model's output (and its softmax, ``prob``, for the classification networks).

Each layer's flattened output (C-order) is sub-sampled to a fixed random subset of at most
``max_units`` units (:func:`~dnn_manifolds.generation.networks.select_units`), seeded by the
layer's position in the network's full list of recordable layers.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import UserError
from .networks import (
    DEMO_NETWORK,
    N_UNITS,
    Layer,
    load_model,
    network_layers,
    select_layers,
    select_units,
)
from .preprocessing import Preprocessing
from .stimuli import IMAGE_SIZE
from .user_models import Catalogue, describe_model, is_user_model, model_outputs

__all__ = ["Network"]


class Network:
    """A model ready to record layers from warped 64-px images.

    Parameters
    ----------
    name : str
        Network name (:func:`~dnn_manifolds.generation.networks.available_networks`) or a user
        model (``"package.module:factory"``, ``"file.py:factory"``, ``"timm:<name>"``,
        ``"torchscript:<file>"``).
    weights, weights_path, init_seed, model_kwargs, weights_prefix
        See :func:`~dnn_manifolds.generation.networks.load_model`; ``weights`` defaults to
        "imagenet" for the named networks and "builtin" (as built) for user models.
    layer_set : {"default", "all"}
        See :func:`~dnn_manifolds.generation.networks.network_layers`.
    device : str or torch.device, default "cpu"
    input_size : int, optional
        Side the 64-px images are resized to; overrides ``preprocessing``'s. Default: the
        model's native size (224; 64 for ``democnn``; a timm model's own).
    preprocessing : Preprocessing or mapping, optional
        Resize, mean/std or a callable (:class:`~dnn_manifolds.generation.preprocessing.Preprocessing`).
    neuron_seed : int, default 0
        Seed of the unit subsets.
    max_units : int, default 4096
    base_dir : path-like, optional
        Where relative model paths and modules are looked up (default: the working directory).

    Attributes
    ----------
    model, layers (every recordable Layer), default_layers (the default selection), meta
    (dict), preprocessing, input_size, device, catalogue (user models: what
    :func:`~dnn_manifolds.generation.user_models.describe_model` found, else None)
    """

    def __init__(
        self,
        name: str,
        *,
        weights: str | os.PathLike | None = None,
        weights_path: str | os.PathLike | None = None,
        init_seed: int = 0,
        layer_set: str = "default",
        device: Any = "cpu",
        input_size: int | None = None,
        neuron_seed: int = 0,
        max_units: int = N_UNITS,
        model_kwargs: Mapping[str, Any] | None = None,
        weights_prefix: str | None = None,
        preprocessing: Preprocessing | Mapping[str, Any] | None = None,
        base_dir: str | os.PathLike | None = None,
    ):
        import torch

        self.name = name
        self.model, self.meta = load_model(
            name, weights=weights, weights_path=weights_path, init_seed=init_seed,
            model_kwargs=model_kwargs, weights_prefix=weights_prefix, base_dir=base_dir)
        self.device = torch.device(device)
        self.model.to(self.device)
        prep = Preprocessing.from_mapping(preprocessing).with_defaults(self.meta.pop("preprocessing_defaults", {}))
        native = IMAGE_SIZE if name == DEMO_NETWORK else 224
        self.input_size = int(input_size or prep.input_size or native)
        self.preprocessing = prep
        self._function = prep.resolve_function(base_dir=str(base_dir) if base_dir else None)
        self.meta["preprocessing"] = {**prep.record(), "input_size": self.input_size}
        self.neuron_seed = int(neuron_seed)
        self.max_units = int(max_units)
        self.catalogue: Catalogue | None = None
        if is_user_model(name):
            blank = torch.zeros(1, 3, IMAGE_SIZE, IMAGE_SIZE, device=self.device)
            self.catalogue = describe_model(self.model, self.preprocess(blank), label=name)
            self.layers = list(self.catalogue.layers)
            chosen = self.catalogue.default if layer_set == "default" else [lay.slug for lay in self.layers]
            self.default_layers = select_layers(self.layers, chosen)
        else:
            self.layers = network_layers(name, layer_set=layer_set, model=self.model)
            self.default_layers = list(self.layers)
        self._modules = dict(self.model.named_modules())
        self._shapes: dict[str, tuple[int, ...]] | None = None
        self._units: dict[str, np.ndarray] = {}
        self._extractors: dict[tuple[str, ...], Any] = {}

    @property
    def score_layer(self) -> Layer:
        """The layer whose values score images (the point-cloud ``top`` variant): the logits
        of a classification network (the layer before ``prob``), a user model's output."""
        if self.layers[-1].kind == "softmax":
            return self.layers[-2]
        return next(lay for lay in self.layers if lay.kind == "model")

    # -- preprocessing
    def preprocess(self, images):
        """Network input from warped images.

        Parameters
        ----------
        images : torch.Tensor of shape (n, 3, 64, 64)
            0..255 scale.

        Returns
        -------
        torch.Tensor
            By default (n, 3, input_size, input_size): bicubic resize (a = −0.5, antialias),
            ``/255``, mean/std (:class:`~dnn_manifolds.generation.preprocessing.Preprocessing`).
        """
        import torch

        x = images.to(self.device, torch.float32)
        return self.preprocessing.apply(x, input_size=self.input_size, function=self._function)

    # -- shapes and units
    def layer_shapes(self) -> dict[str, tuple[int, ...]]:
        """Shape of one image's output at every layer (one forward pass on a blank image)."""
        if self._shapes is None:
            import torch

            blank = torch.zeros(1, 3, IMAGE_SIZE, IMAGE_SIZE, device=self.device)
            out = self._forward(blank, self.layers, units=False)
            self._shapes = {slug: tuple(v.shape[1:]) for slug, v in out.items()}
        return self._shapes

    def units(self, slug: str) -> np.ndarray:
        """Recorded unit indices (into the flattened layer) of one layer."""
        if slug not in self._units:
            pos = [lay.slug for lay in self.layers].index(slug)
            n = int(np.prod(self.layer_shapes()[slug]))
            self._units[slug] = select_units(n, neuron_seed=self.neuron_seed, layer_position=pos,
                                             max_units=self.max_units)
        return self._units[slug]

    def record(self, images, layers: Sequence[Layer] | Sequence[str] | None = None) -> dict[str, np.ndarray]:
        """Responses of the recorded units to a batch of warped images.

        Parameters
        ----------
        images : torch.Tensor of shape (n, 3, 64, 64)
            Warped images, 0..255 scale.
        layers : sequence of Layer or str, optional
            Layers (or their slugs or names); default :attr:`default_layers`.

        Returns
        -------
        dict of str to ndarray of float32, shape (n, n_units_layer)
        """
        if layers is None:
            layers = self.default_layers
        layers = select_layers(self.layers, [lay if isinstance(lay, str) else lay.slug for lay in layers])
        for layer in layers:
            self.units(layer.slug)  # make sure subsets exist before hooking
        return self._forward(images, layers, units=True)

    # -- forward passes
    def _extractor(self, nodes: tuple[str, ...]):
        """torchvision's feature extractor returning ``nodes``, and its output node's map."""
        if nodes not in self._extractors:
            from torchvision.models.feature_extraction import create_feature_extractor

            gm = create_feature_extractor(self.model, return_nodes=list(nodes), suppress_diff_warning=True).eval()
            out = next(node for node in gm.graph.nodes if node.op == "output")
            self._extractors[nodes] = (gm, {node: key for key, node in out.args[0].items()})
        return self._extractors[nodes]

    def _forward(self, images, layers: Sequence[Layer], *, units: bool) -> dict[str, Any]:
        import torch
        import torch.fx

        hooked: dict[tuple[str, int], list[Layer]] = {}
        nodes: dict[str, list[Layer]] = {}
        for layer in layers:
            if layer.kind in ("output", "input"):
                if layer.module not in self._modules:
                    raise UserError(f"layer {layer.slug!r}: no module {layer.module!r} in {self.name}")
                hooked.setdefault((layer.module, layer.call), []).append(layer)
            elif layer.kind == "node":
                nodes.setdefault(layer.module, []).append(layer)
        needs_model = bool(hooked) or any(lay.kind in ("model", "softmax") for lay in layers)
        results: dict[str, Any] = {}
        unit_index = {}
        if units:
            unit_index = {layer.slug: torch.as_tensor(self._units[layer.slug], device=self.device)
                          for layer in layers}

        def keep(layer: Layer, tensor) -> None:
            flat = tensor.detach().reshape(tensor.shape[0], -1) if units else tensor.detach()
            if units:
                flat = flat.index_select(1, unit_index[layer.slug])
            else:
                flat = flat.clone()
            results[layer.slug] = flat.float().cpu()

        extractor = self._extractor(tuple(sorted(nodes))) if nodes else None  # traced before hooking
        calls: dict[str, int] = {}
        handles = []
        for mod_name in {m for m, _ in hooked}:
            def hook(module, inputs, output, _name=mod_name):
                k = calls.get(_name, 0)
                calls[_name] = k + 1
                for layer in hooked.get((_name, k), []):
                    keep(layer, inputs[0] if layer.kind == "input" else output)
            handles.append(self._modules[mod_name].register_forward_hook(hook))
        try:
            with torch.inference_mode():
                x = images.to(self.device, torch.float32)
                for layer in layers:
                    if layer.kind == "pixels":
                        keep(layer, x.mean(dim=1) / 255.0)
                if not (needs_model or nodes):
                    return {k: (v.numpy() if units else v) for k, v in results.items()}
                inp = self.preprocess(x)
                if extractor is not None:
                    gm, wanted = extractor

                    class Capture(torch.fx.Interpreter):
                        def run_node(self, n):
                            value = super().run_node(n)
                            for lay in nodes.get(wanted.get(n), ()):
                                keep(lay, value)
                            return value

                    Capture(gm).run(inp)
                if needs_model:
                    self._record_outputs(self.model(inp), layers, keep)
        finally:
            for h in handles:
                h.remove()
        missing = [lay.slug for lay in layers if lay.slug not in results]
        if missing:
            raise RuntimeError(f"{self.name}: layers {missing} were not reached in the forward pass")
        return {k: (v.numpy() if units else v) for k, v in results.items()}

    def _record_outputs(self, output, layers, keep) -> None:
        import torch

        wanted = [lay for lay in layers if lay.kind in ("model", "softmax")]
        if not wanted:
            return
        if any(lay.kind == "softmax" for lay in wanted):
            logits = output[0] if isinstance(output, tuple) else output
            for layer in wanted:
                if layer.kind == "softmax":
                    keep(layer, torch.softmax(logits, dim=1))
        named = model_outputs(output)
        for layer in wanted:
            if layer.kind == "model":
                if layer.module not in named:
                    raise RuntimeError(f"{self.name}: the model's output has no {layer.module!r} (layer {layer.slug!r})")
                keep(layer, named[layer.module])
