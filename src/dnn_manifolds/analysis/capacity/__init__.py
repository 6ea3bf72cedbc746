r"""Direct (simulated) classification capacity of object manifolds.

For ``P`` object manifolds (all valid samples of each object), random balanced ±1 labels per
object and a random ``n``-dimensional view of the neurons, ask whether an affine hyperplane puts
**every sample** of every object on its object's side. ``f(n)`` is the fraction of random
(projection, labels) draws that are separable, the critical number of features ``N_c`` is the
smallest tested ``n`` with ``f(n) ≥ 0.5`` and the capacity is ``α_c = P / N_c``
(Cohen, Chung, Lee & Sompolinsky 2020; ``docs/capacity.md``).

Package layout
--------------
* :mod:`.options` — :class:`CapacityOptions` (every option, its default and allowed values);
* :mod:`.api` — :func:`capacity` (sessions of a manifold dataset) and
  :func:`critical_capacity` (an ``(n_neurons, n_samples, n_objects)`` array);
* :mod:`.search` — the original's ``N_c`` schedule; :mod:`.fit` — the probit fit;
* :mod:`.repetitions` — ``f(n)`` at one ``n`` (:func:`separable_fraction`), serial or over
  processes; :mod:`.problem` — data preparation, random features and labels, cutting plane;
  :mod:`.lazy` — the cutting plane's separator checks in the basis' coordinates (features of
  the working set only, repetitions in lockstep); :mod:`.inplace` — large sessions prepared
  without a copy of the samples;
* :mod:`.separability` — one dichotomy (:func:`is_linearly_separable`); :mod:`.lp` — the
  certified LP and the reference QP; :mod:`.canonical` — their equilibrated canonical
  coordinates and conditioning; :mod:`.basis` — the samples' basis and rank at their precision;
* :mod:`.results` — result objects and their xarray form.

The control manipulations (``control``) are shared with the geometry:
:mod:`dnn_manifolds.analysis.controls`. The command line (``dnn-manifolds capacity``) is in
:mod:`dnn_manifolds.cli`.

Deliberate choices versus the original (``docs/differences.md``)
----------------------------------------------------------------
* **Solver.** The decision "margin > 0" of the original's hard-margin QP (CPLEX) is made by a
  dense interior-point LP on the box-bounded Gordan dual, in canonical (orthonormalised)
  coordinates, with a certificate either way: a separator re-verified on the original
  points, or a vector ``u ≥ 0`` with ``Aᵀu ≈ 0`` that rules out any separator of normalised
  margin above ``gamma_tol``. When neither certificate is reached, the reference QP (cvxpy +
  Clarabel) decides (status ``fallback``). See :mod:`.lp`.
* **Solver failures** are never read as an answer. The original counts a failed solve as
  "not separable"; here it is a missing outcome: it is counted in ``status_count`` (status
  ``failed``) and left out of ``f(n)`` and of the stopping rule (at most ``max_repetitions``
  attempts per ``n``).
* **Cutting plane** (``docs/capacity.md#capacity-cutting-plane``, off by default, as in the generic driver): it stops as soon as a
  separator of the working set separates all samples (the original refines the margin to 1 %,
  which changes no decision) and, when the working set exceeds ``max_samples`` per object,
  solves the full problem instead of declaring "not separable" (the original's possible false
  negative). Decisions are therefore identical to the full LP. With Gaussian projections it
  forms only the working set's features and checks every candidate separator on all samples in
  the basis' coordinates with a rigorous rounding bound (``docs/capacity.md#capacity-lazy``);
  a session with ``K ≥ N + 257`` samples at full affine rank is then prepared in place.
* **Basis at the data's precision.** For ``projection="gaussian"``, ``RᵀX`` is drawn as
  ``Z B`` with ``B`` a pivoted-QR factor of the median-centred samples augmented by a constant
  row (a Gaussian projection followed by a random translation: the same law of decisions),
  truncated where every sample's residual is within its own rounding error (``2^-24`` for
  float32 data; :mod:`.basis`). The samples themselves are used when they have full affine
  rank and ``K ≥ N``. For ``n ≥ rank`` the decision equals that of the data themselves and no
  projection is drawn. With ``projection_precision="auto"`` (default) a large basis
  (rank × samples ≥ 10⁶) is projected in float32 (twice as fast): the features are then a
  Gaussian projection rounded to float32 (relative 1e-7), and every decision is exact for
  the features actually used (they are what the LP certifies and re-verifies).
* **Nested projections** (``nested=True``, off by default): one Gaussian matrix and one label
  vector per repetition, whose first ``n`` rows are used at every ``n``; separability is then
  monotone in ``n`` for a fixed repetition, so decisions below a proven non-separable ``n`` or
  above a proven separable one need no LP (status ``shortcut``). Each ``f(n)`` keeps its exact
  marginal law, but estimates at different ``n`` become correlated (the original draws afresh
  at every ``n``).
* **Smooth estimate.** Beside the original's first crossing, ``f(n)`` is fitted by a probit
  curve ``Φ((n − N_c)/σ)`` by maximum likelihood on the binomial counts (weighted by
  repetitions), with a 95 % profile-likelihood interval for ``N_c``.
* **Controls with missing samples.** The original's manipulations do not support NaN; here the
  global mean and centres use the valid samples only and ``shuffle`` permutes the valid sample
  columns across objects keeping each object's count (identical to the original without NaN).
  The PCA clipping to ``D = min(N, M)`` of the generic driver is the identity (a centred
  manifold has rank < M) and is not performed. z-scoring uses ddof = 1 over valid entries; a
  constant neuron is left unscaled.
* **Labels.** ``balanced`` gives ``round(P/2)`` objects (half away from zero, as MATLAB) the
  label −1.
* The tested ``n`` range is ``1 … N`` (non-silent neurons), as in the original.
"""

from __future__ import annotations

from ..controls import CONTROLS, apply_control, zscore_neurons
from .api import capacity, critical_capacity
from .fit import fit_transition
from .lp import SeparabilityResult
from .options import LABELINGS, METHODS, PROJECTIONS, STATUSES, CapacityOptions
from .repetitions import separable_fraction
from .results import CapacityResult, CurveFit, FractionResult
from .search import default_jumps, search_critical_n
from .separability import is_linearly_separable

__all__ = [
    "CONTROLS",
    "LABELINGS",
    "METHODS",
    "PROJECTIONS",
    "STATUSES",
    "CapacityOptions",
    "CapacityResult",
    "CurveFit",
    "FractionResult",
    "SeparabilityResult",
    "apply_control",
    "capacity",
    "critical_capacity",
    "default_jumps",
    "fit_transition",
    "is_linearly_separable",
    "search_critical_n",
    "separable_fraction",
    "zscore_neurons",
]
