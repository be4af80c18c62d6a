"""Train the nodule model or the radiograph triage model on generated patients; export to ONNX.

The shipped model (``dicomteach/ai/models/nodule.*``) was made by the command
its log begins with (``nodule.log``; docs/ai.md)::

    nice -n 10 python -m dicomteach.ai.train --seed 0 --steps 3000 --cases 64 \\
        --size 512 256 --threads 1 --out dicomteach/ai/models

What it does:

1. makes the first ``--cases`` training patients of :mod:`dicomteach.ai.cases`
   at each matrix of ``--size`` (each once: they are kept in a cache folder,
   ``--cache``), each as its scanner stores it, and puts each on the model's
   grid round its lungs (:mod:`dicomteach.ai.grid`), with the nodules' SEG
   rule as the target;
2. trains :class:`~dicomteach.ai.network.NoduleNet` on patches of five
   slices: three in ten centred near a nodule, three on dense tissue beside
   lung that is no nodule (vessels, airway walls, scars, the pleura), the
   others anywhere in the box round the lungs, flipped at random; loss:
   binary cross-entropy plus soft Dice; Adam, the learning rate falling along
   a cosine; everything from ``--seed``;
3. writes ``nodule.npz`` (the weights), ``nodule.onnx`` (exported from them),
   ``nodule.json`` (what the model reads, its thresholds, the digests of both
   files, how it was trained) and ``nodule.log`` (the command, then the loss
   every ``--log-every`` steps, then how far onnxruntime's outputs are from
   PyTorch's on a batch of training patches).

``--task triage`` trains the chest radiograph triage model instead
(``triage.*``, the command in ``triage.log``; docs/ai.md)::

    nice -n 10 python -m dicomteach.ai.train --task triage --seed 0 --steps 3000 \\
        --cases 160 --batch 12 --patch 128 --threads 1 --out dicomteach/ai/models

1. makes the normal and the abnormal film of each of the first ``--cases``
   training patients of :mod:`dicomteach.ai.films` (kept in ``--cache``,
   default ``ai-films/`` in the sample cache), each read as a learner's film
   is (:func:`~dicomteach.ai.grid.film_grid`: averaged down to 1.2 mm,
   scaled), with the abnormal film's nodules and masses as the target
   (:func:`film_arrays`);
2. trains the same U-Net with one channel in on crops of the films
   (:class:`FilmPatches`: two in five near a lesion, the rest anywhere, grey
   levels bent by a random power), with the same loss, optimiser and schedule;
3. writes ``triage.npz``, ``triage.onnx``, ``triage.json`` and ``triage.log``
   as above (the check: a whole film through both).

Needs PyTorch, onnx and onnxscript: ``pip install 'dicomteach[ai-train]'``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shlex
import sys
import time
from pathlib import Path

import numpy as np

from dicomteach.ai import cases as generated
from dicomteach.ai.errors import require
from dicomteach.ai.grid import MODEL_SPACING, lung_box, model_grid, normalise
from dicomteach.ai.runtime import Description, describe, digest, model_paths

#: Slices either side of the one the network reads.
CONTEXT = 2
#: Share of the patches centred near a nodule, and on dense tissue beside lung that is no
#: nodule (vessels, airway walls, scars, the pleura); the others lie anywhere round the lungs.
POSITIVE_SHARE = 0.3
DENSE_SHARE = 0.3
#: What a cached training case holds: change it when its making changes outside the sample
#: library and :mod:`dicomteach.ai.cases` (whose code names the cache itself), e.g. the grid.
DATA_VERSION = 1
#: Probability at or above which a region becomes a candidate, and the outline's level.
DETECTION_THRESHOLD = 0.1
CONTOUR_THRESHOLD = 0.5


def _cache_key(spec: generated.CaseSpec, size: int, slices: int) -> str:
    """The cached arrays' name: the case, its matrix, and the code that made them."""
    key = repr((spec, size, slices, MODEL_SPACING, DATA_VERSION)) + generated.generator_digest()
    return f"{spec.name}-{hashlib.sha256(key.encode()).hexdigest()[:16]}"


def training_arrays(
    spec: generated.CaseSpec, size: int, slices: int, cache: Path
) -> dict[str, np.ndarray]:
    """One training case on the model's grid: ``hu`` (int16) and ``target`` (0…1, uint8 ×255)."""
    path = cache / f"{_cache_key(spec, size, slices)}.npz"
    if path.is_file():
        with np.load(path) as data:
            return {key: data[key] for key in data.files}
    case = generated.render_case(spec, size=size, slices=slices)
    box = lung_box(case.hu, case.spacing)
    if box is None:
        box = tuple(slice(0, n) for n in case.hu.shape)  # type: ignore[assignment]
    grid = model_grid(case.hu, case.spacing, box)
    target = model_grid(case.mask().astype(np.float32), case.spacing, box).hu
    arrays = {
        "hu": np.rint(grid.hu).clip(-32768, 32767).astype(np.int16),
        "target": np.rint(np.clip(target, 0.0, 1.0) * 255).astype(np.uint8),
    }
    cache.mkdir(parents=True, exist_ok=True)
    staging = path.with_suffix(f".{os.getpid()}.tmp.npz")
    np.savez_compressed(staging, **arrays)
    staging.replace(path)
    return arrays


class Patches:
    """Random training patches of the cases: five slices in, the middle slice's target out."""

    def __init__(self, data: list[dict[str, np.ndarray]], patch: int, rng: np.random.Generator):
        from scipy import ndimage

        self.data, self.patch, self.rng = data, patch, rng
        self.positives = [np.argwhere(d["target"] >= 128).astype(np.int16) for d in data]
        # what a nodule must be told from: tissue denser than lung, with lung within 3 voxels
        self.dense = [
            np.argwhere(
                (d["hu"] > -400)
                & (d["target"] == 0)
                & (ndimage.minimum_filter(d["hu"], size=(1, 7, 7)) < -700)
            ).astype(np.int16)
            for d in data
        ]

    def batch(self, size: int) -> tuple[np.ndarray, np.ndarray]:
        """``size`` patches: inputs ``(size, 5, p, p)`` normalised, targets ``(size, 1, p, p)``."""
        p, rng = self.patch, self.rng
        inputs = np.empty((size, 2 * CONTEXT + 1, p, p), dtype=np.float32)
        targets = np.empty((size, 1, p, p), dtype=np.float32)
        for n in range(size):
            which = int(rng.integers(len(self.data)))
            hu, target = self.data[which]["hu"], self.data[which]["target"]
            positives, dense = self.positives[which], self.dense[which]
            draw = rng.random()
            if len(positives) and draw < POSITIVE_SHARE:
                k, i, j = (int(v) for v in positives[int(rng.integers(len(positives)))])
                i += int(rng.integers(-p // 3, p // 3 + 1))
                j += int(rng.integers(-p // 3, p // 3 + 1))
            elif len(dense) and draw < POSITIVE_SHARE + DENSE_SHARE:
                k, i, j = (int(v) for v in dense[int(rng.integers(len(dense)))])
            else:
                k, i, j = (int(rng.integers(n_)) for n_ in hu.shape)
            ks = np.clip(np.arange(k - CONTEXT, k + CONTEXT + 1), 0, hu.shape[0] - 1)
            rows = np.clip(np.arange(i - p // 2, i - p // 2 + p), 0, hu.shape[1] - 1)
            cols = np.clip(np.arange(j - p // 2, j - p // 2 + p), 0, hu.shape[2] - 1)
            x = normalise(hu[np.ix_(ks, rows, cols)].astype(np.float32))
            y = target[np.ix_([k], rows, cols)].astype(np.float32) / 255.0
            if rng.random() < 0.5:
                x, y = x[:, ::-1], y[:, ::-1]
            if rng.random() < 0.5:
                x, y = x[:, :, ::-1], y[:, :, ::-1]
            if rng.random() < 0.5:  # the body's axis either way: slices in the other order
                x = x[::-1]
            inputs[n], targets[n] = x, y
        return inputs, targets


def _fit(torch, net, patches, args: argparse.Namespace, log) -> float:
    """Train ``net`` for ``args.steps`` batches of ``patches``; returns the last logged mean loss.

    Either model's loop: Adam at ``args.lr``, the learning rate falling along a
    cosine to a twentieth of it, loss :func:`_loss`; every ``args.log_every``
    steps (and at the last) the mean loss since the previous line is logged.
    ``patches`` is anything with ``batch(size) -> (inputs, targets)``.
    """
    optimiser = torch.optim.Adam(net.parameters(), lr=args.lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(
        optimiser, T_max=args.steps, eta_min=args.lr / 20
    )
    window: list[float] = []
    logged = float("nan")
    started = time.perf_counter()
    for step in range(1, args.steps + 1):
        x, y = patches.batch(args.batch)
        net.train()
        loss = _loss(torch, net(torch.from_numpy(x)), torch.from_numpy(y))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        window.append(float(loss.detach()))
        if step % args.log_every == 0 or step == args.steps:
            logged = float(np.mean(window))
            log(f"step {step} loss {logged:.4f} ({time.perf_counter() - started:.0f} s)")
            window = []
    return logged


def _loss(torch, logits, target):
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, target)
    p = torch.sigmoid(logits)
    dice = (2.0 * (p * target).sum() + 1.0) / (p.sum() + target.sum() + 1.0)
    return bce + (1.0 - dice)


def export_onnx(net, path: Path, example: np.ndarray) -> None:
    """The network (eval mode) as ONNX, any batch and any rows and columns that are multiples of 8."""
    import logging
    import warnings

    torch = require("torch", "exporting the nodule model", "ai-train")
    # the exporter names the torchvision operators it skips; the network uses none
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    batch, h8, w8 = (torch.export.Dim(name, min=1, max=1024) for name in ("batch", "h8", "w8"))
    with warnings.catch_warnings(), _quiet():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            net,
            (torch.from_numpy(example),),
            dynamo=True,
            external_data=False,
            input_names=["slices"],
            output_names=["logits"],
            dynamic_shapes=({0: batch, 2: 8 * h8, 3: 8 * w8},),
            verbose=False,
        )
        program.save(str(path), external_data=False)


class _quiet:
    """Keep the exporter's progress lines (printed to stdout) out of the training log."""

    def __enter__(self):
        self.stdout = sys.stdout
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115

    def __exit__(self, *exc):
        sys.stdout.close()
        sys.stdout = self.stdout


def train(args: argparse.Namespace, log) -> dict[str, object]:
    """Train as ``args`` says, writing to ``log``; returns what the description keeps."""
    torch = require("torch", "training the nodule model", "ai-train")
    from dicomteach.ai.network import NoduleNet, from_arrays, state_arrays

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    specs = generated.case_specs("training", args.first_case + args.cases)[args.first_case :]
    started = time.perf_counter()
    data = []
    for spec in specs:
        for size in args.size:
            data.append(training_arrays(spec, size, args.slices, Path(args.cache)))
            positives = int((data[-1]["target"] >= 128).sum())
            log(
                f"case {spec.name} {spec.maker} {spec.examination.kernel} {size}×{size} "
                f"grid {data[-1]['hu'].shape} nodule voxels {positives}"
            )
    log(f"data ready in {time.perf_counter() - started:.0f} s")
    net = NoduleNet(slices=2 * CONTEXT + 1, width=args.width)
    logged = _fit(torch, net, Patches(data, args.patch, rng), args, log)

    paths = model_paths(args.name, args.out)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    weights = state_arrays(net)
    np.savez(paths["npz"], **weights)
    net = from_arrays(dict(np.load(paths["npz"])), 2 * CONTEXT + 1, args.width)
    example, _ = Patches(data, 64, np.random.default_rng(args.seed + 1)).batch(4)
    export_onnx(net, paths["onnx"], example)

    ort = require("onnxruntime", "checking the exported model", "ai")
    session = ort.InferenceSession(str(paths["onnx"]), providers=["CPUExecutionProvider"])
    check, _ = Patches(data, 96, np.random.default_rng(args.seed + 2)).batch(8)
    with torch.no_grad():
        expected = net(torch.from_numpy(check)).numpy()
    got = session.run(None, {session.get_inputs()[0].name: check})[0]
    difference = float(np.abs(got - expected).max())
    log(f"onnxruntime vs PyTorch on 8 patches: largest difference in logits {difference:.2e}")
    return {"final_loss": round(logged, 4), "difference": difference}


# ---------------------------------------------------------------------------
# the chest radiograph triage model

#: Share of the triage model's patches centred near a nodule or mass of an abnormal film.
LESION_SHARE = 0.4
#: A lesion's target on the model's grid: where its shadow is at least this share of its thickest.
LESION_LEVEL = 0.4
#: Score at or above which a film is flagged, and the level of the heat map's outline.
FLAG_THRESHOLD = 0.5


def film_arrays(spec, cache: Path) -> dict[str, np.ndarray]:
    """A patient's two training films on the triage model's grid, and the abnormal one's target.

    ``normal``, ``abnormal``: the network's input (float16, :func:`~dicomteach.ai.grid.film_grid`
    of the stored film, as a learner's film is read); ``target``: the abnormal film's lesions
    (uint8 0/1), each where its projected thickness is at least :data:`LESION_LEVEL` of its
    thickest.
    """
    from dicomteach.ai import films
    from dicomteach.ai.grid import FILM_PIXEL_MM, film_grid

    key = repr((spec, FILM_PIXEL_MM, LESION_LEVEL, DATA_VERSION)) + films.generator_digest()
    path = cache / f"{spec.name}-{hashlib.sha256(key.encode()).hexdigest()[:16]}.npz"
    if path.is_file():
        with np.load(path) as data:
            return {key: data[key] for key in data.files}
    normal, abnormal = films.render_films(spec)
    arrays: dict[str, np.ndarray] = {}
    for film in (normal, abnormal):
        values = -film.pixels.astype(np.float32)  # MONOCHROME1: dense parts low
        if film.spec.habits.photometric == "MONOCHROME2":
            values = -values
        grid = film_grid(values, film.pixel_mm)
        arrays["abnormal" if film.abnormal else "normal"] = grid.astype(np.float16)
    target = np.zeros(arrays["abnormal"].shape, dtype=np.uint8)
    for finding, thickness in zip(abnormal.findings, abnormal.lesion_maps, strict=True):
        if finding.kind in films.LESION_KINDS and thickness.max() > 0:
            small = _block_mean(thickness, arrays["abnormal"].shape)
            target |= (small >= LESION_LEVEL * small.max()).astype(np.uint8)
    arrays["target"] = target
    cache.mkdir(parents=True, exist_ok=True)
    staging = path.with_suffix(f".{os.getpid()}.tmp.npz")
    np.savez_compressed(staging, **arrays)
    staging.replace(path)
    return arrays


def _block_mean(image: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``image`` averaged down to ``shape`` as :func:`~dicomteach.ai.grid.film_grid` does (unscaled)."""
    from scipy import ndimage

    k = max(image.shape[0] // shape[0], 1)
    rows, columns = (n // k * k for n in image.shape)
    small = image[:rows, :columns].reshape(rows // k, k, columns // k, k).mean(axis=(1, 3))
    if small.shape != tuple(shape):
        small = ndimage.zoom(
            small, (shape[0] / small.shape[0], shape[1] / small.shape[1]), order=1, grid_mode=True
        )
    return small[: shape[0], : shape[1]]


class FilmPatches:
    """Random crops of the training films: the film in, its lesions' target out.

    A share (:data:`LESION_SHARE`) are centred near a lesion of an abnormal
    film; the others lie anywhere on a normal or an abnormal film. Each crop's
    grey levels are bent by a random power (0.7 to 1.4), as another device's
    tone curve would.
    """

    def __init__(self, data: list[dict[str, np.ndarray]], patch: int, rng: np.random.Generator):
        self.patch, self.rng = patch, rng
        self.films = [
            (d[name], d["target"] if name == "abnormal" else None)
            for d in data
            for name in ("normal", "abnormal")
        ]
        self.lesions = [
            np.argwhere(t > 0) if t is not None else np.zeros((0, 2), int) for _, t in self.films
        ]
        self.with_lesion = [n for n, les in enumerate(self.lesions) if len(les)]

    def batch(self, size: int) -> tuple[np.ndarray, np.ndarray]:
        """``size`` crops: inputs ``(size, 1, p, p)``, targets ``(size, 1, p, p)``."""
        p, rng = self.patch, self.rng
        inputs = np.empty((size, 1, p, p), dtype=np.float32)
        targets = np.zeros((size, 1, p, p), dtype=np.float32)
        for n in range(size):
            if self.with_lesion and rng.random() < LESION_SHARE:
                which = self.with_lesion[int(rng.integers(len(self.with_lesion)))]
                i, j = self.lesions[which][int(rng.integers(len(self.lesions[which])))]
                i += int(rng.integers(-p // 3, p // 3 + 1))
                j += int(rng.integers(-p // 3, p // 3 + 1))
            else:
                which = int(rng.integers(len(self.films)))
                i, j = (int(rng.integers(m)) for m in self.films[which][0].shape)
            image, target = self.films[which]
            rows = np.clip(np.arange(i - p // 2, i - p // 2 + p), 0, image.shape[0] - 1)
            cols = np.clip(np.arange(j - p // 2, j - p // 2 + p), 0, image.shape[1] - 1)
            x = image[np.ix_(rows, cols)].astype(np.float32)
            unit = np.clip((x + 2.5) / 5.0, 0.0, 1.0) ** rng.uniform(0.7, 1.4)
            inputs[n, 0] = unit * 5.0 - 2.5
            if target is not None:
                targets[n, 0] = target[np.ix_(rows, cols)]
        return inputs, targets


def train_triage(args: argparse.Namespace, log) -> dict[str, object]:
    """Train the triage model as ``args`` says, writing to ``log``; returns what the description keeps."""
    from dicomteach.ai import films

    torch = require("torch", "training the triage model", "ai-train")
    from dicomteach.ai.network import NoduleNet, from_arrays, state_arrays

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    specs = films.film_specs("training", args.first_case + args.cases)[args.first_case :]
    started = time.perf_counter()
    data = []
    for spec in specs:
        data.append(film_arrays(spec, Path(args.cache)))
        log(
            f"patient {spec.name} ({spec.person_seed}) grid {data[-1]['normal'].shape} "
            f"lesion pixels {int(data[-1]['target'].sum())}"
        )
    log(f"data ready in {time.perf_counter() - started:.0f} s")
    net = NoduleNet(slices=1, width=args.width)
    logged = _fit(torch, net, FilmPatches(data, args.patch, rng), args, log)

    paths = model_paths(args.name, args.out)
    weights = state_arrays(net)
    np.savez(paths["npz"], **weights)
    net = from_arrays(dict(np.load(paths["npz"])), 1, args.width)
    example, _ = FilmPatches(data, 64, np.random.default_rng(args.seed + 1)).batch(2)
    export_onnx(net, paths["onnx"], example)
    ort = require("onnxruntime", "checking the exported model", "ai")
    session = ort.InferenceSession(str(paths["onnx"]), providers=["CPUExecutionProvider"])
    check = np.stack([data[0]["abnormal"].astype(np.float32)])[:, None]
    rows, cols = (n // 8 * 8 for n in check.shape[2:])
    check = np.ascontiguousarray(check[:, :, :rows, :cols])
    with torch.no_grad():
        expected = net(torch.from_numpy(check)).numpy()
    got = session.run(None, {session.get_inputs()[0].name: check})[0]
    difference = float(np.abs(got - expected).max())
    log(f"onnxruntime vs PyTorch on a whole film: largest difference in logits {difference:.2e}")
    return {"final_loss": round(logged, 4), "difference": difference}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dicomteach.ai.train", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--task",
        choices=("nodule", "triage"),
        default="nodule",
        help="the nodule model on chest CT, or the chest radiograph triage model",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of weights and patches")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--cases", type=int, default=64, help="training patients")
    parser.add_argument("--first-case", type=int, default=0, help="skip this many patients")
    parser.add_argument(
        "--size",
        type=int,
        nargs="+",
        default=list(generated.SIZES),
        help="matrices each patient's CT is made at",
    )
    parser.add_argument("--slices", type=int, default=generated.SLICES, help="slices of each CT")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--patch", type=int, default=96, help="patch rows and columns (÷8)")
    parser.add_argument("--width", type=int, default=16, help="channels of the first level")
    parser.add_argument("--lr", type=float, default=2e-3)
    # one thread: on a machine shared with other work, two threads wait on each other
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--log-every", type=int, default=50)
    parser.add_argument("--name", default=None, help="file names of the model (default: the task)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "models"))
    parser.add_argument("--cache", default=None, help="folder for the generated cases")
    args = parser.parse_args(argv)
    if args.patch % 8:
        parser.error("--patch must be a multiple of 8")
    args.name = args.name or args.task
    if args.cache is None:
        from dicomteach.samples.cache import cache_root

        folder = "ai-training" if args.task == "nodule" else "ai-films"
        args.cache = str(cache_root() / folder)
    torch = require("torch", f"training the {args.task} model", "ai-train")
    ort = require("onnxruntime", "checking the exported model", "ai")

    paths = model_paths(args.name, args.out)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    shown = [a for a in (argv if argv is not None else sys.argv[1:])]
    command = "python -m dicomteach.ai.train " + shlex.join(shown)
    with open(paths["log"], "w", encoding="utf-8") as log_file:

        def log(line: str) -> None:
            print(line, flush=True)
            log_file.write(line + "\n")
            log_file.flush()

        log(f"command: {command}")
        log(
            f"torch {torch.__version__}, onnxruntime {ort.__version__}, numpy {np.__version__}, "
            f"{args.threads} threads"
        )
        started = time.perf_counter()
        outcome = (train if args.task == "nodule" else train_triage)(args, log)
        log(f"done in {time.perf_counter() - started:.0f} s")

    training: dict[str, object] = {"command": command, "seed": args.seed, "steps": args.steps}
    if args.task == "nodule":
        training |= {
            "cases": [
                s.name for s in generated.case_specs("training", args.first_case + args.cases)
            ][args.first_case :],
            "population_seed": generated.TRAINING_SEED,
            "makers": list(generated.TRAINING_MAKERS),
            "matrices": [[args.slices, size, size] for size in args.size],
        }
        spacing, context = MODEL_SPACING, CONTEXT
        thresholds = DETECTION_THRESHOLD, CONTOUR_THRESHOLD
    else:
        from dicomteach.ai import films
        from dicomteach.ai.grid import FILM_PIXEL_MM

        specs = films.film_specs("training", args.first_case + args.cases)[args.first_case :]
        training |= {
            "cases": [s.name for s in specs],
            "films": 2 * len(specs),
            "population_seed": films.TRAINING_SEED,
            "habits": films.AGFA_CR.name,
            "matrix": [films.AGFA_CR.rows, films.AGFA_CR.columns],
        }
        spacing, context = (FILM_PIXEL_MM, FILM_PIXEL_MM), 0
        thresholds = FLAG_THRESHOLD, FLAG_THRESHOLD
    training |= {
        "batch": args.batch,
        "patch": args.patch,
        "learning_rate": args.lr,
        "torch": torch.__version__,
        **outcome,
    }
    describe(
        paths["json"],
        Description(
            name=args.name,
            spacing=spacing,  # type: ignore[arg-type]
            context=context,
            width=args.width,
            detection_threshold=thresholds[0],
            contour_threshold=thresholds[1],
            onnx_sha256=digest(paths["onnx"]),
            weights_sha256=digest(paths["npz"]),
            training=training,
        ),
    )
    print(json.dumps({"model": str(paths["onnx"]), **outcome}))
    return 0


def run(argv: list[str] | None = None) -> int:
    """:func:`main`, with a :class:`~dicomteach.errors.DicomTeachError` as one line and status 2."""
    from dicomteach.errors import DicomTeachError

    try:
        return main(argv)
    except DicomTeachError as exc:
        print(f"dicomteach: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(run())
