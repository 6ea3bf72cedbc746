r"""Features as ML tools write them: ``(n_stimuli, n_features)`` matrices plus labels
(``docs/data-model.md#data-features``).

Feature-extraction tools (thingsvision, timm/torchvision scripts, …) save one row per stimulus
and one column per feature. :func:`from_features` groups the rows into objects by a label per
stimulus; the result is one session whose neurons are the features, whose objects are the
distinct labels (sorted) and whose samples are each object's stimuli (in file order; objects
with fewer stimuli padded with missing samples).

Files (:func:`import_features`)
-------------------------------
Features: ``.npy``; ``.npz`` (``variable``, or its one array); ``.mat`` (``variable``, or its one
numeric array; v7.3 read through HDF5); ``.h5``/``.hdf5`` (``variable``, default
``features`` as thingsvision writes, or its one 2-D dataset); ``.csv``/``.tsv``/``.txt``
(numbers; a CSV/TSV with a header may hold the labels in a column, ``labels_column``).

Labels: a ``.txt`` file with one label per line (e.g. thingsvision's ``file_names.txt``), a
``.csv``/``.tsv`` file (its ``labels_column``, or its only column), or a ``.npy`` array.
``labels_from="parent"`` takes each label's parent folder name — for labels that are image
paths such as ``images/dog/dog_01.jpg``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import xarray as xr

from .dataset import ManifoldDataError, make_dataset
from .provenance import provenance_attrs

LABELS_FROM = ("value", "parent")
FEATURE_VARIABLE = "features"

__all__ = ["from_features", "import_features", "read_labels"]


def _parent(label: str) -> str:
    parts = Path(str(label).replace("\\", "/")).parts
    return parts[-2] if len(parts) >= 2 else ""


def from_features(
    features: np.ndarray,
    labels: Sequence,
    *,
    labels_from: str = "value",
    title: str = "features",
    source: str = "<features>",
    variable: str = FEATURE_VARIABLE,
    attrs: dict | None = None,
) -> xr.Dataset:
    """A one-session manifold dataset from a feature matrix and one label per stimulus.

    Parameters
    ----------
    features : array-like of shape (n_stimuli, n_features)
    labels : sequence of length n_stimuli
        The object of each stimulus (any values; compared as strings).
    labels_from : {"value", "parent"}
        ``"parent"``: each label is a path and its parent folder names the object.
    title : str
        The session's title.

    Returns
    -------
    xarray.Dataset
        ``tuning`` (1, n_features, M, P) with sample coordinate ``stimulus`` (sample, object:
        the row of each sample, −1 for padding).
    """
    arr = np.asarray(features)
    if arr.ndim != 2:
        raise ManifoldDataError(source, variable, f"must be a 2-d (n_stimuli, n_features) matrix; got shape {arr.shape}")
    if arr.dtype.kind not in "biuf":
        raise ManifoldDataError(source, variable, f"must be numeric; got {arr.dtype}")
    if labels_from not in LABELS_FROM:
        raise ManifoldDataError(source, "labels", f"labels_from must be one of {list(LABELS_FROM)}; got {labels_from!r}")
    labels = [str(v) for v in labels]
    if labels_from == "parent":
        labels = [_parent(v) for v in labels]
        if any(not v for v in labels):
            bad = next(i for i, v in enumerate(labels) if not v)
            raise ManifoldDataError(source, "labels", f"label {bad} has no parent folder (labels_from='parent')")
    if len(labels) != arr.shape[0]:
        raise ManifoldDataError(
            source, "labels", f"has {len(labels)} labels but the features have {arr.shape[0]} rows (stimuli)"
        )
    objects, inverse = np.unique(np.array(labels, dtype=object).astype(str), return_inverse=True)
    rows = [np.flatnonzero(inverse == p) for p in range(objects.size)]
    m = max(r.size for r in rows)
    dtype = np.result_type(arr.dtype, np.float32)
    tuning = np.full((arr.shape[1], m, objects.size), np.nan, dtype=dtype)
    stimulus = np.full((1, m, objects.size), -1, dtype=np.int64)
    for p, r in enumerate(rows):
        tuning[:, : r.size, p] = arr[r].T
        stimulus[0, : r.size, p] = r
    base = provenance_attrs(source_format="features", labels_from=labels_from)
    base.update(attrs or {})
    return make_dataset(tuning, sessions=[title], object_labels=list(objects),
                        sample_coords={"stimulus": (("session", "sample", "object"), stimulus)},
                        attrs=base, source=source, variable=variable)


# ----------------------------------------------------------------------------- files


def _only(names: list[str], path: Path, variable: str | None, what: str) -> str:
    if variable is not None:
        if variable not in names:
            raise ManifoldDataError(str(path), variable, f"is missing; the file has {sorted(names)}")
        return variable
    if len(names) == 1:
        return names[0]
    if FEATURE_VARIABLE in names:
        return FEATURE_VARIABLE
    raise ManifoldDataError(str(path), what, f"the file has several arrays {sorted(names)}; name one with variable")


def _read_table(path: Path, labels_column: str | None):
    import pandas as pd

    sep = "\t" if path.suffix.lower() == ".tsv" else "," if path.suffix.lower() == ".csv" else None
    try:
        if sep is None:  # .txt: whitespace-separated numbers, no header
            return np.loadtxt(path, ndmin=2), None
        head = pd.read_csv(path, sep=sep, nrows=1, header=None)
        has_header = not all(_is_number(v) for v in head.iloc[0])
        table = pd.read_csv(path, sep=sep, header=0 if has_header else None)
    except Exception as err:
        raise ManifoldDataError(str(path), FEATURE_VARIABLE, f"cannot be read as a numeric table ({err})") from err
    labels = None
    if labels_column is not None:
        if labels_column not in table.columns:
            raise ManifoldDataError(str(path), labels_column, f"no such column; the columns are {list(map(str, table.columns))[:20]}")
        labels = table.pop(labels_column).tolist()
    non_numeric = [str(c) for c in table.columns if table[c].dtype.kind not in "biuf"]
    if non_numeric:
        raise ManifoldDataError(
            str(path), FEATURE_VARIABLE,
            f"columns {non_numeric[:5]} are not numeric (name the label column with labels_column)",
        )
    return table.to_numpy(), labels


def _is_number(value) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _read_features(path: Path, variable: str | None, labels_column: str | None):
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            return np.load(path, allow_pickle=False), None
        if suffix == ".npz":
            with np.load(path, allow_pickle=False) as npz:
                return npz[_only(list(npz.files), path, variable, FEATURE_VARIABLE)], None
        if suffix in (".csv", ".tsv", ".txt"):
            return _read_table(path, labels_column)
        if suffix in (".h5", ".hdf5", ".mat"):
            return _read_hdf5_or_mat(path, variable), None
    except ManifoldDataError:
        raise
    except Exception as err:
        raise ManifoldDataError(str(path), variable or FEATURE_VARIABLE, f"cannot be read ({err})") from err
    raise ManifoldDataError(
        str(path), FEATURE_VARIABLE,
        f"unknown file type {suffix!r}; expected .npy, .npz, .csv, .tsv, .txt, .mat, .h5 or .hdf5",
    )


def _read_hdf5_or_mat(path: Path, variable: str | None) -> np.ndarray:
    import h5py

    if h5py.is_hdf5(path):
        with h5py.File(path, "r") as fh:
            names = [k for k, v in fh.items() if isinstance(v, h5py.Dataset) and v.ndim == 2 and v.dtype.kind in "biuf"]
            name = _only(names, path, variable, FEATURE_VARIABLE)
            data = np.asarray(fh[name][()])
        return data.T if path.suffix.lower() == ".mat" else data  # MATLAB v7.3: axes reversed
    import scipy.io

    contents = scipy.io.loadmat(path)
    names = [k for k, v in contents.items() if not k.startswith("__") and isinstance(v, np.ndarray)
             and v.ndim == 2 and v.dtype.kind in "biuf"]
    return contents[_only(names, path, variable, FEATURE_VARIABLE)]


def read_labels(path: str | os.PathLike, *, column: str | None = None) -> list[str]:
    """One label per stimulus from a ``.txt`` (one per line), ``.csv``/``.tsv`` or ``.npy`` file."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such labels file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            return [str(v) for v in np.load(path, allow_pickle=False).ravel()]
        if suffix in (".csv", ".tsv"):
            import pandas as pd

            table = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",", dtype=str, keep_default_na=False)
            if column is None:
                if table.shape[1] != 1:
                    raise ManifoldDataError(str(path), "labels", f"has columns {list(table.columns)}; name one with labels_column")
                column = str(table.columns[0])
            if column not in table.columns:
                raise ManifoldDataError(str(path), column, f"no such column; the columns are {list(table.columns)}")
            return table[column].tolist()
        text = path.read_text(encoding="utf-8-sig")
    except ManifoldDataError:
        raise
    except Exception as err:
        raise ManifoldDataError(str(path), "labels", f"cannot be read ({err})") from err
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    return [line.strip() for line in lines]


def import_features(
    path: str | os.PathLike,
    labels: str | os.PathLike | Sequence | None = None,
    *,
    labels_column: str | None = None,
    labels_from: str = "value",
    variable: str | None = None,
) -> xr.Dataset:
    """Read a feature matrix and its labels into a manifold dataset (see the module docstring).

    Parameters
    ----------
    path : path-like
        The features file.
    labels : path-like or sequence, optional
        A labels file or the labels themselves; omit it when ``labels_column`` names a column
        of a CSV/TSV features file.
    labels_column : str, optional
        The labels' column, in the labels CSV/TSV or in the features CSV/TSV.
    labels_from : {"value", "parent"}
    variable : str, optional
        The features' array in an ``.npz``/``.mat``/``.h5`` file with several.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    in_table = labels is None and labels_column is not None
    features, column_labels = _read_features(path, variable, labels_column if in_table else None)
    if labels is None:
        if column_labels is None:
            raise ManifoldDataError(str(path), "labels", "features need labels: give a labels file, or labels_column of a CSV/TSV")
        labels = column_labels
        labels_source = f"{path.name}:{labels_column}"
    elif isinstance(labels, (str, os.PathLike)):
        labels_source = Path(labels).name
        labels = read_labels(labels, column=labels_column)
    else:
        labels_source = "<labels>"
    attrs = provenance_attrs(source_file=path.name, source_format="features", labels=labels_source,
                             labels_from=labels_from)
    return from_features(features, labels, labels_from=labels_from, title=path.stem, source=str(path),
                         variable=variable or FEATURE_VARIABLE, attrs=attrs)
