r"""Direct capacity of object manifolds: on an array (:func:`critical_capacity`) and on the
sessions of a manifold dataset (:func:`capacity`)."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from ...data.assemblies import stack_point_clouds
from ...data.dataset import TUNING
from ...errors import OptionError, UserError
from ...validation import check_memory, check_number
from ..manipulations import SessionReference, apply_data_options, ball_manifolds
from ..sessions import analysis_attrs, as_dataset, check_seed, run_sessions
from .balls import prepare_balls
from .basis import unit_roundoff
from .fit import fit_transition
from .inplace import SUBSET_EXTRA, in_place_options
from .options import STATUSES, CapacityOptions
from .problem import check_points, prepare
from .repetitions import LOCKSTEP_MAX, Estimator, Runner, check_jobs, resolve_key
from .results import FILL_VALUES, CapacityResult, FractionResult, to_dataset
from .search import crossing_status, default_jumps, search_critical_n

__all__ = ["capacity", "critical_capacity"]

DESCRIPTION = "direct classification capacity (docs/capacity.md)"


def critical_capacity(
    points: np.ndarray | Sequence[np.ndarray],
    options: CapacityOptions | Mapping[str, Any] | None = None,
    *,
    rng: Any = None,
    jobs: int = 1,
    progress: bool | str = False,
    precision: float | None = None,
    reference: SessionReference | None = None,
    **option_kwargs: Any,
) -> CapacityResult:
    r"""Direct capacity ``α_c = P / N_c`` of manifolds given as an array (``docs/capacity.md``).

    Searches ``n`` as the original (coarse jumps until ``f(n) = 1``, bisection to
    ``precision``, optional tail probes; :func:`search_critical_n`), estimating each ``f(n)``
    with :func:`separable_fraction`'s adaptive repetitions. ``N_c`` is the smallest tested
    ``n`` with ``f(n) ≥ 0.5``; a probit fit of the whole curve gives a smooth ``N_c`` with a
    confidence interval (:func:`fit_transition`).

    Parameters
    ----------
    points : ndarray of shape (n_neurons, n_samples, n_objects), or a list of (n_neurons, M_μ) arrays
        Responses; missing samples are NaN columns (dropped per object); a list of per-object
        arrays is stacked with NaN padding (:func:`dnn_manifolds.data.assemblies.stack_point_clouds`).
        No neuron filter is applied here (:func:`capacity` drops silent neurons);
        ``n_neurons`` bounds the search.
    options : CapacityOptions or mapping, optional
        Analysis options (:class:`CapacityOptions`); keyword options override them.
    rng : int, SeedSequence, Generator or None
        Root of the random streams (keyword-only). Repetition ``rep`` at ``n`` uses
        ``SeedSequence([*key, 0, n, rep])``, so results do not depend on ``jobs``; an int or a
        SeedSequence gives reproducible results.
    jobs : int, default 1
        Worker processes for the repetitions (single-threaded each; the result does not
        depend on it).
    progress : bool or str, default False
        Show a progress bar (a string is its label) over the probed ``n``, with an ETA.
    precision : float, optional
        Unit roundoff of the data as measured or stored (``docs/capacity.md#capacity-precision``):
        directions of the samples below it are rounding noise and never count. Default: from
        the dtype of ``points`` (``2^-24`` for float32, ``2^-53`` otherwise).
    reference : SessionReference, optional
        The geometry of the unchanged data (common subspace, R_M, D_M, centre norms), needed by
        the manipulations (``centre_scale``, ``clip_dimension``, ``permute_axes``) and by
        ``balls`` (:mod:`dnn_manifolds.analysis.manipulations`).
    **option_kwargs
        Options by keyword (``projection=…``, ``cutting_plane=True``, …).

    Returns
    -------
    CapacityResult
        ``status`` says whether ``α_c`` could be determined (``"ok"``), is below the tested
        range (``"not_reached"``: ``N_c > N``) or could not be placed because every repetition
        failed somewhere it matters (``"failed"``); ``reason`` explains a non-``ok`` status.

    Notes
    -----
    Random points (one sample per object) in general position give ``α_c ≈ 2`` (Cover's
    theorem with a bias: ``f`` crosses ½ at ``P = 2(n + 1)``); ``D``-dimensional balls of
    radius ``R`` approach the ball capacity ``α_B(R, D)``, ``2/(D+1)`` for ``R = 1``.
    """
    t0 = time.perf_counter()
    opts = CapacityOptions.from_mapping(options, **option_kwargs)
    jobs = check_jobs(jobs)
    if isinstance(points, (list, tuple)):
        points = stack_point_clouds(points)
    if precision is None:
        precision = unit_roundoff(getattr(points, "dtype", np.float64))
    precision = check_number(precision, "precision", minimum=0.0)
    return _search(
        points, resolve_key(rng), opts, jobs=jobs, progress=progress, t0=t0, precision=precision, reference=reference
    )


def _prepare(points: np.ndarray, key: tuple[int, ...], opts: CapacityOptions, reference, precision: float, threads: int = 1):
    """Validated, selected and manipulated data as a problem (manifolds or balls); ``threads``
    BLAS threads for the rank subset of a session prepared in place."""
    pts = check_points(points, keep_float32=in_place_options(opts))  # no copy for the in-place path
    if opts.balls != "none" or opts.manipulates or opts.n_objects is not None or opts.samples_jump != 1:
        rng = np.random.default_rng(np.random.SeedSequence(list(key) + [4]))
        pts = check_points(apply_data_options(pts, opts, reference=reference, rng=rng))
    if opts.balls != "none":
        if reference is None:
            raise OptionError(
                "capacity option 'balls' needs the geometry of the data (radius, dimension and "
                "centre norm of every object): give the session's geometry result as the reference"
            )
        centres, axes = ball_manifolds(pts, reference, opts.balls)
        problem = prepare_balls(centres, axes, key, opts)
        return problem, problem.n_points, pts.shape[0]
    problem = prepare(pts, key, opts, precision=precision, threads=threads)
    return problem, int(problem.x.shape[1]), pts.shape[0]


def _search(
    points: np.ndarray,
    key: tuple[int, ...],
    opts: CapacityOptions,
    *,
    jobs: int,
    progress: bool | str,
    t0: float,
    precision: float,
    reference: SessionReference | None = None,
) -> CapacityResult:
    """The N_c search on one session's points with stream key ``key``."""
    problem, n_points, n_neurons = _prepare(points, key, opts, reference, precision, threads=min(jobs, os.cpu_count() or 1))
    n_objects = problem.n_objects
    jumps = opts.jumps or default_jumps(n_neurons)
    runner = Runner(problem, jobs)
    estimator = Estimator(problem, runner)
    results: dict[int, FractionResult] = {}
    bar = None
    if progress:
        from tqdm.auto import tqdm

        desc = progress if isinstance(progress, str) else "capacity"
        bar = tqdm(desc=desc, unit=" n", leave=False)

    def evaluate(n: int) -> float:
        res = estimator.estimate(n)
        results[n] = res
        if bar is not None:
            bar.set_postfix(n=n, f=f"{res.fraction:.2f}", reps=res.n_repetitions)
        return res.fraction

    def advance(done: int, expected: int) -> None:
        bar.total = expected
        bar.update(done - bar.n)

    try:
        n_c, probes = search_critical_n(
            evaluate,
            n_neurons,
            jumps=jumps,
            precision=opts.precision,
            tails=opts.tails,
            progress=advance if bar is not None else None,
        )
    finally:
        runner.close()
        if bar is not None:
            bar.close()
    ns = np.array(sorted(results), dtype=np.int64)
    order = {n: i + 1 for i, n in enumerate(probes)}
    rs = [results[n] for n in ns]
    n_rep = np.array([r.n_repetitions for r in rs], dtype=np.int64)
    n_sep = np.array([r.n_separable for r in rs], dtype=np.int64)
    fit = fit_transition(ns, n_sep, n_rep)
    status, reason = crossing_status({int(n): results[n].fraction for n in ns}, n_neurons)
    if status != "ok":
        n_c = math.nan
    return CapacityResult(
        capacity=n_objects / n_c if math.isfinite(n_c) else math.nan,
        critical_n_features=n_c,
        fit=fit,
        n_objects=n_objects,
        n_neurons=n_neurons,
        n_points=n_points,
        rank=int(problem.rank),
        n_features=ns,
        fraction=np.array([r.fraction for r in rs], dtype=np.float64),
        n_repetitions=n_rep,
        n_separable=n_sep,
        n_attempts=np.array([r.n_attempts for r in rs], dtype=np.int64),
        probe_order=np.array([order[n] for n in ns], dtype=np.int64),
        status_count=np.array(
            [[r.status_count[s] for s in STATUSES] for r in rs], dtype=np.int64
        ).reshape(len(rs), len(STATUSES)),
        jumps=int(jumps),
        wall_time=time.perf_counter() - t0,
        options=opts,
        repetitions={int(n): results[n] for n in ns},
        ball_dimensions=getattr(problem, "dimensions", None),
        ball_radii=getattr(problem, "radii", None),
        status=status,
        reason=reason,
    )


def check_resources(dataset: xr.Dataset, opts: CapacityOptions) -> None:
    """Refuse, before any work, options whose arrays would not fit in memory.

    Per session: the samples (``N × K``), their basis and factor (``K²``), the features and
    canonical matrices of one decision (a few ``n × K``), and the per-repetition outcomes of
    every tested ``n`` (``n_tested × max_repetitions``, kept for the output). A session
    prepared in place for the lazy cutting plane (``docs/capacity.md#capacity-lazy``) needs
    the session's float64 values once, the rank subset's QR (a few ``N × (N + 257)``) and, per
    group of repetitions in lockstep, their Gaussian matrices (at most a few ``N × N`` each).
    """
    if TUNING not in dataset.data_vars:
        return
    sizes = dataset[TUNING].sizes
    n, k = sizes["neuron"], sizes["sample"] * sizes["object"]
    hi = opts.repetition_bounds[1]
    jumps = opts.jumps or default_jumps(n)
    tested = min(n, n // jumps + 2 * math.ceil(math.log2(n + 1)) + 4)
    outcomes = 2 * tested * hi * sizes["session"]
    if in_place_options(opts) and k >= n + 1 + SUBSET_EXTRA:
        needed = 8.0 * (n * k + 6 * (n + 1) * (n + 1 + SUBSET_EXTRA) + 3 * LOCKSTEP_MAX * n * n + outcomes)
    else:
        needed = 8.0 * (6 * n * k + 3 * k * k + outcomes)
    check_memory(
        needed,
        f"capacity of {sizes['session']} session(s) of N = {n} neurons and K = {k} samples "
        f"with up to {hi} repetitions per n",
        hint="lower max_repetitions (or raise expected_precision), or analyse fewer sessions at a time",
    )


def capacity(
    dataset: xr.Dataset | xr.DataArray | np.ndarray | list,
    options: CapacityOptions | Mapping[str, Any] | None = None,
    *,
    session: int | str | Sequence[int | str] | None = None,
    seed: int = 0,
    jobs: int = 1,
    progress: bool = False,
    reference: xr.Dataset | None = None,
    **option_kwargs: Any,
) -> xr.Dataset:
    """Direct capacity of the object manifolds of one or more sessions of a manifold dataset.

    Parameters
    ----------
    dataset : xarray.Dataset, xarray.DataArray, ndarray or list of ndarray
        A manifold dataset (:mod:`dnn_manifolds.data`): ``tuning`` with dims
        ``(session, neuron, sample, object)``; or a DataArray (those dims, or a presentation ×
        neuroid assembly), an (N, M, P) array, or a list of per-object (N, M_i) arrays
        (:func:`dnn_manifolds.data.as_dataset`). Silent neurons are dropped per session,
        missing samples per object.
    options : CapacityOptions or mapping, optional
        Analysis options; keyword options (``**option_kwargs``) override them.
    session : int, str, sequence of them, or None
        Session title(s) or index(es). A single session gives an output without a ``session``
        dim (scalar ``session`` coordinate); a sequence or ``None`` (all sessions) gives a
        ``session`` dim. Naming a session twice is an error.
    seed : int
        Base seed (non-negative). Session ``s`` (its index in the dataset) uses the stream key
        ``(seed, s)``, so a session's result does not depend on which others are analysed.
    jobs : int
        Worker processes for the repetitions (the result does not depend on it).
    progress : bool
        Show a progress bar per session.
    reference : xarray.Dataset, optional
        The geometry result (:func:`~dnn_manifolds.analysis.geometry.geometry`) of the same
        sessions of the unchanged data, for the manipulations and ``balls``.

    Returns
    -------
    xarray.Dataset
        Scalars ``capacity`` (α_c), ``critical_n_features`` (N_c), ``critical_n_features_fit``
        and ``capacity_fit`` with intervals over dim ``bound``, the curve
        ``separable_fraction`` with ``n_repetitions``, ``n_separable``, ``n_attempts``,
        ``probe_order`` over dim ``n_features``, ``status_count`` over (``n_features``,
        ``status``), ``n_objects``, ``n_neurons``, ``wall_time``; the options, the seed and
        provenance in attrs (:func:`dnn_manifolds.analysis.sessions.analysis_attrs`).
    """
    opts = CapacityOptions.from_mapping(options, **option_kwargs)
    seed = check_seed(seed)
    dataset = as_dataset(dataset)
    jobs = check_jobs(jobs)
    precision = unit_roundoff(dataset[TUNING].dtype) if TUNING in dataset.data_vars else None
    check_resources(dataset, opts)

    def analyse(values: np.ndarray, index: int, title: str) -> xr.Dataset:
        t0 = time.perf_counter()
        ref = None if reference is None else SessionReference.from_geometry(_session_of(reference, title))
        res = _search(
            values,
            (seed, int(index)),
            opts,
            jobs=jobs,
            progress=title if progress else False,
            t0=t0,
            precision=precision,
            reference=ref,
        )
        return to_dataset(res)

    # float32 sessions are read as float32: check_points converts them (exactly) unless the
    # in-place cutting-plane path keeps them, so a large session is never held twice
    out, titles = run_sessions(dataset, session, analyse, fill_value=FILL_VALUES, dtype=None)
    out.attrs = analysis_attrs(
        "capacity",
        description=DESCRIPTION,
        options=opts,
        seed=seed,
        dataset=dataset,
        sessions=titles,
        stream_key="SeedSequence([seed, session_index, 0, n, rep])",
    )
    return out


def _session_of(result: xr.Dataset, title: str) -> xr.Dataset:
    """The part of an analysis result that belongs to session ``title``."""
    if "session" in result.dims:
        titles = [str(t) for t in result["session"].values]
        if title not in titles:
            raise UserError(f"the reference result has no session {title!r}; it has {titles}")
        return result.isel(session=titles.index(title))
    if "session" in result.coords and str(result["session"].values) != title:
        raise UserError(
            f"the reference result is for session {str(result['session'].values)!r}, not {title!r}"
        )
    return result
