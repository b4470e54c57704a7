"""Time to grow and measure: the sample mass, and a 15 cm mass in a 300-slice 512x512 series.

Targets (issue 5): under 1 s for the sample mass, under 3 s for the 15 cm mass.
Run: ``.venv/bin/python benchmarks/segment.py``.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "workstation" / "measure"))

from measure_phantoms import add_noise, blank, ellipsoid_fraction, ellipsoid_truth, paint, rotation, slab_fraction  # noqa: E402

from workstation import load_series  # noqa: E402
from workstation.measure.segment import grow_lesion  # noqa: E402
from workstation.resources import SAMPLE_DICOM  # noqa: E402


def _time(vol, seed, repeat=3):
    best, res = np.inf, None
    for _ in range(repeat):
        t = time.perf_counter()
        res = grow_lesion(vol, seed)
        best = min(best, time.perf_counter() - t)
    return best, res


def sample_mass() -> None:
    truth = json.loads((SAMPLE_DICOM / "truth.json").read_text())
    vol = load_series(SAMPLE_DICOM / truth["series"]["ct_pre"]["path"])
    m = truth["mass"]
    dt, r = _time(vol, m["seed_mm"])
    print(f"sample mass  {vol.shape} {vol.spacing_mm} mm: {dt:.2f} s (target < 1 s); "
          f"volume {r.volume_ml:.1f} ml (truth {m['volume_ml']:.1f}), greatest dimension "
          f"{r.greatest_dimension_mm:.1f} mm (truth {m['greatest_dimension_mm']:.1f})")


def big_mass() -> None:
    shape, spacing = (300, 512, 512), (1.0, 0.78, 0.78)
    vol = blank(shape, spacing, -100.0)
    c = vol.index_to_patient((150, 256, 256))
    axes, R = (75.0, 55.0, 60.0), rotation(0, 15, 25)
    paint(vol, ellipsoid_fraction(vol, c, axes, R), 42.0)
    paint(vol, ellipsoid_fraction(vol, c, (30.0, 20.0, 25.0), R), 15.0)              # necrotic core
    ext = np.sqrt(np.sum((R * np.asarray(axes)) ** 2, axis=1))
    paint(vol, slab_fraction(vol, c + np.array([ext[0] - 1.0, 0, 0]), (1, 0, 0), 30), 52.0)  # psoas-like
    add_noise(vol, 10.0, seed=1)
    seed = c + R @ np.array([50.0, 0, 0])
    dt, r = _time(vol, seed)
    t = ellipsoid_truth(axes)
    print(f"15 cm mass   {shape} {spacing} mm: {dt:.2f} s (target < 3 s); volume {r.volume_ml:.1f} ml "
          f"(truth {t['volume_ml']:.1f}), greatest dimension {r.greatest_dimension_mm:.1f} mm "
          f"(truth {t['greatest_dimension_mm']:.1f})")


if __name__ == "__main__":
    sample_mass()
    big_mass()
