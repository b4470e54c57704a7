"""SR export: validators, read-back with highdicom, codes and evidence; read_sr restores."""
from __future__ import annotations

import json
import shutil
import subprocess

import highdicom as hd
import numpy as np
import pydicom
import pytest
from pydicom.sr.codedict import codes

from workstation.export import sr as S
from workstation.export import codes as C
from workstation.measure.model import Caliper, EllipseROI, Landmark

FINDINGS = {"schema": "rp-findings/1", "age_years": 58, "sex": "female", "greatest_dimension_mm": 121.0,
            "enhancement_delta_hu": 34.0, "growth_pattern": "mixed",
            "findings": {"necrosis": True, "macroscopic_fat": False, "vascular_invasion": True,
                         "organ_of_zuckerkandl_location": False}}
ASSESSMENT = {"t_category": "T3", "stage_group": None, "stage_missing": ["grade"],
              "stage_possible": ["IB", "IIIB"], "ivc_segments": [2], "enhancement_call": "enhancing",
              "thrombus_call": None, "differentials": []}
LESION = {"greatest_dimension_mm": 121.0, "endpoints": [[-100.25, -120.5, -75.7], [-20.0, -60.0, -10.0]],
          "volume_ml": 512.3, "axial_long_mm": 100.0, "axial_short_mm": 80.0, "craniocaudal_mm": 60.0,
          "mean_hu": 38.0}
ENH = {"pre": {"mean": 30.5, "sd": 5.0, "n": 100}, "post": {"mean": 64.5, "sd": 7.0, "n": 100}, "delta_hu": 34.0}


def _measurements():
    return [Caliper(label="AP diameter", p1=(-100, -120, -70.7), p2=(-40, -100, -70.7)),
            EllipseROI(label="muscle", major=((-90, -110, -65.7), (-70, -110, -65.7)),
                       minor=((-80, -115, -65.7), (-80, -105, -65.7)), stats={"mean": 41.5, "sd": 9.25}),
            Landmark(landmark="renal_vein", point=(-60, -90, -60.7)),
            Landmark(landmark="hepatic_vein", point=(-60, -90, -30.7))]


@pytest.fixture
def sr_file(ct_series, tmp_path):
    vol, _ = ct_series
    ms = _measurements()
    ds = S.build_sr(FINDINGS, vol, ms, LESION, ENH, ASSESSMENT)
    p = tmp_path / "report-sr.dcm"
    p.write_bytes(S.sr_bytes(ds))
    return p, vol, ms


@pytest.mark.skipif(shutil.which("dciodvfy") is None, reason="dicom3tools not installed")
def test_dciodvfy_reports_no_errors(sr_file):
    p, _, _ = sr_file
    r = subprocess.run(["dciodvfy", str(p)], capture_output=True, text=True)
    out = r.stdout + r.stderr
    assert "Comprehensive3DSR" in out
    errors = [ln for ln in out.splitlines() if "Error" in ln]
    assert errors == []


@pytest.mark.skipif(shutil.which("dsrdump") is None, reason="DCMTK not installed")
def test_dsrdump_reads_the_document(sr_file):
    p, _, _ = sr_file
    r = subprocess.run(["dsrdump", str(p)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "Imaging Measurement Report" in r.stdout and "Long axis" in r.stdout
    assert "(IVC-SEG2,99RPWS," in r.stdout


def test_highdicom_reads_measurements_codes_and_coordinates(sr_file):
    p, vol, _ = sr_file
    sr = hd.sr.srread(p)
    assert isinstance(sr, hd.sr.Comprehensive3DSR)
    assert sr.SOPClassUID == pydicom.uid.Comprehensive3DSRStorage
    report = hd.sr.MeasurementReport.from_sequence(sr.content)
    groups = report.get_image_measurement_groups()
    assert len(groups) == 2                       # the lesion and the caliper (TID 1501)
    lesion = next(g for g in groups if g.tracking_identifier.startswith("lesion "))
    caliper = next(g for g in groups if g.tracking_identifier.startswith("caliper "))
    assert lesion.finding_type == codes.SCT.Mass
    sites = {(s.value.value, s.value.scheme_designator) for s in lesion.finding_sites}
    assert sites == {("82849001", "SCT"), ("64131007", "SCT")}
    [gd] = lesion.get_measurements(name=codes.SCT.LongAxis)
    assert gd.value == pytest.approx(121.0) and gd.unit == codes.UCUM.Millimeter
    [coords] = gd.referenced_coordinates
    assert coords.graphic_type == hd.sr.GraphicTypeValues3D.POLYLINE
    assert coords.ReferencedFrameOfReferenceUID == vol.meta["frame_of_reference_uid"]
    np.testing.assert_allclose(coords.value, LESION["endpoints"], atol=1e-4)
    [v] = lesion.get_measurements(name=codes.SCT.Volume)
    assert v.value == pytest.approx(512.3) and v.unit == codes.UCUM.CubicCentimeter
    by_name = {m.name.value: m for m in lesion.get_measurements()}
    pre, post, delta = (by_name[C.code("lesion", k).value] for k in ("mean_pre", "mean_post", "enhancement_delta"))
    assert (pre.value, post.value, delta.value) == (30.5, 64.5, 34.0)
    assert pre.unit == codes.UCUM.HounsfieldUnit and pre.derivation == codes.SCT.Mean
    quals = {(q.name.value, q.name.scheme_designator): q.value for q in lesion.get_qualitative_evaluations()}
    assert quals[("6574001", "SCT")] == codes.SCT.Present          # necrosis
    assert quals[("256674009", "SCT")] == codes.SCT.Absent          # macroscopic fat
    zuck = C.code("checklist", "organ_of_zuckerkandl_location")
    assert quals[(zuck.value, "99RPWS")] == codes.SCT.Absent
    assert quals[("T-CAT", "99RPWS")].value == "AJCC-T3"
    possible = [q.value.value for q in lesion.get_qualitative_evaluations(name=C.code("staging", "stage_possible"))]
    assert possible == ["AJCC-IB", "AJCC-IIIB"]
    planar = report.get_planar_roi_measurement_groups()
    assert len(planar) == 3                       # ellipse + two landmarks (TID 1410)
    [ell] = report.get_planar_roi_measurement_groups(graphic_type=hd.sr.GraphicTypeValues3D.ELLIPSE)
    assert ell.roi.value.shape == (4, 3)
    pts = report.get_planar_roi_measurement_groups(graphic_type=hd.sr.GraphicTypeValues3D.POINT)
    assert {g.finding_type.value for g in pts} == {"LM-RENAL", "LM-HEPATIC"}
    [length] = caliper.get_measurements(name=codes.SCT.Length)
    assert length.value == pytest.approx(np.hypot(60, 20))
    np.testing.assert_allclose(length.referenced_coordinates[0].value,
                               [[-100, -120, -70.7], [-40, -100, -70.7]], atol=1e-4)
    # private scheme declared
    designators = {it.CodingSchemeDesignator for it in sr.CodingSchemeIdentificationSequence}
    assert {"99RPWS", "UMLS"} <= designators


def test_evidence_references_every_slice_and_patient_is_copied(sr_file):
    p, vol, _ = sr_file
    sr = pydicom.dcmread(p)
    ev = sr.CurrentRequestedProcedureEvidenceSequence
    assert len(ev) == 1 and ev[0].StudyInstanceUID == vol.meta["study_uid"]
    [series] = ev[0].ReferencedSeriesSequence
    assert series.SeriesInstanceUID == vol.series_uid
    refs = [it.ReferencedSOPInstanceUID for it in series.ReferencedSOPSequence]
    assert sorted(refs) == sorted(vol.meta["sop_instance_uids"])
    assert sr.StudyInstanceUID == vol.meta["study_uid"]
    assert str(sr.PatientName) == vol.meta["patient_name"] and sr.PatientID == vol.meta["patient_id"]


def test_read_sr_restores_measurements_and_findings(sr_file):
    p, _, ms = sr_file
    findings, restored = S.read_sr(p)
    assert findings == FINDINGS
    by_id = {m.id: m for m in restored}
    for m in ms:
        r = by_id[m.id]
        assert type(r) is type(m) and r.label == m.label
        a, b = m.to_dict(), r.to_dict()
        for key in ("p1", "p2", "point"):
            if key in a:
                np.testing.assert_allclose(b[key], a[key], atol=1e-4)
        if "major" in a:
            np.testing.assert_allclose(b["major"], a["major"], atol=1e-4)
            np.testing.assert_allclose(b["minor"], a["minor"], atol=1e-4)
            assert b["stats"]["mean"] == 41.5 and b["stats"]["sd"] == 9.25
        if "landmark" in a:
            assert b["landmark"] == a["landmark"]
    lesions = [m for m in restored if m.kind == "lesion"]
    assert len(lesions) == 1
    np.testing.assert_allclose(lesions[0].endpoints, LESION["endpoints"], atol=1e-4)
    assert lesions[0].figures["volume_ml"] == pytest.approx(512.3)


def test_read_sr_rejects_a_non_sr_file(tmp_path):
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
