"""``workstation probe SERIES --at X,Y,Z [--json]``: the voxel value at a patient point (LPS mm)."""
from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from ..cli import parse_point, print_json

if TYPE_CHECKING:
    from ..volume import Volume


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("series", help="folder or file with one series, or PATH#SERIES_UID")
    p.add_argument("--at", required=True, metavar="X,Y,Z", help="patient point (LPS, mm)")
    p.add_argument("--json", action="store_true", help="print one JSON document")


def probe(volume: Volume, point: tuple[float, float, float]) -> dict[str, Any]:
    """``hu`` (stored signal for MR, see ``unit``), nearest ``voxel`` [k, j, i], ``inside``."""
    idx = volume.nearest_index(point)
    value = None
    if idx is not None:
        v = volume.voxels[idx]
        value = int(v) if volume.voxels.dtype.kind in "iu" else round(float(v), 6)
    return {"series_uid": volume.series_uid, "at": list(point), "inside": idx is not None,
            "voxel": None if idx is None else [int(i) for i in idx], "hu": value, "unit": volume.unit}


def run(args: argparse.Namespace) -> int:
    from ..dicom import load_series

    point = parse_point(args.at)
    doc = probe(load_series(args.series), point)
    if args.json:
        print_json(doc)
    else:
        where = "outside the volume" if not doc["inside"] else f"voxel [k, j, i] {doc['voxel']}"
        val = "-" if doc["hu"] is None else f"{doc['hu']} {doc['unit']}"
        print(f"{doc['series_uid']}\n  point {args.at} mm: {where}\n  value {val}")
    return 0
