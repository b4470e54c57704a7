"""export_study and the export CLI: round trip, report content, de-identification, atomicity."""
from __future__ import annotations

import json
import re
import shutil
import subprocess

import pydicom
import pytest

from workstation import atomic
from workstation.cli import main
from workstation.export import FILES, assess_dict, export_study
from workstation.export.report import build_report
from workstation.export.sr import read_sr
from workstation.measure.model import Caliper, Landmark
from workstation.resources import SAMPLE_DICOM, load_json

from .conftest import BIRTH_DATE, PATIENT_ID, PATIENT_NAME

FINDINGS = {"schema": "rp-findings/1", "age_years": 58, "sex": "female", "greatest_dimension_mm": 121.0,
            "enhancement_delta_hu": 34.0, "thrombus_delta_hu": 28.0, "growth_pattern": "mixed",
            "ivc": {"renal_vein_z_mm": -60.0, "hepatic_vein_z_mm": -20.0, "tumor_z_mm": [-70.0, -40.0]},
            "findings": {"necrosis": True, "macroscopic_fat": False, "vascular_invasion": True,
                         "well_defined_margins": True, "lymph_node_metastases": False,
                         "distant_metastases": False, "calcification": False},
            "x_sources": {"greatest_dimension_mm": "3D segmentation of the portal venous series"}}
LESION = {"greatest_dimension_mm": 121.0, "endpoints": [[-100, -120, -75.7], [-20, -60, -10.0]],
          "volume_ml": 512.3, "axial_long_mm": 100.0, "axial_short_mm": 80.0, "craniocaudal_mm": 60.0}
ENH = {"pre": {"mean": 30.0}, "post": {"mean": 64.0}, "delta_hu": 34.0, "radius_mm": 10.0}


def _ms():
    return [Caliper(label="AP", p1=(-100, -120, -70.7), p2=(-40, -100, -70.7)),
            Landmark(landmark="renal_vein", point=(-60, -90, -60.0))]


def test_export_writes_three_files_that_round_trip(ct_series, tmp_path):
    vol, _ = ct_series
    paths = export_study(FINDINGS, vol, tmp_path / "out", _ms(), LESION, ENH)
    assert {p.name for p in paths.values()} == set(FILES.values())
    doc = json.loads(paths["findings"].read_text())
    assert doc == FINDINGS
    assert assess_dict(doc) == assess_dict(FINDINGS)
    embedded, restored = read_sr(paths["sr"])
    assert embedded == FINDINGS
    assert {m.kind for m in restored} == {"caliper", "landmark", "lesion"}
    assert [f.name for f in (tmp_path / "out").iterdir() if atomic.is_temp_name(f.name)] == []


def test_report_has_key_numbers_sections_and_follow_up(ct_series, tmp_path):
    vol, _ = ct_series
    paths = export_study(FINDINGS, vol, tmp_path / "out", _ms(), LESION, ENH)
    text = paths["report"].read_text()
    for heading in ("TECHNIQUE", "FINDINGS", "IMPRESSION", "RECOMMENDATION"):
        assert re.search(rf"^{heading}$", text, re.M)
    assert max(len(ln) for ln in text.splitlines()) <= 80
    assert not re.search(r"[*#`]|\*\*", text)               # no markdown
    flat = " ".join(text.split())
    assert "12.1 cm (121 mm" in flat and "100 x 80 x 60 mm" in flat and "512 ml" in flat
    assert "30 HU before and 64 HU after" in flat and "34 HU: enhancing" in flat
    assert "CT ABD PORTAL 5mm" in flat and "portal venous phase" in flat and "slice thickness 5.0 mm" in flat
    assert "segment 1" in flat and "segment 2" in flat          # tumour -70..-40 spans the renal veins at -60
    assert "T3" in flat and "IB or IIIB" in flat and "missing: grade" in flat
    assert "(GX) with G1, which gives stage group IB" in flat
    assert "tumour thrombus" in flat
    for item in load_json("report.json")["follow_up"]["items"]:
        assert item in flat
    assert "every 3 to 6 months for 2 to 3 years" in flat
    assert PATIENT_NAME.split("^")[0] not in text and PATIENT_ID not in text


def test_report_lists_the_ranked_differential_with_reasons():
    a = {"t_category": "T2", "stage_group": "IIIA", "stage_missing": [], "stage_possible": ["IIIA"],
         "ivc_segments": None, "enhancement_call": None, "thrombus_call": None,
         "differentials": [
             {"id": "leiomyosarcoma", "label": "Leiomyosarcoma", "probability": 0.61,
              "raised_by": [{"finding": "necrosis", "value": True, "log_lr": 1.1, "text": "necrosis present"}],
              "lowered_by": [{"finding": "macroscopic_fat", "value": False, "log_lr": -0.2, "text": "no fat"}]},
             {"id": "liposarcoma", "label": "Liposarcoma", "probability": 0.2, "raised_by": [], "lowered_by": []},
             {"id": "lymphoma", "label": "Lymphoma", "probability": 0.1, "raised_by": [], "lowered_by": []},
             {"id": "schwannoma", "label": "Schwannoma", "probability": 0.05, "raised_by": [], "lowered_by": []},
             {"id": "hematoma", "label": "Hematoma", "probability": 0.03, "raised_by": [], "lowered_by": []},
             {"id": "teratoma", "label": "Teratoma", "probability": 0.01, "raised_by": [], "lowered_by": []}]}
    text = build_report({"schema": "rp-findings/1", "greatest_dimension_mm": 80, "grade": 2}, a)
    flat = " ".join(text.split())
    assert "Leiomyosarcoma 61 %; for: necrosis present (LR 3); against: no fat (LR 0.82)" in flat
    assert "Hematoma 3 %" in flat and "Teratoma" not in flat      # top 5 only
    assert "Stage group IIIA." in flat and "GX" not in flat


def test_deidentified_export_has_no_identifiers_and_consistent_uids(ct_series, tmp_path):
    vol, _ = ct_series
    findings = {**FINDINGS, "x_note": "Jane Doe asked about results"}
    paths = export_study(findings, vol, tmp_path / "anon", _ms(), LESION, ENH, deidentify=True, salt="s1")
    blobs = {k: p.read_bytes() for k, p in paths.items()}
    for needle in ("Doe", "Jane", PATIENT_ID, BIRTH_DATE, "1961-04-23", "ACC12345", "Mercy General", "House"):
        for k, b in blobs.items():
            assert needle.lower().encode() not in b.lower(), (needle, k)
    originals = [vol.meta["study_uid"], vol.series_uid, vol.meta["frame_of_reference_uid"],
                 *vol.meta["sop_instance_uids"]]
    for u in originals:
        for k, b in blobs.items():
            assert u.encode() not in b, (u, k)
    sr = pydicom.dcmread(paths["sr"])
    assert sr.PatientIdentityRemoved == "YES" and sr.DeidentificationMethodCodeSequence[0].CodeValue == "113100"
    assert sr.PatientID.startswith("ANON-") and sr.PatientSex == "F"
    ev = sr.CurrentRequestedProcedureEvidenceSequence[0]
    refs = {it.ReferencedSOPInstanceUID for it in ev.ReferencedSeriesSequence[0].ReferencedSOPSequence}
    # the same salt gives the same mapping: the SR references the remapped evidence UIDs
    from workstation.export.deid import Deidentifier

    d = Deidentifier("s1")
    assert refs == {d.uid(u) for u in vol.meta["sop_instance_uids"]}
    assert ev.StudyInstanceUID == d.uid(vol.meta["study_uid"]) == sr.StudyInstanceUID
    assert ev.ReferencedSeriesSequence[0].SeriesInstanceUID == d.uid(vol.series_uid)
    _, restored = read_sr(paths["sr"])
    assert {m.kind for m in restored} == {"caliper", "landmark", "lesion"}
    doc = json.loads(blobs["findings"])
    assert "x_note" not in doc and assess_dict(doc) == assess_dict(FINDINGS)
    # a second export with another salt maps differently (no cross-export linkage)
    other = export_study(FINDINGS, vol, tmp_path / "anon2", deidentify=True, salt="s2")
    assert pydicom.dcmread(other["sr"]).StudyInstanceUID != sr.StudyInstanceUID


@pytest.mark.skipif(shutil.which("dciodvfy") is None, reason="dicom3tools not installed")
def test_deidentified_sr_passes_dciodvfy(ct_series, tmp_path):
    vol, _ = ct_series
    paths = export_study(FINDINGS, vol, tmp_path / "anon", _ms(), LESION, ENH, deidentify=True)
    r = subprocess.run(["dciodvfy", str(paths["sr"])], capture_output=True, text=True)
    assert [ln for ln in (r.stdout + r.stderr).splitlines() if "Error" in ln] == []


def test_failure_mid_export_leaves_previous_files_intact(ct_series, tmp_path, monkeypatch):
    vol, _ = ct_series
    out = tmp_path / "out"
    first = export_study(FINDINGS, vol, out, _ms(), LESION, ENH)
    before = {k: p.read_bytes() for k, p in first.items()}
    real = atomic._write_temp
    n = []

    def fail_on_third(path, data):
        n.append(path)
        if len(n) == 3:
            raise OSError(28, "No space left on device", str(path))
        return real(path, data)

    monkeypatch.setattr(atomic, "_write_temp", fail_on_third)
    with pytest.raises(Exception, match="cannot write"):
        export_study({**FINDINGS, "greatest_dimension_mm": 160.0}, vol, out, _ms(), LESION, ENH)
    assert {k: p.read_bytes() for k, p in first.items()} == before
    assert sorted(f.name for f in out.iterdir()) == sorted(FILES.values())
    # and invalid findings never touch the files at all
    monkeypatch.setattr(atomic, "_write_temp", real)
    with pytest.raises(Exception, match="greatest_dimension_mm"):
        export_study({**FINDINGS, "greatest_dimension_mm": "big"}, vol, out)
    assert {k: p.read_bytes() for k, p in first.items()} == before


def test_cli_invalid_findings_exit_2_naming_the_field(ct_series, tmp_path, capsys):
    _, paths = ct_series
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"schema": "rp-findings/1", "findings": {"necrosis": "yes"}}))
    rc = main(["export", str(bad), "--series", str(paths[0].parent), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2 and "findings.necrosis" in err and "Traceback" not in err
    assert not (tmp_path / "o" / "report-sr.dcm").exists()


SAMPLE = SAMPLE_DICOM / "truth.json"


@pytest.mark.skipif(not SAMPLE.exists(), reason="sample study not generated")
def test_cli_export_end_to_end_on_the_sample_study(tmp_path, capsys):
    truth = json.loads(SAMPLE.read_text())
    post = truth["series"]["ct_post"]
    vignette = {"schema": "rp-findings/1", "age_years": 57, "sex": "female", "greatest_dimension_mm": 118.0,
                "enhancement_delta_hu": 42.0, "growth_pattern": "extravascular",
                "findings": {"necrosis": True, "macroscopic_fat": False, "calcification": False,
                             "lymph_node_metastases": False, "distant_metastases": False},
                "x_measurements": [
                    {"kind": "caliper", "label": "axial long axis", "series_uid": post["series_uid"],
                     "p1": [-40.0, -10.0, 0.0], "p2": [60.0, 30.0, 0.0]},
                    {"kind": "landmark", "landmark": "renal_vein", "p": None, "point": [10.0, 20.0, -30.0]}]}
    vignette["x_measurements"][1].pop("p")
    fj = tmp_path / "vignette.json"
    fj.write_text(json.dumps(vignette))
    series = f"{SAMPLE_DICOM / 'study'}#{post['series_uid']}"
    for deid, out in ((False, tmp_path / "plain"), (True, tmp_path / "anon")):
        argv = ["export", str(fj), "--series", series, "--out", str(out), "--json"] + (["--deidentify"] if deid else [])
        assert main(argv) == 0
        doc = json.loads(capsys.readouterr().out)
        sr = pydicom.dcmread(doc["sr"])
        refs = [it.ReferencedSOPInstanceUID for it in
                sr.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0].ReferencedSOPSequence]
        assert len(refs) == post["n_images"]
        report = open(doc["report"]).read()
        assert "CT ABD PORTAL VENOUS" in report and "T3" in report
        blobs = b"".join(open(doc[k], "rb").read() for k in ("findings", "report", "sr"))
        if deid:
            for needle in (truth["patient"]["name"], truth["patient"]["id"], truth["patient"]["birth_date"],
                           truth["study_uid"], post["series_uid"]):
                assert needle.encode() not in blobs
        else:
            assert post["series_uid"].encode() in blobs
        if shutil.which("dciodvfy"):
            r = subprocess.run(["dciodvfy", doc["sr"]], capture_output=True, text=True)
            assert [ln for ln in (r.stdout + r.stderr).splitlines() if "Error" in ln] == []
        _, restored = read_sr(doc["sr"])
        assert sorted(m.kind for m in restored) == ["caliper", "landmark"]
