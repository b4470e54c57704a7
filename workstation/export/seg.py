"""The grown lesions as a binary DICOM Segmentation (``lesion-seg.dcm``), written with highdicom.

One segment per lesion, the target lesion first (then the order of the measurements): Segmented
Property Category SCT Morphologically Abnormal Structure, Type SCT Mass, anatomic region SCT
Retroperitoneum, algorithm SEMIAUTOMATIC (seeded region growing + brush correction, family DCM
Neighborhood Analysis) with the workstation's name and version, a display colour per segment, and
the segment's Tracking UID equal to the SR's tracking UID of the same lesion (stable from one export
of the same read to the next). Frames reference the source series' instances (``volume.meta
['headers']``, header-only datasets); empty frames are omitted (highdicom's default).

Where the lesion masks come from: the masks the app holds (or the session store saved), keyed by the
Lesion3D record id; a record without a usable mask is grown again from its recorded seed.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import highdicom as hd
import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from .. import __version__
from ..errors import InputError, WorkstationError
from ..measure.model import Lesion3D, Measurement
from ..volume import Volume
from . import codes as C

log = logging.getLogger(__name__)

SEG_SERIES_NUMBER = 9902
SEG_FILE = "lesion-seg.dcm"
MANUFACTURER = "rp-workstation"
ALGORITHM_NAME = "rp-workstation lesion grower"


@dataclass
class LesionMask:
    """One lesion to export: its record (id, label, seed, end points, figures) and its mask."""

    record: Lesion3D
    mask: np.ndarray = field(repr=False)

    @property
    def target(self) -> bool:
        return is_target(self.record)


def is_target(rec: Any) -> bool:
    """The lesion's target flag (a ``target`` attribute, or ``figures['target']``); False if absent."""
    v = getattr(rec, "target", None)
    if v is None:
        figures = getattr(rec, "figures", None) or {}
        v = figures.get("target") if isinstance(figures, Mapping) else None
    return bool(v)


def target_first(items: Sequence[Any], key: Any = None) -> list[Any]:
    """``items`` with the target lesion(s) first, otherwise in their order (stable)."""
    get = key or (lambda x: x)
    return sorted(items, key=lambda x: 0 if is_target(get(x)) else 1)


def tracking_uid(study_uid: str, kind: str, mid: str) -> str:
    """A UID that stays the same for the same measurement of the same study (every export)."""
    return str(generate_uid(entropy_srcs=["rp-workstation tracking", str(study_uid), kind, str(mid)]))


def study_uid_of(evidence: Sequence[Dataset], volume: Volume | None = None) -> str:
    uid = getattr(evidence[0], "StudyInstanceUID", None) if evidence else None
    if not uid and volume is not None:
        uid = (volume.meta or {}).get("study_uid")
    return str(uid or "")


# ------------------------------------------------------------------------------- which masks


def lesion_masks(volume: Volume, measurements: Iterable[Measurement],
                 masks: Mapping[str, np.ndarray] | None = None, *, regrow: bool = True) -> list[LesionMask]:
    """Every Lesion3D among ``measurements`` (the caller picks those of ``volume``'s frame of
    reference) with its mask: the given mask when it was drawn on this series and fits it, else the
    lesion grown again on ``volume`` from its recorded seed (``regrow``). A lesion that cannot be grown again (seed
    outside this series, nothing to grow) is left out with a log line."""
    out: list[LesionMask] = []
    masks = masks or {}
    for rec in measurements:
        if not isinstance(rec, Lesion3D):
            continue
        own = not rec.series_uid or not volume.series_uid or rec.series_uid == volume.series_uid
        m = masks.get(rec.id) if own else None   # a mask drawn on another series of the same grid is not this one's
        if m is not None and np.shape(m) == volume.shape and np.any(m):
            out.append(LesionMask(rec, np.asarray(m, dtype=bool)))
            continue
        if m is not None:
            log.warning("SEG export: the saved mask of lesion %s does not fit the series; grown again", rec.id)
        if not regrow:
            continue
        grown = _regrow(volume, rec)
        if grown is not None:
            out.append(LesionMask(rec, grown))
    return target_first(out, key=lambda lm: lm.record)


def _regrow(volume: Volume, rec: Lesion3D) -> np.ndarray | None:
    from ..measure.segment import grow_lesion

    try:
        res = grow_lesion(volume, rec.seed)
    except WorkstationError as exc:
        log.warning("SEG export: lesion %s could not be grown again from its seed (%s)", rec.id, exc)
        return None
    return np.asarray(res.mask, dtype=bool)


# ------------------------------------------------------------------------------- statistics


def mask_stats(volume: Volume, mask: np.ndarray) -> dict[str, float]:
    """Mean and SD of the volume's values inside ``mask`` (HU on CT), its voxel count and volume."""
    vals = np.asarray(volume.voxels)[mask]
    if vals.size == 0:
        return {}
    return {"mean": float(np.mean(vals, dtype=np.float64)), "sd": float(np.std(vals, dtype=np.float64)),
            "n_voxels": float(vals.size), "volume_ml": float(vals.size) * float(volume.voxel_volume_ml)}


# ------------------------------------------------------------------------------- the SEG


def _slice_sources(volume: Volume, headers: Sequence[Dataset]) -> list[Dataset | None]:
    """For each slice k, the single-frame header that lies on it (same position), or None."""
    out: list[Dataset | None] = [None] * volume.shape[0]
    for h in headers:
        if int(getattr(h, "NumberOfFrames", 1) or 1) > 1 or "ImagePositionPatient" not in h:
            continue
        kji = volume.patient_to_index([float(v) for v in h.ImagePositionPatient])
        k = int(round(float(kji[0])))
        if 0 <= k < len(out) and abs(float(kji[0]) - k) < 0.05 and abs(float(kji[1])) < 0.05 \
                and abs(float(kji[2])) < 0.05:
            out[k] = h
    return out


def _color(i: int) -> hd.color.CIELabColor:
    values = C.table()["seg"]["colors_rgb"]["values"]
    r, g, b = values[i % len(values)]
    return hd.color.CIELabColor.from_rgb(r, g, b)


def _description(i: int, lm: LesionMask, study_uid: str) -> hd.seg.SegmentDescription:
    label = lm.record.label or ("Target lesion" if lm.target else f"Lesion {i}")
    return hd.seg.SegmentDescription(
        segment_number=i, segment_label=label[:64],
        segmented_property_category=C.code("seg", "property_category"),
        segmented_property_type=C.code("seg", "property_type"),
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.SEMIAUTOMATIC,
        algorithm_identification=hd.AlgorithmIdentificationSequence(
            name=ALGORITHM_NAME, family=C.code("seg", "algorithm_family"), version=__version__),
        tracking_uid=tracking_uid(study_uid, "lesion", lm.record.id),
        tracking_id=f"lesion {lm.record.id}",
        anatomic_regions=[C.code("seg", "anatomic_region")],
        display_color=_color(i - 1))


def _plane_geometry(volume: Volume, ks: Sequence[int]) -> dict[str, Any]:
    """Explicit plane positions / orientation / spacing for slices ``ks`` of the volume grid
    (a series resampled onto a regular grid, or a multi-frame source)."""
    dz, dr, dc = (float(v) for v in volume.spacing_mm)
    pos = [hd.PlanePositionSequence(coordinate_system="PATIENT",
                                    image_position=[float(v) for v in volume.index_to_patient((k, 0, 0))])
           for k in ks]
    orient = hd.PlaneOrientationSequence(coordinate_system="PATIENT",
                                         image_orientation=[float(v) for v in volume.orientation])
    measures = hd.PixelMeasuresSequence(pixel_spacing=[dr, dc], slice_thickness=dz, spacing_between_slices=dz)
    return {"plane_positions": pos, "plane_orientation": orient, "pixel_measures": measures}


def build_seg(volume: Volume, lesions: Sequence[LesionMask], *, source_images: Sequence[Dataset] | None = None,
              series_instance_uid: str | None = None, sop_instance_uid: str | None = None) -> hd.seg.Segmentation:
    """The binary Segmentation of ``lesions`` (already in export order) on ``volume``'s grid.

    ``source_images`` default to the volume's header-only datasets (de-identification passes
    remapped ones, in the same order)."""
    if not lesions:
        raise InputError("lesions: nothing to put into a segmentation")
    headers = list(source_images) if source_images is not None else list((volume.meta or {}).get("headers") or [])
    if not headers:
        raise InputError("volume: no source headers (meta['headers']) for the segmentation to reference")
    for lm in lesions:
        if lm.mask.shape != volume.shape:
            raise InputError(f"lesion {lm.record.id}: mask shape {lm.mask.shape} does not match the series {volume.shape}")
    stack = np.stack([lm.mask for lm in lesions], axis=-1)          # (k, rows, cols, segments)
    ks = [int(k) for k in np.flatnonzero(stack.any(axis=(1, 2, 3)))]
    if not ks:
        raise InputError("lesions: every lesion mask is empty")
    per_slice = _slice_sources(volume, headers)
    kw: dict[str, Any] = {}
    if all(per_slice[k] is not None for k in ks):
        sources = [h for h in (per_slice[k] for k in ks) if h is not None]  # one source image per frame
        pixels = stack[ks]
    else:                                                             # resampled / multi-frame source
        sources = headers
        kw = _plane_geometry(volume, ks)
        pixels = stack[ks]
    study_uid = study_uid_of(headers, volume)
    descriptions = [_description(i, lm, study_uid) for i, lm in enumerate(lesions, start=1)]
    try:
        return hd.seg.Segmentation(
            source_images=sources, pixel_array=pixels,
            segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
            segment_descriptions=descriptions,
            series_instance_uid=series_instance_uid or generate_uid(), series_number=SEG_SERIES_NUMBER,
            sop_instance_uid=sop_instance_uid or generate_uid(), instance_number=1,
            manufacturer=MANUFACTURER, manufacturer_model_name="rp-workstation",
            software_versions=__version__, device_serial_number="0",
            series_description="RP mass segmentation", content_label="LESION",
            content_description="Grown retroperitoneal lesion(s)",
            omit_empty_frames=True, **kw)
    except (ValueError, TypeError, AttributeError) as exc:
        raise WorkstationError(f"SEG export: the series headers cannot serve as source images ({exc})") from None


def seg_bytes(seg: Dataset) -> bytes:
    import io

    buf = io.BytesIO()
    seg.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


# ------------------------------------------------------------------------------- reading back


def read_seg_masks(seg_path: Any, volume: Volume) -> dict[str, np.ndarray]:
    """Masks on ``volume``'s grid from a SEG this module wrote (or any binary SEG on the same
    frame of reference), keyed by the segment's tracking id (``lesion <id>``) or ``segment <n>``."""
    try:
        seg = hd.seg.segread(seg_path)
    except Exception as exc:  # pydicom/highdicom raise many kinds on a bad file
        raise InputError(f"{seg_path}: not a readable DICOM Segmentation ({type(exc).__name__})") from None
    out: dict[str, np.ndarray] = {}
    for n in seg.segment_numbers:
        desc = seg.get_segment_description(n)
        tid = getattr(desc, "tracking_id", None) or f"segment {n}"
        mask = np.zeros(volume.shape, dtype=bool)
        for f in range(1, int(seg.NumberOfFrames) + 1):
            if int(_group(seg, f, "SegmentIdentificationSequence").ReferencedSegmentNumber) != n:
                continue
            ipp = [float(v) for v in _group(seg, f, "PlanePositionSequence").ImagePositionPatient]
            kji = volume.patient_to_index(ipp)
            k = int(round(float(kji[0])))
            if not (0 <= k < volume.shape[0]) or abs(float(kji[1])) > 0.5 or abs(float(kji[2])) > 0.5:
                raise InputError(f"{seg_path}: segment {n} is not on the grid of the series shown")
            mask[k] |= _frame(seg, f).astype(bool)
        out[tid] = mask
    return out


def _group(seg: Any, f: int, name: str) -> Any:
    """A functional group of frame ``f``: per frame, else shared (a one-segment SEG keeps its
    segment identification in the shared groups)."""
    per = seg.PerFrameFunctionalGroupsSequence[f - 1]
    if name in per:
        return per[name].value[0]
    return seg.SharedFunctionalGroupsSequence[0][name].value[0]


def _frame(seg: Any, f: int) -> np.ndarray:
    return np.asarray(seg.get_stored_frame(f)) if hasattr(seg, "get_stored_frame") \
        else np.asarray(seg.pixel_array[f - 1])


def export_seg(volume: Volume, measurements: Iterable[Measurement],
               masks: Mapping[str, np.ndarray] | None = None, *, source_images: Sequence[Dataset] | None = None,
               regrow: bool = True) -> tuple[hd.seg.Segmentation | None, dict[str, dict[str, float]]]:
    """The SEG of every grown lesion among ``measurements`` (None when there is none) and each
    lesion's mask statistics by id (mean / SD / volume, for the SR)."""
    lms = lesion_masks(volume, measurements, masks, regrow=regrow)
    if not lms:
        return None, {}
    stats = {lm.record.id: mask_stats(volume, lm.mask) for lm in lms}
    return build_seg(volume, lms, source_images=source_images), stats


def seg_beside(sr_path: str | os.PathLike[str]) -> Path | None:
    """The ``lesion-seg.dcm`` next to an SR when the SR lists it in its evidence (a SEG left from an
    older export of the folder is not the SR's), else None."""
    p = Path(sr_path).with_name(SEG_FILE)
    if not p.is_file():
        return None
    try:
        sr = pydicom.dcmread(sr_path, stop_before_pixels=True)
        seg_uid = str(pydicom.dcmread(p, stop_before_pixels=True, specific_tags=["SOPInstanceUID"]).SOPInstanceUID)
    except Exception:  # noqa: BLE001 - unreadable: treated as absent
        return None
    for study in sr.get("CurrentRequestedProcedureEvidenceSequence", []):
        for series in study.get("ReferencedSeriesSequence", []):
            if any(str(it.ReferencedSOPInstanceUID) == seg_uid for it in series.get("ReferencedSOPSequence", [])):
                return p
    return None


__all__ = ["LesionMask", "lesion_masks", "build_seg", "export_seg", "SEG_FILE", "seg_bytes", "read_seg_masks",
           "mask_stats", "tracking_uid", "is_target", "target_first", "seg_beside"]
