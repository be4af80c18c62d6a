"""Rigid registration of two volumes (or two 2D images) with SimpleITK.

:func:`register_rigid` finds the rotation and translation that best align a
*moving* image to a *fixed* one by Mattes mutual information (so a CT can be
aligned to a CT, or an MR to a CT), multi-resolution, with a regular-step
gradient descent whose scales come from physical shifts. The result,
:class:`Rigid`, maps fixed LPS points to moving LPS points, which is what
:func:`dicomteach.imaging.resample.resample_to` takes to bring the moving image
onto the fixed grid (a follow-up CT onto its baseline, for a before/after
comparison).

SimpleITK is imported only when a registration runs; it is an optional
dependency. Runs are reproducible bit for bit: metric samples are drawn with a
fixed seed and the registration runs on one thread (by default).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from dicomteach.imaging.modality import modality_values

if TYPE_CHECKING:
    from dicomteach.io.volume import Volume

__all__ = ["INITIALISATIONS", "Rigid", "register_followup", "register_rigid"]

#: How :func:`register_rigid` starts: image centres aligned, or patient coordinates trusted.
INITIALISATIONS = ("geometry", "identity")

_PLANE_TOLERANCE = 1e-3
"""Largest |cos| between the moving image's axes and the fixed image's normal (2D images)."""


@dataclass(frozen=True)
class Rigid:
    """A rigid transform found by :func:`register_rigid`.

    Examples
    --------
    >>> import numpy as np
    >>> m = np.eye(4); m[:3, :3] = [[0, -1, 0], [1, 0, 0], [0, 0, 1]]; m[:3, 3] = (5, 0, 0)
    >>> rigid = Rigid(m, metric_value=-1.0, iterations=10)
    >>> round(rigid.rotation_degrees, 6), rigid.translation_mm.tolist()
    (90.0, [5.0, 0.0, 0.0])
    >>> rigid.apply([1.0, 0.0, 0.0]).tolist()
    [5.0, 1.0, 0.0]
    >>> rigid.inverse().apply(rigid.apply([1.0, 2.0, 3.0])).round(9).tolist()
    [1.0, 2.0, 3.0]
    """

    matrix: np.ndarray
    """4×4, maps fixed LPS points (mm) to moving LPS points: ``resample_to``'s ``transform``."""
    metric_value: float
    """Final Mattes mutual information (negative: the lower, the better the match)."""
    iterations: int
    """Optimizer iterations, summed over the resolution levels."""

    @property
    def rotation_degrees(self) -> float:
        """The angle of the rotation (about its own axis), in degrees."""
        cos = (float(np.trace(self.matrix[:3, :3])) - 1.0) / 2.0
        return float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))

    @property
    def translation_mm(self) -> np.ndarray:
        """Where the LPS origin goes (``matrix[:3, 3]``).

        The displacement of any other point ``p`` is ``apply(p) - p``.
        """
        return np.array(self.matrix[:3, 3], dtype=float)

    def apply(self, points: Sequence[float] | np.ndarray) -> np.ndarray:
        """Map fixed LPS points (mm), shape ``(..., 3)``, to moving LPS points."""
        p = np.asarray(points, dtype=float)
        return p @ self.matrix[:3, :3].T + self.matrix[:3, 3]

    def inverse(self) -> Rigid:
        """The transform from moving LPS points to fixed ones (same metric and iterations)."""
        return Rigid(np.linalg.inv(self.matrix), self.metric_value, self.iterations)


def _import_sitk() -> Any:
    try:
        import SimpleITK as sitk
    except ImportError as error:
        raise ImportError(
            "register_rigid needs the optional package SimpleITK: pip install SimpleITK"
        ) from error
    return sitk


def _image_3d(sitk: Any, volume: Volume) -> Any:
    """A SimpleITK image in LPS: ITK index (x, y, z) is our (column, row, frame)."""
    image = sitk.GetImageFromArray(np.ascontiguousarray(modality_values(volume), np.float32))
    d = np.asarray(volume.direction, dtype=float)
    image.SetSpacing([float(s) for s in volume.spacing[::-1]])
    image.SetOrigin([float(x) for x in volume.origin])
    # ITK's direction matrix has one column per index axis, in (x, y, z) index order
    image.SetDirection(np.column_stack([d[2], d[1], d[0]]).ravel().tolist())
    return image


def _plane_basis(volume: Volume) -> np.ndarray:
    """Columns: the fixed image's column direction, row direction and normal (orthonormalised)."""
    d = np.asarray(volume.direction, dtype=float)
    u = d[2] / np.linalg.norm(d[2])
    v = d[1] - np.dot(d[1], u) * u
    v /= np.linalg.norm(v)
    return np.column_stack([u, v, np.cross(u, v)])


def _image_2d(sitk: Any, volume: Volume, basis: np.ndarray, origin: np.ndarray) -> Any:
    """A 2D SimpleITK image in the fixed image's plane coordinates (``basis``, ``origin``)."""
    d = np.asarray(volume.direction, dtype=float)
    image = sitk.GetImageFromArray(np.ascontiguousarray(modality_values(volume)[0], np.float32))
    image.SetSpacing([float(volume.spacing[2]), float(volume.spacing[1])])
    image.SetOrigin((basis[:, :2].T @ (np.asarray(volume.origin, float) - origin)).tolist())
    image.SetDirection(
        np.column_stack([basis[:, :2].T @ d[2], basis[:, :2].T @ d[1]]).ravel().tolist()
    )
    return image


def _check_volumes(fixed: Volume, moving: Volume) -> bool:
    """True for a pair of single-frame images; ``ValueError`` for unusable pairs."""
    for name, vol in (("fixed", fixed), ("moving", moving)):
        if vol.is_color:
            raise ValueError(f"Argument '{name}' must be grayscale, not a colour volume")
    flat = (fixed.n_frames == 1, moving.n_frames == 1)
    if flat[0] != flat[1]:
        raise ValueError(
            "Arguments 'fixed' and 'moving' must both be volumes or both single-frame images, "
            f"not shapes {fixed.pixels.shape} and {moving.pixels.shape}"
        )
    if flat[0]:
        normal = _plane_basis(fixed)[:, 2]
        d = np.asarray(moving.direction, dtype=float)
        tilt = max(abs(float(np.dot(normal, d[a]))) / np.linalg.norm(d[a]) for a in (1, 2))
        if tilt > _PLANE_TOLERANCE:
            raise ValueError(
                "Arguments 'fixed' and 'moving' are single-frame images in planes that are not "
                f"parallel (|cos| {tilt:.3g} between the moving axes and the fixed normal)"
            )
    return flat[0]


def _matrix(transform: Any) -> np.ndarray:
    """The affine matrix of an ITK matrix-offset transform: ``p → R (p − c) + c + t``."""
    n = transform.GetDimension()
    r = np.asarray(transform.GetMatrix(), dtype=float).reshape(n, n)
    c = np.asarray(transform.GetCenter(), dtype=float)
    t = np.asarray(transform.GetTranslation(), dtype=float)
    m = np.eye(n + 1)
    m[:n, :n] = r
    m[:n, n] = t + c - r @ c
    return m


def register_rigid(
    fixed: Volume,
    moving: Volume,
    *,
    max_iterations: int = 200,
    shrink: Sequence[int] = (4, 2, 1),
    sampling: float = 0.1,
    initial: str = "geometry",
    seed: int = 0,
    threads: int = 1,
) -> Rigid:
    """The rigid transform that aligns `moving` to `fixed`, by Mattes mutual information.

    Parameters
    ----------
    fixed, moving : Volume
        Two grayscale volumes, or two single-frame images (shape
        ``(1, rows, columns)``, e.g. two chest radiographs) lying in parallel
        planes. Their modality values are compared; they may come from
        different modalities.
    max_iterations : int, optional
        Optimizer iterations per resolution level.
    shrink : sequence of int, optional
        Shrink factor of each resolution level, coarse to fine (each level is
        also smoothed by a Gaussian of ``factor / 2`` voxels, none at 1).
    sampling : float, optional
        Fraction of the fixed image's voxels drawn (at random, with `seed`)
        to evaluate the metric, in ``(0, 1]``.
    initial : {"geometry", "identity"}, optional
        ``"geometry"`` starts with the image centres aligned (unrelated
        Frames of Reference, as a follow-up in a new study); ``"identity"``
        starts from the patient coordinates as they are (a PET and its CT,
        which share a Frame of Reference but not a field of view).
    seed : int, optional
        Seed of the metric's random sampling, ``0 <= seed < 2**32 - 1``: the
        same inputs, seed and `threads` give the same result. (SimpleITK
        reads a seed of 0 as "use the clock", so ``seed + 1`` is passed.)
    threads : int, optional
        Threads SimpleITK may use during the run (it sets SimpleITK's global
        default for the duration, then restores it). Only ``threads=1``
        gives bit-identical results from run to run; more threads sum in a
        varying order (differences in the 8th digit).

    Returns
    -------
    Rigid
        ``matrix`` maps fixed LPS points to moving LPS points. For 3D
        volumes it comes from an ``Euler3DTransform``; for single-frame
        images from an ``Euler2DTransform`` in the fixed image's plane: it
        rotates about the plane's normal, moves within the plane, and moves
        points of the fixed plane onto the moving plane along the normal.

    Raises
    ------
    ImportError
        If SimpleITK is not installed.
    ValueError
        For colour images, a volume paired with a single-frame image,
        single-frame images in non-parallel planes, or bad arguments.

    Examples
    --------
    >>> import numpy as np
    >>> from dicomteach.io.volume import Volume
    >>> yy, xx = np.mgrid[0:64, 0:64]
    >>> blob = lambda r0, c0: (1000 * np.exp(-((yy - r0) ** 2 + (xx - c0) ** 2) / 60.0))[None]
    >>> coronal = np.array([[0, 1, 0], [0, 0, -1], [1, 0, 0]], float)
    >>> fixed = Volume(blob(30, 30), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0), coronal)
    >>> moving = Volume(blob(33, 28), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0), coronal)
    >>> rigid = register_rigid(fixed, moving, shrink=(2, 1), sampling=1.0)
    >>> rigid.apply([30.0, 0.0, -30.0]).round().tolist()  # (x 28, z −33): the moving blob
    [28.0, 0.0, -33.0]
    """
    sitk = _import_sitk()
    factors = [int(f) for f in shrink]
    if not factors or min(factors) < 1:
        raise ValueError(f"Argument 'shrink' must be positive integers, not {list(shrink)}")
    if not 0.0 < float(sampling) <= 1.0:
        raise ValueError(f"Argument 'sampling' must be in (0, 1], not {sampling!r}")
    if int(threads) < 1:
        raise ValueError(f"Argument 'threads' must be at least 1, not {threads!r}")
    if int(max_iterations) < 1:
        raise ValueError(f"Argument 'max_iterations' must be at least 1, not {max_iterations!r}")
    if not 0 <= int(seed) < 2**32 - 1:
        raise ValueError(f"Argument 'seed' must be in [0, 2**32 - 1), not {seed!r}")
    if initial not in INITIALISATIONS:
        raise ValueError(
            f"Argument 'initial' must be one of {', '.join(INITIALISATIONS)}, not {initial!r}"
        )
    flat = _check_volumes(fixed, moving)

    if flat:
        basis = _plane_basis(fixed)
        origin = np.asarray(fixed.origin, dtype=float)
        fixed_image = _image_2d(sitk, fixed, basis, origin)
        moving_image = _image_2d(sitk, moving, basis, origin)
        transform = sitk.Euler2DTransform()
    else:
        fixed_image, moving_image = _image_3d(sitk, fixed), _image_3d(sitk, moving)
        transform = sitk.Euler3DTransform()
    if initial == "geometry":
        transform = sitk.CenteredTransformInitializer(
            fixed_image, moving_image, transform, sitk.CenteredTransformInitializerFilter.GEOMETRY
        )
    else:
        size = np.asarray(fixed_image.GetSize(), dtype=float)
        centre = fixed_image.TransformContinuousIndexToPhysicalPoint(((size - 1) / 2).tolist())
        transform.SetCenter(centre)

    method = sitk.ImageRegistrationMethod()
    method.SetNumberOfThreads(int(threads))
    method.SetMetricAsMattesMutualInformation(numberOfHistogramBins=50)
    method.SetMetricSamplingStrategy(method.RANDOM)
    # seed 0 would mean sitkWallClock: a different sample, and result, on every run
    method.SetMetricSamplingPercentagePerLevel([float(sampling)] * len(factors), int(seed) + 1)
    method.SetInterpolator(sitk.sitkLinear)
    method.SetOptimizerAsRegularStepGradientDescent(
        learningRate=2.0,
        minStep=1e-3,
        numberOfIterations=int(max_iterations),
        relaxationFactor=0.5,
        gradientMagnitudeTolerance=1e-8,
    )
    method.SetOptimizerScalesFromPhysicalShift()
    method.SetShrinkFactorsPerLevel(factors)
    method.SetSmoothingSigmasPerLevel([f / 2.0 if f > 1 else 0.0 for f in factors])
    method.SmoothingSigmasAreSpecifiedInPhysicalUnitsOff()
    method.SetInitialTransform(transform, inPlace=True)
    count = [0]
    method.AddCommand(sitk.sitkIterationEvent, lambda: count.__setitem__(0, count[0] + 1))
    # the metric's internals follow the global default, not only the method's setting:
    # without this, two runs differ in the 8th digit
    previous = sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(int(threads))
    try:
        method.Execute(fixed_image, moving_image)
    finally:
        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(previous)

    matrix = _matrix(transform)
    if flat:
        # plane coordinates (u, v, w) about the fixed origin → LPS; w shifts onto the moving plane
        offset = float(np.dot(np.asarray(moving.origin, float) - origin, basis[:, 2]))
        local = np.eye(4)
        local[:2, :2] = matrix[:2, :2]
        local[:2, 3] = matrix[:2, 2]
        local[2, 3] = offset
        to_lps = np.eye(4)
        to_lps[:3, :3] = basis
        to_lps[:3, 3] = origin
        matrix = to_lps @ local @ np.linalg.inv(to_lps)
    return Rigid(matrix, float(method.GetMetricValue()), int(count[0]))


#: Voxel size (mm) :func:`register_followup` reduces copies to: volumes, single images.
FOLLOWUP_REDUCED_MM = {3: 4.0, 2: 1.5}
#: No axis of a reduced copy gets fewer voxels than this (small images stay as they are).
FOLLOWUP_MIN_VOXELS = 32
#: Resolution levels of :func:`register_followup`, on the reduced copies.
FOLLOWUP_SHRINK = (2, 1)


def reduced(volume: Volume, target_mm: float) -> Volume:
    """A block-averaged copy with voxels of about ``target_mm``, for a quick registration.

    >>> from dicomteach.io.volume import Volume
    >>> v = Volume(np.ones((64, 256, 256), np.float32), (1.0, 0.5, 0.5), (0.0, 0.0, 0.0), np.eye(3))
    >>> r = reduced(v, 4.0)  # no axis below 32 voxels: the slices are only paired
    >>> r.pixels.shape, r.spacing
    ((32, 32, 32), (2.0, 4.0, 4.0))
    """
    from dicomteach.io.volume import Volume

    values = modality_values(volume)
    factors = [
        max(1, min(int(round(target_mm / float(s))), int(n) // FOLLOWUP_MIN_VOXELS))
        for s, n in zip(volume.spacing, values.shape, strict=True)
    ]
    if factors == [1, 1, 1]:
        return volume
    shape = [n // f for n, f in zip(values.shape, factors, strict=True)]
    blocks = values[: shape[0] * factors[0], : shape[1] * factors[1], : shape[2] * factors[2]]
    blocks = blocks.reshape(shape[0], factors[0], shape[1], factors[1], shape[2], factors[2])
    means = blocks.mean(axis=(1, 3, 5), dtype=np.float64).astype(np.float32)
    direction = np.asarray(volume.direction, float)
    spacing = np.asarray(volume.spacing, float)
    # a block's centre: half a block minus half a voxel from its first voxel's centre
    origin = np.asarray(volume.origin, float) + ((np.array(factors) - 1) / 2 * spacing) @ direction
    return Volume(
        means,
        tuple(float(s) for s in spacing * factors),
        tuple(float(x) for x in origin),
        direction,
        modality=volume.modality,
    )


def same_frame_of_reference(before: Volume, after: Volume) -> bool:
    """Whether both headers name one Frame of Reference (their patient coordinates agree)."""
    uid = str(before.header.get("FrameOfReferenceUID", "") or "")
    return bool(uid) and uid == str(after.header.get("FrameOfReferenceUID", "") or "")


def register_followup(before: Volume, after: Volume) -> Rigid:
    """The rigid transform that aligns a follow-up (``after``) on its baseline (``before``).

    What ``Compare`` (:mod:`dicomteach.widgets.compare`) and the change model
    (:mod:`dicomteach.ai.changes`) both use: :func:`register_rigid` on copies
    block-averaged to about 4 mm (1.5 mm for single images), two resolution
    levels, started from the patient coordinates when both share a Frame of
    Reference and from the image centres otherwise. SimpleITK's failures (no
    overlap, too few samples) are a one-line ``ValueError``.
    """
    dims = 2 if before.n_frames == 1 else 3
    target = FOLLOWUP_REDUCED_MM[dims]
    try:
        return register_rigid(
            reduced(before, target),
            reduced(after, target),
            shrink=FOLLOWUP_SHRINK,
            sampling=0.25 if dims == 2 else 0.1,
            initial="identity" if same_frame_of_reference(before, after) else "geometry",
        )
    except RuntimeError as error:  # SimpleITK's, many lines long (e.g. no overlap)
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        reason = lines[-1] if lines else type(error).__name__
        raise ValueError(f"Could not register 'after' onto 'before' ({reason})") from error
