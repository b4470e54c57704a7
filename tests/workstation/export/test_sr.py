"""SR v2: validators (dciodvfy, dsrdump, dcmqi tid1500reader), highdicom read-back of every group,
codes, image references, image library, evidence with the SEG, diagnosis items, stable tracking
UIDs, and read_sr restoring what was measured."""
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
from workstation.export import seg as G
from workstation.export import sr as S
from workstation.measure.model import Caliper, EllipseROI, Landmark
from workstation.measure.segment import measure_mask

from .conftest import read_back

FINDINGS = {"schema": "rp-findings/1", "age_years": 58, "sex": "female", "greatest_dimension_mm": 121.0,
            "enhancement_delta_hu": 34.0, "growth_pattern": "mixed", "grade": 2,
            "findings": {"necrosis": True, "macroscopic_fat": False, "vascular_invasion": True,
                         "organ_of_zuckerkandl_location": False}}
ASSESSMENT = {"t_category": "T3", "stage_group": None, "stage_missing": ["grade"],
              "stage_possible": ["IB", "IIIB"], "ivc_segments": [2], "enhancement_call": "enhancing",
              "thrombus_call": None,
              "staging": {"applies": True, "basis": "leading", "note": ""},
              "differentials": [{"id": "leiomyosarcoma", "label": "Leiomyosarcoma", "probability": 0.62},
                                {"id": "liposarcoma", "label": "Liposarcoma", "probability": 0.21},
                                {"id": "schwannoma", "label": "Schwannoma", "probability": 0.05}],
              "recommendations": [{"id": "sarcoma_team_referral", "text": "Discuss at a sarcoma centre.",
                                   "reason": "r", "source": "s"},
                                  {"id": "percutaneous_core_biopsy", "text": "Core biopsy.", "reason": "r",
                                   "source": "s"}]}
ENH = {"pre": {"mean": 30.5, "sd": 5.0, "n": 100}, "post": {"mean": 64.5, "sd": 7.0, "n": 100}, "delta_hu": 34.0}


def _blob(vol, center_kji, radii_kji):
    k, j, i = np.ogrid[:vol.shape[0], :vol.shape[1], :vol.shape[2]]
    c, r = center_kji, radii_kji
    return ((k - c[0]) / r[0]) ** 2 + ((j - c[1]) / r[1]) ** 2 + ((i - c[2]) / r[2]) ** 2 <= 1.0


def _lesion(vol, mask, label, target=False):
    res = measure_mask(vol, mask)
    rec = res.to_measurement(vol.series_uid, label)
    rec.seed = tuple(float(v) for v in vol.index_to_patient(np.argwhere(mask).mean(axis=0)))
    if target:
        rec.figures["target"] = 1.0
    return rec, res


def _p(vol, kji):
    return tuple(float(v) for v in vol.index_to_patient(kji))


def make_read(vol):
    """Two lesions (the second is the target), a caliper, an ellipse and two landmarks on real slices."""
    m_small = _blob(vol, (1.6, 30, 30), (1.2, 8, 10))
    m_big = _blob(vol, (3.0, 70, 75), (2.2, 22, 18))
    small, _ = _lesion(vol, m_small, "satellite")
    big, res = _lesion(vol, m_big, "mass", target=True)
    ms = [small, big,
          Caliper(label="AP diameter", p1=_p(vol, (2, 40, 20)), p2=_p(vol, (2, 100, 60))),
          EllipseROI(label="muscle", major=(_p(vol, (4, 20, 90)), _p(vol, (4, 20, 110))),
                     minor=(_p(vol, (4, 14, 100)), _p(vol, (4, 26, 100))), stats={"mean": 41.5, "sd": 9.25}),
          Landmark(landmark="renal_vein", point=_p(vol, (1, 64, 64))),
          Landmark(landmark="hepatic_vein", point=_p(vol, (5, 60, 60)))]
    return ms, {small.id: m_small, big.id: m_big}, res


def write_read(vol, folder: Path, ms, masks, assessment=ASSESSMENT):
    seg, stats = G.export_seg(vol, ms, masks)
    sr = S.build_sr(FINDINGS, vol, ms, None, ENH, assessment, segmentation=seg, lesion_stats=stats)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report-sr.dcm").write_bytes(S.sr_bytes(sr))
    (folder / "lesion-seg.dcm").write_bytes(G.seg_bytes(seg))
    return folder / "report-sr.dcm", folder / "lesion-seg.dcm"


@pytest.fixture
def exported(ct_series, tmp_path):
    vol, _ = ct_series
    ms, masks, res = make_read(vol)
    srp, segp = write_read(vol, tmp_path / "out", ms, masks)
    return srp, segp, vol, ms, masks, res


def _errors(path) -> list[str]:
    r = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True)
    return [ln for ln in (r.stdout + r.stderr).splitlines() if "Error" in ln]


@pytest.mark.skipif(shutil.which("dciodvfy") is None, reason="dicom3tools not installed")
def test_dciodvfy_reports_no_errors_on_the_sr(exported):
    srp, *_ = exported
    assert _errors(srp) == []


@pytest.mark.skipif(shutil.which("dsrdump") is None, reason="DCMTK not installed")
def test_dsrdump_reads_the_document(exported):
    srp, *_ = exported
    r = subprocess.run(["dsrdump", str(srp)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "Imaging Measurement Report" in out and "Maximum 3D Diameter" in out and "Image Library" in out
    assert "(IVC-SEG2,99RPWS," in out and "Referenced Segment" in out
    assert '<selected from IMAGE:(,,"Source")=(CT image,)>' in out


def _reader_json(srp, tmp_path):
    exe = Path(sys.executable).parent / "tid1500reader"       # installed by the dcmqi package
    out = tmp_path / "tid1500.json"
    r = subprocess.run([str(exe), "--inputDICOM", str(srp), "--outputMetadata", str(out)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return json.loads(out.read_text())


def test_dcmqi_tid1500reader_sees_segments_library_and_measurements(exported, tmp_path):
    srp, segp, vol, ms, masks, _ = exported
    doc = _reader_json(srp, tmp_path)
    seg = pydicom.dcmread(segp)
    assert doc["compositeContext"] == [seg.SOPInstanceUID]
    assert sorted(doc["imageLibrary"]) == sorted(vol.meta["sop_instance_uids"])
    lesions = [m for m in doc["Measurements"] if "ReferencedSegment" in m]
    assert [m["ReferencedSegment"] for m in lesions] == [1, 2]
    assert lesions[0]["TrackingIdentifier"] == f"lesion {ms[1].id}: mass"          # target first
    assert lesions[0]["segmentationSOPInstanceUID"] == seg.SOPInstanceUID
    assert lesions[0]["SourceSeriesForImageSegmentation"] == vol.series_uid
    by_seg = {it.SegmentNumber: it.TrackingUID for it in seg.SegmentSequence}
    assert [m["TrackingUniqueIdentifier"] for m in lesions] == [by_seg[1], by_seg[2]]
    quantities = {it["quantity"]["CodeValue"] for it in lesions[0]["measurementItems"]}
    assert {"L0JK", "103339001", "103340004", "121207", "118565006", "112031", "442707000"} <= quantities


def _groups(srp):
    sr = hd.sr.srread(srp)
    return sr, hd.sr.MeasurementReport.from_sequence(sr.content)


def test_volumetric_groups_reference_their_segment_with_figures_from_the_mask(exported):
    srp, segp, vol, ms, masks, res = exported
    sr, report = _groups(srp)
    seg = pydicom.dcmread(segp)
    vols = report.get_volumetric_roi_measurement_groups()
    assert [g.tracking_identifier for g in vols] == [f"lesion {ms[1].id}: mass", f"lesion {ms[0].id}: satellite"]
    target = vols[0]
    seg_refs = [it for it in target[0].ContentSequence if it.ValueType == "IMAGE"]
    [img] = seg_refs
    sop = img.ReferencedSOPSequence[0]
    assert sop.ReferencedSOPInstanceUID == seg.SOPInstanceUID and sop.ReferencedSegmentNumber == 1
    assert sop.ReferencedSOPClassUID == seg.SOPClassUID
    assert seg.SegmentSequence[0].TrackingUID == target.tracking_uid
    big = masks[ms[1].id]
    vals = vol.voxels[big].astype(np.float64)
    by = {(m.name.value, m.derivation.value if m.derivation else None): m for m in target.get_measurements()}
    fig = ms[1].figures                                        # the lesion's figures (rounded to 0.01 mm)
    assert by[("L0JK", None)].value == fig["greatest_dimension_mm"] == pytest.approx(res.greatest_dimension_mm, abs=0.01)
    assert by[("L0JK", None)].unit == codes.UCUM.Millimeter
    assert by[("103340004", None)].value == pytest.approx(res.axial_short_mm, abs=0.01)    # SCT Short axis
    assert by[("103339001", None)].value == pytest.approx(res.axial_long_mm, abs=0.01)     # SCT Long axis
    assert by[("121207", None)].value == pytest.approx(res.craniocaudal_mm, abs=0.01)      # DCM Height
    assert by[("118565006", None)].value == pytest.approx(res.volume_ml, rel=1e-3)
    assert by[("112031", "373098007")].value == pytest.approx(vals.mean(), rel=1e-9)
    assert by[("112031", "386136009")].value == pytest.approx(vals.std(), rel=1e-6)
    assert by[("442707000", None)].value == 34.0                                      # enhancement
    quals = {(q.name.value, q.name.scheme_designator): q.value for q in target.get_qualitative_evaluations()}
    assert quals[("6574001", "SCT")] == codes.SCT.Present and quals[("256674009", "SCT")] == codes.SCT.Absent
    assert quals[("T-CAT", "99RPWS")].value == "AJCC-T3"
    assert vols[1].get_qualitative_evaluations() == []                              # only on the target
    sites = {(s.value.value, s.value.scheme_designator) for s in target.finding_sites}
    assert sites == {("82849001", "SCT"), ("64131007", "SCT")}


def test_greatest_dimension_end_points_share_the_lesion_tracking_uid(exported):
    srp, _, vol, ms, _, res = exported
    _, report = _groups(srp)
    target_uid = report.get_volumetric_roi_measurement_groups()[0].tracking_uid
    [line] = [g for g in report.get_image_measurement_groups() if g.tracking_uid == target_uid]
    [gd] = line.get_measurements(name=codes.IBSI.Maximum3DDiameterOfAMesh)
    [c] = gd.referenced_coordinates
    assert c.graphic_type == hd.sr.GraphicTypeValues3D.POLYLINE
    assert c.ReferencedFrameOfReferenceUID == vol.meta["frame_of_reference_uid"]
    np.testing.assert_allclose(c.value, res.endpoints, atol=1e-3)


def test_calipers_ellipses_and_landmarks_reference_the_image_they_were_drawn_on(exported):
    srp, _, vol, ms, _, _ = exported
    _, report = _groups(srp)
    uids = vol.meta["sop_instance_uids"]
    [cal] = [g for g in report.get_image_measurement_groups() if g.tracking_identifier.startswith("caliper ")]
    [length] = cal.get_measurements(name=codes.SCT.Length)
    assert length.value == pytest.approx(ms[2].length_mm)
    two_d = [c for c in length.referenced_coordinates if c.ValueType == "SCOORD"]
    three_d = [c for c in length.referenced_coordinates if c.ValueType == "SCOORD3D"]
    assert len(two_d) == 1 and len(three_d) == 1
    src = two_d[0].ContentSequence[0]
    assert src.RelationshipType == "SELECTED FROM"
    assert src.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == uids[2]
    np.testing.assert_allclose(two_d[0].value, [[20.5, 40.5], [60.5, 100.5]], atol=1e-3)   # (column, row)
    [ell] = report.get_planar_roi_measurement_groups(graphic_type=hd.sr.GraphicTypeValues.ELLIPSE)
    assert ell.roi.ValueType == "SCOORD"
    assert ell.roi.ContentSequence[0].ReferencedSOPSequence[0].ReferencedSOPInstanceUID == uids[4]
    np.testing.assert_allclose(ell.roi.value, [[90.5, 20.5], [110.5, 20.5], [100.5, 14.5], [100.5, 26.5]], atol=1e-3)
    pts = report.get_planar_roi_measurement_groups(graphic_type=hd.sr.GraphicTypeValues.POINT)
    assert {g.finding_type.value for g in pts} == {"LM-RENAL", "LM-HEPATIC"}
    refs = {g.finding_type.value: g.roi.ContentSequence[0].ReferencedSOPSequence[0].ReferencedSOPInstanceUID
            for g in pts}
    assert refs == {"LM-RENAL": uids[1], "LM-HEPATIC": uids[5]}


def test_image_library_and_evidence_list_every_slice_and_the_seg(exported):
    srp, segp, vol, *_ = exported
    sr = pydicom.dcmread(srp)
    seg = pydicom.dcmread(segp)
    [study] = sr.CurrentRequestedProcedureEvidenceSequence
    series = {s.SeriesInstanceUID: s for s in study.ReferencedSeriesSequence}
    assert set(series) == {vol.series_uid, seg.SeriesInstanceUID}
    assert sorted(it.ReferencedSOPInstanceUID for it in series[vol.series_uid].ReferencedSOPSequence) \
        == sorted(vol.meta["sop_instance_uids"])
    assert [it.ReferencedSOPInstanceUID for it in series[seg.SeriesInstanceUID].ReferencedSOPSequence] \
        == [seg.SOPInstanceUID]
    _, report = _groups(srp)
    lib = [it for it in report[0].ContentSequence if it.ConceptNameCodeSequence[0].CodeValue == "111028"]
    assert len(lib) == 1
    refs = [img.ReferencedSOPSequence[0].ReferencedSOPInstanceUID
            for grp in lib[0].ContentSequence for img in grp.ContentSequence if img.ValueType == "IMAGE"]
    assert sorted(refs) == sorted(vol.meta["sop_instance_uids"])
    assert str(sr.PatientName) == vol.meta["patient_name"] and sr.StudyInstanceUID == vol.meta["study_uid"]


def _qe_container(srp):
    sr = pydicom.dcmread(srp)
    return next(it for it in sr.ContentSequence if it.ConceptNameCodeSequence[0].CodeValue == "C0034375")


def test_diagnosis_grade_and_recommendations_are_coded(exported):
    srp, *_ = exported
    items = _qe_container(srp).ContentSequence
    coded = [(it.ConceptNameCodeSequence[0].CodeValue, it.ConceptCodeSequence[0].CodeValue,
              [(c.ConceptNameCodeSequence[0].CodeValue, float(c.MeasuredValueSequence[0].NumericValue))
               for c in it.get("ContentSequence", []) if c.ValueType == "NUM"])
             for it in items if it.ValueType == "CODE"]
    assert coded[0] == ("121073", codes.SCT.Leiomyosarcoma.value, [("122157", 62.0)])
    assert coded[1] == ("111023", codes.SCT.Liposarcoma.value, [("122157", 21.0)])
    assert coded[2] == ("111023", C.code("diagnosis", "schwannoma").value, [("122157", 5.0)])
    assert ("371469007", codes.SCT.G2Grade.value, []) in coded
    recs = [it for it in items if it.ValueType == "CODE" and it.ConceptNameCodeSequence[0].CodeValue == "121075"]
    assert [r.ConceptCodeSequence[0].CodeValue for r in recs] == [
        C.code("recommendation", "sarcoma_team_referral").value, C.code("recommendation", "percutaneous_core_biopsy").value]
    assert recs[0].ContentSequence[0].TextValue == "Discuss at a sarcoma centre."


def test_no_stage_is_stated_when_staging_does_not_apply(ct_series, tmp_path):
    vol, _ = ct_series
    ms, masks, _ = make_read(vol)
    a = {**ASSESSMENT, "staging": {"applies": False, "basis": "", "note": ""},
         "differentials": [{"id": "lymphoma", "probability": 0.7}]}
    srp, _ = write_read(vol, tmp_path / "o", ms, masks, assessment=a)
    r = subprocess.run(["dsrdump", str(srp)], capture_output=True, text=True) if shutil.which("dsrdump") else None
    _, report = _groups(srp)
    names = {q.name.value for g in report.get_volumetric_roi_measurement_groups() for q in g.get_qualitative_evaluations()}
    assert not names & {"T-CAT", "STAGE-POSSIBLE", C.code("staging", "stage_group").value}
    assert "6574001" in names                                      # the checklist is still there
    if r is not None:
        assert "AJCC" not in r.stdout and "Lymphoma" in r.stdout


def test_staging_falls_back_to_the_leading_diagnosis_until_assess_gives_it():
    a = {k: v for k, v in ASSESSMENT.items() if k != "staging"}
    assert S.staging_applies(FINDINGS, a)
    assert not S.staging_applies(FINDINGS, {**a, "differentials": [{"id": "lymphoma", "probability": 0.8}]})
    assert S.staging_applies({**FINDINGS, "histology": "other_sarcoma"}, {**a, "differentials": []})


def _flatten(ds, prefix=""):
    out = []
    for elem in ds:
        key = f"{prefix}{elem.keyword or elem.tag}"
        if elem.VR == "SQ":
            for i, item in enumerate(elem.value):
                out += _flatten(item, f"{key}[{i}].")
        elif elem.keyword != "PixelData":
            out.append((key, str(elem.value)))
        else:
            out.append((key, bytes(elem.value).hex()))
    return out


# The file meta group length follows the length of the file's own (random) instance UID.
_OWN = {"SOPInstanceUID", "SeriesInstanceUID", "ContentDate", "ContentTime", "InstanceCreationDate",
        "InstanceCreationTime", "MediaStorageSOPInstanceUID", "ContributionDateTime",
        "FileMetaInformationGroupLength"}


def _normalised(path):
    ds = pydicom.dcmread(path)
    own = {str(ds.SOPInstanceUID): "<own sop>", str(ds.SeriesInstanceUID): "<own series>"}
    for item in ds.get("DimensionOrganizationSequence", []):      # a SEG's own dimension organisation
        own[str(item.DimensionOrganizationUID)] = "<own dimension organisation>"
    rows = _flatten(ds.file_meta) + _flatten(ds)
    return [(k, own.get(v, v)) for k, v in rows if k.rsplit(".", 1)[-1] not in _OWN]


def test_a_second_export_of_the_same_read_differs_only_in_its_own_uids_and_times(ct_series, tmp_path):
    vol, _ = ct_series
    ms, masks, _ = make_read(vol)
    sr1, seg1 = write_read(vol, tmp_path / "a", ms, masks)
    sr2, seg2 = write_read(vol, tmp_path / "b", ms, masks)
    assert pydicom.dcmread(sr1).SOPInstanceUID != pydicom.dcmread(sr2).SOPInstanceUID
    segs = {str(pydicom.dcmread(seg1).SOPInstanceUID): "<seg>", str(pydicom.dcmread(seg2).SOPInstanceUID): "<seg>",
            str(pydicom.dcmread(seg1).SeriesInstanceUID): "<seg series>",
            str(pydicom.dcmread(seg2).SeriesInstanceUID): "<seg series>"}
    a = [(k, segs.get(v, v)) for k, v in _normalised(sr1)]
    b = [(k, segs.get(v, v)) for k, v in _normalised(sr2)]
    assert a == b
    assert _normalised(seg1) == _normalised(seg2)
    t1 = [g.tracking_uid for g in _groups(sr1)[1].get_volumetric_roi_measurement_groups()]
    t2 = [g.tracking_uid for g in _groups(sr2)[1].get_volumetric_roi_measurement_groups()]
    assert t1 == t2 and len(set(t1)) == 2


def test_read_sr_restores_every_measurement_with_its_id_label_and_target(exported):
    srp, _, vol, ms, _, res = exported
    for volume in (None, vol):
        by_id = read_back(srp, volume, ms, FINDINGS)
        for m in ms:
            r = by_id[m.id]
            assert type(r) is type(m) and r.label == m.label and r.series_uid == vol.series_uid
            a, b = m.to_dict(), r.to_dict()
            for key in ("p1", "p2", "point", "major", "minor", "endpoints", "seed"):
                if key in a:
                    np.testing.assert_allclose(b[key], a[key], atol=1e-6)
            if "stats" in a:
                assert b["stats"]["mean"] == 41.5 and b["stats"]["sd"] == 9.25
        target = by_id[ms[1].id]
        assert G.is_target(target) and not G.is_target(by_id[ms[0].id])
        for key in ("greatest_dimension_mm", "axial_long_mm", "axial_short_mm", "craniocaudal_mm"):
            assert target.figures[key] == ms[1].figures[key]
        assert target.figures["volume_ml"] == pytest.approx(res.volume_ml, rel=1e-3)


def test_read_sr_places_image_coordinates_through_the_series_without_the_records(exported, tmp_path):
    """A viewer's SR has no records: the 2D SCOORDs are mapped through the series' geometry."""
    srp, _, vol, ms, _, _ = exported
    ds = pydicom.dcmread(srp)
    qe = next(it for it in ds.ContentSequence if it.ConceptNameCodeSequence[0].CodeValue == "C0034375")
    qe.ContentSequence = [it for it in qe.ContentSequence
                          if it.ConceptNameCodeSequence[0].CodeValue != C.code("report", "measurement_records").value]
    stripped = tmp_path / "stripped.dcm"
    ds.save_as(stripped)
    _, without_volume = S.read_sr(stripped)
    assert sorted(m.kind for m in without_volume) == ["caliper", "lesion", "lesion"]   # 3D coordinates only
    _, restored = S.read_sr(stripped, vol)
    ell = next(m for m in restored if m.kind == "ellipse")
    np.testing.assert_allclose(ell.major, ms[3].major, atol=1e-4)
    lms = sorted((m for m in restored if m.kind == "landmark"), key=lambda m: m.point[2])
    np.testing.assert_allclose([m.point for m in lms], [ms[4].point, ms[5].point], atol=1e-4)


def test_read_sr_rejects_a_non_sr_file():
    from pydicom.data import get_testdata_file

    from workstation.errors import InputError

    with pytest.raises(InputError, match="CT_small.dcm"):
        S.read_sr(get_testdata_file("CT_small.dcm"))


def test_volume_without_headers_is_a_clear_error(ct_series):
    from workstation.errors import InputError

    vol, _ = ct_series
    vol2 = vol.with_voxels(vol.voxels, meta={k: v for k, v in vol.meta.items() if k != "headers"})
    with pytest.raises(InputError, match="headers"):
        S.build_sr(FINDINGS, vol2)


def test_a_lesion_without_segmentation_is_a_tid_1501_group(ct_series, tmp_path):
    vol, _ = ct_series
    lesion = {"greatest_dimension_mm": 121.0, "endpoints": [[-100.25, -120.5, -75.7], [-20.0, -60.0, -10.0]],
              "volume_ml": 512.3, "mean_hu": 38.0}
    p = tmp_path / "sr.dcm"
    p.write_bytes(S.sr_bytes(S.build_sr(FINDINGS, vol, [], lesion, ENH, ASSESSMENT)))
    _, report = _groups(p)
    assert report.get_volumetric_roi_measurement_groups() == []
    groups = [g for g in report.get_image_measurement_groups() if g.tracking_identifier == "lesion mass"]
    assert len(groups) == 2
    _, restored = S.read_sr(p)
    [les] = restored
    np.testing.assert_allclose(les.endpoints, lesion["endpoints"], atol=1e-6)
    assert les.figures["volume_ml"] == pytest.approx(512.3)
    if shutil.which("dciodvfy"):
        assert _errors(p) == []


def test_a_line_across_slices_has_no_image_coordinates_and_off_plane_points_come_back_exactly(ct_series, tmp_path):
    """A caliper drawn in a coronal view spans slices: SCOORD3D only. A landmark between two slices
    is drawn on the nearest image, and read_sr with the series still restores its exact point."""
    vol, _ = ct_series
    across = Caliper(label="cc", p1=_p(vol, (1, 40, 40)), p2=_p(vol, (4, 60, 40)))
    between = Landmark(landmark="tumor_cranial", point=_p(vol, (2.3, 50, 50)))
    p = tmp_path / "sr.dcm"
    p.write_bytes(S.sr_bytes(S.build_sr(FINDINGS, vol, [across, between])))
    _, report = _groups(p)
    [cal] = [g for g in report.get_image_measurement_groups() if g.tracking_identifier.startswith("caliper ")]
    [length] = cal.get_measurements(name=codes.SCT.Length)
    assert [c.ValueType for c in length.referenced_coordinates] == ["SCOORD3D"]
    [lm] = report.get_planar_roi_measurement_groups(graphic_type=hd.sr.GraphicTypeValues.POINT)
    assert lm.roi.ContentSequence[0].ReferencedSOPSequence[0].ReferencedSOPInstanceUID == vol.meta["sop_instance_uids"][2]
    _, restored = S.read_sr(p, vol)
    by_id = {m.id: m for m in restored}
    np.testing.assert_allclose(by_id[between.id].point, between.point, atol=1e-9)
    np.testing.assert_allclose([by_id[across.id].p1, by_id[across.id].p2], [across.p1, across.p2], atol=1e-9)


@pytest.mark.skipif(shutil.which("dcentvfy") is None, reason="dicom3tools not installed")
def test_dcentvfy_finds_sr_seg_and_images_consistent(ct_series, tmp_path):
    """dicom3tools' entity check across the set: same patient, study and frame of reference."""
    vol, paths = ct_series
    ms, masks, _ = make_read(vol)
    srp, segp = write_read(vol, tmp_path / "o", ms, masks)
    r = subprocess.run(["dcentvfy", *map(str, paths), str(srp), str(segp)], capture_output=True, text=True)
    assert [ln for ln in (r.stdout + r.stderr).splitlines() if "Error" in ln] == []
