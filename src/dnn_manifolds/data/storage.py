"""Manifold datasets on disk: netCDF-4 load and save, and a session-by-session writer.

:func:`save_dataset` validates and writes a dataset atomically, ``tuning`` chunked one session
per chunk (so that reading a session reads only its chunk); :func:`write_dataset_by_session`
writes the same file for data too large to hold at once; :func:`load_dataset` opens one lazily.
The data model itself is in :mod:`dnn_manifolds.data.dataset` (``docs/data-model.md``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from .dataset import DIMS, TUNING, TUNING_ATTRS, ManifoldDataError, _coords, _validate_session, validate_dataset
from .files import NETCDF_ENGINE, fast_engine, write_netcdf
from .provenance import provenance_attrs


def save_dataset(ds: xr.Dataset, path: str | os.PathLike) -> Path:
    """Validate and write a manifold dataset to netCDF atomically, one chunk per session."""
    validate_dataset(ds, source=str(path))
    sizes = ds[TUNING].sizes
    dtype = "float64" if ds[TUNING].dtype == np.float64 else "float32"
    encoding = {
        TUNING: {
            "chunksizes": (1, sizes["neuron"], sizes["sample"], sizes["object"]),
            "dtype": dtype,
        }
    }
    return write_netcdf(ds, path, encoding=encoding)


def write_dataset_by_session(
    path: str | os.PathLike,
    session_block: Callable[[int], np.ndarray],
    *,
    shape: tuple[int, int, int, int],
    sessions: Sequence[str],
    object_ids: Sequence[int] | None = None,
    object_labels: Sequence[str] | None = None,
    session_coords: Mapping[str, Sequence[str]] | None = None,
    sample_coords: Mapping[str, tuple[Sequence[str], np.ndarray]] | None = None,
    attrs: Mapping[str, Any] | None = None,
    source: str = "<sessions>",
) -> Path:
    """Write a float32 manifold dataset session by session, never holding it whole in memory.

    For datasets larger than memory (the paper's 2-d manifolds at M = 3201 are about 3.4 GB
    per session and over 100 GB per network): ``session_block(s)`` returns session ``s`` as
    an ``(n_neurons, n_samples, n_objects)`` array; each is validated like
    :func:`validate_dataset` does and written to its own chunk. The file is the one
    :func:`save_dataset` would write for the same data (same coordinates, attributes,
    chunking and compression), atomically; the disk must hold the uncompressed size.
    """
    import errno

    import h5netcdf

    from .files import _prepared, atomic_path, free_space, netcdf_safe_attrs

    coords = _coords(
        shape,
        sessions=sessions,
        object_ids=object_ids,
        object_labels=object_labels,
        session_coords=session_coords,
        sample_coords=sample_coords,
        source=source,
    )
    skeleton = xr.Dataset(coords=coords, attrs=dict(attrs) if attrs is not None else provenance_attrs())
    target = Path(path)
    need = 4 * int(np.prod(shape))
    free = free_space(target.parent) if target.parent.exists() else None
    if free is not None and need + 2**26 > free:
        raise OSError(
            errno.ENOSPC,
            f"cannot write {str(target)!r}: it may need {need} bytes (uncompressed) but only {free} are free",
        )
    n_sessions, n_neurons, n_samples, n_objects = shape
    titles = [str(t) for t in skeleton["session"].values]
    with atomic_path(target) as tmp:
        ds, enc = _prepared(skeleton, None, True)
        ds.to_netcdf(tmp, engine=NETCDF_ENGINE, encoding=enc)
        with h5netcdf.File(tmp, "a") as fh:
            var = fh.create_variable(
                TUNING,
                DIMS,
                dtype="f4",
                chunks=(1, n_neurons, n_samples, n_objects),
                compression="gzip",
                compression_opts=4,
                shuffle=True,
                fillvalue=np.float32(np.nan),
            )
            for key, value in netcdf_safe_attrs(TUNING_ATTRS).items():
                var.attrs[key] = value
            for s in range(n_sessions):
                block = np.asarray(session_block(s), dtype=np.float32)
                if block.shape != (n_neurons, n_samples, n_objects):
                    raise ValueError(f"session {s}: block of shape {block.shape}, expected {shape[1:]}")
                _validate_session(block, source=source, variable=TUNING, title=titles[s], object_ids=skeleton["object"].values)
                var[s] = block
    return target


def load_dataset(path: str | os.PathLike, *, validate: bool = True) -> xr.Dataset:
    """Open a manifold dataset lazily (data are read when accessed, one session at a time).

    With ``validate=True`` every session is read once and checked (:func:`validate_dataset`);
    jobs that analyse one session pass ``validate=False`` and rely on :func:`session_data`,
    which checks the session it reads.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ManifoldDataError
        If the file cannot be read as netCDF or does not follow the data model.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        ds = xr.open_dataset(path, engine=fast_engine(), cache=False)
    except Exception as err:  # the engines raise several unrelated types for bad files
        raise ManifoldDataError(
            str(path), TUNING, f"cannot be read: the file is not valid netCDF-4/HDF5 ({err})"
        ) from err
    if validate:
        try:
            validate_dataset(ds, source=str(path))
        except ManifoldDataError:
            ds.close()
            raise
        except (OSError, RuntimeError) as err:  # truncated data chunks surface on read
            ds.close()
            raise ManifoldDataError(str(path), TUNING, f"cannot be read ({err})") from err
    return ds
