r"""One dichotomy: are labelled points linearly separable (with a bias)?

:func:`is_linearly_separable` is the decision behind every repetition of the capacity search:
the certified dense LP of :mod:`.lp` (status ``certified``, or ``fallback`` when the reference
QP had to decide) or, with ``method="qp"``, the original's hard-margin QP in cvxpy + Clarabel
for every decision (status ``reference``); ``docs/capacity.md#capacity-lp``.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ...errors import UserError
from . import lp as _lp
from .lp import SeparabilityResult
from .options import METHODS

__all__ = ["SeparabilityResult", "decide", "is_linearly_separable"]


def is_linearly_separable(
    points: np.ndarray,
    labels: np.ndarray,
    *,
    method: str = "lp",
    margin: bool = False,
    gamma_tol: float = _lp.GAMMA_TOL,
    clarabel_settings: dict | None = None,
) -> SeparabilityResult:
    r"""Whether labelled points are linearly separable with an unregularised bias.

    .. math::

        \exists\, (w, b):\ y_k\,(w\cdot x_k + b) \ge 1 \quad \forall k

    Parameters
    ----------
    points : ndarray of shape (n_features, n_points)
        Columns are points (the dataset's neuron-first layout). Columns with NaN are dropped
        (the original's handling of missing samples).
    labels : ndarray of shape (n_points,)
        ±1.
    method : {"lp", "qp"}
        ``"lp"``: certified dense interior-point LP (status ``"certified"``), falling back to
        the reference QP when unsure (``"fallback"``). ``"qp"``: the original's hard-margin
        QP in cvxpy solved by Clarabel (``"reference"``), which also returns the margin.
    margin : bool
        With ``method="lp"``, also solve the reference QP for the max margin when the points
        are separable (the LP decides; the QP only adds ``margin``).
    gamma_tol : float
        Normalised-margin tolerance of the LP certificates.
    clarabel_settings : dict, optional
        Extra Clarabel settings for the QP.

    Returns
    -------
    SeparabilityResult
        ``separable`` is ``None`` (status ``"failed"``) when no solver could decide.

    Examples
    --------
    >>> import numpy as np
    >>> xor = np.array([[0.0, 1.0, 0.0, 1.0], [0.0, 1.0, 1.0, 0.0]])
    >>> is_linearly_separable(xor, np.array([1, 1, -1, -1])).separable
    False
    >>> is_linearly_separable(xor, np.array([1, -1, 1, -1])).separable
    True
    """
    x = np.asarray(points, dtype=np.float64)
    if x.ndim != 2:
        raise UserError(f"points must be 2-D (n_features, n_points); got shape {tuple(x.shape)}")
    y = np.asarray(labels, dtype=np.float64)
    if y.shape != (x.shape[1],):
        raise UserError(
            f"labels must have shape (n_points,) = ({x.shape[1]},); got {tuple(y.shape)}"
        )
    if not np.all(np.abs(y) == 1):
        raise UserError("labels must be +1 or -1")
    if method not in METHODS:
        raise UserError(f"method must be one of {list(METHODS)}; got {method!r}")
    if np.isinf(x).any():
        raise UserError("points contains infinite values")
    keep = ~np.isnan(x).any(axis=0)
    x, y = x[:, keep], y[keep]
    if x.shape[1] == 0:
        raise UserError("points has no column without NaN")
    res = decide(
        x, y, method=method, gamma_tol=gamma_tol, clarabel_settings=clarabel_settings, margin=True
    )
    if margin and res.separable and math.isnan(res.margin):
        ref = _lp.qp_separability(x, y, clarabel_settings=clarabel_settings, margin=True)
        res = dataclasses.replace(
            res, margin=ref.margin, message=f"{res.message}; margin: {ref.message}"
        )
    return res


def decide(x, y, *, method, gamma_tol, clarabel_settings=None, margin=False) -> SeparabilityResult:
    """Decide one dichotomy of validated points ``x`` (n_features, n_points), labels ``y``."""
    if method == "qp":
        return _lp.qp_separability(x, y, clarabel_settings=clarabel_settings, margin=margin)
    return _lp.lp_separability(x, y, gamma_tol=gamma_tol, clarabel_settings=clarabel_settings)
