"""Calibration of the differential ranking on the project's own cases (issue 10).

Prints, for the fit set and the held-out set: log loss (mean -ln p(truth)), top-1 accuracy, the share
of cases within their target rank, and on the ambiguous cases the largest top probability and the
smallest probability given to the truth — for the current model (model.json parameters) and for the
peer, the old naive Bayes (the reasoning code and knowledge of commit OLD_COMMIT, run from a
``git archive`` copy; version 1.1 fields are dropped from the cases for it since it cannot read them).

    .venv/bin/python benchmarks/calibration.py          # figures
    .venv/bin/python benchmarks/calibration.py --fit    # also search the grid on the fit set

Targets (issue 10): every held-out case within its target rank, top-1 >= 90 % (on the cases not
flagged ambiguous: an ambiguous case is judged by its own criteria, the truth is not expected first),
the largest top probability on ambiguous cases <= 0.97 with the truth >= 10 %. "top-1" is printed
over all cases and, in brackets, over the clear ones.
"""
from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "tests" / "workstation" / "reasoning" / "cases" / "calibration_cases.json"
OLD_COMMIT = "39f2e0d"  # last commit with the naive-Bayes ranking (before issue 10)

from workstation.reasoning.calibration import Metrics, evaluate, fit, load_cases  # noqa: E402
from workstation.reasoning.findings import V11_PATHS  # noqa: E402

_OLD_RUNNER = r"""
import json, math, sys, time
sys.path.insert(0, sys.argv[1])
from workstation.reasoning.ranking import assess
from workstation.reasoning.findings import Findings
out = []
cases = json.load(sys.stdin)
docs = [Findings.from_dict(c["findings"]) for c in cases]
best = float("inf")
for _ in range(3):
    t = time.perf_counter()
    for f in docs:
        assess(f)
    best = min(best, (time.perf_counter() - t) / len(docs))
print(f"{best * 1000:.3f}", file=sys.stderr)
for c in cases:
    ds = assess(c["findings"]).differentials
    ids = [d.id for d in ds]
    p = {d.id: d.probability for d in ds}
    out.append({"id": c["id"], "rank": ids.index(c["truth"]) + 1 if c["truth"] in ids else len(ids) + 1,
                "p_truth": p.get(c["truth"], 0.0), "p_top": ds[0].probability})
print(json.dumps(out))
"""


def _v1(doc: dict) -> dict:
    """A 1.1 document as the old reader can take it: 1.1 fields dropped, schema 1."""
    d = {k: v for k, v in doc.items() if k not in V11_PATHS}
    d["schema"] = "rp-findings/1"
    if "ivc" in d:
        d["ivc"] = {k: v for k, v in d["ivc"].items() if f"ivc.{k}" not in V11_PATHS}
    if "findings" in d:
        d["findings"] = {k: v for k, v in d["findings"].items() if f"findings.{k}" not in V11_PATHS}
    return d


OLD_MS: list[float] = []


def assess_ms(cases: list) -> float:
    """Best of 3 mean time of one assess (rules, ranking with reasons, staging, recommendations)."""
    import time

    from workstation.reasoning.ranking import assess
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        for c in cases:
            assess(c.findings)
        best = min(best, (time.perf_counter() - t) / len(cases))
    return best * 1000


def old_metrics(raw_cases: list[dict]) -> Metrics | None:
    """Metrics of the old naive Bayes (commit OLD_COMMIT) on these cases, or None without git."""
    from workstation.reasoning.calibration import LOSS_FLOOR
    with tempfile.TemporaryDirectory() as tmp:
        arch = subprocess.run(["git", "-C", str(ROOT), "archive", OLD_COMMIT, "workstation", "resources"],
                              capture_output=True)
        if arch.returncode != 0:
            return None
        subprocess.run(["tar", "-x", "-C", tmp], input=arch.stdout, check=True)
        payload = json.dumps([{"id": c["id"], "truth": c["truth"], "findings": _v1(c["findings"])} for c in raw_cases])
        r = subprocess.run([sys.executable, "-c", _OLD_RUNNER, tmp], input=payload, capture_output=True,
                           text=True, check=True)
    res = json.loads(r.stdout)
    OLD_MS.append(float(r.stderr.strip().splitlines()[-1]))
    amb = [(x, c) for x, c in zip(res, raw_cases, strict=False) if c["ambiguous"]]
    clear = [x for x, c in zip(res, raw_cases, strict=False) if not c["ambiguous"]]
    n = len(res)
    return Metrics(
        n=n,
        log_loss=math.fsum(-math.log(max(x["p_truth"], LOSS_FLOOR)) for x in res) / n,
        top1=sum(x["rank"] == 1 for x in res) / n,
        top1_clear=sum(x["rank"] == 1 for x in clear) / len(clear) if clear else None,
        rank_hits=sum(x["rank"] <= c["target_rank"] for x, c in zip(res, raw_cases, strict=False)) / n,
        n_ambiguous=len(amb),
        max_top_ambiguous=max((x["p_top"] for x, _ in amb), default=None),
        min_truth_ambiguous=min((x["p_truth"] for x, _ in amb), default=None),
        misses=tuple(x["id"] for x, c in zip(res, raw_cases, strict=False) if x["rank"] > c["target_rank"]),
    )


def _row(name: str, m: Metrics | None) -> str:
    if m is None:
        return f"{name:<34} (not available)"
    amb = ("-" if m.max_top_ambiguous is None
           else f"{m.max_top_ambiguous:.3f} / {m.min_truth_ambiguous:.3f}")
    clear = "-" if m.top1_clear is None else f"{m.top1_clear * 100:.1f} %"
    return (f"{name:<34} {m.n:>3} {m.log_loss:>8.3f} {m.top1 * 100:>6.1f} % {clear:>8} {m.rank_hits * 100:>6.1f} %"
            f"   {amb}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fit", action="store_true", help="search the parameter grid on the fit set")
    args = ap.parse_args()
    cases = load_cases(CASES)
    raw = json.loads(CASES.read_text(encoding="utf-8"))["cases"]
    sets = {s: [c for c in cases if c.set == s] for s in ("fit", "heldout")}
    raw_sets = {s: [c for c in raw if c["set"] == s] for s in ("fit", "heldout")}
    print(f"cases: {len(cases)} ({len(sets['fit'])} fit, {len(sets['heldout'])} held-out; "
          f"{sum(c.ambiguous for c in cases)} ambiguous)")
    if args.fit:
        prm, loss = fit(sets["fit"])
        print(f"grid fit on the fit set: {prm} (log loss {loss:.3f})")
    print(f"{'model / set':<34} {'n':>3} {'logloss':>8} {'top-1':>8} {'(clear)':>8} {'in rank':>8}"
          "   ambiguous: max top / min truth")
    named = {s: [c for c in sets[s] if c.truth != "other"] for s in sets}
    raw_named = {s: [c for c in raw_sets[s] if c["truth"] != "other"] for s in raw_sets}
    for s in ("fit", "heldout"):
        new = evaluate(sets[s])
        print(_row(f"new (model.json) / {s}", new))
        if new.misses:
            print(f"{'':<34} outside target rank: {', '.join(new.misses)}")
        old = old_metrics(raw_sets[s])
        print(_row(f"old naive Bayes {OLD_COMMIT} / {s}", old))
    print("the same without the 'other' cases (the old model has no 'other' class, so each such case costs it"
          " -ln 1e-6 = 13.8):")
    for s in ("fit", "heldout"):
        print(_row(f"new (model.json) / {s}", evaluate(named[s])))
        print(_row(f"old naive Bayes {OLD_COMMIT} / {s}", old_metrics(raw_named[s])))
    old_ms = f"{min(OLD_MS):.2f} ms" if OLD_MS else "n/a"
    print(f"assess per document: new {assess_ms(cases):.2f} ms, old naive Bayes {old_ms} (best of 3, {len(cases)} cases)")


if __name__ == "__main__":
    main()
