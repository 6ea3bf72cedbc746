"""Where and how torch runs: device choice (``auto`` resolved here, inside the job) and threads."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from ..errors import UserError

__all__ = ["DEVICES", "resolve_device", "torch_threads"]

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
