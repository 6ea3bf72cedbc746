"""Collect the shards of one (network, manifold set) into a manifold dataset.

Shards (:func:`dnn_manifolds.generation.manifolds.generate_shard`) hold some objects × one
transform, every layer; :func:`collect_shards` checks they belong together (same configuration
digest, disjoint objects covering 0 … P−1), streams them one at a time and writes one manifold
dataset whose sessions are layer × transform (``"<layer>/<transform>"``), with layers smaller
than the largest NaN-padded (``docs/generation.md#generation-shards``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import xarray as xr

from ..data.dataset import make_dataset
from ..data.storage import save_dataset, write_dataset_by_session
from ..data.files import NETCDF_ENGINE
from ..data.provenance import provenance_attrs
from ..errors import UserError
from .manifolds import SHARD_FORMAT, TRANSFORMS
from .transforms import AFFINE_PARAMETERS

__all__ = ["STREAM_BYTES", "collect_shards"]

STREAM_BYTES = 2**30
"""Datasets above this size (float32 bytes) are written session by session, streamed from the
shards, instead of being assembled in memory."""


def _open_shard(path: Path) -> xr.Dataset:
    """Open a shard lazily; a truncated or damaged file is a ValueError naming it."""
    try:
        return xr.open_dataset(path, engine=NETCDF_ENGINE, cache=False)
    except Exception as err:  # h5py/h5netcdf raise several unrelated types for damaged files
        raise UserError(f"{path}: shard cannot be read: truncated or not netCDF ({err})") from err


def collect_shards(
    shard_paths: Sequence[str | os.PathLike],
    out_path: str | os.PathLike,
) -> Path:
    """Merge shards into one manifold dataset and save it (netCDF, atomically).

    Parameters
    ----------
    shard_paths : sequence of path-like
        Shards of one (network, manifold kind) from :func:`generate_shard`, any order. Together
        they must cover every object position of every transform they contain exactly once,
        and agree on every setting but the transform and objects.
    out_path : path-like
        Output manifold dataset (:func:`dnn_manifolds.data.storage.save_dataset`).

    Returns
    -------
    Path
        ``out_path``. The dataset has ``tuning`` (session, neuron, sample, object) with
        sessions ordered network, layer, transform (transform fastest), titled
        ``"<layer>/<transform>"`` (prefixed ``"<network>/"`` when several networks);
        session coords ``network``, ``layer``, ``transform``; objects = template image
        indices (point clouds: category indices) with ``object_label`` = category; layers
        with fewer units than the largest are padded with missing (NaN) neurons; sample
        coords ``affine`` (session, sample, [object,] param) for smooth kinds,
        ``transform_value`` (session, sample) for 1-d, ``image_index`` (session, sample,
        object; −1 = missing) always.

    Raises
    ------
    ValueError
        If shards disagree, overlap or leave objects out (naming the files and positions).
    """
    paths = sorted(Path(p) for p in shard_paths)
    if not paths:
        raise UserError("collect_shards needs at least one shard path")
    shards = []
    for path in paths:
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such shard")
        with _open_shard(path) as ds:
            if ds.attrs.get("shard_format") != SHARD_FORMAT:
                raise UserError(f"{path}: not a shard of dnn_manifolds.generation.manifolds.generate_shard")
            shards.append((path, ds.drop_vars("activation").load()))  # metadata only
    first_path, first = shards[0]
    kind = first.attrs["manifold_kind"]
    for path, ds in shards[1:]:
        for key in ("config_digest", "manifold_kind"):
            if ds.attrs[key] != first.attrs[key]:
                raise UserError(
                    f"shards disagree on {key}: {first_path.name} vs {path.name} (they must come "
                    "from the same network, weights, layers, stimuli, sizes and seeds)"
                )
        if list(ds["network"].values) != list(first["network"].values):
            raise UserError(f"shards disagree on networks: {first_path.name} vs {path.name}")
    config = json.loads(first.attrs["config"])
    n_objects = int(config["n_objects"])
    by_transform: dict[str, list] = {}
    for path, ds in shards:
        by_transform.setdefault(ds.attrs["transform"], []).append((path, ds))
    transforms = [t for t in TRANSFORMS[kind] if t in by_transform]
    layers = json.loads(first.attrs["layers"])
    networks = [str(n) for n in first["network"].values]
    n_samples = max(int(ds.sizes["sample"]) for _, ds in shards)
    unit_layer = first["unit_layer"].values
    columns = {lay: np.flatnonzero(unit_layer == k) for k, lay in enumerate(layers)}
    n_units = {lay: int(c.size) for lay, c in columns.items()}
    n_neurons = max(n_units.values())
    # object order: positions 0..P-1; ids/labels must agree across transforms
    object_id = np.full(n_objects, -1, dtype=np.int64)
    object_label = np.empty(n_objects, dtype=object)
    for t in transforms:
        seen: dict[int, tuple] = {}
        for path, ds in by_transform[t]:
            for o_i, pos in enumerate(ds["object"].values):
                pos = int(pos)
                if pos in seen:
                    raise UserError(
                        f"object position {pos} of transform {t!r} is in two shards: "
                        f"{seen[pos][0].name} and {path.name}")
                seen[pos] = (path,)
                oid, olab = int(ds["object_id"].values[o_i]), str(ds["object_label"].values[o_i])
                if object_id[pos] == -1:
                    object_id[pos], object_label[pos] = oid, olab
                elif (object_id[pos], object_label[pos]) != (oid, olab):
                    raise UserError(f"shards disagree on object {pos}: {path.name}")
        missing = sorted(set(range(n_objects)) - set(seen))
        if missing:
            raise UserError(f"transform {t!r}: no shard has object positions {missing[:20]}"
                             f"{' …' if len(missing) > 20 else ''} (of {n_objects})")

    sessions, s_net, s_layer, s_transform = [], [], [], []
    for net in networks:
        for lay in layers:
            for t in transforms:
                title = f"{lay}/{t}" if len(networks) == 1 else f"{net}/{lay}/{t}"
                sessions.append(title)
                s_net.append(net)
                s_layer.append(lay)
                s_transform.append(t)
    n_sessions = len(sessions)
    shape = (n_sessions, n_neurons, n_samples, n_objects)
    stream = 4 * int(np.prod(shape)) > STREAM_BYTES
    tuning = None if stream else np.full(shape, np.nan, dtype=np.float32)
    image_index = np.full((n_sessions, n_samples, n_objects), -1, dtype=np.int64)
    affine = np.full((n_sessions, n_samples, n_objects, 6), np.nan) if kind != "point-cloud" else None
    values = np.full((n_sessions, n_samples), np.nan) if kind == "1d" else None
    t_index = {t: k for k, t in enumerate(transforms)}
    bounds = {lay: (int(c[0]), int(c[-1]) + 1) for lay, c in columns.items()}
    for lay, (a, b) in bounds.items():
        if b - a != n_units[lay]:  # pragma: no cover - shards store each layer's units together
            raise UserError(f"{first_path}: the units of layer {lay!r} are not contiguous")
    # sample coordinates from the metadata; activations one shard at a time (in memory) or one
    # session at a time (streamed to disk, for datasets larger than STREAM_BYTES)
    for path, meta in shards:
        t = meta.attrs["transform"]
        m = int(meta.sizes["sample"])
        for o_i, pos in enumerate(meta["object"].values):
            for w_i in range(len(networks)):
                for l_i in range(len(layers)):
                    s = (w_i * len(layers) + l_i) * len(transforms) + t_index[t]
                    image_index[s, :m, pos] = meta["image_index"].values[o_i]
                    if affine is not None:
                        affine[s, :m, pos] = meta["affine"].values[o_i]
                    if values is not None:
                        values[s, :m] = meta["transform_value"].values
    if not stream:
        for path, meta in shards:
            t = meta.attrs["transform"]
            with _open_shard(path) as ds:
                try:
                    acts = ds["activation"].values  # (network, object, sample, unit)
                except (OSError, RuntimeError, ValueError) as err:
                    raise UserError(f"{path}: shard cannot be read: truncated or damaged ({err})") from err
            m = acts.shape[2]
            for o_i, pos in enumerate(meta["object"].values):
                for w_i in range(len(networks)):
                    for l_i, lay in enumerate(layers):
                        s = (w_i * len(layers) + l_i) * len(transforms) + t_index[t]
                        tuning[s, :n_units[lay], :m, pos] = acts[w_i, o_i][:, columns[lay]].T
            del acts

    def session_block(s: int) -> np.ndarray:
        w_i, rest = divmod(s, len(layers) * len(transforms))
        l_i, t_i = divmod(rest, len(transforms))
        lay, t = layers[l_i], transforms[t_i]
        a, b = bounds[lay]
        block = np.full(shape[1:], np.nan, dtype=np.float32)
        for path, meta in by_transform[t]:
            with _open_shard(path) as ds:
                try:
                    part = ds["activation"][w_i, :, :, a:b].values  # (object, sample, unit)
                except (OSError, RuntimeError, ValueError) as err:
                    raise UserError(f"{path}: shard cannot be read: truncated or damaged ({err})") from err
            m = part.shape[1]
            for o_i, pos in enumerate(meta["object"].values):
                block[: b - a, :m, pos] = part[o_i].T
        return block

    sample_coords: dict[str, tuple] = {"image_index": (("session", "sample", "object"), image_index)}
    if kind == "2d":
        sample_coords["affine"] = (("session", "sample", "object", "param"), affine)
    elif kind == "1d":
        # identical for every object: store once per session
        sample_coords["affine"] = (("session", "sample", "param"), affine[:, :, 0, :])
        sample_coords["transform_value"] = (("session", "sample"), values)
    nets_meta = json.loads(first.attrs["networks"])
    seeds = json.loads(first.attrs["seeds"])
    attrs = provenance_attrs(
        seeds=seeds,
        config=config,
        title=f"{config['network']} {kind} object manifolds",
        network=config["network"],
        networks=[m["label"] for m in nets_meta],
        weights=[m["weights"] for m in nets_meta],
        manifold_kind=kind,
        range_factor=config.get("range_factor") if config.get("range_factor") is not None else "",
        n_samples=n_samples,
        layers=layers,
        layer_modules=nets_meta[0]["modules"],
        layer_shapes=nets_meta[0]["shapes"],
        layer_units=n_units,
        image_indices=[int(i) for i in object_id] if kind != "point-cloud" else [],
        affine_parameter_order=" ".join(AFFINE_PARAMETERS),
        stimuli=config["stimuli"],
        stimuli_kind=first.attrs.get("stimuli_kind", ""),
        torch_version=first.attrs.get("torch_version", ""),
        shards=[p.name for p in paths],
    )
    common = {
        "sessions": sessions,
        "object_ids": object_id,
        "object_labels": [str(x) for x in object_label],
        "session_coords": {"network": s_net, "layer": s_layer, "transform": s_transform},
        "sample_coords": sample_coords,
        "attrs": attrs,
        "source": str(out_path),
    }
    if stream:
        return write_dataset_by_session(out_path, session_block, shape=shape, **common)
    return save_dataset(make_dataset(tuning, **common), out_path)
