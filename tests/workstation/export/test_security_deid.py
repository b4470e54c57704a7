"""Security review of de-identified exports (issue 11): the reader's own free text.

Scrubbing the strings the source headers hold is not enough: a reader can type a name that no
header holds into a measurement label or into the prose of an ``x_sources`` entry. A de-identified
export therefore keeps none of the reader's prose (note, source text, labels), only what a program
wrote (a known method, measurement ids, numbers); every byte of every file is checked.
"""
from __future__ import annotations

import json

from workstation.export import export_study
from workstation.export.deid import Deidentifier, without_label
from workstation.measure.model import Caliper
from workstation.reasoning.findings import Findings

TYPED = ("Wexcombe", "Ilsabet", "QQTYPEDNOTE", "QQSOURCE", "QQLABEL", "QQMETHOD")

FINDINGS = {
    "schema": "rp-findings/1.1", "age_years": 61, "sex": "female", "greatest_dimension_mm": 42.0,
    "findings": {"necrosis": True},
    "x_note": "QQTYPEDNOTE Mrs Ilsabet Wexcombe phoned",
    "x_sources": {
        "greatest_dimension_mm": {"text": "caliper 'QQLABEL Wexcombe' on CT", "method": "caliper",
                                  "measurement_id": "abc123def456", "slice": 3},
        "age_years": "QQSOURCE told by Ilsabet Wexcombe",
        "sex": {"method": "QQMETHOD Wexcombe"},
    },
}


def _typed_findings(volume) -> dict:
    cal = Caliper(series_uid=volume.series_uid, label="QQLABEL Ilsabet Wexcombe", id="abc123def456",
                  p1=(-120.0, -150.0, -65.7), p2=(-100.0, -150.0, -65.7))
    return dict(FINDINGS, x_measurements=[cal.to_dict()]), cal


def test_scrub_findings_keeps_only_program_written_sources():
    out = Deidentifier(salt="s").scrub_findings(FINDINGS)
    assert "x_note" not in out
    assert out["x_sources"] == {"greatest_dimension_mm": {"method": "caliper",
                                                          "measurement_id": "abc123def456", "slice": 3}}
    Findings.from_dict(out)  # still a valid document
    assert not any(s in json.dumps(out) for s in TYPED)


def test_without_label_on_records_and_measurements():
    cal = Caliper(label="QQLABEL Wexcombe", p1=(0.0, 0.0, 0.0), p2=(1.0, 0.0, 0.0))
    assert without_label(cal).label == "" and without_label(cal).id == cal.id
    assert "label" not in without_label(cal.to_dict())
    assert without_label(None) is None and without_label(3) == 3


def test_deidentified_export_has_no_reader_typed_text_in_any_byte(ct_series, tmp_path):
    volume, _ = ct_series
    doc, cal = _typed_findings(volume)
    paths = export_study(doc, volume, tmp_path / "out", measurements=[cal], deidentify=True, salt="x")
    files = sorted((tmp_path / "out").iterdir())
    assert {p.name for p in files} >= {"findings.json", "report.txt", "report-sr.dcm", "manifest.json"}
    for p in files:
        data = p.read_bytes()
        for s in TYPED:
            assert s.encode() not in data, (p.name, s)
    written = json.loads(paths["findings"].read_text())
    Findings.from_dict(written)
    assert written["x_measurements"][0]["id"] == "abc123def456"  # the measurement itself is kept


def test_identified_export_keeps_the_readers_text(ct_series, tmp_path):
    volume, _ = ct_series
    doc, cal = _typed_findings(volume)
    paths = export_study(doc, volume, tmp_path / "out", measurements=[cal], deidentify=False)
    assert b"QQLABEL" in paths["sr"].read_bytes()  # only de-identification drops it


def test_ages_over_89_are_grouped_in_the_findings_and_report_as_in_patient_age(ct_series, tmp_path):
    volume, _ = ct_series
    doc = dict(FINDINGS, age_years=97)
    assert Deidentifier(salt="s").scrub_findings(doc)["age_years"] == 90
    assert Deidentifier(salt="s").scrub_findings(dict(FINDINGS, age_years=89))["age_years"] == 89
    paths = export_study(doc, volume, tmp_path / "out", deidentify=True, salt="x")
    assert json.loads(paths["findings"].read_text())["age_years"] == 90
    assert "97" not in paths["report"].read_text().split("years")[0][-6:]
    assert "90 years" in paths["report"].read_text()
