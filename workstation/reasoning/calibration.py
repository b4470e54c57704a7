"""Calibration metrics of the ranking on a set of cases (issue 10).

A case is a findings document with its true diagnosis (a differential id or ``other``), the worst
rank it should reach (``target_rank``) and an ``ambiguous`` flag. :func:`evaluate` runs the model and
returns log loss, top-1 accuracy, the share of cases within their target rank, and for the
ambiguous cases the largest top probability and the smallest probability of the truth.
:func:`fit` searches a grid of the four global parameters for the lowest log loss on the cases
given (the fit set only). Used by ``benchmarks/calibration.py`` and the calibration tests.
"""
from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .findings import Findings
from .knowledge import load_knowledge
from .ranking import Evidence, ModelParams, gather_evidence, rank
from .rules import apply_rules

#: probabilities below this are counted as this in the log loss (a wrong 0 would be infinite)
LOSS_FLOOR = 1e-6


@dataclass(frozen=True)
class Case:
    id: str
    set: str
    truth: str
    target_rank: int
    ambiguous: bool
    note: str
    findings: Findings


@dataclass(frozen=True)
class Result:
    id: str
    truth: str
    rank: int
    p_truth: float
    top_id: str
    p_top: float
    target_rank: int
    ambiguous: bool


@dataclass(frozen=True)
class Metrics:
    n: int
    log_loss: float
    top1: float                      # over every case
    top1_clear: float | None         # over the cases not flagged ambiguous
    rank_hits: float
    n_ambiguous: int
    max_top_ambiguous: float | None
    min_truth_ambiguous: float | None
    misses: tuple[str, ...]          # ids of cases outside their target rank

    def to_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


def load_cases(path: str | Path) -> list[Case]:
    """Read and validate a cases file (every findings document is checked)."""
    doc = json.loads(Path(path).read_text(encoding="utf-8"))
    return [Case(c["id"], c["set"], c["truth"], int(c["target_rank"]), bool(c["ambiguous"]), c["note"],
                 Findings.from_dict(c["findings"])) for c in doc["cases"]]


def _evidence(cases: Sequence[Case]) -> list[list[Evidence]]:
    kb = load_knowledge()
    return [gather_evidence(c.findings, apply_rules(c.findings), kb) for c in cases]


def run(cases: Sequence[Case], params: ModelParams | None = None,
        evidence: Sequence[list[Evidence]] | None = None) -> list[Result]:
    kb = load_knowledge()
    ev = evidence if evidence is not None else _evidence(cases)
    out = []
    for c, e in zip(cases, ev, strict=False):
        diffs = rank(e, kb, params, explain=False)
        ids = [d.id for d in diffs]
        k = ids.index(c.truth)
        out.append(Result(c.id, c.truth, k + 1, diffs[k].probability, diffs[0].id, diffs[0].probability,
                          c.target_rank, c.ambiguous))
    return out


def metrics(results: Sequence[Result]) -> Metrics:
    n = len(results)
    amb = [r for r in results if r.ambiguous]
    clear = [r for r in results if not r.ambiguous]
    return Metrics(
        n=n,
        log_loss=math.fsum(-math.log(max(r.p_truth, LOSS_FLOOR)) for r in results) / n,
        top1=sum(r.rank == 1 for r in results) / n,
        top1_clear=sum(r.rank == 1 for r in clear) / len(clear) if clear else None,
        rank_hits=sum(r.rank <= r.target_rank for r in results) / n,
        n_ambiguous=len(amb),
        max_top_ambiguous=max((r.p_top for r in amb), default=None),
        min_truth_ambiguous=min((r.p_truth for r in amb), default=None),
        misses=tuple(r.id for r in results if r.rank > r.target_rank),
    )


def evaluate(cases: Sequence[Case], params: ModelParams | None = None) -> Metrics:
    return metrics(run(cases, params))


#: the search grid of :func:`fit` (each parameter's candidate values). By design ``group_damping``
#: stays below 1 (1 would be naive Bayes inside a group: the same evidence counted again),
#: ``smoothing`` at 0.03 or more (no entry above 97.2 %: a checklist is never proof) and
#: ``other_prior`` at 0.15 or less (conditions outside the 13 are a minority; with only a few
#: "other" cases the fit would otherwise follow one case).
GRID: Mapping[str, tuple[float, ...]] = {
    "other_prior": (0.03, 0.06, 0.09, 0.12, 0.15),
    "evidence_weight": (0.6, 0.8, 1.0, 1.2, 1.4, 1.6, 1.8, 2.0),
    "group_damping": (0.0, 0.25, 0.5, 0.75),
    "smoothing": (0.03, 0.04, 0.05),
}

#: the issue's targets, checked on the held-out cases (never used in fitting)
MAX_TOP_AMBIGUOUS = 0.97
MIN_TRUTH_AMBIGUOUS = 0.10
MIN_TOP1_CLEAR = 0.90
#: the margins a fit case must meet to count as satisfied (0.95 / 0.15, tighter than the issue's
#: 0.97 / 0.10 so that cases not seen in fitting still meet those)
FIT_MAX_TOP_AMBIGUOUS = 0.95
FIT_MIN_TRUTH_AMBIGUOUS = 0.15


def meets_targets(m: Metrics, max_top: float = MAX_TOP_AMBIGUOUS, min_truth: float = MIN_TRUTH_AMBIGUOUS) -> bool:
    """Every case within its target rank, top-1 >= 90 % on the cases not flagged ambiguous, and on
    the ambiguous ones the top entry <= max_top and the truth >= min_truth."""
    amb_ok = m.n_ambiguous == 0 or (
        m.max_top_ambiguous is not None and m.max_top_ambiguous <= max_top
        and m.min_truth_ambiguous is not None and m.min_truth_ambiguous >= min_truth)
    top1_ok = m.top1_clear is None or m.top1_clear >= MIN_TOP1_CLEAR
    return m.rank_hits == 1.0 and amb_ok and top1_ok


def violations(results: Sequence[Result], max_top: float = FIT_MAX_TOP_AMBIGUOUS,
               min_truth: float = FIT_MIN_TRUTH_AMBIGUOUS) -> int:
    """Cases that miss their target: outside the target rank, or ambiguous and called with more
    than ``max_top`` or with the truth under ``min_truth``."""
    return sum((r.rank > r.target_rank) or (r.ambiguous and (r.p_top > max_top or r.p_truth < min_truth))
               for r in results)


def fit(cases: Sequence[Case], grid: Mapping[str, Iterable[float]] = GRID) -> tuple[ModelParams, float]:
    """The grid point with the fewest fit cases missing their targets (:func:`violations`), and
    among those the lowest log loss (ties: the first in grid order). Returns it and its log loss."""
    ev = _evidence(cases)
    best: tuple[int, float, ModelParams] | None = None
    names = ("other_prior", "evidence_weight", "group_damping", "smoothing")
    for values in itertools.product(*(tuple(grid[k]) for k in names)):
        v = dict(zip(names, values, strict=True))
        prm = ModelParams(v["other_prior"], v["evidence_weight"], v["group_damping"], v["smoothing"])
        res = run(cases, prm, ev)
        key = (violations(res), metrics(res).log_loss)
        if best is None or key[0] < best[0] or (key[0] == best[0] and key[1] < best[1] - 1e-12):
            best = (key[0], key[1], prm)
    assert best is not None
    return best[2], best[1]
