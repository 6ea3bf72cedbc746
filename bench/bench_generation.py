"""Benchmark of manifold generation (not a test).

For each network it measures, in a fresh process each:

* **bare**: images/s of the bare forward pass ``model(preprocess(x))`` on pre-warped images,
  batch by batch, no hooks;
* **shard**: images/s of :func:`dnn_manifolds.generation.manifolds.generate_shard` recording every
  layer of the network (warp + forward with hooks + unit selection + netCDF write), and the
  overhead over the bare forward pass: of the whole call ``(t_shard − t_bare) / t_bare``
  and of the per-image work only ``(t_warp + t_record + t_write − t_bare) / t_bare``; the
  rest of the call is per-shard setup (model construction, layer shapes, template choice);
* **peak memory** (max RSS of the process) for two shard sizes, to show that it grows with
  the shard, not with the dataset.

Untrained weights (no download). Example::

    python bench/bench_generation.py --networks democnn alexnet --device cpu --threads 1
    python bench/bench_generation.py --networks alexnet vgg16 resnet50 --device cuda --n-samples 201

Prints a Markdown table (paste it into bench/README.md) and writes JSON with ``--json``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

REPEATS = 3
"""Timed repetitions; the fastest is reported (the cores are shared with other jobs)."""


def _bare(network: str, device: str, n_images: int, batch_size: int, threads: int, input_size) -> dict:
    import numpy as np
    import torch

    from dnn_manifolds.generation.networks import Network

    torch.set_num_threads(threads)
    net = Network(network, weights="untrained", device=device, input_size=input_size)
    x = torch.from_numpy(np.random.default_rng(0).uniform(0, 255, (n_images, 3, 64, 64)).astype(np.float32))
    x = x.to(device)
    times = []
    with torch.inference_mode():
        net.model(net.preprocess(x[:batch_size]))  # warm-up
        for _ in range(REPEATS):  # the minimum is the least disturbed by other jobs on the cores
            _sync(device)
            t0 = time.perf_counter()
            for s in range(0, n_images, batch_size):
                net.model(net.preprocess(x[s:s + batch_size]))
            _sync(device)
            times.append(time.perf_counter() - t0)
    return {"seconds": min(times)}


def _shard(network: str, device: str, n_objects: int, n_samples: int, batch_size: int, threads: int,
           input_size, stimuli: str, out: str) -> dict:
    import numpy as np
    import torch

    from dnn_manifolds.generation import manifolds, networks, transforms

    torch.set_num_threads(threads)
    timers = {"warp": 0.0, "record": 0.0, "write": 0.0}

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

    manifolds.warp_images = timed(transforms.warp_images, "warp")
    networks.Network.record = timed(networks.Network.record, "record")
    manifolds.write_netcdf = timed(manifolds.write_netcdf, "write")
    # warm-up (model construction, first forward) outside the timed run
    manifolds.generate_shard(out, stimuli_path=stimuli, network=network, weights="untrained",
                             manifold_kind="1d", transform="x-translation", n_objects=n_objects, objects_seed=0,
                             objects=[0], n_samples=3, range_factor=4, device=device,
                             batch_size=batch_size, input_size=input_size)
    best = None
    for _ in range(REPEATS):
        for k in timers:
            timers[k] = 0.0
        t0 = time.perf_counter()
        manifolds.generate_shard(out, stimuli_path=stimuli, network=network, weights="untrained",
                                 manifold_kind="1d", transform="x-translation", n_objects=n_objects, objects_seed=0,
                                 n_samples=n_samples, range_factor=4, device=device,
                                 batch_size=batch_size, input_size=input_size)
        total = time.perf_counter() - t0
        if best is None or total < best[0]:
            best = (total, dict(timers))
    total, timers = best
    n_layers = len(networks.network_layers(network))
    size = os.path.getsize(out)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # MiB (Linux: KiB)
    gpu_peak = torch.cuda.max_memory_allocated() / 2**20 if device.startswith("cuda") else None
    del np
    return {"seconds": total, **timers, "n_layers": n_layers, "file_mib": size / 2**20,
            "max_rss_mib": rss, "gpu_peak_mib": gpu_peak}


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def _run(fn, *args) -> dict:
    ctx = mp.get_context("spawn")
    with ctx.Pool(1) as pool:
        return pool.apply(fn, args)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--networks", nargs="+", default=["democnn", "alexnet", "vgg16", "resnet50"])
    p.add_argument("--device", default="cpu")
    p.add_argument("--n-objects", type=int, default=2)
    p.add_argument("--n-samples", type=int, default=15)
    p.add_argument("--batch-size", type=int, default=None, help="default: n_samples")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--input-size", type=int, default=None)
    p.add_argument("--memory-objects", type=int, nargs=2, default=None,
                   help="two shard sizes (objects) for the peak-memory comparison; default n, 4n")
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)
    batch = a.batch_size or a.n_samples
    mem_sizes = a.memory_objects or [a.n_objects, 4 * a.n_objects]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        from dnn_manifolds.generation.embedded import make_embedded_stimuli

        stim = str(make_embedded_stimuli(Path(tmp) / "s.h5", seed=0, n_categories=max(mem_sizes) + 1,
                                         n_exemplars=1))
        for net in a.networks:
            n_img = a.n_objects * a.n_samples
            bare = _run(_bare, net, a.device, n_img, batch, a.threads, a.input_size)
            shard = _run(_shard, net, a.device, a.n_objects, a.n_samples, batch, a.threads, a.input_size,
                         stim, str(Path(tmp) / "shard.nc"))
            mem = [_run(_shard, net, a.device, k, a.n_samples, batch, a.threads, a.input_size, stim,
                        str(Path(tmp) / f"mem{k}.nc")) for k in mem_sizes]
            row = {
                "network": net, "device": a.device, "images": n_img, "layers": shard["n_layers"],
                "bare_img_s": n_img / bare["seconds"], "shard_img_s": n_img / shard["seconds"],
                "overhead": (shard["seconds"] - bare["seconds"]) / bare["seconds"],
                "setup_s": shard["seconds"] - shard["warp"] - shard["record"] - shard["write"],
                "per_image_overhead": (shard["warp"] + shard["record"] + shard["write"] - bare["seconds"])
                / bare["seconds"],
                "warp_s": shard["warp"], "record_s": shard["record"], "write_s": shard["write"],
                "bare_s": bare["seconds"], "shard_s": shard["seconds"],
                "mem": [{"objects": k, "max_rss_mib": m["max_rss_mib"], "file_mib": m["file_mib"],
                         "gpu_peak_mib": m["gpu_peak_mib"]} for k, m in zip(mem_sizes, mem)],
            }
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    print(f"| network | device | images | layers | bare img/s | shard img/s | overhead (all) | "
          f"overhead (warp+record+write) | bare s | warp s | record s | write s | setup s | "
          f"max RSS MiB ({mem_sizes[0]} / {mem_sizes[1]} objects) | shard file MiB |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        m0, m1 = r["mem"]
        print(f"| {r['network']} | {r['device']} | {r['images']} | {r['layers']} | {r['bare_img_s']:.1f} | "
              f"{r['shard_img_s']:.1f} | {100 * r['overhead']:+.0f} % | {100 * r['per_image_overhead']:+.0f} % | "
              f"{r['bare_s']:.2f} | {r['warp_s']:.2f} | {r['record_s']:.2f} | {r['write_s']:.2f} | "
              f"{r['setup_s']:.2f} | "
              f"{m0['max_rss_mib']:.0f} / {m1['max_rss_mib']:.0f} | "
              f"{m0['file_mib']:.1f} / {m1['file_mib']:.1f} |")
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
