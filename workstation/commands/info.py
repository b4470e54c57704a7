"""``workstation info PATH [--json]``: the series found under a path and the files skipped."""
from __future__ import annotations

import argparse
from collections.abc import Iterable
from typing import Any

from ..cli import print_json


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", help="folder, DICOMDIR, zip or single DICOM file")
    p.add_argument("--json", action="store_true", help="print one JSON document")


def _fmt(vals: Iterable[float], digits: int = 3) -> str:
    return ", ".join(f"{v:.{digits}f}".rstrip("0").rstrip(".") for v in vals)


def print_table(doc: dict[str, Any]) -> None:
    print(f"{doc['path']}: {len(doc['series'])} series, {len(doc['skipped'])} file(s) skipped")
    for s in doc["series"]:
        print(f"\n  {s['series_uid']}")
        print(f"    {s['modality']:<4} {s['description'] or '(no description)'}")
        print(f"    images {s['n_images']} ({s['n_slices']} slices)  size {s['rows']} x {s['columns']}"
              f"  spacing [z, y, x] {_fmt(s['spacing_mm'])} mm")
        print(f"    origin {_fmt(s['origin_mm'], 2)} mm  orientation {_fmt(s['orientation'], 4)}")
        for w in s["warnings"]:
            print(f"    warning: {w}")
    if doc["skipped"]:
        print("\n  skipped:")
        for k in doc["skipped"]:
            print(f"    {k['file']}: {k['reason']}")


def run(args: argparse.Namespace) -> int:
    from ..dicom import scan

    doc = scan(args.path).to_json()
    if args.json:
        print_json(doc)
    else:
        print_table(doc)
    return 0
