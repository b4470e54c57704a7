"""Every standard code in resources/codes.json is pydicom's (no invented SCT/DCM/UCUM/IBSI codes);
the staging, grade, diagnosis and recommendation tables cover what the reasoning can produce."""
from __future__ import annotations

from pydicom.sr.codedict import codes

from workstation.export import codes as C
from workstation.resources import load_json

STANDARD = ("SCT", "DCM", "UCUM", "IBSI", "LN")


def _entries(node, path=""):
    if isinstance(node, dict):
        if "scheme" in node and "value" in node:
            yield path, node
        else:
            for k, v in node.items():
                yield from _entries(v, f"{path}.{k}" if path else k)


def test_standard_codes_match_pydicom_codedict():
    n = 0
    for path, e in _entries(C.table()):
        assert len(e["meaning"]) <= 64, path
        if e["scheme"] in STANDARD:
            src = e["source"]
            assert src.startswith("pydicom.sr.codedict codes."), path
            scheme, kw = src.split("codes.", 1)[1].split(".")
            c = getattr(getattr(codes, scheme), kw)
            assert (c.value, c.scheme_designator) == (e["value"], e["scheme"]), path
            n += 1
        elif e["scheme"] == "99RPWS":
            assert len(e["value"]) <= 16, path          # fits CodeValue (SH)
            assert "private" in e["source"], path
        else:
            assert e["scheme"] == "UMLS" and "TID 1500" in e["source"], path
    assert n > 40


def test_no_private_code_where_the_issue_names_a_standard_one():
    """Short axis, craniocaudal extent and the maximum 3D diameter have standard concepts (CID 7470)."""
    cid7470 = {(getattr(codes.cid7470, k).scheme_designator, getattr(codes.cid7470, k).value)
               for k in codes.cid7470.dir()}
    for key in ("greatest_dimension", "axial_long", "axial_short", "craniocaudal"):
        c = C.code("lesion", key)
        assert (c.scheme_designator, c.value) in cid7470, key
    assert C.code("lesion", "greatest_dimension") == codes.IBSI.Maximum3DDiameterOfAMesh
    assert C.code("lesion", "axial_short") == codes.SCT.ShortAxis
    assert C.code("seg", "property_category") == codes.SCT.MorphologicallyAbnormalStructure
    assert C.code("seg", "algorithm_family") in [getattr(codes.cid7162, k) for k in codes.cid7162.dir()]


def test_every_checklist_id_and_value_has_a_code():
    ck = load_json("checklist.json")
    ids = [it["id"] for g in ck["groups"] for it in g["items"]]
    for i in ids:
        C.code("checklist", i)
    private = [C.code("checklist", i) for i in ids if C.code("checklist", i).scheme_designator == "99RPWS"]
    assert len({c.value for c in private}) == len(private)
    thr = load_json("knowledge", "thresholds.json")
    for call in list(thr["thrombus"]["calls"].values()) + ["enhancing", "equivocal", "not_enhancing"]:
        C.value_code("calls", call)
    for g in thr["stage_groups"]["order"] + [c["id"] for c in thr["t_category"]["categories"]]:
        C.value_code("staging", g)


def test_every_differential_grade_and_recommendation_has_a_code():
    for d in load_json("knowledge", "differentials.json")["differentials"]:
        C.code("diagnosis", d["id"])
    for g in ("1", "2", "3"):
        C.code("grade", g)
    for rid in ("sarcoma_team_referral", "percutaneous_core_biopsy", "metanephrines_before_biopsy",
                "chest_ct_staging", "germ_cell_workup", "lymphoma_workup", "ivc_extent_imaging",
                "hematoma_follow_up", "rpf_workup", "known_primary_correlation", "post_resection_surveillance"):
        C.code("recommendation", rid)
    for section in ("diagnosis", "recommendation"):
        values = [d["value"] for d in C.table()[section].values()]
        assert len(set(values)) == len(values), section


def test_annotation_codes_are_standard_and_generic():
    """Angle, freehand and arrow use standard concepts: the generic SCT Angle (CID 7550 holds only
    anatomy-specific angles), UCUM degrees, DCM Short Label / Reference Points for the arrow note."""
    angle = C.code("measurements", "angle")
    assert angle == codes.SCT.Angle and C.code("units", "deg") == codes.UCUM.Degree
    assert angle not in [getattr(codes.cid7550, k) for k in codes.cid7550.dir()]
    assert C.code("measurements", "short_label") == codes.DCM.ShortLabel
    assert C.code("measurements", "reference_points") == codes.DCM.ReferencePoints
    for key in ("angle", "short_label", "reference_points"):
        assert C.table()["measurements"][key]["use"], key
