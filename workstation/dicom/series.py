"""Series: scan a path (headers only, in parallel), describe each series, read one into a Volume."""
from __future__ import annotations

import collections
import itertools
import logging
import os
import re
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import DicomError
from ..volume import Volume
from .decoding import decode_pool, use_pool
from .geometry import SliceLayout, base_uid, layout_slices, split_series
from .headers import Frame, _short, one_float, prefetch, read_frames, text
from .pixels import OUT_OF_RANGE, fill_missing, native_readable, output_dtype, put_decoded, read_slices, resample_along_k
from .quiet import install as install_quiet_hooks
from .quiet import quiet_pydicom, quietly
from .sources import Skipped, Source, list_sources

log = logging.getLogger(__name__)

Progress = Callable[[int, int, int], None]


def default_workers() -> int:
    return min(8, (os.cpu_count() or 1) + 2)


# Garbage collection: an earlier version paused the cyclic collector (gc.disable) around header
# parsing and pixel reading. That switched it off for every thread of the process, the GUI's too,
# from the loading thread; measured again (300 x 512^2 CT, best of 5: 0.226-0.230 s paused, 0.200-0.236 s
# collector on, 0.221 s with gc.freeze beforehand) it made no difference beyond the noise, so the
# collector is left alone.

install_quiet_hooks()  # normally done already by the app's main thread (ui/app.py)


def _r(v: float) -> float:
    return round(float(v), 6) + 0.0


@dataclass(eq=False)
class SeriesInfo:
    """One series found by :func:`scan` (headers only): what ``info`` lists, and what
    :func:`read_series` needs."""

    series_uid: str
    modality: str
    description: str
    n_images: int
    rows: int
    columns: int
    spacing_mm: tuple[float, float, float]
    orientation: tuple[float, ...]
    origin_mm: tuple[float, float, float]
    warnings: list[str]
    layout: SliceLayout
    series_number: int | None = None

    @property
    def n_slices(self) -> int:
        """Slices of the regular grid (images plus filled gaps)."""
        return self.layout.n_slices

    @property
    def frames(self) -> list[Frame]:
        return self.layout.frames

    def to_json(self) -> dict[str, Any]:
        return {
            "series_uid": self.series_uid, "modality": self.modality, "description": self.description,
            "n_images": self.n_images, "rows": self.rows, "columns": self.columns,
            "spacing_mm": [_r(v) for v in self.spacing_mm],
            "orientation": [_r(v) for v in self.orientation],
            "origin_mm": [_r(v) for v in self.origin_mm],
            "n_slices": self.n_slices, "series_number": self.series_number, "warnings": list(self.warnings),
        }


@dataclass(eq=False)
class Scan:
    """Everything found under a path: series (largest first) and files skipped with a reason."""

    path: str
    series: list[SeriesInfo] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "series": [s.to_json() for s in self.series],
                "skipped": [s.to_json() for s in self.skipped]}

    def find(self, uid: str) -> SeriesInfo | None:
        return next((s for s in self.series if s.series_uid == uid), None)


def describe_series(uid: str, frames: list[Frame]) -> SeriesInfo:
    layout = layout_slices(frames)
    first = layout.frames[0]
    notes = list(dict.fromkeys(n for f in layout.frames for n in f.notes))
    return SeriesInfo(
        series_uid=uid, modality=first.modality, description=text(first.header, "SeriesDescription"),
        n_images=len(layout.frames), rows=first.rows, columns=first.columns,
        spacing_mm=tuple(float(v) for v in layout.spacing),  # type: ignore[arg-type]
        orientation=tuple(float(v) for v in np.concatenate([layout.row, layout.column])),
        origin_mm=tuple(float(v) for v in layout.origin),  # type: ignore[arg-type]
        warnings=notes + layout.warnings, layout=layout,
        series_number=int(v) if (v := one_float(first.header, "SeriesNumber")) is not None else None)


def scan(path: str | os.PathLike[str], workers: int | None = None) -> Scan:
    """Find the image series under ``path`` (folder, DICOMDIR, zip or file), reading headers only.

    Unusable files land in ``Scan.skipped`` with a reason; a path with no usable image at all
    raises :class:`DicomError` naming it.
    """
    path = os.fspath(path)
    sources, skipped = list_sources(path)
    frames: list[Frame] = []
    with quiet_pydicom(), ThreadPoolExecutor(workers or default_workers()) as pool:
        # file reads run in the pool; parsing (pure Python, holds the GIL) runs here as they arrive
        for src, head in _read_ahead(pool, sources, 4 * (workers or default_workers())):
            res = read_frames(src, head)
            if isinstance(res, Skipped):
                skipped.append(res)
            else:
                frames += res
    result = Scan(path, skipped=sorted(skipped, key=lambda s: s.file))
    for uid, part in split_series(frames):
        try:
            result.series.append(describe_series(uid, part))
        except Exception as exc:  # a series we cannot assemble: its files are reported, not fatal
            why = str(exc) if isinstance(exc, DicomError) else type(exc).__name__  # never a dependency's text
            reason = f"series {uid} cannot be assembled ({why})"
            result.skipped += [Skipped(f.label, reason) for f in part]
    result.series.sort(key=lambda s: (-s.n_images, s.series_number or 0, s.series_uid))
    if not result.series:
        raise DicomError(_nothing_usable(path, len(sources), result.skipped))
    return result


def _read_ahead(pool: ThreadPoolExecutor, sources: list[Source],
                ahead: int) -> Iterator[tuple[Source, tuple[bytes, int] | Skipped]]:
    """``(source, prefetch(source))`` in order, with at most ``ahead`` reads in flight."""
    pending: collections.deque[tuple[Source, Future[tuple[bytes, int] | Skipped]]] = collections.deque()
    it = iter(sources)
    for src in itertools.islice(it, ahead):
        pending.append((src, pool.submit(prefetch, src)))
    while pending:
        src, fut = pending.popleft()
        nxt = next(it, None)
        if nxt is not None:
            pending.append((nxt, pool.submit(prefetch, nxt)))
        yield src, fut.result()


def _nothing_usable(path: str, n_files: int, skipped: list[Skipped]) -> str:
    if n_files == 0 and not skipped:
        return f"{path}: no files found"
    reasons = sorted({s.reason for s in skipped})
    first = reasons[0] if reasons else "no images"
    more = f" and {len(reasons) - 1} other reason(s)" if len(reasons) > 1 else ""
    return f"{path}: no usable DICOM image ({len(skipped)} file(s) skipped: {first}{more})"


# -- reading a series ------------------------------------------------------------------------------
def _meta(info: SeriesInfo) -> dict[str, Any]:
    lay = info.layout
    first = lay.frames[0]
    h = first.header
    slot_frames = [None if s is None else lay.frames[s] for s in lay.slots]
    headers = list({id(f.header): f.header for f in slot_frames if f is not None}.values())
    win = _window(first)
    meta: dict[str, Any] = {
        "study_uid": text(h, "StudyInstanceUID"), "frame_of_reference_uid": text(h, "FrameOfReferenceUID"),
        "sop_class_uid": text(h, "SOPClassUID"),
        "sop_instance_uids": [f.sop_instance_uid if f else None for f in slot_frames],
        "files": [f.label if f else None for f in slot_frames],
        "headers": headers, "window": win,
        "patient_name": text(h, "PatientName"), "patient_id": text(h, "PatientID"),
        "patient_birth_date": text(h, "PatientBirthDate"), "patient_sex": text(h, "PatientSex"),
        "patient_age": text(h, "PatientAge"), "study_date": text(h, "StudyDate"),
        "study_description": text(h, "StudyDescription"), "series_number": info.series_number,
        "body_part": text(h, "BodyPartExamined"), "contrast_agent": text(h, "ContrastBolusAgent"),
        "manufacturer": text(h, "Manufacturer"), "slice_thickness_mm": first.slice_thickness,
        "transfer_syntax_uid": first.transfer_syntax,
        "n_images": info.n_images,
    }
    if any(f is not None and f.frame_index is not None for f in slot_frames):
        meta["frame_numbers"] = [None if f is None or f.frame_index is None else f.frame_index + 1 for f in slot_frames]
    if info.modality == "MR":
        seq = {k: text(h, k) for k in ("ScanningSequence", "SequenceVariant", "SequenceName",
                                        "EchoTime", "RepetitionTime")}
        seq["description"] = info.description
        meta["mr_sequence"] = {k: v for k, v in seq.items() if v}
    return meta


def _window(fr: Frame) -> tuple[float, float] | None:
    c, w = one_float(fr.header, "WindowCenter"), one_float(fr.header, "WindowWidth")
    if (c is None or w is None) and fr.frame_index is not None:
        from .headers import _fg_item

        voi = _fg_item(fr.header, fr.frame_index, "FrameVOILUTSequence")
        c, w = one_float(voi, "WindowCenter"), one_float(voi, "WindowWidth")
    return (c, w) if c is not None and w is not None and w > 0 else None


def allocate(info: SeriesInfo) -> tuple[Volume, bool]:
    """The empty output volume (one allocation; filled slice by slice), and whether its dtype
    holds every possible value (else each slice is range-checked as it is read)."""
    lay = info.layout
    dtype, exact = output_dtype(lay.frames)
    voxels = np.zeros((lay.n_slices, info.rows, info.columns), dtype=dtype)
    return Volume(voxels, spacing_mm=lay.spacing, origin_mm=tuple(lay.origin), row_cosine=tuple(lay.row),
                  column_cosine=tuple(lay.column), normal=tuple(lay.normal),
                  unit="HU" if info.modality == "CT" else "signal", modality=info.modality,
                  series_uid=info.series_uid, description=info.description, meta=_meta(info),
                  warnings=list(info.warnings)), exact


def read_series(info: SeriesInfo, progress: Progress | None = None,
                on_allocated: Callable[[Volume], None] | None = None, workers: int | None = None,
                first: int | None = None) -> Volume:
    """Read the pixels of a scanned series into a :class:`Volume` (HU for CT).

    ``on_allocated(volume)`` is called once the (empty) volume exists; ``progress(k, done, total)``
    after each slice ``k`` is filled (in the calling thread). Slice ``first`` (default: the middle
    one, which the viewer shows first) is read before any other, then the rest outwards from it.
    Slices that cannot be decoded become gaps, filled by interpolation and named in
    ``volume.warnings`` / ``meta['skipped']``.
    """
    vol, exact = allocate(info)
    if on_allocated is not None:
        on_allocated(vol)
    lay = info.layout
    if first is None:
        first = (lay.n_slices - 1) // 2
    jobs = _jobs(lay, first)
    counter = [0]
    failed = _fill(vol.voxels, jobs, not exact, workers, progress, counter, lay.n_slices)
    too_big = {k for k, _, err in failed if err == OUT_OF_RANGE}
    if too_big:  # rare: real values beyond int16 -> float32, and read those slices again
        log.info("%s: values beyond int16; volume promoted to float32", info.series_uid)
        vol.voxels = vol.voxels.astype(np.float32)
        again = [[(k, f) for k, f in items if k in too_big] for items in jobs]
        failed = [f for f in failed if f[0] not in too_big]
        failed += _fill(vol.voxels, [j for j in again if j], False, workers, progress, counter, lay.n_slices)
    if len(failed) == sum(len(v) for v in jobs):
        raise DicomError(f"series {info.series_uid}: no readable slices ({failed[0][2]}, {failed[0][1]})")
    _finish_gaps(vol, lay, failed, progress, counter[0])
    if lay.actual_k is not None:
        resample_along_k(vol.voxels, lay.actual_k)
    return vol


Job = list[tuple[int, Frame]]  # the slices (k, frame) read from one file in one go


def _jobs(lay: SliceLayout, first: int) -> list[Job]:
    """One job per file, the file holding slice ``first`` alone first (only that slice when the file
    holds several), the others ordered by their distance to it."""
    by_source: dict[str, Job] = {}
    for k, s in enumerate(lay.slots):
        if s is not None:
            fr = lay.frames[s]
            by_source.setdefault(fr.label, []).append((k, fr))
    jobs = sorted(by_source.values(), key=lambda items: min(abs(k - first) for k, _ in items))
    if jobs and len(jobs[0]) > 1:
        head = [kf for kf in jobs[0] if kf[0] == first] or [min(jobs[0], key=lambda kf: abs(kf[0] - first))]
        rest = [kf for kf in jobs[0] if kf not in head]
        jobs = [head, rest] + jobs[1:]
    return jobs


def _fill(out: np.ndarray, jobs: list[Job], check_range: bool, workers: int | None,
          progress: Progress | None, counter: list[int], total: int) -> list[tuple[int, str, str]]:
    """Read every job's slices into ``out``: the first job at once in this thread (the slice shown
    first), then the rest in parallel -- compressed frames of the slow syntaxes in the decoding
    processes, everything else in threads. The failures as (k, file, reason)."""
    failed: list[tuple[int, str, str]] = []

    def record(results: list[tuple[int, str | None]], label: str) -> None:
        for k, err in results:
            if err is not None:
                failed.append((k, label, err))
                continue
            counter[0] += 1
            if progress is not None:
                progress(k, counter[0], total)

    if not jobs:
        return failed
    with quiet_pydicom():
        record(read_slices(jobs[0][0][1].source, jobs[0], out, check_range), jobs[0][0][1].label)
    rest = jobs[1:]
    pooled = [j for j in rest if j[0][1].source.on_disk and not native_readable(j[0][1])
              and use_pool(j[0][1].transfer_syntax, len(rest))]
    threaded = [j for j in rest if not any(j is p for p in pooled)]
    with ThreadPoolExecutor(workers or default_workers()) as threads:
        pool = decode_pool() if pooled else None
        futures: dict[Future[Any], tuple[Job, bool]] = {}
        for j in pooled:
            futures[pool.submit(j[0][1].source.path, _indices(j), j[0][1].transfer_syntax)] = (j, True)  # type: ignore[union-attr, arg-type]
        for j in threaded:
            futures[threads.submit(quietly, read_slices, j[0][1].source, j, out, check_range)] = (j, False)
        try:
            for fut in as_completed(futures):
                job, from_pool = futures[fut]
                record(_collect(fut, job, from_pool, out), job[0][1].label)
        except BaseException:  # cancelled by the progress callback: drop what has not started
            for fut in futures:
                fut.cancel()
            raise
    return failed


def _indices(job: Job) -> list[int] | None:
    return None if job[0][1].frame_index is None else [fr.frame_index for _, fr in job]  # type: ignore[misc]


def _collect(fut: Future[Any], job: Job, from_pool: bool, out: np.ndarray) -> list[tuple[int, str | None]]:
    """A finished job's results; a decoding process's arrays are rescaled into ``out`` here."""
    if not from_pool:
        return fut.result()  # type: ignore[no-any-return]
    try:
        arrays = fut.result()
    except Exception as exc:  # a broken file (or a worker that died): its slices become gaps
        reason = f"pixel data unreadable ({type(exc).__name__}: {_short(exc)})"
        return [(k, reason) for k, _ in job]
    done = put_decoded(job, arrays, out)
    got = {k for k, _ in done}
    return done + [(k, "frame missing from the decoded pixel data") for k, _ in job if k not in got]


def _finish_gaps(vol: Volume, lay: SliceLayout, failed: list[tuple[int, str, str]], progress: Progress | None, done: int) -> None:
    missing = [k for k, s in enumerate(lay.slots) if s is None]
    for k, label, err in sorted(failed):
        vol.warnings.append(f"slice {k} ({label}) unreadable: {err}; filled from its neighbours")
        log.info("%s: slice %d unreadable: %s", vol.series_uid, k, err)
        vol.meta["files"][k] = None
        vol.meta["sop_instance_uids"][k] = None
        missing.append(k)
    vol.meta["skipped"] = [{"file": label, "reason": err} for _, label, err in sorted(failed)]
    missing.sort()
    fill_missing(vol.voxels, missing)
    for k in missing:
        done += 1
        if progress is not None:
            progress(k, done, lay.n_slices)


# -- choosing a series -----------------------------------------------------------------------------
def split_series_path(spec: str | os.PathLike[str]) -> tuple[str, str | None]:
    """``PATH#SERIES_UID`` -> (PATH, UID); a path that exists as given has no UID."""
    spec = os.fspath(spec)
    if os.path.exists(spec) or "#" not in spec:
        return spec, None
    i = spec.find("#")
    while i != -1:
        if os.path.exists(spec[:i]):
            return spec[:i], spec[i + 1:] or None
        i = spec.find("#", i + 1)
    head, _, uid = spec.partition("#")
    return head, uid or None


_UID_FORM = re.compile(r"[0-9]+(\.[0-9]+)*(#[0-9]+)?")
_MODALITY_FORM = re.compile(r"[A-Z0-9]{1,16}")


def series_label(s: SeriesInfo) -> str:
    """A series named for a message without free text: its UID (only when it has the form of one),
    number, modality (only when it looks like a code) and image count. The description is left
    out: it is free text that can carry a name (issue 11)."""
    uid = s.series_uid if len(s.series_uid) <= 80 and _UID_FORM.fullmatch(s.series_uid) else "(malformed UID)"
    modality = s.modality if _MODALITY_FORM.fullmatch(s.modality or "") else "?"
    number = f"series {s.series_number}, " if s.series_number is not None else ""
    return f"{uid} ({number}{modality}, {s.n_images} images)"


def choose_series(found: Scan, uid: str | None) -> SeriesInfo:
    """The series named by ``uid``; without one, the only series (split parts of one series count
    as one: its largest part is taken)."""
    listing = "; ".join(series_label(s) for s in found.series)
    if uid:
        hit = found.find(uid)
        if hit is None:
            raise DicomError(f"{found.path}: no series {uid}; found: {listing}")
        return hit
    bases = {base_uid(s.series_uid) for s in found.series}
    if len(bases) > 1:
        raise DicomError(f"{found.path}: {len(bases)} series, choose one as PATH#SERIES_UID: {listing}")
    return found.find(next(iter(bases))) or found.series[0]


def load_series(path: str | os.PathLike[str], progress: Progress | None = None,
                on_allocated: Callable[[Volume], None] | None = None) -> Volume:
    """Load one series as a :class:`Volume`; ``path`` may be ``PATH#SERIES_UID``."""
    where, uid = split_series_path(path)
    found = scan(where)
    return read_series(choose_series(found, uid), progress=progress, on_allocated=on_allocated)
