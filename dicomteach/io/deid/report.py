"""What de-identification changed, attribute by attribute: the table an instructor reads.

:func:`snapshot` notes the top-level attributes of a dataset before it is
de-identified; :func:`compare` says what happened to each of them afterwards
(removed, emptied, replaced, dates shifted, a sequence cleaned inside);
:class:`ChangeTable` counts those per attribute over a run, so a run over 300
slices reads as one short table ("Patient's Name — replaced — 300 files").
Pixel data are never compared here: blanked regions are counted by
:class:`~dicomteach.io.deid.AnonymizeResult` itself.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from pydicom.datadict import dictionary_description
from pydicom.dataset import Dataset
from pydicom.tag import BaseTag

__all__ = ["Change", "ChangeTable", "compare", "snapshot"]

Snapshot = dict[BaseTag, tuple[str, str, str]]
"""tag -> (name, VR, value as text) of a dataset's top-level attributes."""

_PIXELS = {0x7FE00010, 0x7FE00008, 0x7FE00009}
_PRIVATE = "private attributes"
#: The order actions are listed in, most telling first.
ACTIONS = ("removed", "replaced", "shifted", "emptied", "cleaned")


@dataclass(frozen=True)
class Change:
    """One attribute's fate in one file."""

    name: str
    """The attribute's name in the standard ("Patient's Name"), or ``private attributes``."""
    action: str
    """One of :data:`ACTIONS`."""


def _name(tag: BaseTag) -> str:
    if tag.is_private:
        return _PRIVATE
    try:
        return dictionary_description(tag)
    except KeyError:
        return f"({tag.group:04X},{tag.element:04X})"


def _text(value: object) -> str:
    return "" if value is None else str(value)


def snapshot(ds: Dataset) -> Snapshot:
    """The top-level attributes of ``ds`` as text (pixel data left out): what :func:`compare` needs.

    >>> from pydicom.dataset import Dataset
    >>> ds = Dataset(); ds.PatientName = "Doe^Jane"
    >>> [(name, vr, value) for name, vr, value in snapshot(ds).values()]
    [("Patient's Name", 'PN', 'Doe^Jane')]
    """
    return {
        elem.tag: (_name(elem.tag), elem.VR, _text(elem.value))
        for elem in ds
        if int(elem.tag) not in _PIXELS and elem.tag.element != 0x0000
    }


def compare(before: Snapshot, after: Dataset) -> list[Change]:
    """What happened to each attribute of ``before`` in ``after``, in tag order (unchanged left out).

    >>> from pydicom.dataset import Dataset
    >>> ds = Dataset(); ds.PatientName = "Doe^Jane"; ds.StudyDate = "20240105"
    >>> ds.InstitutionName = "St Elsewhere"; ds.Modality = "CT"
    >>> noted = snapshot(ds)
    >>> ds.PatientName = "DT1234"; ds.StudyDate = "20231201"; del ds.InstitutionName
    >>> [(c.name, c.action) for c in compare(noted, ds)]
    [('Study Date', 'shifted'), ('Institution Name', 'removed'), ("Patient's Name", 'replaced')]
    """
    changes = []
    for tag, (name, vr, value) in before.items():
        if tag not in after:
            changes.append(Change(name, "removed"))
            continue
        now = _text(after[tag].value)
        if now == value:
            continue
        if vr == "SQ":
            action = "emptied" if not len(after[tag].value or ()) else "cleaned"
        elif not now.strip():
            action = "emptied"
        elif vr in ("DA", "DT"):
            action = "shifted"
        else:
            action = "replaced"
        changes.append(Change(name, action))
    return changes


@dataclass
class ChangeTable:
    """How many files each (attribute, action) touched, over one run."""

    counts: Counter[Change] = field(default_factory=Counter)
    files: int = 0

    def add(self, changes: Iterable[Change]) -> None:
        """Count one file's changes (an attribute once per file, private ones together)."""
        self.files += 1
        self.counts.update(set(changes))

    def rows(self) -> list[tuple[str, str, int]]:
        """``(attribute, action, files)``: the identifying ones first, by action then name.

        >>> table = ChangeTable()
        >>> table.add([Change("Study Date", "shifted"), Change("Patient's Name", "replaced")])
        >>> table.add([Change("Patient's Name", "replaced")])
        >>> table.rows()
        [("Patient's Name", 'replaced', 2), ('Study Date', 'shifted', 1)]
        """
        return sorted(
            ((c.name, c.action, n) for c, n in self.counts.items()),
            key=lambda row: (ACTIONS.index(row[1]), row[0] == _PRIVATE, row[0].casefold()),
        )
