"""GPU benchmark of manifold generation at the paper's sizes (not a test; needs a CUDA device).

One prepared script for a GPU machine: for the demo CNN, AlexNet, VGG16 and ResNet-50
(untrained weights, so nothing is downloaded; speed does not depend on the weights) it
generates one shard of

* a **1-d** manifold set at the paper's largest M (x-translation, M = 201 samples per object,
  ``--objects-1d`` objects), and
* a **2-d** manifold set at the paper's largest M (random translation, M = 3201,
  ``--objects-2d`` objects),

with every layer of the network recorded (4096 units per layer at most), exactly as the
workflow's ``generate_shard`` job does (IEEE float32, ``docs/generation.md#generation-gpu``),
and reports per shard: images per second of the whole call and of the forward pass with
recording alone, the time spent writing the netCDF file, the GPU's peak memory, the
process's peak RSS and the file size. A first, 3-image shard per network is timed on its own
(model construction, CUDA context, cuDNN autotuning: a job's one-off cost), and the 1-d shard
is timed again with TF32 allowed for float32 convolutions and matrix products (PyTorch's
default allows it for cuDNN's convolutions only), to show what full float32 costs.

It then checks that the GPU records what the CPU records: a small shard (``--agree-samples``
samples of one object, 1-d) is generated on the CPU and on the GPU (as generation runs, and
with TF32 allowed for convolutions and matrix products) and every layer's activations are compared (the largest absolute
difference relative to the layer's largest absolute value on the CPU).

Prints a Markdown table (paste it into bench/README.md) and writes JSON with ``--json``; the
cost model (``dnn_manifolds.workflow.costs.MEASURED["generation"]``) takes its images per second.

Example (a few minutes on one H200)::

    python bench/bench_gpu.py --json gpu.json
    python bench/bench_gpu.py --networks alexnet --objects-2d 1 --device cpu   # a CPU dry run
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

SIZES = {"1d": ("x-translation", 201, 8.0), "2d": ("translation", 3201, 8.0)}
"""Per kind: transform, samples per object (the paper's largest) and range factor."""


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


@contextlib.contextmanager
def _tf32_allowed():
    """Let cuDNN and cuBLAS use TF32 for float32 convolutions and matrix products inside the
    block (PyTorch's default allows it for the convolutions only), overriding generation's IEEE
    float32; restored afterwards."""
    from dnn_manifolds.generation import manifolds
    from dnn_manifolds.generation.runtime import float32_mode

    saved = manifolds.full_float32
    manifolds.full_float32 = lambda device: contextlib.nullcontext()
    try:
        with float32_mode("cuda", tf32=True):
            yield
    finally:
        manifolds.full_float32 = saved


def _shard(network, kind, n_objects, device, batch_size, stimuli, out, n_samples=None, transform=None):
    """Generate one shard; return its timings, memory and file size."""
    import torch

    from dnn_manifolds.generation import manifolds, networks

    default_transform, default_samples, range_factor = SIZES[kind]
    transform = transform or default_transform
    n_samples = n_samples or default_samples
    timers = {"record": 0.0, "write": 0.0}
    record, write = networks.Network.record, manifolds.write_netcdf

    def timed(fn, key):
        def wrapper(*args, **kwargs):
            _sync(device)
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                _sync(device)
                timers[key] += time.perf_counter() - t

        return wrapper

    networks.Network.record = timed(record, "record")
    manifolds.write_netcdf = timed(write, "write")
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    try:
        t0 = time.perf_counter()
        manifolds.generate_shard(
            out,
            stimuli_path=stimuli,
            network=network,
            weights="untrained",
            manifold_kind=kind,
            transform=transform,
            n_objects=n_objects,
            objects_seed=0,
            n_samples=n_samples,
            range_factor=range_factor,
            device=device,
            batch_size=batch_size,
        )
        total = time.perf_counter() - t0
    finally:
        networks.Network.record, manifolds.write_netcdf = record, write
    images = n_objects * n_samples
    return {
        "network": network,
        "kind": kind,
        "device": device,
        "objects": n_objects,
        "samples": n_samples,
        "images": images,
        "seconds": total,
        "record_s": timers["record"],
        "write_s": timers["write"],
        "img_per_s": images / total,
        "record_img_per_s": images / timers["record"] if timers["record"] else float("nan"),
        "gpu_peak_mib": torch.cuda.max_memory_allocated() / 2**20 if device.startswith("cuda") else None,
        "max_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "file_mib": Path(out).stat().st_size / 2**20,
    }


def _activations(network, device, n_samples, stimuli, path):
    """Every layer's recorded activations of a small 1-d shard: (float64 array, unit_layer, layers)."""
    import numpy as np
    import xarray as xr

    _shard(network, "1d", 1, device, n_samples, stimuli, path, n_samples=n_samples)
    with xr.open_dataset(path) as ds:  # a shard: activation (network, object, sample, unit)
        out = ds["activation"].values.astype(np.float64), ds["unit_layer"].values, [str(x) for x in ds["layer"].values]
    Path(path).unlink()
    return out


def _agreement(network, device, n_samples, stimuli, tmp) -> dict:
    """Largest difference between the activations recorded on ``device`` and on the CPU, per
    layer relative to the layer's largest absolute value on the CPU: as generation records
    (IEEE float32) and with TF32 allowed for convolutions and matrix products."""
    import numpy as np

    ref, unit_layer, layers = _activations(network, "cpu", n_samples, stimuli, Path(tmp) / "agree-cpu.nc")
    result = {"network": network, "samples": n_samples, "layers": len(layers)}
    for mode in ("ieee", "tf32"):
        with _tf32_allowed() if mode == "tf32" else contextlib.nullcontext():
            got, _, _ = _activations(network, device, n_samples, stimuli, Path(tmp) / f"agree-{mode}.nc")
        worst, where = 0.0, ""
        for index, title in enumerate(layers):
            units = unit_layer == index
            scale = max(float(np.abs(ref[..., units]).max()), 1e-30)
            rel = float(np.abs(got[..., units] - ref[..., units]).max()) / scale
            if rel > worst:
                worst, where = rel, title
        result[f"max_rel_diff_{mode}"], result[f"worst_layer_{mode}"] = worst, where
    return result


def _environment(device: str) -> dict:
    import os
    import platform

    import torch

    env = {"torch": torch.__version__, "python": platform.python_version(), "cpus": os.cpu_count()}
    if device.startswith("cuda"):
        env.update(gpu=torch.cuda.get_device_name(), cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version())
    return env


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--networks", nargs="+", default=["democnn", "alexnet", "vgg16", "resnet50"])
    p.add_argument("--device", default="cuda")
    p.add_argument("--objects-1d", type=int, default=4, help="objects of the 1-d shard (M = 201 each)")
    p.add_argument("--objects-2d", type=int, default=1, help="objects of the 2-d shard (M = 3201 each)")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--agree-samples", type=int, default=9, help="samples of the GPU-versus-CPU check (0: skip)")
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)
    if a.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            print("no CUDA device: run on a GPU machine, or pass --device cpu for a dry run", file=sys.stderr)
            return 2
        print(f"device: {torch.cuda.get_device_name()}", file=sys.stderr)
    rows, agree, warm, tf32 = [], [], [], []
    results = {"environment": _environment(a.device), "shards": rows, "warm_up": warm, "tf32": tf32, "agreement": agree}

    def save():  # after every measurement, so a run cut short keeps what it measured
        if a.json:
            Path(a.json).write_text(json.dumps(results, indent=2))

    print(json.dumps(results["environment"]), file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        from dnn_manifolds.generation.embedded import make_embedded_stimuli

        n_cat = max(a.objects_1d, a.objects_2d, 2) + 1
        stim = str(make_embedded_stimuli(Path(tmp) / "s.h5", seed=0, n_categories=n_cat, n_exemplars=1))
        for net in a.networks:
            # warm-up: model construction, CUDA context, cuDNN autotuning, first forward (what a
            # generation job pays once)
            warm.append(_shard(net, "1d", 1, a.device, a.batch_size, stim, Path(tmp) / "warm.nc", n_samples=3))
            print(json.dumps({"warm_up": warm[-1]}), file=sys.stderr, flush=True)
            for kind, n_obj in (("1d", a.objects_1d), ("2d", a.objects_2d)):
                if n_obj <= 0:
                    continue
                row = _shard(net, kind, n_obj, a.device, a.batch_size, stim, Path(tmp) / f"{net}-{kind}.nc")
                Path(tmp, f"{net}-{kind}.nc").unlink()
                rows.append(row)
                print(json.dumps(row), file=sys.stderr, flush=True)
                save()
            if a.device != "cpu" and a.objects_1d > 0:
                with _tf32_allowed():  # the speed with TF32 convolutions and matrix products
                    row = _shard(net, "1d", a.objects_1d, a.device, a.batch_size, stim, Path(tmp) / "tf32.nc")
                Path(tmp, "tf32.nc").unlink()
                tf32.append(row)
                print(json.dumps({"tf32": row}), file=sys.stderr, flush=True)
            if a.agree_samples > 0 and a.device != "cpu":
                agree.append(_agreement(net, a.device, a.agree_samples, stim, tmp))
                print(json.dumps(agree[-1]), file=sys.stderr, flush=True)
            save()
    print("| network | kind | device | images | img/s (whole shard) | img/s (forward + recording) | write s | GPU peak MiB | max RSS MiB | file MiB |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        gpu = f"{r['gpu_peak_mib']:.0f}" if r["gpu_peak_mib"] is not None else "–"
        print(
            f"| {r['network']} | {r['kind']} (M = {r['samples']}) | {r['device']} | {r['images']} | {r['img_per_s']:.1f} | "
            f"{r['record_img_per_s']:.1f} | {r['write_s']:.1f} | {gpu} | {r['max_rss_mib']:.0f} | {r['file_mib']:.0f} |"
        )
    if tf32:
        print()
        print("| network | 1-d img/s, IEEE float32 (as generation runs) | 1-d img/s, TF32 convolutions and matmuls |")
        print("|---|---:|---:|")
        for t in tf32:
            ieee = next(r for r in rows if r["network"] == t["network"] and r["kind"] == "1d")
            print(f"| {t['network']} | {ieee['img_per_s']:.1f} | {t['img_per_s']:.1f} |")
    if agree:
        print()
        print("| network | samples | layers | max relative difference GPU vs CPU (IEEE float32) | layer | with TF32 (convolutions and matmuls) | layer |")
        print("|---|---:|---:|---:|---|---:|---|")
        for g in agree:
            print(
                f"| {g['network']} | {g['samples']} | {g['layers']} | {g['max_rel_diff_ieee']:.1e} | {g['worst_layer_ieee']} "
                f"| {g['max_rel_diff_tf32']:.1e} | {g['worst_layer_tf32']} |"
            )
    save()
    return 0


if __name__ == "__main__":
    sys.exit(main())
