"""Where and how torch runs: device choice (``auto`` resolved here, inside the job), threads and
float32 precision on a GPU."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from ..errors import UserError

__all__ = ["DEVICES", "float32_mode", "full_float32", "resolve_device", "torch_threads"]

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(device: str) -> str:
    """``"cpu"`` or ``"cuda"`` (or a torch device string such as ``"cuda:1"``); ``"auto"``
    becomes ``"cuda"`` when torch sees a GPU, else ``"cpu"``. Resolved when a job runs, so the
    workflow's configuration never imports torch."""
    import torch

    device = str(device)
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.split(":")[0] not in ("cpu", "cuda"):
        raise UserError(f"device must be one of {list(DEVICES)} (or 'cuda:N'); got {device!r}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"device {device!r} was asked for but torch sees no CUDA device")
    return device


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run the block with ``torch.set_num_threads(threads)`` (unchanged when ``None``), restoring
    the previous setting afterwards."""
    import torch

    old = torch.get_num_threads()
    if threads:
        torch.set_num_threads(int(threads))
    try:
        yield
    finally:
        torch.set_num_threads(old)


def full_float32(device: str):
    """Run the block with a CUDA device's float32 convolutions and matrix products computed in
    IEEE float32, restoring the previous settings afterwards; nothing changes on the CPU.

    PyTorch lets cuDNN run float32 convolutions on TensorFloat-32 tensor cores by default
    (10-bit mantissa inputs, a relative error of about 1e-3 per product), so a GPU would record
    activations that differ from the CPU's by far more than float32 rounding. Generation records
    every layer for geometry and capacity measurements, so it does not trade that precision for
    speed (``docs/generation.md#generation-gpu``). See :func:`float32_mode`.
    """
    return float32_mode(device, tf32=False)


@contextlib.contextmanager
def float32_mode(device: str, *, tf32: bool) -> Iterator[None]:
    """Run the block with a CUDA device's float32 convolutions and matrix products allowed on
    TF32 tensor cores (``tf32=True``) or not, restoring the previous settings afterwards;
    nothing changes on the CPU. The flags are process-wide; PyTorch >= 2.9's ``fp32_precision``
    settings are used where they exist (mixing them with the legacy ``allow_tf32`` flags is an
    error there), else the legacy flags."""
    if not str(device).startswith("cuda"):
        yield
        return
    import torch

    cudnn_conv = getattr(torch.backends.cudnn, "conv", None)
    if cudnn_conv is not None and hasattr(cudnn_conv, "fp32_precision"):
        mode = "tf32" if tf32 else "ieee"
        settings = [(cudnn_conv, "fp32_precision", mode), (torch.backends.cuda.matmul, "fp32_precision", mode)]
    else:
        settings = [(torch.backends.cudnn, "allow_tf32", tf32), (torch.backends.cuda.matmul, "allow_tf32", tf32)]
    old = [getattr(owner, name) for owner, name, _ in settings]
    for owner, name, value in settings:
        setattr(owner, name, value)
    try:
        yield
    finally:
        for (owner, name, _), value in zip(settings, old):
            setattr(owner, name, value)
