"""``workstation enhancement --pre SERIES --post SERIES --at X,Y,Z [--radius-mm R] [--fixed-radius] [--json]``.

``--radius-mm`` (default 10) is the largest sphere radius: the sphere shrinks to stay inside the
region of similar attenuation around the point on both series (e.g. a thrombus inside an opacified
vein); ``--fixed-radius`` measures exactly R. The JSON says the radius used (``radius_mm``), the one
asked for (``radius_requested_mm``) and ``flags`` (``high_sd``, ``straddles_boundary``).
"""
from __future__ import annotations

import argparse

from ..cli import parse_point, print_json
from ..errors import InputError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--pre", required=True, metavar="SERIES", help="pre-contrast series (folder, file or PATH#UID)")
    p.add_argument("--post", required=True, metavar="SERIES", help="post-contrast series")
    p.add_argument("--at", required=True, metavar="X,Y,Z", help="patient point on the pre series (LPS, mm)")
    p.add_argument("--radius-mm", default="10", metavar="R",
                   help="largest sphere radius in mm (default 10); the sphere shrinks to stay inside the "
                        "homogeneous region around the point unless --fixed-radius")
    p.add_argument("--fixed-radius", action="store_true",
                   help="measure a sphere of exactly R mm (no adaptation to the region)")
    p.add_argument("--json", action="store_true", help="print one JSON document")


def run(args: argparse.Namespace) -> int:
    from .. import load_series
    from ..measure.enhancement import measure_enhancement

    at = parse_point(args.at, "--at")
    try:
        radius = float(args.radius_mm)
    except ValueError:
        raise InputError(f"--radius-mm: expected a number of millimetres, got {args.radius_mm!r}") from None
    res = measure_enhancement(load_series(args.pre), load_series(args.post), at, radius_mm=radius,
                              adapt=not args.fixed_radius)
    doc = res.to_json()
    if args.json:
        print_json(doc)
        return 0
    u = "HU" if res.modality == "CT" else ""
    for name in ("pre", "post"):
        r = doc[name]
        print(f"{name:5s} mean {r['mean']:.1f} {u} sd {r['sd']:.1f} n {r['n']} at {r['center_mm']}")
    print(f"sphere radius {doc['radius_mm']:g} mm" + (f" (asked {res.radius_requested_mm:g} mm)" if res.adapted else ""))
    if res.modality == "CT":
        print(f"delta {doc['delta_hu']:.1f} HU: {doc['call']}")
    else:
        print(f"enhancement {doc['percent']:.1f}%: {doc['call']}")
    print(f"registration shift {doc['shift_mm']} mm" + ("" if res.registered else " (not applied)"))
    for f in doc["flags"]:
        print(f"flag: {f}")
    for n in doc["notes"]:
        print(f"note: {n}")
    return 0
