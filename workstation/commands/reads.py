"""``workstation reads list [--json] [--archived]`` and
``workstation reads export KEY --series SERIES --out DIR [--read READ_ID] [--deidentify] [--force] [--json]``.

The reads the app saved (``workstation.session``), headless. ``list`` shows each study's read in
progress (with ``--archived`` the archived reads too) with a neutral label — modality, series
count, last edited, a short key — what it holds, and whether a window has it open (process, host);
never a patient name, ID or path. ``export``
writes a saved read as ``workstation export`` does (``workstation.export.export_study``: findings,
report, SR, and the lesion masks as a SEG). ``KEY`` is the study key or an unambiguous prefix of it
(at least 6 characters, as the label shows); ``SERIES`` is a series folder or file, ``PATH#UID``,
or just a SeriesInstanceUID looked up in the folder the study was opened from.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from ..cli import print_json
from ..errors import WorkstationError
from ..session import ReadInfo, SessionState, SessionStore, default_root, list_reads, lock_owner


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="{list,export}")
    sub.required = True
    ls = sub.add_parser("list", help="list the saved reads (no patient data)")
    ls.add_argument("--archived", action="store_true", help="include the archived reads")
    ls.add_argument("--json", action="store_true", help="print one JSON document")
    ex = sub.add_parser("export", help="export a saved read (findings, report, SR, SEG)")
    ex.add_argument("key", metavar="KEY", help="study key (or a prefix of at least 6 characters)")
    ex.add_argument("--series", required=True,
                    help="series folder or file, PATH#SERIES_UID, or a SeriesInstanceUID of the saved study")
    ex.add_argument("--out", required=True, metavar="DIR", help="output folder (created if needed)")
    ex.add_argument("--read", metavar="READ_ID", help="an archived read instead of the read in progress")
    ex.add_argument("--deidentify", action="store_true", help="de-identify every file (as workstation export)")
    ex.add_argument("--force", action="store_true", help="replace another study's export in DIR")
    ex.add_argument("--json", action="store_true", help="print the written paths as one JSON document")


def run(args: argparse.Namespace) -> int:
    if args.action == "list":
        return _list(args)
    return _export(args)


def _list(args: argparse.Namespace) -> int:
    reads = list_reads(archived=bool(args.archived))
    owners = {r.key: lock_owner(SessionStore(r.key)) for r in reads if r.read_id is None}
    if args.json:
        docs = []
        for r in reads:
            d = r.to_dict()
            o = owners.get(r.key) if r.read_id is None else None
            d["open_by"] = o.to_dict() if o is not None else None
            docs.append(d)
        print_json({"reads": docs})
        return 0
    if not reads:
        print(f"no saved reads under {default_root()}", file=sys.stdout)
        return 0
    for r in reads:
        kind = "in progress" if r.read_id is None else f"archived {r.read_id}"
        o = owners.get(r.key) if r.read_id is None else None
        opened = f"  (open in {o.describe()})" if o is not None else ""
        print(f"{r.key}  {r.label()}  [{kind}]  {r.summary()}{opened}", file=sys.stdout)
    return 0


def _resolve_key(prefix: str) -> str:
    p = prefix.strip().lstrip("#")
    if len(p) < 6 or not p.isalnum():
        raise WorkstationError(f"KEY: expected a study key or a prefix of at least 6 letters/digits, got {p[:40]!r}")
    root = default_root()
    keys = sorted(d.name for d in root.iterdir() if d.is_dir() and d.name.startswith(p)) if root.is_dir() else []
    if not keys:
        raise WorkstationError(f"KEY: no saved read starts with {p!r} (see workstation reads list)")
    if len(keys) > 1:
        raise WorkstationError(f"KEY: {p!r} matches {len(keys)} studies; give more characters")
    return keys[0]


def _state(store: SessionStore, read_id: str | None) -> SessionState:
    st = store.load_read(read_id) if read_id else store.load()
    if st is None:
        raise WorkstationError(f"KEY {store.key[:6]}: no saved read" + (f" {read_id}" if read_id else ""))
    return st


def _series_path(series: str, info: ReadInfo | None) -> str:
    if os.path.exists(series.split("#", 1)[0]) or "#" in series:
        return series
    src = info.source_path if info is not None else None
    if not src or not os.path.exists(src):
        raise WorkstationError("--series: not a path, and the folder the study was opened from is not available")
    return f"{src}#{series}"


def _export(args: argparse.Namespace) -> int:
    from ..dicom import load_series
    from .export import write_export

    store = SessionStore(_resolve_key(args.key))
    state = _state(store, args.read)
    info = store.current_info() if not args.read else next(
        (r for r in store.reads() if r.read_id == args.read), None)
    volume = load_series(_series_path(args.series, info))
    findings: dict[str, Any] = dict(state.findings) or {"schema": "rp-findings/1"}
    return write_export(args, findings, volume, state.measurements, state.masks)
