"""export_study and the export CLI: round trip, report content, de-identification, atomicity."""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pydicom
import pytest

from workstation import atomic
from workstation.cli import main
from workstation.errors import WorkstationError
from workstation.export import assess_dict, export_study, read_export, study_key
from workstation.export.report import build_report
from workstation.export.sr import read_sr
from workstation.measure.model import Caliper, Landmark
from workstation.resources import SAMPLE_DICOM

from .conftest import PATIENT_ID, PATIENT_NAME, write_series

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
    # no grown lesion among the measurements: no SEG; the set is committed by its manifest
    assert {p.name for p in paths.values()} == {"findings.json", "report.txt", "report-sr.dcm", "manifest.json"}
    assert sorted(f.name for f in (tmp_path / "out").iterdir()) == sorted(p.name for p in paths.values())
    manifest = read_export(tmp_path / "out")
    assert {e["name"] for e in manifest["files"]} == {"findings.json", "report.txt", "report-sr.dcm"}
    assert manifest["study_key"] == study_key(vol.meta["study_uid"]) and vol.meta["study_uid"] not in json.dumps(manifest)
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
    # tumour -70..-40 spans the renal veins at -60: segments 1 and 2, named as the surgeon knows them
    assert "segments 1 and 2" in flat and "infrarenal IVC" in flat and "suprarenal-infrahepatic IVC" in flat
    assert "T3" in flat and "IB or IIIB" in flat and "missing: grade" in flat
    assert "(GX) with G1, which gives stage group IB" in flat
    assert "tumour thrombus" in flat
    # not resected: no post-resection surveillance (issue 10); the sarcoma team comes first
    assert "Surveillance after resection" not in flat and "sarcoma multidisciplinary team" in flat
    resected = export_study({**FINDINGS, "schema": "rp-findings/1.1", "resected": True}, vol,
                            tmp_path / "resected", _ms(), LESION, ENH)["report"].read_text()
    assert "3- to 6-month intervals for the first 2-3 years" in " ".join(resected.split())
    assert PATIENT_NAME.split("^")[0] not in text and PATIENT_ID not in text


def test_report_lists_the_ranked_differential_in_words_without_likelihood_ratios():
    a = {"t_category": "T2", "stage_group": "IIIA", "stage_missing": [], "stage_possible": ["IIIA"],
         "ivc_segments": None, "enhancement_call": None, "thrombus_call": None,
         "staging": {"applies": True, "basis": "histology", "note": "", "t": "cT2", "n": "cN0", "m": "cM0",
                     "label": "cT2 cN0 cM0", "stage_group": "IIIA", "stage_possible": ["IIIA"]},
         "recommendations": [],
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
    assert "Most likely: Leiomyosarcoma (61 %); possible: Liposarcoma (20 %), Lymphoma (10 %)" in flat
    assert "Hematoma (3 %)" in flat and "Teratoma" not in flat      # top 5 only
    assert "LR" not in text and "necrosis present" not in flat       # the panel keeps the why
    assert "Stage group IIIA." in flat and "cT2 cN0 cM0" in flat and "GX" not in flat


def test_cli_invalid_findings_exit_2_naming_the_field(ct_series, tmp_path, capsys):
    _, paths = ct_series
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"schema": "rp-findings/1", "findings": {"necrosis": "yes"}}))
    rc = main(["export", str(bad), "--series", str(paths[0].parent), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2 and "findings.necrosis" in err and "Traceback" not in err
    assert not (tmp_path / "o" / "report-sr.dcm").exists()
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


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
        report = Path(doc["report"]).read_text()
        assert "T3" in report
        # the free-text series description is not copied into a de-identified report; its phase is
        assert ("CT ABD PORTAL VENOUS" in report) is (not deid) and "portal venous phase" in report
        blobs = b"".join(Path(doc[k]).read_bytes() for k in ("findings", "report", "sr"))
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


# ---------------------------------------------------------------------------------- the set


def _lesion_and_mask(vol):
    """A grown-lesion record on ``vol`` and its mask (a box over three slices)."""
    from workstation.measure.model import Lesion3D

    mask = np.zeros(vol.shape, dtype=bool)
    mask[1:4, 40:70, 50:90] = True
    centre = vol.index_to_patient((2, 55, 70))
    rec = Lesion3D(series_uid=vol.series_uid, label="target", seed=tuple(float(v) for v in centre),
                   endpoints=(tuple(float(v) for v in vol.index_to_patient((1, 40, 50))),
                              tuple(float(v) for v in vol.index_to_patient((3, 69, 89)))),
                   figures={"greatest_dimension_mm": 40.0, "volume_ml": 12.0})
    return rec, {rec.id: mask}


def _names(folder):
    return sorted(f.name for f in folder.iterdir())


def test_same_study_export_is_replaced_as_a_set(ct_series, tmp_path):
    vol, _ = ct_series
    out = tmp_path / "out"
    rec, masks = _lesion_and_mask(vol)
    first = export_study(FINDINGS, vol, out, [*_ms(), rec], masks=masks)
    assert "seg" in first and _names(out) == sorted(["findings.json", "lesion-seg.dcm", "manifest.json",
                                                     "report-sr.dcm", "report.txt"])
    seg = pydicom.dcmread(first["seg"])
    assert seg.SOPClassUID == "1.2.840.10008.5.1.4.1.1.66.4"
    # the same study again, now without a grown lesion: the old SEG goes with the old set
    second = export_study({**FINDINGS, "greatest_dimension_mm": 160.0}, vol, out, _ms())
    assert "seg" not in second
    assert _names(out) == ["findings.json", "manifest.json", "report-sr.dcm", "report.txt"]
    assert json.loads(second["findings"].read_text())["greatest_dimension_mm"] == 160.0
    assert {e["name"] for e in read_export(out)["files"]} == {"findings.json", "report-sr.dcm", "report.txt"}


def test_failure_mid_export_leaves_previous_set_intact(ct_series, tmp_path, monkeypatch, fail_on_call):
    vol, _ = ct_series
    out = tmp_path / "out"
    first = export_study(FINDINGS, vol, out, _ms(), LESION, ENH)
    before = {p.name: p.read_bytes() for p in first.values()}
    real = fail_on_call(atomic, "_write_durable", 3, 28, "No space left on device")  # the disk fills up
    with pytest.raises(WorkstationError, match="cannot write") as err:
        export_study({**FINDINGS, "greatest_dimension_mm": 160.0}, vol, out, _ms(), LESION, ENH)
    assert "\n" not in str(err.value)
    assert {p.name: p.read_bytes() for p in first.values()} == before
    assert _names(out) == sorted(before)                       # no staging folder left
    read_export(out)
    # and invalid findings never touch the files at all
    monkeypatch.setattr(atomic, "_write_durable", real)
    with pytest.raises(Exception, match="greatest_dimension_mm"):
        export_study({**FINDINGS, "greatest_dimension_mm": "big"}, vol, out)
    assert {p.name: p.read_bytes() for p in first.values()} == before


def test_another_studys_export_is_refused_without_force(tmp_path, capsys):
    a = write_series(tmp_path / "study_a")
    b = write_series(tmp_path / "study_b")               # another StudyInstanceUID
    fj = tmp_path / "f.json"
    fj.write_text(json.dumps(FINDINGS))
    out = tmp_path / "out"
    assert main(["export", str(fj), "--series", str(a[0].parent), "--out", str(out)]) == 0
    capsys.readouterr()
    before = {f.name: f.read_bytes() for f in out.iterdir()}
    rc = main(["export", str(fj), "--series", str(b[0].parent), "--out", str(out)])
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert rc == 2 and len(lines) == 1 and "another study" in lines[0] and str(out) in lines[0]
    assert "Traceback" not in err and PATIENT_ID not in err
    assert {f.name: f.read_bytes() for f in out.iterdir()} == before
    # the same study again is no conflict; --force replaces the other study's set
    assert main(["export", str(fj), "--series", str(a[0].parent), "--out", str(out)]) == 0
    assert main(["export", str(fj), "--series", str(b[0].parent), "--out", str(out), "--force"]) == 0
    sr = pydicom.dcmread(out / "report-sr.dcm")
    assert sr.StudyInstanceUID == pydicom.dcmread(b[0]).StudyInstanceUID
    assert read_export(out)["study_key"] == study_key(sr.StudyInstanceUID)


def test_export_without_manifest_of_another_study_is_refused(ct_series, tmp_path):
    vol, paths = ct_series
    old = write_series(tmp_path / "other")
    out = tmp_path / "legacy"
    out.mkdir()
    # an export written before manifests existed: the SR tells its study
    legacy = pydicom.dcmread(old[0])
    legacy.save_as(out / "report-sr.dcm")
    (out / "report.txt").write_text("old report")
    with pytest.raises(WorkstationError, match="another study"):
        export_study(FINDINGS, vol, out, _ms())
    assert _names(out) == ["report-sr.dcm", "report.txt"]
    export_study(FINDINGS, vol, out, _ms(), force=True)
    assert pydicom.dcmread(out / "report-sr.dcm").StudyInstanceUID == vol.meta["study_uid"]


_EXPORT_LOOP = r"""
import json, sys
from workstation.dicom import load_series
from workstation.export import export_study
from workstation.measure.model import Caliper

series, out, fa, fb = sys.argv[1:5]
vol = load_series(series)
docs = [json.load(open(fa)), json.load(open(fb))]
i = 0
while True:
    export_study(docs[i % 2], vol, out, [Caliper(label="AP", p1=(-100, -120, -70.7), p2=(-40, -100, -70.7))])
    print("committed", docs[i % 2]["greatest_dimension_mm"], flush=True)
    i += 1
"""


def _set_state(out):
    """(greatest dimension of the committed set, names in the folder) after recovery."""
    manifest = read_export(out)                       # finishes or cleans an interrupted export
    names = _names(out)
    assert names == sorted([e["name"] for e in manifest["files"]] + ["manifest.json"])
    assert not [n for n in names if atomic.is_set_temp(n)]
    doc = json.loads((out / "findings.json").read_text())
    embedded, _ = read_sr(out / "report-sr.dcm")
    assert embedded["greatest_dimension_mm"] == doc["greatest_dimension_mm"]   # files of one set
    assert f"{doc['greatest_dimension_mm'] / 10:.1f} cm" in (out / "report.txt").read_text()
    return doc["greatest_dimension_mm"]


def test_kill_9_during_export_leaves_the_old_or_the_new_set(ct_series, tmp_path):
    """A process exporting in a loop is killed the moment a staging or commit folder appears
    (bounded number of tries); after the next reader's recovery the folder holds one complete
    set, old or new, and no temporary file."""
    vol, paths = ct_series
    out = tmp_path / "out"
    fa, fb = tmp_path / "a.json", tmp_path / "b.json"
    fa.write_text(json.dumps(FINDINGS))
    fb.write_text(json.dumps({**FINDINGS, "greatest_dimension_mm": 160.0}))
    export_study(FINDINGS, vol, out, _ms())
    landed = {"stage": 0, "commit": 0}
    for attempt in range(24):
        want = "commit" if attempt % 2 else "stage"
        errlog = tmp_path / f"child{attempt}.err"
        with open(errlog, "wb") as err:
            proc = subprocess.Popen([sys.executable, "-c", _EXPORT_LOOP, str(paths[0].parent), str(out), str(fa),
                                     str(fb)], stdout=subprocess.PIPE, stderr=err)
        seen = None
        deadline = time.monotonic() + 60
        try:
            while seen is None and time.monotonic() < deadline and proc.poll() is None:
                for name in os.listdir(out):
                    if name.startswith(atomic.SET_PREFIX) and (want == "stage" or name.endswith(".commit")):
                        seen = name
                        break
        finally:
            proc.kill()
            proc.wait()
            proc.stdout.close()
        assert proc.returncode == -signal.SIGKILL, errlog.read_text(errors="replace")[-1500:]
        interrupted = [n for n in os.listdir(out) if n.startswith(atomic.SET_PREFIX)]
        if interrupted:
            landed["commit" if any(n.endswith(".commit") for n in interrupted) else "stage"] += 1
        before = _set_state(out)
        assert before in (121.0, 160.0)
        if landed["stage"] >= 1 and landed["commit"] >= 1:
            break
    print("kill -9 attempts:", attempt + 1, landed)
    assert landed["stage"] >= 1 and landed["commit"] >= 1, landed


def test_hostile_names_in_the_target_folder(ct_series, tmp_path):
    """A FIFO under the SR's name is never read (no hang): the folder's owner cannot be told, so
    the export is refused without force; a folder under a file's name is refused by name."""
    vol, _ = ct_series
    out = tmp_path / "fifo"
    out.mkdir()
    os.mkfifo(out / "report-sr.dcm")
    with pytest.raises(WorkstationError, match="another study"):
        export_study(FINDINGS, vol, out, _ms())
    export_study(FINDINGS, vol, out, _ms(), force=True)
    read_export(out)
    blocked = tmp_path / "blocked"
    (blocked / "report.txt").mkdir(parents=True)
    with pytest.raises(WorkstationError, match="report.txt") as err:
        export_study(FINDINGS, vol, blocked, _ms(), force=True)
    assert "\n" not in str(err.value)
    assert _names(blocked) == ["report.txt"]                   # nothing staged is left behind
