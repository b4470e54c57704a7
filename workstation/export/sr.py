"""DICOM Comprehensive 3D SR with a TID 1500 Measurement Report (v2), written and read with highdicom.

Content (every code from ``resources/codes.json``, which records its provenance):

* **TID 1600 image library**: every instance of the measured series (highdicom builds the entries
  from the header-only datasets).
* per **lesion** (target first): a TID 1411 volumetric ROI group that references its segment in
  ``lesion-seg.dcm`` (ReferencedSegment + source series), finding SCT Mass, sites SCT
  Retroperitoneum (and SCT Inferior vena cava with a private segment modifier); IBSI Maximum 3D
  diameter, SCT Long / Short axis (axial), DCM Height (craniocaudal extent), SCT Volume, mean and
  SD (DCM Attenuation Coefficient with SCT Mean / Standard Deviation); on the target lesion also
  the enhancement figures (pre / post means, SCT Difference in attenuation) and the checklist
  answers, calls and, only when staging applies, the T category and stage group as coded
  qualitative evaluations. TID 1411 refuses measurements with coordinates, so the end points of the
  greatest dimension are a SCOORD3D POLYLINE in a TID 1501 group with the *same* tracking UID (a
  viewer that merges groups by tracking UID sees one lesion). Without a SEG the lesion group is TID 1501.
* each **caliper**: TID 1501 group, SCT Length INFERRED FROM a 2D SCOORD POLYLINE on the image it
  was drawn on (SELECTED FROM the SOP instance, and frame for multi-frame images) and from a
  SCOORD3D POLYLINE (TID 1410 regions must be closed shapes or points, so an open line cannot be one);
* each **ellipse ROI** and **IVC landmark**: TID 1410 group whose region is a 2D SCOORD (ELLIPSE /
  POINT) on its image (a SCOORD3D only when no source image can be named), with mean / SD / min /
  max and SCT Area, or the landmark's private finding code;
* each **angle**: TID 1501 group, SCT Angle (UCUM deg) INFERRED FROM a three-point POLYLINE (arm
  end, vertex, arm end) as 2D SCOORD on its image and as SCOORD3D, like a caliper (SCT Angle is the
  generic concept; CID 7550 holds only Cobb and acetabular angles);
* each **freehand ROI**: TID 1410 group whose region is a closed 2D SCOORD POLYLINE (first point
  repeated last) on its image, or a SCOORD3D POLYGON when drawn across slices, with mean / SD / min
  / max and SCT Area;
* each **arrow**: TID 1410 group whose region is a POINT at its head (OHIF's SR display draws a
  POINT as an arrow pointing at it), with its note as a DCM Short Label TEXT (HAS CONCEPT MOD) whose
  DCM Reference Points POINT (HAS PROPERTIES) is the tail, where the note sits: the encoding of
  D. Clunie's planar-annotation proposal, which dwv reads and dcmqi lists as the group's evaluation;
* the TID 1500 "Qualitative Evaluations" container (UMLS C0034375): DCM Impression (leading
  diagnosis) and DCM Differential Diagnosis/Impression items, each with DCM Probability (%), SCT
  Histologic grade, DCM Recommendation items (with their text), then two TEXT items: the findings
  document (99RPWS FINDINGS-JSON) and the measurement records (99RPWS MEAS-JSON, exact float64
  coordinates, ids, labels, target flag, seed) which :func:`read_sr` uses when the coded content
  alone cannot place a measurement.

Tracking identifiers read ``<kind> <id>[: <label>]``; tracking UIDs derive from the study UID and the
measurement id (:func:`workstation.export.seg.tracking_uid`), so they are the same at every export of
the same read and follow-up reports can match lesions; the SEG segment of a lesion carries the same
UID. Evidence: the series' header-only datasets (``volume.meta['headers']``) and the SEG.
"""
from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import highdicom as hd
import numpy as np
from highdicom.coding_schemes import CodingSchemeIdentificationItem
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.uid import generate_uid

from .. import __version__
from ..errors import InputError, WorkstationError
from ..measure.model import Angle, Arrow, Caliper, EllipseROI, FreehandROI, Landmark, Lesion3D, Measurement
from ..volume import Volume
from . import codes as C
from .seg import is_target, study_uid_of, tracking_uid
from .sr_read_guard import guarded as guarded_sr_reader

log = logging.getLogger(__name__)

MANUFACTURER = "rp-workstation"
SR_SERIES_NUMBER = 9901
RECORDS_SCHEMA = "rp-sr-records/1"
_TRACK_RE = re.compile(r"^(caliper|ellipse|landmark|lesion|angle|freehand|arrow) ([0-9A-Za-z_-]+)(?:: (.*))?$", re.S)

# ---------------------------------------------------------------------------------- inputs


@dataclass
class LesionFigures:
    """What the SR and the report need of a grown lesion (from a LesionResult, Lesion3D or dict)."""

    greatest_dimension_mm: float | None = None
    endpoints: tuple[tuple[float, float, float], tuple[float, float, float]] | None = None
    volume_ml: float | None = None
    axial_long_mm: float | None = None
    axial_short_mm: float | None = None
    craniocaudal_mm: float | None = None
    mean_hu: float | None = None
    id: str | None = None
    label: str = ""
    sd_hu: float | None = None
    target: bool = False
    seed: tuple[float, float, float] | None = None

    @classmethod
    def from_any(cls, obj: Any) -> LesionFigures | None:
        if obj is None:
            return None
        if isinstance(obj, LesionFigures):
            return obj
        d: dict[str, Any] = {}
        if isinstance(obj, Lesion3D):
            d = dict(obj.figures)
            d["endpoints"] = obj.endpoints
            d["id"], d["label"] = obj.id, obj.label
            d["seed"] = obj.seed
        elif isinstance(obj, Mapping):
            d = dict(obj)
        else:
            if hasattr(obj, "to_json"):
                d = dict(obj.to_json())
            for k in ("greatest_dimension_mm", "endpoints", "volume_ml", "axial_long_mm",
                      "axial_short_mm", "craniocaudal_mm", "mean_hu"):
                if hasattr(obj, k):
                    d[k] = getattr(obj, k)
        out = cls()
        for k in ("greatest_dimension_mm", "volume_ml", "axial_long_mm", "axial_short_mm",
                  "craniocaudal_mm", "mean_hu", "sd_hu"):
            v = d.get(k)
            setattr(out, k, None if v is None else float(v))
        ep = d.get("endpoints")
        if ep is not None:
            a = np.asarray(ep, dtype=float)
            if a.shape != (2, 3) or not np.all(np.isfinite(a)):
                raise InputError(f"lesion.endpoints: expected two LPS points, got {ep!r}")
            out.endpoints = ((float(a[0, 0]), float(a[0, 1]), float(a[0, 2])),
                             (float(a[1, 0]), float(a[1, 1]), float(a[1, 2])))
            if out.greatest_dimension_mm is None:
                out.greatest_dimension_mm = float(np.linalg.norm(a[1] - a[0]))
        out.id = d.get("id")
        out.label = str(d.get("label") or "")
        out.target = is_target(obj) or bool(d.get("target"))
        seed = d.get("seed")
        if seed is not None and np.asarray(seed, dtype=float).shape == (3,):
            out.seed = tuple(float(v) for v in seed)  # type: ignore[assignment]
        return out


@dataclass
class EnhancementFigures:
    """Pre/post ROI means and the delta (from an EnhancementResult, its to_json() or a dict)."""

    pre_mean: float | None = None
    post_mean: float | None = None
    delta_hu: float | None = None
    percent: float | None = None
    radius_mm: float | None = None
    call: str | None = None

    @classmethod
    def from_any(cls, obj: Any) -> EnhancementFigures | None:
        if obj is None:
            return None
        if isinstance(obj, EnhancementFigures):
            return obj
        if not isinstance(obj, Mapping) and hasattr(obj, "to_json"):
            obj = obj.to_json()
        src = obj

        def get(k: str) -> Any:
            return src.get(k) if isinstance(src, Mapping) else getattr(src, k, None)

        def mean_of(side: str) -> float | None:
            v = get(side)
            if isinstance(v, Mapping):
                v = v.get("mean", v.get("mean_hu"))
            elif v is not None and hasattr(v, "mean"):
                v = v.mean
            if v is None:
                v = get(f"{side}_mean") if get(f"{side}_mean") is not None else get(f"{side}_mean_hu")
            return None if v is None else float(v)

        def num(k: str) -> float | None:
            v = get(k)
            return None if v is None else float(v)

        return cls(pre_mean=mean_of("pre"), post_mean=mean_of("post"), delta_hu=num("delta_hu"),
                   percent=num("percent"), radius_mm=num("radius_mm"), call=get("call"))


# ---------------------------------------------------------------------------------- writing


def _track(kind: str, mid: str, label: str = "") -> str:
    return f"{kind} {mid}" + (f": {label}" if label else "")


def _clean_id(mid: str | None, fallback: str) -> str:
    return re.sub(r"[^0-9A-Za-z_-]", "", mid or "") or fallback


def _tracking(ctx: _Ctx, kind: str, mid: str | None, label: str = "") -> hd.sr.TrackingIdentifier:
    """Tracking identifier ``<kind> <id>[: <label>]`` with a UID that is the same at every export
    of the same measurement of the same study."""
    mid = _clean_id(mid, kind)
    return hd.sr.TrackingIdentifier(uid=tracking_uid(ctx.study_uid, kind, mid),
                                    identifier=_track(kind, mid, label)[:64])


def _num(name: Any, value: float, unit: Any, **kw: Any) -> hd.sr.Measurement:
    return hd.sr.Measurement(name=name, value=float(value), unit=unit, **kw)


def _qual(name: Any, value: Any) -> hd.sr.QualitativeEvaluation:
    return hd.sr.QualitativeEvaluation(name=name, value=value)


def _value_unit(volume: Volume) -> tuple[Any, Any]:
    """Name and unit of an intensity measurement on this volume (HU for CT, no units for MR)."""
    if volume.unit == "HU":
        return C.code("lesion", "attenuation"), C.code("units", "hu")
    return C.code("lesion", "signal"), C.code("units", "none")


@dataclass
class _Ctx:
    """What every group builder needs: the volume, its frame of reference, the evidence (possibly
    de-identified) and the study UID the tracking UIDs derive from."""

    volume: Volume
    for_uid: str
    evidence: list[Dataset]
    study_uid: str

    def image_ref(self, xyz: Sequence[float]) -> tuple[str, str, int | None, int] | None:
        """(SOP class, SOP instance, frame number or None, slice index k) of the source image
        nearest to ``xyz``."""
        meta = self.volume.meta or {}
        uids = meta.get("sop_instance_uids") or []
        kji = np.asarray(self.volume.patient_to_index(xyz), dtype=float)
        if not len(uids):
            return None
        k = int(np.clip(round(float(kji[0])), 0, len(uids) - 1))
        avail = [i for i, u in enumerate(uids) if u]
        if not avail:
            return None
        k = min(avail, key=lambda i: abs(i - k))
        uid = self.remap(str(uids[k]))
        frames = meta.get("frame_numbers")
        frame = int(frames[k]) if frames and frames[k] else None
        cls = str(meta.get("sop_class_uid") or getattr(self.evidence[0], "SOPClassUID", ""))
        return cls, uid, frame, k

    def remap(self, uid: str) -> str:
        """The evidence's UID for an original instance UID (evidence may be de-identified, in the
        volume headers' order)."""
        orig = [str(getattr(h, "SOPInstanceUID", "")) for h in (self.volume.meta or {}).get("headers") or ()]
        if uid in orig and len(orig) == len(self.evidence):
            return str(self.evidence[orig.index(uid)].SOPInstanceUID)
        return uid

    def pixels(self, points: np.ndarray) -> tuple[str, str, int | None, np.ndarray] | None:
        """(column, row) pixel coordinates of ``points`` on the image nearest to their centre (DICOM
        pixel coordinates: 0.5 is the first pixel's centre), or None when they do not all lie on
        that image (within half a slice): a line drawn across slices has no single image."""
        ref = self.image_ref(np.mean(np.asarray(points, dtype=float), axis=0))
        if ref is None:
            return None
        kji = np.asarray([self.volume.patient_to_index(p) for p in points], dtype=float).reshape(-1, 3)
        if np.any(np.abs(kji[:, 0] - ref[3]) > 0.5 + 1e-6):
            return None
        return ref[0], ref[1], ref[2], np.stack([kji[:, 2] + 0.5, kji[:, 1] + 0.5], axis=1)


def _figure_measurements(lf: LesionFigures, volume: Volume) -> list[hd.sr.Measurement]:
    mm = C.code("units", "mm")
    ms: list[hd.sr.Measurement] = []
    if lf.greatest_dimension_mm is not None:
        ms.append(_num(C.code("lesion", "greatest_dimension"), lf.greatest_dimension_mm, mm))
    for key, attr in (("axial_long", "axial_long_mm"), ("axial_short", "axial_short_mm"),
                      ("craniocaudal", "craniocaudal_mm")):
        v = getattr(lf, attr)
        if v is not None:
            ms.append(_num(C.code("lesion", key), v, mm))
    if lf.volume_ml is not None:
        ms.append(_num(C.code("lesion", "volume"), lf.volume_ml, C.code("units", "ml")))
    name, unit = _value_unit(volume)
    if lf.mean_hu is not None:
        ms.append(_num(name, lf.mean_hu, unit, derivation=C.code("derivation", "mean")))
    if lf.sd_hu is not None:
        ms.append(_num(name, lf.sd_hu, unit, derivation=C.code("derivation", "sd")))
    return ms


def _finding_measurements(findings: Mapping[str, Any], enh: EnhancementFigures | None,
                          volume: Volume) -> list[hd.sr.Measurement]:
    """Enhancement and thrombus figures (they belong to the mass as a whole: the target lesion)."""
    hu = C.code("units", "hu")
    ms: list[hd.sr.Measurement] = []
    delta = enh.delta_hu if enh and enh.delta_hu is not None else findings.get("enhancement_delta_hu")
    pct = enh.percent if enh and enh.percent is not None else findings.get("enhancement_percent")
    unit_i = hu if volume.unit == "HU" or delta is not None else C.code("units", "none")
    if enh is not None:
        for key, v in (("mean_pre", enh.pre_mean), ("mean_post", enh.post_mean)):
            if v is not None:
                ms.append(_num(C.code("lesion", key), v, unit_i, derivation=C.code("derivation", "mean")))
    if delta is not None:
        ms.append(_num(C.code("lesion", "enhancement_delta"), delta, hu))
    if pct is not None:
        ms.append(_num(C.code("lesion", "enhancement_percent"), pct, C.code("units", "percent")))
    if findings.get("thrombus_delta_hu") is not None:
        ms.append(_num(C.code("lesion", "thrombus_delta"), findings["thrombus_delta_hu"], hu))
    return ms


def staging_applies(findings: Mapping[str, Any], assessment: Mapping[str, Any]) -> bool:
    """``assessment['staging']['applies']``; until the reasoning gives it: a sarcoma leads the
    differential or the findings' histology names one (cli-v2.md)."""
    st = assessment.get("staging")
    if isinstance(st, Mapping) and "applies" in st:
        return bool(st["applies"])
    sarcomas = set(C.table()["diagnosis_groups"]["sarcoma"])
    if findings.get("histology") in sarcomas:
        return True
    diffs = assessment.get("differentials") or []
    return bool(diffs) and isinstance(diffs[0], Mapping) and diffs[0].get("id") in sarcomas


def _qualitative(findings: Mapping[str, Any], a: Mapping[str, Any]) -> list[hd.sr.QualitativeEvaluation]:
    quals: list[hd.sr.QualitativeEvaluation] = []
    present, absent = C.code("lesion", "present"), C.code("lesion", "absent")
    for fid, val in (findings.get("findings") or {}).items():
        if val is None:
            continue
        try:
            name = C.code("checklist", fid)
        except KeyError:
            log.info("SR export: checklist item %s has no code; left out of the SR", fid)
            continue
        quals.append(_qual(name, present if val else absent))
    if staging_applies(findings, a):
        if a.get("t_category"):
            quals.append(_qual(C.code("staging", "t_category"), C.value_code("staging", a["t_category"])))
        if a.get("stage_group"):
            quals.append(_qual(C.code("staging", "stage_group"), C.value_code("staging", a["stage_group"])))
        else:
            for g in a.get("stage_possible") or ():
                quals.append(_qual(C.code("staging", "stage_possible"), C.value_code("staging", g)))
    for key in ("enhancement_call", "thrombus_call"):
        if a.get(key):
            quals.append(_qual(C.code("calls", key), C.value_code("calls", a[key])))
    for key in ("growth_pattern", "enhancement_pattern"):
        if findings.get(key):
            quals.append(_qual(C.code("calls", key), C.value_code("calls", findings[key])))
    return quals


def _sites(a: Mapping[str, Any]) -> list[hd.sr.FindingSite]:
    sites = [hd.sr.FindingSite(anatomic_location=C.code("lesion", "site_retroperitoneum"))]
    for seg in a.get("ivc_segments") or ():
        sites.append(hd.sr.FindingSite(anatomic_location=C.code("lesion", "site_ivc"),
                                       topographical_modifier=C.code("ivc_segment", str(seg))))
    return sites


def _segment_of(segmentation: Dataset | None, uid: str) -> int | None:
    if segmentation is None:
        return None
    for item in segmentation.SegmentSequence:
        if str(item.get("TrackingUID", "")) == uid:
            return int(item.SegmentNumber)
    return None


def _lesion_groups(ctx: _Ctx, lf: LesionFigures | None, first: bool, findings: Mapping[str, Any],
                   assessment: Mapping[str, Any], enh: EnhancementFigures | None,
                   segmentation: Dataset | None) -> list[Any]:
    """A lesion: TID 1411 volumetric group referencing its segment (TID 1501 when there is no SEG),
    and a TID 1501 group with the same tracking UID holding the greatest dimension's end points
    (TID 1411 refuses measurements with coordinates)."""
    if lf is None:
        lf = LesionFigures(greatest_dimension_mm=findings.get("greatest_dimension_mm"), id="mass")
    tracking = _tracking(ctx, "lesion", lf.id or "mass", lf.label)
    ms = _figure_measurements(lf, ctx.volume)
    if first:
        ms += _finding_measurements(findings, enh, ctx.volume)
    quals = _qualitative(findings, assessment) if first else []
    common: dict[str, Any] = {"finding_type": C.code("lesion", "finding_type"),
                              "finding_sites": _sites(assessment if first else {}),
                              "measurements": ms or None, "qualitative_evaluations": quals or None}
    seg_no = _segment_of(segmentation, tracking[1].value)
    groups: list[Any] = []
    if seg_no is not None and segmentation is not None:
        ref = hd.sr.ReferencedSegment(
            sop_class_uid=str(segmentation.SOPClassUID), sop_instance_uid=str(segmentation.SOPInstanceUID),
            segment_number=seg_no,
            source_series=hd.sr.SourceSeriesForSegmentation(str(ctx.evidence[0].SeriesInstanceUID)))
        groups.append(hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(
            tracking_identifier=tracking, referenced_segment=ref, **common))
    else:
        groups.append(hd.sr.MeasurementsAndQualitativeEvaluations(tracking_identifier=tracking, **common))
    if lf.endpoints is not None and lf.greatest_dimension_mm is not None:
        coords = hd.sr.CoordinatesForMeasurement3D(
            graphic_type=hd.sr.GraphicTypeValues3D.POLYLINE, graphic_data=np.asarray(lf.endpoints, dtype=float),
            frame_of_reference_uid=ctx.for_uid)
        groups.append(hd.sr.MeasurementsAndQualitativeEvaluations(
            tracking_identifier=_tracking(ctx, "lesion", lf.id or "mass", lf.label),
            finding_type=C.code("lesion", "finding_type"),
            measurements=[_num(C.code("lesion", "greatest_dimension"), lf.greatest_dimension_mm,
                               C.code("units", "mm"), referenced_coordinates=[coords])]))
    return groups


def _coords_2d(ctx: _Ctx, points: np.ndarray, graphic_type: Any,
               cls: type) -> Any | None:
    """A 2D SCOORD of ``points`` on the image they were drawn on (``cls``: CoordinatesForMeasurement
    or ImageRegion), or None when no source image can be named."""
    px = ctx.pixels(points)
    if px is None:
        return None
    sop_class, sop_uid, frame, cr = px
    return cls(graphic_type=graphic_type, graphic_data=cr, source_image=_source(sop_class, sop_uid, frame))


def _source(sop_class: str, sop_uid: str, frame: int | None) -> hd.sr.SourceImageForRegion:
    """IMAGE item (SELECTED FROM) naming the image, and frame of a multi-frame image."""
    return hd.sr.SourceImageForRegion(referenced_sop_class_uid=sop_class, referenced_sop_instance_uid=sop_uid,
                                      referenced_frame_numbers=[frame] if frame else None)


def _caliper_group(ctx: _Ctx, m: Caliper) -> hd.sr.MeasurementsAndQualitativeEvaluations:
    """TID 1501 group: SCT Length INFERRED FROM a 2D SCOORD POLYLINE on the image it was drawn on
    (what OHIF and dcmjs draw) and from a SCOORD3D POLYLINE (its exact patient points). TID 1410
    regions must be closed shapes or points, so an open line cannot be a TID 1410 region."""
    pts = np.asarray([m.p1, m.p2], float)
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=_tracking(ctx, "caliper", m.id, m.label),
        measurements=[_num(C.code("measurements", "length"), m.length_mm, C.code("units", "mm"),
                           referenced_coordinates=_line_coords(ctx, pts))])


def _line_coords(ctx: _Ctx, pts: np.ndarray) -> list[Any]:
    """An open line's coordinates for a measurement: a 2D SCOORD POLYLINE on the image it was
    drawn on (when it lies on one) and a SCOORD3D POLYLINE of its patient points."""
    coords: list[Any] = []
    c2 = _coords_2d(ctx, pts, hd.sr.GraphicTypeValues.POLYLINE, hd.sr.CoordinatesForMeasurement)
    if c2 is not None:
        coords.append(c2)
    coords.append(hd.sr.CoordinatesForMeasurement3D(graphic_type=hd.sr.GraphicTypeValues3D.POLYLINE,
                                                    graphic_data=pts, frame_of_reference_uid=ctx.for_uid))
    return coords


def _angle_group(ctx: _Ctx, m: Angle) -> hd.sr.MeasurementsAndQualitativeEvaluations:
    """TID 1501 group: SCT Angle in UCUM deg INFERRED FROM a three-point POLYLINE (arm end, vertex,
    arm end; as OHIF's and dwv's angle tools draw it) on its image and in patient space. An open
    line is no TID 1410 region, so the angle is a measurement with coordinates, like a caliper."""
    pts = np.asarray([m.p1, m.vertex, m.p2], float)
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=_tracking(ctx, "angle", m.id, m.label),
        measurements=[_num(C.code("measurements", "angle"), m.angle_deg, C.code("units", "deg"),
                           referenced_coordinates=_line_coords(ctx, pts))])


def _region(ctx: _Ctx, pts: np.ndarray, gt2: Any, gt3: Any) -> Any:
    region = _coords_2d(ctx, pts, gt2, hd.sr.ImageRegion)
    if region is None:
        region = hd.sr.ImageRegion3D(graphic_type=gt3, graphic_data=pts, frame_of_reference_uid=ctx.for_uid)
    return region


def _ellipse_group(ctx: _Ctx, m: EllipseROI) -> hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations:
    pts = np.asarray([m.major[0], m.major[1], m.minor[0], m.minor[1]], float)
    area = m.stats.get("area_mm2")
    if area is None:
        a = np.linalg.norm(pts[1] - pts[0]) / 2
        b = np.linalg.norm(pts[3] - pts[2]) / 2
        area = float(np.pi * a * b)
    return hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=_tracking(ctx, "ellipse", m.id, m.label),
        referenced_region=_region(ctx, pts, hd.sr.GraphicTypeValues.ELLIPSE, hd.sr.GraphicTypeValues3D.ELLIPSE),
        measurements=_roi_measurements(ctx, m.stats, float(area)))


def _roi_measurements(ctx: _Ctx, stats: Mapping[str, float], area: float) -> list[hd.sr.Measurement]:
    """Mean / SD / min / max of an ROI (DCM Attenuation Coefficient or signal, with its SCT
    derivation) and its SCT Area."""
    name, unit = _value_unit(ctx.volume)
    ms = [_num(name, stats[key], unit, derivation=C.code("derivation", key))
          for key in ("mean", "sd", "min", "max") if stats.get(key) is not None]
    ms.append(_num(C.code("measurements", "area"), area, C.code("units", "mm2")))
    return ms


def _freehand_group(ctx: _Ctx, m: FreehandROI) -> hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations:
    """TID 1410 group: the outline as a closed 2D SCOORD POLYLINE (its first point repeated at the
    end) on the image it was drawn on, or a SCOORD3D POLYGON when it lies on no single image (drawn
    on a coronal or sagittal view); mean / SD / min / max and area as measured in the app."""
    pts = np.asarray(m.points, float)
    closed = np.vstack([pts, pts[:1]])
    area = m.stats.get("area_mm2")
    return hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=_tracking(ctx, "freehand", m.id, m.label),
        referenced_region=_region(ctx, closed, hd.sr.GraphicTypeValues.POLYLINE,
                                  hd.sr.GraphicTypeValues3D.POLYGON),
        measurements=_roi_measurements(ctx, m.stats, float(m.area_mm2 if area is None else area)))


#: the Short Label text of an arrow without a label (TEXT values may not be empty)
_ARROW_NO_LABEL = "Arrow"


def _arrow_group(ctx: _Ctx, m: Arrow) -> hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations:
    """TID 1410 group whose region is a POINT at the arrow's head on its image (OHIF draws an SR
    POINT as an arrow pointing at it), with the note as DCM Short Label TEXT (HAS CONCEPT MOD) whose
    DCM Reference Points POINT (HAS PROPERTIES) is the tail, where the note sits (the encoding of
    D. Clunie's planar annotation proposal, which dwv reads). SCOORD3D when head and tail do not lie
    on one image."""
    pts = np.asarray([m.head, m.tail], float)
    name = C.code("measurements", "reference_points")
    px = ctx.pixels(pts)
    region: Any
    tail: Any
    if px is not None:
        sop_class, sop_uid, frame, cr = px
        region = hd.sr.ImageRegion(graphic_type=hd.sr.GraphicTypeValues.POINT, graphic_data=cr[:1],
                                   source_image=_source(sop_class, sop_uid, frame))
        tail = hd.sr.ScoordContentItem(name=name, graphic_type=hd.sr.GraphicTypeValues.POINT, graphic_data=cr[1:],
                                       relationship_type=hd.sr.RelationshipTypeValues.HAS_PROPERTIES)
        tail.ContentSequence = hd.sr.ContentSequence([_source(sop_class, sop_uid, frame)])
    else:
        region = hd.sr.ImageRegion3D(graphic_type=hd.sr.GraphicTypeValues3D.POINT, graphic_data=pts[:1],
                                     frame_of_reference_uid=ctx.for_uid)
        tail = hd.sr.Scoord3DContentItem(name=name, graphic_type=hd.sr.GraphicTypeValues3D.POINT,
                                         graphic_data=pts[1:], frame_of_reference_uid=ctx.for_uid,
                                         relationship_type=hd.sr.RelationshipTypeValues.HAS_PROPERTIES)
    group = hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=_tracking(ctx, "arrow", m.id, m.label), referenced_region=region)
    note = hd.sr.TextContentItem(name=C.code("measurements", "short_label"), value=m.label or _ARROW_NO_LABEL,
                                 relationship_type=hd.sr.RelationshipTypeValues.HAS_CONCEPT_MOD)
    note.ContentSequence = hd.sr.ContentSequence([tail])
    group[0].ContentSequence.append(note)
    return group


def _landmark_group(ctx: _Ctx, m: Landmark) -> hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations:
    pts = np.asarray([m.point], float)
    return hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=_tracking(ctx, "landmark", m.id, m.label),
        referenced_region=_region(ctx, pts, hd.sr.GraphicTypeValues.POINT, hd.sr.GraphicTypeValues3D.POINT),
        finding_type=C.code("landmark", m.landmark),
        finding_sites=[hd.sr.FindingSite(anatomic_location=C.code("measurements", "landmark_site"))])


def _device_observer() -> hd.sr.ObserverContext:
    return hd.sr.ObserverContext(
        observer_type=hd.sr.CodedConcept.from_code(C.code("report", "observer_type_device")),
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=generate_uid(entropy_srcs=["rp-workstation", __version__]),
            name="rp-workstation", manufacturer_name=MANUFACTURER,
            model_name=f"rp-workstation {__version__}"))


def evidence_of(volume: Volume) -> list[Dataset]:
    headers = volume.meta.get("headers")
    if not headers:
        raise InputError("volume: no source headers (meta['headers']) to reference as evidence")
    return list(headers)


def lesion_list(measurements: Sequence[Measurement], lesion: Any = None,
                stats: Mapping[str, Mapping[str, float]] | None = None) -> list[LesionFigures]:
    """The lesions to report, target first: every Lesion3D record (the ``lesion`` figures replace
    those of the record with the same id, or of the first record), plus ``lesion`` when no record
    matches. ``stats``: mean / sd / volume from the masks, by lesion id."""
    records = [m for m in measurements if isinstance(m, Lesion3D)]
    given = LesionFigures.from_any(lesion)
    out: list[LesionFigures] = []
    used = False
    for i, rec in enumerate(records):
        fig = LesionFigures.from_any(rec)
        assert fig is not None
        if given is not None and not used and (given.id == rec.id or (given.id is None and i == 0)):
            merged = LesionFigures(**{k: v for k, v in vars(given).items()})
            merged.id, merged.label = rec.id, given.label or rec.label
            merged.endpoints = merged.endpoints or fig.endpoints
            merged.seed = merged.seed or fig.seed
            merged.target = merged.target or fig.target
            fig, used = merged, True
        out.append(fig)
    if given is not None and not used:
        out.append(given)
    for fig in out:
        st = (stats or {}).get(fig.id or "")
        if st:  # the mean and SD of the very voxels of the referenced segment (MR: signal)
            fig.mean_hu = st.get("mean", fig.mean_hu)
            fig.sd_hu = st.get("sd", fig.sd_hu)
            fig.volume_ml = st.get("volume_ml") if fig.volume_ml is None else fig.volume_ml
    return sorted(out, key=lambda f: 0 if f.target else 1)


def _coded(name: Any, value: Any, children: Sequence[Any] = ()) -> hd.sr.CodeContentItem:
    item = hd.sr.CodeContentItem(name=name, value=value, relationship_type=hd.sr.RelationshipTypeValues.CONTAINS)
    if children:
        item.ContentSequence = hd.sr.ContentSequence(list(children))
    return item


def _probability(p: Any) -> list[hd.sr.NumContentItem]:
    if not isinstance(p, (int, float)) or isinstance(p, bool):
        return []
    return [hd.sr.NumContentItem(name=C.code("report", "probability"), value=round(float(p) * 100.0, 3),
                                 unit=C.code("units", "percent"),
                                 relationship_type=hd.sr.RelationshipTypeValues.HAS_PROPERTIES)]


def _diagnosis_code(did: Any) -> Any:
    try:
        return C.code("diagnosis", str(did))
    except KeyError:
        return C.code("diagnosis", "other")


def _diagnostic_items(findings: Mapping[str, Any], a: Mapping[str, Any]) -> list[Any]:
    """Leading diagnosis and differential with probabilities, grade, recommendations (coded)."""
    items: list[Any] = []
    diffs = [d for d in a.get("differentials") or () if isinstance(d, Mapping)]
    for i, d in enumerate(diffs):
        name = C.code("report", "impression" if i == 0 else "differential")
        items.append(_coded(name, _diagnosis_code(d.get("id")), _probability(d.get("probability"))))
    grade = findings.get("grade")
    if grade is not None and str(grade) in C.table()["grade"]:
        items.append(_coded(C.code("report", "histologic_grade"), C.code("grade", str(grade))))
    for r in a.get("recommendations") or ():
        if not isinstance(r, Mapping):
            continue
        text = str(r.get("text") or "")
        child = [hd.sr.TextContentItem(name=C.code("report", "recommendation_text"), value=text[:1024],
                                       relationship_type=hd.sr.RelationshipTypeValues.HAS_PROPERTIES)] if text else []
        try:
            code = C.code("recommendation", str(r.get("id")))
        except KeyError:
            if text:
                items.append(hd.sr.TextContentItem(name=C.code("report", "recommendation"), value=text[:1024],
                                                   relationship_type=hd.sr.RelationshipTypeValues.CONTAINS))
            continue
        items.append(_coded(C.code("report", "recommendation"), code, child))
    return items


def _records_json(measurements: Sequence[Measurement], lesions: Sequence[LesionFigures]) -> str:
    recs: list[dict[str, Any]] = [m.to_dict() for m in measurements if not isinstance(m, Lesion3D)]
    for lf in lesions:
        d = {k: v for k, v in vars(lf).items() if v is not None}
        recs.append({"kind": "lesion", **d})
    return json.dumps({"schema": RECORDS_SCHEMA, "measurements": recs}, separators=(",", ":"),
                      allow_nan=False, default=list)


def _measurement_report(groups: list[Any], evidence: list[Dataset]) -> hd.sr.MeasurementReport:
    """TID 1500 with its TID 1600 image library (before the imaging measurements)."""
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_device_context=_device_observer()),
        procedure_reported=C.code("report", "procedure_reported"),
        imaging_measurements=groups, title=C.code("report", "title"))
    items = report[0].ContentSequence
    at = next((i for i, it in enumerate(items) if it.ValueType == "CONTAINER"), len(items))
    items.insert(at, _image_library(evidence))
    return report


def _image_library(evidence: list[Dataset]) -> hd.sr.ContainerContentItem:
    """TID 1600: one Image Library Group per series whose shared descriptors (TID 1602: modality,
    frame of reference, matrix, pixel spacing, orientation, thickness) are given once, and an IMAGE
    entry per instance. highdicom's ImageLibrary repeats every descriptor under every image and
    deep-copies them (6 s for 80 slices); this is the same content in a few milliseconds per slice."""
    library = hd.sr.ContainerContentItem(name=codes.DCM.ImageLibrary,
                                         relationship_type=hd.sr.RelationshipTypeValues.CONTAINS)
    library.ContentSequence = hd.sr.ContentSequence()
    by_series: dict[str, list[Dataset]] = {}
    for ds in evidence:
        by_series.setdefault(str(ds.get("SeriesInstanceUID", "")), []).append(ds)
    source = hd.sr.CodedConcept(value="260753009", meaning="Source", scheme_designator="SCT")
    for datasets in by_series.values():
        group = hd.sr.ContainerContentItem(name=codes.DCM.ImageLibraryGroup,
                                           relationship_type=hd.sr.RelationshipTypeValues.CONTAINS)
        group.ContentSequence = hd.sr.ContentSequence(_shared_descriptors(datasets[0]))
        for ds in datasets:
            group.ContentSequence.append(hd.sr.ImageContentItem(
                name=source, referenced_sop_class_uid=str(ds.SOPClassUID),
                referenced_sop_instance_uid=str(ds.SOPInstanceUID),
                relationship_type=hd.sr.RelationshipTypeValues.CONTAINS))
        library.ContentSequence.append(group)
    return library


def _shared_descriptors(ds: Dataset) -> list[Any]:
    """The descriptors of ``ds`` that hold for its whole series (all but its position); none for
    an image highdicom cannot describe (enhanced multi-frame headers keep them in functional
    groups)."""
    try:
        items = list(hd.sr.ImageLibraryEntryDescriptors(ds))
    except (AttributeError, ValueError, TypeError, KeyError):
        log.info("SR export: image library without descriptors (multi-frame header)")
        return []
    return [it for it in items if not str(it.ConceptNameCodeSequence[0].CodeMeaning).startswith("Image Position")]


def build_sr(findings: Mapping[str, Any], volume: Volume, measurements: Iterable[Measurement] = (),
             lesion: Any = None, enhancement: Any = None, assessment: Mapping[str, Any] | None = None,
             *, evidence: Sequence[Dataset] | None = None, frame_of_reference_uid: str | None = None,
             series_instance_uid: str | None = None, sop_instance_uid: str | None = None,
             segmentation: Dataset | None = None,
             lesion_stats: Mapping[str, Mapping[str, float]] | None = None) -> hd.sr.Comprehensive3DSR:
    """The SR dataset (not yet written). ``evidence`` / ``frame_of_reference_uid`` default to the
    volume's headers and frame of reference (de-identification passes remapped ones, in the same
    order). ``segmentation``: the lesion SEG written beside it (its segments are referenced by the
    volumetric groups with the same tracking UID, and it joins the evidence)."""
    evidence = list(evidence) if evidence is not None else evidence_of(volume)
    for_uid = frame_of_reference_uid or volume.meta.get("frame_of_reference_uid") \
        or getattr(evidence[0], "FrameOfReferenceUID", None)
    if not for_uid:
        raise InputError("volume: no FrameOfReferenceUID; 3D coordinates cannot be referenced")
    ctx = _Ctx(volume, str(for_uid), evidence, study_uid_of(evidence, volume))
    measurements = list(measurements)
    a = dict(assessment or {})
    lesions = lesion_list(measurements, lesion, lesion_stats)
    enh = EnhancementFigures.from_any(enhancement)
    groups: list[Any] = []
    for i, lf in enumerate(lesions or [None]):
        groups += _lesion_groups(ctx, lf, i == 0, findings, a, enh, segmentation)
    for m in measurements:
        if isinstance(m, Caliper):
            groups.append(_caliper_group(ctx, m))
        elif isinstance(m, EllipseROI):
            groups.append(_ellipse_group(ctx, m))
        elif isinstance(m, Landmark):
            groups.append(_landmark_group(ctx, m))
        elif isinstance(m, Angle):
            groups.append(_angle_group(ctx, m))
        elif isinstance(m, FreehandROI):
            groups.append(_freehand_group(ctx, m))
        elif isinstance(m, Arrow):
            groups.append(_arrow_group(ctx, m))
        elif not isinstance(m, Lesion3D):
            log.info("SR export: %s measurements are not written to the SR", m.kind)
    report = _measurement_report(groups, evidence)
    # TID 1500 row 12 (qualitative evaluations), which highdicom's MeasurementReport does not build:
    # the diagnostic content as coded items, then the findings document and the measurement records.
    qe = hd.sr.ContainerContentItem(name=C.code("report", "qualitative_evaluations"),
                                    relationship_type=hd.sr.RelationshipTypeValues.CONTAINS)
    qe.ContentSequence = hd.sr.ContentSequence(_diagnostic_items(findings, a) + [
        hd.sr.TextContentItem(name=C.code("report", "findings_document"),
                              value=json.dumps(dict(findings), separators=(",", ":"), allow_nan=False),
                              relationship_type=hd.sr.RelationshipTypeValues.CONTAINS),
        hd.sr.TextContentItem(name=C.code("report", "measurement_records"),
                              value=_records_json(measurements, lesions),
                              relationship_type=hd.sr.RelationshipTypeValues.CONTAINS)])
    report[0].ContentSequence.append(qe)
    ps = C.private_scheme()
    schemes = [CodingSchemeIdentificationItem(
        designator=ps["designator"], name=ps["name"], version=ps["version"],
        responsible_organization=ps["responsible_organization"]),
        CodingSchemeIdentificationItem(designator="UMLS", name="Unified Medical Language System",
                                       uid="2.16.840.1.113883.6.86")]
    all_evidence = evidence + ([segmentation] if segmentation is not None else [])
    _type2_present(evidence)
    try:
        sr = hd.sr.Comprehensive3DSR(
            evidence=all_evidence, content=report[0],
            series_instance_uid=series_instance_uid or generate_uid(), series_number=SR_SERIES_NUMBER,
            sop_instance_uid=sop_instance_uid or generate_uid(), instance_number=1,
            manufacturer=MANUFACTURER, is_complete=True, is_final=False, is_verified=False,
            series_description="RP mass measurement report", coding_schemes=schemes,
            specific_character_set="ISO_IR 192")  # UTF-8: any text; a source's misspelt term is refused
    except (ValueError, AttributeError, KeyError, TypeError) as exc:  # never the text: it quotes header values
        what = f"{exc.name} missing" if isinstance(exc, AttributeError) and exc.name else type(exc).__name__
        raise WorkstationError(f"SR export: the series headers cannot serve as evidence ({what})") from None
    return sr


#: Patient and General Study attributes of type 2 that the SR copies from its evidence (PS3.3
#: C.7.1.1, C.7.2.1): present but empty when a source file left them out
_TYPE2_COPIED = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
                 "ReferringPhysicianName", "StudyID", "AccessionNumber")


def _type2_present(evidence: Sequence[Dataset]) -> None:
    """Give the evidence headers each type 2 attribute the SR copies, empty when absent (a file
    without PatientBirthDate is valid enough to measure on and must still export)."""
    for ds in evidence:
        for kw in _TYPE2_COPIED:
            if kw not in ds:
                setattr(ds, kw, "")


def sr_bytes(sr: Dataset) -> bytes:
    import io

    buf = io.BytesIO()
    sr.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


# ---------------------------------------------------------------------------------- reading


def _parse_track(text: str | None) -> tuple[str, str, str] | None:
    m = _TRACK_RE.match(text or "")
    return (m.group(1), m.group(2), m.group(3) or "") if m else None


#: record keys that hold a list of points (the others hold one point)
_POINT_LISTS = ("major", "minor", "endpoints", "points")


def _record_points(rec: Mapping[str, Any] | None, keys: Sequence[str]) -> np.ndarray | None:
    """The points of an embedded record under ``keys``, in order, as an (n, 3) array."""
    if rec is None:
        return None
    try:
        pts = [p for k in keys for p in (rec[k] if k in _POINT_LISTS else [rec[k]])]
        return np.asarray(pts, dtype=float).reshape(-1, 3)
    except (KeyError, TypeError, ValueError):
        return None


class _Reader:
    """Rebuilds measurement records from the coded content (and the embedded records where the
    coded content has only image coordinates and no images are at hand)."""

    def __init__(self, sr: Dataset, volume: Volume | Sequence[Volume] | None) -> None:
        self.sr = sr
        self.volumes = [] if volume is None else [volume] if isinstance(volume, Volume) else list(volume)
        ev = sr.get_evidence() if hasattr(sr, "get_evidence") else []
        images = [e for e in ev if str(e[3]) not in hd.seg.SOP_CLASS_UIDS]
        self.series_uid = str(images[0][1]) if images else ""
        self.records = _embedded_records(sr)
        self.plane: tuple[np.ndarray, float] | None = None    # normal, half slice of the last 2D mapping
        self.lesions: dict[str, dict[str, Any]] = {}

    def record(self, kind: str, mid: str) -> dict[str, Any] | None:
        for r in self.records:
            if r.get("kind") == kind and str(r.get("id")) == mid:
                return r
        return None

    def exact(self, kind: str, mid: str | None, keys: Sequence[str], pts: np.ndarray) -> np.ndarray:
        """The record's own (float64) points when they agree with the coded ones (SCOORD3D is
        float32: ~0.01 mm at 200 mm from the origin), else the coded points."""
        rec = self.record(kind, mid) if mid else None
        mine = _record_points(rec, keys)
        if mine is None or mine.shape != pts.shape:
            return pts
        d = mine - pts
        if self.plane is not None:       # mapped from an image: the record may lie off its plane
            normal, half = self.plane
            off = d @ normal
            if np.all(np.abs(off) <= half + 1e-6) and np.allclose(d - np.outer(off, normal), 0.0, atol=0.05):
                return mine
        elif np.allclose(d, 0.0, atol=0.05):
            return mine
        return pts

    def points(self, item: Any) -> np.ndarray | None:
        """Patient points of a SCOORD3D, or of a 2D SCOORD on an image of ``volume``."""
        if isinstance(item, hd.sr.Scoord3DContentItem) or item.get("ValueType") == "SCOORD3D":
            self.plane = None
            return np.asarray(item.GraphicData, dtype=float).reshape(-1, 3)
        try:
            ref = item.ContentSequence[0].ReferencedSOPSequence[0]
        except (AttributeError, IndexError):
            return None
        uid = str(ref.ReferencedSOPInstanceUID)
        self.plane = None
        frame = int(np.atleast_1d(ref.get("ReferencedFrameNumber", 0))[0] or 0)
        for vol in self.volumes:
            uids = [str(u) if u else "" for u in (vol.meta or {}).get("sop_instance_uids") or []]
            frames = (vol.meta or {}).get("frame_numbers") or [None] * len(uids)
            ks = [k for k, (u, f) in enumerate(zip(uids, frames, strict=False))
                  if u == uid and (not frame or f in (None, frame))]
            if ks:
                k = ks[0]
                cr = np.asarray(item.GraphicData, dtype=float).reshape(-1, 2)
                self.plane = (np.asarray(vol.direction[:, 0], dtype=float), 0.5 * float(vol.spacing_mm[0]))
                return np.asarray([vol.index_to_patient((k, r - 0.5, c - 0.5)) for c, r in cr], dtype=float)
        return None


@guarded_sr_reader  # checks the file first; any failure becomes one InputError line (sr_read_guard)
def read_sr(path: Any, volume: Volume | Sequence[Volume] | None = None
            ) -> tuple[dict[str, Any] | None, list[Measurement]]:
    """Findings document and measurement records (calipers, ellipses, landmarks, angles, freehand
    ROIs, arrows, lesions with their figures, end points and target flag) from an SR this module
    wrote. Coordinates come from the coded content: 2D SCOORD mapped through ``volume`` (one or
    several loaded series) when it holds the referenced image, else SCOORD3D; otherwise from the
    embedded records, whose float64 points replace coded ones they agree with (GraphicData is
    float32). ROIs of other writers are restored when their coordinates can be placed, with new ids."""
    try:
        sr = hd.sr.srread(path)
    except Exception as exc:  # pydicom/highdicom raise many kinds on a bad file
        raise InputError(f"{path}: not a readable DICOM SR ({type(exc).__name__}: {exc})") from None
    try:
        report = hd.sr.MeasurementReport.from_sequence(sr.content)
    except (ValueError, AttributeError, IndexError) as exc:
        raise InputError(f"{path}: not a TID 1500 measurement report ({exc})") from None
    rd = _Reader(sr, volume)
    out: list[Measurement] = []
    for pg in report.get_planar_roi_measurement_groups():
        m = _planar(rd, pg)
        if m is not None:
            out.append(m)
    for vg in report.get_volumetric_roi_measurement_groups():
        _lesion_figures(rd, vg)
    for ig in report.get_image_measurement_groups():
        out += _image_group(rd, ig)
    out += [rec for mid, acc in rd.lesions.items() if (rec := _lesion_record(rd, mid, acc)) is not None]
    return _embedded_findings(sr), out


def _kw(rd: _Reader, tr: tuple[str, str, str] | None, kind: str) -> dict[str, Any]:
    kw: dict[str, Any] = {"series_uid": rd.series_uid}
    if tr and tr[0] == kind:
        kw["id"], kw["label"] = tr[1], tr[2]
        rec = rd.record(kind, tr[1])
        if rec is not None and rec.get("label"):
            kw["label"] = str(rec["label"])    # the tracking identifier keeps only 64 characters
    return kw


#: TID 1410 region graphic type -> measurement kind (a POINT with a Short Label note is an arrow)
_REGION_KINDS = {"ELLIPSE": "ellipse", "POINT": "landmark", "POLYLINE": "freehand", "POLYGON": "freehand"}
#: record keys of a TID 1410 region's points, by kind
_REGION_KEYS: dict[str, tuple[str, ...]] = {"ellipse": ("major", "minor"), "landmark": ("point",),
                                            "freehand": ("points",), "arrow": ("head",)}


def _planar(rd: _Reader, g: Any) -> Measurement | None:
    roi = g.roi
    if roi is None or roi.get("ValueType") not in ("SCOORD", "SCOORD3D"):
        return None
    tr = _parse_track(g.tracking_identifier)
    kind = _REGION_KINDS.get(str(roi.GraphicType))
    if kind == "landmark" and (tr[0] == "arrow" if tr else _note(g) is not None):
        kind = "arrow"
    if kind is None:
        return None
    mid = tr[1] if tr else None
    pts = rd.points(roi)
    if pts is None:
        pts = _record_points(rd.record(kind, mid) if mid else None, _REGION_KEYS[kind])
    elif kind == "freehand" and len(pts) > 3 and np.array_equal(pts[0], pts[-1]):
        pts = pts[:-1]                     # a closed outline repeats its first point
    if pts is None:
        return None
    pts = rd.exact(kind, mid, _REGION_KEYS[kind], pts)
    kw = _kw(rd, tr, kind)
    if kind == "ellipse" and len(pts) == 4:
        return EllipseROI(major=(tuple(pts[0]), tuple(pts[1])), minor=(tuple(pts[2]), tuple(pts[3])),
                          stats=_roi_stats(g), **kw)
    if kind == "freehand" and len(pts) >= 3:
        return FreehandROI(points=tuple(tuple(p) for p in pts), stats=_roi_stats(g), **kw)
    if kind == "arrow" and len(pts) == 1:
        return _arrow(rd, g, tr, pts[0], kw)
    ft = g.finding_type
    lm = C.reverse("landmark").get((ft.scheme_designator, ft.value)) if ft is not None else None
    if kind == "landmark" and lm and len(pts) == 1:
        return Landmark(landmark=lm, point=tuple(pts[0]), **kw)
    return None


def _roi_stats(g: Any) -> dict[str, float]:
    """mean / sd / min / max (by their derivation) and area_mm2 of a TID 1410 group."""
    stats: dict[str, float] = {}
    der_rev = C.reverse("derivation")
    for meas in g.get_measurements():
        d = meas.derivation
        if d is not None and (d.scheme_designator, d.value) in der_rev:
            stats[der_rev[(d.scheme_designator, d.value)]] = float(meas.value)
        elif meas.name == C.code("measurements", "area"):
            stats["area_mm2"] = float(meas.value)
    return stats


def _note(g: Any) -> Dataset | None:
    """The group's DCM Short Label TEXT (an arrow's note), if any."""
    name = C.code("measurements", "short_label")
    for it in g[0].ContentSequence:
        cn = it.get("ConceptNameCodeSequence")
        if it.get("ValueType") == "TEXT" and cn and cn[0].CodeValue == name.value \
                and cn[0].CodingSchemeDesignator == name.scheme_designator:
            item: Dataset = it
            return item
    return None


def _arrow(rd: _Reader, g: Any, tr: tuple[str, str, str] | None, head: np.ndarray,
           kw: dict[str, Any]) -> Arrow:
    """An arrow: the head from the region, the tail from the note's Reference Points (or the
    record; the head itself when neither gives one), the label from the note."""
    note = _note(g)
    mid = tr[1] if tr else None
    name = C.code("measurements", "reference_points")
    tail: np.ndarray | None = None
    for it in (note.get("ContentSequence") or ()) if note is not None else ():
        cn = it.get("ConceptNameCodeSequence")
        if it.get("ValueType") in ("SCOORD", "SCOORD3D") and cn and cn[0].CodeValue == name.value:
            tail = rd.points(it)
            break
    if tail is None or len(tail) != 1:
        tail = _record_points(rd.record("arrow", mid) if mid else None, ("tail",))
    else:
        tail = rd.exact("arrow", mid, ("tail",), tail)
    if note is not None and rd.record("arrow", mid or "") is None and (tr is None or tr[2]):
        kw["label"] = str(note.TextValue)  # the tracking identifier keeps only 64 characters
    end = head if tail is None else tail[0]
    return Arrow(head=tuple(head), tail=tuple(end), **kw)


def _lesion_acc(rd: _Reader, g: Any) -> dict[str, Any] | None:
    tr = _parse_track(g.tracking_identifier)
    if not tr or tr[0] != "lesion":
        return None
    acc = rd.lesions.setdefault(tr[1], {"label": tr[2], "figures": {}, "endpoints": None})
    return acc


_FIGURE_KEYS = (("greatest_dimension", "greatest_dimension_mm"), ("axial_long", "axial_long_mm"),
                ("axial_short", "axial_short_mm"), ("craniocaudal", "craniocaudal_mm"), ("volume", "volume_ml"))


def _lesion_figures(rd: _Reader, g: Any) -> None:
    acc = _lesion_acc(rd, g)
    if acc is None:
        return
    fig = acc["figures"]
    for key, out in _FIGURE_KEYS:
        for meas in g.get_measurements(name=C.code("lesion", key)):
            if not meas.referenced_coordinates:
                fig[out] = float(meas.value)
    for name in (C.code("lesion", "attenuation"), C.code("lesion", "signal")):
        for meas in g.get_measurements(name=name):
            d = meas.derivation
            if d == C.code("derivation", "mean"):
                fig["mean_hu"] = float(meas.value)
            elif d == C.code("derivation", "sd"):
                fig["sd_hu"] = float(meas.value)


def _image_group(rd: _Reader, g: Any) -> list[Measurement]:
    tr = _parse_track(g.tracking_identifier)
    mid = tr[1] if tr else None
    out: list[Measurement] = []
    for meas in g.get_measurements(name=C.code("measurements", "length")):
        pts = _line_points(rd, meas, 2)
        if pts is not None:
            pts = rd.exact("caliper", mid, ("p1", "p2"), pts)
            out.append(Caliper(p1=tuple(pts[0]), p2=tuple(pts[1]), **_kw(rd, tr, "caliper")))
    for meas in g.get_measurements(name=C.code("measurements", "angle")):
        pts = _line_points(rd, meas, 3)
        if pts is not None:
            pts = rd.exact("angle", mid, ("p1", "vertex", "p2"), pts)
            out.append(Angle(p1=tuple(pts[0]), vertex=tuple(pts[1]), p2=tuple(pts[2]), **_kw(rd, tr, "angle")))
    acc = _lesion_acc(rd, g)
    if acc is not None:
        _lesion_figures(rd, g)
        for meas in g.get_measurements(name=C.code("lesion", "greatest_dimension")):
            for c in meas.referenced_coordinates:
                pts = rd.points(c)
                if pts is not None and len(pts) == 2:
                    pts = rd.exact("lesion", tr[1] if tr else None, ("endpoints",), pts)
                    acc["endpoints"] = (tuple(pts[0]), tuple(pts[1]))
                    acc["figures"].setdefault("greatest_dimension_mm", float(meas.value))
    return out


def _line_points(rd: _Reader, meas: Any, n: int) -> np.ndarray | None:
    """The ``n`` patient points a measurement was inferred from: its 2D SCOORD mapped through a
    loaded series that holds the image (exact for image coordinates float32 can hold), else its
    SCOORD3D (float32 patient coordinates)."""
    for c in sorted(meas.referenced_coordinates, key=lambda c: c.ValueType == "SCOORD3D"):
        pts = rd.points(c)
        if pts is not None and len(pts) == n:
            return pts
    return None


def _lesion_record(rd: _Reader, mid: str, acc: dict[str, Any]) -> Lesion3D | None:
    """A lesion measurement record, when the SR places the lesion (its greatest-dimension line)."""
    rec = rd.record("lesion", mid) or {}
    ep = acc["endpoints"] or rec.get("endpoints")
    if ep is None:
        return None
    figures = dict(acc["figures"])
    seed = rec.get("seed")
    if seed is None:
        seed = tuple((np.asarray(ep[0]) + np.asarray(ep[1])) / 2)
    kw: dict[str, Any] = {"series_uid": rd.series_uid, "id": mid, "label": rec.get("label") or acc["label"], "seed": seed,
                          "endpoints": ep, "figures": figures}
    target = bool(rec.get("target"))
    if "target" in getattr(Lesion3D, "__dataclass_fields__", {}):
        kw["target"] = target
    elif target:
        figures["target"] = 1.0
    return Lesion3D(**kw)


def _find_text(sr: Dataset, target: Any) -> str | None:
    def walk(items: Any) -> str | None:
        for it in items or ():
            cn = it.get("ConceptNameCodeSequence")
            if it.get("ValueType") == "TEXT" and cn and cn[0].CodeValue == target.value \
                    and cn[0].CodingSchemeDesignator == target.scheme_designator:
                return str(it.TextValue)
            found = walk(it.get("ContentSequence"))
            if found is not None:
                return found
        return None

    return walk(sr.ContentSequence)


def _embedded_records(sr: Dataset) -> list[dict[str, Any]]:
    text = _find_text(sr, C.code("report", "measurement_records"))
    if text is None:
        return []
    try:
        doc = json.loads(text)
    except ValueError:
        log.warning("SR: the embedded measurement records are not valid JSON; ignored")
        return []
    recs = doc.get("measurements") if isinstance(doc, dict) else None
    return [r for r in recs or [] if isinstance(r, dict)]


def _embedded_findings(sr: Dataset) -> dict[str, Any] | None:
    text = _find_text(sr, C.code("report", "findings_document"))
    if text is None:
        return None
    try:
        doc = json.loads(text)
    except ValueError:
        log.warning("SR: the embedded findings document is not valid JSON; ignored")
        return None
    return doc if isinstance(doc, dict) else None
