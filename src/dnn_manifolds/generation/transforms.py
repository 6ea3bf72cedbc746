r"""Transforms: the affine warps that trace smooth object manifolds (``docs/generation.md#generation-frames``).

Coordinate frames
-----------------
*World units*: the object spans [−1, 1] in x and y (1 world unit = 24 px). The 144-px
stimulus spans world [−3, 3]; the 64-px output image spans world [−4/3, 4/3]; both have pixel
size 1/24. Pixel centres (0-based column c) sit at ``x = xmin + (c + 0.5)/24``; rows likewise,
y pointing down. A transform is ``x = A u + t`` (column vectors) from input world ``u`` to
output world ``x``, stored as the 2 × 3 matrix ``[A | t]``, i.e. the 6 numbers
``[a11, a12, a13, a21, a22, a23]`` of the original's ``sample_coordinates``. Content moves by
``+t``. The identity returns exactly the central 64 × 64 crop (rows/cols 40..103, 0-based).

Each output pixel centre is inverse-mapped and the input sampled bilinearly with zero fill
(MATLAB ``imwarp`` defaults), done batched with torch ``affine_grid``/``grid_sample``
(:func:`warp_images`) and checked against a direct per-pixel numpy implementation
(:func:`warp_image_reference`).

Manifolds
---------
* 1-d (:data:`TRANSFORMS_1D`): seven one-parameter families, ``n_samples`` (odd) values
  centred on the identity, reaching a corner displacement (:func:`transform_magnitude`) of
  ``sf = range_factor / 24`` world units at the ends (scale: at its upper end).
* 2-d (:data:`TRANSFORMS_2D`): translation (a13, a23) or shear (a12, a21) drawn from an
  isotropic Gaussian with σ = sf / 1.57 truncated to the disc of radius sf.

``range_factor`` is the largest corner displacement in pixels of the 64-px image.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import UserError
from ..validation import ArgumentTypeError
from .stimuli import FRAME_SIZE, IMAGE_SIZE, OBJECT_SIZE

PIXELS_PER_UNIT = OBJECT_SIZE / 2
"""Pixels per world unit (24)."""

TRANSFORMS_1D = (
    "x-translation",
    "y-translation",
    "x-scale",
    "y-scale",
    "x-shear",
    "y-shear",
    "rotation",
)
"""The seven 1-d transforms, in the original's direction order (param_id 1..7)."""

TRANSFORMS_2D = ("translation", "shear")
"""The two 2-d (dof = 2) transforms: (a13, a23) and (a12, a21) random."""

RANGE_FACTORS = (0.125, 0.25, 0.5, 1, 2, 4, 8, 12, 16)
"""The paper's range factors (pixels)."""
SAMPLES_1D = (5, 9, 15, 27, 51, 101, 201, 201, 201)
"""The paper's samples per 1-d manifold, one per range factor."""
SAMPLES_2D = (51, 101, 201, 401, 801, 1601, 3201, 3201, 3201)
"""The paper's samples per 2-d manifold, one per range factor."""

AFFINE_PARAMETERS = ("a11", "a12", "a13", "a21", "a22", "a23")
"""Order of the six stored affine numbers (row-major 2 × 3 matrix [A | t])."""

_SIGMA_DIVISOR_DOF2 = 1.25 * (0.286 * 2 + 0.684)


def scale_factor(range_factor: float) -> float:
    """Largest corner displacement in world units, ``sf = range_factor / 24``.

    Raises
    ------
    ValueError
        If ``range_factor`` is not a positive finite number.
    """
    try:
        rf = float(range_factor)
    except (TypeError, ValueError) as err:
        raise ArgumentTypeError(f"range_factor must be a number; got {range_factor!r}") from err
    if not math.isfinite(rf) or rf <= 0:
        raise UserError(f"range_factor must be a positive finite number of pixels; got {range_factor!r}")
    return rf / PIXELS_PER_UNIT


def _check_n_samples(n_samples, *, odd: bool) -> int:
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)):
        raise ArgumentTypeError(f"n_samples must be an integer; got {n_samples!r}")
    n = int(n_samples)
    if n < 1:
        raise UserError(f"n_samples must be ≥ 1; got {n}")
    if odd and n % 2 == 0:
        raise UserError(
            f"n_samples must be odd for 1-d manifolds, so that the centre sample is the "
            f"identity (the unwarped template); got {n}"
        )
    return n


def one_dimensional_transforms(
    transform: str, *, range_factor: float, n_samples: int
) -> tuple[np.ndarray, np.ndarray]:
    """Sample grid of a 1-d manifold.

    Parameters
    ----------
    transform : str
        One of :data:`TRANSFORMS_1D`.
    range_factor : float
        Largest corner displacement, pixels of the 64-px image.
    n_samples : int
        Number of samples M (odd; the centre sample ``M // 2`` is exactly the identity).

    Returns
    -------
    matrices : ndarray of shape (n_samples, 2, 3)
        ``[A | t]`` per sample.
    values : ndarray of shape (n_samples,)
        The transform parameter: translation or shear value (world units), scale factor,
        or rotation angle (radians).

    Notes
    -----
    Translations and shears: ``linspace(-sf, sf, M)``; scales: ``geomspace(1/(1+sf), 1+sf,
    M)``; rotation: ``linspace(-θmax, θmax, M)`` with ``θmax = 2 asin(sf / (2√2))``, so that
    every family reaches magnitude ``sf`` (``docs/generation.md#generation-1d``).
    """
    if transform not in TRANSFORMS_1D:
        raise UserError(f"unknown 1-d transform {transform!r}; choose one of {list(TRANSFORMS_1D)}")
    sf = scale_factor(range_factor)
    m = _check_n_samples(n_samples, odd=True)
    mid = m // 2
    mats = np.zeros((m, 2, 3))
    mats[:, 0, 0] = mats[:, 1, 1] = 1.0
    if transform in ("x-scale", "y-scale"):
        values = np.geomspace(1 / (1 + sf), 1 + sf, m)
        values[mid] = 1.0
    elif transform == "rotation":
        arg = sf / (2 * math.sqrt(2))
        if arg > 1:
            raise UserError(
                f"range_factor={range_factor} is too large for rotation: sf/(2√2) = {arg:.3f} > 1"
            )
        theta_max = 2 * math.asin(arg)
        values = np.linspace(-theta_max, theta_max, m)
        values[mid] = 0.0
    else:
        values = np.linspace(-sf, sf, m)
        values[mid] = 0.0
    if transform == "x-translation":
        mats[:, 0, 2] = values
    elif transform == "y-translation":
        mats[:, 1, 2] = values
    elif transform == "x-scale":
        mats[:, 0, 0] = values
    elif transform == "y-scale":
        mats[:, 1, 1] = values
    elif transform == "x-shear":
        mats[:, 0, 1] = values
    elif transform == "y-shear":
        mats[:, 1, 0] = values
    else:
        c, s = np.cos(values), np.sin(values)
        mats[:, 0, 0], mats[:, 0, 1], mats[:, 1, 0], mats[:, 1, 1] = c, s, -s, c
    return mats, values


def random_transforms_2d(
    transform: str,
    *,
    range_factor: float,
    n_samples: int,
    rng: np.random.Generator | int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Random samples of a 2-d manifold (bounded random change, dof = 2).

    Parameters
    ----------
    transform : {"translation", "shear"}
        Which two affine numbers vary: (a13, a23) or (a12, a21).
    range_factor : float
        Bound on the corner displacement, pixels.
    n_samples : int
        Number of samples M.
    rng : numpy.random.Generator or int, optional
        Random source (``numpy.random.default_rng(rng)``).

    Returns
    -------
    matrices : ndarray of shape (n_samples, 2, 3)
    coords : ndarray of shape (n_samples, 2)
        The two free numbers, world units; their Euclidean norm is the magnitude.

    Notes
    -----
    Each sample is drawn from N(0, σ² I₂), σ = sf / (1.25 (0.286·2 + 0.684)) = sf / 1.57, and
    redrawn while its norm exceeds sf: a truncated Gaussian on the disc, not uniform
    (``docs/generation.md#generation-2d``). The original's pixel-level validity loop never rejects for
    range factors ≤ 16 (the output window maps inside the input); :func:`max_source_extent`
    checks this analytically instead.
    """
    if transform not in TRANSFORMS_2D:
        raise UserError(f"unknown 2-d transform {transform!r}; choose one of {list(TRANSFORMS_2D)}")
    sf = scale_factor(range_factor)
    m = _check_n_samples(n_samples, odd=False)
    rng = np.random.default_rng(rng)
    sigma = sf / _SIGMA_DIVISOR_DOF2
    coords = np.empty((m, 2))
    filled = 0
    while filled < m:
        z = rng.normal(0.0, sigma, size=(2 * (m - filled) + 8, 2))
        z = z[np.hypot(z[:, 0], z[:, 1]) <= sf]
        take = min(z.shape[0], m - filled)
        coords[filled:filled + take] = z[:take]
        filled += take
    mats = np.zeros((m, 2, 3))
    mats[:, 0, 0] = mats[:, 1, 1] = 1.0
    if transform == "translation":
        mats[:, 0, 2], mats[:, 1, 2] = coords[:, 0], coords[:, 1]
    else:
        mats[:, 0, 1], mats[:, 1, 0] = coords[:, 0], coords[:, 1]
    if max_source_extent(mats).max() > FRAME_SIZE / (2 * PIXELS_PER_UNIT):
        raise UserError(
            f"range_factor={range_factor} is too large: the warped image would show the zero "
            "fill beyond the stimulus border"
        )
    return mats, coords


def transform_magnitude(matrices: np.ndarray) -> np.ndarray:
    """RMS displacement of the object's four corners (±1, ±1), world units.

    Parameters
    ----------
    matrices : array-like of shape (..., 2, 3)

    Returns
    -------
    ndarray of shape (...)
        ``sqrt(mean_corners(dx²) + mean_corners(dy²))`` (``docs/generation.md#generation-magnitude``).
    """
    mats = np.asarray(matrices, dtype=np.float64)
    corners = np.array([[1, 1], [1, -1], [-1, 1], [-1, -1]], dtype=np.float64)
    moved = np.einsum("...ij,kj->...ki", mats[..., :2], corners) + mats[..., None, :, 2]
    disp = moved - corners
    return np.sqrt((disp**2).sum(axis=-1).mean(axis=-1))


def max_source_extent(matrices: np.ndarray, *, out_size: int = IMAGE_SIZE) -> np.ndarray:
    """Largest |coordinate| (world units) in the input that the output window's corners map to.

    Values ≤ 3 mean the warped image never shows the zero fill (the input spans ±3).
    """
    mats = np.asarray(matrices, dtype=np.float64)
    half = out_size / (2 * PIXELS_PER_UNIT)
    corners = np.array([[1, 1], [1, -1], [-1, 1], [-1, -1]], dtype=np.float64) * half
    a_inv = np.linalg.inv(mats[..., :2])
    src = np.einsum("...ij,...kj->...ki", a_inv, corners[None] - mats[..., None, :, 2])
    return np.abs(src).max(axis=(-1, -2))


def affine_theta(
    matrices: np.ndarray, *, in_size: int = FRAME_SIZE, out_size: int = IMAGE_SIZE
) -> np.ndarray:
    """torch ``affine_grid`` matrices for world-frame transforms.

    Parameters
    ----------
    matrices : array-like of shape (n, 2, 3)
        ``[A | t]`` (world units).
    in_size, out_size : int
        Input and output image sides, pixels (144 and 64).

    Returns
    -------
    ndarray of shape (n, 2, 3)
        ``[(h_out/h_in) A⁻¹ | −(1/h_in) A⁻¹ t]`` with half-widths h = size / 48 world units
        (= ``[(4/9) A⁻¹ | −(1/3) A⁻¹ t]`` for 144 → 64). Use with ``align_corners=False``.
    """
    mats = np.asarray(matrices, dtype=np.float64)
    if mats.ndim != 3 or mats.shape[1:] != (2, 3):
        raise UserError(f"matrices must have shape (n, 2, 3); got {mats.shape}")
    h_in = in_size / (2 * PIXELS_PER_UNIT)
    h_out = out_size / (2 * PIXELS_PER_UNIT)
    a_inv = np.linalg.inv(mats[:, :, :2])
    theta = np.empty_like(mats)
    theta[:, :, :2] = (h_out / h_in) * a_inv
    theta[:, :, 2] = -(1 / h_in) * np.einsum("nij,nj->ni", a_inv, mats[:, :, 2])
    return theta


def warp_images(images, matrices, *, out_size: int = IMAGE_SIZE, device=None):
    """Warp stimuli with affine transforms (batched, torch; on the GPU when ``device`` is one).

    Parameters
    ----------
    images : torch.Tensor of shape (n, 3, size, size) or (1, 3, size, size), or ndarray of uint8 of shape (n, size, size, 3)
        Stimuli on the 0..255 scale (a single image is broadcast over all matrices).
    matrices : array-like of shape (n, 2, 3)
        ``[A | t]`` per output image (world units).
    out_size : int, default 64
        Output side, pixels.
    device : torch.device or str, optional
        Where to compute; default: the images' device (CPU for ndarrays).

    Returns
    -------
    torch.Tensor of float32, shape (n, 3, out_size, out_size)
        Warped images on the 0..255 scale (bilinear, zero fill, ``align_corners=False``).
    """
    import torch
    import torch.nn.functional as F

    if isinstance(images, np.ndarray):
        if images.ndim != 4 or images.shape[-1] != 3:
            raise UserError(f"image arrays must have shape (n, size, size, 3); got {images.shape}")
        images = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2)
    if images.ndim != 4 or images.shape[1] != 3 or images.shape[2] != images.shape[3]:
        raise UserError(f"images must have shape (n, 3, size, size); got {tuple(images.shape)}")
    device = torch.device(device) if device is not None else images.device
    images = images.to(device=device, dtype=torch.float32)
    theta_np = affine_theta(matrices, in_size=images.shape[-1], out_size=out_size)
    n = theta_np.shape[0]
    if images.shape[0] == 1 and n > 1:
        images = images.expand(n, -1, -1, -1)
    elif images.shape[0] != n:
        raise UserError(f"got {images.shape[0]} images but {n} transforms")
    theta = torch.as_tensor(theta_np, dtype=torch.float32, device=device)
    grid = F.affine_grid(theta, [n, 3, out_size, out_size], align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def warp_image_reference(image: np.ndarray, matrix: np.ndarray, *, out_size: int = IMAGE_SIZE) -> np.ndarray:
    """Direct per-pixel warp of one image (slow numpy reference for tests).

    Parameters
    ----------
    image : ndarray of shape (size, size, 3)
        Stimulus (any numeric dtype, 0..255 scale).
    matrix : ndarray of shape (2, 3)
        ``[A | t]`` (world units).

    Returns
    -------
    ndarray of float64, shape (out_size, out_size, 3)
        For each output pixel centre x (world), the input at ``A⁻¹ (x − t)``, sampled
        bilinearly between the four nearest input pixel centres, each outside pixel being 0.
    """
    img = np.asarray(image, dtype=np.float64)
    size = img.shape[0]
    h_in = size / (2 * PIXELS_PER_UNIT)
    h_out = out_size / (2 * PIXELS_PER_UNIT)
    a_inv = np.linalg.inv(np.asarray(matrix, dtype=np.float64)[:, :2])
    t = np.asarray(matrix, dtype=np.float64)[:, 2]
    out = np.zeros((out_size, out_size, 3))

    def pixel(r: int, c: int) -> np.ndarray:
        if 0 <= r < size and 0 <= c < size:
            return img[r, c]
        return np.zeros(3)

    for row in range(out_size):
        for col in range(out_size):
            x = -h_out + (col + 0.5) / PIXELS_PER_UNIT
            y = -h_out + (row + 0.5) / PIXELS_PER_UNIT
            u, w = a_inv @ (np.array([x, y]) - t)
            # continuous input pixel coordinates, 0-based, centres at integers
            cu = (u + h_in) * PIXELS_PER_UNIT - 0.5
            rw = (w + h_in) * PIXELS_PER_UNIT - 0.5
            c0, r0 = math.floor(cu), math.floor(rw)
            fc, fr = cu - c0, rw - r0
            out[row, col] = (
                (1 - fr) * (1 - fc) * pixel(r0, c0)
                + (1 - fr) * fc * pixel(r0, c0 + 1)
                + fr * (1 - fc) * pixel(r0 + 1, c0)
                + fr * fc * pixel(r0 + 1, c0 + 1)
            )
    return out
