"""Honest probabilities (issue 10): the model meets the targets on cases it was not fitted on.

The cases (cases/calibration_cases.json) were written from the article and textbook knowledge; the
global parameters in model.json were fitted on the "fit" half only (benchmarks/calibration.py --fit).
These tests run the real model on every held-out case.
"""
from pathlib import Path

import pytest

from workstation.reasoning.calibration import (
    GRID,
    MAX_TOP_AMBIGUOUS,
    MIN_TOP1_CLEAR,
    MIN_TRUTH_AMBIGUOUS,
    evaluate,
    fit,
    load_cases,
    meets_targets,
    run,
    violations,
)
from workstation.reasoning.findings import DIFFERENTIAL_IDS
from workstation.reasoning.knowledge import OTHER_ID, load_knowledge
from workstation.reasoning.ranking import ModelParams

CASES = load_cases(Path(__file__).resolve().parent / "cases" / "calibration_cases.json")
FIT = [c for c in CASES if c.set == "fit"]
HELDOUT = [c for c in CASES if c.set == "heldout"]


def test_the_case_set_is_split_and_covers_every_diagnosis():
    assert 60 <= len(CASES) <= 120 and len({c.id for c in CASES}) == len(CASES)
    assert {c.set for c in CASES} == {"fit", "heldout"} and len(HELDOUT) >= 30
    for dx in DIFFERENTIAL_IDS:
        assert any(c.truth == dx for c in FIT) and any(c.truth == dx for c in HELDOUT), dx
    assert {c.truth for c in CASES} <= {*DIFFERENTIAL_IDS, OTHER_ID}
    assert sum(c.ambiguous for c in HELDOUT) >= 5 and all(c.note for c in CASES)


def test_every_held_out_case_is_within_its_target_rank():
    results = run(HELDOUT)
    out = [(r.id, r.rank, r.target_rank, r.top_id) for r in results if r.rank > r.target_rank]
    assert out == []


def test_held_out_top1_and_ambiguous_cases_meet_the_issue_targets():
    """Top-1 >= 90 % on the held-out cases not flagged ambiguous (an ambiguous case is judged by its
    own criteria: the truth is not expected first); the ambiguous ones: top <= 0.97, truth >= 0.10."""
    m = evaluate(HELDOUT)
    assert m.top1_clear >= MIN_TOP1_CLEAR == 0.90
    assert m.top1 >= 0.85   # over all held-out cases, a quarter of them ambiguous
    assert m.n_ambiguous >= 5
    assert m.max_top_ambiguous <= MAX_TOP_AMBIGUOUS == 0.97
    assert m.min_truth_ambiguous >= MIN_TRUTH_AMBIGUOUS == 0.10
    assert meets_targets(m)


def test_new_model_beats_the_naive_bayes_on_held_out_cases():
    """The old engine's behaviour (no pooling, no other, no tempering or smoothing, N1/M1 counted)
    reproduced with the same knowledge base: on unseen cases it loses more and is overconfident on
    the ambiguous ones, where the new model is not."""
    naive = ModelParams(other_prior=0.0, evidence_weight=1.0, group_damping=1.0, smoothing=0.0,
                        staging_as_evidence=True)
    new, old = evaluate(HELDOUT), evaluate(HELDOUT, naive)
    assert new.log_loss < old.log_loss
    assert old.max_top_ambiguous > MAX_TOP_AMBIGUOUS >= new.max_top_ambiguous
    assert not meets_targets(old) and meets_targets(new)


def test_model_json_holds_the_parameters_the_fit_set_chooses():
    """The parameters in model.json are exactly what the grid fit on the fit cases returns (so they
    were not tuned by hand, and not on the held-out cases)."""
    prm, _ = fit(FIT, GRID)
    assert prm == ModelParams.from_kb(load_knowledge())
    assert violations(run(FIT, prm)) <= 1   # no grid point meets every fit case (one 4-way picture)


@pytest.mark.parametrize("case", [c for c in HELDOUT if c.ambiguous], ids=lambda c: c.id)
def test_no_ambiguous_case_is_called_with_certainty(case):
    (r,) = run([case])
    assert r.p_top <= MAX_TOP_AMBIGUOUS and r.p_truth >= MIN_TRUTH_AMBIGUOUS, (r.top_id, r.p_top, r.p_truth)
