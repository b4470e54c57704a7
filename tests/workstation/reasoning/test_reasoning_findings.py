"""The findings document validates on read, names the field, and round-trips exactly."""
import json
import re

import pytest

from tests.conftest import ROOT
from workstation.errors import FindingsError, WorkstationError
from workstation.reasoning.findings import CHECKLIST_IDS, DIFFERENTIAL_IDS, Findings, load_findings

SPEC = str(ROOT / "docs" / "findings.md")  # the project's own copy of the interface, inside the repository


def doc(**kw):
    d = {"schema": "rp-findings/1"}
    d.update(kw)
    return d


FULL = doc(
    age_years=58, sex="female", greatest_dimension_mm=123.4, grade=2, enhancement_delta_hu=31.5,
    enhancement_percent=44.0, thrombus_delta_hu=25, enhancement_pattern="heterogeneous",
    growth_pattern="mixed",
    ivc={"renal_vein_z_mm": -140.0, "hepatic_vein_z_mm": -40.0, "tumor_z_mm": [-150.0, -90.5]},
    findings={"necrosis": True, "macroscopic_fat": False, "arises_from_vessel_wall": True},
    x_sources={"greatest_dimension_mm": {"method": "caliper", "measurement_id": "ab12"},
               "findings.necrosis": "reader"},
    x_note="reviewed on venous phase",
)


def test_spec_ids_match_the_checklist_resource():
    """Every id the spec lists is in checklist.json and nothing else (parsed from the spec text)."""
    import re
    with open(SPEC, encoding="utf-8") as fh:
        text = fh.read()
    part = text.split("## Checklist ids")[1].split("## Differential ids")[0]
    spec_ids = [i for i in re.findall(r"`([a-z0-9_]+)`", part) if i != "findings"]
    # 62 ids of version 1 and 5 added by 1.1
    assert sorted(spec_ids) == sorted(CHECKLIST_IDS) and len(set(CHECKLIST_IDS)) == len(CHECKLIST_IDS) == 67
    dpart = text.split("## Differential ids")[1].split("## Rules")[0]
    assert re.findall(r"`([a-z0-9_]+)`", dpart) == list(DIFFERENTIAL_IDS)


def test_round_trip_exact():
    assert Findings.from_dict(FULL).to_dict() == FULL
    assert list(Findings.from_dict(FULL).to_dict()) == list(FULL)
    assert json.dumps(Findings.from_dict(FULL).to_dict()) == json.dumps(FULL)


def test_absent_is_not_serialised_and_null_only_when_given():
    assert Findings.from_dict(doc()).to_dict() == {"schema": "rp-findings/1"}
    d = doc(grade=None, findings={"necrosis": None, "calcification": True})
    f = Findings.from_dict(d)
    assert f.grade is None and f.finding("necrosis") is None and f.to_dict() == d


def test_values_are_read():
    f = Findings.from_dict(FULL)
    assert f.finding("necrosis") is True and f.finding("calcification") is None
    assert f.ivc.tumor_z_mm == (-150.0, -90.5) and f.grade == 2


@pytest.mark.parametrize(
    "d, field",
    [
        ({"schema": "rp-findings/2"}, "schema"),
        ({"schema": "rp-findings/1.2"}, "schema"),
        (doc(side="up"), "side"),
        (doc(histology="sarcoma"), "histology"),
        (doc(resected="yes"), "resected"),
        (doc(resected=1), "resected"),
        (doc(ivc={"hepatic_vein_z_mm": 50, "right_atrium_z_mm": 40}), "ivc.right_atrium_z_mm"),
        (doc(ivc={"right_atrium_z_mm": "80"}), "ivc.right_atrium_z_mm"),
        ({}, "schema"),
        (doc(age=50), "age:"),
        (doc(findings={"fat": True}), "findings.fat"),
        (doc(findings={"macroscopic_fat": "yes"}), "findings.macroscopic_fat"),
        (doc(findings={"macroscopic_fat": 1}), "findings.macroscopic_fat"),
        (doc(findings={"macroscopic_fat": 0}), "findings.macroscopic_fat"),
        (doc(findings=["necrosis"]), "findings:"),
        (doc(age_years=True), "age_years"),
        (doc(age_years="58"), "age_years"),
        (doc(age_years=-1), "age_years"),
        (doc(age_years=120.5), "age_years"),
        (doc(age_years=float("nan")), "age_years"),
        (doc(greatest_dimension_mm=0), "greatest_dimension_mm"),
        (doc(greatest_dimension_mm=-3), "greatest_dimension_mm"),
        (doc(greatest_dimension_mm=False), "greatest_dimension_mm"),
        (doc(grade=4), "grade"),
        (doc(grade=0), "grade"),
        (doc(grade=2.0), "grade"),
        (doc(grade=True), "grade"),
        (doc(grade="2"), "grade"),
        (doc(enhancement_delta_hu=True), "enhancement_delta_hu"),
        (doc(enhancement_delta_hu=float("inf")), "enhancement_delta_hu"),
        (doc(enhancement_percent="40%"), "enhancement_percent"),
        (doc(thrombus_delta_hu=[5]), "thrombus_delta_hu"),
        (doc(sex="F"), "sex"),
        (doc(enhancement_pattern="avid"), "enhancement_pattern"),
        (doc(growth_pattern="intraluminal"), "growth_pattern"),
        (doc(ivc=[1, 2]), "ivc:"),
        (doc(ivc={"renal_z": 1}), "ivc.renal_z"),
        (doc(ivc={"renal_vein_z_mm": "0"}), "ivc.renal_vein_z_mm"),
        (doc(ivc={"tumor_z_mm": [5]}), "ivc.tumor_z_mm"),
        (doc(ivc={"tumor_z_mm": [5, 1]}), "ivc.tumor_z_mm"),
        (doc(ivc={"tumor_z_mm": [1, True]}), "ivc.tumor_z_mm[1]"),
        (doc(ivc={"tumor_z_mm": 3}), "ivc.tumor_z_mm"),
        (doc(ivc={"renal_vein_z_mm": 10, "hepatic_vein_z_mm": 0}), "ivc.hepatic_vein_z_mm"),
        (doc(x_sources={"size": "caliper"}), "x_sources.size"),
        (doc(x_sources={"grade": ["a"]}), "x_sources.grade"),
        (doc(x_measurements=[{"kind": "ruler"}]), "x_measurements[0]"),
        (doc(x_note=5), "x_note"),
        (doc(x_other=1), "x_other"),
        ([1, 2], "findings document"),
    ],
)
def test_each_error_names_the_field_in_one_line(d, field):
    with pytest.raises(FindingsError) as ei:
        Findings.from_dict(d)
    msg = str(ei.value)
    assert field in msg and "\n" not in msg
    assert isinstance(ei.value, WorkstationError) and ei.value.exit_status == 2


def test_bool_message_names_the_field_and_the_kind_not_the_value():
    with pytest.raises(FindingsError, match=r'^findings\.macroscopic_fat: expected true or false, got a string$'):
        Findings.from_dict(doc(findings={"macroscopic_fat": "yes"}))


# a value that stands for patient data put where a field's value (or name) should be
_PHI = "DOE^JANE 1961-02-03 MRN 12345678"


@pytest.mark.parametrize(
    "d, expected",
    [
        (doc(findings={"macroscopic_fat": _PHI}), r"^findings\.macroscopic_fat: expected true or false, got a string$"),
        (doc(sex=_PHI), r'^sex: not an allowed value \(expected one of "female", "male", "other"\)$'),
        (doc(grade=_PHI), r"^grade: not an allowed value \(expected one of 1, 2, 3, an integer\)$"),
        (doc(age_years=_PHI), r"^age_years: expected a number, got a string$"),
        (doc(age_years=123456789), r"^age_years: above the range \(expected at most 120 years\)$"),
        (doc(age_years=-7654321), r"^age_years: below the range \(expected at least 0 years\)$"),
        (doc(greatest_dimension_mm=-4242.5), r"^greatest_dimension_mm: out of range \(expected more than 0 mm\)$"),
        (doc(ivc={"tumor_z_mm": [_PHI, 1]}), r"^ivc\.tumor_z_mm\[0\]: expected a finite number, got a string$"),
        (doc(ivc={"tumor_z_mm": [98765, 12345]}), r"^ivc\.tumor_z_mm: the first number is above the second"),
        (doc(ivc={"renal_vein_z_mm": 98765, "hepatic_vein_z_mm": 12345}),
         r"^ivc\.hepatic_vein_z_mm: expected cranial to \(greater than\) ivc\.renal_vein_z_mm"),
        (doc(ivc={_PHI: 1}), r"^ivc\.\(a key that is not a field name\): unknown field"),
        (doc(**{_PHI: True}), r"^\(a key that is not a field name\): unknown field"),
        (doc(findings={_PHI: True}), r"^findings\.\(a key that is not a field name\): unknown checklist id$"),
        (doc(x_sources={_PHI: "caliper"}), r"^x_sources\.\(a key that is not a field path\): not a field"),
        (doc(x_sources={"grade": [_PHI]}), r"^x_sources\.grade: expected a string or an object .* got a list of 1$"),
        (doc(x_note=[_PHI]), r"^x_note: expected a string, got a list of 1$"),
        (doc(x_measurements=[{"kind": "caliper", "series_uid": "1.2", "p1": _PHI, "p2": [0, 0, 0]}]),
         r"^x_measurements\[0\]\.(caliper\.)?p1: expected three coordinates \(LPS mm\)$"),
        (doc(x_measurements=[{"kind": _PHI}]), r"^x_measurements\[0\]\.(measurement\.)?kind: "
         r"expected one of [a-z]+(, [a-z]+)+$"),
        ({"schema": _PHI}, r'^schema: not a known schema \(expected "rp-findings/1" or "rp-findings/1\.1"\)$'),
        (_PHI, r"^findings document: expected a JSON object, got a string$"),
    ],
)
def test_errors_name_the_field_and_what_was_expected_never_the_value(d, expected):
    with pytest.raises(FindingsError) as ei:
        Findings.from_dict(d)
    msg = str(ei.value)
    assert re.search(expected, msg), msg
    for part in ("DOE", "JANE", "12345678", "1961", "98765", "4242", "7654321", "123456789"):
        assert part not in msg


def test_strict_json_names_the_path_of_a_duplicate_or_non_finite_value_not_its_content(tmp_path):
    dup = tmp_path / "dup.json"
    dup.write_text('{"schema": "rp-findings/1", "findings": {"necrosis": true, "necrosis": "DOE^JANE"}}')
    with pytest.raises(FindingsError, match=r"dup\.json: findings\.necrosis appears twice") as ei:
        load_findings(dup)
    assert "DOE" not in str(ei.value)
    key = tmp_path / "key.json"
    key.write_text('{"schema": "rp-findings/1", "x_sources": {"DOE^JANE 12345678": 1, "DOE^JANE 12345678": 2}}')
    with pytest.raises(FindingsError, match=r"x_sources\.\(a key that is not a field name\) appears twice") as ei:
        load_findings(key)
    assert "DOE" not in str(ei.value) and "12345678" not in str(ei.value)
    nan = tmp_path / "nan.json"
    nan.write_text('{"schema": "rp-findings/1", "age_years": NaN}')
    with pytest.raises(FindingsError, match=r"nan\.json: age_years is not a finite number"):
        load_findings(nan)


def test_boundaries_accepted():
    for d in (doc(age_years=0), doc(age_years=120), doc(greatest_dimension_mm=0.01),
              doc(enhancement_delta_hu=-15), doc(ivc={"tumor_z_mm": [3, 3]}), doc(ivc={})):
        assert Findings.from_dict(d).to_dict() == d


def test_measurements_extension_round_trips():
    from workstation.measure.model import Caliper
    m = Caliper(series_uid="1.2.3", label="long axis", p1=(0.0, 0.0, 0.0), p2=(0.0, 30.0, 40.0)).to_dict()
    d = json.loads(json.dumps(doc(greatest_dimension_mm=50, x_measurements=[m])))
    assert Findings.from_dict(d).to_dict() == d


def test_with_changes_revalidates():
    f = Findings.from_dict(doc(findings={"necrosis": True}))
    g = f.with_changes(age_years=40, findings={"necrosis": None, "calcification": True})
    assert g.age_years == 40 and g.finding("necrosis") is None and g.finding("calcification") is True
    assert f.age_years is None  # the original is unchanged
    with pytest.raises(FindingsError, match="age_years"):
        f.with_changes(age_years=200)


def test_load_findings_errors_name_file_and_position(tmp_path):
    with pytest.raises(FindingsError, match="no such file"):
        load_findings(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema": "rp-findings/1",\n "age_years": 5,,}')
    with pytest.raises(FindingsError, match=r"bad\.json: invalid JSON at line 2, column"):
        load_findings(bad)
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps(doc(sex="unknown")))
    with pytest.raises(FindingsError, match=r"wrong\.json: sex"):
        load_findings(wrong)
    good = tmp_path / "good.json"
    good.write_text(json.dumps(FULL))
    assert load_findings(good).to_dict() == FULL
