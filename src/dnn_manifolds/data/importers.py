"""Import a user's own data into a manifold dataset.

Supported inputs (chosen by file extension, or by content for ``.mat``):

``*.mat`` (MATLAB, the original's ``<name>_tuning.mat``)
    Variable ``tuning_function`` of shape ``[N_SESSIONS, N_NEURONS, N_SAMPLES, N_OBJECTS]`` or
    ``[N_NEURONS, N_SAMPLES, N_OBJECTS]`` (one session), and optionally ``data_titles``, a cell
    array ``[N_SESSIONS, 1]`` of strings (``docs/data-model.md#data-import-matlab``). Both MATLAB formats:

    * v7.3 (HDF5), read with h5py. HDF5 stores MATLAB's column-major arrays with the axes
      **reversed**, so ``tuning_function`` appears as ``(P, M, N, S)`` and is transposed back;
      ``data_titles`` is an array of object references to ``uint16`` character arrays.
    * v5/v7 (``scipy.io.loadmat``), which returns the MATLAB axis order directly.

``*.npy``
    The array itself, 3-D or 4-D as above.
``*.npz``
    ``tuning_function`` (or ``tuning``) and optionally ``data_titles``.
``*.nc``
    A manifold dataset written by this package (variable ``tuning``), or any netCDF file
    holding ``tuning_function`` with the MATLAB axis order.

Every failure raises :class:`~dnn_manifolds.data.ManifoldDataError` with a one-line
message naming the file, the variable and the problem.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..validation import available_memory
from .dataset import TUNING, ManifoldDataError, make_dataset
from .storage import load_dataset
from .files import NETCDF_ENGINE
from .provenance import provenance_attrs

SUFFIXES = (".mat", ".npy", ".npz", ".nc", ".nc4", ".netcdf", ".h5")
"""File types :func:`import_data` reads (by extension)."""

DATA_VARIABLE = "tuning_function"
TITLES_VARIABLE = "data_titles"
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def import_data(path: str | os.PathLike, *, variable: str = DATA_VARIABLE):
    """Read a user's file into a validated manifold dataset (see the module docstring).

    Parameters
    ----------
    path : path-like
        Input file (``.mat`` v5/v7/v7.3, ``.npy``, ``.npz``, ``.nc``).
    variable : str, default ``"tuning_function"``
        Name of the data variable in ``.mat``/``.npz``/foreign ``.nc`` files.

    Returns
    -------
    xarray.Dataset
        With the main variable ``tuning`` of dims (session, neuron, sample, object), loaded in
        memory, and attrs recording the source file.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ManifoldDataError
        If the file cannot be read or its content breaks the data model.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if path.is_dir():
        raise ManifoldDataError(str(path), variable, "is a directory, not a data file")
    suffix = path.suffix.lower()
    if suffix == ".mat":
        tuning, titles = _read_mat(path, variable)
    elif suffix == ".npy":
        tuning, titles = _read_npy(path), None
    elif suffix == ".npz":
        tuning, titles = _read_npz(path, variable)
    elif suffix in (".nc", ".nc4", ".netcdf", ".h5"):
        return _read_netcdf(path, variable)
    else:
        raise ManifoldDataError(
            str(path),
            variable,
            f"unknown file type {suffix!r}; expected .mat (MATLAB v5/v7/v7.3), .npy, .npz or .nc",
        )
    attrs = provenance_attrs(source_file=path.name, source_format=suffix.lstrip("."))
    return make_dataset(tuning, sessions=titles, attrs=attrs, source=str(path), variable=variable)


# ----------------------------------------------------------------------------- MATLAB


def _read_mat(path: Path, variable: str) -> tuple[np.ndarray, list[str] | None]:
    with open(path, "rb") as fh:
        head = fh.read(512 + len(HDF5_SIGNATURE))
    # MATLAB v7.3 files are HDF5 with a 512-byte user block; the signature follows it.
    if head[512:].startswith(HDF5_SIGNATURE) or head.startswith(HDF5_SIGNATURE):
        return _read_mat_v73(path, variable)
    return _read_mat_v5(path, variable)


def _read_mat_v73(path: Path, variable: str) -> tuple[np.ndarray, list[str] | None]:
    import h5py

    try:
        fh = h5py.File(path, "r")
    except OSError as err:
        raise ManifoldDataError(
            str(path), variable, f"cannot be read: the MATLAB v7.3 (HDF5) file is damaged ({err})"
        ) from err
    with fh:
        if variable not in fh:
            raise ManifoldDataError(
                str(path), variable, f"is missing; the file has {sorted(fh.keys())}"
            )
        node = fh[variable]
        if not isinstance(node, h5py.Dataset):
            raise ManifoldDataError(str(path), variable, "is not a numeric array (it is a group or struct)")
        matlab_class = node.attrs.get("MATLAB_class", b"")
        if isinstance(matlab_class, bytes):
            matlab_class = matlab_class.decode(errors="replace")
        names = set(node.dtype.names or ())
        if {"real", "imag"} <= names:  # MATLAB stores complex arrays as (real, imag) pairs
            raise ManifoldDataError(
                str(path),
                variable,
                f"must be real-valued; got complex numbers (MATLAB class {matlab_class or 'double'})",
            )
        if matlab_class in ("char", "cell", "struct") or node.dtype.kind not in "biuf":
            raise ManifoldDataError(
                str(path),
                variable,
                f"must be a numeric array; got MATLAB class {matlab_class or node.dtype}",
            )
        _check_size(path, variable, node.shape[::-1], node.dtype.itemsize)  # MATLAB order
        try:
            raw = node[()]
        except (OSError, RuntimeError) as err:
            raise ManifoldDataError(
                str(path), variable, f"cannot be read: the file is truncated or damaged ({err})"
            ) from err
        tuning = np.asarray(raw).transpose()  # HDF5 shows MATLAB's axes reversed
        titles = None
        if TITLES_VARIABLE in fh:
            titles = _read_v73_titles(fh, fh[TITLES_VARIABLE], path)
    return tuning, titles


def _read_v73_titles(fh, node, path: Path) -> list[str]:
    import h5py

    if not isinstance(node, h5py.Dataset) or node.dtype.kind != "O":
        if isinstance(node, h5py.Dataset) and node.dtype.kind in "iu":  # a char matrix
            chars = np.asarray(node[()]).transpose()
            return ["".join(map(chr, row)).rstrip() for row in np.atleast_2d(chars)]
        raise ManifoldDataError(str(path), TITLES_VARIABLE, "must be a cell array of strings")
    titles = []
    for ref in np.asarray(node[()]).ravel(order="F"):
        target = fh[ref]
        data = np.asarray(target[()])
        if data.dtype.kind not in "iu":
            raise ManifoldDataError(str(path), TITLES_VARIABLE, "must be a cell array of strings")
        if target.attrs.get("MATLAB_empty", 0):
            titles.append("")
        else:
            titles.append("".join(chr(c) for c in data.ravel(order="F")))
    return titles


def _read_mat_v5(path: Path, variable: str) -> tuple[np.ndarray, list[str] | None]:
    import scipy.io

    try:
        contents = scipy.io.loadmat(path, squeeze_me=False, struct_as_record=True)
    except NotImplementedError as err:  # scipy says this for v7.3 files without HDF5 signature
        raise ManifoldDataError(str(path), variable, f"cannot be read ({err})") from err
    except Exception as err:  # scipy raises ValueError/TypeError/OSError for damaged files
        raise ManifoldDataError(
            str(path), variable, f"cannot be read: not a valid MATLAB file or truncated ({err})"
        ) from err
    names = sorted(k for k in contents if not k.startswith("__"))
    if variable not in contents:
        raise ManifoldDataError(str(path), variable, f"is missing; the file has {names}")
    tuning = contents[variable]
    if isinstance(tuning, np.ndarray) and tuning.dtype.kind == "c":
        raise ManifoldDataError(
            str(path), variable, f"must be real-valued; got complex numbers ({tuning.dtype})"
        )
    if not isinstance(tuning, np.ndarray) or tuning.dtype.kind not in "biuf":
        kind = "cell/struct" if getattr(tuning, "dtype", None) is not None and tuning.dtype.kind in "OV" else getattr(tuning, "dtype", type(tuning).__name__)
        raise ManifoldDataError(str(path), variable, f"must be a numeric array; got {kind}")
    titles = None
    if TITLES_VARIABLE in contents:
        titles = _cell_to_strings(contents[TITLES_VARIABLE], path)
    return tuning, titles


def _cell_to_strings(cell: Any, path: Path) -> list[str]:
    arr = np.asarray(cell)
    if arr.dtype.kind == "U":  # a char matrix: one row per title
        return [str(row).rstrip() for row in np.atleast_1d(arr).ravel()]
    if arr.dtype.kind != "O":
        raise ManifoldDataError(str(path), TITLES_VARIABLE, "must be a cell array of strings")
    titles = []
    for item in arr.ravel(order="F"):
        item = np.asarray(item)
        if item.dtype.kind != "U":
            if item.size == 0:
                titles.append("")
                continue
            raise ManifoldDataError(str(path), TITLES_VARIABLE, "must be a cell array of strings")
        titles.append("".join(item.ravel().tolist()))
    return titles


# ----------------------------------------------------------------------------- NumPy / netCDF


def _read_npy(path: Path) -> np.ndarray:
    """Read a ``.npy`` file, checking its header first so that a text file, a truncated file,
    an object array or an array too large for memory each get their own message."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        if fh.read(6) != b"\x93NUMPY":
            raise ManifoldDataError(
                str(path),
                DATA_VARIABLE,
                "cannot be read: not a .npy file (it lacks the NumPy header; a text file? "
                "convert it with numpy.save)",
            )
        fh.seek(0)
        try:
            version = np.lib.format.read_magic(fh)
            reader = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
            shape, _fortran, dtype = reader.get(version, np.lib.format.read_array_header_2_0)(fh)
        except (ValueError, OSError, EOFError) as err:
            raise ManifoldDataError(
                str(path), DATA_VARIABLE, f"cannot be read: damaged .npy header ({err})"
            ) from err
        header = fh.tell()
    if dtype.hasobject:
        raise ManifoldDataError(
            str(path), DATA_VARIABLE, "must be a numeric array; got an object array (refused: it would need unpickling)"
        )
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if size - header < expected:
        raise ManifoldDataError(
            str(path),
            DATA_VARIABLE,
            f"cannot be read: the file is truncated (its header declares {dtype} of shape "
            f"{tuple(shape)}, {expected} bytes of data, but it holds {size - header})",
        )
    _check_size(path, DATA_VARIABLE, shape, dtype.itemsize)
    try:
        return np.load(path, allow_pickle=False)
    except Exception as err:
        raise ManifoldDataError(str(path), DATA_VARIABLE, f"cannot be read ({err})") from err


def _check_size(path: Path, variable: str, shape, itemsize: int) -> None:
    """Refuse, before reading, an array whose import would not fit in memory (the values
    themselves plus their float64 and stored copies)."""
    count = int(np.prod([int(n) for n in shape], dtype=object)) if len(shape) else 1
    needed = count * (int(itemsize) + 8 + 8)
    free = available_memory()
    if free is not None and needed > free:
        gib = 2.0**30
        raise ManifoldDataError(
            str(path),
            variable,
            f"declares an array of shape {tuple(int(n) for n in shape)} ({count * itemsize / gib:.3g} GiB); "
            f"importing it needs about {needed / gib:.3g} GiB of memory, more than the "
            f"{free / gib:.3g} GiB available",
        )


def _read_npz(path: Path, variable: str) -> tuple[np.ndarray, list[str] | None]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            names = sorted(npz.files)
            key = variable if variable in npz.files else (TUNING if TUNING in npz.files else None)
            if key is None:
                raise ManifoldDataError(str(path), variable, f"is missing; the file has {names}")
            tuning = npz[key]
            titles = None
            if TITLES_VARIABLE in npz.files:
                titles = [str(t) for t in np.asarray(npz[TITLES_VARIABLE]).ravel()]
    except ManifoldDataError:
        raise
    except Exception as err:
        raise ManifoldDataError(str(path), variable, f"cannot be read: truncated or not a .npz file ({err})") from err
    return tuning, titles


def _read_netcdf(path: Path, variable: str):
    import xarray as xr


    try:
        raw = xr.open_dataset(path, engine=NETCDF_ENGINE, cache=False)
    except Exception as err:
        raise ManifoldDataError(
            str(path), TUNING, f"cannot be read: not a valid netCDF-4/HDF5 file or truncated ({err})"
        ) from err
    with raw:
        if TUNING in raw.data_vars:
            ds = load_dataset(path)
            try:
                return ds.load()
            finally:
                ds.close()
        if variable not in raw.data_vars:
            raise ManifoldDataError(
                str(path), variable, f"is missing; the file has {sorted(map(str, raw.data_vars))}"
            )
        _check_size(path, variable, raw[variable].shape, raw[variable].dtype.itemsize)
        try:
            tuning = raw[variable].values
        except (OSError, RuntimeError) as err:
            raise ManifoldDataError(str(path), variable, f"cannot be read ({err})") from err
        titles = None
        if TITLES_VARIABLE in raw.variables:
            titles = [str(t) for t in np.asarray(raw[TITLES_VARIABLE].values).ravel()]
    attrs = provenance_attrs(source_file=path.name, source_format="nc")
    return make_dataset(tuning, sessions=titles, attrs=attrs, source=str(path), variable=variable)
