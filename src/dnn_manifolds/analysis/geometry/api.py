"""Mean-field-theory geometry of the sessions of a manifold dataset (:func:`geometry`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from ...data.dataset import TUNING
from ...validation import check_memory
from ..sessions import analysis_attrs, as_dataset, check_seed, run_sessions
from ..threads import check_jobs
from .mft import manifold_geometry, objects_per_chunk
from .options import HEADLINE, GeometryOptions
from .results import to_dataset

__all__ = ["geometry"]

DESCRIPTION = "Mean-field-theory geometry of object manifolds (docs/geometry.md)"


def check_resources(dataset: xr.Dataset, opts: GeometryOptions, jobs: int = 1) -> None:
    """Refuse, before any work, options whose arrays would not fit in memory.

    Per session: its responses as stored (float32 stay float32), and for each chunk of objects
    in flight (one per worker, :func:`.mft.objects_per_chunk`) its objects' temporaries: the
    centred points and their gathered copy (``1.5 N m`` float64 values), the Gram matrix,
    frame and anchor Gram matrix (``4 m²``), the draws, duals and anchors
    (``6 n_t (D + 2)``, ``D ≤ min(N, m)``). Selections, controls, manipulations and neuron
    subsets add the copies of the session they work on. At the paper's 2-d size
    (N = 4096, M = 3201, P = 64, float32) this is 4.0 GB with ``jobs=1`` (measured peak 3.9 GB)
    and 4.6 GB with two workers (measured 4.4 GB): ``bench/README.md``.
    """
    if TUNING not in dataset.data_vars:
        return
    tuning = dataset[TUNING]
    sizes = tuning.sizes
    n, m, p = sizes["neuron"], sizes["sample"], sizes["object"]
    itemsize = 4 if getattr(tuning, "dtype", None) == np.float32 else 8
    d = min(n, m)
    per_object = 8.0 * (1.5 * n * m + 4 * m * m + 6 * opts.draws * (d + 2))
    per_chunk = objects_per_chunk(p, opts.draws, m) * per_object
    needed = (itemsize + opts.session_copies(itemsize)) * float(n * m * p) + jobs * per_chunk
    check_memory(
        needed,
        f"geometry with n_t = {opts.draws} Gaussian draws for P = {p} objects of up to "
        f"{m} samples in N = {n} neurons" + (f" over {jobs} workers" if jobs > 1 else ""),
        hint="lower n_t" + (" or jobs" if jobs > 1 else ""),
    )


def geometry(
    dataset: xr.Dataset | xr.DataArray | np.ndarray | list,
    options: GeometryOptions | Mapping[str, Any] | None = None,
    *,
    session: int | str | Sequence[int | str] | None = None,
    seed: int = 0,
    progress: bool = False,
    jobs: int = 1,
    **option_kwargs: Any,
) -> xr.Dataset:
    """Mean-field-theory geometry of the object manifolds of a manifold dataset.

    Parameters
    ----------
    dataset : xarray.Dataset, xarray.DataArray, ndarray or list of ndarray
        A manifold dataset (:mod:`dnn_manifolds.data`): variable ``tuning`` with dims
        ``(session, neuron, sample, object)``; or a DataArray (those dims, or a presentation ×
        neuroid assembly), an (N, M, P) array, or a list of per-object (N, M_i) arrays
        (:func:`dnn_manifolds.data.as_dataset`). Silent neurons are dropped per session;
        missing samples are dropped per object.
    options : GeometryOptions or mapping, optional
        Analysis options (``method``, ``n_t``, ``kappa``, ``n_restarts``, ``max_k``,
        ``stiefel_options``); keyword options (``**option_kwargs``) override them.
    session : str, int, sequence of those, or None
        One session (title or index): the output has no ``session`` dim. A sequence, or None
        for all sessions: the output has a ``session`` dim. Naming a session twice is an error.
    seed : int, default 0
        Base seed; session ``s`` (index in the dataset) uses
        ``numpy.random.SeedSequence([seed, s])``, so a session's result does not depend on which
        other sessions are analysed.
    progress : bool
        Show a progress bar over sessions × objects, with an ETA.
    jobs : int, default 1
        Worker processes over which each session's objects are spread (single-threaded each;
        the result does not depend on it: :func:`manifold_geometry`).

    Returns
    -------
    xarray.Dataset
        Per-object variables over dim ``object`` (``object_capacity``, ``object_dimension`` and
        :data:`~.results.OBJECT_VARIABLES`), layer aggregates as scalars
        (:data:`~.results.LAYER_VARIABLES`), ``n_common_directions``, the curves over ``k``,
        the correlation matrices over ``(object, object2)``, ``solver_count`` over
        ``solver_status``, seed, wall time; attrs hold the options and provenance. With several
        sessions every variable gets a leading ``session`` dim (curves over ``k`` are
        NaN-padded).
    """
    opts = GeometryOptions.from_mapping(options, **option_kwargs)
    seed = check_seed(seed)
    jobs = check_jobs(jobs)
    dataset = as_dataset(dataset)
    check_resources(dataset, opts, jobs)
    object_ids = dataset["object"].values
    labels = (
        dataset["object_label"].values
        if "object_label" in dataset.coords
        else np.array([str(i) for i in object_ids], dtype=object)
    )
    n_objects = len(object_ids)
    bar = None
    base = [0]

    def on_session(position: int, n_sessions: int, title: str) -> None:
        nonlocal bar
        if not progress:
            return
        if bar is None:
            from tqdm.auto import tqdm

            bar = tqdm(total=n_sessions * n_objects, unit="object", desc="geometry")
        bar.set_postfix_str(title)
        base[0] = position * n_objects

    def advance(done: int, total: int) -> None:
        if bar is not None:
            bar.n = base[0] + done
            bar.refresh()

    def analyse(values: np.ndarray, index: int, title: str) -> xr.Dataset:
        entropy = [seed, int(index)]
        res = manifold_geometry(
            values, opts, rng=np.random.default_rng(np.random.SeedSequence(entropy)), progress=advance, jobs=jobs
        )
        return to_dataset(res, object_ids, labels, entropy)

    try:
        # float32 sessions stay float32: manifold_geometry converts object by object
        out, titles = run_sessions(dataset, session, analyse, on_session=on_session, dtype=None)
    finally:
        if bar is not None:
            bar.close()
    out.attrs = analysis_attrs(
        "geometry",
        description=DESCRIPTION,
        options=opts,
        seed=seed,
        dataset=dataset,
        sessions=titles,
        method=opts.method,
        n_t=opts.draws,
        kappa=opts.kappa,
        capacity_headline=HEADLINE[opts.method][0],
        dimension_headline=HEADLINE[opts.method][1],
        capacity_aggregate="harmonic mean over objects",
    )
    return out
