"""Export cost: the set commit and de-identification against their peers, same data, same run.

Data: the sample study's portal venous series (``workstation sample``) with a caliper, a landmark
and a grown-lesion record whose mask is a 40 mm ball, so the set holds findings.json, report.txt,
the SR and the SEG. Peers:

* writing the set: ``atomic_write_many`` (the previous writer: each file atomic on its own, no
  manifest, no staging folder) against ``commit_set`` (staging folder, manifest, roll-forward);
* de-identification: the plain export against ``deidentify=True`` (allow-list pass over the SR and
  SEG, scrubbed findings and report, post-check).

Median and best of ``--runs``, alternately, into temporary folders.

    .venv/bin/python benchmarks/export_set.py [--runs 5]
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from workstation import atomic
from workstation.dicom import load_series
from workstation.export import export_study
from workstation.measure.model import Caliper, Landmark, Lesion3D
from workstation.resources import SAMPLE_DICOM

FINDINGS = {"schema": "rp-findings/1", "age_years": 58, "sex": "female", "greatest_dimension_mm": 118.0,
            "enhancement_delta_hu": 42.0, "findings": {"necrosis": True, "macroscopic_fat": False}}


def _inputs() -> tuple:
    truth = json.loads((SAMPLE_DICOM / "truth.json").read_text())
    post = truth["series"]["ct_post"]
    vol = load_series(f"{SAMPLE_DICOM / 'study'}#{post['series_uid']}")
    seed = truth["mass"]["seed_mm"]
    k, j, i = (int(round(float(v))) for v in vol.patient_to_index(seed))
    zz, yy, xx = np.ogrid[: vol.shape[0], : vol.shape[1], : vol.shape[2]]
    dz, dy, dx = vol.spacing_mm
    mask = ((zz - k) * dz) ** 2 + ((yy - j) * dy) ** 2 + ((xx - i) * dx) ** 2 < 20.0 ** 2
    rec = Lesion3D(series_uid=vol.series_uid, label="target", seed=tuple(seed),
                   endpoints=(tuple(seed), tuple(seed)), figures={"greatest_dimension_mm": 40.0})
    ms = [Caliper(series_uid=vol.series_uid, label="AP", p1=tuple(seed), p2=(seed[0] + 30, seed[1], seed[2])),
          Landmark(series_uid=vol.series_uid, landmark="renal_vein", point=tuple(seed)), rec]
    return vol, ms, {rec.id: mask}


def _time(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    vol, ms, masks = _inputs()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        first = export_study(FINDINGS, vol, base / "probe", ms, masks=masks)
        payload = {p.name: p.read_bytes() for k, p in first.items() if k != "manifest"}
        size = sum(len(b) for b in payload.values())
        res: dict[str, list[float]] = {"atomic_write_many": [], "commit_set": [], "export plain": [],
                                       "export deidentified": []}
        many = base / "many"
        many.mkdir()
        for _ in range(args.runs):
            res["atomic_write_many"].append(_time(lambda: atomic.atomic_write_many(
                {many / n: b for n, b in payload.items()})))
            res["commit_set"].append(_time(lambda: atomic.commit_set(base / "set", payload, key="k")))
            res["export plain"].append(_time(lambda: export_study(FINDINGS, vol, base / "plain", ms, masks=masks)))
            res["export deidentified"].append(_time(lambda: export_study(
                FINDINGS, vol, base / "deid", ms, masks=masks, deidentify=True)))
    print(f"set: {len(payload)} files, {size / 1024:.0f} KiB; {args.runs} runs each (ms)")
    for name, ts in res.items():
        print(f"  {name:22s} median {statistics.median(ts):8.1f}   best {min(ts):8.1f}")
    w, c = statistics.median(res["atomic_write_many"]), statistics.median(res["commit_set"])
    p, d = statistics.median(res["export plain"]), statistics.median(res["export deidentified"])
    print(f"commit_set costs {c - w:+.1f} ms over atomic_write_many ({(c - w) / p * 100:.1f} % of an export); "
          f"de-identification {d - p:+.1f} ms ({(d - p) / p * 100:+.1f} %)")


if __name__ == "__main__":
    main()
