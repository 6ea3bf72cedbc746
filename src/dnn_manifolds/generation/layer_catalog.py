"""The analysed layers of the paper's networks and the demo CNN, without building a model.

The workflow checks layer names in a configuration before any job starts; these lists let it
do so without importing PyTorch. They are exactly what :func:`dnn_manifolds.generation.networks.network_layers`
returns for the default layer set (a test compares them); other architectures are looked up
through torch.
"""

from __future__ import annotations

__all__ = ["KNOWN_LAYERS", "known_layers"]

_VGG16 = ["pixels"]
for _block, _convs in enumerate((2, 2, 3, 3, 3), start=1):
    for _c in range(1, _convs + 1):
        _VGG16 += [f"conv{_block}_{_c}", f"relu{_block}_{_c}"]
    _VGG16.append(f"pool{_block}")
_VGG16 += ["fc6", "relu6", "fc7", "relu7", "fc8", "prob"]

_RESNET50 = ["pixels", "conv1", "bn_conv1", "conv1_relu", "pool1"]
for _stage, _blocks in enumerate((3, 4, 6, 3), start=2):
    for _b in range(_blocks):
        _RESNET50 += [f"res{_stage}{chr(ord('a') + _b)}", f"res{_stage}{chr(ord('a') + _b)}_relu"]
_RESNET50 += ["pool5", "fc1000", "prob"]

KNOWN_LAYERS: dict[str, tuple[str, ...]] = {
    "alexnet": (
        "pixels", "conv1", "relu1", "pool1", "conv2", "relu2", "pool2", "conv3", "relu3", "conv4",
        "relu4", "conv5", "relu5", "pool5", "avgpool", "fc6", "relu6", "fc7", "relu7", "fc8", "prob",
    ),
    "vgg16": tuple(_VGG16),
    "resnet50": tuple(_RESNET50),
    "democnn": (
        "pixels", "conv1", "relu1", "pool1", "conv2", "relu2", "pool2", "conv3", "relu3", "pool3",
        "fc4", "relu4", "fc5", "prob",
    ),
}
"""Layer slugs, in forward order, of the default layer set of each network."""


def known_layers(architecture: str) -> tuple[str, ...] | None:
    """The layer slugs of ``architecture`` if it is in the catalogue, else ``None``."""
    return KNOWN_LAYERS.get(architecture)
