"""Header pass: reading numbers and text from pydicom's raw elements against asking pydicom's value API.

``workstation.dicom.headers`` reads the numbers (DS/IS/US/...) and the ASCII text values it needs
from each element's raw bytes (``Dataset.get_item`` gives the ``RawDataElement``, both public
pydicom API) instead of ``Dataset.get(keyword)``, which converts through pydicom's value classes.
This benchmark scans the same generated series both ways (the second by replacing those two
readers with plain ``Dataset.get``), alternately, best of 5 each, and prints both, so the reason
for keeping the raw path can be checked (issue 15: public API unless a benchmark shows a
difference).

    .venv/bin/python benchmarks/headers.py [--slices 300] [--keep DIR]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def _value_api_text(ds, keyword: str) -> str:
    from workstation.dicom import headers as h

    if ds is None:
        return ""
    v = h._get(ds, keyword, "")
    if v is None:
        return ""
    if isinstance(v, (list, tuple, h.MultiValue)):
        v = "\\".join(str(x) for x in v)
    return str(v).strip()


def _best(folder: str, n: int = 5) -> float:
    from workstation.dicom import scan

    best = float("inf")
    for _ in range(n):
        t0 = time.perf_counter()
        scan(folder)
        best = min(best, time.perf_counter() - t0)
    return best


def report(folder: str, n_files: int) -> None:
    from workstation.dicom import headers as h

    raw_numbers, text = h._raw_numbers, h.text
    raw, api = [], []
    for _ in range(3):
        h._raw_numbers, h.text = raw_numbers, text
        raw.append(_best(folder))
        h._raw_numbers, h.text = (lambda ds, kw: NotImplemented), _value_api_text
        api.append(_best(folder))
    h._raw_numbers, h.text = raw_numbers, text
    print(f"scan of {n_files} CT headers (load average {os.getloadavg()[0]:.1f}), best of 3 x 5:")
    print(f"  raw element bytes (as shipped)   {min(raw):.3f} s")
    print(f"  pydicom value API (Dataset.get)  {min(api):.3f} s   ratio {min(api) / min(raw):.2f}")


def main(argv: list[str] | None = None) -> int:
    from load import write_series

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--slices", type=int, default=300)
    p.add_argument("--keep", metavar="DIR")
    args = p.parse_args(argv)
    if args.keep:
        if not os.path.isdir(args.keep) or not os.listdir(args.keep):
            write_series(args.keep, args.slices, 512)
        report(args.keep, args.slices)
        return 0
    with tempfile.TemporaryDirectory(prefix="ws-hdr-") as tmp:
        write_series(tmp, args.slices, 512)
        report(tmp, args.slices)
    return 0


if __name__ == "__main__":
    sys.exit(main())
