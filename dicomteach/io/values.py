"""Header values read straight from raw elements, without pydicom's per-access conversion.

Series assembly reads a dozen attributes from every file; pydicom converts a
raw element into a ``DataElement`` on first access, which costs more than
reading the header. :func:`value` decodes the few value representations those
attributes use (PS3.5 6.2) directly and falls back to pydicom for the rest.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset

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
