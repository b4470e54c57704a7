"""report.txt speaks the surgeon's anatomy (issue 10 leftovers): a renal primary's thrombus gets its
Neves-Zincke level and side and a conditional clinical kidney T (AJCC 8th ed., kidney); an IVC
leiomyosarcoma gets its IVC segments by name and no thrombus level; a plausible germ-cell tumour gets
markers and testicular ultrasound before any biopsy. Real core, real report builder; the documents
are the vignettes of tests/workstation/reasoning/cases/surgical_vignettes.json."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from workstation.export import render_report

VIGNETTES = Path(__file__).resolve().parents[1] / "reasoning" / "cases" / "surgical_vignettes.json"
DOCS: dict[str, dict[str, Any]] = {c["id"]: c["findings"] for c in json.loads(VIGNETTES.read_text())["cases"]}


def _section(text: str, heading: str) -> str:
    m = re.search(rf"^{heading}$(.*?)(?=^[A-Z][A-Z ]+$|\Z)", text, re.M | re.S)
    assert m, heading
    return " ".join(m.group(1).split())


@pytest.fixture(scope="module")
def reports() -> dict[str, str]:
    return {name: render_report(doc) for name, doc in DOCS.items()}


@pytest.mark.parametrize("name", sorted(DOCS))
def test_no_empty_fields_ratios_or_certainty(reports, name):
    text = reports[name]
    flat = " ".join(text.split())
    assert not re.search(r"\b(None|null|nan)\b|\?", text)
    assert not re.search(r"\bLR\b|likelihood ratio", text, re.I) and "100 %" not in flat
    assert max(len(line) for line in text.splitlines()) <= 78


def test_renal_primary_gets_level_side_and_a_conditional_kidney_t(reports):
    imp = _section(reports["rcc-level-II-cT3b"], "IMPRESSION")
    assert ("tumour thrombus from a right renal or adrenal primary: Neves-Zincke level II (infrahepatic IVC, "
            "more than 2 cm above the renal veins, below the hepatic veins)") in imp
    assert ("Clinical kidney staging (AJCC 8th ed., kidney), if renal cell carcinoma: cT3b (tumour thrombus in the "
            "IVC below the diaphragm; no invasion of the IVC wall; no organ invasion).") in imp
    assert "AJCC soft-tissue sarcoma staging does not apply" in imp
    assert "Only if histology shows a sarcoma" not in imp       # one conditional stage, not two side by side
    assert "adrenal cortical carcinoma" in imp                  # the other organ the lead may be


def test_renal_primary_says_what_is_missing_for_the_kidney_t(reports):
    imp = _section(reports["rcc-atrium-not-marked"], "IMPRESSION")
    assert "if renal cell carcinoma: at least cT3b (cT3b or cT3c possible;" in imp
    assert "To narrow it, record the cavo-atrial junction (ivc.right_atrium_z_mm) or intracardiac extension." in imp
    imp = _section(reports["rcc-level-IV-cT3c"], "IMPRESSION")
    assert "left renal or adrenal primary: Neves-Zincke level IV" in imp and "renal cell carcinoma: cT3c" in imp


def test_ivc_leiomyosarcoma_gets_segments_not_a_thrombus_level(reports):
    text = reports["lms-ivc-intracardiac"]
    imp = _section(text, "IMPRESSION")
    assert ("Intravascular tumour in the IVC (segments 2 and 3: suprarenal-infrahepatic IVC; suprahepatic IVC "
            "with extension into the right atrium)") in imp
    assert "2.5 cm above the cavo-atrial junction" in imp
    assert "level" not in imp and "Neves" not in text and "kidney staging" not in text
    assert "Clinical staging (AJCC 8th edition, soft-tissue sarcoma of the retroperitoneum)" in imp
    assert "IVC segments 2 and 3" in _section(text, "RECOMMENDATION")
    imp = _section(reports["lms-ivc-infrarenal"], "IMPRESSION")
    assert "(segment 1: infrarenal IVC)" in imp and "level" not in imp


@pytest.mark.parametrize("name", ["germ-cell-and-sarcoma-young-man", "germ-cell-nodal-young-man",
                                  "germ-cell-raised-markers-man"])
def test_markers_and_testicular_ultrasound_come_before_any_biopsy(reports, name):
    rec = _section(reports[name], "RECOMMENDATION")
    assert "Serum AFP, beta-hCG and LDH and testicular (scrotal) ultrasound before any biopsy" in rec
    first_needle = min(m.start() for m in re.finditer(r"core (needle )?biopsy|\bbiopsy route\b", rec))
    assert rec.index("Serum AFP") < first_needle
    assert rec.index("testicular (scrotal) ultrasound") < first_needle
