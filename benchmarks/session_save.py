"""Autosave cost: ``SessionStore.save`` against a naive save of everything, same state, same run.

The state is a typical read: 20 measurements, a findings document and a 120 x 512 x 512 lesion
mask (a 60 mm ellipsoid). Ours writes the mask once (cropped, bit-packed) and afterwards, while the
mask is unchanged, only the JSON (``masks=None``) — what the app does on a findings or measurement
change. The peer is what one would write first: ``json.dump`` of the findings and measurements plus
``np.savez_compressed`` of the whole mask on every save (plain writes; ours also fsyncs each file
for atomicity). Both write to a temporary folder; median and best of ``--runs`` saves, alternately.

Target (project judgement): a findings/measurement change costs well under 20 ms, so a 400 ms
debounce never queues saves.

    .venv/bin/python benchmarks/session_save.py [--runs 20]
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from workstation.measure.model import Caliper, Landmark
from workstation.session import SessionStore

FINDINGS = {"schema": "rp-findings/1", "greatest_dimension_mm": 121.0, "findings": {"necrosis": True}}


def _state() -> tuple[list, np.ndarray]:
    ms = [Caliper(series_uid="1.2.3", label=f"c{i}", p1=(0, 0, i), p2=(10, 0, i)) for i in range(15)]
    ms += [Landmark(series_uid="1.2.3", landmark="renal_vein", point=(0, 0, float(i))) for i in range(5)]
    mask = np.zeros((120, 512, 512), bool)
    zz, yy, xx = np.ogrid[:120, :512, :512]
    mask[(zz - 60) ** 2 * 9 + (yy - 250) ** 2 + (xx - 260) ** 2 < 60 ** 2] = True
    return ms, mask


def _naive(folder: Path, findings: dict, ms: list, mask: np.ndarray) -> None:
    (folder / "state.json").write_text(json.dumps({"findings": findings, "measurements": [m.to_dict() for m in ms]}))
    np.savez_compressed(folder / "mask.npz", mask=mask)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    ms, mask = _state()
    with tempfile.TemporaryDirectory() as tmp:
        store = SessionStore("bench", root=Path(tmp) / "ours")
        t0 = time.perf_counter()
        store.save(FINDINGS, ms, {"lesion": mask})
        first = time.perf_counter() - t0
        peer_dir = Path(tmp) / "peer"
        peer_dir.mkdir()
        ours, peer = [], []
        for i in range(args.runs):
            doc = {**FINDINGS, "greatest_dimension_mm": 100.0 + i}
            t0 = time.perf_counter()
            store.save(doc, ms)
            ours.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            _naive(peer_dir, doc, ms, mask)
            peer.append(time.perf_counter() - t0)
    print(f"first save with the mask (ours): {first * 1000:.1f} ms")
    print(f"change save, ours:  median {statistics.median(ours) * 1000:.2f} ms, best {min(ours) * 1000:.2f} ms")
    print(f"change save, naive: median {statistics.median(peer) * 1000:.2f} ms, best {min(peer) * 1000:.2f} ms")
    print(f"ratio (naive / ours, median): {statistics.median(peer) / statistics.median(ours):.1f}x")


if __name__ == "__main__":
    main()
