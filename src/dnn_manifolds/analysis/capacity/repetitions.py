r"""Repetitions at one ``n``: the adaptive stopping rule, run serially or over processes.

:class:`Runner` yields repetition outcomes in order, serially or from ``jobs`` single-threaded
worker processes (forked, the problem inherited), keeping a bounded window in flight; results
never depend on ``jobs`` because every repetition has its own random stream. :class:`Estimator`
applies the stopping rule (``docs/capacity.md#capacity-repetitions``) and, with nested
projections, the monotone shortcut.
"""

from __future__ import annotations

import math
import multiprocessing
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np

from ...errors import UserError
from ...validation import ArgumentTypeError, check_int, check_number
from ..threads import blas_limits, check_jobs
from .basis import unit_roundoff
from .options import STATUSES, CapacityOptions
from .problem import Problem, check_points, prepare, run_tasks
from .results import FractionResult

__all__ = ["LOCKSTEP", "LOCKSTEP_MAX", "Estimator", "Runner", "check_jobs", "resolve_key", "separable_fraction", "still_needed", "stops"]

_WORKER: dict[str, Any] = {}


def _worker_init(problem: Problem) -> None:
    _WORKER["problem"] = problem
    _WORKER["limits"] = blas_limits(1)


LOCKSTEP = 8
"""Repetitions decided together by lazy cutting planes (one pass over the basis per round for
all of them, :func:`.problem.run_lockstep`); results do not depend on it. Eight, not four: the
pass's float32 product costs about the same for 4 and 8 separators, so a group of eight needs
about half the passes per decision (``docs/capacity.md#capacity-lazy``)."""

LOCKSTEP_MAX = 16
"""Largest lockstep group: groups grow from :data:`LOCKSTEP` up to this size when more
repetitions than ``jobs × LOCKSTEP`` are certainly still needed (so no group works past the
stopping point for it)."""


def stops(n_decided: int, n_separable: int, lo: int, eps: float) -> bool:
    """The stopping rule: at least ``lo`` decided and standard error ``√(p(1−p)/d) ≤ eps``."""
    if n_decided < lo or n_decided == 0:
        return False
    p = n_separable / n_decided
    return math.sqrt(p * (1 - p) / n_decided) <= eps


def still_needed(n_decided: int, n_separable: int, lo: int, hi: int, eps: float) -> int:
    """Decided repetitions certainly still needed before the stopping rule can stop.

    The rule stops once ``d ≥ lo`` repetitions are decided and ``√(p(1−p)/d) ≤ eps``
    (``p`` the separable fraction). Whatever the next ``k`` outcomes, ``p(1−p)`` is smallest
    when they all agree (it is concave in the number of separable ones), so the answer is the
    smallest ``k ≥ lo − d`` for which all-separable or all-not-separable would stop, at most
    ``hi − d`` (``docs/capacity.md#capacity-repetitions``).
    """
    d, s = n_decided, n_separable
    for k in range(max(0, lo - d), max(0, hi - d) + 1):
        if stops(d + k, s, lo, eps) or stops(d + k, s + k, lo, eps):
            return k
    return max(0, hi - d)


def _run(problem, n: int, reps: tuple[int, ...]) -> list[tuple[bool | None, str]]:
    """Repetitions ``reps`` at ``n``: a problem with its own ``run`` (balls) or the manifolds'
    :func:`run_tasks`."""
    run = getattr(problem, "run", None)
    if run is not None:
        return [run(n, rep) for rep in reps]
    return run_tasks(problem, [(n, rep) for rep in reps])


def _worker_task(task: tuple[int, tuple[int, ...]]) -> list[tuple[bool | None, str]]:
    return _run(_WORKER["problem"], *task)


class _Group:
    """Repetitions ``task = (n, reps)`` decided together: in a worker, or here when needed."""

    def __init__(self, runner: Runner, task: tuple[int, tuple[int, ...]]):
        self.runner = runner
        self.task = task
        self.future = runner.pool.submit(_worker_task, task) if runner.pool is not None else None
        self.out: list | None = None

    def result(self) -> list[tuple[bool | None, str]]:
        if self.out is None:
            if self.future is not None:
                self.out = self.future.result()
            else:
                with blas_limits(1):
                    self.out = _run(self.runner.problem, *self.task)
        return self.out

    def cancel(self) -> None:
        if self.future is not None:
            self.future.cancel()


class Runner:
    """Runs repetitions serially or over ``jobs`` single-threaded worker processes."""

    def __init__(self, problem: Problem, jobs: int):
        self.problem = problem
        self.jobs = jobs
        self.batch = LOCKSTEP if getattr(problem, "lazy", False) else 1
        self.pool: ProcessPoolExecutor | None = None
        if jobs > 1:
            methods = multiprocessing.get_all_start_methods()
            ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
            self.pool = ProcessPoolExecutor(
                max_workers=jobs, mp_context=ctx, initializer=_worker_init, initargs=(problem,)
            )

    def outcomes(
        self, n: int, known: Callable[[int], bool | None], n_max: int, needed: Callable[[], int]
    ):
        """Yield ``(rep, (separable, status))`` for ``rep = 0, 1, …`` in order, lazily.

        ``known(rep)`` gives a decision that needs no solver (the monotone shortcut) or
        ``None``. Repetitions that need a solver go in groups of up to ``batch``
        (:data:`LOCKSTEP` for lazy cutting planes, else 1), decided together; lazy groups grow
        up to :data:`LOCKSTEP_MAX` while more than ``jobs·batch`` repetitions are certainly
        needed. Up to ``max(jobs·batch, needed())`` repetitions are queued ahead of the
        consumer (``needed()`` = repetitions certainly still required); with a pool they run in
        the workers, serially each group when its first repetition is consumed. The consumer
        stops when it likes, and results never depend on how far ahead the work ran.
        """
        pending: deque = deque()  # [rep, "done", outcome] or [rep, "group", (group, index)]
        next_rep = 0

        def submit(limit: int, size: int) -> None:
            nonlocal next_rep
            reps: list[int] = []
            entries: list[list] = []
            while next_rep < n_max and len(pending) + len(entries) < limit and len(reps) < size:
                short = known(next_rep)
                if short is not None:
                    entries.append([next_rep, "done", (short, "shortcut")])
                else:
                    entries.append([next_rep, "group", len(reps)])
                    reps.append(next_rep)
                next_rep += 1
            if reps:
                group = _Group(self, (n, tuple(reps)))
                for e in entries:
                    if e[1] == "group":
                        e[2] = (group, e[2])
            pending.extend(entries)

        try:
            while True:
                need = needed()
                window = max(self.jobs * self.batch, need)
                size = self.batch
                if self.batch > 1 and need > self.jobs * self.batch:
                    # certainly needed work, in equal groups of at most LOCKSTEP_MAX, as many
                    # for each worker
                    groups = self.jobs * -(-need // (self.jobs * LOCKSTEP_MAX))
                    size = -(-need // groups)
                while next_rep < n_max and len(pending) < window:
                    submit(window, size)
                if not pending:
                    return
                rep, kind, payload = pending.popleft()
                if kind == "done":
                    yield rep, payload
                else:
                    group, j = payload
                    yield rep, group.result()[j]
        finally:
            for _, kind, payload in pending:
                if kind == "group":
                    payload[0].cancel()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None


class Estimator:
    """Adaptive repetitions at one ``n`` (``docs/capacity.md#capacity-repetitions``), with the nested monotone cache."""

    def __init__(self, problem: Problem, runner: Runner):
        self.problem = problem
        self.runner = runner
        self.opts = problem.opts
        self.sep_from: dict[int, int] = {}  # rep -> smallest n proven separable
        self.nonsep_to: dict[int, int] = {}  # rep -> largest n proven not separable

    def _shortcut(self, n: int, rep: int) -> bool | None:
        if not self.opts.nested:
            return None
        if rep in self.sep_from and n >= self.sep_from[rep]:
            return True
        if rep in self.nonsep_to and n <= self.nonsep_to[rep]:
            return False
        return None

    def estimate(self, n: int) -> FractionResult:
        opts = self.opts
        eps = opts.expected_precision
        lo, hi = opts.repetition_bounds
        outcomes: list[tuple[bool | None, str]] = []
        n_decided = n_sep = 0

        def needed() -> int:
            return still_needed(n_decided, n_sep, lo, hi, eps)

        stream = self.runner.outcomes(n, lambda r: self._shortcut(n, r), hi, needed)
        try:
            for _, out in stream:
                outcomes.append(out)
                if out[0] is not None:
                    n_decided += 1
                    n_sep += bool(out[0])
                if stops(n_decided, n_sep, lo, eps):
                    break
        finally:
            stream.close()
        # the monotone cache learns only from kept repetitions (independent of jobs)
        if opts.nested:
            for r, (o, _) in enumerate(outcomes):
                if o is True:
                    self.sep_from[r] = min(self.sep_from.get(r, n), n)
                elif o is False:
                    self.nonsep_to[r] = max(self.nonsep_to.get(r, n), n)
        vals = np.array([np.nan if o is None else float(o) for o, _ in outcomes])
        decided_n = int(np.sum(~np.isnan(vals)))
        n_sep = int(np.nansum(vals))
        counts = {s: 0 for s in STATUSES}
        for _, s in outcomes:
            counts[s] += 1
        return FractionResult(
            n_features=int(n),
            fraction=n_sep / decided_n if decided_n else math.nan,
            n_repetitions=decided_n,
            n_separable=n_sep,
            n_attempts=len(outcomes),
            outcomes=vals,
            status_count=counts,
            statuses=tuple(st for _, st in outcomes),
        )


def resolve_key(rng: Any) -> tuple[int, ...]:
    """Turn ``rng`` (int, SeedSequence, Generator or None) into an integer stream key."""
    if isinstance(rng, (bool, np.bool_)):
        raise ArgumentTypeError("rng must be an int, SeedSequence, Generator or None; got a bool")
    if isinstance(rng, (int, np.integer)):
        if rng < 0:
            raise UserError(f"rng seed must be non-negative; got {rng}")
        return (int(rng),)
    if isinstance(rng, np.random.SeedSequence):
        ent = rng.entropy
        ent = list(ent) if isinstance(ent, (list, tuple, np.ndarray)) else [int(ent)]
        return tuple(int(e) for e in ent) + tuple(int(k) for k in rng.spawn_key)
    if rng is None or isinstance(rng, np.random.Generator):
        g = np.random.default_rng(rng)
        return (int(g.integers(0, 2**63 - 1)),)
    raise ArgumentTypeError(
        f"rng must be an int, SeedSequence, Generator or None; got {type(rng).__name__}"
    )


def separable_fraction(
    points: np.ndarray,
    n_features: int,
    options: CapacityOptions | Mapping[str, Any] | None = None,
    *,
    rng: Any = None,
    jobs: int = 1,
    precision: float | None = None,
    **option_kwargs: Any,
) -> FractionResult:
    """Fraction of random dichotomies that are separable with ``n`` random features.

    Per repetition: a fresh random view of ``n_features`` features (Gaussian projection or
    neuron subset), random object labels, one exact separability decision over all valid
    samples. Repetitions continue until at least ``min_repetitions`` are decided and the
    standard error ``sqrt(p(1−p)/n_rep)`` is at most ``expected_precision``, or
    ``max_repetitions`` were drawn (``docs/capacity.md#capacity-repetitions``).

    Parameters
    ----------
    points : ndarray of shape (n_neurons, n_samples, n_objects)
        Missing samples are NaN columns.
    n_features : int
        ``n``, between 1 and ``n_neurons``.
    options : CapacityOptions or mapping, optional
        Analysis options; keyword options (``**option_kwargs``) override them.
    rng : int, SeedSequence, Generator or None
        Root of the per-repetition streams.
    jobs : int, default 1
        Worker processes (the result does not depend on it).
    precision : float, optional
        Unit roundoff of the data (default: from the dtype of ``points``; see
        :func:`~dnn_manifolds.analysis.capacity.critical_capacity`).

    Returns
    -------
    FractionResult
    """
    opts = CapacityOptions.from_mapping(options, **option_kwargs)
    jobs = check_jobs(jobs)
    if precision is None:
        precision = unit_roundoff(getattr(points, "dtype", np.float64))
    precision = check_number(precision, "precision", minimum=0.0)
    pts = check_points(points)
    n_neurons = pts.shape[0]
    n_features = check_int(n_features, "n_features")
    if not 1 <= n_features <= n_neurons:
        raise UserError(
            f"n_features must be between 1 and n_neurons = {n_neurons}; got {n_features}"
        )
    problem = prepare(pts, resolve_key(rng), opts, precision=precision)
    runner = Runner(problem, jobs)
    try:
        return Estimator(problem, runner).estimate(n_features)
    finally:
        runner.close()
