"""Knowledge-base integrity: every id known, every entry with provenance, priors valid, no copying."""
import hashlib
import json
import math
import re
from pathlib import Path

from tests.conftest import ROOT
from workstation.reasoning.findings import CHECKLIST_IDS, DIFFERENTIAL_IDS, FIELD_SPECS
from workstation.reasoning.knowledge import CATEGORICAL_FIELDS, load_knowledge
from workstation.resources import load_json, resource_path

KDIR = resource_path("knowledge")
HERE = Path(__file__).resolve().parent
SPEC_GROUPS = {"clinical": "Clinical", "composition_morphology": "Composition and morphology",
               "location_relations": "Location and relations", "spread": "Spread"}


def evidence_docs():
    return {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted((KDIR / "evidence").glob("*.json"))}


def test_checklist_groups_follow_the_spec():
    spec = (ROOT / "docs" / "findings.md").read_text(encoding="utf-8")
    part = spec.split("## Checklist ids")[1].split("## Differential ids")[0]
    heads = r"\n(?=Clinical:|Composition and morphology:|Location and relations:|Spread and associated findings:)"
    chunks = re.split(heads, part)
    spec_groups = [[i for i in re.findall(r"`([a-z0-9_]+)`", c) if i != "findings"] for c in chunks]
    spec_groups = [g for g in spec_groups if g]
    groups = load_json("checklist.json")["groups"]
    assert [g["id"] for g in groups] == list(SPEC_GROUPS)
    assert [[it["id"] for it in g["items"]] for g in groups] == spec_groups
    for g in groups:
        for it in g["items"]:
            assert it["label"].strip() and it["help"].strip() and len(it["help"]) < 120


def test_numeric_and_categorical_fields_are_described():
    for name in ("age_years", "sex", "greatest_dimension_mm", "grade", "enhancement_delta_hu",
                 "enhancement_percent", "thrombus_delta_hu", "enhancement_pattern", "growth_pattern", "ivc"):
        spec = FIELD_SPECS[name]
        assert spec["type"] and spec["label"] and spec["help"]
        if spec["type"] in ("enum", "integer_enum"):
            assert set(map(str, spec["enum"])) == set(spec["labels"])
    assert FIELD_SPECS["age_years"]["min"] == 0 and FIELD_SPECS["age_years"]["max"] == 120
    assert FIELD_SPECS["grade"]["enum"] == [1, 2, 3]


def test_every_differential_has_a_prior_and_an_evidence_file():
    diffs = load_json("knowledge", "differentials.json")["differentials"]
    assert [d["id"] for d in diffs] == list(DIFFERENTIAL_IDS)
    assert abs(math.fsum(d["prior"] for d in diffs) - 1) < 1e-9
    assert all(0 < d["prior"] < 1 and d["source"] and d["rationale"] for d in diffs)
    assert sorted(evidence_docs()) == sorted(DIFFERENTIAL_IDS)


def test_article_prevalence_order_is_in_the_priors():
    kb = load_knowledge()
    p = dict(zip(kb.ids, kb.priors, strict=False))
    assert max(p, key=p.get) == "nodal_metastases"  # more prevalent than any primary
    assert p["liposarcoma"] > p["leiomyosarcoma"]  # most common primary RP sarcoma
    neuro = sum(p[i] for i in ("neurofibroma", "schwannoma", "ganglioneuroma", "paraganglioma"))
    neoplasm = 1 - p["hematoma"] - p["retroperitoneal_fibrosis"] - p["castleman_disease"]
    assert 0.10 <= neuro / neoplasm <= 0.20


def test_every_entry_has_provenance_and_known_ids():
    defaults = load_json("knowledge", "defaults.json")
    known_findings = set(CHECKLIST_IDS) | set(defaults["derived"])
    assert set(defaults["findings"]) == set(CHECKLIST_IDS)
    n = 0
    for dx, doc in evidence_docs().items():
        assert doc["id"] == dx and doc["summary"]
        ev = doc["evidence"]
        assert len(ev) >= 15, dx
        for e in ev:
            n += 1
            assert e["source"].strip() and e["rationale"].strip() and e["basis"] in ("article", "convention", "judgement")
            if "finding" in e:
                assert e["finding"] in known_findings and 0 <= e["p"] <= 1
            else:
                assert e["field"] in CATEGORICAL_FIELDS
                assert abs(sum(e["distribution"].values()) - 1) < 0.02, (dx, e["field"])
            if e["basis"] == "convention":
                assert "Not in the article" in e["source"] or "article" not in e["source"].lower()
        # every diagnosis has something for and something against in the article's terms
        assert any(e["basis"] == "article" for e in ev), dx
    assert n > 250


def test_article_prevalence_figures_are_recorded():
    ev = evidence_docs()
    p = lambda dx, f: next(e["p"] for e in ev[dx]["evidence"] if e.get("finding") == f)  # noqa: E731
    assert p("liposarcoma", "calcification") == 0.3
    assert p("ganglioneuroma", "calcification") == 0.6
    assert p("paraganglioma", "calcification") == 0.15
    assert p("leiomyosarcoma", "intravascular_component") == 0.38
    assert p("leiomyosarcoma", "collateral_vessels") == 0.61
    gp = next(e for e in ev["leiomyosarcoma"]["evidence"] if e.get("field") == "growth_pattern")
    assert gp["distribution"] == {"extravascular": 0.62, "mixed": 0.33, "intravascular": 0.05}


def test_lrs_are_capped_and_both_directions_follow_from_p():
    kb = load_knowledge()
    cap = math.log(kb.model["lr_cap"])
    for pos, neg in kb.binary.values():
        assert all(-cap - 1e-12 <= x <= cap + 1e-12 for x in pos + neg)
    for vals in kb.categorical.values():
        for row in vals.values():
            assert all(-cap - 1e-12 <= x <= cap + 1e-12 for x in row)
    # a finding the article ties to one diagnosis favours it when present and argues against when absent
    assert kb.lr("macroscopic_fat", "liposarcoma", True) > 5 > 1 > 0.5 > kb.lr("macroscopic_fat", "liposarcoma", False)
    assert kb.lr("macroscopic_fat", "leiomyosarcoma", True) < 0.2
    assert kb.lr("contiguous_renal_or_adrenal_mass", "renal_adrenal_neoplasm_with_thrombus", False) < 0.1
    assert kb.lr("necrosis", "lymphoma", True) < 0.2 and kb.lr("vascular_invasion", "schwannoma", True) < 0.3
    assert kb.lr("enhancement_call", "hematoma", "not_enhancing") > 5
    assert kb.lr("enhancement_pattern", "castleman_disease", "early_intense") > 5


def _texts(obj):
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _texts(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _texts(v)


def _words(text):
    return re.sub(r"[^a-z0-9%]+", " ", text.lower()).split()


def _article_grams():
    """Hashes of every 12-word run of the seed article (data/article_12grams.sha1, made by
    data/make_article_grams.py): the check needs neither the article nor anything outside the repository."""
    lines = (HERE / "data" / "article_12grams.sha1").read_text(encoding="utf-8").splitlines()
    return {x for x in lines if x and not x.startswith("#")}


def _gram_hash(gram):
    return hashlib.sha1(" ".join(gram).encode()).hexdigest()[:12]


def test_no_sentence_of_12_words_is_copied_from_the_article():
    grams = _article_grams()
    assert len(grams) > 5000
    files = [resource_path("checklist.json"), resource_path("recommendations.json"), *KDIR.glob("*.json"),
             *(KDIR / "evidence").glob("*.json"), ROOT / "docs" / "findings.md"]
    checked = 0
    for p in files:
        text_of = p.read_text(encoding="utf-8")
        texts = [text_of] if p.suffix == ".md" else list(_texts(json.loads(text_of)))
        for text in texts:
            w = _words(text)
            for i in range(len(w) - 11):
                checked += 1
                assert _gram_hash(w[i:i + 12]) not in grams, f"{p.name}: copied from the article: {' '.join(w[i:i + 12])}"
    assert checked > 1000
    # the check itself can fail: the article's opening sentence (quoted here for the self-test) is caught
    quote = _words("Leiomyosarcoma is a malignant neoplasm that shows smooth muscle differentiation. It is")
    assert _gram_hash(quote[:12]) in grams


def test_mr_threshold_is_cited():
    mr = load_json("knowledge", "thresholds.json")["mr_enhancement"]
    assert "Silverman" in mr["source"] and "Bosniak" in mr["source"] and mr["enhancing_min"] == 15
