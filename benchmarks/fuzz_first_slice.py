"""Seeded mutation fuzzing of the launch preview, :func:`workstation.dicom.first_slice.first_slice`
(GDCM's C++ ``Scanner`` and ``ImageReader``, in-process, before the hardened loader runs).

    .venv/bin/python benchmarks/fuzz_first_slice.py --n 2000 [--seed 1] [--jobs 2] [--keep DIR]

Each case is a folder holding a regular three-slice series cut from the sample study (CT or MR), as
stored (explicit VR little endian) or re-encoded as RLE, JPEG-LS, JPEG 2000 or JPEG Lossless, with
one file (mostly the middle one, the file the preview decodes) mutated one way: benchmarks/fuzz.py's
bit flips, truncation, chunks and tag mutations; Rows/Columns/NumberOfFrames/BitsAllocated made
huge in all three files alike (so that the series stays "plain" and reaches the decoder); a huge
element length in the header or on Pixel Data; deeply nested sequences; a corrupted compressed
codestream; or, beside the series, a FIFO, links to /dev/zero, a 0-byte file, a folder named x.dcm.

Cases run in child processes limited to :data:`AS_LIMIT` of address space; each case has an alarm
that kills the child (SIGALRM, default action), so a hang inside C++ is seen as exit -14. A child's
VmHWM is reset before each case (``/proc/self/clear_refs``), so the peak memory is the case's own.
A case fails on a crash (negative exit), a hang, an exception escaping ``first_slice``, a
MemoryError inside it, anything written to stderr (GDCM writes to std::cerr), a peak above
:data:`MAX_RSS`, or a result that is neither None nor a preview of plausible shape. Prints counts
per outcome and mutation and the peak memory; ``--only I`` reruns one case.
"""
from __future__ import annotations

import json
import os
import random
import struct
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from fuzz import (  # noqa: E402
    AS_LIMIT,
    HOSTILE_INTS,
    bitflip,
    chunk,
    limit_address_space,
    parse_args,
    print_tally,
    tag_mutation,
    tally,
    truncate,
)

MAX_RSS = 1024 ** 3
CASE_ALARM_S = 30
SERIES = ("S002_CT_ABD_NONCONTRAST", "S501_MR_T2_AX")
SYNTAXES = ("native", "rle", "jpegls", "j2k", "jpeg")
KINDS = ("bitflip", "truncate", "chunk", "tag", "dims", "dims", "length", "nested", "codestream", "special")
HUGE = [0, 1, 3, 255, 256, 4096, 20000, 32768, 40000, 65535]
MARKER = b"FUZZMARKER"


@dataclass
class Case:
    index: int
    kind: str
    template: str
    path: str
    expect: list[int] | None  # a preview's (rows, columns): the template's, unless all were changed


# -- templates: three consecutive slices of a sample series, in each syntax ------------------------
def _three(series: str) -> list:
    import pydicom

    from workstation.resources import SAMPLE_DICOM

    files = sorted((SAMPLE_DICOM / "study" / series).glob("*.dcm"))
    if not files:
        raise SystemExit("no sample study (run ./dev setup to generate sample_dicom/study)")
    ds = sorted((pydicom.dcmread(f) for f in files), key=lambda d: float(d.ImagePositionPatient[2]))
    mid = len(ds) // 2
    return ds[mid - 1: mid + 2]


def _encode(ds, syntax: str, tmp: Path) -> None:
    from pydicom.uid import JPEG2000Lossless, JPEGLosslessSV1, JPEGLSLossless, RLELossless

    if syntax == "native":
        return
    if syntax == "jpeg":
        from gdcm_jpeg import gdcm_jpeg_lossless

        frame = gdcm_jpeg_lossless(ds.pixel_array.astype("uint16" if ds.PixelRepresentation == 0 else "int16"),
                                   str(tmp / "gdcm.dcm"))
        ds.PixelData = frame  # already encapsulated
        ds["PixelData"].VR = "OB"
        ds.file_meta.TransferSyntaxUID = JPEGLosslessSV1
        return
    uid = {"rle": RLELossless, "jpegls": JPEGLSLossless, "j2k": JPEG2000Lossless}[syntax]
    ds.compress(uid)


def templates(folder: Path) -> dict[str, list[bytes]]:
    """``{"S501_MR_T2_AX/j2k": [three files' bytes, in slice order]}``, written once under ``folder``."""
    import io

    out: dict[str, list[bytes]] = {}
    for series in SERIES:
        for syntax in SYNTAXES:
            key = f"{series}/{syntax}"
            d = folder / "templates" / series / syntax
            if d.exists():
                out[key] = [(d / f"{i}.dcm").read_bytes() for i in range(3)]
                continue
            d.mkdir(parents=True)
            blobs = []
            for i, ds in enumerate(_three(series)):
                _encode(ds, syntax, d)
                b = io.BytesIO()
                ds.save_as(b, enforce_file_format=True)
                blobs.append(b.getvalue())
                (d / f"{i}.dcm").write_bytes(blobs[-1])
            out[key] = blobs
    return out


# -- mutations beyond benchmarks/fuzz.py -----------------------------------------------------------
def _set_all(blobs: list[bytes], rng: random.Random) -> list[bytes]:
    """Rows/Columns/NumberOfFrames/BitsAllocated/... set to the same hostile value in all files."""
    import io

    import pydicom
    from pydicom.dataelem import RawDataElement
    from pydicom.tag import Tag

    kws = rng.sample(["Rows", "Columns", "NumberOfFrames", "BitsAllocated", "BitsStored", "HighBit",
                      "PixelRepresentation", "SamplesPerPixel"], rng.randint(1, 3))
    values = {kw: rng.choice(HUGE + HOSTILE_INTS) for kw in kws}
    out = []
    for blob in blobs:
        ds = pydicom.dcmread(io.BytesIO(blob))
        for kw, v in values.items():
            tag = Tag(pydicom.datadict.tag_for_keyword(kw))
            if kw == "NumberOfFrames":
                raw = str(v).encode() + b" " * (len(str(v)) % 2)
                ds[tag] = RawDataElement(tag, "IS", len(raw), raw, 0, False, True)
            else:
                ds[tag] = RawDataElement(tag, "US", 2, struct.pack("<H", min(v, 65535)), 0, False, True)
        b = io.BytesIO()
        ds.save_as(b, enforce_file_format=False)
        out.append(b.getvalue())
    return out


def _with_marker(blob: bytes) -> tuple[bytes, int]:
    """The file with a private LO element holding :data:`MARKER` (after group 0008, before 0010),
    and the offset where that element starts: a splice point for raw element bytes."""
    import io

    import pydicom

    ds = pydicom.dcmread(io.BytesIO(blob))
    ds.add_new((0x0009, 0x0010), "LO", MARKER.decode())
    b = io.BytesIO()
    ds.save_as(b, enforce_file_format=False)
    data = b.getvalue()
    return data, data.index(MARKER) - 8


def huge_length(blob: bytes, rng: random.Random) -> bytes:
    """An element whose length field claims far more than the file holds: on Pixel Data, or a
    spliced OB/UN/UT element in the header, or the marker's own 2-byte length."""
    length = rng.choice([0xFFFFFFF0, 0xFFFFFFFE, 0x7FFFFFFF, 0x80000000, 2 ** 30, 65536 * 65536 - 2])
    where = rng.choice(("pixel", "header", "header", "short"))
    if where == "pixel":
        at = blob.rfind(b"\xe0\x7f\x10\x00")
        if at >= 0:
            return blob[:at + 8] + struct.pack("<I", length) + blob[at + 12:]
    data, at = _with_marker(blob)
    if where == "short":
        return data[:at + 6] + struct.pack("<H", rng.choice([0xFFFF, 0xFFFE, 0x8001])) + data[at + 8:]
    vr = rng.choice([b"OB", b"UN", b"UT", b"OW", b"SQ"])
    elem = b"\x09\x00\x10\x10" + vr + b"\x00\x00" + struct.pack("<I", length) + b"AB"
    return data[:at] + elem + data[at + 8 + 10:]


def nested(blob: bytes, rng: random.Random) -> bytes:
    """Sequences nested ``depth`` deep (undefined lengths), closed or not, spliced into the header."""
    depth = rng.choice([100, 1000, 10000, 100000])
    sq = b"\x09\x00\x10\x10SQ\x00\x00\xff\xff\xff\xff"
    item = b"\xfe\xff\x00\xe0\xff\xff\xff\xff"
    opened = (sq + item) * depth
    closed = (b"\xfe\xff\x0d\xe0\x00\x00\x00\x00" + b"\xfe\xff\xdd\xe0\x00\x00\x00\x00") * depth
    if rng.random() < 0.3:  # defined lengths that lie
        opened = (b"\x09\x00\x10\x10SQ\x00\x00" + struct.pack("<I", rng.choice([8, 0xFFFFFFF0]))
                  + b"\xfe\xff\x00\xe0" + struct.pack("<I", 0xFFFFFFF0)) * depth
        closed = b""
    data, at = _with_marker(blob)
    return data[:at] + opened + (closed if rng.random() < 0.5 else b"") + data[at + 18:]


def codestream(blob: bytes, rng: random.Random) -> bytes:
    """Bytes inside Pixel Data changed (the compressed frame, or native pixels): flips, a cut, a
    run of 0xFF or random bytes, or the fragment's length field changed."""
    at = blob.rfind(b"\xe0\x7f\x10\x00")
    if at < 0:
        return bytes(bitflip(bytearray(blob), rng))
    start = at + 12
    head, body = blob[:start], bytearray(blob[start:])
    op = rng.choice(("flip", "flip", "cut", "ff", "rand", "fraglen", "zero"))
    if op == "flip":
        lo = min(len(body) - 1, rng.choice([0, 8, 16, 24, 40, 64, 128]))
        for _ in range(rng.randint(1, 32)):
            pos = rng.randrange(lo, min(len(body), lo + 512)) if rng.random() < 0.7 else rng.randrange(len(body))
            body[pos] ^= 1 << rng.randrange(8)
    elif op == "cut":
        body = body[: rng.randrange(len(body))]
    elif op in ("ff", "rand", "zero"):
        a = rng.randrange(len(body))
        b = min(len(body), a + rng.randint(1, 4096))
        fill = {"ff": b"\xff" * (b - a), "zero": b"\x00" * (b - a),
                "rand": bytes(rng.randrange(256) for _ in range(b - a))}[op]
        body[a:b] = fill
    else:  # the first fragment item's length (after the basic offset table item)
        item = body.find(b"\xfe\xff\x00\xe0", 8)
        if item >= 0:
            body[item + 4: item + 8] = struct.pack("<I", rng.choice([0, 1, 3, 0xFFFFFFF0, len(body) * 4]))
    return head + bytes(body)


def special(d: Path, rng: random.Random) -> None:
    """Non-files named like DICOM beside the series."""
    what = rng.sample(["fifo", "zero", "empty", "dir", "loop", "zero_mid"], rng.randint(1, 3))
    if "fifo" in what:
        os.mkfifo(d / "fifo.dcm")
    if "zero" in what:
        os.symlink("/dev/zero", d / "zero.dcm")
    if "empty" in what:
        (d / "empty.dcm").write_bytes(b"")
    if "dir" in what:
        (d / "x.dcm").mkdir()
        (d / "x.dcm" / "y.dcm").write_bytes(b"DICM" * 40)
    if "loop" in what:
        os.symlink("loop.dcm", d / "loop.dcm")
    if "zero_mid" in what:  # the middle slice itself replaced by a link to /dev/zero
        (d / "1.dcm").unlink()
        os.symlink("/dev/zero", d / "1.dcm")


def make_case(i: int, seed: int, blobs_by_key: dict[str, list[bytes]], folder: Path) -> Case:
    """Case ``i`` depends only on (seed, i)."""
    rng = random.Random(f"first-slice:{seed}:{i}")
    key = rng.choice(sorted(blobs_by_key))
    blobs = list(blobs_by_key[key])
    kind = rng.choice(KINDS)
    target = 1 if rng.random() < 0.75 else rng.choice([0, 2])
    d = folder / f"case{i:05d}"
    d.mkdir(parents=True, exist_ok=True)
    if kind == "dims":
        blobs = _set_all(blobs, rng)
    elif kind == "tag":
        blobs[target] = tag_mutation(blobs[target], rng) or bytes(bitflip(bytearray(blobs[target]), rng))
    elif kind in ("bitflip", "truncate", "chunk"):
        fn = {"bitflip": bitflip, "truncate": truncate, "chunk": chunk}[kind]
        blobs[target] = bytes(fn(bytearray(blobs[target]), rng))
    elif kind == "length":
        blobs[target] = huge_length(blobs[target], rng)
    elif kind == "nested":
        blobs[target] = nested(blobs[target], rng)
    elif kind == "codestream":
        blobs[target] = codestream(blobs[target], rng)
    for j, b in enumerate(blobs):
        (d / f"{j}.dcm").write_bytes(b)
    if kind == "special":
        special(d, rng)
    return Case(i, kind, key, str(d), None if kind == "dims" else _dims(blobs_by_key[key][1]))


def _dims(blob: bytes) -> list[int]:
    import io

    import pydicom

    ds = pydicom.dcmread(io.BytesIO(blob), stop_before_pixels=True)
    return [int(ds.Rows), int(ds.Columns)]


def make_cases(n: int, seed: int, folder: Path, only: int | None = None) -> list[Case]:
    blobs = templates(folder)
    return [make_case(i, seed, blobs, folder / "cases") for i in (range(n) if only is None else [only])]


# -- running ---------------------------------------------------------------------------------------
CHILD = r"""
import json, logging, os, resource, signal, sys, tempfile
import numpy as np
from workstation.dicom.first_slice import first_slice

class Grab(logging.Handler):
    def emit(self, record):
        self.last = record.getMessage()

grab = Grab(logging.DEBUG)
log = logging.getLogger("workstation.dicom.first_slice")
log.addHandler(grab)
log.setLevel(logging.DEBUG)
log.propagate = False
signal.signal(signal.SIGALRM, signal.SIG_DFL)  # a hang inside C++ kills the child: exit -14
out = os.fdopen(os.dup(1), "w")
err_file = tempfile.TemporaryFile()
os.dup2(err_file.fileno(), 2)  # what GDCM (or anything) writes to fd 2 during a case

def vm_hwm():
    with open("/proc/self/status") as fh:
        for row in fh:
            if row.startswith("VmHWM:"):
                return int(row.split()[1]) * 1024
    return 0

for line in sys.stdin:
    case = json.loads(line)
    err_file.seek(0); err_file.truncate()
    grab.last = ""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")  # reset VmHWM: the peak below is this case's own
    except OSError:
        pass
    out.write(json.dumps({"start": case["index"]}) + "\n"); out.flush()
    signal.alarm(case["alarm"])
    res = {"index": case["index"]}
    try:
        vol = first_slice(case["path"])
        if vol is None:
            res["result"] = None
        else:
            k = vol.meta.get("preview_slice")
            res["result"] = {"shape": list(vol.shape), "dtype": str(vol.voxels.dtype), "k": k,
                             "nonzero_elsewhere": bool(vol.voxels[:k].any() or vol.voxels[k + 1:].any()),
                             "finite": bool(np.isfinite(vol.voxels[k]).all())}
    except BaseException as exc:
        res["escaped"] = type(exc).__name__
    signal.alarm(0)
    res["why"] = grab.last
    res["rss"] = vm_hwm()
    # the largest peak of a process this one waited for (the GDCM child): over the batch so far
    res["child_rss"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    err_file.seek(0)
    res["stderr"] = err_file.read(2000).decode("utf-8", "replace")
    out.write(json.dumps(res) + "\n"); out.flush()
"""


def run_batch(cases: list[Case], alarm: int = CASE_ALARM_S) -> dict[int, dict]:
    """Run ``cases`` in child processes, a new child after one dies; results by index."""
    results: dict[int, dict] = {}
    todo = list(cases)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    while todo:
        feed = "".join(json.dumps({"index": c.index, "path": c.path, "alarm": alarm}) + "\n" for c in todo)
        proc = subprocess.run([sys.executable, "-c", CHILD], input=feed, capture_output=True, text=True,
                              cwd=ROOT, env=env, preexec_fn=limit_address_space, check=False,
                              timeout=alarm * len(todo) + 300)
        started = None
        for line in proc.stdout.splitlines():
            r = json.loads(line)
            if "start" in r:
                started = r["start"]
            else:
                results[r["index"]] = r
        rest = [c for c in todo if c.index not in results]
        if rest:  # the child died on the case it had started (a native crash, or the alarm: -14)
            dead = started if started is not None and started not in results else rest[0].index
            rc = proc.returncode
            results[dead] = {"index": dead, "crash": rc, "hang": rc == -14, "stderr": proc.stderr[-2000:],
                             "rss": 0, "result": None, "why": ""}
            rest = [c for c in rest if c.index != dead]
        todo = rest
    return results


def problem(r: dict, case: Case, max_rss: int = MAX_RSS) -> str | None:
    """Why a result breaks the rule (no crash, no hang, bounded memory, quiet, plausible), or None.
    A plausible preview: two or three slices (a mutated file may fall out of the series), only the
    shown one filled, finite, the template's slice size or (all files' size changed) within the
    preview limit."""
    from workstation.dicom.first_slice import MAX_PREVIEW_PIXELS

    if r.get("hang"):
        return "hang"
    if "crash" in r:
        return f"crash {r['crash']}"
    if "escaped" in r:
        return f"escaped {r['escaped']}"
    if "MemoryError" in r.get("why", "") or "bad_alloc" in r.get("why", ""):
        return "memory error inside"
    if r["stderr"].strip():
        return "stderr"
    if r["rss"] > max_rss:
        return "peak memory"
    if r.get("child_rss", 0) > max_rss:
        return "peak memory of a child"
    res = r["result"]
    if res is not None:
        n, rows, cols = res["shape"]
        size_ok = [rows, cols] == case.expect if case.expect else 0 < rows * cols <= MAX_PREVIEW_PIXELS
        if n not in (2, 3) or not size_ok or res["nonzero_elsewhere"] or res["k"] != (n - 1) // 2:
            return "implausible preview"
        if not res["finite"]:
            return "non-finite preview"
    return None


def run(n: int, seed: int, jobs: int, folder: Path, only: int | None = None) -> tuple[list[Case], dict[int, dict]]:
    from concurrent.futures import ThreadPoolExecutor

    cases = make_cases(n, seed, folder, only)
    chunks = [cases[i::jobs] for i in range(jobs)]
    results: dict[int, dict] = {}
    with ThreadPoolExecutor(jobs) as pool:
        for part in pool.map(run_batch, chunks):
            results.update(part)
    return cases, results


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv, __doc__, "series")
    warnings.simplefilter("ignore")
    import logging

    logging.getLogger("pydicom").setLevel(logging.CRITICAL)
    folder = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix="ws-fuzz-first-"))
    t0 = time.perf_counter()
    cases, results = run(a.n, a.seed, max(1, a.jobs), folder, a.only)
    elapsed = time.perf_counter() - t0
    outcome, by_kind, failures = tally(cases, results, problem,
                                       lambda r: "preview" if r["result"] is not None else "none")
    peak = max((r["rss"] for r in results.values()), default=0)
    child_peak = max((r.get("child_rss", 0) for r in results.values()), default=0)
    print(f"{len(cases)} cases (seed {a.seed}) in {elapsed:.1f} s, {len(cases) / elapsed:.1f} cases/s; "
          f"peak VmHWM of a case {peak / 2 ** 20:.0f} MiB, of a child it started {child_peak / 2 ** 20:.0f} MiB "
          f"(address-space limit {AS_LIMIT / 2 ** 30:.0f} GiB)")
    print_tally(outcome, by_kind, 24)
    for c, p, r in failures[:60]:
        print(f"FAIL case {c.index} ({c.kind} of {c.template}): {p}: rss {r['rss'] / 2 ** 20:.0f} MiB; "
              f"why {r.get('why', '')!r}; stderr {r['stderr'].strip()[:200]!r}")
    print(f"cases kept in {folder}" if a.keep else "")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
