"""PACS retrieve benchmark: the sample study (190 instances, 3 series, CT in RLE and explicit little
endian, MR) retrieved from a real Orthanc over each of our protocols, against Orthanc's own archive
download of the same study (``GET /studies/{id}/archive``, the zip written to a file), same run.

Orthanc is started as a plain process on free loopback ports (``TCP_NODELAY=1`` in its environment)
by ``tests/workstation/pacs/orthanc_server.py``; the sample is uploaded through its REST API. Then
``--rounds`` rounds, interleaved (archive, DICOMweb, DIMSE), each into a fresh folder; the best of
each is compared (single runs on this shared VM spread by +-20%). Every retrieve is checked: 190
files, none temporary. Target (issue 13): ours <= 1.5 x the archive download.

    .venv/bin/python benchmarks/pacs.py [--rounds 5]
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "workstation" / "pacs"))

from orthanc_server import OrthancServer, free_port  # noqa: E402

from workstation.atomic import is_temp_name  # noqa: E402
from workstation.pacs import connect  # noqa: E402
from workstation.resources import SAMPLE_DICOM  # noqa: E402

TARGET = 1.5


def archive_download(server: OrthancServer, orthanc_id: str, dest: Path) -> float:
    t0 = time.perf_counter()
    with urllib.request.urlopen(f"{server.http_url}/studies/{orthanc_id}/archive", timeout=60) as resp, \
            open(dest, "wb") as fh:
        shutil.copyfileobj(resp, fh, 1 << 20)
    return time.perf_counter() - t0


def ours(url: str, study_uid: str, out: Path) -> float:
    client = connect(url)
    t0 = time.perf_counter()
    n = client.retrieve(study_uid, out)
    dt = time.perf_counter() - t0
    files = [p for p in out.rglob("*") if p.is_file()]
    assert n == 190 and len(files) == 190 and not any(is_temp_name(p) for p in files), (n, len(files))
    return dt


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    files = sorted(f for f in (SAMPLE_DICOM / "study").rglob("*") if f.is_file())
    import pydicom

    study_uid = str(pydicom.dcmread(files[0], stop_before_pixels=True).StudyInstanceUID)
    with tempfile.TemporaryDirectory(prefix="rp-bench-pacs-") as tmp:
        work = Path(tmp)
        with OrthancServer(work / "orthanc", aet_port=free_port()) as server:
            t0 = time.perf_counter()
            server.upload(files)
            print(f"Orthanc {server.get_json('/system')['Version']}: sample uploaded "  # type: ignore[index]
                  f"({len(files)} files, {time.perf_counter() - t0:.2f} s)")
            oid = server.study_id(study_uid)
            size = sum(f.stat().st_size for f in files) / 1e6
            times: dict[str, list[float]] = {"archive": [], "dicomweb": [], "dimse": []}
            # one warm-up of each path (connections, imports, Orthanc's caches), not counted
            archive_download(server, oid, work / "warm.zip")
            ours(server.dicomweb_url, study_uid, work / "warm-web")
            ours(server.dimse_url, study_uid, work / "warm-dimse")
            for r in range(args.rounds):
                times["archive"].append(archive_download(server, oid, work / f"a{r}.zip"))
                times["dicomweb"].append(ours(server.dicomweb_url, study_uid, work / f"w{r}"))
                times["dimse"].append(ours(server.dimse_url, study_uid, work / f"d{r}"))
        peer = min(times["archive"])
        print(f"\nsample study: 190 instances, {size:.1f} MB; {args.rounds} rounds, best (median)")
        print(f"  {'Orthanc archive download (peer)':34s} {peer:6.3f} s ({statistics.median(times['archive']):.3f})")
        ok = True
        for key, label in (("dicomweb", "ours, DICOMweb (WADO-RS)"), ("dimse", "ours, DIMSE (C-GET)")):
            best = min(times[key])
            ratio = best / peer
            ok &= ratio <= TARGET
            print(f"  {label:34s} {best:6.3f} s ({statistics.median(times[key]):.3f})  "
                  f"{ratio:.2f} x the archive  [{'ok' if ratio <= TARGET else 'MISSED'}: target <= {TARGET} x]")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
