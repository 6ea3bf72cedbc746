"""dnn_manifolds: separability and geometry of object manifolds in deep neural networks.

A Python re-implementation of Cohen, Chung, Lee & Sompolinsky, *Separability and geometry of
object manifolds in deep neural networks*, Nature Communications 11, 746 (2020).

Glossary (one word for one thing, in arguments, dims, config keys and plot labels)
----------------------------------------------------------------------------------
=========  ======================  ============================================
symbol     code                    dataset dimension
=========  ======================  ============================================
S          ``n_sessions``          ``session`` (a layer × transform, or a title)
N          ``n_neurons``           ``neuron`` (units / features)
M          ``n_samples``           ``sample`` (points on one object manifold)
P          ``n_objects``           ``object`` (manifolds)
κ          ``kappa``               margin
α_c        ``capacity``            direct (simulated) capacity P / N_c
α_M        ``alpha_m``             mean-field-theory capacity
R_M        ``radius``              manifold radius
D_M        ``dimension``           manifold dimension
=========  ======================  ============================================

Packages, in pipeline order (``docs/architecture.md``)
------------------------------------------------------
* :mod:`~dnn_manifolds.generation` — stimuli, transforms, networks, manifold shards, demo CNN;
* :mod:`~dnn_manifolds.data` — the manifold dataset, importers, netCDF I/O, provenance;
* :mod:`~dnn_manifolds.analysis` — direct capacity, mean-field geometry, theory, controls;
* :mod:`~dnn_manifolds.report` — tidy tables, figures, contact sheets;
* :mod:`~dnn_manifolds.workflow` — what the Snakemake workflow needs (configuration, logs);
* :mod:`~dnn_manifolds.cli` — the ``dnn-manifolds`` command.

The most used functions are also importable from the top level, lazily (no heavy import until
used): ``from dnn_manifolds import capacity, geometry, load_dataset``.
"""

_API = {
    "capacity": "dnn_manifolds.analysis.capacity",
    "critical_capacity": "dnn_manifolds.analysis.capacity",
    "CapacityOptions": "dnn_manifolds.analysis.capacity",
    "geometry": "dnn_manifolds.analysis.geometry",
    "manifold_geometry": "dnn_manifolds.analysis.geometry",
    "GeometryOptions": "dnn_manifolds.analysis.geometry",
    "gardner_capacity": "dnn_manifolds.analysis.theory",
    "ball_capacity": "dnn_manifolds.analysis.theory",
    "load_dataset": "dnn_manifolds.data",
    "save_dataset": "dnn_manifolds.data",
    "make_dataset": "dnn_manifolds.data",
    "session_data": "dnn_manifolds.data",
    "import_data": "dnn_manifolds.data",
    "import_assembly": "dnn_manifolds.data",
    "import_features": "dnn_manifolds.data",
    "from_assembly": "dnn_manifolds.data",
    "as_dataset": "dnn_manifolds.data",
}

__all__ = ["__version__", *_API]


def _version() -> str:
    # importlib.metadata costs ~50 ms to import: looked up on first use only (every workflow
    # job imports this package; most never need the version)
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("dnn-manifolds")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0+unknown"


def __getattr__(name: str):
    if name == "__version__":
        globals()["__version__"] = value = _version()
        return value
    if name in _API:
        import importlib

        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'dnn_manifolds' has no attribute {name!r}")
