r"""Preprocessing: from a warped 64-px image to a network's input (``docs/generation.md#generation-preprocessing``).

Every network sees the same warped images (:data:`~dnn_manifolds.generation.stimuli.IMAGE_SIZE`
= 64 px, RGB, 0..255); :class:`Preprocessing` says how they become its input:

1. resize to ``input_size`` × ``input_size`` (``interpolation``: bicubic with a = −0.5 and
   antialiasing, bilinear or nearest; no resize when ``input_size`` is 64);
2. scale to [0, 1] and normalise per channel: ``(x − mean) / std``.

Alternatively ``function`` — a callable, or an import path ``"package.module:name"`` /
``"path/to/file.py:name"`` — replaces both steps: it receives a float32 tensor of shape
``(n, 3, 64, 64)`` with values in [0, 1] (on the network's device) and returns the model's
input.

The defaults are torchvision's ImageNet preprocessing at 224 px (64 px for ``democnn``; a timm
model's own ``pretrained_cfg``), which is what the paper's networks and most ImageNet models
expect. This module imports no torch at import time, so a configuration can be checked
without it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..errors import UserError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
INTERPOLATIONS = ("bicubic", "bilinear", "nearest")
KEYS = ("input_size", "mean", "std", "interpolation", "function")
"""The fields of :class:`Preprocessing` (and the keys of ``networks.<name>.preprocessing``)."""

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "INTERPOLATIONS", "Preprocessing"]


def _triple(value: Any, name: str, *, positive: bool) -> tuple[float, float, float]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = (value,) * 3
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 3:
        raise UserError(f"preprocessing {name} must be 3 numbers (R, G, B) or one number; got {value!r}")
    out = []
    for v in value:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(float(v)):
            raise UserError(f"preprocessing {name} must be 3 finite numbers; got {value!r}")
        if positive and float(v) <= 0:
            raise UserError(f"preprocessing {name} must be positive; got {value!r}")
        out.append(float(v))
    return tuple(out)  # type: ignore[return-value]


@dataclass(frozen=True)
class Preprocessing:
    """How warped 64-px images become a network's input (see the module docstring).

    Attributes
    ----------
    input_size : int or None
        Side of the network input, pixels.
    mean, std : tuple of 3 float or None
        Per-channel normalisation on the [0, 1] scale.
    interpolation : {"bicubic", "bilinear", "nearest"} or None
    function : str, callable or None
        Replaces resize and normalisation (see the module docstring).

    ``None`` means "not given": :meth:`with_defaults` fills it with the network's own default
    (a timm model's ``pretrained_cfg``), else ImageNet's mean and std and bicubic resizing; the
    input size is resolved by the network (224, democnn 64).
    """

    input_size: int | None = None
    mean: tuple[float, float, float] | None = None
    std: tuple[float, float, float] | None = None
    interpolation: str | None = None
    function: str | Callable | None = None

    def __post_init__(self):
        if self.input_size is not None:
            if isinstance(self.input_size, bool) or not isinstance(self.input_size, int) or self.input_size < 8:
                raise UserError(f"preprocessing input_size must be an integer ≥ 8 (pixels); got {self.input_size!r}")
        if self.mean is not None:
            object.__setattr__(self, "mean", _triple(self.mean, "mean", positive=False))
        if self.std is not None:
            object.__setattr__(self, "std", _triple(self.std, "std", positive=True))
        if self.interpolation is not None and self.interpolation not in INTERPOLATIONS:
            raise UserError(
                f"preprocessing interpolation must be one of {list(INTERPOLATIONS)}; got {self.interpolation!r}"
            )
        if self.function is not None and not callable(self.function):
            if not isinstance(self.function, str) or ":" not in self.function:
                raise UserError(
                    "preprocessing function must be a callable or an import path "
                    f"'package.module:name' / 'file.py:name'; got {self.function!r}"
                )

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any] | Preprocessing | None) -> Preprocessing:
        """From a mapping of :data:`KEYS` (unknown keys are an error); ``None``: defaults."""
        if mapping is None:
            return cls()
        if isinstance(mapping, Preprocessing):
            return mapping
        if not isinstance(mapping, Mapping):
            raise UserError(f"preprocessing must be a mapping of {list(KEYS)}; got {mapping!r}")
        unknown = sorted(set(mapping) - set(KEYS))
        if unknown:
            raise UserError(f"unknown preprocessing key(s) {unknown}; allowed: {list(KEYS)}")
        return cls(**{k: v for k, v in mapping.items() if v is not None})

    def with_defaults(self, defaults: Mapping[str, Any] | None = None) -> Preprocessing:
        """These settings with the fields not given filled: from ``defaults`` (a network's own,
        e.g. a timm model's input size, mean and std), else ImageNet's mean and std and
        bicubic resizing (the input size stays ``None`` when neither gives it)."""
        fallback = {"mean": IMAGENET_MEAN, "std": IMAGENET_STD, "interpolation": "bicubic"}
        changes = {}
        for key in ("input_size", "mean", "std", "interpolation"):
            if getattr(self, key) is None:
                value = dict(defaults or {}).get(key, fallback.get(key))
                if value is not None:
                    changes[key] = value
        return replace(self, **changes)

    def record(self) -> dict[str, Any]:
        """JSON-safe description (recorded in shards)."""
        function = self.function
        if function is not None and not isinstance(function, str):
            function = f"{getattr(function, '__module__', '?')}:{getattr(function, '__qualname__', repr(function))}"
        return {"input_size": self.input_size, "mean": None if self.mean is None else list(self.mean),
                "std": None if self.std is None else list(self.std), "interpolation": self.interpolation,
                "function": function}

    def resolve_function(self, *, base_dir: str | None = None) -> Callable | None:
        """The ``function`` as a callable (imported when given as a path), or ``None``."""
        if self.function is None or callable(self.function):
            return self.function
        from .user_models import import_callable

        return import_callable(self.function, what="preprocessing function", base_dir=base_dir)

    def apply(self, images, *, input_size: int, function: Callable | None = None):
        """Network input from warped images.

        Parameters
        ----------
        images : torch.Tensor of shape (n, 3, 64, 64)
            0..255 scale, float32, on the network's device.
        input_size : int
            The side to resize to (the resolved ``input_size``).
        function : callable, optional
            The resolved ``function`` (:meth:`resolve_function`); replaces the default steps.

        Returns
        -------
        torch.Tensor
            ``(n, 3, input_size, input_size)`` normalised, or whatever ``function`` returns.
        """
        import torch
        from torchvision.transforms.v2 import functional as TF

        if function is not None:
            try:
                out = function(images / 255.0)
            except Exception as err:
                raise UserError(f"preprocessing function {self.record()['function']} failed: "
                                f"{type(err).__name__}: {' '.join(str(err).split())[:300]}") from err
            if not isinstance(out, torch.Tensor):
                raise UserError(f"preprocessing function {self.record()['function']} returned a "
                                f"{type(out).__name__}, not a tensor")
            return out
        prep = self.with_defaults()
        x = images
        if x.shape[-1] != input_size:
            mode = {"bicubic": TF.InterpolationMode.BICUBIC, "bilinear": TF.InterpolationMode.BILINEAR,
                    "nearest": TF.InterpolationMode.NEAREST}[prep.interpolation]
            x = TF.resize(x, [input_size, input_size], interpolation=mode, antialias=prep.interpolation != "nearest")
        mean = torch.tensor(prep.mean, device=x.device, dtype=x.dtype).view(1, 3, 1, 1) * 255
        std = torch.tensor(prep.std, device=x.device, dtype=x.dtype).view(1, 3, 1, 1) * 255
        return (x - mean) / std
