r"""The search for the critical number of features ``N_c`` (the original's schedule).

``docs/capacity.md#capacity-search``: coarse steps of ``jumps`` until ``f(n) = 1``, bisection of
the bracket to ``precision``, then (``tails``) probes of the curve's tails; ``N_c`` is the
smallest probed ``n`` with ``f(n) ≥ 0.5``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

__all__ = ["crossing_status", "default_jumps", "search_critical_n"]


def default_jumps(n_neurons: int) -> int:
    """Coarse-scan step of ``check_binary_dichotomies_capacity2`` for ``n_neurons`` features."""
    if n_neurons < 100:
        return 10
    if n_neurons < 1024:
        return 100 if n_neurons % 100 == 0 else 128
    return 500 if n_neurons % 500 == 0 else 512


def search_critical_n(
    evaluate: Callable[[int], float],
    n_max: int,
    *,
    jumps: int,
    precision: int = 1,
    tails: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[float, list[int]]:
    """The original's search for ``N_c`` (``check_binary_dichotomies_capacity2``, ``docs/capacity.md#capacity-search``).

    Parameters
    ----------
    evaluate : callable
        ``evaluate(n) -> f(n)``; called at most once per ``n``.
    n_max : int
        Largest ``n`` (the number of neurons).
    jumps : int
        Coarse step.
    precision : int
        Bisection stops when the bracket is at most this wide.
    tails : bool
        Also probe the tails of the curve (phases b and c), as the original.
    progress : callable, optional
        ``progress(done, expected)`` after each probe: probes so far and the expected total
        (an estimate that is exact once the search ends), for a progress bar with an ETA.

    Returns
    -------
    n_c : float
        Smallest probed ``n`` with ``f(n) ≥ 0.5`` (NaN if none).
    probes : list of int
        Probed ``n`` in order.

    Notes
    -----
    ``evaluate`` returns NaN where every repetition failed. A NaN never steers the search: in
    the coarse scan it is neither a 0 nor a 1, and a NaN at a bisection probe ends the
    bisection with the bracket where it was (the tails are still probed). The caller judges
    the result with :func:`crossing_status` (``docs/capacity.md#capacity-search``).
    """
    sep: dict[int, float] = {}
    probes: list[int] = []

    coarse = sorted(set(list(range(jumps, n_max - n_max % jumps + 1, jumps)) + [n_max]))
    extra_tails = 2 if tails else 0
    expected = [len(coarse) + math.ceil(math.log2(max(jumps / precision, 1))) + extra_tails]

    def probe(n: int) -> float:
        if n not in sep:
            sep[n] = float(evaluate(n))
            probes.append(n)
            if progress is not None:
                progress(len(probes), max(expected[0], len(probes)))
        return sep[n]

    n = coarse[0]
    for n in coarse:
        if probe(n) == 1:
            break
    max_n = n
    zeros = [m for m, v in sep.items() if v == 0]
    min_n = max(zeros) if zeros else 0

    def extremes():
        finite = sorted((m, v) for m, v in sep.items() if not math.isnan(v))
        if not finite:
            return math.nan, 0, math.nan, 0
        min_v = min(v for _, v in finite)
        max_v = max(v for _, v in finite)
        min_i = next(m for m, v in finite if v == min_v)
        max_i = next(m for m, v in finite if v == max_v)
        return min_v, min_i, max_v, max_i

    min_v, min_i, max_v, max_i = extremes()
    expected[0] = len(probes) + math.ceil(math.log2(max((max_n - min_n) / precision, 1))) + extra_tails
    n1 = n2 = None
    stalled = False  # a bisection probe where every repetition failed
    while True:
        cond_a = not stalled and max_n - min_n > precision
        cond_b = tails and min_v > 0 and min_i - 1 > precision and math.ceil((min_i + 1) / 2) != n
        cond_c = (
            tails
            and max_v < 1
            and n_max - max_i > precision
            and math.ceil((max_i + n_max) / 2) != n
        )
        if cond_a:
            n = math.ceil((max_n + min_n) / 2)
        elif cond_b:
            n = math.ceil((min_i + 1) / 2)
        elif cond_c:
            n = math.ceil((max_i + n_max) / 2)
        else:
            break
        if n == n1 or n == n2:
            break
        value = probe(n)
        min_v, min_i, max_v, max_i = extremes()
        if cond_a:
            if math.isnan(value):
                stalled = True  # a failure must not move the bracket
            elif value > 0.5:
                max_n = n
            else:
                min_n = n
        n2, n1 = n1, n
    if progress is not None:
        progress(len(probes), len(probes))
    crossing = [m for m in sorted(sep) if sep[m] >= 0.5]
    return (float(crossing[0]) if crossing else math.nan), probes


def crossing_status(fractions: dict[int, float], n_max: int) -> tuple[str, str]:
    """Whether the first crossing of the probed curve can be trusted, and why not.

    Parameters
    ----------
    fractions : dict of int to float
        ``f(n)`` at every probed ``n`` (NaN where every repetition failed).
    n_max : int
        The largest ``n`` (N).

    Returns
    -------
    status : str
        ``"ok"``; ``"not_reached"`` (every probed ``f(n) < 0.5``, none failed: ``N_c > N``);
        ``"failed"`` (a probe where every repetition failed lies where ``N_c`` could be: between
        the largest probed ``n`` below the crossing and the crossing, or anywhere when there is
        no crossing).
    reason : str
        One line for the user ("" when ok).
    """
    ns = sorted(fractions)
    crossing = next((n for n in ns if fractions[n] >= 0.5), None)
    failed = [n for n in ns if math.isnan(fractions[n])]
    if crossing is None:
        if failed:
            return "failed", (
                f"every repetition failed at n = {_list(failed)}; no tested n reached f(n) >= 0.5, "
                "so N_c cannot be placed"
            )
        return "not_reached", (
            f"f(n) < 0.5 at every tested n up to N = {n_max} (largest f = "
            f"{max(fractions.values()):.2f}): N_c > N"
        )
    below = [n for n in ns if n < crossing and not math.isnan(fractions[n])]
    lo = below[-1] if below else 0
    blind = [n for n in failed if lo < n < crossing]
    if blind:
        return "failed", (
            f"every repetition failed at n = {_list(blind)}, between n = {lo} (f < 0.5) and "
            f"n = {crossing} (f >= 0.5): N_c lies in ({lo}, {crossing}] but cannot be placed"
        )
    return "ok", ""


def _list(values: list[int]) -> str:
    shown = ", ".join(str(v) for v in values[:5])
    return shown + (", ..." if len(values) > 5 else "")
