r"""Mean-field-theory (MFT) geometry of object manifolds: capacity α_M, radius R_M, dimension D_M.

This package re-implements the geometry side of Cohen, Chung, Lee & Sompolinsky (Nat. Commun.
2020) (``docs/geometry.md#geometry-pipeline``): for each object manifold the anchor points of the replica
mean-field theory, the manifold capacity, radius and dimension, after removing the optimal
common low-rank structure of the object centres.

Package layout
--------------
* :mod:`.options` — :class:`GeometryOptions`, the methods and their defaults;
* :mod:`.api` — :func:`geometry` on the sessions of a manifold dataset;
* :mod:`.mft` — :func:`manifold_geometry` on arrays (the pipeline below);
* :mod:`.centres` — the common centre subspace (:func:`optimal_centre_rank`); :mod:`.stiefel`
  — the Stiefel-manifold optimiser; :mod:`.anchors` — the anchor points; :mod:`.frames` — the
  pivoted-Cholesky frames of large manifolds;
* :mod:`.results` — the xarray form of one session's result.

The closed forms α₀(κ) and α_B(κ, R, D) are in :mod:`dnn_manifolds.analysis.theory`.

Pipeline (:func:`manifold_geometry` on arrays, :func:`geometry` on a manifold dataset)
--------------------------------------------------------------------------------------
1. **Global centring.** ``smooth``: subtract the mean of the object centres (every object
   weighs the same, ``docs/geometry.md#geometry-global-centring`` step 3); ``point_cloud``: subtract the mean of all
   samples pooled (``docs/geometry.md#geometry-methods`` step 1). Identical when all objects have the same number of samples.
2. **Centre correlations** (:func:`optimal_centre_rank`, ``docs/geometry.md#geometry-centres``): the rank-k subspace minimising
   the squared correlation coefficients of the residual centres, found on the Stiefel manifold
   (Wen–Yin Cayley/BB method, 10 starts in lockstep, the most "stable" start kept); K chosen by
   the mean |ρ| rule. ``smooth``: k = 0, 1, … with K = 0 allowed, k ≤ min(⌈P/2⌉, 46), stop
   when k > K+3. ``point_cloud``: k = 1…(#components below 95 % variance + 10), stop after
   three consecutive increases once k > 4, K ≥ 1.
3. **Per-object frames.** The common subspace is projected out; each manifold is centred on its
   projected centre c, divided by ‖c‖ and written in its own orthonormal frame from its small
   ``M × M`` Gram matrix (never an ``N × N`` matrix): points ``s_j = (y_j, 1)`` in D+1
   dimensions, ``D`` = rank of the centred manifold.
4. **Anchor points** (``docs/geometry.md#geometry-theory``): ``n_t`` Gaussian draws ``T = (t, t₀)`` per object;
   the constrained least squares for each draw solved exactly as a non-negative least squares
   on the dual, batched (see :mod:`.anchors`).
5. **Per-object quantities** (both methods compute all of them; the method only decides the
   headline): ``capacity_direct`` = 1/⟨Δ⟩; ``capacity_semianalytic`` = the original's
   ``alphac_hat`` = 1/⟨1/(α₀(t·δs+κ)(1+‖δs‖²))⟩; ``capacity_ball`` = α_B(κ, R_M, D_M);
   ``anchor_radius`` R_M = √⟨‖δs‖²⟩ (δs = anchor − mean anchor); ``anchor_dimension`` =
   ⟨(t·δs)²/‖δs‖²⟩ (``effective_dimension``); ``dimension_cosine`` = D⟨t·δs/(‖T‖‖δs‖)⟩²
   (``effective_dimension2``); ``dimension_point_cloud`` = D⟨t̂·ŝ⟩² with uncentred anchors
   (the point-cloud code's D_M); half-widths; the "Gaussian" (argmax-anchor) R, D and half-width;
   the fraction of interior draws; the spectral (participation-ratio) measures.

Headlines (decision, ``docs/geometry.md#geometry-methods``)
--------------------------------------------------
* ``smooth``: per-object capacity ``object_capacity`` = ``capacity_semianalytic`` (what the
  original's ``docs/geometry.md#geometry-object-quantities`` pipeline saves); dimension ``object_dimension`` = ``anchor_dimension``
  (the README's D_M, ``effective_dimension``).
* ``point_cloud``: ``object_capacity`` = ``capacity_direct`` (what ``docs/geometry.md#geometry-methods`` and its Python port
  return); ``object_dimension`` = ``dimension_point_cloud``.

The layer's α_M (``capacity``) is the **harmonic** mean over objects, α_M⁻¹ = mean_μ α_μ⁻¹, as
the theory requires and the generic MATLAB driver stores. The convnet driver that produced the
paper's figures stored the *arithmetic* mean by accident (MATLAB ``squeeze``, ``docs/geometry.md#geometry-aggregates``); it is kept
as ``capacity_arithmetic_mean``. R_M and D_M of the layer are arithmetic means over objects.

Deliberate differences from the original (``docs/differences.md#differences-overview``)
--------------------------------------------------------------
* The constrained least squares is solved exactly (NNLS on the dual, for every κ via the shift
  t₀ → t₀+κ), not to the cutting-plane tolerance 0.05/‖c‖ (``docs/geometry.md#geometry-anchors``).
* ``docs/differences.md#differences-geometry-centre``: each manifold is embedded as (centred coordinates, 1): the centre is treated as
  orthogonal to the manifold's own span in both methods ("assuming no centre–axis
  correlation", the stated assumption of ``calc_manifold_properties2``). The original's v2 kept
  the in-span part of the centre in the manifold coordinates *and* the full ‖c‖ in the centre
  coordinate, counting it twice. The frame has the manifold's exact rank, so rank-deficient
  manifolds and N < M are handled (``docs/geometry.md#geometry-reference-values`` warning, ``docs/differences.md#differences-geometry-missing-samples``); the D-clipping to min(N, M) of ``docs/geometry.md#geometry-frames`` is
  then a no-op and is not applied.
* The point-cloud code's economy QR gives D = M coordinates for N > M although the centred
  manifold has rank M − 1 (one coordinate is empty); here D is the rank, directions whose
  eigenvalue is below 1e-12·max(N, M) of the largest are dropped. Only the prefactor D and ‖t‖
  of ``dimension_point_cloud``/``dimension_cosine`` see the difference, and they compensate to
  first order (the reference values of the point-cloud port are reproduced, ``bench/``).
* Missing samples (NaN columns) are dropped per object (``docs/differences.md#differences-geometry-missing-samples``: the original crashed).
* κ enters with one sign everywhere: the constraint is ``s·V ≤ −κ``, so κ > 0 is a positive
  margin and lowers the capacity (``docs/differences.md#differences-geometry-kappa``); α_B uses the given κ, not 0.
* Small P: k never reaches the dimension of the centres (the residual must keep at least one
  dimension), so P = 2, 3, 5 work; with P = 2 the ``point_cloud`` rule "K ≥ 1" cannot hold and
  K = 0 is used.
* R_M, D_M of the layer are means over objects (the README read-out averaged over the neuron
  subset axis, ``docs/differences.md#differences-geometry-layer-means``); the neuron-subset resampling of the original is not implemented.
* Randomness is explicit (``rng``/``seed``) and recorded (``docs/differences.md#differences-randomness``).
"""

from __future__ import annotations

from ..theory import ball_capacity, gardner_capacity
from .api import geometry
from .centres import CentreRankResult, optimal_centre_rank
from .mft import ManifoldGeometryResult, manifold_geometry
from .options import DEFAULT_N_T, HEADLINE, METHODS, STIEFEL_DEFAULTS, GeometryOptions
from .results import LAYER_VARIABLES, OBJECT_VARIABLES

__all__ = [
    "DEFAULT_N_T",
    "HEADLINE",
    "LAYER_VARIABLES",
    "METHODS",
    "OBJECT_VARIABLES",
    "STIEFEL_DEFAULTS",
    "CentreRankResult",
    "GeometryOptions",
    "ManifoldGeometryResult",
    "ball_capacity",
    "gardner_capacity",
    "geometry",
    "manifold_geometry",
    "optimal_centre_rank",
]
