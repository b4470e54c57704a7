"""Issue 10 behaviour of assess: staging applicability, recommendations, IVC extent, likelihood words,
the "other" class, staging items not used as evidence, findings 1.1 (docs/findings.md)."""
import json

import pytest

from workstation.cli import main
from workstation.reasoning.findings import CHECKLIST_IDS, V11_PATHS, Findings
from workstation.reasoning.ranking import assess
from workstation.reasoning.staging import size_text
from workstation.resources import load_json

S = "rp-findings/1.1"

LYMPHOMA = {"schema": S, "age_years": 47, "sex": "male", "greatest_dimension_mm": 120,
            "enhancement_pattern": "mild_homogeneous",
            "findings": {"b_symptoms": True, "elevated_ldh": True, "homogeneous": True,
                         "well_defined_margins": True, "necrosis": False, "calcification": False,
                         "vascular_invasion": False, "aorta_displaced_from_spine": True,
                         "multiple_adenopathy": True, "lymph_node_metastases": True}}
PARAGANGLIOMA = {"schema": S, "age_years": 29, "greatest_dimension_mm": 70, "enhancement_pattern": "intense",
                 "findings": {"catecholamine_excess": True, "organ_of_zuckerkandl_location": True, "necrosis": True}}
IVC_LMS = {"schema": S, "age_years": 58, "sex": "female", "greatest_dimension_mm": 100.4, "side": "right",
           "enhancement_delta_hu": 42, "thrombus_delta_hu": 31, "enhancement_pattern": "heterogeneous",
           "growth_pattern": "mixed",
           "ivc": {"renal_vein_z_mm": -160.0, "hepatic_vein_z_mm": -70.0, "right_atrium_z_mm": -20.0,
                   "tumor_z_mm": [-150.0, -95.0]},
           "findings": {"necrosis": True, "arises_from_vessel_wall": True, "intravascular_component": True,
                        "macroscopic_fat": False, "lymph_node_metastases": False, "distant_metastases": False}}
HAEMATOMA = {"schema": S, "age_years": 74, "sex": "male", "greatest_dimension_mm": 110, "enhancement_delta_hu": 3,
             "findings": {"anticoagulation": True, "high_attenuation_collection": True, "fluid_fluid_level": True}}


def rec_ids(doc):
    return [r.id for r in assess(doc).recommendations]


# ---------------------------------------------------------------- staging
def test_staging_does_not_apply_to_lymphoma_and_says_why():
    a = assess(LYMPHOMA)
    st = a.to_dict()["staging"]
    assert a.differentials[0].id == "lymphoma"
    assert st["applies"] is False and st["basis"] == "leading differential"
    assert "Lymphoma leads" in st["note"] and "does not apply" in st["note"]
    assert st["label"] is None and st["stage_group"] is None and st["stage_possible"] == []
    assert st["conditional"] == "if sarcoma: cT3"
    # the spec's stage keys are kept (renaming nothing) but the staging object never states a stage
    assert a.to_dict()["t_category"] == "T3"


def test_staging_applies_when_a_sarcoma_leads_with_clinical_labels():
    st = assess(IVC_LMS).to_dict()["staging"]
    assert st["applies"] is True and st["basis"] == "leading differential"
    assert (st["t"], st["n"], st["m"]) == ("cT3", "cN0", "cM0") and st["label"] == "cT3 cN0 cM0"
    assert st["conditional"] is None and st["stage_possible"] == ["IB", "IIIB"]


def test_histology_decides_staging_and_leads_the_ranking():
    doc = {**LYMPHOMA, "histology": "other_sarcoma"}
    st = assess(doc).to_dict()["staging"]
    assert st["applies"] is True and st["basis"] == "histology"
    doc = {**IVC_LMS, "histology": "renal_adrenal_neoplasm_with_thrombus"}
    a = assess(doc)
    assert a.staging.applies is False and a.staging.basis == "histology"
    assert a.differentials[0].id == "renal_adrenal_neoplasm_with_thrombus"


def test_t_category_comes_from_the_unrounded_size_and_the_printed_size_agrees():
    a = assess({"schema": S, "greatest_dimension_mm": 100.4})
    assert a.t_category == "T3" and a.staging.size_text == "10.04 cm" and a.staging.size_mm == 100.4
    assert size_text(100.0) == "10.0 cm"           # T2: the boundary belongs to the lower category
    assert size_text(123.0) == "12.3 cm" and size_text(150.04) == "15.004 cm"
    assert size_text(None) is None


def test_unknown_n_and_m_are_not_invented():
    st = assess({"schema": S, "greatest_dimension_mm": 120, "grade": 3}).staging
    assert st.n is None and st.m is None


# ---------------------------------------------------------------- staging items are not evidence
def test_n1_and_m1_do_not_move_the_differential():
    base = {k: v for k, v in IVC_LMS.items()}
    f = dict(base["findings"])
    p0 = {d.id: d.probability for d in assess(base).differentials}
    f.update(lymph_node_metastases=True, distant_metastases=True)
    p1 = {d.id: d.probability for d in assess({**base, "findings": f}).differentials}
    assert p0 == p1
    a = assess({**base, "findings": f})
    assert all(r.finding not in ("lymph_node_metastases", "distant_metastases")
               for d in a.differentials for r in d.raised_by + d.lowered_by)
    assert a.stage_group == "IV"   # ... but they still stage


# ---------------------------------------------------------------- words, other, bounds
def test_every_entry_has_a_word_and_other_is_an_entry():
    a = assess(IVC_LMS).to_dict()
    words = [d["likelihood_word"] for d in a["differentials"]]
    assert words[0] == "most likely" and set(words) <= {"most likely", "possible", "less likely", "unlikely"}
    assert words.count("most likely") == 1
    other = [d for d in a["differentials"] if d["id"] == "other"]
    assert len(other) == 1 and other[0]["label"] == "Other diagnosis" and 0 < other[0]["probability"] < 0.5


def test_nothing_reads_0_or_100_percent_even_with_everything_pointing_one_way():
    doc = {"schema": S, "age_years": 2, "sex": "female",
           "findings": {"macroscopic_fat": True, "calcification": True, "cystic_change": True,
                        "fat_fluid_level": True, "elevated_tumor_markers": True}}
    ps = [d.probability for d in assess(doc).differentials]
    assert max(ps) < 0.975 and min(ps) > 0.001
    assert f"{max(ps) * 100:.0f} %" != "100 %"


def test_correlated_fibrosis_signs_count_less_than_their_sum():
    """The four periaortic volume-loss signs are one piece of evidence: adding the third and fourth
    raises fibrosis by less than the first alone did."""
    def p(findings):
        return next(d.probability for d in assess({"schema": S, "age_years": 60, "findings": findings}).differentials
                    if d.id == "retroperitoneal_fibrosis")
    one = p({"periaortic_l4_location": True})
    four = p({"periaortic_l4_location": True, "aorta_hugs_spine": True, "ureters_medially_deviated": True,
              "hydronephrosis": True})
    a = assess({"schema": S, "age_years": 60, "findings": {"aorta_hugs_spine": True, "ureters_medially_deviated": True}})
    rpf = next(d for d in a.differentials if d.id == "retroperitoneal_fibrosis")
    weights = sorted(r.weight for r in rpf.raised_by if r.group == "volume_loss")
    assert len(weights) == 2 and weights[-1] == 1.0 and weights[0] < 1.0
    assert four > one and four < 0.97


def test_adult_ganglioneuroma_and_localised_castleman_rank_first_with_their_typical_features():
    gn = {"schema": S, "age_years": 32, "sex": "male", "enhancement_pattern": "delayed_progressive",
          "findings": {"paraspinal_location": True, "hypoattenuating_ct": True, "calcification": True,
                       "whorled_appearance": True, "necrosis": False, "hemorrhage": False}}
    assert assess(gn).differentials[0].id == "ganglioneuroma"
    cd = {"schema": S, "age_years": 34, "greatest_dimension_mm": 65, "enhancement_pattern": "early_intense",
          "findings": {"well_defined_margins": True, "necrosis": True, "satellite_nodules": True}}
    assert assess(cd).differentials[0].id == "castleman_disease"


def test_necrosis_favours_leiomyosarcoma_as_the_article_says():
    from workstation.reasoning.knowledge import load_knowledge
    kb = load_knowledge()
    assert kb.lr("necrosis", "leiomyosarcoma", True) > 1.5 > 0.2 > kb.lr("necrosis", "lymphoma", True)


# ---------------------------------------------------------------- recommendations
def test_recommendations_have_the_contract_shape_and_sources():
    for doc in (LYMPHOMA, PARAGANGLIOMA, IVC_LMS, HAEMATOMA):
        recs = assess(doc).to_dict()["recommendations"]
        assert recs, doc
        for r in recs:
            assert {"id", "text", "reason", "source"} <= set(r) and all(r[k] for k in ("text", "reason", "source"))
            assert "?" not in r["reason"]                       # every placeholder filled
        urg = [r["urgency"] for r in recs]
        assert urg == sorted(urg) and len({r["id"] for r in recs}) == len(recs)


def test_every_rule_is_cited_and_the_contract_ids_exist():
    rules = load_json("recommendations.json")["rules"]
    ids = {r["id"] for r in rules}
    assert {"sarcoma_team_referral", "percutaneous_core_biopsy", "metanephrines_before_biopsy", "chest_ct_staging",
            "germ_cell_workup", "lymphoma_workup", "ivc_extent_imaging", "hematoma_follow_up", "rpf_workup",
            "known_primary_correlation", "post_resection_surveillance"} <= ids
    for r in rules:
        assert r["source"].strip() and r["text"].strip() and isinstance(r["urgency"], int)


def test_paraganglioma_gets_biochemistry_before_any_biopsy():
    ids = rec_ids(PARAGANGLIOMA)
    assert ids.index("metanephrines_before_biopsy") < ids.index("percutaneous_core_biopsy")
    biopsy = next(r for r in assess(PARAGANGLIOMA).recommendations if r.id == "percutaneous_core_biopsy")
    assert "metanephrines" in biopsy.text


def test_sarcoma_team_before_biopsy_and_chest_ct_for_a_sarcoma():
    doc = {k: v for k, v in IVC_LMS.items()}
    ids = rec_ids(doc)
    assert ids.index("sarcoma_team_referral") < ids.index("percutaneous_core_biopsy")
    assert "chest_ct_staging" in ids and "post_resection_surveillance" not in ids


def test_lymphoma_gets_core_biopsy_not_fna_and_no_sarcoma_staging_advice():
    recs = {r.id: r for r in assess(LYMPHOMA).recommendations}
    assert "lymphoma_workup" in recs and "percutaneous_core_biopsy" in recs
    assert "not fine-needle aspiration" in recs["percutaneous_core_biopsy"].text
    assert "post_resection_surveillance" not in recs and "sarcoma_team_referral" not in recs


def test_haematoma_gets_no_biopsy_advice():
    ids = rec_ids(HAEMATOMA)
    assert "hematoma_follow_up" in ids and "percutaneous_core_biopsy" not in ids
    assert all("biopsy" not in r.id for r in assess(HAEMATOMA).recommendations)
    bleeding = {**HAEMATOMA, "findings": {**HAEMATOMA["findings"], "active_extravasation": True}}
    assert rec_ids(bleeding)[0] == "active_bleeding_alert"


def test_surveillance_only_after_resection():
    assert "post_resection_surveillance" not in rec_ids(IVC_LMS)
    done = {**IVC_LMS, "resected": True, "histology": "leiomyosarcoma"}
    ids = rec_ids(done)
    assert "post_resection_surveillance" in ids
    assert "percutaneous_core_biopsy" not in ids and "sarcoma_team_referral" not in ids


# ---------------------------------------------------------------- IVC extent
def test_ivc_extent_in_mm_from_the_landmarks_and_the_thrombus_level():
    e = assess(IVC_LMS).ivc_extent
    assert e["mapped"] and e["segments"] == [2] and e["length_mm"] == 55.0
    assert e["cranial_end"] == {"from_renal_veins_mm": 65.0, "from_hepatic_veins_mm": -25.0,
                                "from_right_atrium_mm": -75.0}
    assert e["caudal_end"]["from_renal_veins_mm"] == 10.0
    # an IVC leiomyosarcoma is described by its IVC segments, not by a renal tumour-thrombus level
    assert e["origin"] == "leiomyosarcoma" and e["level"] is None and e["level_label"] is None
    assert e["segment_names"] == ["suprarenal-infrahepatic IVC"] and "segments" in e["classification"].lower()
    assert "Neves-Zincke levels grade tumour thrombus from a renal or adrenal primary" in e["level_basis"]
    assert "6.5 cm above the renal veins" in e["text"] and "2.5 cm below the hepatic veins" in e["text"]
    assert "segment 2 (suprarenal-infrahepatic IVC)" in e["text"] and "level" not in e["text"]
    # the same map as tumour thrombus from a right renal primary: Neves-Zincke level II
    renal = {**IVC_LMS, "histology": "renal_adrenal_neoplasm_with_thrombus"}
    e = assess(renal).ivc_extent
    assert e["origin"] == "renal_adrenal_primary" and e["origin_basis"] == "histology"
    assert e["level"] == "II" and "Neves" in e["classification"]
    assert e["text"].endswith("tumour thrombus from a right renal or adrenal primary, Neves-Zincke level II "
                              "(infrahepatic IVC, more than 2 cm above the renal veins, below the hepatic veins).")


RENAL_PRIMARY = {"histology": "renal_adrenal_neoplasm_with_thrombus", "side": "right"}


@pytest.mark.parametrize("top, ra, intracardiac, level", [
    (-170.0, -20.0, None, "0"),     # not above the renal-vein inflow
    (-145.0, -20.0, None, "I"),     # 1.5 cm above the renal veins
    (-90.0, -20.0, None, "II"),
    (-50.0, -20.0, None, "III"),    # above the hepatic veins, below the atrium
    (-10.0, -20.0, None, "IV"),     # above the cavo-atrial junction
    (-90.0, None, True, "IV"),      # the checklist says it reaches the atrium
])
def test_thrombus_levels(top, ra, intracardiac, level):
    ivc = {"renal_vein_z_mm": -160.0, "hepatic_vein_z_mm": -70.0, "tumor_z_mm": [-200.0, top]}
    if ra is not None:
        ivc["right_atrium_z_mm"] = ra
    doc = {"schema": S, "ivc": ivc, "findings": {} if intracardiac is None else {"intracardiac_extension": True}}
    assert assess({**doc, **RENAL_PRIMARY}).ivc_extent["level"] == level
    # the level is the renal primary's: the same map of a tumour arising from the IVC wall has none
    lms = {**doc, "findings": {**doc["findings"], "arises_from_vessel_wall": True,
                               "contiguous_renal_or_adrenal_mass": False}}
    a = assess(lms)
    assert a.differentials[0].id == "leiomyosarcoma" and a.ivc_extent["level"] is None
    assert a.ivc_extent["segment_names"] and a.ivc_extent["origin"] == "leiomyosarcoma"
    assert assess({**doc, "histology": "leiomyosarcoma"}).ivc_extent["level"] is None
    assert assess({**doc, "histology": "other"}).ivc_extent["level"] is None


def test_no_ivc_extent_without_an_intravascular_tumour():
    assert assess(LYMPHOMA).ivc_extent is None and assess(LYMPHOMA).to_dict()["ivc_extent"] is None
    e = assess({"schema": S, "growth_pattern": "mixed"}).ivc_extent
    assert e is not None and e["mapped"] is False and e["level"] is None and "not mapped" in e["text"]
    assert "ivc_extent_imaging" in rec_ids({"schema": S, "growth_pattern": "mixed", "age_years": 60})


# ---------------------------------------------------------------- findings 1.1
def test_version_1_reads_unchanged_and_1_1_fields_upgrade_the_schema():
    v1 = {"schema": "rp-findings/1", "age_years": 50, "findings": {"necrosis": True}}
    assert Findings.from_dict(v1).to_dict() == v1
    up = Findings.from_dict(v1).with_changes(side="left", resected=False)
    assert up.to_dict()["schema"] == S and up.side == "left" and up.resected is False
    full = {"schema": S, "side": "bilateral", "histology": "other", "resected": True,
            "ivc": {"renal_vein_z_mm": 0, "hepatic_vein_z_mm": 90, "right_atrium_z_mm": 120},
            "findings": {i: True for i in ("vascular_encasement_without_narrowing", "claw_sign", "active_extravasation",
                                           "intracardiac_extension", "hydronephrosis")}}
    assert Findings.from_dict(full).to_dict() == full
    assert {"side", "histology", "resected", "ivc.right_atrium_z_mm"} <= V11_PATHS
    assert {f"findings.{i}" for i in full["findings"]} <= V11_PATHS and set(full["findings"]) <= set(CHECKLIST_IDS)


def test_new_checklist_items_have_labels_and_help_for_the_panel():
    items = {it["id"]: it for g in load_json("checklist.json")["groups"] for it in g["items"]}
    for i in ("vascular_encasement_without_narrowing", "claw_sign", "active_extravasation", "intracardiac_extension",
              "hydronephrosis"):
        assert items[i]["label"] and items[i]["help"] and items[i]["since"] == S
    fields = load_json("checklist.json")["fields"]
    assert fields["side"]["enum"] == ["left", "right", "midline", "bilateral"]
    assert fields["resected"]["type"] == "boolean" and "other_sarcoma" in fields["histology"]["enum"]


def test_cli_json_carries_the_v2_keys(tmp_path, capsys):
    p = tmp_path / "f.json"
    p.write_text(json.dumps(PARAGANGLIOMA))
    assert main(["assess", str(p), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["staging"]["applies"] is False and d["recommendations"][0]["id"] == "metanephrines_before_biopsy"
    assert main(["assess", str(p)]) == 0
    out = capsys.readouterr().out
    assert "does not apply" in out and "metanephrines" in out.lower() and "LR" not in out.split("Next steps")[-1]


@pytest.mark.parametrize("doc, expected, absent", [
    # young man with necrotic nodes and raised markers: testicular germ cell work-up, correlate
    ({"schema": S, "age_years": 24, "sex": "male", "greatest_dimension_mm": 90,
      "findings": {"elevated_tumor_markers": True, "necrosis": True, "multiple_adenopathy": True}},
     ["germ_cell_workup"], ["sarcoma_team_referral"]),
    # known primary: correlate with it
    ({"schema": S, "age_years": 68, "sex": "male",
      "findings": {"known_primary_malignancy": True, "multiple_adenopathy": True}},
     ["known_primary_correlation"], ["post_resection_surveillance"]),
    # periaortic fibrosis: IgG4 and inflammatory markers, no routine biopsy
    ({"schema": S, "age_years": 57, "sex": "male", "enhancement_pattern": "delayed_progressive",
      "findings": {"igg4_related_disease": True, "periaortic_l4_location": True, "aorta_hugs_spine": True,
                   "hydronephrosis": True}},
     ["rpf_workup"], ["percutaneous_core_biopsy", "sarcoma_team_referral"]),
    # renal cancer with thrombus reaching the hepatic veins, right atrium not mapped: map the extent
    ({"schema": S, "age_years": 63, "sex": "male", "growth_pattern": "mixed", "thrombus_delta_hu": 45,
      "ivc": {"renal_vein_z_mm": -150.0, "hepatic_vein_z_mm": -60.0, "tumor_z_mm": [-150.0, -40.0]},
      "findings": {"hematuria": True, "contiguous_renal_or_adrenal_mass": True, "intravascular_component": True}},
     ["ivc_extent_imaging", "chest_ct_staging"], ["hematoma_follow_up"]),
])
def test_recommendations_follow_the_leading_picture(doc, expected, absent):
    ids = rec_ids(doc)
    assert set(expected) <= set(ids), ids
    assert not set(absent) & set(ids), ids


def test_a_bland_thrombus_is_not_given_a_tumour_thrombus_level():
    doc = {"schema": S, "thrombus_delta_hu": 4,
           "ivc": {"renal_vein_z_mm": -160.0, "hepatic_vein_z_mm": -70.0, "tumor_z_mm": [-200.0, -90.0]}}
    e = assess(doc).ivc_extent
    assert e["kind"] == "bland_thrombus" and e["level"] is None and "bland thrombus" in e["text"]
    assert e["cranial_end"]["from_renal_veins_mm"] == 70.0
    assert assess(IVC_LMS).ivc_extent["kind"] == "tumour"
    assert "ivc_extent_imaging" not in rec_ids(doc)


def test_every_rule_condition_is_one_the_engine_knows():
    from workstation.reasoning.findings import DIFFERENTIAL_IDS, FIELD_SPECS
    keys = {"p_at_least", "leads", "finding", "field", "known", "known_not", "histology_in", "age_below",
            "intravascular", "level_in", "reach_in", "ivc_kind"}
    ids = {*DIFFERENTIAL_IDS, "other", "sarcoma"}

    def leaves(conds):
        """Every simple condition, also inside {'all': [...]} and {'not': ...}."""
        for cond in conds:
            if "all" in cond:
                assert set(cond) == {"all"} and cond["all"]
                yield from leaves(cond["all"])
            elif "not" in cond:
                assert set(cond) == {"not"}
                yield from leaves([cond["not"]])
            else:
                yield cond

    for rule in load_json("recommendations.json")["rules"]:
        for cond in leaves([*rule.get("when", ()), *rule.get("when_any", ()), *rule.get("unless", ())]):
            (key,) = set(cond) - {"is"}
            assert key in keys, (rule["id"], cond)
            if key == "p_at_least":
                assert set(cond[key]["ids"]) <= ids and 0 < cond[key]["p"] < 1
            if key == "leads":
                assert set(cond[key]) <= ids
            if key == "finding":
                assert cond[key] in CHECKLIST_IDS and isinstance(cond["is"], bool)
            if key == "field":
                assert cond[key] in FIELD_SPECS
            if key == "histology_in":
                assert set(cond[key]) <= set(FIELD_SPECS["histology"]["enum"])
            if key == "ivc_kind":
                assert cond[key] in ("tumour", "bland_thrombus")


def test_a_finding_against_is_not_hidden_by_a_stronger_one_for_in_the_same_group():
    a = assess({"schema": S, "findings": {"aorta_displaced_from_spine": True, "ureters_medially_deviated": True}})
    rpf = next(d for d in a.differentials if d.id == "retroperitoneal_fibrosis")
    lifted = next(r for r in rpf.lowered_by if r.finding == "aorta_displaced_from_spine")
    drawn = next(r for r in rpf.raised_by if r.finding == "ureters_medially_deviated")
    assert lifted.group == drawn.group == "volume_loss" and lifted.weight == drawn.weight == 1.0


def test_no_recommendation_from_age_and_sex_alone():
    assert rec_ids({"schema": S, "age_years": 61, "sex": "female"}) == []
    assert rec_ids({"schema": S, "age_years": 61, "sex": "female", "greatest_dimension_mm": 120}) != []
    st = assess({"schema": S, "age_years": 61, "sex": "female"}).staging
    assert st.applies is False and st.basis == "no findings" and "not assessed" in st.note
