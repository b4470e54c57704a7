"""``workstation assess FINDINGS.json [--json]`` (shared/spec/cli.md).

Validates the findings document (findings-v1) and prints the T category, stage group (or the
possible groups and what is missing), IVC segments, enhancement and thrombus calls and the ranked
differential. An invalid document is exit 2 with one line naming the field.
"""
from __future__ import annotations

import argparse

from ..cli import print_json
from ..reasoning.findings import load_findings
from ..reasoning.ranking import Assessment, assess


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("findings", metavar="FINDINGS.json", help="findings document (rp-findings/1)")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    p.add_argument("--top", type=int, default=5, metavar="N", help="differentials in the text summary (default 5)")


def summary(a: Assessment, top: int = 5) -> str:
    """A short human summary of an assessment."""
    lines = []
    if a.stage.group:
        stage = f"stage {a.stage.group}"
    else:
        missing = ", ".join(a.stage.missing) or "-"
        stage = f"stage one of {', '.join(a.stage.possible)} (missing: {missing})"
    lines.append(f"T category: {a.t_category or 'unknown (no greatest dimension)'}; {stage}")
    if a.ivc_segments is not None:
        segs = ", ".join(map(str, a.ivc_segments)) or "none"
        lines.append(f"IVC segments involved: {segs}")
    if a.enhancement_call:
        lines.append(f"Enhancement: {a.enhancement_call.replace('_', ' ')}")
    if a.thrombus_call:
        lines.append(f"Intraluminal defect: {a.thrombus_call.replace('_', ' ')}")
    lines.append("Differential:")
    for d in a.differentials[: max(top, 1)]:
        lines.append(f"  {d.probability * 100:5.1f} %  {d.label}")
        for r in d.raised_by[:2]:
            lines.append(f"           + {r.text}")
        for r in d.lowered_by[:1]:
            lines.append(f"           - {r.text}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    a = assess(load_findings(args.findings))
    if args.json:
        print_json(a.to_dict())
    else:
        print(summary(a, args.top))
    return 0
