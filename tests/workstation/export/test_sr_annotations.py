"""SR v2 annotations: angle, freehand ROI and arrow written with standard codes, read by dciodvfy,
dcmqi's tid1500reader and highdicom, and restored by read_sr with and without the embedded
measurement records (a viewer's SR has none: image coordinates are mapped through the series)."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest
from pydicom.sr.codedict import codes

from workstation.export import codes as C
from workstation.export import sr as S
from workstation.measure.model import Angle, Arrow, Caliper, FreehandROI
from workstation.measure.roi import freehand_stats

from .conftest import read_back

FINDINGS = {"schema": "rp-findings/1", "age_years": 61, "sex": "male", "greatest_dimension_mm": 88.0}
LONG_NOTE = "Tip of the intraluminal tumour thrombus, just below the hepatic vein confluence (check on MRI)"


def _p(vol, kji):
    return tuple(float(v) for v in vol.index_to_patient(kji))


def make_annotations(vol):
    """Annotations as the tools make them: on one slice (image coordinates on quarter pixels, which
    float32 GraphicData holds exactly) and across slices (drawn on a coronal view: 3D only)."""
    angle = Angle(label="Psoas angle", p1=_p(vol, (2, 40.25, 20.5)), vertex=_p(vol, (2, 60, 40.75)),
                  p2=_p(vol, (2, 30.5, 80)))
    outline = FreehandROI(label="Necrotic core", points=[_p(vol, (3, 20, 20)), _p(vol, (3, 18.5, 44.25)),
                                                         _p(vol, (3, 40, 52)), _p(vol, (3, 55.75, 30)),
                                                         _p(vol, (3, 41, 14.5))])
    outline.stats = freehand_stats(vol, outline)
    arrow = Arrow(label=LONG_NOTE, head=_p(vol, (1, 50.5, 50)), tail=_p(vol, (1, 70, 90.25)))
    bare = Arrow(label="", head=_p(vol, (4, 64, 64)), tail=_p(vol, (4, 80, 100)))
    coronal_outline = FreehandROI(label="cc extent", points=[_p(vol, (1, 30, 10)), _p(vol, (4, 30, 40)),
                                                             _p(vol, (4, 30, 70)), _p(vol, (1, 30, 60))])
    coronal_arrow = Arrow(label="IVC", head=_p(vol, (1, 60, 60)), tail=_p(vol, (5, 60, 90)))
    coronal_angle = Angle(label="tilt", p1=_p(vol, (0, 50, 20)), vertex=_p(vol, (3, 50, 50)),
                          p2=_p(vol, (5, 50, 20)))
    caliper = Caliper(label="AP", p1=_p(vol, (2, 40, 20)), p2=_p(vol, (2, 100, 60)))
    return [angle, outline, arrow, bare, coronal_outline, coronal_arrow, coronal_angle, caliper]


def write(vol, path: Path, ms) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(S.sr_bytes(S.build_sr(FINDINGS, vol, ms)))
    return path


@pytest.fixture
def exported(ct_series, tmp_path):
    vol, _ = ct_series
    ms = make_annotations(vol)
    return write(vol, tmp_path / "out" / "report-sr.dcm", ms), vol, ms


def _strip_records(src: Path, dst: Path, rename=None) -> Path:
    """The SR without the private measurement records (as a viewer would write it); ``rename``
    rewrites each tracking identifier."""
    ds = pydicom.dcmread(src)
    qe = next(it for it in ds.ContentSequence if it.ConceptNameCodeSequence[0].CodeValue == "C0034375")
    records = C.code("report", "measurement_records").value
    qe.ContentSequence = [it for it in qe.ContentSequence if it.ConceptNameCodeSequence[0].CodeValue != records]
    if rename is not None:
        stack = list(ds.ContentSequence)
        while stack:
            it = stack.pop()
            if it.ValueType == "TEXT" and it.ConceptNameCodeSequence[0].CodeValue == "112039":
                it.TextValue = rename(it.TextValue)
            stack += list(it.get("ContentSequence", []))
    ds.save_as(dst)
    return dst


POINT_KEYS = ("p1", "vertex", "p2", "points", "head", "tail")


def _assert_same(r, m, atol):
    assert type(r) is type(m) and r.label == m.label and r.id == m.id
    a, b = m.to_dict(), r.to_dict()
    for key in POINT_KEYS:
        if key in a:
            np.testing.assert_allclose(b[key], a[key], atol=atol, rtol=0, err_msg=f"{m.kind} {m.label} {key}")


def _on_image(m) -> bool:
    return m.label in ("Psoas angle", "Necrotic core", LONG_NOTE, "", "AP")


def test_round_trip_with_the_records_is_exact(exported):
    srp, vol, ms = exported
    for volume in (None, vol):
        by_id = read_back(srp, volume, ms, FINDINGS)
        for m in ms:
            r = by_id[m.id]
            _assert_same(r, m, atol=1e-9)
            assert r.series_uid == vol.series_uid
            if isinstance(m, FreehandROI):
                if m.label == "Necrotic core":
                    assert r.stats == {k: m.stats[k] for k in ("mean", "sd", "min", "max", "area_mm2")}
                else:
                    assert r.stats == {"area_mm2": pytest.approx(m.area_mm2, rel=1e-12)}


def test_round_trip_without_the_records_maps_image_coordinates_through_the_series(exported, tmp_path):
    srp, vol, ms = exported
    stripped = _strip_records(srp, tmp_path / "stripped.dcm")
    by_id = read_back(stripped, vol, ms)             # ids and labels from the tracking identifiers
    for m in ms:
        # on an image: mapped exactly; across slices: SCOORD3D, float32 patient coordinates
        _assert_same(by_id[m.id], m, atol=1e-6 if _on_image(m) else 5e-5)
    assert by_id[ms[2].id].label == LONG_NOTE        # longer than a tracking identifier: from the note
    # without the series only what has patient coordinates can be placed
    _, alone = S.read_sr(stripped)
    assert sorted(m.label for m in alone) == sorted(["cc extent", "IVC", "tilt", "Psoas angle", "AP"])
    for m in alone:
        _assert_same(m, next(x for x in ms if x.id == m.id), atol=5e-5)


def test_another_viewers_annotations_come_back_with_new_ids(exported, tmp_path):
    """Tracking identifiers of another writer: the kinds follow from the coded content alone."""
    srp, vol, ms = exported
    foreign = _strip_records(srp, tmp_path / "foreign.dcm", rename=lambda t: "viewer-" + t.split(" ")[1][:6])
    _, back = S.read_sr(foreign, vol)
    assert sorted(m.kind for m in back) == sorted(m.kind for m in ms)
    assert not {m.id for m in back} & {m.id for m in ms}
    arrows = sorted((m for m in back if m.kind == "arrow"), key=lambda m: m.head[2])
    want = sorted((m for m in ms if m.kind == "arrow"), key=lambda m: m.head[2])
    assert [a.label for a in arrows] == [m.label or S._ARROW_NO_LABEL for m in want]
    for a, m in zip(arrows, want, strict=True):
        np.testing.assert_allclose([a.head, a.tail], [m.head, m.tail], atol=5e-5)
    [outline] = [m for m in back if m.kind == "freehand" and len(m.points) == 5]
    np.testing.assert_allclose(outline.points, ms[1].points, atol=1e-6)


def _groups(srp):
    return hd.sr.MeasurementReport.from_sequence(hd.sr.srread(srp).content)


def _source_uid(item):
    return item.ContentSequence[0].ReferencedSOPSequence[0].ReferencedSOPInstanceUID


def test_highdicom_finds_the_groups_with_standard_codes_on_their_images(exported):
    srp, vol, ms = exported
    uids = vol.meta["sop_instance_uids"]
    report = _groups(srp)
    angle, outline, arrow, bare, cor_outline, cor_arrow, cor_angle, _ = ms
    by_track = {g.tracking_identifier: g for g in report.get_image_measurement_groups()}
    g = by_track[f"angle {angle.id}: Psoas angle"]
    [num] = g.get_measurements(name=codes.SCT.Angle)
    assert num.unit == codes.UCUM.Degree and num.value == pytest.approx(angle.angle_deg, abs=1e-9)
    assert 0.0 < num.value < 180.0
    [two_d] = [c for c in num.referenced_coordinates if c.ValueType == "SCOORD"]
    assert two_d.GraphicType == "POLYLINE" and _source_uid(two_d) == uids[2]
    np.testing.assert_allclose(two_d.value, [[20.5 + .5, 40.25 + .5], [40.75 + .5, 60.5], [80.5, 30.5 + .5]])
    [three_d] = [c for c in num.referenced_coordinates if c.ValueType == "SCOORD3D"]
    np.testing.assert_allclose(three_d.value, [angle.p1, angle.vertex, angle.p2], atol=1e-4)
    g = by_track[f"angle {cor_angle.id}: tilt"]
    assert [c.ValueType for c in g.get_measurements(name=codes.SCT.Angle)[0].referenced_coordinates] == ["SCOORD3D"]

    planar = {g.tracking_identifier: g for g in report.get_planar_roi_measurement_groups()}
    g = planar[f"freehand {outline.id}: Necrotic core"]
    assert g.roi.ValueType == "SCOORD" and g.roi.GraphicType == "POLYLINE" and _source_uid(g.roi) == uids[3]
    pts = np.asarray(g.roi.value)
    assert len(pts) == 6 and np.array_equal(pts[0], pts[-1])                       # closed
    stats = {(m.name.value, m.derivation.value if m.derivation else None): m.value for m in g.get_measurements()}
    assert stats[("112031", "373098007")] == pytest.approx(outline.stats["mean"])
    assert stats[("112031", "386136009")] == pytest.approx(outline.stats["sd"])
    assert stats[("42798000", None)] == pytest.approx(outline.area_mm2)
    g = planar[f"freehand {cor_outline.id}: cc extent"]
    assert g.roi.ValueType == "SCOORD3D" and g.roi.GraphicType == "POLYGON"
    assert g.roi.ReferencedFrameOfReferenceUID == vol.meta["frame_of_reference_uid"]

    points = report.get_planar_roi_measurement_groups(graphic_type=hd.sr.GraphicTypeValues.POINT)
    assert {g.tracking_identifier for g in points} == {
        f"arrow {arrow.id}: {LONG_NOTE}"[:64], f"arrow {bare.id}"}
    g = planar[f"arrow {arrow.id}: {LONG_NOTE}"[:64]]
    assert _source_uid(g.roi) == uids[1]
    np.testing.assert_allclose(g.roi.value, [[50.5, 51.0]])                             # the head
    [note] = [it for it in g[0].ContentSequence if it.ValueType == "TEXT"
              and it.ConceptNameCodeSequence[0].CodeValue == codes.DCM.ShortLabel.value]
    assert note.RelationshipType == "HAS CONCEPT MOD" and note.TextValue == LONG_NOTE
    [tail] = note.ContentSequence
    assert tail.RelationshipType == "HAS PROPERTIES" and tail.ValueType == "SCOORD"
    assert tail.ConceptNameCodeSequence[0].CodeValue == codes.DCM.ReferencePoints.value
    assert _source_uid(tail) == uids[1]
    np.testing.assert_allclose(np.asarray(tail.GraphicData).reshape(-1, 2), [[90.75, 70.5]])
    g = planar[f"arrow {cor_arrow.id}: IVC"]
    assert g.roi.ValueType == "SCOORD3D" and g.roi.GraphicType == "POINT"


def test_tracking_identifiers_and_groups_are_the_same_at_every_export(ct_series, tmp_path):
    vol, _ = ct_series
    ms = make_annotations(vol)
    a, b = (_groups(write(vol, tmp_path / d / "sr.dcm", ms)) for d in ("a", "b"))

    def groups(r):
        return [g for g in r.get_planar_roi_measurement_groups() + r.get_image_measurement_groups()
                if g.tracking_identifier.split(" ")[0] in ("angle", "freehand", "arrow")]

    ga, gb = groups(a), groups(b)
    assert len(ga) == 7 and len({g.tracking_uid for g in ga}) == 7
    assert [(g.tracking_identifier, g.tracking_uid) for g in ga] == [(g.tracking_identifier, g.tracking_uid)
                                                                     for g in gb]
    assert [g[0] for g in ga] == [g[0] for g in gb]                  # the whole content, item by item
    # a different read of the same study: another measurement id, another tracking UID
    other = Angle(label="Psoas angle", p1=ms[0].p1, vertex=ms[0].vertex, p2=ms[0].p2)
    c = _groups(write(vol, tmp_path / "c" / "sr.dcm", [other]))
    assert c.get_image_measurement_groups()[-1].tracking_uid not in {g.tracking_uid for g in ga}


@pytest.mark.skipif(shutil.which("dciodvfy") is None, reason="dicom3tools not installed")
def test_dciodvfy_reports_no_errors_on_an_sr_with_every_annotation(exported):
    srp, *_ = exported
    r = subprocess.run(["dciodvfy", str(srp)], capture_output=True, text=True)
    out = r.stdout + r.stderr
    assert [ln for ln in out.splitlines() if "Error" in ln] == []


def test_dcmqi_tid1500reader_reads_the_annotations(exported, tmp_path):
    srp, vol, ms = exported
    exe = Path(sys.executable).parent / "tid1500reader"             # installed by the dcmqi package
    out = tmp_path / "tid1500.json"
    r = subprocess.run([str(exe), "--inputDICOM", str(srp), "--outputMetadata", str(out)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    doc = json.loads(out.read_text())
    by_track = {m["TrackingIdentifier"]: m for m in doc["Measurements"]}
    angle, outline, arrow, bare = ms[:4]
    [item] = by_track[f"angle {angle.id}: Psoas angle"]["measurementItems"]
    assert item["quantity"]["CodeValue"] == "1483009" and item["units"]["CodeValue"] == "deg"
    assert float(item["value"]) == pytest.approx(angle.angle_deg, rel=1e-9)
    items = by_track[f"freehand {outline.id}: Necrotic core"]["measurementItems"]
    got = {(i["quantity"]["CodeValue"], i.get("derivationModifier", {}).get("CodeValue")): float(i["value"])
           for i in items}
    assert got[("42798000", None)] == pytest.approx(outline.area_mm2, rel=1e-9)
    assert got[("112031", "373098007")] == pytest.approx(outline.stats["mean"], rel=1e-9)
    [note] = by_track[f"arrow {arrow.id}: {LONG_NOTE}"[:64]]["qualitativeEvaluations"]
    assert note["conceptCode"]["CodeValue"] == "125309" and note["conceptValue"] == LONG_NOTE
    assert by_track[f"arrow {bare.id}"]["qualitativeEvaluations"][0]["conceptValue"] == S._ARROW_NO_LABEL
    assert sorted(doc["imageLibrary"]) == sorted(vol.meta["sop_instance_uids"])
