"""The ranking engine: valid probabilities, unknown weighs nothing, deterministic, explained; assess
and the ``workstation assess`` command."""
import json
import math

import pytest

from workstation.cli import main
from workstation.reasoning.findings import CHECKLIST_IDS, DIFFERENTIAL_IDS
from workstation.reasoning.knowledge import OTHER_ID, load_knowledge
from workstation.reasoning.ranking import ModelParams, assess

S = {"schema": "rp-findings/1"}
LMS = {**S, "age_years": 58, "sex": "female", "greatest_dimension_mm": 123, "grade": 3,
       "enhancement_delta_hu": 42, "thrombus_delta_hu": 31, "enhancement_pattern": "heterogeneous",
       "growth_pattern": "mixed",
       "ivc": {"renal_vein_z_mm": -160.0, "hepatic_vein_z_mm": -70.0, "tumor_z_mm": [-150.0, -95.0]},
       "findings": {"necrosis": True, "arises_from_vessel_wall": True, "intravascular_component": True,
                    "macroscopic_fat": False, "lymph_node_metastases": False, "distant_metastases": False}}


def probs(a):
    return {d.id: d.probability for d in a.differentials}


def test_empty_document_gives_the_priors_in_order():
    """Issue 10 changed this: "other" has its own prior mass and the result is smoothed toward
    uniform, so the empty document gives (1 - smoothing) * prior + smoothing / 14."""
    a = assess(S)
    kb = load_knowledge()
    prm = ModelParams.from_kb(kb)
    prior = {i: (1 - prm.other_prior) * p for i, p in zip(kb.ids, kb.priors, strict=False)}
    prior[OTHER_ID] = prm.other_prior
    ids = (*kb.ids, OTHER_ID)
    assert [d.id for d in a.differentials] == sorted(ids, key=lambda i: (-prior[i], ids.index(i)))
    for d in a.differentials:
        expected = (1 - prm.smoothing) * prior[d.id] + prm.smoothing / len(ids)
        assert d.probability == pytest.approx(expected, abs=1e-12)
        assert d.raised_by == () and d.lowered_by == ()


@pytest.mark.parametrize("doc", [S, LMS, {**S, "findings": {i: True for i in CHECKLIST_IDS}},
                                 {**S, "findings": {i: False for i in CHECKLIST_IDS}}])
def test_probabilities_sum_to_one_and_cover_every_differential(doc):
    a = assess(doc)
    assert sorted(d.id for d in a.differentials) == sorted((*DIFFERENTIAL_IDS, OTHER_ID))
    assert abs(math.fsum(d.probability for d in a.differentials) - 1) < 1e-9
    ps = [d.probability for d in a.differentials]
    # issue 10: never 0 % or 100 %, whatever the findings
    assert ps == sorted(ps, reverse=True) and all(0.001 < p < 0.98 for p in ps)


def test_unknown_weighs_nothing():
    base = assess(LMS).to_dict()
    with_null = json.loads(json.dumps(LMS))
    with_null["findings"]["calcification"] = None
    with_null["enhancement_percent"] = None
    assert assess(with_null).to_dict() == base
    # removing a known finding changes the result; marking it unknown again restores it
    less = json.loads(json.dumps(LMS))
    del less["findings"]["necrosis"]
    assert probs(assess(less)) != probs(assess(LMS))


def test_sex_other_is_not_scored():
    assert probs(assess({**S, "sex": "other"})) == probs(assess(S))


def test_deterministic_and_tie_break_by_spec_order():
    a1, a2 = assess(LMS).to_dict(), assess(json.loads(json.dumps(LMS))).to_dict()
    assert a1 == a2
    kb = load_knowledge()
    p_nf = next(d.probability for d in assess(S).differentials if d.id == "neurofibroma")
    eq = [d for d in assess(S).differentials if d.probability == pytest.approx(p_nf)]
    assert [d.id for d in eq] == [i for i in kb.ids if i in {"neurofibroma", "ganglioneuroma"}]


def test_reasons_are_sorted_signed_and_worded():
    a = assess(LMS)
    top = a.differentials[0]
    assert top.id == "leiomyosarcoma"
    for d in a.differentials:
        for group, sign in ((d.raised_by, 1), (d.lowered_by, -1)):
            mags = [abs(r.log_lr) for r in group]
            assert mags == sorted(mags, reverse=True)
            assert all(r.log_lr * sign > 0 for r in group)
    texts = [r.text for r in top.raised_by]
    assert any(t.startswith("arises from a vessel wall — strongly favours leiomyosarcoma (LR") for t in texts)
    lipo = next(d for d in a.differentials if d.id == "liposarcoma")
    assert any(r.finding == "macroscopic_fat" and r.value is False and "argues against liposarcoma" in r.text
               for r in lipo.lowered_by)


def test_to_dict_shape_matches_cli_spec():
    d = assess(LMS).to_dict()
    # cli.md keys first, then the cli-v2 additions (issue 10)
    assert list(d) == ["t_category", "stage_group", "stage_missing", "stage_possible", "ivc_segments",
                       "enhancement_call", "thrombus_call", "differentials", "staging", "recommendations",
                       "ivc_extent"]
    assert d["t_category"] == "T3" and d["stage_group"] == "IIIB" and d["stage_missing"] == []
    assert d["ivc_segments"] == [2] and d["enhancement_call"] == "enhancing" and d["thrombus_call"] == "tumor_thrombus"
    for x in d["differentials"]:
        assert set(x) == {"id", "label", "probability", "likelihood_word", "raised_by", "lowered_by"}
        for r in x["raised_by"] + x["lowered_by"]:
            assert {"finding", "value", "log_lr", "text", "source"} <= set(r)
    json.dumps(d, allow_nan=False)


def test_ivc_map_implies_an_intraluminal_tumour_when_the_checklist_is_silent():
    doc = {**S, "ivc": {"renal_vein_z_mm": 0, "hepatic_vein_z_mm": 100, "tumor_z_mm": [10, 60]}}
    p = probs(assess(doc))
    assert p["leiomyosarcoma"] > load_knowledge().priors[0] * 3
    top = assess(doc).differentials[0]
    assert any(r.derived_from == "ivc.tumor_z_mm" for r in top.raised_by)


def test_cli_json(tmp_path, capsys):
    p = tmp_path / "f.json"
    p.write_text(json.dumps(LMS))
    assert main(["assess", str(p), "--json"]) == 0
    out = capsys.readouterr().out
    assert json.loads(out) == assess(LMS).to_dict()


def test_cli_summary(tmp_path, capsys):
    p = tmp_path / "f.json"
    p.write_text(json.dumps({**S, "greatest_dimension_mm": 120,
                             "findings": {"lymph_node_metastases": False, "distant_metastases": False}}))
    assert main(["assess", str(p)]) == 0
    out = capsys.readouterr().out
    assert "T3" in out and "IB, IIIB" in out and "missing: grade" in out and "%" in out


@pytest.mark.parametrize("doc, field", [
    ({**S, "findings": {"macroscopic_fat": "yes"}}, "findings.macroscopic_fat"),
    ({"schema": "rp-findings/0"}, "schema"),
    ({**S, "age_years": 130}, "age_years"),
    ({**S, "grade": True}, "grade"),
])
def test_cli_invalid_document_is_exit_2_one_line(tmp_path, capsys, doc, field):
    p = tmp_path / "f.json"
    p.write_text(json.dumps(doc))
    assert main(["assess", str(p), "--json"]) == 2
    cap = capsys.readouterr()
    assert cap.out == ""
    lines = cap.err.strip().splitlines()
    assert len(lines) == 1 and field in lines[0] and "f.json" in lines[0]


def test_cli_missing_and_broken_files(tmp_path, capsys):
    assert main(["assess", str(tmp_path / "nope.json"), "--json"]) == 2
    bad = tmp_path / "bad.json"
    bad.write_text("{\n  \"schema\": ")
    assert main(["assess", str(bad), "--json"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "nope.json" in err[0] and "line 2" in err[1]
