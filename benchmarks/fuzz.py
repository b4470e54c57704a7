"""Seeded mutation fuzzing of ``workstation info`` (and ``probe``) on the sample study's files.

    .venv/bin/python benchmarks/fuzz.py --n 2000 [--seed 1] [--jobs 2] [--keep DIR]

Each case is one of the sample's DICOM files mutated one way (bit flips, truncation, inserted or
deleted chunks, or a pydicom tag-value mutation: huge, negative, empty, non-finite, over-long values,
a deleted element, another transfer syntax), alone or beside two intact files of its series. Cases
run in batches in child processes limited to :data:`AS_LIMIT` of address space (``RLIMIT_AS``),
with a per-case alarm; every case must end in exit 0 or 2 with at most one stderr line of at most
300 characters and no traceback. Prints counts per outcome and mutation and the peak RSS; lists each
failing case with its seed and index (``--only I`` reruns one). Exit status 1 when a case failed.

The CI test (tests/workstation/test_fuzz_info.py) runs a few hundred cases through the same code.
"""
from __future__ import annotations

import argparse
import collections
import json
import logging
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
AS_LIMIT = 3 * 1024 ** 3
CASE_ALARM_S = 30
MAX_LINE = 300
KINDS = ("bitflip", "truncate", "chunk", "tag", "tag", "tag")
#: replacement values for a tag mutation (strings are written as the element's raw value)
HOSTILE_TEXT = ["", "0", "-1", "65535", "4294967295", "1e308", "-1e308", "nan", "inf", "-inf", "1e999",
                "\\\\\\", "1\\2\\3\\4\\5\\6\\7", "9" * 400, "A" * 70000, "\x00\xff\xfe", "1.2.840.10008.1.2.4.50",
                "1.2.840.10008.1.2.5", "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.1.99"]
HOSTILE_INTS = [0, 1, 2, 3, 7, 8, 12, 16, 17, 24, 32, 64, 65535, 4294967295, 2 ** 31]
TARGET_KEYWORDS = ["Rows", "Columns", "BitsAllocated", "BitsStored", "HighBit", "PixelRepresentation",
                   "SamplesPerPixel", "NumberOfFrames", "RescaleSlope", "RescaleIntercept", "PixelSpacing",
                   "ImagePositionPatient", "ImageOrientationPatient", "SliceThickness", "SeriesInstanceUID",
                   "PhotometricInterpretation", "WindowCenter", "WindowWidth", "InstanceNumber",
                   "SOPClassUID", "Modality", "SliceLocation", "SpacingBetweenSlices", "PixelData"]


@dataclass
class Case:
    index: int
    kind: str
    source: str
    path: str  # what `info` is run on (the file, or its folder)
    probe: bool


def sample_files() -> list[Path]:
    from workstation.resources import SAMPLE_DICOM, SAMPLE_STUDY_FOLDER

    files = sorted((SAMPLE_DICOM / SAMPLE_STUDY_FOLDER).rglob("*.dcm"))
    if not files:
        raise SystemExit("no sample study files (run ./dev setup to generate sample_dicom/study)")
    return files


# -- mutations -------------------------------------------------------------------------------------
def bitflip(data: bytearray, rng: random.Random) -> bytearray:
    head = min(len(data), 4096)
    for _ in range(rng.randint(1, 64)):
        pos = rng.randrange(head) if rng.random() < 0.7 else rng.randrange(len(data))
        data[pos] ^= 1 << rng.randrange(8)
    return data


def truncate(data: bytearray, rng: random.Random) -> bytearray:
    cut = rng.randrange(len(data)) if rng.random() < 0.5 else rng.randrange(min(len(data), 2048))
    return data[:cut]


def chunk(data: bytearray, rng: random.Random) -> bytearray:
    a = rng.randrange(len(data))
    b = min(len(data), a + rng.randint(1, 512))
    op = rng.choice(("dup", "del", "rand", "ff"))
    if op == "dup":
        return data[:b] + data[a:b] * rng.randint(1, 50) + data[b:]
    if op == "del":
        return data[:a] + data[b:]
    fill = bytes(rng.randrange(256) for _ in range(b - a)) if op == "rand" else b"\xff" * (b - a)
    return data[:a] + bytearray(fill) + data[b:]


def tag_mutation(data: bytes, rng: random.Random) -> bytes | None:
    """One element's value replaced (or the element deleted) with pydicom; None when pydicom cannot
    write the result (the caller falls back to a byte mutation)."""
    import io
    import struct

    import pydicom
    from pydicom.dataelem import RawDataElement
    from pydicom.tag import Tag

    try:
        ds = pydicom.dcmread(io.BytesIO(data), force=True)
        keywords = [k for k in TARGET_KEYWORDS if k in ds] or [e.keyword for e in ds if e.keyword]
        little = ds.original_encoding[1] is not False
        if rng.random() < 0.15 and getattr(ds, "file_meta", None) is not None:
            ds.file_meta.TransferSyntaxUID = rng.choice(HOSTILE_TEXT[-4:])
        else:
            kw = rng.choice(keywords)
            tag = Tag(pydicom.datadict.tag_for_keyword(kw))
            vr = ds[tag].VR
            if rng.random() < 0.15:
                del ds[tag]
                raw = None
            elif kw == "PixelData":
                v = ds[tag].value
                raw = v[: rng.randrange(max(1, len(v)))] if rng.random() < 0.5 else v + v
            elif vr in ("US", "UL", "SS", "SL"):
                code = {"US": "H", "SS": "h", "UL": "L", "SL": "l"}[vr]
                bound = {"US": 65535, "SS": 32767, "UL": 4294967295, "SL": 2147483647}[vr]
                raw = struct.pack(("<" if little else ">") + code, min(bound, rng.choice(HOSTILE_INTS)))
            else:
                raw = rng.choice(HOSTILE_TEXT).encode("latin-1")
                raw += b" " * (len(raw) % 2)
                vr = "UN" if vr == "SQ" else vr
            if raw is not None:  # a raw element is written as its bytes, unchecked
                ds[tag] = RawDataElement(tag, vr, len(raw), raw, 0, False, little)
        out = io.BytesIO()
        ds.save_as(out, enforce_file_format=False)
        return out.getvalue()
    except BaseException as exc:  # noqa: BLE001 - pydicom refusing our mutation is not a finding
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        return None


def mutate(data: bytes, kind: str, rng: random.Random) -> tuple[bytes, str]:
    if kind == "tag":
        out = tag_mutation(data, rng)
        if out is not None:
            return out, kind
        kind = "bitflip"
    fn = {"bitflip": bitflip, "truncate": truncate, "chunk": chunk}[kind]
    return bytes(fn(bytearray(data), rng)), kind


def make_cases(n: int, seed: int, folder: Path, only: int | None = None) -> list[Case]:
    """``n`` cases under ``folder``; case ``i`` depends only on (seed, i)."""
    files = sample_files()
    by_series: dict[Path, list[Path]] = collections.defaultdict(list)
    for f in files:
        by_series[f.parent].append(f)
    cases = []
    for i in range(n) if only is None else [only]:
        rng = random.Random(f"{seed}:{i}")
        src = rng.choice(files)
        data, kind = mutate(src.read_bytes(), rng.choice(KINDS), rng)
        d = folder / f"case{i:05d}"
        d.mkdir(parents=True, exist_ok=True)
        target = d / "mutated.dcm"
        target.write_bytes(data)
        path = str(target)
        if rng.random() < 0.6:  # beside two intact files of its series
            for j, other in enumerate(rng.sample(by_series[src.parent], 2)):
                if other != src:
                    (d / f"intact{j}.dcm").write_bytes(other.read_bytes())
            path = str(d)
        cases.append(Case(i, kind, str(src.relative_to(src.parents[2])), path, rng.random() < 0.25))
    return cases


# -- running ---------------------------------------------------------------------------------------
CHILD = r"""
import contextlib, io, json, resource, signal, sys
from workstation.cli import main

class CaseTimeout(SystemExit):
    pass

def alarm(*_):
    raise CaseTimeout(124)

def peak_rss():
    # VmHWM is this program's own peak: ru_maxrss also keeps the peak of the process image before
    # exec, i.e. of the (large) test runner that forked this child
    try:
        with open("/proc/self/status") as fh:
            for row in fh:
                if row.startswith("VmHWM:"):
                    return int(row.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

signal.signal(signal.SIGALRM, alarm)
for line in sys.stdin:
    case = json.loads(line)
    args = ["info", case["path"], "--json"]
    if case["probe"]:
        args = ["probe", case["path"], "--at", "0,0,0", "--json"]
    err, out = io.StringIO(), io.StringIO()
    signal.alarm(case["alarm"])
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            rc = main(args)
    except CaseTimeout:
        rc = "hang"
    except BaseException as exc:  # escaped the CLI's boundary: a finding
        rc = "escaped:" + type(exc).__name__
    finally:
        signal.alarm(0)
    rss = peak_rss()
    sys.__stdout__.write(json.dumps({"index": case["index"], "rc": rc, "stderr": err.getvalue()[:4000],
                                     "rss": rss}) + "\n")
    sys.__stdout__.flush()
"""


def limit_address_space() -> None:  # pragma: no cover - runs in the child
    resource.setrlimit(resource.RLIMIT_AS, (AS_LIMIT, AS_LIMIT))


def run_batch(cases: list[Case], state: Path) -> dict[int, dict]:
    """Run ``cases`` in child processes (one at a time, a new child after a crash); results by index."""
    results: dict[int, dict] = {}
    todo = list(cases)
    env = dict(os.environ, WORKSTATION_STATE_DIR=str(state), QT_QPA_PLATFORM="offscreen")
    while todo:
        feed = "".join(json.dumps({"index": c.index, "path": c.path, "probe": c.probe, "alarm": CASE_ALARM_S}) + "\n"
                       for c in todo)
        proc = subprocess.run([sys.executable, "-c", CHILD], input=feed, capture_output=True, text=True, cwd=ROOT,
                              env=env, preexec_fn=limit_address_space, check=False,
                              timeout=CASE_ALARM_S * len(todo) + 120)
        for line in proc.stdout.splitlines():
            r = json.loads(line)
            results[r["index"]] = r
        done = {c.index for c in todo if c.index in results}
        rest = [c for c in todo if c.index not in done]
        if rest:  # the child died on rest[0] (a native crash): record it, go on after it
            results[rest[0].index] = {"index": rest[0].index, "rc": f"crash:{proc.returncode}",
                                      "stderr": proc.stderr[-2000:], "rss": 0}
            rest = rest[1:]
        todo = rest
    return results


def problem(r: dict) -> str | None:
    """Why a result breaks the contract, or None."""
    rc, err = r["rc"], r["stderr"]
    if rc not in (0, 2):
        return f"exit {rc}"
    if "Traceback" in err:
        return "traceback"
    lines = err.strip().splitlines()
    if rc == 0 and lines:
        return "stderr on success"
    if rc == 2 and len(lines) != 1:
        return f"{len(lines)} stderr lines"
    if any(len(x) > MAX_LINE for x in lines):
        return "line over 300 characters"
    return None


def run(n: int, seed: int, jobs: int, folder: Path, only: int | None = None) -> tuple[list[Case], dict[int, dict]]:
    from concurrent.futures import ThreadPoolExecutor

    cases = make_cases(n, seed, folder / "cases", only)
    chunks = [cases[i::jobs] for i in range(jobs)]
    results: dict[int, dict] = {}
    with ThreadPoolExecutor(jobs) as pool:
        for part in pool.map(lambda c: run_batch(c[1], folder / f"state{c[0]}"), enumerate(chunks)):
            results.update(part)
    return cases, results


def parse_args(argv: list[str] | None, doc: str | None, what: str) -> argparse.Namespace:
    """The command line both fuzz scripts share: ``--n`` cases of ``what``, seed, jobs, keep, only."""
    ap = argparse.ArgumentParser(description=(doc or "").split("\n\n")[0])
    ap.add_argument("--n", type=int, default=500, help=f"number of mutated {what} (default 500)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=2, help="child processes in parallel (default 2)")
    ap.add_argument("--keep", metavar="DIR", help="keep the cases here (default: a temporary folder)")
    ap.add_argument("--only", type=int, metavar="I", help="run case I only")
    return ap.parse_args(argv)


def tally(cases: list, results: dict[int, dict], problem_of: Callable[[dict, Any], str | None],
          ok_key: Callable[[dict], str]) -> tuple[collections.Counter[str], dict[str, collections.Counter[str]], list]:
    """Counts per outcome and per mutation kind (the problem, or ``ok_key(result)``) and the failing
    cases as ``(case, problem, result)``."""
    outcome: collections.Counter[str] = collections.Counter()
    by_kind: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    failures = []
    for c in cases:
        r = results[c.index]
        p = problem_of(r, c)
        key = p or ok_key(r)
        outcome[key] += 1
        by_kind[c.kind][key] += 1
        if p:
            failures.append((c, p, r))
    return outcome, by_kind, failures


def print_tally(outcome: collections.Counter[str], by_kind: dict[str, collections.Counter[str]], width: int) -> None:
    for k, v in sorted(outcome.items()):
        print(f"  {k:<{width}} {v}")
    for kind, cnt in sorted(by_kind.items()):
        print(f"  {kind:<10} " + ", ".join(f"{k}: {v}" for k, v in sorted(cnt.items())))


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv, __doc__, "inputs")
    warnings.simplefilter("ignore")  # pydicom's complaints about the values we write on purpose
    logging.getLogger("pydicom").setLevel(logging.CRITICAL)
    folder = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix="ws-fuzz-"))
    t0 = time.perf_counter()
    cases, results = run(a.n, a.seed, max(1, a.jobs), folder, a.only)
    elapsed = time.perf_counter() - t0
    outcome, by_kind, failures = tally(cases, results, lambda r, _c: problem(r), lambda r: f"exit {r['rc']}")
    peak = max((r["rss"] for r in results.values()), default=0)
    print(f"{len(cases)} cases (seed {a.seed}) in {elapsed:.1f} s, {len(cases) / elapsed:.1f} cases/s; "
          f"peak RSS of a child {peak / 2 ** 20:.0f} MiB (address-space limit {AS_LIMIT / 2 ** 30:.0f} GiB)")
    print_tally(outcome, by_kind, 28)
    for c, p, r in failures[:50]:
        print(f"FAIL case {c.index} ({c.kind} of {c.source}, {'probe' if c.probe else 'info'}): {p}: "
              f"{r['stderr'].strip()[:300]!r}")
    print(f"cases kept in {folder}" if a.keep else "")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
