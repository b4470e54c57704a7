"""``workstation segment SERIES --seed X,Y,Z [--json]``: grow the lesion containing a seed and measure it."""
from __future__ import annotations

import argparse

from ..cli import parse_point, print_json


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("series", help="folder or file with one series, or PATH#SERIES_UID")
    p.add_argument("--seed", required=True, metavar="X,Y,Z", help="a point inside the lesion (LPS, mm)")
    p.add_argument("--json", action="store_true", help="print one JSON document")


def run(args: argparse.Namespace) -> int:
    from .. import load_series
    from ..measure.segment import grow_lesion

    seed = parse_point(args.seed, "--seed")
    volume = load_series(args.series)
    doc = grow_lesion(volume, seed).to_json()
    if args.json:
        print_json(doc)
        return 0
    unit = "HU" if volume.unit == "HU" else volume.unit

    def pct(v: float | None) -> str:
        return "-" if v is None else f"{100 * v:.1f}%"

    mean = doc["mean_hu"] if doc["mean_hu"] is not None else doc["mean_value"]
    print(f"lesion grown from {args.seed} mm ({doc['n_voxels']} voxels)")
    print(f"  volume               {doc['volume_ml']:.1f} ml")
    print(f"  greatest dimension   {doc['greatest_dimension_mm']:.1f} mm (3D)")
    print(f"  axial long x short   {doc['axial_long_mm']:.1f} x {doc['axial_short_mm']:.1f} mm")
    print(f"  craniocaudal         {doc['craniocaudal_mm']:.1f} mm")
    print(f"  mean                 {mean:.1f} {unit}")
    print(f"  fat / calcification / low attenuation: {pct(doc['fat_fraction'])} / "
          f"{pct(doc['calcification_fraction'])} / {pct(doc['low_attenuation_fraction'])}")
    for fid, why in doc["suggestions"].items():
        print(f"  suggests {fid}: {why}")
    return 0
