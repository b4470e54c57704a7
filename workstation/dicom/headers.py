"""Header-only reading: one file -> its image frames (or a one-line reason it was skipped).

Each file is parsed with ``stop_before_pixels=True``; the Pixel Data element's header is then read
by hand to learn where the pixel bytes lie and whether the file holds all of them (truncation is
caught here, before any decoding). Lenient like pydicom: files without a preamble are read with
``force=True``; a malformed value only loses that value (logged with its keyword).
"""
from __future__ import annotations

import functools
import io
import logging
import math
import struct
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import numpy as np
import pydicom
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.multival import MultiValue

from ..errors import PASS_THROUGH, WorkstationError
from .sources import DICOMDIR_SOP_CLASS, Skipped, Source, limit, open_regular

log = logging.getLogger(__name__)

#: values larger than this stay on disk until asked for (files only; zip members are in memory)
DEFER_SIZE = 64 * 1024

#: Pixel Data, Float Pixel Data, Double Float Pixel Data (PS3.6 group 7FE0)
PIXEL_TAGS = {(0x7FE0, 0x0010), (0x7FE0, 0x0008), (0x7FE0, 0x0009)}
#: VRs whose explicit-VR element header has 2 reserved bytes and a 4-byte length (PS3.5 7.1.2)
LONG_VRS = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"UC", b"UN", b"UR", b"UT", b"SV", b"UV"}
#: Modality defined terms (PS3.3 C.7.3.1.1.1) of objects that carry no image to load as a volume
NON_IMAGE_MODALITIES = {"SR", "PR", "KO", "SEG", "RTSTRUCT", "RTPLAN", "RTRECORD", "REG", "FID",
                        "ECG", "EPS", "HD", "AU", "DOC", "PLAN", "RWV", "REGISTRATION"}
#: words in a SOP Class name (PS3.4 Annex B) that mark a non-image object
NON_IMAGE_SOP_WORDS = ("SR Storage", "Presentation State", "Structure Set", "Plan Storage",
                       "Segmentation", "Key Object", "Waveform", "Encapsulated", "Registration",
                       "Raw Data", "Spectroscopy", "Directory")
DEFLATED_TS = "1.2.840.10008.1.2.1.99"


class SkipFile(Exception):
    """Raised inside the header reader with the reason a file is not used."""


@dataclass(eq=False)
class PixelElement:
    """Where a file's pixel bytes are: value offset and length (None when encapsulated/unknown)."""

    value_offset: int | None
    length: int | None
    encapsulated: bool
    float_kind: int = 0  # 0: integer Pixel Data, 4: Float Pixel Data, 8: Double Float Pixel Data
    items_offset: int | None = None  # encapsulated: where the first item (the offset table) starts


@dataclass(eq=False)
class Frame:
    """One 2D image: a single-frame file or one frame of a multi-frame file, with its geometry."""

    source: Source
    header: Dataset
    frame_index: int | None  # 0-based frame in a multi-frame file; None for a single-frame file
    n_frames: int
    series_uid: str
    modality: str
    rows: int
    columns: int
    orientation: tuple[float, ...] | None
    position: tuple[float, float, float] | None
    pixel_spacing: tuple[float, float]  # (between rows = dy, between columns = dx)
    slope: float
    intercept: float
    lut: Dataset | None
    bits_allocated: int
    bits_stored: int
    signed: bool
    pixels: PixelElement
    transfer_syntax: str | None
    little_endian: bool
    sop_instance_uid: str | None
    instance_number: int | None
    slice_location: float | None
    slice_thickness: float | None
    spacing_between: float | None
    notes: list[str] = field(default_factory=list)
    synthetic_position: bool = False

    @property
    def label(self) -> str:
        return self.source.label

    @property
    def frame_bytes(self) -> int:
        return self.rows * self.columns * self.bits_allocated // 8


# -- lenient value access ------------------------------------------------------------------------
_NUMERIC_TEXT = {"DS", "IS"}
_BINARY = {"US": "H", "SS": "h", "UL": "L", "SL": "l", "FL": "f", "FD": "d"}


def _get(ds: Dataset, keyword: str, where: str) -> Any:
    try:
        return ds.get(keyword)
    except Exception as exc:  # a malformed value loses only itself
        log.debug("%s: %s unreadable (%s)", where, keyword, type(exc).__name__)
        return None


def _raw_numbers(ds: Dataset, keyword: str) -> Any:
    """Numbers of a DS/IS/US/SS/UL/SL/FL/FD element straight from its raw bytes (no conversion
    through pydicom's value machinery, which dominates header-reading time); None when absent,
    ``NotImplemented`` when the element is not raw (the caller then asks pydicom)."""
    tag = pydicom.datadict.tag_for_keyword(keyword)
    if tag is None:
        return NotImplemented
    elem = ds.get_item(tag)
    if elem is None:
        return None
    if not isinstance(elem, RawDataElement) or elem.value is None:
        return NotImplemented
    vr = elem.VR or pydicom.datadict.dictionary_VR(tag)
    raw = elem.value
    if vr in _NUMERIC_TEXT:
        parts = raw.decode("latin-1").strip(" \0").split("\\")
        return [p.strip(" \0") for p in parts if p.strip(" \0")]
    code = _BINARY.get(vr)
    if code is None:
        return NotImplemented
    size = struct.calcsize(code)
    end = "<" if elem.is_little_endian else ">"
    return list(struct.unpack(f"{end}{len(raw) // size}{code}", raw[: len(raw) // size * size]))


def floats(ds: Dataset | None, keyword: str, n: int, where: str = "") -> tuple[float, ...] | None:
    """``n`` finite floats from an element, or None (missing or malformed, logged)."""
    if ds is None:
        return None
    v = _raw_numbers(ds, keyword)
    if v is NotImplemented:
        v = _get(ds, keyword, where)
        if v is None or v == "":
            return None
        if isinstance(v, (str, bytes)) or not hasattr(v, "__iter__"):
            v = [v]
    if not v:
        return None
    try:
        vals = [float(x) for x in v]
    except (TypeError, ValueError):
        log.info("%s: %s has a malformed value; ignored", where, keyword)
        return None
    if len(vals) < n or not all(math.isfinite(x) for x in vals[:n]):
        log.info("%s: %s has %d value(s), expected %d; ignored", where, keyword, len(vals), n)
        return None
    return tuple(vals[:n])


def one_float(ds: Dataset | None, keyword: str, where: str = "") -> float | None:
    v = floats(ds, keyword, 1, where)
    return None if v is None else v[0]


def one_int(ds: Dataset | None, keyword: str, where: str = "") -> int | None:
    v = one_float(ds, keyword, where)
    return None if v is None else int(v)


#: VRs whose values are plain ASCII whatever the character set (PS3.5 6.2)
_ASCII_VRS = {"UI", "CS", "DA", "TM", "DT", "AS", "IS", "DS"}


#: PhotometricInterpretation defined terms (PS3.3 C.7.6.3.1.2) other than the two grey scales
_COLOUR_TERMS = frozenset({"PALETTE COLOR", "RGB", "HSV", "ARGB", "CMYK", "YBR_FULL", "YBR_FULL_422",
                           "YBR_PARTIAL_422", "YBR_PARTIAL_420", "YBR_ICT", "YBR_RCT", "XYB"})


def text(ds: Dataset | None, keyword: str) -> str:
    """An element's value as one stripped string ("" when absent; multi-values joined by ``\\``)."""
    if ds is None:
        return ""
    tag = pydicom.datadict.tag_for_keyword(keyword)
    elem = ds.get_item(tag) if tag is not None else None
    if isinstance(elem, RawDataElement) and elem.value is not None:
        vr = elem.VR or pydicom.datadict.dictionary_VR(tag)
        if vr in _ASCII_VRS:  # fast path: no conversion through pydicom's value machinery
            return elem.value.decode("ascii", "replace").strip(" \0")
    v = _get(ds, keyword, "")
    if v is None:
        return ""
    if isinstance(v, (list, tuple, MultiValue)):
        v = "\\".join(str(x) for x in v)  # a multi-valued element, not a PersonName (iterable too)
    return str(v).strip()


# -- parsing --------------------------------------------------------------------------------------
def parse_header(fp: BinaryIO, source: Source) -> Dataset:
    """Header up to (not including) Pixel Data; ``force=True`` for files without a preamble."""
    defer = DEFER_SIZE if isinstance(fp, io.BufferedReader) else None
    try:
        return _reopenable(pydicom.dcmread(fp, stop_before_pixels=True, defer_size=defer), source)
    except InvalidDicomError:
        fp.seek(0)
    if not _plausible_start(fp.read(4)):  # forced parsing of megabytes of noise takes seconds
        raise SkipFile("not DICOM (no preamble and no recognisable elements)")
    fp.seek(0)
    try:
        ds = _reopenable(pydicom.dcmread(fp, stop_before_pixels=True, defer_size=defer, force=True), source)
    except Exception as exc:
        raise SkipFile(f"not DICOM ({_short(exc)})") from None
    if not _looks_like_dicom(ds):
        raise SkipFile("not DICOM (no preamble and no recognisable elements)")
    return ds


def _open_deferred(path: str, mode: str = "rb") -> BinaryIO:
    return open_regular(path)


def _reopenable(ds: Dataset, source: Source) -> Dataset:
    """Let pydicom read a deferred (> :data:`DEFER_SIZE`) element later: the file was opened from a
    descriptor, whose number pydicom would take for the file (an element such as a 100 KB private
    CSA header then failed every later access, e.g. de-identification); it reopens the path, a
    regular file only."""
    if source.path is not None and not isinstance(getattr(ds, "filename", None), str):
        ds.filename = source.path
        ds.fileobj_type = _open_deferred
    return ds


#: elements every image dataset holds near its start (group 0008/0020/0028)
_KEY_ELEMENTS = ("SOPClassUID", "SOPInstanceUID", "Rows", "Modality", "StudyInstanceUID", "SeriesInstanceUID")


def _plausible_start(head: bytes) -> bool:
    """Whether a file without preamble starts like a dataset: its first tag's group (either byte
    order) is an even group between File Meta (0002) and Image Pixel (0028), where every real
    preamble-less file (ACR-NEMA, raw datasets) starts."""
    if len(head) < 4:
        return False
    groups = struct.unpack("<H", head[:2])[0], struct.unpack(">H", head[:2])[0]
    return any(0x0002 <= g <= 0x0028 and g % 2 == 0 for g in groups)


def _looks_like_dicom(ds: Dataset) -> bool:
    try:
        tags = [int(t) for t in ds.keys()]  # noqa: SIM118 - iterating a Dataset yields elements, not tags
    except Exception:
        return False
    if not tags:
        return False
    known = sum(1 for t in tags if pydicom.datadict.dictionary_has_tag(t))
    return known >= max(3, len(tags) // 2) and any(
        k in ds for k in ("SOPClassUID", "SOPInstanceUID", "Rows", "Modality", "StudyInstanceUID"))


def _short(exc: BaseException) -> str:
    """What a reason may say about an exception: its type (and an OS error's cause), never its
    text, which can quote header bytes (patient data)."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}"
    return "out of memory" if isinstance(exc, MemoryError) else "nested too deeply" if isinstance(
        exc, RecursionError) else "decoder failed"


def read_pixel_element(fp: BinaryIO, ds: Dataset, size: int) -> PixelElement | None:
    """The Pixel Data element header at the reader's position, or None when there is none."""
    meta = getattr(ds, "file_meta", None)
    ts = str(meta.get("TransferSyntaxUID", "")) if meta is not None else ""
    if ts == DEFLATED_TS:  # positions in the file are those of the deflated stream
        return PixelElement(None, None, True) if "Rows" in ds else None
    implicit, little = _encoding(ds)
    start = fp.tell()
    head = fp.read(12)
    if len(head) < 8:
        return None
    end = "<" if little else ">"
    group, elem = struct.unpack(end + "HH", head[:4])
    if (group, elem) not in PIXEL_TAGS:
        return None
    float_kind = {0x0010: 0, 0x0008: 4, 0x0009: 8}[elem]
    if implicit:
        length, hl = struct.unpack(end + "L", head[4:8])[0], 8
    elif head[4:6] in LONG_VRS:
        if len(head) < 12:
            return None
        length, hl = struct.unpack(end + "L", head[8:12])[0], 12
    else:
        length, hl = struct.unpack(end + "H", head[6:8])[0], 8
    if length == 0xFFFFFFFF:
        return PixelElement(None, None, True, float_kind, items_offset=start + hl)
    offset = start + hl
    if offset + length > size:
        raise SkipFile(f"truncated: PixelData needs {length} bytes, file holds {max(0, size - offset)}")
    return PixelElement(offset, length, False, float_kind)


def _encoding(ds: Dataset) -> tuple[bool, bool]:
    enc = getattr(ds, "original_encoding", None)
    if enc and enc[0] is not None and enc[1] is not None:
        return bool(enc[0]), bool(enc[1])
    meta = getattr(ds, "file_meta", None)
    ts = str(meta.get("TransferSyntaxUID", "")) if meta is not None else ""
    return ts == "1.2.840.10008.1.2", ts != "1.2.840.10008.1.2.2"


def check_is_image(ds: Dataset, pixels: PixelElement | None) -> None:
    """Raise :class:`SkipFile` for objects that are no single-sample image."""
    meta = getattr(ds, "file_meta", None)
    sop = text(ds, "SOPClassUID") or (str(meta.get("MediaStorageSOPClassUID", "")) if meta is not None else "")
    if sop == DICOMDIR_SOP_CLASS or "DirectoryRecordSequence" in ds:
        raise SkipFile("DICOMDIR (a directory, not an image)")
    name = _sop_name(sop)
    modality = text(ds, "Modality").upper()
    if modality in NON_IMAGE_MODALITIES or any(w in name for w in NON_IMAGE_SOP_WORDS):
        raise SkipFile(f"not an image ({name or modality})")
    if pixels is None:
        raise SkipFile("no pixel data" + (f" ({name})" if name else ""))
    if one_int(ds, "Rows") in (None, 0) or one_int(ds, "Columns") in (None, 0):
        raise SkipFile("Rows/Columns missing or zero")
    spp = one_int(ds, "SamplesPerPixel") or 1
    if spp != 1:
        raise SkipFile(f"colour image (SamplesPerPixel={spp}): not a grey-scale volume")
    pi = text(ds, "PhotometricInterpretation").upper()
    if pi and pi not in ("MONOCHROME1", "MONOCHROME2"):
        named = pi if pi in _COLOUR_TERMS else "not a defined term"  # never echo an unknown header value
        raise SkipFile(f"PhotometricInterpretation {named}: not a grey-scale image")


@functools.lru_cache(maxsize=256)
def _sop_name(uid: str) -> str:
    """The SOP class name (cached: a series repeats one class in every file)."""
    try:
        return pydicom.uid.UID(uid).name if uid else ""
    except Exception:
        return uid


# -- frames ----------------------------------------------------------------------------------------
#: bytes read ahead per file (in worker threads); headers are parsed from them in the caller's
#: thread, so parsing (which holds the GIL) never competes with itself. Larger headers re-read.
PREFETCH = 64 * 1024


class _NeedWholeFile(Exception):
    """The prefetched head of a file did not hold its whole header."""


def prefetch(source: Source) -> tuple[bytes, int] | Skipped:
    """The first :data:`PREFETCH` bytes of a file (all of a zip member) and its size."""
    try:
        return source.read_head(PREFETCH)
    except WorkstationError as exc:  # not a regular file, over a limit: its own reason
        return Skipped(source.label, _reason_of(exc, source.label))
    except BaseException as exc:  # noqa: BLE001 - a file's failure is that file's, whatever it is
        if isinstance(exc, PASS_THROUGH):
            raise
        return Skipped(source.label, f"unreadable ({type(exc).__name__}: {_short(exc)})")


def _reason_of(exc: BaseException, label: str) -> str:
    msg = str(exc)
    return msg[len(label) + 2:] if msg.startswith(label + ": ") else msg


def read_frames(source: Source, prefetched: tuple[bytes, int] | Skipped | None = None) -> list[Frame] | Skipped:
    """The image frames of one file, or a :class:`Skipped` with a one-line reason. Never raises."""
    got = prefetch(source) if prefetched is None else prefetched
    if isinstance(got, Skipped):
        return got
    head, size = got
    if size == 0:
        return Skipped(source.label, "empty file")
    try:
        if DEFLATED_TS.encode() in head[:8192]:
            check_inflation(source, size)
        try:
            return _frames_from(io.BytesIO(head), source, size, partial=len(head) < size)
        except _NeedWholeFile:
            with source.open() as fp:
                return _frames_from(fp, source, size, partial=False)
    except SkipFile as exc:
        return Skipped(source.label, str(exc))
    except WorkstationError as exc:
        return Skipped(source.label, _reason_of(exc, source.label))
    except BaseException as exc:  # noqa: BLE001 - anything else a broken file can provoke, a
        if isinstance(exc, PASS_THROUGH):  # native panic, MemoryError and RecursionError included
            raise
        log.warning("%s: header unreadable", source.label, exc_info=True)
        return Skipped(source.label, f"unreadable ({type(exc).__name__}: {_short(exc)})")


def check_inflation(source: Source, size: int) -> None:
    """A Deflated Explicit VR Little Endian file is inflated whole by pydicom: inflate it here
    first, streaming and discarding, and refuse one that expands beyond ``max_zip_ratio`` (over
    ``max_zip_ratio_min_bytes``) — a deflate bomb — before pydicom sees it."""
    import zlib

    from pydicom.filereader import _read_file_meta_info, read_preamble

    cap = min(limit("max_zip_member_bytes"), max(limit("max_zip_ratio_min_bytes"), limit("max_zip_ratio") * size))
    with source.open() as fp:
        try:
            read_preamble(fp, force=True)
            meta = _read_file_meta_info(fp)
        except Exception:  # noqa: BLE001 - not a file meta we can read: pydicom decides later
            return
        if str(meta.get("TransferSyntaxUID", "")) != DEFLATED_TS:
            return
        z, total = zlib.decompressobj(-zlib.MAX_WBITS), 0
        while (chunk := fp.read(1 << 16)) and not z.eof:
            try:
                while chunk and total <= cap and not z.eof:
                    got = len(z.decompress(chunk, 1 << 17))
                    total += got
                    if not got and len(z.unconsumed_tail) == len(chunk):
                        break  # no progress: let pydicom judge the stream
                    chunk = z.unconsumed_tail
            except zlib.error:
                return  # corrupt: pydicom will say so
            if total > cap:
                raise SkipFile(f"deflated dataset expands to more than {cap} bytes (max_zip_ratio: "
                               "a suspected deflate bomb): not read")


def _frames_from(fp: BinaryIO, source: Source, size: int, partial: bool) -> list[Frame]:
    try:
        ds = parse_header(fp, source)
    except Exception:
        if partial:
            raise _NeedWholeFile from None
        raise
    if partial and fp.tell() + 12 > len(fp.getbuffer()):  # type: ignore[attr-defined]
        if not any(k in ds for k in _KEY_ELEMENTS):  # 64 KB without one key element: noise, not read on
            raise SkipFile("not DICOM (no recognisable elements in its first 64 KB)")
        raise _NeedWholeFile
    if isinstance(fp, io.BytesIO):  # keep no reference to the read-ahead bytes in the header
        for attr, value in (("buffer", None), ("filename", source.path)):
            if hasattr(ds, attr):
                setattr(ds, attr, value)
    try:
        pixels = read_pixel_element(fp, ds, size)
    except SkipFile:
        check_is_image(ds, PixelElement(None, None, True))
        raise
    check_is_image(ds, pixels)
    if pixels is not None and pixels.encapsulated and pixels.items_offset is not None:
        n = declared_frames(ds, source.label)
        check_fragments(fp, source, pixels.items_offset, size, n)
    return build_frames(source, ds, pixels)  # type: ignore[arg-type]


def declared_frames(ds: Dataset, where: str) -> int:
    """NumberOfFrames (1 when absent), refused above ``max_frames_per_file``."""
    n = max(1, one_int(ds, "NumberOfFrames", where) or 1)
    cap = limit("max_frames_per_file")
    if n > cap:
        raise SkipFile(f"NumberOfFrames {n} is more than the limit of {cap} (max_frames_per_file)")
    return n


_ITEM, _SEQ_END = b"\xfe\xff\x00\xe0", b"\xfe\xff\xdd\xe0"


def check_fragments(fp: BinaryIO, source: Source, offset: int, size: int, n_frames: int) -> None:
    """An encapsulated Pixel Data element must hold at least one fragment per frame (PS3.5 A.4: a
    fragment never holds more than one frame), each inside the file. Refused fast: item headers
    alone need 8 bytes per frame; then at most ``n_frames`` item headers are read (no fragment
    data), from the read-ahead bytes while they last."""
    if offset + 8 * (n_frames + 1) > size:
        raise SkipFile(f"NumberOfFrames {n_frames}: the encapsulated PixelData ({max(0, size - offset)} bytes) "
                       f"cannot hold that many fragments")
    head = fp.getvalue() if isinstance(fp, io.BytesIO) else b""
    reader: BinaryIO | None = None
    try:
        pos, count, first = offset, 0, True
        while count < n_frames:
            if pos + 8 <= len(head):
                item = head[pos:pos + 8]
            else:
                if reader is None:
                    reader = fp if not isinstance(fp, io.BytesIO) else source.open()
                reader.seek(pos)
                item = reader.read(8)
            if len(item) < 8 or item[:4] == _SEQ_END:
                raise SkipFile(f"NumberOfFrames {n_frames}, but the encapsulated PixelData holds {count} fragment(s)")
            if item[:4] != _ITEM:
                raise SkipFile("encapsulated PixelData malformed (an item tag expected)")
            length = struct.unpack("<L", item[4:])[0]
            if length == 0xFFFFFFFF or pos + 8 + length > size:
                raise SkipFile("truncated: an encapsulated PixelData fragment runs past the end of the file")
            pos += 8 + length
            count += 0 if first else 1  # the first item is the Basic Offset Table
            first = False
    finally:
        if reader is not None and reader is not fp:
            reader.close()


def _check_image_size(rows: int | None, cols: int | None, n: int, where: str) -> None:
    if rows is None or cols is None or rows <= 0 or cols <= 0:
        raise SkipFile("Rows/Columns missing, zero or negative")
    cap = limit("max_voxels_per_series")
    if rows * cols * n > cap:
        raise SkipFile(f"Rows x Columns x NumberOfFrames = {rows * cols * n} voxels, more than the limit "
                       f"of {cap} (max_voxels_per_series)")


def build_frames(source: Source, ds: Dataset, pixels: PixelElement) -> list[Frame]:
    where = source.label
    n = declared_frames(ds, where)
    rows, cols = one_int(ds, "Rows"), one_int(ds, "Columns")
    _check_image_size(rows, cols, n, where)
    ba = one_int(ds, "BitsAllocated", where) or (32 if pixels.float_kind == 4 else 64 if pixels.float_kind == 8 else 16)
    if ba not in (1, 8, 16, 32, 64):
        raise SkipFile(f"BitsAllocated {ba} is not supported (1, 8, 16, 32 or 64)")
    bs = one_int(ds, "BitsStored", where) or ba
    if bs <= 0:
        raise SkipFile("BitsStored is not positive")
    if pixels.length is not None and not pixels.encapsulated:
        need = (rows * cols * n * ba + 7) // 8  # type: ignore[operator]
        if pixels.length < need:
            raise SkipFile(f"PixelData holds {pixels.length} bytes, Rows x Columns x frames need {need}")
    meta = getattr(ds, "file_meta", None)
    ts = str(meta.get("TransferSyntaxUID", "")) if meta is not None and "TransferSyntaxUID" in meta else None
    common = dict(
        source=source, header=ds, n_frames=n, series_uid=text(ds, "SeriesInstanceUID"),
        modality=text(ds, "Modality").upper() or "OT", rows=rows, columns=cols,
        bits_allocated=ba, bits_stored=min(bs, ba), signed=(one_int(ds, "PixelRepresentation") or 0) == 1,
        pixels=pixels, transfer_syntax=ts, little_endian=_encoding(ds)[1],
        sop_instance_uid=text(ds, "SOPInstanceUID") or None,
        instance_number=one_int(ds, "InstanceNumber"), slice_location=one_float(ds, "SliceLocation"),
    )
    if "PerFrameFunctionalGroupsSequence" in ds or "SharedFunctionalGroupsSequence" in ds:
        frames = [_enhanced_frame(ds, f, common) for f in range(n)]
    elif n > 1:
        frames = _classic_multiframe(ds, n, common)
    else:
        frames = [_classic_frame(ds, common)]
    for fr in frames if len({(f.slope, f.intercept) for f in frames}) > 1 else frames[:1]:
        check_rescale(fr)
    return frames


def check_rescale(fr: Frame) -> None:
    """Refuse a rescale whose results overflow: stored extremes x RescaleSlope + RescaleIntercept
    beyond ``max_abs_rescaled_value`` (or not finite) names the field."""
    if fr.lut is not None:
        return
    bs = min(fr.bits_stored, 64)
    lo, hi = ((-(1 << (bs - 1)), (1 << (bs - 1)) - 1) if fr.signed else (0, (1 << bs) - 1))
    if fr.pixels.float_kind:
        lo, hi = -1, 1  # float pixels carry no stored range; the rescale itself must stay finite
    cap = float(limit("max_abs_rescaled_value"))
    with np.errstate(all="ignore"):
        ends = [float(np.float64(v) * fr.slope + fr.intercept) for v in (lo, hi)]
    if abs(fr.intercept) > cap:
        raise SkipFile(f"RescaleIntercept beyond +-{cap:g}: refused")
    if not all(math.isfinite(e) and abs(e) <= cap for e in ends):
        raise SkipFile(f"RescaleSlope x stored values overflow (beyond +-{cap:g}): refused")


def _rescale(ds: Dataset | None, where: str, notes: list[str]) -> tuple[float, float, Dataset | None]:
    """Modality LUT of one image: (slope, intercept, LUT item or None) — PS3.3 C.11.1."""
    if ds is None:
        return 1.0, 0.0, None
    lut = _usable_lut(ds, where, notes)
    if lut is not None:
        return 1.0, 0.0, lut
    slope, icpt = _rescale_number(ds, "RescaleSlope", where), _rescale_number(ds, "RescaleIntercept", where)
    if (slope is None) != (icpt is None):
        missing = "RescaleSlope" if slope is None else "RescaleIntercept"
        notes.append(f"{missing} missing; {'1' if slope is None else '0'} assumed")
    if slope == 0:
        notes.append("RescaleSlope is 0; 1 assumed")
        slope = 1.0
    return (1.0 if slope is None else slope), (0.0 if icpt is None else icpt), None


def _rescale_number(ds: Dataset, keyword: str, where: str) -> float | None:
    """RescaleSlope/RescaleIntercept: None when absent; a value that is not a finite number is
    refused (naming the field) rather than silently replaced."""
    v = _raw_numbers(ds, keyword)
    if v is NotImplemented:
        v = _get(ds, keyword, where)
        if v is not None and (isinstance(v, (str, bytes)) or not hasattr(v, "__iter__")):
            v = [v]
    if v is None or len(v) == 0 or v == [""]:
        return None
    try:
        x = float(v[0])
    except (TypeError, ValueError, OverflowError):
        raise SkipFile(f"{keyword} is not a number: refused") from None
    if not math.isfinite(x):
        raise SkipFile(f"{keyword} is not a finite number: refused")
    return x


def _usable_lut(ds: Dataset, where: str, notes: list[str]) -> Dataset | None:
    """The Modality LUT item when it is complete (LUTDescriptor of 3 values, 8 or 16 bits, and at
    least as many LUTData entries as it declares); an empty or incomplete sequence is ignored with
    a note (RescaleSlope/Intercept then apply)."""
    if "ModalityLUTSequence" not in ds:
        return None
    seq = _get(ds, "ModalityLUTSequence", where)
    item = seq[0] if seq else None
    desc = floats(item, "LUTDescriptor", 3, where) if item is not None else None
    data = _get(item, "LUTData", where) if item is not None else None
    n_data = -1
    if desc is not None and data is not None:
        n_data = len(data) // (2 if desc[2] > 8 else 1) if isinstance(data, bytes) else (
            len(data) if hasattr(data, "__len__") else 1)
    entries = (int(desc[0]) or 65536) if desc is not None else 0
    if desc is None or desc[2] not in (8, 16) or entries <= 0 or n_data < entries:
        notes.append("ModalityLUTSequence empty or incomplete: ignored, RescaleSlope/Intercept used")
        return None
    return item  # type: ignore[no-any-return,unused-ignore]


def _geometry(ds: Dataset, where: str, notes: list[str]) -> dict[str, Any]:
    iop = floats(ds, "ImageOrientationPatient", 6, where)
    ipp = floats(ds, "ImagePositionPatient", 3, where)
    ps = floats(ds, "PixelSpacing", 2, where)
    if ps is None:
        ps = floats(ds, "ImagerPixelSpacing", 2, where)
        notes.append("PixelSpacing missing; " + ("ImagerPixelSpacing used" if ps else "1 mm assumed"))
    if ps is not None and not all(p > 0 for p in ps):
        notes.append("PixelSpacing not positive; 1 mm assumed")
        ps = None
    return dict(orientation=iop, position=ipp, pixel_spacing=ps or (1.0, 1.0),
                slice_thickness=one_float(ds, "SliceThickness", where),
                spacing_between=one_float(ds, "SpacingBetweenSlices", where))


def _classic_frame(ds: Dataset, common: dict[str, Any]) -> Frame:
    notes: list[str] = []
    where = common["source"].label
    slope, icpt, lut = _rescale(ds, where, notes)
    return Frame(frame_index=None, slope=slope, intercept=icpt, lut=lut, notes=notes,
                 **_geometry(ds, where, notes), **common)


def _classic_multiframe(ds: Dataset, n: int, common: dict[str, Any]) -> list[Frame]:
    """Multi-frame without functional groups: frames along the normal from GridFrameOffsetVector,
    or stacked in file order at SpacingBetweenSlices/SliceThickness/1 mm (with a note)."""
    where = common["source"].label
    notes: list[str] = []
    geo = _geometry(ds, where, notes)
    slope, icpt, lut = _rescale(ds, where, notes)
    iop = geo["orientation"] or (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
    normal = np.cross(iop[:3], iop[3:])
    ipp = np.asarray(geo["position"] or (0.0, 0.0, 0.0), float)
    offsets = floats(ds, "GridFrameOffsetVector", n, where)
    synthetic = offsets is None
    if offsets is None:
        dz = geo["spacing_between"] or geo["slice_thickness"] or 1.0
        offsets = tuple(f * dz for f in range(n))
        notes.append(f"multi-frame without per-frame positions: frames stacked in file order, {dz:g} mm apart")
    frames = []
    for f in range(n):
        g = dict(geo, position=tuple(ipp + offsets[f] * normal))
        frames.append(Frame(frame_index=f, slope=slope, intercept=icpt, lut=lut, notes=list(notes),
                            synthetic_position=synthetic, **g, **common))
    return frames


def _fg_item(ds: Dataset, f: int, seq: str) -> Dataset | None:
    """Item of functional group ``seq`` for frame ``f``: per-frame first, then shared."""
    for outer, idx in (("PerFrameFunctionalGroupsSequence", f), ("SharedFunctionalGroupsSequence", 0)):
        groups = ds.get(outer)
        if groups is None or len(groups) <= idx:
            continue
        inner = groups[idx].get(seq)
        if inner:
            first: Dataset = inner[0]
            return first
    return None


def _enhanced_frame(ds: Dataset, f: int, common: dict[str, Any]) -> Frame:
    """Frame ``f`` of an enhanced multi-frame image (PS3.3 C.7.6.16 functional groups)."""
    where = f"{common['source'].label} frame {f + 1}"
    notes: list[str] = []
    measures = _fg_item(ds, f, "PixelMeasuresSequence")
    pos = floats(_fg_item(ds, f, "PlanePositionSequence"), "ImagePositionPatient", 3, where)
    iop = floats(_fg_item(ds, f, "PlaneOrientationSequence"), "ImageOrientationPatient", 6, where)
    ps = floats(measures, "PixelSpacing", 2, where)
    if ps is None or not all(p > 0 for p in ps):
        notes.append("PixelSpacing missing; 1 mm assumed")
        ps = (1.0, 1.0)
    pvt = _fg_item(ds, f, "PixelValueTransformationSequence")
    slope, icpt, lut = _rescale(pvt if pvt is not None else ds, where, notes)
    return Frame(frame_index=f, orientation=iop, position=pos, pixel_spacing=ps,  # type: ignore[arg-type]
                 slice_thickness=one_float(measures, "SliceThickness", where),
                 spacing_between=one_float(measures, "SpacingBetweenSlices", where),
                 slope=slope, intercept=icpt, lut=lut, notes=notes, **common)


#: what tells apart images that share a position within one series (tried in this order)
CLASSIC_STACK_KEYS = ("EchoNumbers", "TemporalPositionIdentifier", "DiffusionBValue", "TriggerTime",
                      "AcquisitionNumber", "ImageType")
ENHANCED_STACK_KEYS = (("FrameContentSequence", "StackID"), ("FrameContentSequence", "TemporalPositionIndex"),
                       ("MREchoSequence", "EffectiveEchoTime"), ("MRDiffusionSequence", "DiffusionBValue"))


def stack_keys(fr: Frame) -> dict[str, str]:
    """Values that may separate images at the same position (read only when positions collide)."""
    if fr.frame_index is not None and ("PerFrameFunctionalGroupsSequence" in fr.header
                                       or "SharedFunctionalGroupsSequence" in fr.header):
        return {kw: text(_fg_item(fr.header, fr.frame_index, seq), kw) for seq, kw in ENHANCED_STACK_KEYS}
    return {k: text(fr.header, k) for k in CLASSIC_STACK_KEYS}
