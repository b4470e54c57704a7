"""The knowledge base (``resources/knowledge/``) read once into likelihood-ratio tables.

Data, not code: priors in ``differentials.json``; per-differential P(finding | d) with source and
rationale in ``evidence/<id>.json``; the reference rates for diagnoses an evidence file is silent
about in ``defaults.json``; caps, bands and wording in ``model.json``.

For each finding f and differential d the model uses P(f | d) (evidence file, else default). The
reference P(f) is the prior-weighted mixture over the 13 differentials, so that
``LR+ = P(f|d) / P(f)`` and ``LR- = (1 - P(f|d)) / (1 - P(f))`` are Bayes factors against the whole
population and a softmax over ``log prior + sum log LR`` is exactly naive Bayes. Categorical fields
(age band, sex, size band, enhancement pattern, growth pattern, enhancement call, thrombus call, IVC
level) work the same way over their values; each distribution is normalised. Every ratio is clipped
to ``[1/lr_cap, lr_cap]`` (model.json) to keep the model humble.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dc_field
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from ..errors import WorkstationError
from ..resources import load_json, resource_path
from .findings import CHECKLIST_IDS, DIFFERENTIAL_IDS, FIELD_SPECS

#: the id of the explicit "something else" class (model.json ``other``); not a spec differential id
OTHER_ID = "other"

#: categorical "fields" of the model; ``age_band``/``size_band``/``ivc_level`` are derived from
#: ``age_years``/``greatest_dimension_mm``/``ivc``; the calls from the rules.
CATEGORICAL_FIELDS = (
    "age_band", "sex", "size_band", "enhancement_pattern", "growth_pattern",
    "enhancement_call", "thrombus_call", "ivc_level",
)


class KnowledgeError(WorkstationError):
    """The knowledge base is inconsistent (names the file and entry)."""


@dataclass(frozen=True)
class Entry:
    """What the knowledge base says about one feature for one differential."""

    p: float | Mapping[str, float]     # P(present | d), or a distribution over values
    basis: str
    source: str
    rationale: str
    prevalence: str | None = None
    default: bool = False              # True: from defaults.json (the evidence file is silent)


@dataclass(frozen=True)
class KnowledgeBase:
    ids: tuple[str, ...]
    labels: Mapping[str, str]
    text_labels: Mapping[str, str]
    priors: tuple[float, ...]
    log_priors: tuple[float, ...]
    #: feature -> (log LR+ per differential, log LR- per differential)
    binary: Mapping[str, tuple[tuple[float, ...], tuple[float, ...]]]
    #: field -> value -> log LR per differential
    categorical: Mapping[str, Mapping[str, tuple[float, ...]]]
    #: (feature or field, differential id) -> Entry
    entries: Mapping[tuple[str, str], Entry]
    #: feature -> {"yes": phrase, "no": phrase}
    phrases: Mapping[str, Mapping[str, str]]
    model: Mapping[str, Any]
    #: differential ids that are soft-tissue sarcomas (AJCC sarcoma staging applies)
    sarcoma_ids: frozenset[str] = frozenset()
    #: feature -> evidence group id (model.json ``groups``); features in no group are absent
    group_of: Mapping[str, str] = dc_field(default_factory=dict)
    #: features that stage a malignancy and are not diagnostic evidence (model.json ``staging_only``)
    staging_only: frozenset[str] = frozenset()

    def lr(self, feature: str, dx: str, value: Any = True) -> float:
        """The (capped) likelihood ratio of a feature value for one differential."""
        i = self.ids.index(dx)
        if feature in self.binary:
            pos, neg = self.binary[feature]
            return math.exp((pos if value else neg)[i])
        return math.exp(self.categorical[feature][value][i])


def _check_p(p: Any, where: str) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
        raise KnowledgeError(f"{where}: probability must be a number in [0, 1], got {p!r}")
    return float(p)


def _dist(d: Any, values: tuple[str, ...], where: str) -> dict[str, float]:
    if not isinstance(d, Mapping) or set(d) != set(values):
        got = sorted(d) if isinstance(d, Mapping) else d
        raise KnowledgeError(f"{where}: distribution must give every value of {values}, got {got!r}")
    tot = sum(_check_p(v, f"{where}.{k}") for k, v in d.items())
    if tot <= 0:
        raise KnowledgeError(f"{where}: distribution sums to zero")
    return {k: d[k] / tot for k in values}


def _values_of(field: str, model: Mapping[str, Any], defaults: Mapping[str, Any]) -> tuple[str, ...]:
    if field == "age_band":
        return tuple(b["id"] for b in model["age_bands"])
    if field == "size_band":
        return tuple(b["id"] for b in model["size_bands"])
    if field == "ivc_level":
        return tuple(model["ivc_levels"]["values"])
    if field in ("enhancement_pattern", "growth_pattern"):
        return tuple(FIELD_SPECS[field]["enum"])
    if field == "sex":
        return ("female", "male")  # "other" is not scored
    return tuple(defaults["categorical"][field]["distribution"])


@lru_cache(maxsize=1)
def load_knowledge() -> KnowledgeBase:
    """Read, check and tabulate the knowledge base (cached)."""
    diffs = load_json("knowledge", "differentials.json")["differentials"]
    defaults = load_json("knowledge", "defaults.json")
    model = load_json("knowledge", "model.json")
    ids = tuple(d["id"] for d in diffs)
    if ids != DIFFERENTIAL_IDS:  # pragma: no cover - same file
        raise KnowledgeError("differentials.json: ids differ from DIFFERENTIAL_IDS")
    priors = tuple(_check_p(d["prior"], f"differentials.json: {d['id']}.prior") for d in diffs)
    if abs(sum(priors) - 1) > 1e-9:
        raise KnowledgeError(f"differentials.json: priors sum to {sum(priors)}, not 1")

    floor, ceil = float(model["probability_floor"]), float(model["probability_ceiling"])
    cap = math.log(float(model["lr_cap"]))

    def clamp(p: float) -> float:
        return min(max(p, floor), ceil)

    def clip(x: float) -> float:
        return min(max(x, -cap), cap)

    binary_defaults: dict[str, Mapping[str, Any]] = {**defaults["findings"], **defaults["derived"]}
    missing = set(CHECKLIST_IDS) - set(defaults["findings"])
    if missing:
        raise KnowledgeError(f"defaults.json: no default for checklist ids {sorted(missing)}")
    unknown = set(defaults["findings"]) - set(CHECKLIST_IDS)
    if unknown:
        raise KnowledgeError(f"defaults.json: unknown checklist ids {sorted(unknown)}")

    dsrc, dbasis = defaults["source"], defaults["basis"]
    entries: dict[tuple[str, str], Entry] = {}
    p_bin: dict[str, list[float]] = {}
    p_cat: dict[str, list[dict[str, float]]] = {}
    values: dict[str, tuple[str, ...]] = {}
    for feat, spec in binary_defaults.items():
        p = _check_p(spec["default"], f"defaults.json: {feat}.default")
        p_bin[feat] = [p] * len(ids)
        for dx in ids:
            about = spec.get("about", "Not described for this diagnosis; baseline rate.")
            entries[(feat, dx)] = Entry(p, dbasis, dsrc, about, None, True)
    for field in CATEGORICAL_FIELDS:
        values[field] = _values_of(field, model, defaults)
        base = defaults["categorical"][field]["distribution"]
        base = {k: v for k, v in base.items() if k in values[field]}
        dist = _dist(base, values[field], f"defaults.json: categorical.{field}")
        p_cat[field] = [dist] * len(ids)
        for dx in ids:
            about = "Not described for this diagnosis; baseline distribution."
            entries[(field, dx)] = Entry(dist, dbasis, dsrc, about, None, True)

    for k, dx in enumerate(ids):
        name = f"evidence/{dx}.json"
        if not resource_path("knowledge", "evidence", f"{dx}.json").is_file():
            raise KnowledgeError(f"{name}: missing")
        doc = load_json("knowledge", "evidence", f"{dx}.json")
        if doc.get("id") != dx:
            raise KnowledgeError(f"{name}: id is {doc.get('id')!r}, expected {dx!r}")
        seen: set[str] = set()
        for j, e in enumerate(doc["evidence"]):
            where = f"{name}: evidence[{j}]"
            for key in ("basis", "source", "rationale"):
                if not isinstance(e.get(key), str) or not e[key].strip():
                    raise KnowledgeError(f"{where}: missing {key}")
            if e["basis"] not in ("article", "convention", "judgement"):
                raise KnowledgeError(f"{where}: basis must be article, convention or judgement")
            if "finding" in e:
                feat = e["finding"]
                if feat not in binary_defaults:
                    raise KnowledgeError(f"{where}: unknown finding {feat!r}")
                pb = _check_p(e.get("p"), f"{where}.p")
                p_bin[feat] = p_bin[feat][:k] + [pb] + p_bin[feat][k + 1:]
                value: float | Mapping[str, float] = pb
            elif "field" in e:
                feat = e["field"]
                if feat not in CATEGORICAL_FIELDS:
                    raise KnowledgeError(f"{where}: unknown field {feat!r}")
                pd = _dist(e.get("distribution"), values[feat], f"{where}.distribution")
                p_cat[feat] = p_cat[feat][:k] + [pd] + p_cat[feat][k + 1:]
                value = pd
            else:
                raise KnowledgeError(f"{where}: needs 'finding' or 'field'")
            if feat in seen:
                raise KnowledgeError(f"{where}: {feat!r} given twice")
            seen.add(feat)
            entries[(feat, dx)] = Entry(value, e["basis"], e["source"], e["rationale"], e.get("prevalence"))

    binary: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {}
    for feat, ps in p_bin.items():
        ps = [clamp(p) for p in ps]
        ref = sum(w * p for w, p in zip(priors, ps, strict=False))
        binary[feat] = (
            tuple(clip(math.log(p / ref)) for p in ps),
            tuple(clip(math.log((1 - p) / (1 - ref))) for p in ps),
        )
    categorical: dict[str, dict[str, tuple[float, ...]]] = {}
    for field, dists in p_cat.items():
        categorical[field] = {}
        for v in values[field]:
            ps = [clamp(d[v]) for d in dists]
            ref = sum(w * p for w, p in zip(priors, ps, strict=False))
            categorical[field][v] = tuple(clip(math.log(p / ref)) for p in ps)

    phrases = {f: {"yes": s["yes"], "no": s["no"]} for f, s in binary_defaults.items()}
    known = set(binary_defaults) | set(CATEGORICAL_FIELDS)
    group_of: dict[str, str] = {}
    for g in model["groups"]["list"]:
        for feat in g["members"]:
            if feat not in known or feat in group_of:
                raise KnowledgeError(f"model.json: groups.{g['id']}: unknown or repeated feature {feat!r}")
            group_of[feat] = g["id"]
    staging_only = frozenset(model["staging_only"]["features"])
    if not staging_only <= known:
        raise KnowledgeError("model.json: staging_only names an unknown feature")
    return KnowledgeBase(
        ids=ids,
        labels={d["id"]: d["label"] for d in diffs},
        text_labels={d["id"]: d.get("text_label", d["label"]) for d in diffs},
        priors=priors,
        log_priors=tuple(math.log(p) for p in priors),
        binary=binary,
        categorical=categorical,
        entries=entries,
        phrases=phrases,
        model=model,
        sarcoma_ids=frozenset(d["id"] for d in diffs if d.get("sarcoma")),
        group_of=MappingProxyType(group_of),
        staging_only=staging_only,
    )
