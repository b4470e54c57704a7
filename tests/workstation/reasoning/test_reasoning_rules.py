"""Rules at every boundary: AJCC T, stage group with missing/possible, IVC segments, calls."""
import itertools

import pytest

from workstation.reasoning import rules
from workstation.reasoning.findings import Findings
from workstation.resources import load_json


@pytest.mark.parametrize(
    "mm, t",
    [(0.5, "T1"), (50, "T1"), (50.0, "T1"), (50.0001, "T2"), (99.999, "T2"), (100, "T2"),
     (100.0001, "T3"), (150, "T3"), (150.0001, "T4"), (400, "T4"), (None, None)],
)
def test_t_category_boundaries_belong_to_lower_category(mm, t):
    assert rules.t_category(mm) == t


# every row of the AJCC 8th retroperitoneum table, with known T, N, M and grade
@pytest.mark.parametrize(
    "t, n1, m1, g, group",
    [("T1", False, False, 1, "IA"),
     ("T2", False, False, 1, "IB"), ("T3", False, False, 1, "IB"), ("T4", False, False, 1, "IB"),
     ("T1", False, False, 2, "II"), ("T1", False, False, 3, "II"),
     ("T2", False, False, 2, "IIIA"), ("T2", False, False, 3, "IIIA"),
     ("T3", False, False, 2, "IIIB"), ("T4", False, False, 3, "IIIB"),
     ("T1", True, False, 1, "IIIB"), ("T4", True, False, 3, "IIIB"),
     ("T1", False, True, 1, "IV"), ("T4", True, True, 3, "IV")],
)
def test_stage_rows(t, n1, m1, g, group):
    st = rules.stage(t, n1, m1, g)
    assert (st.group, st.missing, st.possible) == (group, (), (group,))


def test_spec_example_12cm_grade_unknown_n0_m0():
    st = rules.stage(rules.t_category(120), False, False, None)
    assert st.group is None and st.missing == ("grade",) and st.possible == ("IB", "IIIB")


def test_m1_is_iv_whatever_else_is_unknown():
    assert rules.stage(None, None, True, None).group == "IV"


def test_n1_m0_is_iiib_whatever_t_and_grade():
    st = rules.stage(None, True, False, None)
    assert st.group == "IIIB" and st.missing == ()


def test_unknown_m_with_n1():
    st = rules.stage("T2", True, None, 2)
    assert st.group is None and st.missing == ("distant_metastases",) and st.possible == ("IIIB", "IV")


def test_t1_n0_m0_unknown_grade_is_ia_or_ii():
    st = rules.stage("T1", False, False, None)
    assert st.possible == ("IA", "II") and st.missing == ("grade",)


def test_grade_1_unknown_size():
    st = rules.stage(None, False, False, 1)
    assert st.possible == ("IA", "IB") and st.missing == ("greatest_dimension_mm",)


def test_t3_grade_3_unknown_n_and_m():
    st = rules.stage("T3", None, None, 3)
    assert st.possible == ("IIIB", "IV") and st.missing == ("distant_metastases",)


def test_t2_grade_2_unknown_n():
    st = rules.stage("T2", None, False, 2)
    assert st.possible == ("IIIA", "IIIB") and st.missing == ("lymph_node_metastases",)


_T = ["T1", "T2", "T3", "T4", None]
_B = [False, True, None]
_G = [1, 2, 3, None]


@pytest.mark.parametrize("t, n1, m1, g", list(itertools.product(_T, _B, _B, _G)))
def test_every_missing_combination_is_the_union_of_its_completions(t, n1, m1, g):
    """possible = exactly the groups of every completion; missing = the unknowns that matter."""
    st = rules.stage(t, n1, m1, g)
    def dom(v, all_):
        return [v] if v is not None else all_
    comps = list(itertools.product(dom(t, _T[:4]), dom(n1, _B[:2]), dom(m1, _B[:2]), dom(g, _G[:3])))
    groups = {rules.stage(*c).group for c in comps}
    assert None not in groups
    assert set(st.possible) == groups
    assert list(st.possible) == [x for x in rules.STAGE_GROUPS if x in groups]
    if len(groups) == 1:
        assert st.group == next(iter(groups)) and st.missing == ()
    else:
        assert st.group is None and st.missing
        names = dict(zip(rules.STAGE_INPUTS, (t, n1, m1, g), strict=False))
        assert all(names[m] is None for m in st.missing)
        # a missing input must be able to change the group on its own
        for m in st.missing:
            idx = rules.STAGE_INPUTS.index(m)
            assert any(rules.stage(*c).group != rules.stage(*(c[:idx] + (alt,) + c[idx + 1:])).group
                       for c in comps for alt in [_T[:4], _B[:2], _B[:2], _G[:3]][idx])


# IVC: renal veins at z = 0, hepatic confluence at z = 100 (LPS, +z cranial)
@pytest.mark.parametrize(
    "tumor, segs",
    [((-50, -10), [1]), ((-50, 0), [1]), ((-50, 0.001), [1, 2]), ((0, 50), [2]),
     ((10, 90), [2]), ((10, 100), [2]), ((10, 100.5), [2, 3]), ((100, 130), [3]),
     ((-20, 120), [1, 2, 3]), ((0, 0), [1, 2]), ((100, 100), [2, 3]), ((50, 50), [2]),
     ((-5, -5), [1]), ((150, 150), [3])],
)
def test_ivc_segments(tumor, segs):
    assert rules.ivc_segments(0, 100, tumor) == segs


def test_ivc_segments_unknown_when_any_input_unknown():
    assert rules.ivc_segments(None, 100, (1, 2)) is None
    assert rules.ivc_segments(0, None, (1, 2)) is None
    assert rules.ivc_segments(0, 100, None) is None


@pytest.mark.parametrize(
    "delta, call",
    [(-5, "not_enhancing"), (0, "not_enhancing"), (9.99, "not_enhancing"), (10, "equivocal"),
     (19.99, "equivocal"), (20, "enhancing"), (85, "enhancing"), (None, None)],
)
def test_ct_enhancement_call(delta, call):
    assert rules.enhancement_call(delta_hu=delta) == call


def test_mr_threshold_comes_from_cited_resource():
    mr = load_json("knowledge", "thresholds.json")["mr_enhancement"]
    assert "Radiology" in mr["source"] and mr["basis"] == "convention"
    hi, lo = mr["enhancing_min"], mr["equivocal_min"]
    assert rules.enhancement_call(percent=hi) == "enhancing"
    assert rules.enhancement_call(percent=hi - 0.01) == "equivocal"
    assert rules.enhancement_call(percent=lo) == "equivocal"
    assert rules.enhancement_call(percent=lo - 0.01) == "not_enhancing"


def test_ct_delta_takes_precedence_over_mr_percent():
    assert rules.enhancement_call(delta_hu=5, percent=80) == "not_enhancing"


@pytest.mark.parametrize(
    "delta, call",
    [(9.99, "bland_thrombus"), (10, "indeterminate"), (19.99, "indeterminate"), (20, "tumor_thrombus"), (None, None)],
)
def test_thrombus_call(delta, call):
    assert rules.thrombus_call(delta) == call


def test_apply_rules_reads_the_document():
    f = Findings.from_dict({
        "schema": "rp-findings/1", "greatest_dimension_mm": 120, "enhancement_delta_hu": 35,
        "thrombus_delta_hu": 4, "findings": {"lymph_node_metastases": False, "distant_metastases": False},
        "ivc": {"renal_vein_z_mm": -120, "hepatic_vein_z_mm": -20, "tumor_z_mm": [-100, -60]},
    })
    r = rules.apply_rules(f)
    assert r.t_category == "T3" and r.stage.possible == ("IB", "IIIB")
    assert r.ivc_segments == [2] and r.enhancement_call == "enhancing" and r.thrombus_call == "bland_thrombus"


def test_measured_calls_use_the_same_cut_offs_as_the_rules():
    """The enhancement tool's call and the findings' call come from one table (thresholds.json)."""
    import numpy as np

    from workstation.measure.enhancement import enhancement_call

    for v in np.arange(-5.0, 40.0, 0.25):
        assert enhancement_call(float(v), "CT") == rules.enhancement_call_ct(float(v))
        assert enhancement_call(float(v), "MR") == rules.enhancement_call_mr(float(v))
    assert "ct_call_hu" not in load_json("measurement.json")["enhancement"]
