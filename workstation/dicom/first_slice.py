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

GDCM runs in a short-lived child process (:data:`CHILD`, ~0.06 s to start), never in the app: its
C++ parser crashes on hostile files that cannot be screened cheaply (deeply nested sequences
overflow its stack: SIGSEGV in ``Scanner.Scan``; some codestreams abort), may allocate gigabytes
for a corrupt one and writes to stderr. The child has an address-space limit (:data:`CHILD_AS`), a
deadline and no stderr; when it dies, overruns or refuses, there is no preview and the hardened
loader decides. Before the decode the shown file is screened here: slice size within
:data:`MAX_PREVIEW_PIXELS`, 8 or 16 bits allocated, and native Pixel Data no larger than the file.
(benchmarks/fuzz_first_slice.py fuzzes this path.)
"""
from __future__ import annotations

import importlib.util
import json
import logging
import math
import os
import select
import struct
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import IO, Any

import numpy as np

from ..volume import Volume
from .sources import folder_sources, max_voxels

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
    "BitsAllocated": (0x0028, 0x0100),
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
#: native (uncompressed) transfer syntaxes: Pixel Data is Rows x Columns x BitsAllocated/8 bytes
NATIVE = frozenset({"1.2.840.10008.1.2", "1.2.840.10008.1.2.1"})
#: project judgement: CT, MR and PT slices are 128-1024 pixels square, rarely 2048; a larger slice
#: is not previewed (the hardened loader decides), so a hostile size cannot make GDCM allocate much
MAX_PREVIEW_PIXELS = 2048 * 2048
#: project judgement: address space of the GDCM child. It needs ~50 MiB, and a 2048 x 2048 slice
#: at most ~110 MiB resident more (RLE of noise, measured); a corrupt header's element length makes
#: GDCM's Scanner allocate (and zero) that many bytes, which beyond this fails in the child
CHILD_AS = 512 * 1024 ** 2
#: project judgement: deadlines of the GDCM child: the header scan (plus per file), the decode. A
#: slower disk gives no preview, not a wait: the loader then shows the image
SCAN_TIMEOUT_S = 10.0
SCAN_TIMEOUT_PER_FILE_S = 0.005
DECODE_TIMEOUT_S = 10.0
#: the elements read are UI (64 characters), CS, LO (64), IS, DS (16 each, 6 for the orientation)
#: and US (PS3.5 6.2): a longer value is malformed, the full scan decides. The child cuts values
#: there, and its whole answer is bounded (legitimately ~0.5 KiB a file): a hostile folder cannot
#: make this process hold much
MAX_VALUE_CHARS = 128
SCAN_ANSWER_PER_FILE = 4096
MAX_SCAN_ANSWER = 64 * 1024 ** 2

#: the child: reads length-prefixed JSON requests on stdin (a scan: files and tags, then one file
#: to decode), answers length-prefixed on stdout; only the standard library and GDCM
CHILD = r"""
import json, resource, struct, sys
resource.setrlimit(resource.RLIMIT_AS, (int(sys.argv[1]), int(sys.argv[1])))
import gdcm
gdcm.Trace.WarningOff()
gdcm.Trace.ErrorOff()
gdcm.Trace.DebugOff()
inp, out = sys.stdin.buffer, sys.stdout.buffer

def send(b):
    out.write(struct.pack("<Q", len(b)))
    out.write(b)
    out.flush()

def recv():
    head = inp.read(8)
    return json.loads(inp.read(struct.unpack("<Q", head)[0])) if len(head) == 8 else None

req = recv()
scanner = gdcm.Scanner()
tags = [gdcm.Tag(g, e) for g, e in req["tags"]]
for t in tags:
    scanner.AddTag(t)
if not scanner.Scan(req["files"]):
    sys.exit(3)
cut = req["max_value"] + 1
found = [[None if v is None else v[:cut] for v in (scanner.GetValue(f, t) for t in tags)]
         if scanner.IsKey(f) else None for f in req["files"]]
send(json.dumps(found).encode("utf-8", "surrogatepass"))
req = recv()
if not req:
    sys.exit(0)
reader = gdcm.ImageReader()
reader.SetFileName(req["file"])
if not reader.Read():
    sys.exit(3)
image = reader.GetImage()
dims = [int(d) for d in image.GetDimensions()]
scalar = image.GetPixelFormat().GetScalarTypeAsString()
if dims[:2] != req["dims"] or any(d != 1 for d in dims[2:]) or image.GetBufferLength() != req["bytes"]:
    sys.exit(3)
buf = image.GetBuffer()
send(json.dumps({"scalar": scalar}).encode())
send(buf.encode("utf-8", "surrogateescape") if isinstance(buf, str) else buf)
"""


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
    bits: int
    native: bool


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
    if importlib.util.find_spec("gdcm") is None:  # a dependency; without it there is no preview
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
    files = [s.path for s in sources if s.path is not None]
    with _Child(len(files)) as child:
        images = _scan(child, files)
        stack = _first_stack(images)
        k = (len(stack.images) - 1) // 2  # read_series reads this slot first; the viewer shows it
        pixels = _decode(child, stack.images[k])
    return _volume(stack, k, pixels)


class _Child:
    """GDCM in a child process: requests and answers are length-prefixed on its stdin/stdout, each
    answer awaited until a deadline; the child is killed on leaving the ``with``."""

    def __init__(self, n_files: int) -> None:
        self.scan_timeout = SCAN_TIMEOUT_S + SCAN_TIMEOUT_PER_FILE_S * n_files
        self.proc = subprocess.Popen([sys.executable, "-I", "-c", CHILD, str(CHILD_AS)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, close_fds=True)

    def __enter__(self) -> _Child:
        return self

    def __exit__(self, *_: object) -> None:
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def send(self, request: Any) -> None:
        data = json.dumps(request).encode("utf-8", "surrogatepass")
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(struct.pack("<Q", len(data)) + data)
            self.proc.stdin.flush()
        except OSError:
            raise _Irregular("GDCM child ended") from None

    def receive(self, timeout: float, max_bytes: int) -> bytes:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        size = struct.unpack("<Q", _read(self.proc.stdout, 8, deadline))[0]
        if size > max_bytes:
            raise _Irregular("GDCM child answer too large")
        return _read(self.proc.stdout, size, deadline)


def _read(stream: IO[bytes], n: int, deadline: float) -> bytes:
    """``n`` bytes from the child, or _Irregular when it ends or the deadline passes first."""
    fd, parts, got = stream.fileno(), [], 0
    while got < n:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise _Irregular("GDCM child overran its deadline")
        part = os.read(fd, min(n - got, 1 << 20))
        if not part:
            raise _Irregular("GDCM child ended (crashed, refused or out of memory)")
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def _scan(child: _Child, files: list[str]) -> list[_Image]:
    child.send({"files": files, "tags": list(TAGS.values()), "max_value": MAX_VALUE_CHARS})
    answer = child.receive(child.scan_timeout, min(MAX_SCAN_ANSWER, SCAN_ANSWER_PER_FILE * (len(files) + 16)))
    found = json.loads(answer.decode("utf-8", "surrogatepass"))
    if not isinstance(found, list) or len(found) != len(files):
        raise _Irregular("GDCM child answer")
    images: list[_Image] = []
    for f, row in zip(files, found):
        if not isinstance(row, list) or len(row) != len(TAGS):
            continue  # not DICOM to GDCM: the full scan skips it too
        if any(isinstance(v, str) and len(v) > MAX_VALUE_CHARS for v in row):
            raise _Irregular("an over-long header value")
        values = {name: _clean(v) for name, v in zip(TAGS, row)}
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
    if v["BitsAllocated"] not in ("8", "16"):
        raise _Irregular("bits allocated")
    rows, columns = _numbers(v["Rows"], 1, "rows")[0], _numbers(v["Columns"], 1, "columns")[0]
    if not (rows.is_integer() and columns.is_integer() and 0 < rows * columns <= MAX_PREVIEW_PIXELS):
        raise _Irregular("rows or columns: none, or over the preview size")
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
                  rows=int(rows), columns=int(columns), spacing=(dy, dx),
                  slope=slope, intercept=intercept, bits=int(v["BitsAllocated"]),
                  native=v["TransferSyntaxUID"] in NATIVE)


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
    if len(best.images) < 2 or len(best.images) * best.images[0].rows * best.images[0].columns > max_voxels():
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


def _decode(child: _Child, im: _Image) -> np.ndarray:
    """The rescaled pixels of one file, as the loader stores them (int16 when the rescale gives
    integers that fit, else float32); decoded by the GDCM child after the file is screened."""
    nbytes = im.rows * im.columns * (im.bits // 8)
    try:
        size = os.stat(im.file).st_size
    except OSError:
        raise _Irregular("the shown file is gone") from None
    if im.native and size < nbytes:
        raise _Irregular("native Pixel Data larger than the file")
    child.send({"file": im.file, "dims": [im.columns, im.rows], "bytes": nbytes})
    head = json.loads(child.receive(DECODE_TIMEOUT_S, 1024))
    dtype = _DTYPES.get(str(head.get("scalar")) if isinstance(head, dict) else "")
    if dtype is None or np.dtype(dtype).itemsize != im.bits // 8:
        raise _Irregular("pixel format")
    raw = np.frombuffer(child.receive(DECODE_TIMEOUT_S, nbytes), dtype=dtype)
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
