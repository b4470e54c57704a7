"""Every standard code in resources/codes.json is pydicom's (no invented SCT/DCM/UCUM codes)."""
from __future__ import annotations

from pydicom.sr.codedict import codes

from workstation.export import codes as C
from workstation.resources import load_json


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
        if e["scheme"] in ("SCT", "DCM", "UCUM"):
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
    assert n > 20


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
