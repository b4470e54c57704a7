"""Read pixels and apply the modality LUT (pydicom ``apply_modality_lut`` semantics), slice by slice
into one preallocated array.

Uncompressed little- or big-endian data is read straight from the file at the offset found while
reading the header (into the output slice itself when the stored type is 16-bit and the output is
int16); everything else is decoded through pydicom's pixel API with the fastest installed plugin
(:mod:`.decoding`: CharLS for JPEG-LS, openjpeg, libjpeg, pylibjpeg-rle), in worker processes for the
slow syntaxes (see :mod:`.series`).
"""
from __future__ import annotations

import bisect
import logging
from collections.abc import Iterable

import numpy as np
from pydicom.dataset import Dataset
from pydicom.pixels.processing import apply_modality_lut  # public; pydicom.pixels re-exports it implicitly

from .decoding import decode_frames
from .headers import Frame, _short
from .sources import Source

log = logging.getLogger(__name__)

NATIVE_TS = {None, "", "1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2"}
INT16 = np.dtype(np.int16)
FLOAT32 = np.dtype(np.float32)


# -- output type -----------------------------------------------------------------------------------
def stored_range(fr: Frame) -> tuple[int, int]:
    """Smallest and largest stored value that BitsStored and PixelRepresentation allow."""
    bs = fr.bits_stored
    return (-(1 << (bs - 1)), (1 << (bs - 1)) - 1) if fr.signed else (0, (1 << bs) - 1)


def _lut_dataset(fr: Frame) -> Dataset:
    if fr.frame_index is None and "ModalityLUTSequence" in fr.header:
        return fr.header
    ds = Dataset()
    ds.ModalityLUTSequence = [fr.lut]
    meta = getattr(fr.header, "file_meta", None)
    if meta is not None:
        ds.file_meta = meta
    ds.set_original_encoding(False, fr.little_endian)
    return ds


def value_range(fr: Frame) -> tuple[float, float]:
    """Range of the values after the modality LUT."""
    lo, hi = stored_range(fr)
    if fr.lut is not None:
        vals = apply_modality_lut(np.arange(lo, hi + 1, dtype=np.int64), _lut_dataset(fr))
        return float(vals.min()), float(vals.max())
    a, b = lo * fr.slope + fr.intercept, hi * fr.slope + fr.intercept
    return min(a, b), max(a, b)


def _integral(x: float) -> bool:
    return float(x).is_integer()


def output_dtype(frames: Iterable[Frame]) -> tuple[np.dtype, bool]:
    """``(dtype, exact)``: int16 when every rescaled value is an integer, else float32.

    ``exact`` is True when BitsStored/PixelRepresentation and the rescale guarantee that int16
    holds every possible value. When they do not (e.g. 16-bit signed CT with intercept -1024),
    int16 is still chosen if slope and intercept are integers: real values nearly always fit, each
    slice is checked while it is read, and the reader promotes the volume to float32 if one does not.
    """
    exact = True
    for fr in frames:
        if fr.pixels.float_kind or (fr.lut is not None and fr.bits_stored > 16):
            return FLOAT32, True
        if fr.lut is None and not (_integral(fr.slope) and _integral(fr.intercept)):
            return FLOAT32, True
        lo, hi = value_range(fr)
        exact = exact and _fits_int16(lo, hi)
    return INT16, exact


def _fits_int16(lo: float, hi: float) -> bool:
    return lo >= -32768 and hi <= 32767


def _stored_extremes_fit(raw: np.ndarray, fr: Frame) -> bool:
    """Whether a slice's rescaled values fit int16, looking only at the end(s) of its stored range
    that could overflow at all (16-bit signed CT with intercept -1024 can only overflow below, so
    only its minimum is computed: one pass over the slice instead of two)."""
    lo_possible, hi_possible = stored_range(fr)
    checks = []
    for end, reduce in ((lo_possible, np.min), (hi_possible, np.max)):
        v = end * fr.slope + fr.intercept
        if not _fits_int16(v, v):
            checks.append(int(reduce(raw)) * fr.slope + fr.intercept)
    return all(_fits_int16(v, v) for v in checks)


class OutOfRange(ValueError):
    """A rescaled slice does not fit the int16 output."""


OUT_OF_RANGE = "values exceed the int16 range"


# -- rescale -----------------------------------------------------------------------------------------
def fix_stored_bits(arr: np.ndarray, fr: Frame) -> np.ndarray:
    """Mask (unsigned) or sign-extend (signed) values to BitsStored, in place, as pydicom does."""
    if arr.dtype.kind not in "iu":
        return arr
    width = arr.dtype.itemsize * 8
    bs = fr.bits_stored
    if bs >= width:
        return arr
    if arr.dtype.kind == "u" or not fr.signed:
        arr &= arr.dtype.type((1 << bs) - 1)
    else:
        shift = width - bs
        arr <<= shift
        arr >>= shift
    return arr


def rescale_into(arr: np.ndarray, fr: Frame, dst: np.ndarray) -> None:
    """``dst[...] = modality_lut(arr)``: LUT, or stored x slope + intercept."""
    if arr.shape != dst.shape:
        raise ValueError(f"decoded frame has shape {arr.shape}, expected {dst.shape}")
    if fr.lut is not None:
        res = apply_modality_lut(arr, _lut_dataset(fr))
    elif fr.slope == 1 and fr.intercept == 0:
        res = arr
    elif dst.dtype.kind == "f":
        res = arr.astype(np.float64) * fr.slope + fr.intercept
    else:
        res = arr.astype(np.int64) * int(fr.slope) + int(fr.intercept)
    if dst.dtype == INT16 and res.size and not _fits_int16(float(res.min()), float(res.max())):
        raise OutOfRange(OUT_OF_RANGE)
    dst[...] = res


def _wrap16(v: float) -> int:
    return ((int(v) + 32768) % 65536) - 32768


def _rescale_int16_inplace(dst: np.ndarray, fr: Frame) -> None:
    """Integer slope/intercept on an int16 slice in place (exact: the result fits int16, and
    16-bit arithmetic is exact modulo 2**16)."""
    if fr.slope != 1:
        np.multiply(dst, _wrap16(fr.slope), out=dst)
    if fr.intercept != 0:
        np.add(dst, _wrap16(fr.intercept), out=dst)


# -- reading -----------------------------------------------------------------------------------------
def raw_dtype(fr: Frame) -> np.dtype:
    order = "<" if fr.little_endian else ">"
    if fr.pixels.float_kind:
        return np.dtype(f"{order}f{fr.pixels.float_kind}")
    return np.dtype(f"{order}{'i' if fr.signed else 'u'}{fr.bits_allocated // 8}")


def native_readable(fr: Frame) -> bool:
    """Uncompressed bytes we can read directly at a known offset."""
    p = fr.pixels
    return (not p.encapsulated and p.value_offset is not None and fr.transfer_syntax in NATIVE_TS
            and fr.bits_allocated in (8, 16, 32, 64)
            and p.length is not None and p.length >= fr.frame_bytes * fr.n_frames)


def _read_native(source: Source, items: list[tuple[int, Frame]], out: np.ndarray,
                 check_range: bool = True) -> list[tuple[int, str | None]]:
    results: list[tuple[int, str | None]] = []
    with source.open() as f:
        for k, fr in items:
            f.seek(fr.pixels.value_offset + (fr.frame_index or 0) * fr.frame_bytes)  # type: ignore[operator]
            dt = raw_dtype(fr)
            dst = out[k]
            if out.dtype == INT16 and dt.itemsize == 2 and dt.isnative and fr.lut is None:
                # typing.BinaryIO lacks readinto; the sources' files (fdopen "rb", BytesIO) have it
                if f.readinto(memoryview(dst).cast("B")) != fr.frame_bytes:  # type: ignore[attr-defined]
                    results.append((k, "pixel data ends early"))
                    continue
                raw = fix_stored_bits(dst.view(dt), fr)
                if check_range and not _stored_extremes_fit(raw, fr):
                    results.append((k, OUT_OF_RANGE))
                    continue
                _rescale_int16_inplace(dst, fr)
            else:
                buf = f.read(fr.frame_bytes)
                if len(buf) != fr.frame_bytes:
                    results.append((k, "pixel data ends early"))
                    continue
                arr = np.frombuffer(buf, dt).reshape(fr.rows, fr.columns).astype(dt.newbyteorder("="))
                try:
                    rescale_into(fix_stored_bits(arr, fr), fr, dst)
                except OutOfRange:
                    results.append((k, OUT_OF_RANGE))
                    continue
            results.append((k, None))
    return results


def _put(arr: np.ndarray, k: int, fr: Frame, out: np.ndarray) -> tuple[int, str | None]:
    try:
        rescale_into(arr, fr, out[k])
    except OutOfRange:
        return k, OUT_OF_RANGE
    return k, None


def decode_source(source: Source, items: list[tuple[int, Frame]]) -> list[np.ndarray]:
    """Stored values of ``items``' frames of one compressed file, decoded in this thread."""
    fr = items[0][1]
    src: str | bytes = source.path if source.path is not None else source.read_bytes()
    indices = None if fr.frame_index is None else [f.frame_index for _, f in items]
    return decode_frames(src, indices, fr.transfer_syntax)  # type: ignore[arg-type]


def put_decoded(items: list[tuple[int, Frame]], arrays: list[np.ndarray],
                out: np.ndarray) -> list[tuple[int, str | None]]:
    """Rescale decoded frames into ``out``: ``(k, None)`` or ``(k, reason)`` for each item."""
    return [_put(arr, k, fr, out) for (k, fr), arr in zip(items, arrays, strict=False)]


def _read_decoded(source: Source, items: list[tuple[int, Frame]], out: np.ndarray) -> list[tuple[int, str | None]]:
    return put_decoded(items, decode_source(source, items), out)


def read_slices(source: Source, items: list[tuple[int, Frame]], out: np.ndarray,
                check_range: bool = True) -> list[tuple[int, str | None]]:
    """Fill ``out[k]`` for every ``(k, frame)`` of one file; ``(k, None)`` or ``(k, reason)``
    (:data:`OUT_OF_RANGE` when an int16 output cannot hold the slice). Never raises: a slice that
    cannot be decoded comes back with its reason."""
    done: list[tuple[int, str | None]] = []
    try:
        if native_readable(items[0][1]):
            return _read_native(source, items, out, check_range)
        done = _read_decoded(source, items, out)
        got = {k for k, _ in done}
        return done + [(k, "frame missing from the decoded pixel data") for k, _ in items if k not in got]
    except BaseException as exc:  # noqa: BLE001 - a decoder's panic (BaseException), MemoryError: the file's
        if isinstance(exc, (KeyboardInterrupt, SystemExit, GeneratorExit)):
            raise
        log.warning("%s: pixel data unreadable", source.label, exc_info=True)
        got = {k for k, _ in done}
        reason = f"pixel data unreadable ({type(exc).__name__}: {_short(exc)})"
        return done + [(k, reason) for k, _ in items if k not in got]


def resample_along_k(out: np.ndarray, actual_k: np.ndarray) -> None:
    """Move unevenly spaced slices onto their regular grid in place: slice ``k`` really lies at the
    fractional position ``actual_k[k]`` (increasing); afterwards ``out[k]`` holds the linear
    interpolation, along k, of the two real slices around grid position ``k``. Only slices not
    already on their grid position are rewritten; the originals a later slice still needs are kept
    in a small cache, so memory grows by a few slices, not by a second volume."""
    n = out.shape[0]
    originals: dict[int, np.ndarray] = {}

    def original(j: int) -> np.ndarray:
        a: np.ndarray = originals.get(j, out[j])
        return a

    for k in range(n):
        if abs(actual_k[k] - k) < 1e-6:
            continue  # this slice already lies on its grid position
        j = int(np.clip(np.searchsorted(actual_k, k, side="right") - 1, 0, n - 2))
        a, b = actual_k[j], actual_k[j + 1]
        w = 0.0 if b <= a else float(np.clip((k - a) / (b - a), 0.0, 1.0))
        for done in [i for i in originals if i < j]:
            del originals[done]
        val = original(j).astype(np.float32) * (1.0 - w) + original(j + 1).astype(np.float32) * w
        originals[k] = out[k].copy()
        out[k] = np.rint(val) if out.dtype.kind in "iu" else val


def fill_missing(out: np.ndarray, missing: list[int]) -> None:
    """Linear interpolation along k for every missing slice between two present ones; a missing
    slice at either end copies its nearest present neighbour."""
    gone = set(missing)
    present = [k for k in range(out.shape[0]) if k not in gone]
    if not present:
        return
    for k in missing:
        i = bisect.bisect_left(present, k)
        a = present[i - 1] if i > 0 else None
        b = present[i] if i < len(present) else None
        if a is None or b is None:
            out[k] = out[a if b is None else b]
            continue
        w = (k - a) / (b - a)
        val = out[a].astype(np.float32) * (1 - w) + out[b].astype(np.float32) * w
        out[k] = np.rint(val) if out.dtype.kind in "iu" else val
