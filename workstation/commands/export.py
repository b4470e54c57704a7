"""``workstation export FINDINGS.json --series SERIES --out DIR [--deidentify] [--json]``.

Writes ``findings.json``, ``report.txt`` and ``report-sr.dcm`` (TID 1500) into DIR, each atomically
(cli.md). Measurement records in the findings' ``x_measurements`` extension (calipers, ellipses,
landmarks, a grown lesion) go into the SR. Every grown lesion also goes into ``lesion-seg.dcm``
(cli-v2.md): its mask as the app saved it for this study (the session store), or grown again from
its recorded seed. Invalid findings: exit 2 with one line naming the field. The files are one set
committed by ``manifest.json``; DIR holding another study's export: exit 2 with one line, nothing
written, unless ``--force``.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..cli import print_json

if TYPE_CHECKING:
    import numpy as np

    from ..measure.model import Measurement
    from ..volume import Volume


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("findings", metavar="FINDINGS.json", help="findings document (rp-findings/1)")
    p.add_argument("--series", required=True, help="folder or file with one series, or PATH#SERIES_UID")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (created if needed)")
    p.add_argument("--deidentify", action="store_true",
                   help="de-identify every file (PS3.15 basic profile by allow-list; UIDs remapped)")
    p.add_argument("--force", action="store_true",
                   help="replace another study's export in DIR (refused without it)")
    p.add_argument("--json", action="store_true", help="print the written paths as one JSON document")


def run(args: argparse.Namespace) -> int:
    from ..dicom import load_series
    from ..measure.model import Measurement
    from ..reasoning.findings import load_findings

    findings = load_findings(args.findings).to_dict()      # FindingsError (exit 2) names the field
    measurements = [Measurement.from_dict(d) for d in findings.get("x_measurements") or []]
    volume = load_series(args.series)
    return write_export(args, findings, volume, measurements, _saved_masks(volume))


def write_export(args: argparse.Namespace, findings: dict[str, Any], volume: Volume,
                 measurements: Sequence[Measurement], masks: Mapping[str, np.ndarray] | None) -> int:
    """Export as ``--out``/``--deidentify``/``--force``/``--json`` say, and print what was written
    (``workstation export`` and ``workstation reads export``)."""
    from ..export import ExportConflict, export_study

    try:
        paths = export_study(findings, volume, args.out, measurements=measurements,
                             deidentify=args.deidentify, masks=dict(masks) if masks else None, force=args.force)
    except ExportConflict as exc:          # exit 2, one line; nothing was written
        raise ExportConflict(f"{exc} (--force replaces it)") from None
    doc: dict[str, Any] = {k: str(v) for k, v in paths.items()}
    doc.setdefault("seg", None)
    doc["deidentified"] = bool(args.deidentify)
    if args.json:
        print_json(doc)
    else:
        for k in ("findings", "report", "sr", "seg"):
            if doc.get(k):
                print(doc[k], file=sys.stdout)
    return 0


def _saved_masks(volume: Volume) -> dict[str, np.ndarray]:
    """The lesion masks the app saved for this study (session store), if any."""
    import logging

    from ..errors import WorkstationError
    from ..session import SessionStore

    uid = (volume.meta or {}).get("study_uid")
    if not uid:
        return {}
    try:
        state = SessionStore.for_study(uid).load()
    except (WorkstationError, OSError) as exc:
        logging.getLogger(__name__).warning("export: saved lesion masks not usable (%s); lesions grown again", exc)
        return {}
    return dict(state.masks) if state is not None else {}
