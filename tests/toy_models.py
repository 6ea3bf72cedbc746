"""Small PyTorch models defined in the test suite: the "user's own models" of the tests.

Importable as ``toy_models:build_toy`` (the tests' folder is on ``sys.path``) or, copied into
a working directory, by the workflow presets.
"""

import torch
import torch.nn as nn


class Residual(nn.Module):
    """A block whose sum is a functional op (a graph node, not a module)."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.relu(self.conv(x) + x)


class ToyNet(nn.Module):
    """features (nested Sequential) -> residual block -> flatten (functional) -> linear head."""

    def __init__(self, width: int = 4, n_classes: int = 5):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, width, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2),
        )
        self.block = Residual(2 * width)
        self.head = nn.Linear(8 * width, n_classes)

    def forward(self, x):
        x = self.block(self.features(x))
        return self.head(torch.flatten(x, 1))


def build_toy(width: int = 4, n_classes: int = 5) -> ToyNet:
    return ToyNet(width, n_classes)


class TinyNet(nn.Module):
    """The smallest model with a few layers: conv, ReLU, pooling, linear."""

    def __init__(self, width: int = 4, n_out: int = 6):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, width, 5, stride=2), nn.ReLU(), nn.AdaptiveAvgPool2d(4))
        self.head = nn.Linear(16 * width, n_out)

    def forward(self, x):
        return self.head(torch.flatten(self.features(x), 1))


def build(width: int = 4, n_out: int = 6) -> TinyNet:
    return TinyNet(width, n_out)


class TwoOutputs(nn.Module):
    """Returns a dict of tensors (to script: its outputs are what a TorchScript archive records)."""

    def __init__(self, width: int = 4):
        super().__init__()
        self.net = ToyNet(width)

    def forward(self, x):
        f = torch.flatten(self.net.block(self.net.features(x)), 1)
        return {"features": f, "logits": self.net.head(f)}


def not_a_module():
    return 3


class InPlace(nn.Module):
    """A functional in-place op after a graph node: the node's recorded value must not change."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 3)

    def forward(self, x):
        y = self.conv(x) * 2.0
        y.add_(100.0)
        return torch.flatten(y, 1)


def build_inplace() -> InPlace:
    return InPlace()


class FixedInput(nn.Module):
    """Works only on 32-px inputs (a linear layer on the flattened image)."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3 * 32 * 32, 4)

    def forward(self, x):
        return self.fc(torch.flatten(x, 1))


def build_fixed() -> FixedInput:
    return FixedInput()


def preprocess(images):
    """A preprocessing callable: images (n, 3, 64, 64) in 0..1 -> their top-left 32-px crop, centred."""
    return images[:, :, :32, :32] - 0.5
