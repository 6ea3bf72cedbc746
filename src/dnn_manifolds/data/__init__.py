"""Stage 3 of the pipeline, and the common ground of all others: the manifold dataset.

* :mod:`.dataset` — the data model (``tuning`` over ``session × neuron × sample × object``),
  validation, session access with silent neurons dropped.
* :mod:`.storage` — netCDF load/save, and a session-by-session writer for data larger than memory.
* :mod:`.importers` — a user's own files (MATLAB v5/v7.3, ``.npy``, ``.npz``, netCDF).
* :mod:`.assemblies` — presentation × neuroid assemblies (Brain-Score / brainio), lists of
  per-object ``(N, M_i)`` arrays, and :func:`as_dataset` (what the analyses accept).
* :mod:`.features` — ``(n_stimuli, n_features)`` matrices with a label per stimulus.
* :mod:`.files` — atomic writes and the netCDF writer every output goes through.
* :mod:`.provenance` — version, seed and configuration attributes of every output.

See ``docs/data-model.md``.
"""

from .assemblies import as_dataset, from_assembly, from_point_clouds, import_assembly
from .dataset import (
    DIMS,
    SESSION_COORDS,
    TUNING,
    ManifoldDataError,
    make_dataset,
    resolve_session,
    session_data,
    silent_neuron_mask,
    summarize,
    validate_dataset,
)
from .storage import load_dataset, save_dataset, write_dataset_by_session
from .features import from_features, import_features
from .files import atomic_path, read_groups, read_result, fast_engine, write_netcdf, write_netcdf_groups, write_result, write_text
from .importers import import_data
from .provenance import config_digest, provenance_attrs

__all__ = [
    "DIMS",
    "SESSION_COORDS",
    "TUNING",
    "ManifoldDataError",
    "as_dataset",
    "atomic_path",
    "config_digest",
    "from_assembly",
    "from_features",
    "from_point_clouds",
    "import_assembly",
    "import_data",
    "import_features",
    "load_dataset",
    "make_dataset",
    "provenance_attrs",
    "read_groups",
    "read_result",
    "fast_engine",
    "resolve_session",
    "save_dataset",
    "session_data",
    "silent_neuron_mask",
    "summarize",
    "validate_dataset",
    "write_dataset_by_session",
    "write_netcdf",
    "write_netcdf_groups",
    "write_result",
    "write_text",
]
