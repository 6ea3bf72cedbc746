r"""The search for the critical number of features ``N_c`` (the original's schedule).

``docs/capacity.md#capacity-search``: coarse steps of ``jumps`` until ``f(n) = 1``, bisection of
the bracket to ``precision``, then (``tails``) probes of the curve's tails; ``N_c`` is the
smallest probed ``n`` with ``f(n) ≥ 0.5``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

__all__ = ["default_jumps", "search_critical_n"]


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
    while True:
        cond_a = max_n - min_n > precision
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
            if value > 0.5:
                max_n = n
            else:
                min_n = n
        n2, n1 = n1, n
    if progress is not None:
        progress(len(probes), len(probes))
    crossing = [m for m in sorted(sep) if sep[m] >= 0.5]
    return (float(crossing[0]) if crossing else math.nan), probes
