"""``workstation assess FINDINGS.json [--json]`` (docs/findings.md; cli.md and cli-v2.md).

Validates the findings document (rp-findings/1 or 1.1) and prints the T category, sarcoma staging
where it applies (or why it does not), IVC segments and extent, enhancement and thrombus calls, the
ranked differential with a word for each probability, and the recommended next steps. An invalid
document is exit 2 with one line naming the field.
"""
from __future__ import annotations

import argparse

from ..cli import print_json
from ..reasoning.findings import load_findings
from ..reasoning.ranking import Assessment, assess


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("findings", metavar="FINDINGS.json", help="findings document (rp-findings/1 or 1.1)")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    p.add_argument("--top", type=int, default=5, metavar="N", help="differentials in the text summary (default 5)")


def _stage_words(a: Assessment) -> str:
    if a.stage.group:
        return f"stage {a.stage.group}"
    missing = ", ".join(a.stage.missing) or "-"
    return f"stage one of {', '.join(a.stage.possible)} (missing: {missing})"


def _staging_line(a: Assessment) -> str:
    st = a.staging
    size = f" ({st.size_text})" if st is not None and st.size_text else ""
    if a.t_category is None:
        head = "T category: unknown (no greatest dimension)"
    else:
        head = f"T category: {a.t_category}{size}"
    if st is None or st.applies:
        label = st.label if st is not None else ""
        return f"{head}; clinical staging (AJCC 8th sarcoma) {label}; {_stage_words(a)}"
    cond = f"; {st.conditional}, {_stage_words(a)}" if st.conditional else ""
    return f"{head}; sarcoma staging does not apply: {st.note}{cond}"


def summary(a: Assessment, top: int = 5) -> str:
    """A short human summary of an assessment (the reasons keep their likelihood ratios; the
    recommendations and the IVC sentence are prose)."""
    lines = [_staging_line(a)]
    kidney = a.staging.kidney if a.staging is not None else None
    if kidney is not None:
        lines.append(f"Kidney staging ({kidney['classification']}, clinical): {kidney['label']}; {kidney['basis']}")
    if a.ivc_segments is not None:
        segs = ", ".join(map(str, a.ivc_segments)) or "none"
        lines.append(f"IVC segments involved: {segs}")
    if a.ivc_extent is not None:
        lines.append(f"IVC extent: {a.ivc_extent['text']}")
    if a.enhancement_call:
        lines.append(f"Enhancement: {a.enhancement_call.replace('_', ' ')}")
    if a.thrombus_call:
        lines.append(f"Intraluminal defect: {a.thrombus_call.replace('_', ' ')}")
    lines.append("Differential:")
    for d in a.differentials[: max(top, 1)]:
        lines.append(f"  {d.probability * 100:5.1f} %  {d.label} ({d.likelihood_word})")
        for r in d.raised_by[:2]:
            lines.append(f"           + {r.text}")
        for r in d.lowered_by[:1]:
            lines.append(f"           - {r.text}")
    if a.recommendations:
        lines.append("Next steps:")
        for k, rec in enumerate(a.recommendations, 1):
            lines.append(f"  {k}. {rec.text}")
            lines.append(f"     why: {rec.reason}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    a = assess(load_findings(args.findings))
    if args.json:
        print_json(a.to_dict())
    else:
        print(summary(a, args.top))
    return 0
