"""``workstation pacs echo | query | series | retrieve | send`` (spec: cli-v2.md, PACS; docs/pacs.md).

SERVER is ``http(s)://HOST:PORT/ROOT`` (DICOMweb), ``dicom://CALLED_AET@HOST:PORT`` (DIMSE) or a
name in the servers file. A server that cannot be reached, refuses or misbehaves: exit 2 and one
line naming it and the cause (every network call times out, ~10 s).
"""
from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..cli import print_json
from ..errors import WorkstationError


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", required=True, metavar="ACTION", parser_class=type(p))
    server_help = "http(s)://HOST:PORT/ROOT, dicom://CALLED_AET@HOST:PORT or a name in servers.toml"

    def action(name: str, helptext: str) -> argparse.ArgumentParser:
        a = sub.add_parser(name, help=helptext, description=helptext)
        a.add_argument("server", metavar="SERVER", help=server_help)
        a.add_argument("--aet", help="our (calling) AE title for DIMSE (default WORKSTATION)")
        return a

    e = action("echo", "check that the server answers (C-ECHO or a QIDO-RS query)")
    e.add_argument("--json", action="store_true", help="print one JSON document")

    q = action("query", "find studies")
    q.add_argument("--patient-id", metavar="ID")
    q.add_argument("--patient-name", metavar="PATTERN", help="DICOM matching, e.g. 'DOE^*'")
    q.add_argument("--study-date", metavar="YYYYMMDD[-YYYYMMDD]")
    q.add_argument("--modality", metavar="CT")
    q.add_argument("--accession", metavar="A")
    q.add_argument("--limit", type=int, metavar="N")
    q.add_argument("--json", action="store_true", help="print one JSON document")

    s = action("series", "list the series of a study")
    s.add_argument("study_uid", metavar="STUDY_UID")
    s.add_argument("--json", action="store_true", help="print one JSON document")

    r = action("retrieve", "write every instance of a study (or of some series) under DIR")
    r.add_argument("study_uid", metavar="STUDY_UID")
    r.add_argument("--series", action="append", metavar="SERIES_UID", help="only this series (repeatable)")
    r.add_argument("--out", required=True, metavar="DIR", help="folder to write into (one folder per series)")
    r.add_argument("--json", action="store_true", help="print one JSON document")

    st = action("send", "store files (an exported SR, SEG, a folder) on the server")
    st.add_argument("paths", nargs="+", metavar="PATH")
    st.add_argument("--json", action="store_true", help="print one JSON document")


def _progress_bar(label: str) -> Callable[[int, int], None] | None:
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        if total:
            filled = int(30 * min(done, total) / total)
            sys.stderr.write(f"\r{label} [{'#' * filled}{' ' * (30 - filled)}] {done}/{total}")
        else:
            sys.stderr.write(f"\r{label} {done}")
        sys.stderr.flush()

    return show


def _end_progress(bar: Callable[[int, int], None] | None) -> None:
    if bar is not None:
        sys.stderr.write("\n")


def _echo(client: Any, args: argparse.Namespace) -> int:
    t0 = time.monotonic()
    client.echo()
    ms = (time.monotonic() - t0) * 1000
    if args.json:
        print_json({"server": client.name, "ok": True, "ms": round(ms, 1)})
    else:
        print(f"server {client.name}: answers ({ms:.0f} ms)")
    return 0


def _query(client: Any, args: argparse.Namespace) -> int:
    from ..pacs import StudyQuery
    from ..pacs.base import check_date

    if args.limit is not None and args.limit < 1:
        raise WorkstationError("--limit: expected a positive number")
    q = StudyQuery(patient_id=args.patient_id, patient_name=args.patient_name,
                   study_date=check_date(args.study_date), modality=args.modality,
                   accession=args.accession, limit=args.limit)
    studies = client.find_studies(q)
    if args.json:
        print_json({"studies": [s.to_json() for s in studies]})
        return 0
    print(f"server {client.name}: {len(studies)} stud{'y' if len(studies) == 1 else 'ies'}")
    for s in studies:
        print(f"\n  {s.study_uid}\n    {s.patient_id}  {s.patient_name}  {s.study_date}  acc {s.accession}"
              f"\n    {s.description or '(no description)'}  {'/'.join(s.modalities)}"
              f"  series {s.n_series}  instances {s.n_instances}")
    return 0


def _series(client: Any, args: argparse.Namespace) -> int:
    series = client.find_series(args.study_uid)
    if args.json:
        print_json({"series": [s.to_json() for s in series]})
        return 0
    print(f"server {client.name}: {len(series)} series")
    for s in series:
        print(f"  {s.series_uid}  {s.modality:<4} {s.n_instances or '?':>5}  {s.description}")
    return 0


def _retrieve(client: Any, args: argparse.Namespace) -> int:
    from ..pacs.base import remove_temp_files

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise WorkstationError(f"--out: {out} is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WorkstationError(f"--out: cannot create {out} ({exc.strerror or exc})") from None
    remove_temp_files(out)  # what a killed earlier retrieve into DIR may have left
    bar = _progress_bar("retrieving")
    try:
        n = client.retrieve(args.study_uid, out, args.series, progress=bar)
    finally:
        _end_progress(bar)
        remove_temp_files(out)
    doc = {"study_uid": args.study_uid, "n_instances": n, "out": str(out)}
    if args.json:
        print_json(doc)
    else:
        print(f"{n} instance(s) written under {out}")
    return 0


def _send(client: Any, args: argparse.Namespace) -> int:
    from ..pacs import collect_files

    files = collect_files(args.paths)
    if not files:
        raise WorkstationError("PATH: no files to send")
    bar = _progress_bar("sending")
    try:
        result = client.store(files, progress=bar)
    finally:
        _end_progress(bar)
    if args.json:
        print_json(result.to_json())
    else:
        print(f"server {client.name}: {result.stored} stored, {len(result.failed)} failed")
        for f in result.failed:
            print(f"  {f['file']}: {f['reason']}")
    return 0 if not result.failed else 1


_ACTIONS: dict[str, Callable[[Any, argparse.Namespace], int]] = {
    "echo": _echo, "query": _query, "series": _series, "retrieve": _retrieve, "send": _send}


def run(args: argparse.Namespace) -> int:
    from ..pacs import connect

    client = connect(args.server, args.aet)
    for line in getattr(client, "warnings", []):  # once per run, e.g. TLS verification off
        sys.stderr.write(f"workstation: warning: {line}\n")
    return _ACTIONS[args.action](client, args)
