"""The slice the viewer shows first, found and decoded without pydicom: :func:`first_slice`.

At launch the viewer shows the middle slice of the study's first series -- the series and slice
order of :func:`workstation.dicom.scan` and :func:`workstation.dicom.read_series` -- while the rest
loads. Finding it through the full scan means importing pydicom (~0.3 s) and parsing every header
in Python (~0.25 s for 300 files) before anything is on screen. GDCM's ``Scanner`` (C++; python-gdcm
is a dependency already, pydicom's fastest decoder for JPEG 2000 and JPEG Lossless) reads the few
elements needed from every file in ~0.05 s, and GDCM decodes the one file.

Only the plain case is handled, where the full scan's grouping, sorting and layout reduce to what
is done here: a folder of single-frame grey-scale CT, MR or PT images, every series one regular
stack (one orientation, size and pixel spacing, no duplicate, missing or unevenly spaced slice, no
tilt). Anything else gives None and the caller waits for the full scan. The result is a preview
(``meta["preview"]``): a volume with only that slice filled, which the loader's volume replaces.
"""
from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..volume import Volume
from .sources import folder_sources, limit

log = logging.getLogger(__name__)

#: the elements read from every file: keyword -> (group, element)
TAGS: dict[str, tuple[int, int]] = {
    "TransferSyntaxUID": (0x0002, 0x0010),
    "SOPInstanceUID": (0x0008, 0x0018),
    "Modality": (0x0008, 0x0060),
    "SeriesDescription": (0x0008, 0x103E),
    "SeriesInstanceUID": (0x0020, 0x000E),
    "SeriesNumber": (0x0020, 0x0011),
    "ImagePositionPatient": (0x0020, 0x0032),
    "ImageOrientationPatient": (0x0020, 0x0037),
    "SamplesPerPixel": (0x0028, 0x0002),
    "PhotometricInterpretation": (0x0028, 0x0004),
    "NumberOfFrames": (0x0028, 0x0008),
    "Rows": (0x0028, 0x0010),
    "Columns": (0x0028, 0x0011),
    "PixelSpacing": (0x0028, 0x0030),
    "RescaleIntercept": (0x0028, 0x1052),
    "RescaleSlope": (0x0028, 0x1053),
}
#: modalities shown this way; another image modality in the folder sends the study the long way
MODALITIES = frozenset({"CT", "MR", "PT"})
#: transfer syntaxes (PS3.5 Annex A) that pydicom and GDCM read alike: little endian native, RLE,
#: JPEG Lossless, JPEG-LS, JPEG 2000 (big endian and deflated go the long way)
SYNTAXES = frozenset({
    "1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.5",
    "1.2.840.10008.1.2.4.57", "1.2.840.10008.1.2.4.70",
    "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81",
    "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91",
})
#: GDCM scalar types -> numpy
_DTYPES = {"UINT8": np.uint8, "INT8": np.int8, "UINT16": np.uint16, "INT16": np.int16}
#: the tolerances of workstation.dicom.geometry, or stricter: within them the full scan's layout is
#: the sorted files, one slot each
ORIENTATION_TOL = 1e-3
ORTHOGONAL_TOL = 1e-4
SPACING_TOL = 1e-3
EVEN_REL = 0.01
TILT_RAD = 1e-4
#: more files than this: not worth a second pass over the headers
MAX_FILES = 20000


@dataclass(eq=False)
class _Image:
    file: str
    sop_uid: str
    series_uid: str
    modality: str
    description: str
    series_number: int | None
    position: np.ndarray
    orientation: tuple[float, ...]
    rows: int
    columns: int
    spacing: tuple[float, float]
    slope: float
    intercept: float


@dataclass(eq=False)
class _Stack:
    """One series as the full scan would lay it out (``regular``), its images in slice order."""

    images: list[_Image]
    regular: bool
    normal: np.ndarray
    dz: float


class _Irregular(Exception):
    """The folder is not the plain case: the full scan decides."""


def first_slice(path: str | os.PathLike[str]) -> Volume | None:
    """The study's first series as the full loader will lay it out, with only its middle slice
    (the one shown first) read; None when ``path`` is not the plain case this handles (see the
    module) or anything here fails -- the caller then waits for the full scan."""
    try:
        import gdcm  # noqa: F401 - a dependency; without it there is no preview
    except ImportError:
        return None
    try:
        return _first_slice(os.fspath(path))
    except _Irregular as exc:
        log.debug("first slice: the full scan decides (%s)", exc)
    except Exception as exc:  # noqa: BLE001 - a preview never fails the launch; the full scan reports
        log.debug("first slice: no preview (%s)", type(exc).__name__)
    return None


def _first_slice(path: str) -> Volume | None:
    if not os.path.isdir(path):
        raise _Irregular("not a folder")
    sources, _ = folder_sources(path)
    if any(s.path is None for s in sources) or not 0 < len(sources) <= MAX_FILES:
        raise _Irregular("zip members, no files or too many")
    images = _scan([s.path for s in sources if s.path is not None])
    stack = _first_stack(images)
    k = (len(stack.images) - 1) // 2  # read_series reads this slot first; the viewer shows it
    pixels = _decode(stack.images[k])
    return _volume(stack, k, pixels)


def _scan(files: list[str]) -> list[_Image]:
    import gdcm

    scanner = gdcm.Scanner()
    tags = {name: gdcm.Tag(*gt) for name, gt in TAGS.items()}
    for tag in tags.values():
        scanner.AddTag(tag)
    if not scanner.Scan(files):
        raise _Irregular("GDCM could not scan the folder")
    images: list[_Image] = []
    for f in files:
        if not scanner.IsKey(f):
            continue  # not DICOM to GDCM: the full scan skips it too
        values = {name: _clean(scanner.GetValue(f, tag)) for name, tag in tags.items()}
        if not values["Rows"]:
            continue  # no image (SR, KO, PR, DICOMDIR): the full scan skips it too
        images.append(_image(f, values))
    return images


def _clean(value: Any) -> str:
    return "" if value is None else str(value).strip(" \0")


def _numbers(text: str, n: int, name: str) -> tuple[float, ...]:
    try:
        vals = tuple(float(p) for p in text.split("\\"))
    except ValueError:
        raise _Irregular(f"{name} malformed") from None
    if len(vals) != n or not all(math.isfinite(v) for v in vals):
        raise _Irregular(f"{name} malformed")
    return vals


def _image(file: str, v: dict[str, str]) -> _Image:
    if v["Modality"] not in MODALITIES or v["TransferSyntaxUID"] not in SYNTAXES:
        raise _Irregular("modality or transfer syntax")
    if v["SamplesPerPixel"] not in ("", "1") or v["PhotometricInterpretation"] != "MONOCHROME2":
        raise _Irregular("not MONOCHROME2")
    if v["NumberOfFrames"] not in ("", "1") or not v["SeriesInstanceUID"] or not v["SOPInstanceUID"]:
        raise _Irregular("multi-frame or UIDs missing")
    slope = _numbers(v["RescaleSlope"], 1, "slope")[0] if v["RescaleSlope"] else 1.0
    intercept = _numbers(v["RescaleIntercept"], 1, "intercept")[0] if v["RescaleIntercept"] else 0.0
    number = _numbers(v["SeriesNumber"], 1, "series number")[0] if v["SeriesNumber"] else None
    dy, dx = _numbers(v["PixelSpacing"], 2, "pixel spacing")
    if dy <= 0 or dx <= 0:
        raise _Irregular("pixel spacing")
    return _Image(file=file, sop_uid=v["SOPInstanceUID"], series_uid=v["SeriesInstanceUID"],
                  modality=v["Modality"], description=v["SeriesDescription"],
                  series_number=None if number is None else int(number),
                  position=np.asarray(_numbers(v["ImagePositionPatient"], 3, "position")),
                  orientation=_numbers(v["ImageOrientationPatient"], 6, "orientation"),
                  rows=int(v["Rows"]), columns=int(v["Columns"]), spacing=(dy, dx),
                  slope=slope, intercept=intercept)


def _first_stack(images: list[_Image]) -> _Stack:
    """The series the full scan lists first (most images, then lowest series number, then UID),
    provided the full scan would keep it whole and no irregular series could come before it."""
    groups: dict[str, list[_Image]] = {}
    for im in images:
        groups.setdefault(im.series_uid, []).append(im)
    if not groups:
        raise _Irregular("no images")
    stacks = {uid: _stack(group) for uid, group in groups.items()}
    regular = [(uid, s) for uid, s in stacks.items() if s.regular]
    if not regular:
        raise _Irregular("no regular series")
    uid, best = min(regular, key=lambda us: (-len(us[1].images), us[1].images[0].series_number or 0, us[0]))
    if any(not s.regular and len(s.images) >= len(best.images) for s in stacks.values()):
        raise _Irregular("an irregular series as large")
    if len(best.images) < 2 or len(best.images) * best.images[0].rows * best.images[0].columns > _max_voxels():
        raise _Irregular("one image, or over the voxel limit")
    return best


def _stack(group: list[_Image]) -> _Stack:
    first = group[0]
    r, c = np.asarray(first.orientation[:3]), np.asarray(first.orientation[3:])
    normal = np.cross(r, c)
    irregular = _Stack(group, False, normal, 0.0)
    if (abs(np.linalg.norm(r) - 1) > ORTHOGONAL_TOL or abs(np.linalg.norm(c) - 1) > ORTHOGONAL_TOL
            or abs(float(r @ c)) > ORTHOGONAL_TOL or len(group) < 2):
        return irregular
    for im in group[1:]:
        if (im.rows, im.columns, im.modality) != (first.rows, first.columns, first.modality):
            return irregular
        if any(abs(a - b) > ORIENTATION_TOL for a, b in zip(im.orientation, first.orientation)):
            return irregular
        if any(abs(a - b) > SPACING_TOL * abs(b) + 1e-6 for a, b in zip(im.spacing, first.spacing)):
            return irregular
    normal = normal / np.linalg.norm(normal)
    z = np.asarray([im.position for im in group]) @ normal
    order = np.argsort(z, kind="stable")
    d = np.diff(z[order])
    nominal = float(np.median(d))
    if nominal <= 0.01 or float(np.abs(d - nominal).max()) > EVEN_REL * nominal:
        return irregular  # duplicates, gaps or uneven spacing: the full scan's layout decides
    ordered = [group[i] for i in order]
    step = ordered[-1].position - ordered[0].position
    tilt = math.acos(min(1.0, max(-1.0, float(step @ normal) / float(np.linalg.norm(step)))))
    if tilt > TILT_RAD:
        return irregular
    return _Stack(ordered, True, normal, float(z[order][-1] - z[order][0]) / (len(group) - 1))


def _max_voxels() -> int:
    cap = limit("max_voxels_per_series")
    try:
        phys = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return cap
    return min(cap, phys // 4) if phys > 0 else cap


def _decode(im: _Image) -> np.ndarray:
    """The rescaled pixels of one file, as the loader stores them (int16 when the rescale gives
    integers that fit, else float32)."""
    import gdcm

    reader = gdcm.ImageReader()
    reader.SetFileName(im.file)
    if not reader.Read():
        raise _Irregular("GDCM could not read the shown file")
    image = reader.GetImage()
    dtype = _DTYPES.get(image.GetPixelFormat().GetScalarTypeAsString())
    if dtype is None or list(image.GetDimensions())[:2] != [im.columns, im.rows]:
        raise _Irregular("pixel format or size")
    buf = image.GetBuffer()
    raw = np.frombuffer(buf.encode("utf-8", "surrogateescape") if isinstance(buf, str) else buf, dtype=dtype)
    if raw.size != im.rows * im.columns:
        raise _Irregular("pixel data size")
    raw = raw.reshape(im.rows, im.columns)
    if im.slope.is_integer() and im.intercept.is_integer():
        out = raw.astype(np.int32) * int(im.slope) + int(im.intercept)
        if out.size and out.min() >= -32768 and out.max() <= 32767:
            return out.astype(np.int16)
    return (raw.astype(np.float64) * im.slope + im.intercept).astype(np.float32)


def _volume(stack: _Stack, k: int, pixels: np.ndarray) -> Volume:
    first = stack.images[0]
    voxels = np.zeros((len(stack.images), first.rows, first.columns), dtype=pixels.dtype)
    voxels[k] = pixels
    r, c = np.asarray(first.orientation[:3]), np.asarray(first.orientation[3:])
    return Volume(voxels, spacing_mm=(stack.dz, first.spacing[0], first.spacing[1]),
                  origin_mm=(float(first.position[0]), float(first.position[1]), float(first.position[2])),
                  row_cosine=(float(r[0]), float(r[1]), float(r[2])),
                  column_cosine=(float(c[0]), float(c[1]), float(c[2])),
                  normal=(float(stack.normal[0]), float(stack.normal[1]), float(stack.normal[2])),
                  unit="HU" if first.modality == "CT" else "signal", modality=first.modality,
                  series_uid=first.series_uid, description=first.description,
                  meta={"preview": True, "preview_slice": k, "series_number": first.series_number,
                        "sop_instance_uids": [im.sop_uid for im in stack.images],
                        "files": [im.file for im in stack.images]})
