"""Round trip through the command line on the sample study: ``workstation export`` writes the SEG
from the mask the app saved (or grows the lesion again from its recorded seed), the exported set
reads back (SR measurements, SEG mask), and ``workstation assess`` on the exported findings.json
gives the same answer as on the original."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pydicom
import pytest

from workstation.cli import main
from workstation.dicom import load_series
from workstation.export import seg as G
from workstation.export.sr import read_sr
from workstation.measure.segment import grow_lesion
from workstation.resources import SAMPLE_DICOM
from workstation.session import SessionStore

TRUTH = SAMPLE_DICOM / "truth.json"


@pytest.fixture(scope="module")
def sample():
    truth = json.loads(TRUTH.read_text())
    post = truth["series"]["ct_post"]
    series = f"{SAMPLE_DICOM / 'study'}#{post['series_uid']}"
    vol = load_series(series)
    seed = [float(v) for v in np.add(truth["mass"]["seed_mm"], truth["motion_mm"])]
    return truth, series, vol, seed


def _vignette(vol, seed, lesion_id="mass01"):
    res = grow_lesion(vol, seed)
    rec = res.to_measurement(vol.series_uid, "RP mass")
    rec.id = lesion_id
    rec.figures["target"] = 1.0
    return {"schema": "rp-findings/1", "age_years": 57, "sex": "female",
            "greatest_dimension_mm": round(res.greatest_dimension_mm, 1), "enhancement_delta_hu": 42.0,
            "growth_pattern": "extravascular",
            "findings": {"necrosis": True, "macroscopic_fat": False, "calcification": False,
                         "lymph_node_metastases": False, "distant_metastases": False},
            "x_measurements": [rec.to_dict(),
                               {"kind": "caliper", "id": "cal01", "label": "AP", "series_uid": vol.series_uid,
                                "p1": [-40.0, -10.0, 0.0], "p2": [60.0, 30.0, 0.0]}]}, res


def _export(capsys, fj, series, out, *extra):
    assert main(["export", str(fj), "--series", series, "--out", str(out), "--json", *extra]) == 0
    return json.loads(capsys.readouterr().out)


def _assess(capsys, path):
    assert main(["assess", str(path), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_cli_export_writes_the_saved_mask_and_the_set_reads_back(sample, tmp_path, capsys, monkeypatch):
    truth, series, vol, seed = sample
    monkeypatch.setenv("WORKSTATION_STATE_DIR", str(tmp_path / "state"))
    doc, res = _vignette(vol, seed)
    corrected = res.mask.copy()
    k = int(np.flatnonzero(corrected.any(axis=(1, 2)))[-1])
    corrected[k] = False                                   # the reader erased the last slice in the app
    SessionStore.for_study(truth["study_uid"]).save(doc, [], masks={"mass01": corrected})
    fj = tmp_path / "vignette.json"
    fj.write_text(json.dumps(doc))
    out = _export(capsys, fj, series, tmp_path / "out")
    assert out["seg"] and out["seg"].endswith(G.SEG_FILE)
    back = G.read_seg_masks(out["seg"], vol)
    assert list(back) == ["lesion mass01"]
    assert back["lesion mass01"].sum() == corrected.sum() and np.array_equal(back["lesion mass01"], corrected)
    # the SR references that SEG and its segment; read back, the lesion keeps id, label, target
    sr = pydicom.dcmread(out["sr"])
    seg = pydicom.dcmread(out["seg"])
    ev = {it.ReferencedSOPInstanceUID for s in sr.CurrentRequestedProcedureEvidenceSequence
          for se in s.ReferencedSeriesSequence for it in se.ReferencedSOPSequence}
    assert seg.SOPInstanceUID in ev
    findings, ms = read_sr(out["sr"], vol)
    les = next(m for m in ms if m.kind == "lesion")
    assert les.id == "mass01" and les.label == "RP mass" and G.is_target(les)
    np.testing.assert_allclose(les.endpoints, res.endpoints, atol=1e-6)
    assert {m.kind for m in ms} == {"lesion", "caliper"}
    # assess on the exported findings.json gives the same answer as on the original
    assert _assess(capsys, out["findings"]) == _assess(capsys, fj)
    assert findings == json.loads(Path(out["findings"]).read_text())
    if shutil.which("dciodvfy"):
        for f in (out["sr"], out["seg"]):
            r = subprocess.run(["dciodvfy", f], capture_output=True, text=True)
            assert [ln for ln in (r.stdout + r.stderr).splitlines() if "Error" in ln] == [], f


def test_cli_export_grows_the_lesion_again_without_a_saved_mask(sample, tmp_path, capsys, monkeypatch):
    _, series, vol, seed = sample
    monkeypatch.setenv("WORKSTATION_STATE_DIR", str(tmp_path / "empty-state"))
    doc, res = _vignette(vol, seed)
    fj = tmp_path / "v.json"
    fj.write_text(json.dumps(doc))
    plain = _export(capsys, fj, series, tmp_path / "plain")
    assert np.array_equal(G.read_seg_masks(plain["seg"], vol)["lesion mass01"], res.mask)
    anon = _export(capsys, fj, series, tmp_path / "anon", "--deidentify")
    seg = pydicom.dcmread(anon["seg"])
    assert seg.PatientIdentityRemoved == "YES" and seg.StudyInstanceUID != vol.meta["study_uid"]
    blob = Path(anon["seg"]).read_bytes()
    assert vol.meta["study_uid"].encode() not in blob and vol.meta["patient_id"].encode() not in blob
    sr = pydicom.dcmread(anon["sr"])
    assert sr.StudyInstanceUID == seg.StudyInstanceUID
    # placed by position, the de-identified SEG still lies on the original series
    assert np.array_equal(G.read_seg_masks(anon["seg"], vol)["lesion mass01"], res.mask)
    _, ms = read_sr(anon["sr"])
    assert {m.kind for m in ms} == {"lesion", "caliper"}
