r"""Training: a compact CNN trained on the embedded stimuli, with checkpoints across training.

The original analyses networks across training (AlexNet epochs 0, 1, …, 90; epoch 0 = the
random initialisation). ImageNet training is out of reach offline, so :func:`train_demo_cnn`
trains :class:`DemoCNN` to classify the categories of the embedded stimulus set (or of any
stimulus file) on a CPU in a few minutes, and saves a checkpoint after every epoch
(``epoch000.pt`` = untrained, …). Each checkpoint is a ``network="democnn"`` weights file for
:func:`dnn_manifolds.generation.manifolds.generate_shard`, so the workflow can show the paper's effect
(the trained network's last layer separates the object manifolds better than the pixels do)
fully offline.

Training images are the 144-px stimuli warped to 64 px by random affine transforms (random
translation up to ±``augment_range`` px, scale, shear and rotation of the same corner
magnitude, the same warp as the manifolds), so the network learns some invariance to the
changes the smooth manifolds probe.
"""

from __future__ import annotations

import functools
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..data.files import atomic_path, write_text
from ..errors import UserError
from .runtime import resolve_device, torch_threads
from .stimuli import StimulusSet


@functools.lru_cache(maxsize=None)
def _demo_cnn_class():
    import torch.nn as nn

    class DemoCNN(nn.Module):
        """Compact CNN for 64-px images: 3 conv–ReLU–max-pool stages and 2 fully connected layers.

        conv1 5×5×16 → relu1 → pool1 (32²) → conv2 3×3×32 → relu2 → pool2 (16²) →
        conv3 3×3×64 → relu3 → pool3 (8²) → fc4 (4096 → 512) → relu4 → fc5 (512 → n_classes).
        """

        LAYERS = (
            ("conv1", "features.0"), ("relu1", "features.1"), ("pool1", "features.2"),
            ("conv2", "features.3"), ("relu2", "features.4"), ("pool2", "features.5"),
            ("conv3", "features.6"), ("relu3", "features.7"), ("pool3", "features.8"),
            ("fc4", "classifier.0"), ("relu4", "classifier.1"), ("fc5", "classifier.2"),
        )

        def __init__(self, n_classes: int = 64):
            super().__init__()
            self.n_classes = int(n_classes)
            self.features = nn.Sequential(
                nn.Conv2d(3, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            )
            self.classifier = nn.Sequential(
                nn.Linear(64 * 8 * 8, 512), nn.ReLU(), nn.Linear(512, self.n_classes),
            )

        def forward(self, x):
            return self.classifier(self.features(x).flatten(1))

    return DemoCNN


def __getattr__(name: str):  # lazy torch import: `from .training import DemoCNN`
    if name == "DemoCNN":
        return _demo_cnn_class()
    raise AttributeError(name)


def _save_checkpoint(path: Path, **content: Any) -> Path:
    import torch

    with atomic_path(path) as tmp:
        torch.save(content, tmp)
    return path


def train_demo_cnn(
    out_dir: str | os.PathLike,
    *,
    stimuli_path: str | os.PathLike,
    epochs: int = 12,
    seed: int = 0,
    batch_size: int = 64,
    learning_rate: float = 2e-3,
    augment_range: float = 6.0,
    checkpoint_epochs: list[int] | None = None,
    threads: int | None = None,
    device: str = "cpu",
    progress: bool = False,
) -> list[Path]:
    """Train :class:`DemoCNN` to classify the stimulus categories; save checkpoints.

    Parameters
    ----------
    out_dir : path-like
        Directory for ``epoch000.pt`` (the untrained network) … ``epoch<E>.pt`` and
        ``training_log.json`` (loss and accuracy per epoch). Each file is written atomically.
    stimuli_path : path-like
        Stimulus file (the embedded set of :func:`~dnn_manifolds.generation.embedded.make_embedded_stimuli`).
    epochs : int, default 12
        Training epochs (passes over all images).
    seed : int, default 0
        Seeds the initialisation (``torch.manual_seed(seed)``, the same as
        ``weights="untrained", init_seed=seed``), the batch order and the augmentation.
    batch_size : int, default 64
    learning_rate : float, default 2e-3
        Adam learning rate (cosine-decayed to 0 over training).
    augment_range : float, default 6
        Largest corner displacement (pixels) of the random training warps.
    checkpoint_epochs : list of int, optional
        Epochs to save (0 = before training); default every epoch 0..``epochs``.
    threads : int, optional
        ``torch.set_num_threads`` during training (restored afterwards).
    device : str, default "cpu"
        ``"cpu"``, ``"cuda"`` or ``"auto"`` (the GPU when torch sees one).
    progress : bool, default False
        Show a progress bar over the epochs, with an ETA, loss and accuracy.

    Returns
    -------
    list of Path
        The checkpoint files, in epoch order. Each holds ``architecture="democnn"``,
        ``state_dict``, ``epoch``, ``n_classes``, ``categories`` (class index → label),
        ``seed`` and the training accuracy/loss so far.

    Notes
    -----
    With the default 64 × 20 embedded set, 12 epochs take about 1–2 CPU minutes on one core
    and reach > 90 % training accuracy.
    """
    import torch
    import torch.nn.functional as F
    from tqdm.auto import tqdm

    from .transforms import TRANSFORMS_1D, one_dimensional_transforms, warp_images

    epochs = int(epochs)
    if epochs < 0:
        raise UserError(f"epochs must be ≥ 0; got {epochs}")
    if checkpoint_epochs is None:
        checkpoint_epochs = list(range(epochs + 1))
    bad = [e for e in checkpoint_epochs if not 0 <= int(e) <= epochs]
    if bad:
        raise UserError(f"checkpoint_epochs must lie in 0..epochs={epochs}; got {bad}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    device = resolve_device(device)
    with torch_threads(threads):
        with StimulusSet(stimuli_path) as stim:
            labels = stim.labels
            images = stim.images(np.arange(len(stim)))
            stimuli_info = {"path": Path(stimuli_path).name, "kind": stim.kind, **{
                k: v for k, v in stim.attrs.items() if k in ("seed", "n_categories", "n_exemplars")}}
        categories = np.unique(labels)
        target = torch.as_tensor(np.searchsorted(categories, labels), dtype=torch.long)
        x_all = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()  # uint8 (n, 3, 144, 144)
        n = x_all.shape[0]
        DemoCNN = _demo_cnn_class()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            model = DemoCNN(n_classes=categories.size)
        model.to(device)
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), 1]))
        gen = torch.Generator().manual_seed(int(seed))
        opt = torch.optim.Adam(model.parameters(), lr=learning_rate)
        steps_per_epoch = int(np.ceil(n / batch_size))
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, epochs * steps_per_epoch))
        mean = torch.tensor([0.485, 0.456, 0.406], device=device).view(1, 3, 1, 1) * 255
        std = torch.tensor([0.229, 0.224, 0.225], device=device).view(1, 3, 1, 1) * 255
        # a pool of augmentation warps: every 1-d family over ±augment_range px
        pool = np.concatenate([
            one_dimensional_transforms(t, range_factor=augment_range, n_samples=41)[0]
            for t in TRANSFORMS_1D
        ])
        log: list[dict[str, Any]] = []
        paths: list[Path] = []
        common = {"architecture": "democnn", "n_classes": int(categories.size),
                  "categories": [str(c) for c in categories], "seed": int(seed),
                  "stimuli": stimuli_info, "epochs": epochs}

        def evaluate() -> float:
            model.eval()
            correct = 0
            with torch.inference_mode():
                for start in range(0, n, 256):
                    xb = warp_images(x_all[start:start + 256], np.tile(np.eye(2, 3), (min(256, n - start), 1, 1)))
                    pred = model(((xb.to(device) - mean) / std)).argmax(1).cpu()
                    correct += int((pred == target[start:start + 256]).sum())
            return correct / n

        def save(epoch: int, entry: dict[str, Any]) -> None:
            if epoch in checkpoint_epochs:
                state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
                paths.append(_save_checkpoint(out_dir / f"epoch{epoch:03d}.pt", state_dict=state,
                                              epoch=epoch, **entry, **common))

        acc0 = evaluate()
        entry = {"epoch": 0, "train_accuracy": acc0, "loss": None, "seconds": 0.0}
        log.append(entry)
        save(0, {"train_accuracy": acc0})
        t0 = time.perf_counter()
        bar = tqdm(total=epochs, unit="epoch", desc="train democnn", disable=not progress, leave=False)
        for epoch in range(1, epochs + 1):
            model.train()
            order = torch.randperm(n, generator=gen)
            total, count = 0.0, 0
            for start in range(0, n, batch_size):
                idx = order[start:start + batch_size]
                mats = pool[rng.integers(pool.shape[0], size=idx.numel())]
                xb = warp_images(x_all[idx], mats).to(device)
                xb = (xb - mean) / std
                loss = F.cross_entropy(model(xb), target[idx].to(device))
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
                total += float(loss.detach()) * idx.numel()
                count += idx.numel()
            acc = evaluate()
            entry = {"epoch": epoch, "train_accuracy": acc, "loss": total / count,
                     "seconds": time.perf_counter() - t0}
            log.append(entry)
            save(epoch, {"train_accuracy": acc, "loss": total / count})
            bar.update(1)
            bar.set_postfix(loss=f"{total / count:.3f}", accuracy=f"{acc:.2f}")
        bar.close()
        write_text(out_dir / "training_log.json", json.dumps({**common, "log": log}, indent=2))
        return paths
