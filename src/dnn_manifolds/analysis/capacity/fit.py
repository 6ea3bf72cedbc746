r"""Smooth estimate of ``N_c``: a probit fit of ``f(n)`` with a profile-likelihood interval.

``docs/capacity.md#capacity-probit-fit``. Beside the original's first crossing, the whole curve
is fitted by ``Φ((n − N_c)/σ)`` by maximum likelihood on the binomial counts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import scipy.optimize as sopt
import scipy.special as sspec

from ...errors import UserError
from .results import CurveFit

__all__ = ["fit_transition"]


def fit_transition(
    n_features: Sequence[float],
    n_separable: Sequence[int],
    n_repetitions: Sequence[int],
    *,
    confidence: float = 0.95,
) -> CurveFit:
    r"""Fit ``f(n) = Φ((n − N_c)/σ)`` to binomial counts by maximum likelihood.

    .. math::

        \ell(N_c, \sigma) = \sum_i k_i \log \Phi(z_i) + (m_i - k_i) \log \Phi(-z_i),
        \qquad z_i = (n_i - N_c)/\sigma,

    so each tested ``n`` weighs by its repetitions ``m_i``. The interval is where the profile
    deviance ``2[\ell_{max} - \max_\sigma \ell(N_c, \sigma)]`` stays below the χ²₁ quantile.

    Parameters
    ----------
    n_features, n_separable, n_repetitions : sequence of shape (n_tested,)
        Tested ``n``, separable counts ``k_i`` and decided repetitions ``m_i`` (entries with
        ``m_i = 0`` are ignored).
    confidence : float
        Level of the interval.

    Returns
    -------
    CurveFit

    Examples
    --------
    >>> fit = fit_transition([10, 20, 30], [5, 50, 95], [100, 100, 100])
    >>> round(fit.critical_n_features, 3)
    20.0
    """
    n = np.asarray(n_features, dtype=np.float64)
    k = np.asarray(n_separable, dtype=np.float64)
    m = np.asarray(n_repetitions, dtype=np.float64)
    if not (n.shape == k.shape == m.shape) or n.ndim != 1:
        raise UserError("n_features, n_separable and n_repetitions must be 1-D of equal length")
    if not 0 < confidence < 1:
        raise UserError(f"confidence must be in (0, 1); got {confidence!r}")
    keep = m > 0
    n, k, m = n[keep], k[keep], m[keep]
    nan = math.nan
    if n.size == 0 or np.all(k == 0) or np.all(k == m):
        return CurveFit(nan, nan, nan, nan, confidence, "no_transition")
    span = float(n.max() - n.min()) or 1.0
    s_lo, s_hi = math.log(1e-3), math.log(10.0 * max(span, float(n.max())))
    step = not np.any((k > 0) & (k < m))

    def nll(c: float, log_s: float) -> float:
        z = (n - c) / math.exp(log_s)
        return -float(np.sum(k * sspec.log_ndtr(z) + (m - k) * sspec.log_ndtr(-z)))

    def profile(c: float) -> tuple[float, float]:
        res = sopt.minimize_scalar(
            lambda ls: nll(c, ls), bounds=(s_lo, s_hi), method="bounded", options={"xatol": 1e-6}
        )
        return float(res.fun), float(res.x)

    res = sopt.minimize_scalar(
        lambda c: profile(c)[0],
        bracket=None,
        bounds=(float(n.min()) - span, float(n.max()) + span),
        method="bounded",
        options={"xatol": 1e-6},
    )
    c_hat = float(res.x)
    best, log_s = profile(c_hat)
    # polish jointly (the bounded scalar search can stop on a flat plateau)
    joint = sopt.minimize(
        lambda t: nll(t[0], t[1]),
        x0=[c_hat, log_s],
        method="Nelder-Mead",
        options={"xatol": 1e-7, "fatol": 1e-10, "maxiter": 2000},
    )
    if joint.fun < best and s_lo <= joint.x[1] <= s_hi:
        c_hat, log_s, best = float(joint.x[0]), float(joint.x[1]), float(joint.fun)
    if not math.isfinite(best):
        return CurveFit(nan, nan, nan, nan, confidence, "failed")
    crit = float(sspec.chdtri(1, 1 - confidence))

    def excess(c: float) -> float:
        return 2.0 * (profile(c)[0] - best) - crit

    def bound(direction: float) -> float:
        limit = float(n.max()) * 2.0 if direction > 0 else 0.0
        width = max(math.exp(log_s), 0.5)
        prev = c_hat
        while True:
            nxt = c_hat + direction * width
            if (direction > 0 and nxt >= limit) or (direction < 0 and nxt <= limit):
                nxt = limit
            if excess(nxt) > 0:
                return float(sopt.brentq(excess, min(prev, nxt), max(prev, nxt), xtol=1e-6))
            if nxt == limit:
                return nan
            prev = nxt
            width *= 2.0

    lo, hi = bound(-1.0), bound(+1.0)
    return CurveFit(c_hat, lo, hi, math.exp(log_s), confidence, "step" if step else "ok")
