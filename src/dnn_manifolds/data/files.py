"""Atomic file writing and netCDF helpers shared by every output of the package.

Every file the package writes goes through :func:`atomic_path`: the content is written to a
uniquely named temporary file in the *same directory* as the target (so that the final
:func:`os.replace` is an atomic rename on one filesystem), flushed to disk, and renamed only
when writing succeeded. A process killed mid-write leaves at most a hidden ``.<name>.*.tmp``
file, never a file under the target's name that looks complete.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

NETCDF_ENGINE = "h5netcdf"
"""The netCDF engine that writes the manifold datasets (h5netcdf on h5py): they are written
session block by session block through HDF5 directly (:func:`.storage.write_dataset_by_session`)."""


@functools.cache
def fast_engine() -> str:
    """The netCDF engine that reads the package's files and writes its analysis results:
    ``"netcdf4"`` (the netCDF-C library, a declared dependency), or :data:`NETCDF_ENGINE`
    where it is not installed. The files are netCDF-4 either way, and each engine reads the
    other's files into identical datasets.

    An analysis result holds some thirty to sixty small variables, and h5netcdf looks up HDF5
    dimension scales for each of them: writing or reading one costs 0.12–0.15 s of CPU against
    0.025 s with netCDF-C, and opening a manifold dataset and reading one session 0.07 s
    against 0.026 s (measured on the demo's files). A workflow writes and reads thousands of
    them, so this was most of an analysis job's fixed cost and of the aggregate step.
    """
    import importlib.util

    return "netcdf4" if importlib.util.find_spec("netCDF4") is not None else NETCDF_ENGINE


IN_MEMORY_BYTES = 2**30
"""netCDF files whose variables hold up to this many bytes (uncompressed) are built in memory
and then written with plain file I/O (:func:`write_netcdf`); larger ones are written by HDF5
directly when the disk has room for twice their size."""

SLOW_WRITE_ENV = "DNN_MANIFOLDS_SLOW_WRITE"
"""Fault injection for the reliability tests: when this environment variable holds a number of
seconds, :func:`atomic_path` waits that long after writing the temporary file and before the
rename, so a test can kill a job while an output is being written. Unset in normal use."""


_PENDING: set[Path] = set()
"""The temporary files of the :func:`atomic_path` blocks running in this process."""


def remove_pending_temporaries() -> None:
    """Remove the temporary files of the :func:`atomic_path` blocks still running: for a process
    about to end without unwinding (``os._exit``), so that it leaves no partial file behind."""
    for tmp in list(_PENDING):
        with contextlib.suppress(OSError):
            tmp.unlink()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it to ``path`` if the block succeeds.

    Parameters
    ----------
    path : path-like
        Final destination. Its parent directory is created if missing.

    Yields
    ------
    Path
        A fresh temporary file name in the same directory. The caller writes to it (the file
        exists, empty, when the block starts). On an exception the temporary file is removed
        and the exception propagates; ``path`` is untouched.

    Raises
    ------
    PermissionError, OSError
        If the directory cannot be created or written (re-raised with the path named).
    """
    target = Path(path)
    make_parent(target)
    try:
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
        )
    except OSError as err:
        raise type(err)(
            err.errno, f"cannot write {str(target)!r}: {err.strerror or err}"
        ) from err
    os.close(fd)
    tmp = Path(tmp_name)
    _PENDING.add(tmp)
    try:
        yield tmp
        delay = float(os.environ.get(SLOW_WRITE_ENV) or 0)
        if delay > 0:
            time.sleep(delay)
        if tmp.exists():
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    finally:
        _PENDING.discard(tmp)


def make_parent(target: Path) -> None:
    """Create the parent directories of ``target``; an existing *file* on the way is named."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.parent.is_dir():
            return
    except (FileExistsError, NotADirectoryError):
        pass
    except OSError as err:
        raise type(err)(err.errno, f"cannot write {str(target)!r}: {err.strerror or err}") from err
    blocker = next(
        (p for p in [*reversed(target.parents)] if p.exists() and not p.is_dir()), target.parent
    )
    raise NotADirectoryError(
        errno.ENOTDIR,
        f"cannot write {str(target)!r}: {str(blocker)!r} is a file, where a directory is needed",
    )


def free_space(path: Path) -> int | None:
    """Bytes free on the filesystem that holds ``path`` (or its nearest existing ancestor)."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            try:
                return int(shutil.disk_usage(candidate).free)
            except OSError:
                return None
    return None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically; return the path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def netcdf_safe_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """Return a copy of ``attrs`` that netCDF can store.

    Strings, numbers and 1-D numeric arrays pass through; booleans become 0/1 integers;
    ``None`` becomes the empty string; dicts, lists of strings and other objects are
    JSON-encoded strings (``json.loads`` restores them).
    """
    safe: dict[str, Any] = {}
    for key, value in attrs.items():
        if isinstance(value, (bool, np.bool_)):
            safe[key] = int(value)
        elif value is None:
            safe[key] = ""
        elif isinstance(value, (str, int, float, np.integer, np.floating)):
            safe[key] = value
        elif isinstance(value, np.ndarray) and value.ndim == 1 and value.dtype.kind in "iuf":
            safe[key] = value
        elif isinstance(value, (list, tuple)) and value and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in value
        ):
            safe[key] = np.asarray(value)
        else:
            safe[key] = json.dumps(value, sort_keys=True, default=_json_default)
    return safe


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"attribute value of type {type(obj).__name__} is not JSON-serialisable")


def write_netcdf(
    ds,
    path: str | os.PathLike,
    *,
    encoding: Mapping[str, Mapping[str, Any]] | None = None,
    compress: bool = True,
    engine: str | None = None,
) -> Path:
    """Write an :class:`xarray.Dataset` to netCDF-4 atomically, with zlib+shuffle compression.

    Attributes of the dataset and of each variable are made netCDF-safe first
    (:func:`netcdf_safe_attrs`). ``encoding`` entries override the defaults per variable.
    ``engine`` is the xarray engine that writes it (default :data:`NETCDF_ENGINE`; analysis
    results are written with :func:`fast_engine`).

    A full disk is a clean :class:`OSError` (``ENOSPC``) and leaves no file, temporary or
    final: the file is built in memory (up to :data:`IN_MEMORY_BYTES` of data, or whenever the
    disk has less than twice the data's size free), refused if it does not fit the free space,
    and written with plain file I/O. Only a file over 1 GiB on a disk with room for twice its
    size is written by HDF5 directly; should that disk fill up during the write (another
    process writing), HDF5 may end the process.
    """
    ds, enc = _prepared(ds, encoding, compress)
    engine = engine or NETCDF_ENGINE
    target = Path(path)
    estimate = sum(int(v.nbytes) for v in ds.variables.values())
    free = free_space(target.parent)
    if estimate <= IN_MEMORY_BYTES or (free is not None and 2 * estimate + 2**26 > free):
        # HDF5 crashes the process (segfault) when the disk fills during a write, so the file
        # is built in memory and written with plain file I/O, where a full disk is a clean
        # OSError; it is refused before any byte is written when it cannot fit
        data = ds.to_netcdf(None, engine=engine, encoding=enc)
        if free is not None and len(data) > free:
            raise OSError(
                errno.ENOSPC,
                f"cannot write {str(target)!r}: it needs {len(data)} bytes but only {free} are free "
                "on that disk",
            )
        with atomic_path(target) as tmp, open(tmp, "wb") as fh:
            fh.write(data)
        return target
    with atomic_path(target) as tmp:
        ds.to_netcdf(tmp, engine=engine, encoding=enc)
    return target


def _prepared(ds, encoding, compress):
    """A shallow copy with netCDF-safe attributes, and its encoding."""
    ds = ds.copy(deep=False)
    ds.attrs = netcdf_safe_attrs(ds.attrs)
    enc: dict[str, dict[str, Any]] = {}
    for name, var in ds.variables.items():
        var.attrs = netcdf_safe_attrs(var.attrs)
        if compress and var.dtype.kind in "iuf" and var.ndim > 0:
            enc[str(name)] = {"zlib": True, "complevel": 4, "shuffle": True}
    for name, extra in (encoding or {}).items():
        enc.setdefault(name, {}).update(extra)
    return ds, enc


def write_netcdf_groups(
    groups: Mapping[str, Any], path: str | os.PathLike, *, attrs: Mapping[str, Any] | None = None
) -> Path:
    """Write several datasets into one netCDF-4 file, one group each, atomically.

    ``groups`` maps group names (``[A-Za-z0-9_-]+``) to :class:`xarray.Dataset`; ``attrs`` go
    to the root group. Read back with :func:`read_groups`. Written with
    :func:`fast_engine`.
    """
    import xarray as xr

    if not groups:
        raise ValueError("write_netcdf_groups needs at least one group")
    target = Path(path)
    estimate = sum(int(v.nbytes) for ds in groups.values() for v in ds.variables.values())
    free = free_space(target.parent) if target.parent.exists() else None
    if free is not None and 2 * estimate + 2**26 > free:
        # HDF5 can end the process when the disk fills during a write: refuse before writing
        raise OSError(
            errno.ENOSPC,
            f"cannot write {str(target)!r}: it needs about {estimate} bytes but only {free} are free on that disk",
        )
    with atomic_path(target) as tmp:
        engine = fast_engine()
        xr.Dataset(attrs=netcdf_safe_attrs(dict(attrs or {}))).to_netcdf(tmp, engine=engine)
        for name, ds in groups.items():
            ds, enc = _prepared(ds, None, True)
            ds.to_netcdf(tmp, mode="a", group=str(name), engine=engine, encoding=enc)
    return Path(path)


def read_groups(path: str | os.PathLike) -> dict[str, Any]:
    """The groups of a file written by :func:`write_netcdf_groups`, loaded: name → Dataset.

    Raises ``FileNotFoundError`` if it is missing and :class:`~dnn_manifolds.errors.UserError`
    naming the file if it cannot be read (truncated, not netCDF).
    """
    import xarray as xr

    from ..errors import UserError

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        tree = xr.open_datatree(path, engine=fast_engine())
        try:
            return {name: node.to_dataset().load() for name, node in tree.children.items()}
        finally:
            tree.close()
    except (OSError, ValueError, RuntimeError, KeyError) as err:
        raise UserError(f"{path}: cannot be read as an analysis result ({err})") from err


def write_result(ds, path: str | os.PathLike) -> Path:
    """Write an analysis result (one :class:`xarray.Dataset`) atomically:
    :func:`write_netcdf` with the results' engine (:func:`fast_engine`)."""
    return write_netcdf(ds, path, engine=fast_engine())


def read_result(path: str | os.PathLike):
    """Read an analysis result (a netCDF file this package wrote) into memory.

    Raises ``FileNotFoundError`` if it is missing and :class:`~dnn_manifolds.errors.UserError`
    naming the file if it cannot be read (truncated, not netCDF).
    """
    import xarray as xr

    from ..errors import UserError

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        with xr.open_dataset(path, engine=fast_engine(), cache=False) as ds:
            return ds.load()
    except (OSError, ValueError, RuntimeError, KeyError) as err:
        raise UserError(f"{path}: cannot be read as an analysis result ({err})") from err
