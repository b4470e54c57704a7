"""Checks an SR before :func:`workstation.export.sr.read_sr` trusts it, and the reader's boundary.

A crafted SR (another SOP class, no content, a value of the wrong type, coordinates of no patient,
a content tree nested without end) is refused with one line naming the file and the content item
(``content 1.4.2 (SCOORD3D) GraphicData ...``), never its values. The tree is walked iteratively,
so no nesting reaches Python's recursion limit; :func:`guarded` turns whatever the reader itself
still raises into an :class:`~workstation.errors.InputError` line and logs the detail.

Value types and their required attributes follow DICOM PS3.3 C.17.3 (SR Document Content Module)
and C.18 (Content Item and Attribute descriptions).
"""
from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable
from typing import Any, TypeVar

import pydicom
from pydicom.dataset import Dataset

from ..errors import PASS_THROUGH, InputError, WorkstationError, one_line
from ..jsonsafe import MAX_BYTES as MAX_TEXT_BYTES
from ..jsonsafe import loads as strict_json
from ..logs import record_failure

#: SR Storage SOP classes (PS3.4 B.5): Basic Text, Enhanced, Comprehensive, Comprehensive 3D, Extensible
SR_SOP_CLASSES = {"1.2.840.10008.5.1.4.1.1.88.11", "1.2.840.10008.5.1.4.1.1.88.22",
                  "1.2.840.10008.5.1.4.1.1.88.33", "1.2.840.10008.5.1.4.1.1.88.34",
                  "1.2.840.10008.5.1.4.1.1.88.35"}
#: Value Type defined terms (PS3.3 C.17.3.2.1)
VALUE_TYPES = {"TEXT", "NUM", "CODE", "DATETIME", "DATE", "TIME", "UIDREF", "PNAME", "COMPOSITE", "IMAGE",
               "WAVEFORM", "SCOORD", "SCOORD3D", "TCOORD", "CONTAINER", "TABLE"}
#: Graphic Type enumerated values (PS3.3 C.18.6.1.2 and C.18.9.1.2)
GRAPHIC_TYPES_3D = {"POINT", "MULTIPOINT", "POLYLINE", "POLYGON", "ELLIPSE", "ELLIPSOID"}
GRAPHIC_TYPES_2D = {"POINT", "MULTIPOINT", "POLYLINE", "CIRCLE", "ELLIPSE"}
#: largest SR file read (a TID 1500 report with a few hundred measurements is well under 1 MB)
MAX_SR_BYTES = 64 * 1024 * 1024
#: deepest content tree accepted (TID 1500 nests 5-6 levels)
MAX_DEPTH = 32
#: most content items accepted
MAX_ITEMS = 200_000
#: largest absolute patient coordinate (mm) that is not absurd: 10 m from the origin
MAX_ABS_MM = 10_000.0
#: largest image (pixel) coordinate accepted for SCOORD
MAX_ABS_PIXEL = 1_000_000.0

F = TypeVar("F", bound=Callable[..., Any])


class _Refused(Exception):
    """A content item that fails a check: the field and the problem (never its value)."""


def check_sr_file(path: str | os.PathLike[str]) -> Dataset:
    """Read ``path`` and check that it is an SR whose content tree is sound; the dataset, or an
    :class:`InputError` naming the file and the content item."""
    ds = _read(path)
    sop = str(ds.get("SOPClassUID", "") or "")
    if sop not in SR_SOP_CLASSES:
        raise InputError(f"{path}: SOPClassUID is not an SR storage class: not a structured report")
    if str(ds.get("ValueType", "")) != "CONTAINER":
        raise InputError(f"{path}: the document's root content item is not a CONTAINER (ValueType)")
    content = ds.get("ContentSequence")
    if not content:
        raise InputError(f"{path}: ContentSequence missing or empty: the SR has no content")
    try:
        _walk(content)
    except _Refused as exc:
        raise InputError(one_line(f"{path}: {exc}")) from None
    return ds


def _read(path: str | os.PathLike[str]) -> Dataset:
    from ..dicom.sources import open_regular

    try:
        with open_regular(os.fspath(path)) as f:
            size = os.fstat(f.fileno()).st_size
            if size > MAX_SR_BYTES:
                raise InputError(f"{path}: {size} bytes, more than the limit of {MAX_SR_BYTES} for an SR")
            return pydicom.dcmread(f)
    except WorkstationError:
        raise
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except BaseException as exc:  # noqa: BLE001 - any failure of the parser is this file's
        if isinstance(exc, PASS_THROUGH):
            raise
        record_failure(exc, f"SR {path}")
        raise InputError(f"{path}: not a readable DICOM file ({type(exc).__name__})") from None


def _walk(content: Any) -> None:
    """Every content item, depth-first without recursion."""
    stack: list[tuple[str, Any, int]] = [(str(i + 1), it, 1) for i, it in enumerate(content)][::-1]
    count = 0
    while stack:
        where, item, depth = stack.pop()
        count += 1
        if count > MAX_ITEMS:
            raise _Refused(f"more than {MAX_ITEMS} content items")
        if depth > MAX_DEPTH:
            raise _Refused(f"content {where}: nested more than {MAX_DEPTH} levels deep")
        _check_item(where, item)
        children = _get(item, "ContentSequence", where) or []
        stack.extend((f"{where}.{i + 1}", it, depth + 1) for i, it in reversed(list(enumerate(children))))


def _get(item: Dataset, keyword: str, where: str) -> Any:
    try:
        return item.get(keyword)
    except Exception:  # noqa: BLE001 - a malformed value is named, not echoed
        raise _Refused(f"content {where}: {keyword} malformed") from None


def _check_item(where: str, item: Any) -> None:
    if not isinstance(item, Dataset):
        raise _Refused(f"content {where}: not a content item")
    if "ReferencedContentItemIdentifier" in item:  # by-reference relationship: no value of its own
        return
    vt = str(_get(item, "ValueType", where) or "")
    if vt not in VALUE_TYPES:
        raise _Refused(f"content {where}: ValueType missing or not a DICOM value type")
    _check_concept(where, item)
    check = _VALUE_CHECKS.get(vt)
    if check is not None:
        check(f"content {where} ({vt})", item)


def _check_concept(where: str, item: Dataset) -> None:
    seq = _get(item, "ConceptNameCodeSequence", where)
    if seq is None:
        return  # optional on some items (PS3.3 C.17.3.2.2: Type 1C)
    if len(seq) != 1 or not isinstance(seq[0], Dataset):
        raise _Refused(f"content {where}: ConceptNameCodeSequence must hold one code")
    code = seq[0]
    value = _get(code, "CodeValue", where) or _get(code, "LongCodeValue", where) or _get(code, "URNCodeValue", where)
    if not isinstance(value, str) or not value:
        raise _Refused(f"content {where}: ConceptNameCodeSequence CodeValue missing")
    if "CodeValue" in code and not isinstance(_get(code, "CodingSchemeDesignator", where), str):
        raise _Refused(f"content {where}: ConceptNameCodeSequence CodingSchemeDesignator missing")


def _numbers(where: str, item: Dataset, keyword: str) -> list[float]:
    raw = _get(item, keyword, where)
    if raw is None:
        raise _Refused(f"{where}: {keyword} missing")
    vals = list(raw) if hasattr(raw, "__iter__") and not isinstance(raw, (str, bytes)) else [raw]
    try:
        out = [float(v) for v in vals]
    except (TypeError, ValueError, OverflowError):
        raise _Refused(f"{where}: {keyword} is not a list of numbers") from None
    if not all(math.isfinite(v) for v in out):
        raise _Refused(f"{where}: {keyword} holds a value that is not a finite number")
    return out


def _check_text(where: str, item: Dataset) -> None:
    v = _get(item, "TextValue", where)
    if not isinstance(v, str):
        raise _Refused(f"{where}: TextValue missing or not text")
    if len(v) > MAX_TEXT_BYTES:
        raise _Refused(f"{where}: TextValue longer than {MAX_TEXT_BYTES} characters")
    if v.lstrip().startswith("{"):  # an embedded findings document: strict JSON or refused
        try:
            strict_json(v)
        except WorkstationError as exc:
            raise _Refused(f"{where}: embedded JSON {exc}") from None
        except ValueError:
            pass  # free text that happens to start with a brace; the reader ignores it


def _check_num(where: str, item: Dataset) -> None:
    mv = _get(item, "MeasuredValueSequence", where)
    if mv is None or len(mv) == 0:
        return  # an empty measurement carries a qualifier instead (PS3.3 C.18.1)
    if len(mv) != 1 or not isinstance(mv[0], Dataset):
        raise _Refused(f"{where}: MeasuredValueSequence must hold one value")
    _numbers(where, mv[0], "NumericValue")
    units = _get(mv[0], "MeasurementUnitsCodeSequence", where)
    if not units or len(units) != 1:
        raise _Refused(f"{where}: MeasurementUnitsCodeSequence missing")


def _check_code(where: str, item: Dataset) -> None:
    seq = _get(item, "ConceptCodeSequence", where)
    if not seq or len(seq) != 1 or not isinstance(seq[0], Dataset):
        raise _Refused(f"{where}: ConceptCodeSequence must hold one code")
    if not isinstance(_get(seq[0], "CodeValue", where) or _get(seq[0], "LongCodeValue", where), str):
        raise _Refused(f"{where}: ConceptCodeSequence CodeValue missing")


def _check_scoord3d(where: str, item: Dataset) -> None:
    gt = str(_get(item, "GraphicType", where) or "")
    if gt not in GRAPHIC_TYPES_3D:
        raise _Refused(f"{where}: GraphicType missing or not a 3D graphic type")
    pts = _numbers(where, item, "GraphicData")
    if not pts or len(pts) % 3:
        raise _Refused(f"{where}: GraphicData is not a list of (x, y, z) points")
    if any(abs(v) > MAX_ABS_MM for v in pts):
        raise _Refused(f"{where}: GraphicData lies more than {MAX_ABS_MM:g} mm from the patient origin")
    if not _get(item, "ReferencedFrameOfReferenceUID", where):
        raise _Refused(f"{where}: ReferencedFrameOfReferenceUID missing")


def _check_scoord(where: str, item: Dataset) -> None:
    gt = str(_get(item, "GraphicType", where) or "")
    if gt not in GRAPHIC_TYPES_2D:
        raise _Refused(f"{where}: GraphicType missing or not a 2D graphic type")
    pts = _numbers(where, item, "GraphicData")
    if not pts or len(pts) % 2 or any(abs(v) > MAX_ABS_PIXEL for v in pts):
        raise _Refused(f"{where}: GraphicData is not a list of (column, row) image points")


def _check_uidref(where: str, item: Dataset) -> None:
    if not isinstance(_get(item, "UID", where), str):
        raise _Refused(f"{where}: UID missing")


def _check_reference(where: str, item: Dataset) -> None:
    seq = _get(item, "ReferencedSOPSequence", where)
    if not seq or not isinstance(seq[0], Dataset) or not _get(seq[0], "ReferencedSOPInstanceUID", where):
        raise _Refused(f"{where}: ReferencedSOPSequence missing")


_VALUE_CHECKS: dict[str, Callable[[str, Dataset], None]] = {
    "TEXT": _check_text, "NUM": _check_num, "CODE": _check_code, "SCOORD3D": _check_scoord3d,
    "SCOORD": _check_scoord, "UIDREF": _check_uidref, "IMAGE": _check_reference,
    "COMPOSITE": _check_reference,
}


def guarded(read: F) -> F:
    """Decorate an SR reader: the file is checked first (:func:`check_sr_file`); whatever the
    reader still raises becomes one :class:`InputError` line naming the file, detail logged."""

    @functools.wraps(read)
    def wrapper(path: Any, *args: Any, **kwargs: Any) -> Any:
        check_sr_file(path)
        try:
            return read(path, *args, **kwargs)
        except WorkstationError as exc:
            raise InputError(one_line(str(exc))) from None
        except BaseException as exc:  # noqa: BLE001 - the reader's boundary: a panic, MemoryError too
            if isinstance(exc, PASS_THROUGH):
                raise
            record_failure(exc, f"read_sr {path}")
            raise InputError(one_line(f"{path}: not a measurement report this workstation can read "
                                      f"({type(exc).__name__})")) from None

    return wrapper  # type: ignore[return-value]
