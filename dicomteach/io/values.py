"""Header values read straight from raw elements, without pydicom's per-access conversion.

Series assembly reads a dozen attributes from every file; pydicom converts a
raw element into a ``DataElement`` on first access, which costs more than
reading the header. :func:`value` decodes the few value representations those
attributes use (PS3.5 6.2) directly and falls back to pydicom for the rest.
"""

from __future__ import annotations

import struct
import warnings
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

#: Text VRs restricted to the default repertoire (no Specific Character Set applies).
_TEXT_VRS = frozenset({"AE", "AS", "CS", "DA", "DT", "TM", "UI"})
_BINARY = {"US": "H", "SS": "h", "UL": "I", "SL": "i", "FL": "f", "FD": "d"}


@lru_cache(maxsize=512)
def _tag(keyword: str) -> int:
    tag = tag_for_keyword(keyword)
    if tag is None:
        raise KeyError(keyword)
    return int(tag)


@lru_cache(maxsize=512)
def _vr(tag: int) -> str:
    try:
        return dictionary_VR(tag)
    except KeyError:
        return "UN"


@lru_cache(maxsize=256)
def _unpacker(little: bool, code: str, count: int) -> Callable[[bytes], tuple[Any, ...]]:
    return struct.Struct(f"{'<' if little else '>'}{count}{code}").unpack


def value(ds: Dataset, keyword: str, default: Any = None) -> Any:
    """``ds.get(keyword, default)`` with fast decoding of raw numbers, codes and UIDs.

    Multi-valued elements give a list, single values a scalar; DS gives float,
    IS int, text a stripped str. Empty elements give ``default``.
    """
    tag = _tag(keyword)
    elem = ds._dict.get(tag)  # noqa: SLF001 - the raw element, without converting it
    if elem is None:
        return default
    if not isinstance(elem, RawDataElement) or elem.value is None:
        v = ds.get(keyword, default)
        return default if v is None or v == "" else v
    raw = elem.value
    if not raw:
        return default
    vr = elem.VR or _vr(tag)
    if vr in ("DS", "IS"):
        parts = raw.decode("latin-1").strip(" \x00").split("\\")
        try:
            nums = [float(p) if vr == "DS" else int(float(p)) for p in parts if p.strip()]
        except ValueError:
            v = ds.get(keyword, default)  # let pydicom decide about damaged numbers
            return default if v is None or v == "" else v
        if not nums:
            return default
        return nums[0] if len(nums) == 1 else nums
    if vr in _TEXT_VRS:
        parts = [p.strip(" \x00") for p in raw.decode("latin-1").split("\\")]
        if not any(parts):
            return default
        return parts[0] if len(parts) == 1 else parts
    if vr in _BINARY:
        code = _BINARY[vr]
        size = struct.calcsize(code)
        if len(raw) % size:
            return ds.get(keyword, default)
        nums = _unpacker(elem.is_little_endian, code, len(raw) // size)(raw)
        return nums[0] if len(nums) == 1 else list(nums)
    v = ds.get(keyword, default)
    return default if v is None or v == "" else v


def value_count(ds: Dataset, keyword: str) -> int:
    """How many values an element holds, counted on its raw bytes without decoding them.

    What a caller checks against its limits before asking for
    :func:`decimals` of an element that may hold millions of numbers.

    >>> ds = Dataset(); ds.ContourData = [1.5, -2.0, 3.0]
    >>> value_count(ds, "ContourData"), value_count(ds, "PixelSpacing")
    (3, 0)
    """
    elem = ds._dict.get(_tag(keyword))  # noqa: SLF001 - the raw element, without converting it
    if elem is None:
        return 0
    if isinstance(elem, RawDataElement) and elem.value is not None:
        raw = elem.value.strip(b" \x00")
        return raw.count(b"\\") + 1 if raw else 0
    return len(_converted(ds, keyword))


def decimals(ds: Dataset, keyword: str) -> np.ndarray:
    """A Decimal String element's values (PS3.5 6.2, DS) as float64, parsed in one pass.

    pydicom makes one Python object per value, which for a contour of a
    million points costs seconds and hundreds of MiB; this parses the raw
    text in C. Raises ``ValueError`` for a value that is not a number.

    >>> ds = Dataset(); ds.ContourData = ["1.5", "-2e1", "3"]
    >>> decimals(ds, "ContourData").tolist()
    [1.5, -20.0, 3.0]
    """
    elem = ds._dict.get(_tag(keyword))  # noqa: SLF001 - the raw element, without converting it
    if elem is None:
        return np.zeros(0)
    if not (isinstance(elem, RawDataElement) and elem.value is not None):
        return np.array([float(x) for x in _converted(ds, keyword)], dtype=float)
    text = elem.value.decode("latin-1").strip(" \x00")
    if not text:
        return np.zeros(0)
    with warnings.catch_warnings():
        # numpy warns, and stops, at the first value that is not a number
        warnings.simplefilter("error", DeprecationWarning)
        try:
            out = np.fromstring(text, dtype=float, sep="\\")
        except (ValueError, DeprecationWarning):
            out = None
    if out is None or len(out) != text.count("\\") + 1:
        raise ValueError(f"{keyword} holds a value that is not a decimal number")
    return out


def _converted(ds: Dataset, keyword: str) -> list[Any]:
    """The element's values through pydicom, as a list (empty when absent or empty)."""
    v = ds.get(keyword)
    if v is None or v == "":
        return []
    return list(v) if isinstance(v, MultiValue | list | tuple) else [v]
