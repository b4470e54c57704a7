"""``workstation reads list|export``: the saved reads, headless, without patient data."""
from __future__ import annotations

import json
import os

import pytest

from workstation.cli import main
from workstation.measure.model import Caliper
from workstation.resources import SAMPLE_DICOM
from workstation.session import SessionStore, study_key

STUDY = SAMPLE_DICOM / "study"
TRUTH = SAMPLE_DICOM / "truth.json"


@pytest.fixture
def saved_read(tmp_path, monkeypatch):
    if not TRUTH.exists():
        pytest.skip("sample study not generated")
    monkeypatch.setenv("WORKSTATION_STATE_DIR", str(tmp_path / "state"))
    truth = json.loads(TRUTH.read_text())
    store = SessionStore(study_key([truth["study_uid"]]))
    store.set_source(STUDY, ["CT", "CT", "MR"], 3)
    pre = truth["series"]["ct_pre"]["series_uid"]
    cal = Caliper(series_uid=pre, label="long axis", p1=tuple(truth["caliper"]["p1_mm"]),
                  p2=tuple(truth["caliper"]["p2_mm"]))
    findings = {"schema": "rp-findings/1", "greatest_dimension_mm": 111.0, "grade": 2,
                "findings": {"necrosis": True}}
    store.save(findings, [cal], masks={})
    return store, truth, findings, cal


def test_reads_list_json_and_text_carry_no_patient_data(saved_read, capsys):
    store, truth, _, _ = saved_read
    assert main(["reads", "list", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    (r,) = doc["reads"]
    assert r["key"] == store.key and r["current"] and r["measurements"] == 1 and r["findings"] >= 2
    assert r["label"].startswith("CT/MR · 3 series · edited ") and r["open_by"] is None
    # a window holding the study is named by process and host
    assert store.acquire().acquired
    assert main(["reads", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["reads"][0]["open_by"]["pid"] == os.getpid()
    store.release()
    assert main(["reads", "list"]) == 0
    text = capsys.readouterr().out
    assert store.key in text and "1 measurement" in text
    for phi in (truth["patient"]["name"], truth["patient"]["id"], truth["study_uid"], str(STUDY)):
        assert phi not in json.dumps(doc) and phi not in text
    # archived reads are listed on request
    rid = store.archive_current()
    assert main(["reads", "list", "--archived", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [(x["read_id"], x["measurements"]) for x in doc["reads"]] == [(rid, 1)]


def test_reads_export_writes_the_saved_read(saved_read, tmp_path, capsys):
    store, truth, findings, cal = saved_read
    out = tmp_path / "out"
    pre = truth["series"]["ct_pre"]["series_uid"]
    assert main(["reads", "export", store.key[:6], "--series", pre, "--out", str(out), "--json"]) == 0
    paths = json.loads(capsys.readouterr().out)
    doc = json.loads((out / "findings.json").read_text())
    assert doc["grade"] == 2 and doc["greatest_dimension_mm"] == 111.0 and doc["findings"]["necrosis"] is True
    assert (out / "report-sr.dcm").is_file() and paths["sr"].endswith("report-sr.dcm")
    import pydicom

    sr = pydicom.dcmread(out / "report-sr.dcm")
    assert sr.StudyInstanceUID == truth["study_uid"]


def test_reads_export_errors_are_one_line(saved_read, tmp_path, capsys):
    store, _, _, _ = saved_read
    assert main(["reads", "export", "zzzzzz", "--series", "1.2", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("workstation: KEY:") and "\n" not in err
    assert main(["reads", "export", store.key[:6], "--read", "20990101-000000-abcd", "--series", "1.2",
                 "--out", str(tmp_path / "o")]) == 2
    assert "no saved read" in capsys.readouterr().err
    assert main(["reads"]) == 2
    assert "\n" not in capsys.readouterr().err.strip()
