"""The sample MR brain's patient: the MNI152 brain in a head, with a glioma and its mass effect.

What each voxel of the study holds is a set of **tissue fractions** (partial
volume): grey matter, white matter and cerebrospinal fluid come from the
ICBM 2009a template's probability maps (``samples/mni152.py``); the layers
around the brain (dura, skull tables and diploë, temporalis muscle, scalp fat,
skin), the eyes and the skull base are drawn around the template's brain
surface; the glioma (enhancing rim, necrotic core, vasogenic oedema along the
white matter) is drawn where it has pushed the brain aside.

The template is sampled once, at each study voxel's position traced back
through three maps:

1. the patient's pose in the scanner (a few degrees of tilt, a smaller head
   than the template's average: the template is about 8 % larger than an
   average adult brain);
2. the tumour's **mass effect**: a smooth radial displacement around the
   lesion, fading with distance and towards the skull, so nearby sulci are
   effaced, the ipsilateral lateral ventricle is pushed across and
   compressed, and the skull does not move;
3. a small random deformation (a few millimetres), so that a seed is an
   individual and not the symmetric average.

The template's maps are averaged over the 2.5 mm slice profile first (a box
across the slice), so a slice sees what a 2.5 mm slice would.

Everything is in patient LPS millimetres for the study's grid and in the
template's RAS millimetres (MNI space) for anatomy; the seed decides the pose,
the deformation, the layer thicknesses and the lesion's shape, and nothing
else does: the same seed gives the same fractions.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from dicomteach.samples._shapes import smooth_field
from dicomteach.samples.mni152 import load_template

#: Every tissue a voxel may hold; what is left of a voxel is air.
TISSUES = (
    "grey",
    "white",
    "csf",
    "enhancing",
    "necrosis",
    "oedema",
    "dura",
    "venous",
    "bone",
    "marrow",
    "muscle",
    "fat",
    "skin",
    "vitreous",
)

#: Centre of the glioma in template (MNI, RAS) millimetres: right frontal white matter,
#: beside the frontal horn of the right lateral ventricle.
LESION_CENTRE_MNI = (28.0, 24.0, 22.0)
#: Radius of the enhancing tumour's outer edge, template millimetres.
LESION_RADIUS_MM = 15.0
#: How far the mass effect pushes tissue at the tumour's edge, and how fast it fades (mm).
MASS_EFFECT_MM = (7.0, 20.0)
#: Scale of the patient's head relative to the template (the template is an enlarged average).
HEAD_SCALE = 0.92
#: Patient LPS position (mm) of the template's origin (the anterior commissure), before jitter.
TEMPLATE_ORIGIN_IN_PATIENT = (0.0, -10.0, 3.25)

_DISTANCE_STEP_MM = 2.0
_DISTANCE_ORIGIN = (-124.0, -160.0, -110.0)
_DISTANCE_SHAPE = (125, 151, 121)


@dataclass(frozen=True)
class Head:
    """Tissue fractions of every voxel of the study's grid (see :data:`TISSUES`), float32."""

    fractions: dict[str, np.ndarray]

    def total(self) -> np.ndarray:
        """Fraction of each voxel that is tissue (1 − air)."""
        return sum(self.fractions.values())


def _rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Rotation (degrees) about the superior, left–right and anterior axes, RAS frame."""
    a, b, c = np.radians([yaw, pitch, roll])
    about_z = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    about_x = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    about_y = np.array([[np.cos(c), 0, np.sin(c)], [0, 1, 0], [-np.sin(c), 0, np.cos(c)]])
    return about_z @ about_x @ about_y


def _ramp(t: np.ndarray, width: float | np.ndarray = 1.0) -> np.ndarray:
    """Fraction of a voxel of ``width`` (mm) on the inside of a surface at signed depth ``t`` (mm)."""
    return np.clip(t / width + 0.5, 0.0, 1.0).astype(np.float32, copy=False)


def _band(d: np.ndarray, low: np.ndarray | float, high: np.ndarray | float, width) -> np.ndarray:
    """Fraction of a voxel between depths ``low`` and ``high`` along ``d`` (partial volume)."""
    return np.clip(_ramp(high - d, width) - _ramp(low - d, width), 0.0, 1.0)


@functools.lru_cache(maxsize=1)
def _distance_maps() -> tuple[np.ndarray, np.ndarray]:
    """Signed distances (mm, positive outside) to the brain's surface and to the head's skin.

    On a 2 mm grid around the template (:data:`_DISTANCE_ORIGIN`). The brain
    surface is the template mask with its sulci bridged; the head is that
    surface grown by the thickness of skull and scalp, joined to a face below
    the frontal lobes, so the orbits and the skull base sit inside it.
    """
    template = load_template()
    step = int(_DISTANCE_STEP_MM)
    coarse = ndimage.gaussian_filter(template.brain, 1.0)[::step, ::step, ::step]
    padded = np.zeros(_DISTANCE_SHAPE, np.float32)
    offset = [
        int(round((o - p) / step)) for o, p in zip(template.origin, _DISTANCE_ORIGIN, strict=True)
    ]
    padded[tuple(slice(o, o + n) for o, n in zip(offset, coarse.shape, strict=True))] = coarse
    brain = ndimage.gaussian_filter(padded, 1.2) > 0.5
    d_brain = _signed_distance(brain)

    x, y, z = np.meshgrid(
        *(
            np.arange(n, dtype=np.float32) * step + o
            for n, o in zip(_DISTANCE_SHAPE, _DISTANCE_ORIGIN, strict=True)
        ),
        indexing="ij",
        sparse=True,
    )
    face = ((x / 66.0) ** 2 + ((y - 20.0) / 64.0) ** 2 + ((z + 52.0) / 46.0) ** 2) <= 1.0
    nose = ((x / 12.0) ** 2 + ((y - 85.0) / 28.0) ** 2 + ((z + 55.0) / 22.0) ** 2) <= 1.0
    head = (d_brain <= 16.5) | face | nose
    head = ndimage.gaussian_filter(head.astype(np.float32), 1.5) > 0.5
    return d_brain, _signed_distance(head)


def _signed_distance(mask: np.ndarray) -> np.ndarray:
    """Signed distance (mm) to the surface of ``mask``, smoothed so the surface has no voxel steps."""
    step = _DISTANCE_STEP_MM
    outside = ndimage.distance_transform_edt(~mask, sampling=step)
    inside = ndimage.distance_transform_edt(mask, sampling=step)
    return ndimage.gaussian_filter((outside - inside).astype(np.float32), 1.0)


def _sample(volume: np.ndarray, coords: np.ndarray, origin, step: float, cval: float) -> np.ndarray:
    """Trilinear value of ``volume`` (RAS grid from ``origin``, ``step`` mm) at RAS points ``coords``."""
    index = np.empty_like(coords)
    for axis in range(3):
        index[axis] = (coords[axis] - np.float32(origin[axis])) / np.float32(step)
    return ndimage.map_coordinates(volume, index, order=1, prefilter=False, cval=cval)


def _slice_profile(volume: np.ndarray, thickness_mm: float) -> np.ndarray:
    """Average ``volume`` (1 mm grid) over a box ``thickness_mm`` wide along its z axis."""
    half = thickness_mm / 2.0
    reach = int(np.ceil(half - 0.5))
    weights = np.array(
        [min(1.0, max(0.0, half - (abs(o) - 0.5))) for o in range(-reach, reach + 1)], np.float32
    )
    return ndimage.correlate1d(volume, weights / weights.sum(), axis=2, mode="constant")


def _head_coordinates(shape, spacing, origin, rng: np.random.Generator) -> np.ndarray:
    """Template (RAS mm) position of each study voxel for the patient's pose: (3, *shape)."""
    yaw, pitch, roll = rng.uniform(-3.0, 3.0), rng.uniform(-6.0, 2.0), rng.uniform(-2.5, 2.5)
    scale = HEAD_SCALE * rng.uniform(0.98, 1.02)
    shift = np.asarray(TEMPLATE_ORIGIN_IN_PATIENT) + rng.uniform(-2.0, 2.0, 3) * [1, 1, 0]
    lps_to_ras = np.diag([-1.0, -1.0, 1.0])
    # patient = shift + scale · R · lps_to_ras · template, so template = its inverse
    matrix = (lps_to_ras @ _rotation(yaw, pitch, roll).T) / scale
    k, i, j = (np.arange(n, dtype=np.float32) for n in shape)
    patient = (
        (origin[0] + j * spacing[2] - shift[0])[None, None, :],
        (origin[1] + i * spacing[1] - shift[1])[None, :, None],
        (origin[2] + k * spacing[0] - shift[2])[:, None, None],
    )
    coords = np.empty((3, *shape), np.float32)
    for row in range(3):
        coords[row] = sum(np.float32(matrix[row, col]) * patient[col] for col in range(3))
    return coords


def _mass_effect(coords: np.ndarray, centre: np.ndarray, radius: float) -> np.ndarray:
    """Displacement (template mm) that the tumour has pushed each point by: the source is ``coords − u``.

    Radial, largest at the tumour's edge, fading over :data:`MASS_EFFECT_MM`
    with distance and to nothing within a few millimetres of the brain's
    surface, so the skull stays where it is.
    """
    push, fade = MASS_EFFECT_MM
    offset = coords - centre.reshape(3, 1, 1, 1).astype(np.float32)
    r = np.sqrt((offset**2).sum(axis=0)) + np.float32(1e-3)
    magnitude = np.where(
        r < radius, push * r / radius, push * np.exp(-(((r - radius) / fade) ** 2))
    ).astype(np.float32)
    near = r < radius + 3.5 * fade
    d_brain, _ = _distance_maps()
    depth = np.zeros_like(r)
    depth[near] = -_sample(d_brain, coords[:, near], _DISTANCE_ORIGIN, _DISTANCE_STEP_MM, 50.0)
    magnitude *= np.clip((depth - 1.0) / 14.0, 0.0, 1.0) * near
    return offset * (magnitude / r)


def head_model(
    seed: int,
    shape: Sequence[int],
    spacing: Sequence[float],
    origin: Sequence[float],
) -> Head:
    """Tissue fractions of the glioma patient chosen by ``seed`` on the study's grid.

    ``shape`` is (slices, rows, columns), ``spacing`` in mm in that order,
    ``origin`` the LPS position of the first voxel; axial slices, rows
    running posterior, columns running left.

    >>> head = head_model(0, (4, 32, 32), (2.5, 8.0, 8.0), (-124.0, -132.0, 10.0))
    >>> sorted(head.fractions) == sorted(TISSUES)
    True
    >>> bool(head.total().max() <= 1.0001) and bool(head.fractions["white"].max() > 0.9)
    True
    """
    shape = tuple(int(n) for n in shape)
    rng = np.random.default_rng([seed, 3, 10])
    d_brain_map, d_head_map = _distance_maps()
    head = _head_coordinates(shape, spacing, origin, rng)
    # work only on the rows and columns the head reaches: air costs nothing
    rows, columns = _head_box(head, d_head_map)
    head = np.ascontiguousarray(head[:, :, rows, columns])
    box = head.shape[1:]
    scale_ratio = float(spacing[0]) / HEAD_SCALE

    centre = np.asarray(LESION_CENTRE_MNI) + rng.uniform(-3.0, 3.0, 3)
    radius = LESION_RADIUS_MM * rng.uniform(0.9, 1.1)
    individual = np.stack([smooth_field(box, spacing, 25.0, rng) for _ in range(3)]) * 2.0
    source = head - _mass_effect(head, centre, radius) - individual

    profiled, profiled_origin = _profiled_template(scale_ratio)
    d_brain = _sample(d_brain_map, source, _DISTANCE_ORIGIN, _DISTANCE_STEP_MM, 100.0)
    # the brain's maps matter only near and inside its surface, the skin's only outside it
    near_brain = d_brain < 6.0
    at_brain = source[:, near_brain]
    brain, grey, white = (np.zeros(box, np.float32) for _ in range(3))
    for name, out in (("brain", brain), ("grey", grey), ("white", white)):
        out[near_brain] = _sample(profiled[name], at_brain, profiled_origin, 1.0, 0.0)
    outside_brain = d_brain > -4.0
    d_head = np.full(box, -50.0, np.float32)
    d_head[outside_brain] = _sample(
        d_head_map, source[:, outside_brain], _DISTANCE_ORIGIN, _DISTANCE_STEP_MM, 100.0
    )
    over = np.maximum(grey + white, brain)
    grey, white = grey / np.maximum(over, 1e-6) * brain, white / np.maximum(over, 1e-6) * brain
    csf = np.clip(brain - grey - white, 0.0, 1.0)

    # partial volume across a 1 × 1 × 2.5 mm voxel: wider where a surface runs across slices
    across = np.abs(np.gradient(d_brain, axis=0))
    width = np.sqrt(1.0 + across * across).astype(np.float32)

    fractions = _layers(head, d_brain, d_head, width, brain, box, spacing, rng)
    fractions["csf"] += csf
    fractions.update(
        _lesion(
            head, centre, radius, grey, white, fractions["csf"], brain, width, box, spacing, rng
        )
    )
    fractions.update(_face(head, fractions, width))
    full = {}
    for name in TISSUES:
        full[name] = np.zeros(shape, np.float32)
        full[name][:, rows, columns] = fractions[name]
    return Head(full)


def _head_box(head: np.ndarray, d_head_map: np.ndarray) -> tuple[slice, slice]:
    """Rows and columns of the study that hold some of the head (with a margin), from a coarse look."""
    step = 4
    coarse = np.ascontiguousarray(head[:, :, ::step, ::step])
    inside = _sample(d_head_map, coarse, _DISTANCE_ORIGIN, _DISTANCE_STEP_MM, 100.0) < 4.0 * step
    rows = np.flatnonzero(inside.any(axis=(0, 2))) * step
    columns = np.flatnonzero(inside.any(axis=(0, 1))) * step
    n_rows, n_columns = head.shape[2:]
    return (
        slice(max(int(rows.min()) - step, 0), min(int(rows.max()) + 2 * step, n_rows)),
        slice(max(int(columns.min()) - step, 0), min(int(columns.max()) + 2 * step, n_columns)),
    )


@functools.lru_cache(maxsize=2)
def _profiled_template(thickness_mm: float) -> tuple[dict[str, np.ndarray], tuple[float, ...]]:
    """The template's brain mask and tissue maps averaged over the slice profile, and their origin.

    Cropped to the brain, sharpened (see below) and averaged across the slice
    (see the module's docstring).
    """
    template = load_template()
    # only the brain's box (and a margin) is ever sampled from these maps
    inside = np.argwhere(template.brain > 0)
    low = np.maximum(inside.min(axis=0) - 3, 0)
    high = np.minimum(inside.max(axis=0) + 4, template.brain.shape)
    crop = tuple(slice(int(a), int(b)) for a, b in zip(low, high, strict=True))
    origin = tuple(o + int(a) for o, a in zip(template.origin, low, strict=True))
    brain = template.brain[crop]
    tissue = template.grey[crop] + template.white[crop]
    # The template averages 152 brains, so its tissue boundaries are several millimetres
    # soft; one person's are as sharp as a voxel. Sharpen the two choices each voxel makes
    # (tissue or fluid, then white or grey) around even odds, keeping every fraction in 0…1.
    solid = _sharpen(tissue / np.maximum(brain, 1e-6), 0.12) * brain
    white_share = _sharpen(template.white[crop] / np.maximum(tissue, 1e-6), 0.08)
    maps = {"brain": brain, "grey": solid * (1.0 - white_share), "white": solid * white_share}
    return {name: _slice_profile(value, thickness_mm) for name, value in maps.items()}, origin


def _sharpen(share: np.ndarray, softness: float) -> np.ndarray:
    """A logistic step around one half: shares near 0 or 1 stay, those between move apart."""
    return (1.0 / (1.0 + np.exp(-(share - 0.5) / softness))).astype(np.float32)


def _layers(head, d_brain, d_head, width, brain, shape, spacing, rng) -> dict[str, np.ndarray]:
    """Meninges, skull and scalp around the brain, and the skull base below it."""
    vary = [smooth_field(shape, spacing, 30.0, rng) for _ in range(3)]
    x, y, z = head
    c1 = 1.2 + 0.4 * vary[0]  # subarachnoid space over the convexity
    c2 = c1 + 0.9  # dura
    table = np.clip(1.7 + 0.35 * vary[1], 1.0, 2.6)
    diploe = np.clip(3.2 + 1.2 * vary[2], 0.8, 5.5)
    temporal = np.exp(
        -(((np.abs(x) - 62.0) / 14.0) ** 2) - ((y - 5.0) / 40.0) ** 2 - ((z - 0.0) / 28.0) ** 2
    )
    diploe = diploe * (1.0 - 0.75 * temporal)  # the temporal squama is thin
    c3 = c2 + table
    c4 = c3 + diploe
    c5 = c4 + table
    outside_brain = 1.0 - brain
    csf_extra = np.clip(_ramp(c1 - d_brain, width) - brain, 0.0, 1.0)
    dura = _band(d_brain, c1, c2, width) * outside_brain
    bone = (_band(d_brain, c2, c3, width) + _band(d_brain, c4, c5, width)) * outside_brain
    marrow = _band(d_brain, c3, c4, width) * outside_brain
    beyond_skull = _ramp(d_brain - c5, width) * outside_brain

    depth = -d_head  # below the skin
    fat_end = 2.0 + np.clip(4.0 + 1.5 * vary[0], 2.0, 7.0)
    muscle_end = fat_end + 1.5 + 9.0 * temporal
    inside_head = _ramp(depth, width)
    skin = _band(depth, 0.0, 2.0, width) * beyond_skull
    fat = _band(depth, 2.0, fat_end, width) * beyond_skull
    muscle = _band(depth, fat_end, muscle_end, width) * beyond_skull
    gap = np.clip(inside_head * beyond_skull - skin - fat - muscle, 0.0, 1.0)
    # the gap: neck muscle below and behind the cerebellum, the cheeks' muscle and fat in
    # front, skull base (mostly bone, some marrow) between
    neck = np.clip((-25.0 - y) / 20.0, 0.0, 1.0) * np.clip((-30.0 - z) / 15.0, 0.0, 1.0)
    cheek = np.clip((y - 15.0) / 20.0, 0.0, 1.0)
    base = gap * (1.0 - neck) * (1.0 - cheek)
    muscle = muscle + gap * neck + gap * cheek * 0.6
    fat = fat + gap * cheek * 0.4
    bone = bone + base * 0.75
    marrow = marrow + base * 0.25
    # the superior sagittal sinus in the dura of the midline, above the corpus callosum
    midline = ((np.abs(x) < 4.0) * (z > 10.0)).astype(np.float32)
    venous = midline * (dura + 0.5 * csf_extra)
    dura = dura * (1.0 - midline)
    csf_extra = csf_extra * (1.0 - 0.5 * midline)
    return {
        "csf": csf_extra,
        "dura": np.clip(dura, 0.0, 1.0),
        "venous": venous,
        "bone": bone,
        "marrow": marrow,
        "muscle": muscle,
        "fat": fat,
        "skin": skin,
    }


def _lesion(
    head, centre, radius, grey, white, csf, brain, width, shape, spacing, rng
) -> dict[str, np.ndarray]:
    """Enhancing rim, necrotic core and oedema, with the brain they replace taken out."""
    lobes = smooth_field(shape, spacing, 7.0, rng, step_mm=2.5)
    rim = smooth_field(shape, spacing, 4.0, rng, step_mm=2.5)
    fingers = smooth_field(shape, spacing, 8.0, rng, step_mm=2.5)
    r = np.sqrt(sum((head[a] - np.float32(centre[a])) ** 2 for a in range(3)))
    outer = radius * (1.0 + 0.2 * lobes)
    inner = outer * np.clip(0.6 + 0.16 * rim, 0.3, 0.85)
    tumour = _ramp(outer - r, width) * brain
    necrosis = _ramp(inner - r, width) * brain
    enhancing = np.clip(tumour - necrosis, 0.0, 1.0)
    # oedema fades from the tumour's edge to an uneven front: fingers along the white matter
    extent = radius + 22.0 * np.clip(1.0 + 0.45 * fingers, 0.3, 2.0)
    spread = np.clip((extent - r) / (extent - radius), 0.0, 1.0) ** 0.6 * (1.0 - tumour)
    # vasogenic oedema runs along the white matter and mostly spares the cortex
    oedema = spread * (0.95 * white + 0.25 * grey)
    keep = 1.0 - tumour
    return {
        "grey": grey * keep * (1.0 - 0.25 * spread),
        "white": white * keep * (1.0 - 0.95 * spread),
        "csf": csf * keep,
        "enhancing": enhancing,
        "necrosis": necrosis,
        "oedema": oedema,
    }


def _face(head, fractions, width) -> dict[str, np.ndarray]:
    """Eyes and orbital fat in front of the skull base, air in the sinuses."""
    x, y, z = head
    base = ("bone", "marrow", "muscle", "fat")  # what the eyes and sinuses take the place of
    out = {name: fractions[name] for name in base}
    out["vitreous"] = np.zeros_like(x)
    for side in (-1.0, 1.0):
        globe = np.sqrt((x - side * 32.0) ** 2 + (y - 60.0) ** 2 + (z + 40.0) ** 2)
        orbit = np.sqrt(
            ((x - side * 28.0) / 16.0) ** 2 + ((y - 45.0) / 24.0) ** 2 + ((z + 40.0) / 14.0) ** 2
        )
        eye = _ramp(12.0 - globe, width)
        cone = _ramp((1.0 - orbit) * 14.0, width)
        room = sum(out[name] for name in base)
        take_eye = np.minimum(eye, room)
        take_fat = np.minimum(np.clip(cone - eye, 0.0, 1.0), room - take_eye)
        taken = (take_eye + take_fat) / np.maximum(room, 1e-6)
        for name in base:
            out[name] = out[name] * (1.0 - taken)
        out["vitreous"] = out["vitreous"] + take_eye
        out["fat"] = out["fat"] + take_fat
    for centre, radii in (
        ((0.0, 50.0, -40.0), (10.0, 22.0, 12.0)),  # ethmoid cells
        ((0.0, 20.0, -45.0), (10.0, 12.0, 10.0)),  # sphenoid
        ((-28.0, 50.0, -64.0), (14.0, 18.0, 14.0)),  # maxillary sinuses
        ((28.0, 50.0, -64.0), (14.0, 18.0, 14.0)),
        ((0.0, 62.0, -58.0), (9.0, 30.0, 18.0)),  # nasal cavity
    ):
        sinus = np.sqrt(sum(((head[a] - centre[a]) / radii[a]) ** 2 for a in range(3)))
        air = _ramp((1.0 - sinus) * 10.0, width)
        for name in base:
            out[name] = out[name] * (1.0 - air)
    return {name: np.clip(value, 0.0, 1.0).astype(np.float32) for name, value in out.items()}


__all__ = ["HEAD_SCALE", "Head", "LESION_CENTRE_MNI", "LESION_RADIUS_MM", "TISSUES", "head_model"]
