r"""Mean-field-theory geometry of a set of object manifolds given as arrays.

:func:`manifold_geometry` runs the whole pipeline of ``docs/geometry.md`` on an
``(n_neurons, n_samples, n_objects)`` array or a list of ``(n_neurons, n_samples_μ)`` arrays:
global centring, removal of the common centre subspace (:mod:`.centres`), per-object frames,
anchor points (:mod:`.anchors`), per-object quantities and layer aggregates.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from ...errors import OptionError, UserError
from ...validation import ArgumentTypeError
from ..controls import zscore_neurons
from ..manipulations import preserve_correlations, select_objects, select_samples
from ..theory import ball_capacity, inverse_gardner
from .anchors import SOLVER_STATUS, anchor_statistics, solve_anchor_points
from .centres import CentreRankResult, optimal_centre_rank
from .options import HEADLINE, GeometryOptions

__all__ = ["ManifoldGeometryResult", "manifold_geometry"]


@dataclass
class ManifoldGeometryResult:
    """Result of :func:`manifold_geometry`.

    Attributes
    ----------
    method : str
    n_t : int
    kappa : float
    objects : dict of str to ndarray of shape (n_objects,)
        Per-object quantities (the per-object variables of :mod:`dnn_manifolds.analysis.variables`, plus ``object_capacity`` and
        ``object_dimension``, the method's headline).
    layer : dict of str to float
        Aggregates: ``capacity`` (harmonic mean of ``object_capacity``),
        ``capacity_arithmetic_mean``, ``capacity_direct_harmonic``,
        ``capacity_semianalytic_harmonic``, ``capacity_ball_harmonic``, ``radius`` and
        ``dimension`` (arithmetic means of ``anchor_radius`` and ``object_dimension``),
        ``centre_correlation`` (mean |ρ| before removal), ``residual_centre_correlation``.
    centres : CentreRankResult
    solver_counts : dict of str to int
        Gaussian draws per solver status (:data:`.anchors.SOLVER_STATUS`).
    n_neurons : int
        Non-silent neurons of the data.
    wall_time : float
        Seconds.
    layer_per_subset : dict of str to ndarray of shape (n_subsets,), optional
        With ``n_neurons``: each layer aggregate per random neuron subset (``layer`` holds their
        means, ``objects`` the per-object means over subsets).
    subset_size : int, optional
        Neurons per subset.
    """

    method: str
    n_t: int
    kappa: float
    objects: dict[str, np.ndarray]
    layer: dict[str, float]
    centres: CentreRankResult
    solver_counts: dict[str, int]
    n_neurons: int
    wall_time: float = field(default=0.0)
    layer_per_subset: dict[str, np.ndarray] | None = field(default=None, repr=False)
    subset_size: int | None = None

    @property
    def n_common(self) -> int:
        """K, the number of common centre directions removed."""
        return self.centres.n_common


def _as_manifolds(points) -> list[np.ndarray]:
    """Validate the input and return one (n_neurons, n_valid_samples) float64 array per object."""
    if isinstance(points, np.ndarray) or not isinstance(points, Sequence):
        arr = np.asarray(points)
        if arr.ndim != 3:
            raise UserError(
                "points must be 3-D (n_neurons, n_samples, n_objects) or a sequence of 2-D "
                f"(n_neurons, n_samples_i) arrays; got shape {arr.shape}"
            )
        if arr.dtype.kind not in "biuf":
            raise ArgumentTypeError(f"points must be numeric; got dtype {arr.dtype}")
        mans = [arr[:, :, p] for p in range(arr.shape[2])]
    else:
        mans = [np.asarray(x) for x in points]
        for i, x in enumerate(mans):
            if x.ndim != 2:
                raise UserError(
                    f"points[{i}] must be 2-D (n_neurons, n_samples); got shape {x.shape}"
                )
            if x.dtype.kind not in "biuf":
                raise ArgumentTypeError(f"points[{i}] must be numeric; got dtype {x.dtype}")
        if len({x.shape[0] for x in mans}) > 1:
            raise UserError(
                f"all manifolds need the same n_neurons; got {sorted({x.shape[0] for x in mans})}"
            )
    if len(mans) < 2:
        raise UserError(f"points needs at least 2 objects; got {len(mans)}")
    out = []
    for i, x in enumerate(mans):
        x = np.asarray(x, dtype=np.float64)
        if np.isinf(x).any():
            raise UserError(f"object {i}: points contain infinite values")
        nan = np.isnan(x)
        if nan.any():
            col = nan.all(axis=0)
            if (nan & ~col[None, :]).any():
                raise UserError(
                    f"object {i}: NaN may only mark whole missing samples (all neurons NaN)"
                )
            x = x[:, ~col]
        if x.shape[1] < 1:
            raise UserError(f"object {i} has no valid sample")
        out.append(x)
    if out[0].shape[0] < 1:
        raise UserError("points have no neurons")
    return out


def _frame(A: np.ndarray, B: np.ndarray, basis: np.ndarray, centre_norm: float):
    """Orthonormal-frame coordinates of a centred manifold with the common subspace removed.

    A: (N, m) centred points; B = basisᵀA (K, m). Returns (Y (D, m) / ‖c‖, eigenvalues of the
    centred scatter matrix (all, descending, unnormalised)).
    """
    N, m = A.shape
    if N >= m:
        G = A.T @ A - B.T @ B
        lam, W = np.linalg.eigh(G)
        lam, W = lam[::-1], W[:, ::-1]
        keep = lam > max(lam[0], 0.0) * 1e-12 * max(N, m)
        Y = (W[:, keep] * np.sqrt(lam[keep])).T
    else:
        Ap = A - basis @ B
        G = Ap @ Ap.T
        lam, U = np.linalg.eigh(G)
        lam, U = lam[::-1], U[:, ::-1]
        keep = lam > max(lam[0], 0.0) * 1e-12 * max(N, m)
        Y = U[:, keep].T @ Ap
    lam = np.clip(lam, 0.0, None)
    return Y / centre_norm, lam


def manifold_geometry(
    points,
    options: GeometryOptions | Mapping[str, Any] | None = None,
    *,
    rng=None,
    blas_threads: int | None = 1,
    progress: Callable[[int, int], None] | None = None,
    **option_kwargs: Any,
) -> ManifoldGeometryResult:
    r"""Mean-field-theory geometry of a set of object manifolds.

    Parameters
    ----------
    points : ndarray of shape (n_neurons, n_samples, n_objects), or sequence of ndarray
        Responses; a sequence holds one (n_neurons, n_samples_μ) array per object. NaN may mark
        whole missing samples (dropped per object).
    method : {"smooth", "point_cloud"}, default "smooth"
        The original's convnet pipeline for smooth manifolds (``docs/geometry.md#geometry-methods``) or its
        point-cloud analysis (``docs/geometry.md#geometry-methods``). See the module docstring for the differences.
    n_t : int, optional
        Gaussian draws per object; default 1000 (``smooth``) or 200 (``point_cloud``).
    kappa : float, default 0
        Margin κ.
    rng : None, int or numpy.random.Generator
        Randomness (starting points of the optimiser, Gaussian draws), keyword-only.
    n_restarts : int, default 10
        Optimiser starts per rank k (see :func:`optimal_centre_rank`).
    max_k : int, optional
        Largest rank of the common subspace tried (see :func:`optimal_centre_rank`).
    stiefel_options : dict, optional
        ``max_iter``, ``xtol``, ``gtol``, ``ftol`` for the optimiser.
    blas_threads : int or None, default 1
        BLAS threads during the computation (small matrix products are far faster on one
        thread, ``docs/geometry.md#geometry-performance``); None leaves the setting alone.
    progress : callable, optional
        ``progress(done, total)`` is called as objects are finished.

    Returns
    -------
    ManifoldGeometryResult

    Notes
    -----
    Per object μ with valid samples x_j and centre c (after global centring and removal of the
    K common centre directions): points :math:`s_j = ((x_j - c)/\|c\|, 1)` in the manifold's
    own frame; for each draw :math:`T = (t, t_0) \sim N(0, I_{D+1})` the anchor
    :math:`\tilde s(T)` and :math:`\Delta(T) = \min_{V:\,s_j\cdot V\le-\kappa} \|V-T\|^2`;
    then :math:`\alpha_{\rm direct}^{-1} = \langle\Delta\rangle`,
    :math:`R_M^2 = \langle\|\delta s\|^2\rangle`,
    :math:`D_M = \langle (t\cdot\delta s)^2/\|\delta s\|^2\rangle`, etc. For points
    (one sample per object) the semi-analytic capacity is exactly α₀(κ) and R_M = 0.
    """
    opts = GeometryOptions.from_mapping(options, **option_kwargs)
    mans = _as_manifolds(points)
    rng = np.random.default_rng(rng)
    rng_centres, rng_draws = rng.spawn(2)
    t_start = time.perf_counter()
    limits = threadpool_limits(limits=blas_threads, user_api="blas") if blas_threads else None
    try:
        result = _manifold_geometry(mans, opts, rng, rng_centres, rng_draws, progress)
    finally:
        if limits is not None:
            limits.unregister()
    result.wall_time = time.perf_counter() - t_start
    return result


def _padded(mans: list[np.ndarray]) -> np.ndarray:
    """(N, max M, P) array of the manifolds, NaN-padded."""
    m = max(x.shape[1] for x in mans)
    out = np.full((mans[0].shape[0], m, len(mans)), np.nan)
    for p, x in enumerate(mans):
        out[:, : x.shape[1], p] = x
    return out


def _shuffle_samples(mans: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    """Valid samples dealt at random into the objects, each keeping its count."""
    cols = np.concatenate(mans, axis=1)
    cols = cols[:, rng.permutation(cols.shape[1])]
    bounds = np.cumsum([0] + [x.shape[1] for x in mans])
    return [cols[:, bounds[p] : bounds[p + 1]] for p in range(len(mans))]


def _origin(mans: list[np.ndarray], method: str) -> tuple[np.ndarray, np.ndarray]:
    """Object centres (N, P) and the global origin of the method."""
    counts = np.array([x.shape[1] for x in mans])
    centres = np.stack([x.mean(axis=1) for x in mans], axis=1)  # (N, P)
    if method == "smooth":
        origin = centres.mean(axis=1)
    else:
        origin = (centres * counts).sum(axis=1) / counts.sum()
    return centres, origin


def _manifold_geometry(mans, opts: GeometryOptions, rng, rng_centres, rng_draws, progress) -> ManifoldGeometryResult:
    """Selections and controls, the common centre structure, then the per-object geometry
    (once, or per random neuron subset)."""
    method = opts.method
    if opts.n_objects is not None or opts.samples_jump != 1 or opts.zscore:
        x = select_samples(select_objects(_padded(mans), opts.n_objects), opts.samples_jump)
        if opts.zscore:
            x = zscore_neurons(x)
        mans = _as_manifolds(x)
    centres, origin = _origin(mans, method)
    cres = optimal_centre_rank(
        centres,
        method=method,
        rng=rng_centres,
        n_restarts=opts.n_restarts,
        max_k=opts.max_k,
        **(opts.stiefel_options or {}),
    )
    basis = cres.subspace  # (N, K): from the data as given, kept through controls and manipulations
    if opts.control == "shuffle" or opts.manipulates:
        (rng_changes,) = rng.spawn(1)
        if opts.control == "shuffle":
            mans = _shuffle_samples(mans, rng_changes)
        if opts.manipulates:
            mans = _as_manifolds(
                preserve_correlations(
                    _padded(mans),
                    basis,
                    centre_scale=opts.centre_scale,
                    dimension=opts.clip_dimension,
                    permute_axes=opts.permute_axes,
                    rng=rng_changes,
                )
            )
        centres, origin = _origin(mans, method)
    if opts.n_neurons is None:
        return _object_geometry(mans, centres, origin, basis, cres, opts, rng_draws, progress)
    N = mans[0].shape[0]
    if opts.n_neurons > N:
        raise OptionError(f"geometry option 'n_neurons': {opts.n_neurons} asked for, the session has {N} non-silent neurons")
    (rng_subsets,) = rng.spawn(1)
    projected = [x - basis @ (basis.T @ (x - origin[:, None])) for x in mans]  # common subspace removed
    empty = np.zeros((opts.n_neurons, 0))
    parts = []
    for r in range(opts.neuron_repeats):
        idx = np.sort(rng_subsets.choice(N, opts.n_neurons, replace=False))
        sub = [x[idx] for x in projected]
        c_sub, o_sub = _origin(sub, method)
        report = None if progress is None else (lambda d, t, _r=r: progress(_r * t + d, opts.neuron_repeats * t))
        parts.append(_object_geometry(sub, c_sub, o_sub, empty, cres, opts, rng_draws.spawn(1)[0], report))
    return _combine_subsets(parts, cres, N)


def _combine_subsets(parts: list[ManifoldGeometryResult], cres: CentreRankResult, n_neurons: int) -> ManifoldGeometryResult:
    """Per-object values and layer aggregates averaged over neuron subsets (their spread kept)."""
    objects = {k: np.mean([p.objects[k] for p in parts], axis=0) for k in parts[0].objects}
    layer = {k: float(np.mean([p.layer[k] for p in parts])) for k in parts[0].layer}
    per_subset = {k: np.array([p.layer[k] for p in parts]) for k in parts[0].layer}
    counts = {k: int(sum(p.solver_counts[k] for p in parts)) for k in parts[0].solver_counts}
    first = parts[0]
    return ManifoldGeometryResult(
        method=first.method,
        n_t=first.n_t,
        kappa=first.kappa,
        objects=objects,
        layer=layer,
        centres=cres,
        solver_counts=counts,
        n_neurons=n_neurons,
        layer_per_subset=per_subset,
        subset_size=first.n_neurons,
    )


def _object_geometry(mans, centres, origin, basis, cres, opts: GeometryOptions, rng_draws, progress) -> ManifoldGeometryResult:
    method, n_t, kappa = opts.method, opts.draws, opts.kappa
    P = len(mans)
    N = mans[0].shape[0]
    counts = np.array([x.shape[1] for x in mans])
    rel = centres - origin[:, None]
    proj = basis.T @ rel  # (K, P)
    cnorm = np.sqrt(
        np.maximum(np.einsum("np,np->p", rel, rel) - np.einsum("kp,kp->p", proj, proj), 0.0)
    )
    if np.any(cnorm <= 0):
        bad = np.flatnonzero(cnorm <= 0).tolist()
        raise UserError(
            f"object(s) {bad} have a zero centre after global centring and removal of the "
            "common subspace; their geometry relative to the centre is undefined"
        )
    frames, spectra = [], []
    for mu, x in enumerate(mans):
        A = x - centres[:, mu : mu + 1]
        B = basis.T @ A
        Y, lam = _frame(A, B, basis, cnorm[mu])
        frames.append(Y)
        spectra.append(lam)
    draws = [rng_draws.standard_normal((n_t, Y.shape[0] + 1)) for Y in frames]

    anchors = []
    chunk = max(1, min(P, 2**22 // max(1, n_t * max(x.shape[1] for x in mans))))
    for start in range(0, P, chunk):
        anchors.extend(
            solve_anchor_points(frames[start : start + chunk], draws[start : start + chunk], kappa)
        )
        if progress is not None:
            progress(min(P, start + chunk), P)

    stats = [anchor_statistics(a, kappa, inverse_gardner) for a in anchors]
    objects = {key: np.array([s[key] for s in stats]) for key in stats[0]}
    cap_key, dim_key = HEADLINE[method]
    objects["capacity_ball"] = np.asarray(
        ball_capacity(
            np.nan_to_num(objects["anchor_radius"]), np.nan_to_num(objects[dim_key]), kappa
        ),
        dtype=float,
    ).reshape(P)
    lam_m = [lam / m for lam, m in zip(spectra, counts)]
    s1 = np.array([lam.sum() for lam in lam_m])
    s2 = np.array([(lam**2).sum() for lam in lam_m])
    with np.errstate(divide="ignore", invalid="ignore"):
        objects["participation_ratio"] = s1**2 / s2
    objects["spectral_radius"] = np.sqrt(s1) / cnorm
    objects["spectral_radius_original"] = np.sqrt(s2) / cnorm**2
    objects["centre_norm"] = cnorm
    objects["frame_dimension"] = np.array([Y.shape[0] for Y in frames], dtype=float)
    objects["n_valid_samples"] = counts.astype(float)
    objects["object_capacity"] = objects[cap_key].copy()
    objects["object_dimension"] = objects[dim_key].copy()

    def harmonic(x):
        with np.errstate(divide="ignore"):
            return float(1.0 / np.mean(1.0 / x))

    layer = {
        "capacity": harmonic(objects["object_capacity"]),
        "capacity_arithmetic_mean": float(np.mean(objects["object_capacity"])),
        "capacity_direct_harmonic": harmonic(objects["capacity_direct"]),
        "capacity_semianalytic_harmonic": harmonic(objects["capacity_semianalytic"]),
        "capacity_ball_harmonic": harmonic(objects["capacity_ball"]),
        "radius": float(np.mean(objects["anchor_radius"])),
        "dimension": float(np.mean(objects["object_dimension"])),
        "centre_correlation": cres.mean_abs_corrcoef_before,
        "residual_centre_correlation": float(
            cres.mean_abs_corrcoef[list(cres.k).index(cres.n_common)]
        ),
    }
    status = np.concatenate([a.status for a in anchors])
    solver_counts = {name: int(np.sum(status == i)) for i, name in enumerate(SOLVER_STATUS)}
    return ManifoldGeometryResult(
        method=method,
        n_t=n_t,
        kappa=kappa,
        objects=objects,
        layer=layer,
        centres=cres,
        solver_counts=solver_counts,
        n_neurons=N,
    )
