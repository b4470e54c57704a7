"""``workstation export FINDINGS.json --series SERIES --out DIR [--deidentify] [--json]``.

Writes ``findings.json``, ``report.txt`` and ``report-sr.dcm`` (TID 1500) into DIR, each atomically
(cli.md). Measurement records in the findings' ``x_measurements`` extension (calipers, ellipses,
landmarks, a grown lesion) go into the SR. Invalid findings: exit 2 with one line naming the field.
"""
from __future__ import annotations

import argparse
import sys

from ..cli import print_json


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("findings", metavar="FINDINGS.json", help="findings document (rp-findings/1)")
    p.add_argument("--series", required=True, help="folder or file with one series, or PATH#SERIES_UID")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (created if needed)")
    p.add_argument("--deidentify", action="store_true",
                   help="remove patient name, ID and birth date and remap UIDs in every file")
    p.add_argument("--json", action="store_true", help="print the written paths as one JSON document")


def run(args: argparse.Namespace) -> int:
    from ..dicom import load_series
    from ..export import export_study
    from ..measure.model import Measurement
    from ..reasoning.findings import load_findings

    findings = load_findings(args.findings).to_dict()      # FindingsError (exit 2) names the field
    measurements = [Measurement.from_dict(d) for d in findings.get("x_measurements") or []]
    volume = load_series(args.series)
    paths = export_study(findings, volume, args.out, measurements=measurements,
                         deidentify=args.deidentify)
    doc = {k: str(v) for k, v in paths.items()}
    doc["deidentified"] = bool(args.deidentify)
    if args.json:
        print_json(doc)
    else:
        for k in ("findings", "report", "sr"):
            print(doc[k], file=sys.stdout)
    return 0
