r"""Mean-field-theory geometry of a set of object manifolds given as arrays.

:func:`manifold_geometry` runs the whole pipeline of ``docs/geometry.md`` on an
``(n_neurons, n_samples, n_objects)`` array or a list of ``(n_neurons, n_samples_μ)`` arrays:
global centring, removal of the common centre subspace (:mod:`.centres`), per-object frames,
anchor points (:mod:`.anchors`), per-object quantities and layer aggregates.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...errors import OptionError
from ..controls import zscore_neurons
from ..manipulations import preserve_correlations, select_objects, select_samples
from ..theory import ball_capacity, inverse_gardner
from ..heap import reused_heap
from ..threads import blas_limits, check_jobs
from .anchors import ANCHOR_STATISTICS, SOLVER_STATUS, anchor_statistics, solve_anchor_points
from .centres import CentreRankResult, optimal_centre_rank
from .frames import CHOLESKY_MIN_POINTS, cholesky_frame
from .lowrank import OVERSAMPLING, low_rank_frame
from .options import HEADLINE, GeometryOptions
from .inputs import as_manifolds, object_means, padded, shuffle_samples, validated_with_means
from .parallel import run_chunks

__all__ = ["ManifoldGeometryResult", "manifold_geometry"]

CHUNK_ELEMENTS = 2**22
"""Objects are processed in chunks of at most this many Gaussian-draw × sample elements
(``n_t × m`` summed over the chunk's objects; at least one object): a chunk's frames, draws
and anchor points are held at once, and chunks are the unit of work of ``jobs``."""


def objects_per_chunk(n_objects: int, n_t: int, n_samples: int) -> int:
    """Objects in a chunk of manifolds of up to ``n_samples`` samples with ``n_t`` draws each
    (:data:`CHUNK_ELEMENTS`; at least one, at most ``n_objects``)."""
    return max(1, min(n_objects, CHUNK_ELEMENTS // max(1, n_t * n_samples)))


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
    object_reason : ndarray of str, shape (n_objects,)
        Why an object's quantities are NaN ("" where they are defined).
    reasons : dict of str to str
        Layer aggregate → why it is NaN or not to be trusted.
    status : str
        ``"ok"``; ``"undefined"`` (some aggregate is NaN, see ``reasons``) or
        ``"unreliable"`` (the common centre structure could not be removed, or most
        anchor-point solves failed).
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
    object_reason: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))
    reasons: dict[str, str] = field(default_factory=dict)
    status: str = "ok"

    @property
    def n_common(self) -> int:
        """K, the number of common centre directions removed."""
        return self.centres.n_common


def _frame(A: np.ndarray, B: np.ndarray, basis: np.ndarray, centre_norm: float, size: float = 0.0, cholesky: bool = False, gram: bool = False):
    """Orthonormal-frame coordinates of a centred manifold with the common subspace removed.

    A: (N, m) centred points; B = basisᵀA (K, m); ``size`` the largest norm of the samples
    before centring (directions whose spread is within their rounding, 64 ε · size, are not
    dimensions). Returns (Y (D, m) / ‖c‖, eigenvalues of the centred scatter matrix (all,
    descending, unnormalised)). With ``cholesky`` (and N ≥ m) the frame is the pivoted-Cholesky
    one of :mod:`.frames` and the second value is (Σλ, Σλ²) instead of the eigenvalues; with
    ``gram`` as well, a third value is the frame's Gram matrix YᵀY from that factorisation
    (:func:`.frames.cholesky_frame`; None for other frames).
    """
    N, m = A.shape
    floor = (64 * np.finfo(np.float64).eps * size) ** 2 * m
    if N >= m:
        G = A.T @ A  # its trace is the spread ‖A‖²_F
        if float(np.einsum("ij,ij->", B, B)) > 0.5 * float(np.trace(G)):
            # most of the spread lies in the removed subspace: no cancellation
            del G
            Ap = A - basis @ B
            G = Ap.T @ Ap
            del Ap
        else:
            G -= B.T @ B
        if cholesky:
            return cholesky_frame(G, N, size, centre_norm, gram=gram)
        lam, W = np.linalg.eigh(G)
        lam, W = lam[::-1], W[:, ::-1]
        keep = (lam > max(lam[0], 0.0) * 1e-12 * max(N, m)) & (lam > floor)
        Y = (W[:, keep] * np.sqrt(lam[keep])).T
    else:
        Ap = A - basis @ B
        G = Ap @ Ap.T
        lam, U = np.linalg.eigh(G)
        lam, U = lam[::-1], U[:, ::-1]
        keep = (lam > max(lam[0], 0.0) * 1e-12 * max(N, m)) & (lam > floor)
        Y = U[:, keep].T @ Ap
    lam = np.clip(lam, 0.0, None)
    return (Y / centre_norm, lam, None) if gram else (Y / centre_norm, lam)


def manifold_geometry(
    points,
    options: GeometryOptions | Mapping[str, Any] | None = None,
    *,
    rng=None,
    blas_threads: int | None = 1,
    progress: Callable[[int, int], None] | None = None,
    frame_rank: int | None = None,
    frame: str = "auto",
    reuse_memory: bool = True,
    jobs: int = 1,
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
        ``max_iter``, ``xtol``, ``gtol``, ``ftol`` for the optimiser, ``probe_factor`` for the
        rank search (see :func:`optimal_centre_rank`).
    blas_threads : int or None, default 1
        BLAS threads during the computation (small matrix products are far faster on one
        thread, ``docs/geometry.md#geometry-performance``); None leaves the setting alone.
    progress : callable, optional
        ``progress(done, total)`` is called as objects are finished.
    frame_rank : int, optional
        **Approximation, off by default**: keep only each manifold's top ``frame_rank``
        principal directions, found by a randomized range finder (:mod:`.lowrank`), instead of
        its exact frame — for manifolds of thousands of samples, where the exact frame costs
        ``N m² + 9 m³`` operations per object. Manifolds with at most ``frame_rank + 16``
        samples keep their exact frame.
    frame : {"auto", "eigen", "cholesky"}, default "auto"
        Basis of the exact frames (``docs/geometry.md#geometry-performance``): ``"eigen"`` the
        eigenbasis of each manifold's Gram matrix (``9 m³`` operations); ``"cholesky"`` the
        basis of a pivoted Cholesky factorisation of it (:mod:`.frames`, same retained-spread
        threshold, 10–20× faster at m = 3201; other basis, so other draws: values change within
        their Monte-Carlo spread); ``"auto"`` the Cholesky frame for manifolds with
        ``min(N, m) ≥ 2048`` (:data:`.frames.CHOLESKY_MIN_POINTS`) and ``N ≥ m``, the eigenbasis
        otherwise. Manifolds with fewer neurons than samples always keep the eigenbasis.
    reuse_memory : bool, default True
        Keep freed memory in the process during the computation, so that each object's large
        temporaries reuse the previous object's pages instead of faulting in new ones (glibc
        only; the free memory is returned to the system at the end, and glibc's thresholds
        are left at fixed values: ``docs/geometry.md#geometry-performance``); the values do
        not depend on it.
    jobs : int, default 1
        Worker processes (forked; one BLAS thread each) over which chunks of objects are
        spread (:mod:`.parallel`); the Gaussian draws are still made in object order, so the
        results are identical whatever ``jobs``. Worth it for large manifolds (2-d sets of
        thousands of samples), where each object costs seconds; with a single chunk of objects
        (small manifolds) or no ``fork`` (Windows) everything runs in this process.

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
    mans, top, whole, means = validated_with_means(points)
    rng = np.random.default_rng(rng)
    rng_centres, rng_draws = rng.spawn(2)
    if frame_rank is not None:
        if isinstance(frame_rank, bool) or not isinstance(frame_rank, (int, np.integer)) or frame_rank < 1:
            raise OptionError(f"frame_rank must be an integer >= 1 or None; got {frame_rank!r}")
        # its own stream, spawned only when asked for: the default results are unchanged
        opts_lowrank = (int(frame_rank), rng.spawn(1)[0])
    else:
        opts_lowrank = None
    if frame not in ("auto", "eigen", "cholesky"):
        raise OptionError(f"frame must be 'auto', 'eigen' or 'cholesky'; got {frame!r}")
    if not isinstance(reuse_memory, (bool, np.bool_)):
        raise OptionError(f"reuse_memory must be True or False; got {reuse_memory!r}")
    jobs = check_jobs(jobs)
    t_start = time.perf_counter()
    limits = blas_limits(blas_threads, user_api="blas") if blas_threads else None
    try:
        with reused_heap(bool(reuse_memory)):  # (np.bool_ → bool)
            result = _manifold_geometry(mans, top, opts, rng, rng_centres, rng_draws, progress, opts_lowrank, frame, jobs, whole, means)
    finally:
        if limits is not None:
            limits.restore_original_limits()
    result.wall_time = time.perf_counter() - t_start
    return result


def _origin(mans: list[np.ndarray], method: str, means: list[np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Object centres (N, P) and the global origin of the method (``means``: the objects'
    float64 means, when the caller has them already)."""
    counts = np.array([x.shape[1] for x in mans])
    if means is None:
        means = [x.mean(axis=1, dtype=np.float64) for x in mans]
    centres = np.stack(means, axis=1)  # (N, P)
    if method == "smooth":
        origin = centres.mean(axis=1)
    else:
        origin = (centres * counts).sum(axis=1) / counts.sum()
    return centres, origin


def _manifold_geometry(mans, top: float, opts: GeometryOptions, rng, rng_centres, rng_draws, progress, lowrank=None, frame="eigen", jobs=1, whole=None, means=None) -> ManifoldGeometryResult:
    """Selections and controls, the common centre structure, then the per-object geometry
    (once, or per random neuron subset); ``top`` is the largest ``|x|`` of ``mans``, ``whole``
    and ``means`` as :func:`.inputs.validated_with_means` gives them."""
    method = opts.method
    if opts.n_objects is not None or opts.samples_jump != 1 or opts.zscore:
        x = select_samples(select_objects(padded(mans), opts.n_objects), opts.samples_jump)
        if opts.zscore:
            x = zscore_neurons(x, overwrite=x.flags.c_contiguous)  # x: this function's own copy
        mans, top, whole, means = validated_with_means(x)
    # data far outside float64's comfortable range are rescaled by a power of two (exact;
    # every result but the centre norms is scale-free, and those are scaled back)
    centres = object_means(mans, whole) if means is None else means
    unit = 1.0
    if top > 0 and not 2.0**-100 <= top <= 2.0**100:
        unit = math.ldexp(1.0, math.frexp(top)[1] - 1)
        mans = [np.asarray(x, dtype=np.float64) / unit for x in mans]
        centres = None
    centres, origin = _origin(mans, method, centres)
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
            mans = shuffle_samples(mans, rng_changes)
        if opts.manipulates:
            mans = as_manifolds(
                preserve_correlations(
                    padded(mans),
                    basis,
                    centre_scale=opts.centre_scale,
                    dimension=opts.clip_dimension,
                    permute_axes=opts.permute_axes,
                    rng=rng_changes,
                )
            )
        centres, origin = _origin(mans, method)
    if opts.n_neurons is None:
        return _object_geometry(mans, centres, origin, basis, cres, opts, rng_draws, progress, unit, lowrank, frame, jobs)
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
        parts.append(_object_geometry(sub, c_sub, o_sub, empty, cres, opts, rng_draws.spawn(1)[0], report, unit, lowrank, frame, jobs))
    return _combine_subsets(parts, cres, N)


def _combine_subsets(parts: list[ManifoldGeometryResult], cres: CentreRankResult, n_neurons: int) -> ManifoldGeometryResult:
    """Per-object values and layer aggregates averaged over neuron subsets (their spread kept)."""
    objects = {k: np.mean([p.objects[k] for p in parts], axis=0) for k in parts[0].objects}
    layer = {k: float(np.mean([p.layer[k] for p in parts])) for k in parts[0].layer}
    per_subset = {k: np.array([p.layer[k] for p in parts]) for k in parts[0].layer}
    counts = {k: int(sum(p.solver_counts[k] for p in parts)) for k in parts[0].solver_counts}
    first = parts[0]
    reasons: dict[str, str] = {}
    for part in parts:
        for name, why in part.reasons.items():
            reasons.setdefault(name, why)
    object_reason = np.array(
        [next((p.object_reason[i] for p in parts if p.object_reason[i]), "") for i in range(len(first.object_reason))],
        dtype=object,
    )
    rank = {"ok": 0, "undefined": 1, "unreliable": 2}
    status = max((p.status for p in parts), key=lambda st: rank.get(st, 3))
    return ManifoldGeometryResult(
        method=first.method,
        n_t=first.n_t,
        kappa=first.kappa,
        objects=objects,
        layer=layer,
        centres=first.centres,
        solver_counts=counts,
        n_neurons=n_neurons,
        layer_per_subset=per_subset,
        subset_size=first.n_neurons,
        object_reason=object_reason,
        reasons=reasons,
        status=status,
    )


def _object_geometry(
    mans, centres, origin, basis, cres, opts: GeometryOptions, rng_draws, progress, unit: float = 1.0, lowrank=None, frame="eigen", jobs=1
) -> ManifoldGeometryResult:
    method, n_t, kappa = opts.method, opts.draws, opts.kappa
    P = len(mans)
    N = mans[0].shape[0]
    counts = np.array([x.shape[1] for x in mans])
    rel = centres - origin[:, None]
    resid = rel - basis @ (basis.T @ rel)  # residual centres, from themselves (no cancellation)
    cnorm = _norms(resid)
    # a residual centre within rounding of the centres it came from is undefined (identical
    # manifolds, or a centre that the common subspace takes out entirely)
    floor = 64 * np.finfo(np.float64).eps * (_norms(centres) + _norms(origin[:, None])[0])
    undefined = ~(cnorm > floor)
    why: dict[int, str] = {}
    for mu in np.flatnonzero(undefined):
        why[int(mu)] = (
            "its centre coincides with the global centre after removing the common subspace "
            "(identical manifolds?): geometry relative to the centre is undefined"
        )
    # objects are processed chunk by chunk (frames, draws, anchor points, statistics), so
    # that only one chunk's (D × m) frames and (n_t × D) draws and anchors are held at once
    # (a 2-d manifold of 3201 samples in 4096 neurons has a 3200 × 3201 frame); the draws
    # are made in object order, as if all were drawn first
    spectra = [np.zeros(0) for _ in range(P)]
    frame_dim = np.full(P, -1)
    defined = [mu for mu in range(P) if not undefined[mu]]
    blank = {key: np.nan for key in ANCHOR_STATISTICS}
    stats = [blank] * P
    solver_counts = {name: 0 for name in SOLVER_STATUS}
    if defined:
        widest = max(mans[mu].shape[1] for mu in defined)
        chunk = objects_per_chunk(len(defined), n_t, widest)
        parts = [defined[start : start + chunk] for start in range(0, len(defined), chunk)]

        def prepare(c: int):
            frames, spectra_c, grams = [], [], []
            for mu in parts[c]:
                x = mans[mu]
                if x.dtype != np.float64 and x.strides[0] < x.strides[1]:
                    # samples contiguous (Fortran order): there numpy's buffered float32 →
                    # float64 reduction below sums in another order than on a float64 copy
                    x = np.asarray(x, dtype=np.float64)
                elif not x.flags.c_contiguous and x.strides[0] >= x.strides[1]:
                    # an object of an (N, M, P) array is strided, one value per cache line:
                    # gathered once (in its own precision), the two passes below run at
                    # memory speed instead of reading the whole array each (same values)
                    x = np.ascontiguousarray(x)
                # largest sample norm (a floor for rounding): one pass, no temporaries, in
                # float64 whatever the input's precision; the data are within 2^±100 here
                # (rescaled above), so the squares cannot overflow
                size = float(np.sqrt(np.einsum("ij,ij->j", x, x, dtype=np.float64).max()))
                # centred in float64 (float32 input converted exactly on the way)
                A = np.subtract(x, centres[:, mu : mu + 1], dtype=np.float64)
                B = basis.T @ A
                YtY = None
                if lowrank is not None and min(A.shape) > lowrank[0] + OVERSAMPLING:
                    Y, lam = low_rank_frame(A, B, basis, cnorm[mu], size, *lowrank)
                else:
                    big = frame == "cholesky" or (frame == "auto" and min(A.shape) >= CHOLESKY_MIN_POINTS)
                    # the Cholesky frames' Gram matrices come from the factorisation (cheaper
                    # than forming YᵀY for the anchor problems)
                    Y, lam, YtY = _frame(A, B, basis, cnorm[mu], size, cholesky=big, gram=True)
                del x, A, B
                frames.append(Y)
                spectra_c.append(lam)
                grams.append(YtY)
            return frames, spectra_c, grams

        def draw(c: int, state, generator):
            return [generator.standard_normal((n_t, Y.shape[0] + 1)) for Y in state[0]]

        def finish(c: int, state, draws):
            frames, spectra_c, grams = state
            solved = solve_anchor_points(frames, draws, kappa, grams=grams)
            dims = [Y.shape[0] for Y in frames]
            frames.clear()  # freed before the statistics, as they are no longer needed
            grams.clear()
            draws.clear()
            out = []
            for dim, lam, a in zip(dims, spectra_c, solved):
                counts = [int(np.sum(a.status == i)) for i in range(len(SOLVER_STATUS))]
                out.append((dim, lam, anchor_statistics(a, kappa, inverse_gardner), counts))
            return out

        done = 0
        for c, out in run_chunks(len(parts), prepare, draw, finish, rng_draws, jobs):
            for mu, (dim, lam, st, cnt) in zip(parts[c], out):
                spectra[mu] = lam
                frame_dim[mu] = dim
                stats[mu] = st
                for name, k in zip(SOLVER_STATUS, cnt):
                    solver_counts[name] += k
            done += len(parts[c])
            if progress is not None:
                progress(done, len(defined))
    elif progress is not None:
        progress(P, P)

    objects = {key: np.array([s[key] for s in stats], dtype=float) for key in ANCHOR_STATISTICS}
    cap_key, dim_key = HEADLINE[method]
    with np.errstate(invalid="ignore"):
        objects["capacity_ball"] = np.asarray(
            ball_capacity(
                np.nan_to_num(objects["anchor_radius"]), np.nan_to_num(objects[dim_key]), kappa
            ),
            dtype=float,
        ).reshape(P)
    objects["capacity_ball"][undefined] = np.nan
    # (Σλ/m, Σλ²/m²) from the eigenvalues, or from (tr G, ‖G‖²_F) of a Cholesky frame
    lam_m = [lam / m if isinstance(lam, np.ndarray) else None for lam, m in zip(spectra, counts)]
    s1 = np.array([lm.sum() if lm is not None else lam[0] / m for lm, lam, m in zip(lam_m, spectra, counts)])
    s2 = np.array([(lm**2).sum() if lm is not None else lam[1] / m**2 for lm, lam, m in zip(lam_m, spectra, counts)])
    with np.errstate(divide="ignore", invalid="ignore"):
        objects["participation_ratio"] = s1**2 / s2
        objects["spectral_radius"] = np.sqrt(s1) / cnorm
        objects["spectral_radius_original"] = np.sqrt(s2) / cnorm**2
    objects["centre_norm"] = np.where(undefined, np.nan, cnorm) * unit
    objects["frame_dimension"] = np.where(frame_dim < 0, np.nan, frame_dim).astype(float)
    for name in ("participation_ratio", "spectral_radius", "spectral_radius_original"):
        objects[name][undefined] = np.nan
    objects["n_valid_samples"] = counts.astype(float)
    objects["object_capacity"] = objects[cap_key].copy()
    objects["object_dimension"] = objects[dim_key].copy()
    for mu in range(P):
        if mu in why or not np.isnan(objects["object_dimension"][mu]):
            continue
        if frame_dim[mu] == 0:
            what = "one valid sample" if counts[mu] == 1 else "samples that coincide within rounding"
            why[mu] = f"{what} (a point): no extent, so its dimensions are undefined"
        else:
            why[mu] = "every anchor point coincides with the centre: no extent, dimension undefined"

    def harmonic(x):
        with np.errstate(divide="ignore"):
            return float(1.0 / np.mean(1.0 / x))

    with np.errstate(invalid="ignore"):
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
    object_reason = np.array([why.get(mu, "") for mu in range(P)], dtype=object)
    reasons, result_status = _layer_reasons(objects, layer, object_reason, solver_counts, cres)
    if unit != 1.0:
        cres = dataclasses.replace(cres, residual_norms=cres.residual_norms * unit)
    return ManifoldGeometryResult(
        method=method,
        n_t=n_t,
        kappa=kappa,
        objects=objects,
        layer=layer,
        centres=cres,
        solver_counts=solver_counts,
        n_neurons=N,
        object_reason=object_reason,
        reasons=reasons,
        status=result_status,
    )


def _norms(a: np.ndarray) -> np.ndarray:
    """Column 2-norms without overflow or underflow."""
    top = np.abs(a).max(axis=0) if a.size else np.zeros(a.shape[1])
    safe = np.where(top > 0, top, 1.0)
    return top * np.sqrt(np.sum((a / safe) ** 2, axis=0))


LAYER_MEANS = {
    "capacity": "object_capacity",
    "capacity_arithmetic_mean": "object_capacity",
    "capacity_direct_harmonic": "capacity_direct",
    "capacity_semianalytic_harmonic": "capacity_semianalytic",
    "capacity_ball_harmonic": "capacity_ball",
    "radius": "anchor_radius",
    "dimension": "object_dimension",
}
"""Layer aggregate → the per-object variable it averages."""

UNRELIABLE_CORRELATION = 0.99
"""Residual centre correlation above which the removal of the common centre structure is
deemed to have failed (every result relative to the centres is then flagged)."""


def _layer_reasons(objects, layer, object_reason, solver_counts, cres) -> tuple[dict[str, str], str]:
    """Why each NaN (or untrustworthy) layer aggregate is so, and the session's status."""
    reasons: dict[str, str] = {}
    for name, source in LAYER_MEANS.items():
        if not np.isnan(layer[name]):
            continue
        bad = np.flatnonzero(np.isnan(objects[source]))
        told = sorted({object_reason[i] for i in bad if object_reason[i]})
        what = f"{source} is NaN for object(s) {bad.tolist()[:10]}"
        reasons[name] = what + (": " + "; ".join(told) if told else "")
    if np.isnan(layer["centre_correlation"]):
        reasons["centre_correlation"] = "centre correlations undefined: the object centres coincide"
    if np.isnan(layer["residual_centre_correlation"]):
        reasons["residual_centre_correlation"] = (
            "residual centre correlations undefined: a residual centre vanishes"
        )
    status = "ok"
    if reasons:
        status = "undefined"
    if layer["residual_centre_correlation"] > UNRELIABLE_CORRELATION:
        status = "unreliable"
        why = (
            f"the centres stay almost perfectly correlated after removing K = {cres.n_common} "
            f"common direction(s) (mean |rho| = {layer['residual_centre_correlation']:.3f}): "
            "the removal failed or the centres share one dominant direction; results relative "
            "to the centres are not reliable"
        )
        for name in ("capacity", "radius", "dimension", "residual_centre_correlation"):
            reasons.setdefault(name, why)
    failed = solver_counts.get("failed", 0)
    total = sum(solver_counts.values())
    if total and failed * 2 > total:
        status = "unreliable"
        for name in LAYER_MEANS:
            reasons.setdefault(name, f"{failed} of {total} anchor-point solves failed (left out)")
    return reasons, status

