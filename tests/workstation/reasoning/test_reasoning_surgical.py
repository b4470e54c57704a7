"""Surgical anatomy and safe work-up order (issue 10 leftovers), on written vignettes and on every
calibration case.

* The Neves-Zincke tumour-thrombus level is given only for thrombus from a renal or adrenal primary
  (histology, or the leading differential), with its side; an IVC leiomyosarcoma gets its IVC
  segments by name and the distances from the landmarks, never a level.
* A renal primary gets a clearly conditional clinical kidney T (AJCC 8th ed., kidney) from its venous
  extension, or every category still possible and what is missing; the sarcoma staging contract
  (applies / basis / note ...) is unchanged.
* For a plausible germ-cell tumour the markers and testicular ultrasound come before any biopsy.

The vignettes and their expected text are in ``cases/surgical_vignettes.json``.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from workstation.reasoning.ranking import assess
from workstation.resources import load_json

HERE = Path(__file__).resolve().parent
VIGNETTES: list[dict[str, Any]] = json.loads((HERE / "cases" / "surgical_vignettes.json").read_text())["cases"]
CALIBRATION: list[dict[str, Any]] = json.loads((HERE / "cases" / "calibration_cases.json").read_text())["cases"]
BIOCHEMISTRY_FIRST = ("metanephrines_before_biopsy", "germ_cell_workup")


def _check_ivc(e: dict[str, Any] | None, want: dict[str, Any] | None) -> None:
    if want is None:
        assert e is None
        return
    assert e is not None
    for key in ("origin", "level", "segment_names"):
        if key in want:
            assert e[key] == want[key], (key, e[key])
    for s in want.get("text_has", ()):
        assert s in e["text"], (s, e["text"])
    for s in want.get("text_lacks", ()):
        assert s not in e["text"], (s, e["text"])


def _check_kidney(k: dict[str, Any] | None, want: dict[str, Any] | None) -> None:
    if want is None:
        assert k is None
        return
    assert k is not None and k["classification"] == "AJCC 8th ed., kidney"
    assert k["basis"].startswith("AJCC 8th ed., kidney: ") and k["label"].startswith("if renal cell carcinoma: ")
    for key in ("t", "t_possible", "missing", "label", "applies_basis"):
        if key in want:
            assert k[key] == want[key], (key, k[key])
    for s in want.get("basis_has", ()):
        assert s in k["basis"], (s, k["basis"])
    assert len(k["missing_text"]) == len(k["missing"]) and (k["t"] is None) == (len(k["t_possible"]) > 1)


def _check_recs(recs: list[dict[str, Any]], want: dict[str, Any]) -> None:
    ids = [r["id"] for r in recs]
    order = want.get("recs_order", [])
    assert all(i in ids for i in order), ids
    assert [i for i in ids if i in order] == order, ids
    assert not set(want.get("recs_absent", ())) & set(ids), ids
    text = {r["id"]: r["text"] + " " + r["reason"] for r in recs}
    for rid, bits in want.get("rec_text_has", {}).items():
        for s in bits:
            assert s in text[rid], (rid, s, text[rid])
    for rid, bits in want.get("rec_text_lacks", {}).items():
        for s in bits:
            assert s not in text[rid], (rid, s, text[rid])


@pytest.mark.parametrize("case", VIGNETTES, ids=[c["id"] for c in VIGNETTES])
def test_surgical_vignette(case):
    a = assess(case["findings"]).to_dict()
    want = case["expect"]
    if "top" in want:
        assert a["differentials"][0]["id"] == want["top"], [d["id"] for d in a["differentials"][:3]]
    if "staging_applies" in want:
        assert a["staging"]["applies"] is want["staging_applies"]
    if "ivc" in want:
        _check_ivc(a["ivc_extent"], want["ivc"])
    if "kidney" in want:
        _check_kidney(a["staging"]["kidney"], want["kidney"])
    _check_recs(a["recommendations"], want)


def test_the_sarcoma_staging_contract_is_unchanged_beside_the_kidney_category():
    doc = next(c for c in VIGNETTES if c["id"] == "rcc-level-II-cT3b")["findings"]
    st = assess(doc).to_dict()["staging"]
    assert {"applies", "basis", "note", "t", "n", "m", "label", "conditional", "stage_group", "stage_possible",
            "size_mm", "size_text"} <= set(st)
    assert st["applies"] is False and st["basis"] == "leading differential" and st["label"] is None
    assert "does not apply" in st["note"] and st["stage_group"] is None and st["kidney"]["t"] == "cT3b"
    assert st["sarcoma_plausible"] is False


def test_a_resected_renal_primary_is_not_restaged_on_follow_up():
    doc = next(c for c in VIGNETTES if c["id"] == "renal-histology-side-unknown")["findings"]
    assert assess(doc).staging.kidney is not None
    assert assess({**doc, "resected": True}).staging.kidney is None


def test_the_kidney_rule_is_cited_data():
    k = load_json("knowledge", "thresholds.json")["kidney_t"]
    assert k["name"] == "AJCC 8th ed., kidney" and "AJCC Cancer Staging Manual, 8th ed., Kidney" in k["source"]
    assert set(k["categories"]) == {"cT3a", "cT3b", "cT3c", "cT4"} and k["order"][-1] == "cT4"
    seg = load_json("knowledge", "thresholds.json")["ivc_segments"]
    assert seg["surgical_names"] == {"1": "infrarenal IVC", "2": "suprarenal-infrahepatic IVC",
                                     "3": "suprahepatic IVC"}
    assert "Article, Imaging Features" in seg["surgical_names_source"]


@pytest.mark.parametrize("case", CALIBRATION, ids=[c["id"] for c in CALIBRATION])
def test_every_written_case_keeps_levels_kidney_t_and_biochemistry_order_safe(case):
    a = assess(case["findings"])
    top = a.differentials[0].id
    h = case["findings"].get("histology")
    renal = h == "renal_adrenal_neoplasm_with_thrombus" or (h is None and top == "renal_adrenal_neoplasm_with_thrombus")
    e = a.ivc_extent
    if e is not None and e["level"] is not None:
        assert renal and e["kind"] == "tumour" and "Neves-Zincke level" in e["text"]
    if e is not None and not renal:
        assert "level" not in e["text"]
    assert (a.staging.kidney is not None) == (renal and case["findings"].get("resected") is not True)
    ids = [r.id for r in a.recommendations]
    biopsies = [k for k, i in enumerate(ids) if i == "percutaneous_core_biopsy"]
    for first in BIOCHEMISTRY_FIRST:
        if first in ids and biopsies:
            assert ids.index(first) < biopsies[0], ids


def test_assess_text_names_the_kidney_category_and_the_surgical_anatomy(tmp_path, capsys):
    from workstation.cli import main

    for name, want, absent in (
        ("rcc-level-II-cT3b", ["Kidney staging (AJCC 8th ed., kidney, clinical): if renal cell carcinoma: cT3b",
                               "Neves-Zincke level II"], []),
        ("lms-ivc-segment-2", ["segment 2 (suprarenal-infrahepatic IVC)"], ["Kidney staging", "level"]),
    ):
        p = tmp_path / f"{name}.json"
        p.write_text(json.dumps(next(c for c in VIGNETTES if c["id"] == name)["findings"]))
        assert main(["assess", str(p)]) == 0
        out = capsys.readouterr().out
        head = out.split("Differential:")[0]
        assert all(s in head for s in want), head
        assert not any(s in head for s in absent), head
