r"""One capacity problem: the prepared data, and one repetition's features, labels and decision.

:func:`prepare` turns validated points into a :class:`Problem` (controls and z-scoring
applied, missing samples dropped, samples centred, the Gram basis for Gaussian projections;
``docs/capacity.md#capacity-gram-basis``). :func:`run_task` decides repetition ``rep`` at ``n``
from its own random stream ``SeedSequence([*key, 0, n, rep])`` (nested projections:
``docs/capacity.md#capacity-nested``), optionally by the exact cutting plane over samples
(``docs/capacity.md#capacity-cutting-plane``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...errors import UserError
from ...validation import ArgumentTypeError
from ..controls import apply_control, zscore_parameters
from ..threads import blas_limits
from . import lp as _lp
from .basis import power_of_two, precision_basis, unit_roundoff
from .lazy import column_norms, fields_many, gather_columns, in_basis
from .lp import SeparabilityResult, verify_separator
from .options import CapacityOptions
from .separability import decide

__all__ = ["Problem", "check_points", "prepare", "run_lockstep", "run_task", "run_tasks"]

_NESTED_BLOCK = 64
"""Rows of the nested Gaussian matrix drawn per stream block."""

_FLOAT32_MIN_SIZE = 1_000_000
"""Basis size (rank × valid samples) from which ``projection_precision="auto"`` projects in
float32."""


def _valid_mask(points: np.ndarray) -> np.ndarray:
    """(n_samples, n_objects) mask of samples without NaN."""
    return ~np.isnan(points).any(axis=0)


def check_points(points: Any, *, keep_float32: bool = False) -> np.ndarray:
    """Validate ``points`` of shape (n_neurons, n_samples, n_objects); return float64 (a float32
    array is returned as it is with ``keep_float32``: no copy). The scans for infinite and
    missing values go over blocks of neurons, so they need no array of the input's size."""
    arr = np.asarray(points)
    if arr.dtype.kind not in "biuf":
        raise ArgumentTypeError(f"points must be a numeric array; got dtype {arr.dtype}")
    if arr.ndim != 3:
        raise UserError(
            "points must be 3-D (n_neurons, n_samples, n_objects); " f"got shape {tuple(arr.shape)}"
        )
    if not (keep_float32 and arr.dtype == np.float32):
        arr = arr.astype(np.float64, copy=False)
    n_neurons, n_samples, n_objects = arr.shape
    if n_objects < 2:
        raise UserError(
            f"points needs at least 2 objects (P >= 2) to form dichotomies; got P = {n_objects}"
        )
    if n_neurons < 1 or n_samples < 1:
        raise UserError(f"points is empty: shape {tuple(arr.shape)}")
    step = max(1, (1 << 22) // max(1, n_samples * n_objects))
    n_inf = 0
    valid = np.ones((n_samples, n_objects), dtype=bool)
    for i in range(0, n_neurons, step):
        blk = arr[i : i + step]
        n_inf += int(np.isinf(blk).sum())
        valid &= ~np.isnan(blk).any(axis=0)
    if n_inf:
        raise UserError(f"points contains {n_inf} infinite values")
    empty = np.flatnonzero(~valid.any(axis=0))
    if empty.size:
        raise UserError(
            f"every object needs at least one sample without NaN; objects {empty.tolist()[:10]} "
            "have none"
        )
    return arr


@dataclass
class Problem:
    """Everything one repetition needs (inherited by worker processes)."""

    key: tuple[int, ...]
    x: np.ndarray  # (N, K) centred valid samples, object-major
    basis: np.ndarray | None  # (rank, K) Gram factor for Gaussian projections
    basis32: np.ndarray | None  # float32 copy when projections are computed in float32
    rank: int
    obj_index: np.ndarray  # (K,)
    obj_starts: np.ndarray  # (P + 1,)
    n_objects: int
    opts: CapacityOptions
    order: np.ndarray | None = None  # (K,) basis column of each object-major sample (None: same)
    basis_norms: np.ndarray | None = None  # (K,) column norms of the basis (lazy cutting plane)

    @property
    def lazy(self) -> bool:
        """Whether the cutting plane runs without materialised features (:mod:`.lazy`)."""
        return self.opts.cutting_plane and self.basis is not None


def prepare(
    points: np.ndarray,
    key: tuple[int, ...],
    opts: CapacityOptions,
    *,
    precision: float | None = None,
    threads: int = 1,
) -> Problem:
    """Drop missing samples, apply control and z-score, build the basis at the data's precision.

    ``precision`` is the unit roundoff of the data as stored (``2^-24`` for float32, the
    default ``2^-53`` for float64; :func:`.basis.unit_roundoff`). The samples are scaled by a
    power of two (exact) and centred on the per-neuron median (a translation, robust to
    outliers); for Gaussian projections their basis and rank come from
    :func:`.basis.precision_basis` (``docs/capacity.md#capacity-precision``): directions below
    the data's rounding error are dropped, so rounding noise can never make points separable.
    ``threads``: BLAS threads the rank subset of a session prepared in place may use (its
    decision is the one-thread decision: :func:`.inplace.prepare_in_place`).
    """
    if precision is None:
        precision = unit_roundoff(np.float64)
    from .inplace import prepare_in_place

    with blas_limits(1):  # deterministic and, for these sizes, no slower
        problem = prepare_in_place(points, key, opts, precision, threads=threads)
        if problem is not None:
            return problem
        return _prepare(np.asarray(points, dtype=np.float64), key, opts, precision)


def _prepare(points: np.ndarray, key: tuple[int, ...], opts: CapacityOptions, precision: float) -> Problem:
    if opts.control != "none":
        ctrl_rng = np.random.default_rng(np.random.SeedSequence(list(key) + [3]))
        points = apply_control(points, opts.control, rng=ctrl_rng)
    magnitude = np.abs(points)
    if opts.zscore:
        mean, std = zscore_parameters(points)
        points = (points - mean) / std
        magnitude = (magnitude + np.abs(mean)) / std
    n_neurons, n_samples, n_objects = points.shape
    valid = _valid_mask(points)
    counts = valid.sum(axis=0)
    x = points.transpose(0, 2, 1)[:, valid.T]  # object-major columns (column-major order)
    magnitude = magnitude.transpose(0, 2, 1)[:, valid.T]
    top = float(np.abs(x).max()) if x.size else 0.0
    unit = power_of_two(top)  # exact rescaling: no overflow or underflow downstream
    x = x / unit
    magnitude = magnitude / unit
    centre = np.median(x, axis=1, keepdims=True)
    x = x - centre  # translation: changes no decision
    magnitude = magnitude + np.abs(centre)
    k = x.shape[1]
    obj_index = np.repeat(np.arange(n_objects), counts)
    obj_starts = np.concatenate([[0], np.cumsum(counts)])
    basis = None
    rank = n_neurons  # rows of the projected basis (see CapacityResult.rank)
    if opts.projection == "gaussian":
        factor, rank, _ = precision_basis(x, magnitude, precision)
        # full affine rank with K >= N: the samples themselves (no truncation to make)
        basis = x if (k >= n_neurons and rank > n_neurons) else factor
        rank = basis.shape[0]
    basis32 = None
    choice = opts.projection_precision
    if basis is not None and (
        choice == "float32" or (choice == "auto" and basis.size >= _FLOAT32_MIN_SIZE)
    ):
        basis32 = basis.astype(np.float32)
    norms = column_norms(basis) if (basis is not None and opts.cutting_plane) else None
    return Problem(key, x, basis, basis32, rank, obj_index, obj_starts, n_objects, opts, basis_norms=norms)


def _gaussian(problem: Problem, rng: np.random.Generator, n_rows: int) -> np.ndarray:
    """A fresh standard Gaussian ``Z`` of shape (n_rows, rank), float32 when the projections are."""
    if problem.basis32 is not None:
        return rng.standard_normal((n_rows, problem.rank), dtype=np.float32)
    return rng.standard_normal((n_rows, problem.rank))


def _project(problem: Problem, rng: np.random.Generator, n_rows: int) -> np.ndarray:
    """``Z @ basis`` with a fresh standard Gaussian ``Z`` of shape (n_rows, rank)."""
    z = _gaussian(problem, rng, n_rows)
    if problem.basis32 is not None:
        return (z @ problem.basis32).astype(np.float64)
    return z @ problem.basis


def _draw_labels(rng: np.random.Generator, n_objects: int, labeling: str) -> np.ndarray:
    """Random object labels (``sample_random_labels``)."""
    if labeling == "balanced":
        y = np.ones(n_objects)
        y[rng.permutation(n_objects)[: int(math.floor(n_objects / 2 + 0.5))]] = -1.0
    elif labeling == "iid":
        y = np.where(rng.random(n_objects) < 0.5, -1.0, 1.0)
    else:  # sparse
        y = np.ones(n_objects)
        y[rng.integers(n_objects)] = -1.0
    return y


def _draw(problem: Problem, n: int, rep: int) -> tuple[np.ndarray | None, np.ndarray, np.random.Generator]:
    """The Gaussian matrix ``Z`` (n, rank) of repetition ``rep`` at ``n`` (``None`` when the
    features are the basis itself, ``n ≥ rank``), its object labels and its stream: the same
    draws as :func:`_features` makes, in the same order."""
    key = list(problem.key)
    opts = problem.opts
    if not opts.nested:
        rng = np.random.default_rng(np.random.SeedSequence(key + [0, n, rep]))
        y_obj = _draw_labels(rng, problem.n_objects, opts.labels)
        return (None if n >= problem.rank else _gaussian(problem, rng, n)), y_obj, rng
    lab_rng = np.random.default_rng(np.random.SeedSequence(key + [1, rep, 0]))
    y_obj = _draw_labels(lab_rng, problem.n_objects, opts.labels)
    rng = np.random.default_rng(np.random.SeedSequence(key + [2, n, rep]))
    if n >= problem.rank:
        return None, y_obj, rng
    blocks = [
        _gaussian(problem, np.random.default_rng(np.random.SeedSequence(key + [1, rep, b + 1])), _NESTED_BLOCK)
        for b in range(math.ceil(n / _NESTED_BLOCK))
    ]
    return np.concatenate(blocks)[:n], y_obj, rng


def _features(
    problem: Problem, n: int, rep: int
) -> tuple[np.ndarray, np.ndarray, np.random.Generator]:
    """Features ``(n', K)`` and object labels of repetition ``rep`` at ``n``, plus its stream."""
    key = list(problem.key)
    opts = problem.opts
    gaussian = opts.projection == "gaussian"
    if not opts.nested:
        rng = np.random.default_rng(np.random.SeedSequence(key + [0, n, rep]))
        y_obj = _draw_labels(rng, problem.n_objects, opts.labels)
        if gaussian:
            feats = problem.basis if n >= problem.rank else _project(problem, rng, n)
        else:
            feats = problem.x[np.sort(rng.choice(problem.x.shape[0], n, replace=False))]
        return feats, y_obj, rng
    # nested: one label vector, one Gaussian matrix / neuron order per repetition
    lab_rng = np.random.default_rng(np.random.SeedSequence(key + [1, rep, 0]))
    y_obj = _draw_labels(lab_rng, problem.n_objects, opts.labels)
    rng = np.random.default_rng(np.random.SeedSequence(key + [2, n, rep]))
    if gaussian:
        if n >= problem.rank:
            return problem.basis, y_obj, rng
        blocks = []
        for b in range(math.ceil(n / _NESTED_BLOCK)):
            g = np.random.default_rng(np.random.SeedSequence(key + [1, rep, b + 1]))
            blocks.append(_project(problem, g, _NESTED_BLOCK))
        return np.concatenate(blocks)[:n], y_obj, rng
    order = lab_rng.permutation(problem.x.shape[0])
    return problem.x[np.sort(order[:n])], y_obj, rng


def _initial_working_set(problem: Problem, rng: np.random.Generator) -> np.ndarray:
    """``min(5, M_μ)`` random distinct samples of every object (object-major mask of shape (K,))."""
    starts = problem.obj_starts
    active = np.zeros(int(starts[-1]), dtype=bool)
    for p in range(problem.n_objects):
        m = starts[p + 1] - starts[p]
        active[starts[p] + rng.choice(m, min(5, m), replace=False)] = True
    return active


def _worst_inactive(problem: Problem, score: np.ndarray, active: np.ndarray) -> bool:
    """Add to the working set, for every object, its inactive sample of smallest ``score``
    (object-major); ``False`` when no object has an inactive sample left."""
    starts = problem.obj_starts
    score = np.where(active, np.inf, score)
    added = False
    for p in range(problem.n_objects):
        seg = score[starts[p] : starts[p + 1]]
        j = int(np.argmin(seg))
        if np.isfinite(seg[j]):
            active[starts[p] + j] = True
            added = True
    return added


def _cutting_plane(problem: Problem, feats, y, rng) -> SeparabilityResult:
    """Exact cutting plane over samples (``docs/capacity.md#capacity-cutting-plane``, with the deviations in the module docstring)."""
    opts = problem.opts
    starts = problem.obj_starts
    active = _initial_working_set(problem, rng)
    used_fallback = False
    total_iter = 0
    while True:
        res = decide(
            feats[:, active], y[active], method=opts.method, gamma_tol=opts.gamma_tol
        )
        total_iter += res.n_iter
        used_fallback |= res.status == _lp.FALLBACK
        if res.separable is not True:  # not separable on a subset ⇒ not separable; or failed
            break
        if verify_separator(feats, y, res.w, res.b):
            break
        per_object = np.add.reduceat(active, starts[:-1])
        if per_object.max() >= opts.max_samples:
            res = decide(feats, y, method=opts.method, gamma_tol=opts.gamma_tol)
            used_fallback |= res.status == _lp.FALLBACK
            break
        if not _worst_inactive(problem, y * (res.w @ feats + res.b), active):
            # cannot happen: some sample is violated and inactive
            res = decide(feats, y, method=opts.method, gamma_tol=opts.gamma_tol)
            break
    if used_fallback and res.status == _lp.CERTIFIED:
        res = SeparabilityResult(res.separable, _lp.FALLBACK, res.message, res.w, res.b)
    return res


def _lazy_cutting_plane(problem: Problem, n: int, rep: int) -> SeparabilityResult:
    """The cutting plane of :func:`_cutting_plane` with only the working set's features formed
    and every candidate checked in the basis' coordinates (:mod:`.lazy`,
    ``docs/capacity.md#capacity-lazy``): the same draws, the same exact decisions."""
    return run_lockstep(problem, [(n, rep)])[0]


def run_lockstep(problem: Problem, tasks: list[tuple[int, int]]) -> list[SeparabilityResult]:
    """Lazy cutting planes of several repetitions ``(n, rep)`` in lockstep: each round, the
    candidates of all unfinished repetitions are checked in one pass over the basis
    (:func:`.lazy.fields_many`). Each decision is exactly the one made alone."""
    steps = [_lazy_steps(problem, n, rep) for n, rep in tasks]
    results: list = [None] * len(steps)
    requests: dict[int, tuple] = {}

    def advance(i: int, answer) -> None:
        try:
            requests[i] = steps[i].send(answer)
        except StopIteration as done:
            results[i] = done.value

    for i in range(len(steps)):
        advance(i, None)
    while requests:
        ids = sorted(requests)
        batch = [requests.pop(i) for i in ids]
        answers = fields_many(problem.basis, problem.basis_norms, batch)
        for i, answer in zip(ids, answers):
            advance(i, answer)
    return results


def _lazy_steps(problem: Problem, n: int, rep: int):
    """Generator of one lazy cutting plane: yields each candidate separator in the basis'
    coordinates (:func:`.lazy.in_basis`), receives its ``(field, bound)`` over all samples
    (basis order), returns the :class:`SeparabilityResult`."""
    opts = problem.opts
    z, y_obj, rng = _draw(problem, n, rep)
    z = None if z is None else z.astype(np.float64)  # the draw itself, exactly
    y = y_obj[problem.obj_index]  # object-major
    order = problem.order if problem.order is not None else np.arange(y.size)
    active = _initial_working_set(problem, rng)
    slot = np.full(y.size, -1, dtype=np.int64)  # object-major sample -> column of `store`
    store = np.empty((problem.rank if z is None else z.shape[0], 0))

    def features(idx: np.ndarray) -> np.ndarray:
        nonlocal store
        new = idx[slot[idx] < 0]
        if new.size:
            new = new[np.argsort(order[new])]  # ascending columns: a friendlier gather
            cols = gather_columns(problem.basis, order[new])
            block = cols if z is None else z @ cols
            slot[new] = store.shape[1] + np.arange(new.size)
            store = np.concatenate([store, block], axis=1)
        return store[:, slot[idx]]

    used_fallback = False
    while True:
        idx = np.flatnonzero(active)
        res = decide(features(idx), y[idx], method=opts.method, gamma_tol=opts.gamma_tol)
        used_fallback |= res.status == _lp.FALLBACK
        if res.separable is not True:  # not separable on a subset ⇒ not separable; or failed
            break
        field_, bound = yield in_basis(z, res.w, res.b)
        score = y * field_[order] - bound[order]  # > 0: separated, rounding included
        if np.all((score > 0) | active):  # the working set was verified by the LP itself
            break
        per_object = np.add.reduceat(active, problem.obj_starts[:-1])
        if per_object.max() >= opts.max_samples or not _worst_inactive(problem, score, active):
            everything = np.arange(y.size)
            res = decide(features(everything), y, method=opts.method, gamma_tol=opts.gamma_tol)
            used_fallback |= res.status == _lp.FALLBACK
            break
    if used_fallback and res.status == _lp.CERTIFIED:
        res = SeparabilityResult(res.separable, _lp.FALLBACK, res.message, res.w, res.b)
    return res


def run_task(problem: Problem, n: int, rep: int) -> tuple[bool | None, str]:
    """Decide repetition ``rep`` at ``n``; return (separable or None, status)."""
    if problem.lazy:
        res = _lazy_cutting_plane(problem, n, rep)
        return res.separable, res.status
    feats, y_obj, rng = _features(problem, n, rep)
    y = y_obj[problem.obj_index]
    if problem.opts.cutting_plane:
        res = _cutting_plane(problem, feats, y, rng)
    else:
        res = decide(feats, y, method=problem.opts.method, gamma_tol=problem.opts.gamma_tol)
    return res.separable, res.status


def run_tasks(problem: Problem, tasks: list[tuple[int, int]]) -> list[tuple[bool | None, str]]:
    """:func:`run_task` for several repetitions; lazy cutting planes run in lockstep
    (:func:`run_lockstep`). Results do not depend on how tasks are grouped."""
    if problem.lazy:
        return [(r.separable, r.status) for r in run_lockstep(problem, tasks)]
    return [run_task(problem, n, rep) for n, rep in tasks]
