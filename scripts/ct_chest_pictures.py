"""The CT chest pictures and noise figures of docs/samples.md.

    PYTHONPATH=. python scripts/ct_chest_pictures.py docs/samples [--before FOLDER]

Writes into the output folder:

* ``ct-chest.png``: the library's study (baseline and follow-up) beside the
  ``--before`` study and the real CTs pydicom ships, lung window above,
  mediastinal window below, at the nodule's level;
* ``ct-chest-lung-detail.png``: the right lung at full resolution, before and now;
* ``ct-chest-vessels.png``: a 15 mm axial and a 20 mm coronal maximum
  intensity projection (lung window), before and now;
* ``ct-chest-population.png``: four patients of ``ct_chest.population(0, 16)``
  at the hila, the first of each maker, each as its scanner and kernel made it;

and prints the noise figures (``realism.noise_figures``) of the real B30s file
and of the library's study. ``FOLDER`` is a ``ct-chest`` folder written by an
older version of dicomteach (``dicomteach sample-data``); without it the
"before" columns are left out.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pydicom
from PIL import Image, ImageDraw

from dicomteach import io
from dicomteach.samples import ct_chest, realism

LUNG = (-600.0, 1500.0)
MEDIASTINUM = (50.0, 350.0)
#: Height (mm) of the nodule's level and of the hila.
NODULE_Z, HILA_Z = 22.0, -25.0


def hounsfield(folder: Path) -> tuple[np.ndarray, io.Volume]:
    volume = io.load(folder)
    hu = volume.pixels * volume.rescale_slope[0] + volume.rescale_intercept[0]
    return hu.astype(np.float32), volume


def at_height(volume: io.Volume, z: float) -> int:
    return int(round(float(volume.lps_to_index((0.0, 0.0, z))[0])))


def windowed(hu: np.ndarray, window: tuple[float, float]) -> np.ndarray:
    level, width = window
    return np.clip((hu - (level - width / 2)) / width * 255.0, 0, 255).astype(np.uint8)


def labelled(image: np.ndarray, text: str) -> np.ndarray:
    canvas = Image.fromarray(np.pad(image, ((14, 0), (0, 0))))
    ImageDraw.Draw(canvas).text((3, 1), text, fill=255)
    return np.asarray(canvas)


def side_by_side(images: list[np.ndarray], gap: int = 4) -> np.ndarray:
    height = max(i.shape[0] for i in images)
    padded = [np.pad(i, ((0, height - i.shape[0]), (0, gap))) for i in images]
    joined = np.concatenate(padded, axis=1)
    return joined[:, : joined.shape[1] - gap]


def stacked(images: list[np.ndarray], gap: int = 4) -> np.ndarray:
    width = max(i.shape[1] for i in images)
    padded = [np.pad(i, ((0, gap), (0, width - i.shape[1]))) for i in images]
    joined = np.concatenate(padded, axis=0)
    return joined[: joined.shape[0] - gap]


def real_ct() -> list[np.ndarray]:
    """CT_small and bad_sequence at the sample's scale (0.7 mm a pixel), both windows."""
    from pydicom.data import get_testdata_file

    tiles = []
    for name in ("CT_small.dcm", "bad_sequence.dcm"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(get_testdata_file(name))
        hu = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
        scale = float(ds.PixelSpacing[0]) / 0.7
        size = (round(hu.shape[1] * scale), round(hu.shape[0] * scale))
        for window in (LUNG, MEDIASTINUM):
            image = Image.fromarray(windowed(hu, window)).resize(size, Image.BILINEAR)
            tiles.append(np.asarray(image))
    return tiles


def overview(studies: dict[str, Path], out: Path) -> None:
    columns = []
    for title, folder in studies.items():
        hu, volume = hounsfield(folder)
        k = at_height(volume, NODULE_Z)
        rows = [windowed(hu[k], window)[60:452, :] for window in (LUNG, MEDIASTINUM)]
        columns.append(labelled(np.concatenate(rows, axis=0), title))
    real = real_ct()  # CT_small's two windows, then bad_sequence's
    lung = side_by_side([real[0], real[2]])
    mediastinum = side_by_side([real[1], real[3]])
    height = (columns[0].shape[0] - 14) // 2
    rows = [
        np.pad(r, ((0, max(height - r.shape[0], 0)), (0, 0)))[:height] for r in (lung, mediastinum)
    ]
    columns.append(labelled(stacked(rows, 0), "real: CT_small, bad_sequence"))
    Image.fromarray(side_by_side(columns)).save(out / "ct-chest.png", optimize=True)


def lung_detail(studies: dict[str, Path], out: Path) -> None:
    tiles = []
    for title, folder in studies.items():
        hu, volume = hounsfield(folder)
        tiles.append(
            labelled(windowed(hu[at_height(volume, NODULE_Z)], LUNG)[90:400, 40:256], title)
        )
    Image.fromarray(side_by_side(tiles)).save(out / "ct-chest-lung-detail.png", optimize=True)


def vessels(studies: dict[str, Path], out: Path) -> None:
    tiles = []
    for title, folder in studies.items():
        hu, volume = hounsfield(folder)
        k = at_height(volume, HILA_Z)
        axial = windowed(hu[k - 3 : k + 3].max(axis=0), LUNG)[60:452, :]
        # coronal: 20 mm in front of the carina, slices stretched to millimetres
        row = int(round(float(volume.lps_to_index((0.0, -25.0, 0.0))[1])))
        slab = hu[:, row - 14 : row + 14, :].max(axis=1)[::-1]
        stretch = volume.spacing[0] / volume.spacing[1]
        coronal = Image.fromarray(windowed(slab, LUNG))
        coronal = coronal.resize((slab.shape[1], round(slab.shape[0] * stretch)), Image.BILINEAR)
        tiles.append(labelled(side_by_side([axial, np.asarray(coronal)]), title))
    Image.fromarray(stacked(tiles)).save(out / "ct-chest-vessels.png", optimize=True)


def population(out: Path, work: Path) -> None:
    tiles = []
    first_of_each = {}
    for person, exam in ct_chest.population(0, 16):
        first_of_each.setdefault(exam.habits.manufacturer, (person, exam))
    for number, (person, exam) in enumerate(first_of_each.values()):
        folder = work / f"case-{number}"
        ct_chest.write(folder, seed=person.seed, person=person, examination=exam, slices=60)
        hu, volume = hounsfield(folder / "baseline" / "ct")
        image = windowed(hu[at_height(volume, HILA_Z)], LUNG)
        habitus = person.habitus
        title = (
            f"{habitus.sex}, size {habitus.size:.2f}, {exam.habits.manufacturer} "
            f"{exam.kernel_name}, {exam.field_of_view:g} mm"
        )
        tiles.append(labelled(np.asarray(Image.fromarray(image).resize((384, 384))), title))
    grid = stacked([side_by_side(tiles[:2]), side_by_side(tiles[2:])])
    Image.fromarray(grid).save(out / "ct-chest-population.png", optimize=True)


def noise_figures(work: Path) -> None:
    """The figures of tests/test_samples_realism.py, printed (the real file, then the sample)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    import test_samples_realism as measured

    hu, pixel = measured._real("bad_sequence.dcm")
    rois = realism.soft_tissue_rois(hu, size=32, count=16, stride=8)
    print("bad_sequence (B30s):", realism.noise_figures(rois, pixel))
    for name, how in (
        ("sample, I30f", ()),
        ("sample, I70f", (ct_chest.Examination(kernel="sharp"),)),
        ("sample before (box-smoothed)", (None, measured._old_box_noise)),
    ):
        rois, pixel, _ = measured._written_noise(work / name.replace(" ", "-"), *how)
        print(f"{name}:", realism.noise_figures(rois, pixel))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--before", type=Path, help="a ct-chest folder of an older version")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        ct_chest.write(work / "library", seed=0)
        before = {"before": args.before / "baseline" / "ct"} if args.before else {}
        now = {"now": work / "library" / "baseline" / "ct"}
        followup = {"follow-up, 182 days": work / "library" / "followup" / "ct"}
        overview({**before, **now, **followup}, args.out)
        lung_detail({**before, **now}, args.out)
        vessels({**before, **now}, args.out)
        population(args.out, work)
        noise_figures(work)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
