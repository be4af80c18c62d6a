"""The nodule model's known errors: cases of the held-out evaluation where it was wrong, for teaching.

:mod:`dicomteach.ai.evaluate` selects them from what the shipped model did on
the held-out patients and writes them here (:data:`KNOWN_ERRORS`, format
version :data:`KNOWN_ERRORS_VERSION`): false positives on vessels seen
end-on and on scars, and nodules it missed (faint ground-glass ones among
them). Nothing is staged: each entry is what the model output on a generated
patient, and :func:`case_folder` writes that patient's CT again (the same
bytes, from its seed) so that a lesson can show it.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from dicomteach.ai.errors import ModelError
from dicomteach.ai.runtime import MODELS
from dicomteach.io.atomic import write_atomically
from dicomteach.io.versioned import read_versioned

#: The known-error list of the shipped nodule model.
KNOWN_ERRORS = MODELS / "nodule-known-errors.json"
#: Version of its layout; :func:`read_known_errors` refuses others.
KNOWN_ERRORS_VERSION = 1
#: What a known error is.
KINDS = ("false positive", "missed nodule")


@dataclass(frozen=True)
class KnownError:
    """One error of the model on one held-out case.

    ``what`` names what was there: for a false positive what the model marked
    (``"vessel seen end-on"``, ``"scar"``…), for a miss the finding's kind.
    ``centre_mm`` is in the case CT's patient millimetres (LPS), ``slice``
    the CT slice (0-based, slices ordered from the feet up, as
    :func:`dicomteach.io.load` orders them). ``probability`` is the model's for
    the mark (a false positive), or the highest it gave the missed nodule (0 if
    no candidate touched it).
    """

    kind: str
    what: str
    case: str
    person_seed: int
    maker: str
    kernel: str
    centre_mm: tuple[float, float, float]
    slice: int
    probability: float
    label: str
    """The finding's label (a miss), or what the mark lay on, as a report would say."""


def write_known_errors(
    path: str | os.PathLike[str], errors: list[KnownError], model_sha256: str
) -> Path:
    """Write the list (atomically) for the model whose ONNX file has ``model_sha256``.

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "errors.json"
    >>> _ = write_known_errors(path, read_known_errors()[:1], "0" * 64)
    >>> read_known_errors(path) == read_known_errors()[:1]
    True
    """
    data = {
        "version": KNOWN_ERRORS_VERSION,
        "model_sha256": model_sha256,
        "errors": [asdict(e) for e in errors],
    }
    text = json.dumps(data, indent=1, ensure_ascii=False) + "\n"
    return write_atomically(Path(path), lambda fh: fh.write(text.encode()))


def read_known_errors(path: str | os.PathLike[str] = KNOWN_ERRORS) -> list[KnownError]:
    """The known errors of a list; :class:`ModelError` naming the file when it cannot be read.

    >>> errors = read_known_errors()
    >>> sorted({e.kind for e in errors})
    ['false positive', 'missed nodule']
    """
    path = Path(path)
    data = read_versioned(
        path, what="known-error list", version=KNOWN_ERRORS_VERSION, error=ModelError
    )
    try:
        errors = []
        for item in data["errors"]:
            item = dict(item)
            item["centre_mm"] = tuple(float(v) for v in item["centre_mm"])
            error = KnownError(**item)
            if error.kind not in KINDS:
                raise ValueError(f"kind {error.kind!r}")
            errors.append(error)
        return errors
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"known-error list lacks or garbles a field ({exc})", path) from None


def case_folder(error: KnownError, root: str | os.PathLike[str] | None = None) -> Path:
    """The folder of the error's case (``ct/``, ``seg-findings.dcm``, ``findings.json``), written once.

    Written into ``root`` (default: the sample cache of
    :func:`dicomteach.samples.cache.cache_root`, ``ai-held-out/``) by
    :func:`dicomteach.ai.cases.write_case` when it is not there yet.
    """
    from dicomteach.ai.cases import case_specs

    group, _, number = error.case.rpartition("-")
    spec = case_specs(group, int(number) + 1)[int(number)]
    if spec.person_seed != error.person_seed:
        raise ModelError(f"case {error.case} is not patient {error.person_seed} any more")
    return held_out_folder(spec, root)


def known_error(what: str, path: str | os.PathLike[str] = KNOWN_ERRORS) -> KnownError:
    """The first known error of the list whose ``what`` is ``what`` (``"vessel seen end-on"``,
    ``"ground-glass nodule"``, …): the list is in the order the evaluation selected them.

    >>> known_error("vessel seen end-on").kind
    'false positive'
    >>> known_error("a unicorn")
    Traceback (most recent call last):
    ...
    dicomteach.ai.errors.ModelError: no known error is a unicorn; the list has ...
    """
    known = read_known_errors(path)
    for error in known:
        if error.what == what:
            return error
    kinds = ", ".join(sorted({e.what for e in known}))
    raise ModelError(f"no known error is {what}; the list has {kinds}")


def known_error_case(what: str) -> Path:
    """The case folder of :func:`known_error` ``(what)`` in the sample cache, written once.

    A lesson calls it with the kind written out (``known_error_case("ground-glass
    nodule")``) so that ``dicomteach hub setup`` finds the call in the notebook and writes
    the case before a class opens it: learners never write the hub's sample cache.
    """
    return case_folder(known_error(what))


def held_out_folder(spec, root: str | os.PathLike[str] | None = None, size: int = 512) -> Path:
    """Where a generated case is written as DICOM at matrix ``size`` (writing it the first time)."""
    from dicomteach.ai.cases import generator_digest, write_case
    from dicomteach.samples.cache import cache_root, written_once

    base = Path(root) if root is not None else cache_root() / "ai-held-out"
    target = base / f"{spec.name}-{size}-{spec.person_seed}-{generator_digest()}"
    return written_once(target, lambda staging: write_case(spec, staging, size=size))
