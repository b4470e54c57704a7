"""DICOM Comprehensive 3D SR with a TID 1500 Measurement Report, written and read with highdicom.

Content (every code from ``resources/codes.json``, which records its provenance):

* one **lesion group** (TID 1501 Measurement Group; finding type SCT Mass, finding site SCT
  Retroperitoneum and, for IVC involvement, SCT Inferior vena cava with a private segment modifier):
  greatest dimension (SCT Long axis, mm) whose TID 300 measurement carries its two end points as a
  SCOORD3D POLYLINE in the series' frame of reference; axial long/short and craniocaudal extents;
  volume (SCT Volume, cm3 = ml); mean attenuation (DCM Attenuation Coefficient, derivation SCT Mean);
  ROI means pre and post contrast and the delta ([hnsf'U]); the checklist answers, T category,
  stage group (or the possible groups), enhancement / thrombus calls and patterns as coded
  qualitative evaluations. TID 1501 (rather than TID 1410/1411) because the end points belong to
  the greatest-dimension measurement itself (TID 300 "INFERRED FROM" SCOORD3D), which highdicom
  (and the templates) allow only outside ROI groups.
* each **caliper** as a TID 1501 group: SCT Length (mm) INFERRED FROM a SCOORD3D POLYLINE (TID 1410
  regions must be closed shapes or points, so an open line cannot be a TID 1410 region);
* each **ellipse ROI** as a TID 1410 group: SCOORD3D ELLIPSE (major axis end points, then minor)
  + mean / SD / min / max (DCM Attenuation Coefficient with an SCT derivation) and SCT Area;
* each **IVC landmark** as a TID 1410 group: SCOORD3D POINT, finding type = private landmark code;
* the **findings document** (rp-findings/1 JSON) as a TEXT item (private concept 99RPWS
  FINDINGS-JSON) in the TID 1500 "Qualitative Evaluations" container (UMLS C0034375). Viewers
  that do not know it show it as text; :func:`read_sr` restores it.

Every tracking identifier reads ``<kind> <id>[: <label>]`` so that :func:`read_sr` restores the
measurement records with their ids and labels. Evidence: the series' header-only datasets
(``volume.meta['headers']``) -> CurrentRequestedProcedureEvidenceSequence; patient and study
attributes are copied from them by highdicom.
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

import highdicom as hd
from highdicom.coding_schemes import CodingSchemeIdentificationItem
import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from .. import __version__
from ..errors import InputError, WorkstationError
from ..measure.model import Caliper, EllipseROI, Landmark, Lesion3D, Measurement
from ..volume import Volume
from . import codes as C

log = logging.getLogger(__name__)

MANUFACTURER = "rp-workstation"
SR_SERIES_NUMBER = 9901
_TRACK_RE = re.compile(r"^(caliper|ellipse|landmark|lesion) ([0-9A-Za-z_-]+)(?:: (.*))?$", re.S)

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

    @classmethod
    def from_any(cls, obj: Any) -> "LesionFigures | None":
        if obj is None:
            return None
        if isinstance(obj, LesionFigures):
            return obj
        d: dict[str, Any] = {}
        if isinstance(obj, Lesion3D):
            d = dict(obj.figures)
            d["endpoints"] = obj.endpoints
            d["id"], d["label"] = obj.id, obj.label
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
                  "craniocaudal_mm", "mean_hu"):
            v = d.get(k)
            setattr(out, k, None if v is None else float(v))
        ep = d.get("endpoints")
        if ep is not None:
            a = np.asarray(ep, dtype=float)
            if a.shape != (2, 3) or not np.all(np.isfinite(a)):
                raise InputError(f"lesion.endpoints: expected two LPS points, got {ep!r}")
            out.endpoints = (tuple(a[0]), tuple(a[1]))  # type: ignore[assignment]
            if out.greatest_dimension_mm is None:
                out.greatest_dimension_mm = float(np.linalg.norm(a[1] - a[0]))
        out.id = d.get("id")
        out.label = str(d.get("label") or "")
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
    def from_any(cls, obj: Any) -> "EnhancementFigures | None":
        if obj is None:
            return None
        if isinstance(obj, EnhancementFigures):
            return obj
        if not isinstance(obj, Mapping) and hasattr(obj, "to_json"):
            obj = obj.to_json()
        get = (lambda k: obj.get(k)) if isinstance(obj, Mapping) else (lambda k: getattr(obj, k, None))

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


def _tracking(kind: str, mid: str | None, label: str = "") -> hd.sr.TrackingIdentifier:
    mid = re.sub(r"[^0-9A-Za-z_-]", "", mid or "") or generate_uid(prefix=None)[-12:]
    return hd.sr.TrackingIdentifier(uid=generate_uid(), identifier=_track(kind, mid, label))


def _num(name, value: float, unit, **kw) -> hd.sr.Measurement:
    return hd.sr.Measurement(name=name, value=float(value), unit=unit, **kw)


def _qual(name, value) -> hd.sr.QualitativeEvaluation:
    return hd.sr.QualitativeEvaluation(name=name, value=value)


def _value_unit(volume: Volume):
    """Name and unit of an intensity measurement on this volume (HU for CT, no units for MR)."""
    if volume.unit == "HU":
        return C.code("lesion", "attenuation"), C.code("units", "hu")
    return C.code("lesion", "signal"), C.code("units", "none")


def _lesion_group(findings: Mapping[str, Any], assessment: Mapping[str, Any] | None,
                  lesion: LesionFigures | None, enh: EnhancementFigures | None,
                  volume: Volume, for_uid: str) -> hd.sr.MeasurementsAndQualitativeEvaluations:
    mm, hu = C.code("units", "mm"), C.code("units", "hu")
    ms: list[hd.sr.Measurement] = []
    gd = lesion.greatest_dimension_mm if lesion and lesion.greatest_dimension_mm else findings.get("greatest_dimension_mm")
    if gd is not None:
        coords = None
        if lesion is not None and lesion.endpoints is not None:
            coords = [hd.sr.CoordinatesForMeasurement3D(
                graphic_type=hd.sr.GraphicTypeValues3D.POLYLINE,
                graphic_data=np.asarray(lesion.endpoints, dtype=float),
                frame_of_reference_uid=for_uid)]
        ms.append(_num(C.code("lesion", "greatest_dimension"), gd, mm, referenced_coordinates=coords))
    if lesion is not None:
        for key, attr in (("axial_long", "axial_long_mm"), ("axial_short", "axial_short_mm"),
                          ("craniocaudal", "craniocaudal_mm")):
            v = getattr(lesion, attr)
            if v is not None:
                ms.append(_num(C.code("lesion", key), v, mm))
        if lesion.volume_ml is not None:
            ms.append(_num(C.code("lesion", "volume"), lesion.volume_ml, C.code("units", "ml")))
        if lesion.mean_hu is not None:
            name, unit = _value_unit(volume)
            ms.append(_num(name, lesion.mean_hu, unit, derivation=C.code("derivation", "mean")))
    delta = enh.delta_hu if enh and enh.delta_hu is not None else findings.get("enhancement_delta_hu")
    pct = enh.percent if enh and enh.percent is not None else findings.get("enhancement_percent")
    unit_i = hu if volume.unit == "HU" or delta is not None else C.code("units", "none")
    if enh is not None:
        if enh.pre_mean is not None:
            ms.append(_num(C.code("lesion", "mean_pre"), enh.pre_mean, unit_i, derivation=C.code("derivation", "mean")))
        if enh.post_mean is not None:
            ms.append(_num(C.code("lesion", "mean_post"), enh.post_mean, unit_i, derivation=C.code("derivation", "mean")))
    if delta is not None:
        ms.append(_num(C.code("lesion", "enhancement_delta"), delta, hu))
    if pct is not None:
        ms.append(_num(C.code("lesion", "enhancement_percent"), pct, C.code("units", "percent")))
    if findings.get("thrombus_delta_hu") is not None:
        ms.append(_num(C.code("lesion", "thrombus_delta"), findings["thrombus_delta_hu"], hu))

    quals: list[hd.sr.QualitativeEvaluation] = []
    present, absent = C.code("lesion", "present"), C.code("lesion", "absent")
    for fid, val in (findings.get("findings") or {}).items():
        if val is None:
            continue
        quals.append(_qual(C.code("checklist", fid), present if val else absent))
    a = assessment or {}
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

    sites = [hd.sr.FindingSite(anatomic_location=C.code("lesion", "site_retroperitoneum"))]
    for seg in a.get("ivc_segments") or ():
        sites.append(hd.sr.FindingSite(anatomic_location=C.code("lesion", "site_ivc"),
                                       topographical_modifier=C.code("ivc_segment", str(seg))))
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=_tracking("lesion", lesion.id if lesion else "mass", lesion.label if lesion else "mass"),
        finding_type=C.code("lesion", "finding_type"),
        finding_sites=sites,
        measurements=ms or None,
        qualitative_evaluations=quals or None,
    )


def _caliper_group(m: Caliper, for_uid: str):
    """TID 1501 group: SCT Length whose TID 300 measurement is INFERRED FROM its SCOORD3D POLYLINE
    (TID 1410 regions must be closed shapes or points, so an open line lives here)."""
    coords = hd.sr.CoordinatesForMeasurement3D(graphic_type=hd.sr.GraphicTypeValues3D.POLYLINE,
                                               graphic_data=np.asarray([m.p1, m.p2], float),
                                               frame_of_reference_uid=for_uid)
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=_tracking("caliper", m.id, m.label),
        measurements=[_num(C.code("measurements", "length"), m.length_mm, C.code("units", "mm"),
                           referenced_coordinates=[coords])])


def _ellipse_group(m: EllipseROI, volume: Volume, for_uid: str):
    pts = np.asarray([m.major[0], m.major[1], m.minor[0], m.minor[1]], float)
    region = hd.sr.ImageRegion3D(graphic_type=hd.sr.GraphicTypeValues3D.ELLIPSE, graphic_data=pts,
                                 frame_of_reference_uid=for_uid)
    name, unit = _value_unit(volume)
    ms = []
    for key in ("mean", "sd", "min", "max"):
        if m.stats.get(key) is not None:
            ms.append(_num(name, m.stats[key], unit, derivation=C.code("derivation", key)))
    area = m.stats.get("area_mm2")
    if area is None:
        a = np.linalg.norm(pts[1] - pts[0]) / 2
        b = np.linalg.norm(pts[3] - pts[2]) / 2
        area = float(np.pi * a * b)
    ms.append(_num(C.code("measurements", "area"), area, C.code("units", "mm2")))
    return hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=_tracking("ellipse", m.id, m.label), referenced_region=region, measurements=ms)


def _landmark_group(m: Landmark, for_uid: str):
    region = hd.sr.ImageRegion3D(graphic_type=hd.sr.GraphicTypeValues3D.POINT,
                                 graphic_data=np.asarray([m.point], float), frame_of_reference_uid=for_uid)
    return hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=_tracking("landmark", m.id, m.label), referenced_region=region,
        finding_type=C.code("landmark", m.landmark),
        finding_sites=[hd.sr.FindingSite(anatomic_location=C.code("measurements", "landmark_site"))])


def _device_observer() -> hd.sr.ObserverContext:
    return hd.sr.ObserverContext(
        observer_type=C.code("report", "observer_type_device"),
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=generate_uid(entropy_srcs=["rp-workstation", __version__]),
            name="rp-workstation", manufacturer_name=MANUFACTURER,
            model_name=f"rp-workstation {__version__}"))


def evidence_of(volume: Volume) -> list[Dataset]:
    headers = volume.meta.get("headers")
    if not headers:
        raise InputError("volume: no source headers (meta['headers']) to reference as evidence")
    return list(headers)


def build_sr(findings: Mapping[str, Any], volume: Volume, measurements: Iterable[Measurement] = (),
             lesion: Any = None, enhancement: Any = None, assessment: Mapping[str, Any] | None = None,
             *, evidence: Sequence[Dataset] | None = None, frame_of_reference_uid: str | None = None,
             series_instance_uid: str | None = None, sop_instance_uid: str | None = None) -> hd.sr.Comprehensive3DSR:
    """The SR dataset (not yet written). ``evidence`` / ``frame_of_reference_uid`` default to the
    volume's headers and frame of reference (de-identification passes remapped ones)."""
    evidence = list(evidence) if evidence is not None else evidence_of(volume)
    for_uid = frame_of_reference_uid or volume.meta.get("frame_of_reference_uid") \
        or getattr(evidence[0], "FrameOfReferenceUID", None)
    if not for_uid:
        raise InputError("volume: no FrameOfReferenceUID; 3D coordinates cannot be referenced")
    measurements = list(measurements)
    lesion_fig = LesionFigures.from_any(lesion)
    if lesion_fig is None:
        first = next((m for m in measurements if isinstance(m, Lesion3D)), None)
        lesion_fig = LesionFigures.from_any(first)
    enh = EnhancementFigures.from_any(enhancement)
    groups: list[Any] = [_lesion_group(findings, assessment, lesion_fig, enh, volume, for_uid)]
    for m in measurements:
        if isinstance(m, Caliper):
            groups.append(_caliper_group(m, for_uid))
        elif isinstance(m, EllipseROI):
            groups.append(_ellipse_group(m, volume, for_uid))
        elif isinstance(m, Landmark):
            groups.append(_landmark_group(m, for_uid))
        elif isinstance(m, Lesion3D):
            continue  # the lesion group above carries it
        else:
            log.info("SR export: %s measurements are not written to the SR", m.kind)
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_device_context=_device_observer()),
        procedure_reported=C.code("report", "procedure_reported"),
        imaging_measurements=groups,
        title=C.code("report", "title"),
    )
    # TID 1500 row 12 (qualitative evaluations), which highdicom's MeasurementReport does not build:
    # a container with one TEXT item holding the findings document.
    qe = hd.sr.ContainerContentItem(name=C.code("report", "qualitative_evaluations"),
                                    relationship_type=hd.sr.RelationshipTypeValues.CONTAINS)
    qe.ContentSequence = hd.sr.ContentSequence([hd.sr.TextContentItem(
        name=C.code("report", "findings_document"),
        value=json.dumps(dict(findings), separators=(",", ":"), allow_nan=False),
        relationship_type=hd.sr.RelationshipTypeValues.CONTAINS)])
    report[0].ContentSequence.append(qe)
    ps = C.private_scheme()
    schemes = [CodingSchemeIdentificationItem(
        designator=ps["designator"], name=ps["name"], version=ps["version"],
        responsible_organization=ps["responsible_organization"])]
    schemes.append(CodingSchemeIdentificationItem(designator="UMLS", name="Unified Medical Language System",
                                                        uid="2.16.840.1.113883.6.86"))
    try:
        sr = hd.sr.Comprehensive3DSR(
            evidence=evidence, content=report[0],
            series_instance_uid=series_instance_uid or generate_uid(), series_number=SR_SERIES_NUMBER,
            sop_instance_uid=sop_instance_uid or generate_uid(), instance_number=1,
            manufacturer=MANUFACTURER, is_complete=True, is_final=False, is_verified=False,
            series_description="RP mass measurement report", coding_schemes=schemes)
    except (ValueError, AttributeError) as exc:
        raise WorkstationError(f"SR export: the series headers cannot serve as evidence ({exc})") from None
    return sr


def sr_bytes(sr: Dataset) -> bytes:
    import io

    buf = io.BytesIO()
    sr.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


# ---------------------------------------------------------------------------------- reading


def _parse_track(text: str | None) -> tuple[str, str, str] | None:
    m = _TRACK_RE.match(text or "")
    return (m.group(1), m.group(2), m.group(3) or "") if m else None


def read_sr(path) -> tuple[dict[str, Any] | None, list[Measurement]]:
    """Findings document and measurement records (calipers, ellipses, landmarks, the lesion's
    greatest-dimension line) from an SR this module wrote. ROIs without our tracking identifiers
    are restored too, with new ids."""
    try:
        sr = hd.sr.srread(path)
    except Exception as exc:  # pydicom/highdicom raise many kinds on a bad file
        raise InputError(f"{path}: not a readable DICOM SR ({type(exc).__name__}: {exc})") from None
    try:
        report = hd.sr.MeasurementReport.from_sequence(sr.content)
    except (ValueError, AttributeError, IndexError) as exc:
        raise InputError(f"{path}: not a TID 1500 measurement report ({exc})") from None
    series_uid = ""
    with_ev = sr.get_evidence() if hasattr(sr, "get_evidence") else []
    if with_ev:
        series_uid = str(with_ev[0][1])
    out: list[Measurement] = []
    lm_rev = C.reverse("landmark")
    for g in report.get_planar_roi_measurement_groups():
        roi = g.roi
        if roi is None or not hasattr(roi, "graphic_type") or not isinstance(roi, hd.sr.Scoord3DContentItem):
            continue
        pts = np.asarray(roi.value, dtype=float).reshape(-1, 3)
        gt = roi.graphic_type
        tr = _parse_track(g.tracking_identifier)
        kw: dict[str, Any] = {"series_uid": series_uid}
        if tr:
            kw["id"], kw["label"] = tr[1], tr[2]
        if gt == hd.sr.GraphicTypeValues3D.ELLIPSE and len(pts) == 4:
            stats: dict[str, float] = {}
            der_rev = C.reverse("derivation")
            for meas in g.get_measurements():
                d = meas.derivation
                if d is not None and (d.scheme_designator, d.value) in der_rev:
                    stats[der_rev[(d.scheme_designator, d.value)]] = float(meas.value)
                elif meas.name == C.code("measurements", "area"):
                    stats["area_mm2"] = float(meas.value)
            out.append(EllipseROI(major=(tuple(pts[0]), tuple(pts[1])), minor=(tuple(pts[2]), tuple(pts[3])),
                                  stats=stats, **kw))
        elif gt == hd.sr.GraphicTypeValues3D.POINT and len(pts) == 1:
            ft = g.finding_type
            kind = lm_rev.get((ft.scheme_designator, ft.value)) if ft is not None else None
            if kind:
                out.append(Landmark(landmark=kind, point=tuple(pts[0]), **kw))
    for g in report.get_image_measurement_groups():
        tr = _parse_track(g.tracking_identifier)
        kw = {"series_uid": series_uid}
        for meas in g.get_measurements(name=C.code("measurements", "length")):
            for c in meas.referenced_coordinates:
                pts = np.asarray(c.value, dtype=float).reshape(-1, 3)
                if len(pts) == 2:
                    if tr and tr[0] == "caliper":
                        kw["id"], kw["label"] = tr[1], tr[2]
                    out.append(Caliper(p1=tuple(pts[0]), p2=tuple(pts[1]), **kw))
        for meas in g.get_measurements(name=C.code("lesion", "greatest_dimension")):
            for c in meas.referenced_coordinates:
                pts = np.asarray(c.value, dtype=float).reshape(-1, 3)
                if len(pts) == 2:
                    if tr and tr[0] == "lesion":
                        kw["id"], kw["label"] = tr[1], tr[2]
                    figures = {"greatest_dimension_mm": float(meas.value)}
                    vol = g.get_measurements(name=C.code("lesion", "volume"))
                    if vol:
                        figures["volume_ml"] = float(vol[0].value)
                    out.append(Lesion3D(seed=tuple((pts[0] + pts[1]) / 2), endpoints=(tuple(pts[0]), tuple(pts[1])),
                                        figures=figures, **kw))
    findings = _embedded_findings(sr)
    return findings, out


def _embedded_findings(sr: Dataset) -> dict[str, Any] | None:
    target = C.code("report", "findings_document")

    def walk(items):
        for it in items or ():
            cn = it.get("ConceptNameCodeSequence")
            if it.get("ValueType") == "TEXT" and cn and cn[0].CodeValue == target.value \
                    and cn[0].CodingSchemeDesignator == target.scheme_designator:
                return it.TextValue
            found = walk(it.get("ContentSequence"))
            if found is not None:
                return found
        return None

    text = walk(sr.ContentSequence)
    if text is None:
        return None
    try:
        doc = json.loads(text)
    except ValueError:
        log.warning("SR: the embedded findings document is not valid JSON; ignored")
        return None
    return doc if isinstance(doc, dict) else None
