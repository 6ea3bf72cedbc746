r"""Closed forms of the replica theory: capacities of points and of balls.

* :func:`gardner_capacity` — α₀(κ) = 1/[(1+κ²)Φ(κ)+κφ(κ)] (points), stable for very negative κ.
* :func:`ball_capacity` — α_B(κ, R, D) of D-dimensional balls (one numerical integral).

``docs/geometry.md#geometry-closed-forms``. Used by the geometry (the semi-analytic capacity and
the ball capacity of each manifold) and by the tests of both analyses.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special
from scipy.integrate import quad_vec

from ..errors import UserError

__all__ = ["ball_capacity", "gardner_capacity", "inverse_gardner"]


def inverse_gardner(kappa):
    r"""1/α₀(κ) = ∫_{−κ}^∞ Dt (t+κ)² = (1+κ²)Φ(κ) + κφ(κ), accurate for very negative κ."""
    k = np.asarray(kappa, dtype=np.float64)
    out = np.empty_like(k)
    phi = np.exp(-0.5 * k * k) / math.sqrt(2.0 * math.pi)
    mid = k > -20.0
    km = k[mid]
    # Mills-ratio form: Φ(κ) = φ(κ)·√(π/2)·erfcx(−κ/√2)
    pos = km > 0
    kp, kn = km[pos], km[~pos]
    res = np.empty_like(km)
    res[pos] = (1.0 + kp * kp) * special.ndtr(kp) + kp * phi[mid][pos]
    mills = math.sqrt(math.pi / 2.0) * special.erfcx(-kn / math.sqrt(2.0))
    res[~pos] = phi[mid][~pos] * ((1.0 + kn * kn) * mills + kn)
    out[mid] = res
    # asymptotic series for κ = −x, x ≥ 20: φ(x) Σ_{k≥1} (−1)^{k+1} 2k (2k−1)!! / x^{2k+1}
    x = -k[~mid]
    if x.size:
        total = np.zeros_like(x)
        dfact = 1.0
        for j in range(1, 12):
            dfact *= 2 * j - 1
            total += (-1) ** (j + 1) * 2 * j * dfact / x ** (2 * j + 1)
        out[~mid] = phi[~mid] * total
    return out if out.ndim else float(out)


def gardner_capacity(kappa):
    r"""Capacity of random points with margin κ (Gardner): α₀(κ).

    .. math::

        \alpha_0(\kappa)^{-1} = \int_{-\kappa}^{\infty} Dt\,(t+\kappa)^2
        = (1+\kappa^2)\,\Phi(\kappa) + \kappa\,\varphi(\kappa)

    Parameters
    ----------
    kappa : float or array-like
        Margin κ (any real; κ > 0 is a positive margin).

    Returns
    -------
    float or ndarray
        α₀(κ); +inf where 1/α₀ underflows (κ ≲ −38), as the original's lookup table.

    Notes
    -----
    For κ < 0 the closed form cancels catastrophically; it is evaluated as
    φ(κ)[(1+κ²)M(κ)+κ] with the Mills ratio M(κ) = √(π/2)·erfcx(−κ/√2) for −20 < κ ≤ 0 and by its
    asymptotic series below −20. The original (``theory_alpha0``) integrated numerically and
    switched to κ⁻² above κ = 100; the closed form is exact everywhere (``docs/geometry.md#geometry-gardner``).

    Examples
    --------
    >>> gardner_capacity(0.0)
    2.0
    >>> round(gardner_capacity(10.0), 8)  # = 1/101
    0.00990099
    """
    k = np.asarray(kappa, dtype=np.float64)
    if not np.all(np.isfinite(k)):
        raise UserError(f"kappa must be finite; got {kappa!r}")
    with np.errstate(divide="ignore"):
        out = 1.0 / np.asarray(inverse_gardner(k))
    return float(out) if out.ndim == 0 else out


def _ball_integrand(r, R, kappa):
    """E_t[Δ(t, r)] for a ball of radius R: the t-integral in closed form (Gaussian moments)."""
    a = kappa - r / R  # below: fully embedded; between a and b: touching
    b = kappa + R * r
    Pa, Pb = special.ndtr(a), special.ndtr(b)
    pa = np.exp(-0.5 * a * a) / math.sqrt(2 * math.pi)
    pb = np.exp(-0.5 * b * b) / math.sqrt(2 * math.pi)
    I0 = Pb - Pa
    I1 = pa - pb
    I2 = I0 + a * pa - b * pb
    c = R * r + kappa
    touching = (c * c * I0 - 2 * c * I1 + I2) / (1.0 + R * R)
    embedded = (1.0 + kappa * kappa + r * r) * Pa - a * pa + 2 * kappa * pa
    return touching + embedded


def ball_capacity(radius, dimension, kappa=0.0):
    r"""Capacity of D-dimensional balls of radius R with margin κ: α_B(κ, R, D).

    .. math::

        \alpha_B^{-1} = \int_0^\infty dr\,\chi_D(r) \int dt\,\varphi(t)\,A(r, t),\qquad
        A = \begin{cases}
          \frac{(Rr - t + \kappa)^2}{1+R^2} & \kappa - r/R < t < \kappa + Rr \ \text{(touching)}\\
          (t-\kappa)^2 + r^2 & t < \kappa - r/R \ \text{(embedded)}\\
          0 & \text{otherwise}
        \end{cases}

    with :math:`\chi_D` the chi density with D degrees of freedom (D may be non-integer).

    Parameters
    ----------
    radius : float or array-like
        Ball radius R ≥ 0 (relative to the centre norm).
    dimension : float or array-like
        Ball dimension D ≥ 0.
    kappa : float or array-like, default 0
        Margin κ.

    Returns
    -------
    float or ndarray
        α_B, broadcast over the inputs.

    Notes
    -----
    The inner t-integral is done in closed form with Gaussian partial moments; the outer one
    over r with adaptive Gauss–Kronrod quadrature, vectorised over all inputs
    (``scipy.integrate.quad_vec``) on mode ± 15 of the χ_D densities (mass outside < 1e-40). The original (``alphaB`` in the point-cloud
    code, ``docs/geometry.md#geometry-methods``) used a 2-D ``integral2`` and ignored κ. Limits: R → 0 or D = 0
    gives α₀(κ); R = 1, κ = 0 gives 2/(D+1); R → ∞ gives 1/(D+½) at κ = 0.

    Examples
    --------
    >>> round(float(ball_capacity(1.0, 3.0)), 6)  # 2/(D+1)
    0.5
    """
    R, D, K = np.broadcast_arrays(
        np.asarray(radius, dtype=np.float64),
        np.asarray(dimension, dtype=np.float64),
        np.asarray(kappa, dtype=np.float64),
    )
    for name, arr in (("radius", R), ("dimension", D), ("kappa", K)):
        if not np.all(np.isfinite(arr)):
            raise UserError(f"{name} must be finite; got {arr!r}")
    if np.any(R < 0) or np.any(D < 0):
        raise UserError(
            f"radius and dimension must be >= 0; got radius={radius!r}, dimension={dimension!r}"
        )
    shape = R.shape
    R, D, K = R.ravel(), D.ravel(), K.ravel()
    out = np.empty(R.shape)
    point = (R == 0) | (D == 0)
    out[point] = gardner_capacity(K[point]) if point.any() else 0
    ball = ~point
    if ball.any():
        Rb, Db, Kb = R[ball], D[ball], K[ball]
        lognorm = (1.0 - 0.5 * Db) * math.log(2.0) - special.gammaln(0.5 * Db)

        def f(r):
            if r <= 0.0:
                return np.zeros_like(Rb)
            dens = np.exp(lognorm + (Db - 1.0) * math.log(r) - 0.5 * r * r)  # chi_D(r)
            return dens * _ball_integrand(r, Rb, Kb)

        mode = np.sqrt(np.maximum(Db - 1.0, 0.0))  # chi_D has width < 0.75 around its mode
        lo = max(0.0, float(mode.min()) - 15.0)
        hi = float(mode.max()) + 15.0
        breaks = np.unique(np.round(mode[(mode > lo) & (mode < hi)], 1))
        if breaks.size > 64:
            breaks = np.quantile(breaks, np.linspace(0, 1, 64))
        inv, _err = quad_vec(
            f,
            lo,
            hi,
            epsabs=1e-13,
            epsrel=1e-10,
            norm="max",
            limit=4000,
            points=breaks.tolist() or None,
        )
        with np.errstate(divide="ignore"):
            out[ball] = 1.0 / inv
    out = out.reshape(shape)
    return float(out) if out.ndim == 0 else out
