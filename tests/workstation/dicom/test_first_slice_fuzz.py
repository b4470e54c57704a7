"""Seeded mutation fuzzing of the launch preview (workstation.dicom.first_slice, GDCM) through
benchmarks/fuzz_first_slice.py; a longer run: ``benchmarks/fuzz_first_slice.py --n 3000``.

Three-slice series cut from the sample study (as stored, RLE, JPEG-LS, JPEG 2000, JPEG Lossless),
one file mutated (bit flips, cuts, chunks, tag values, huge Rows/Columns/NumberOfFrames in all
files, huge element lengths, nested sequences, corrupted codestreams) or FIFOs, links to /dev/zero,
a 0-byte file and a folder named x.dcm beside them. Each case runs in a child process limited to
3 GiB of address space, with an alarm that kills it: no crash, no hang, nothing on stderr, peak
memory (of that child and of the GDCM child it starts) under 1 GiB, and the result None or a
preview of plausible shape."""
from __future__ import annotations

import warnings

import pytest

from workstation.resources import SAMPLE_DICOM

pytestmark = pytest.mark.skipif(not (SAMPLE_DICOM / "study").exists(), reason="sample study not generated")


@pytest.mark.parametrize("seed", [7])
def test_a_few_hundred_hostile_series_give_none_or_a_plausible_preview_quietly(tmp_path, seed, benchmark_module):
    fuzz = benchmark_module("fuzz_first_slice")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases, results = fuzz.run(300, seed, 2, tmp_path)
    assert len(results) == len(cases) == 300
    failures = [(c.index, c.kind, c.template, fuzz.problem(results[c.index], c), results[c.index]["stderr"][:300])
                for c in cases if fuzz.problem(results[c.index], c)]
    assert failures == []
    assert {c.kind for c in cases} == set(fuzz.KINDS)
    assert {c.template.split("/")[1] for c in cases} == set(fuzz.SYNTAXES)
    previews = [c for c in cases if results[c.index]["result"] is not None]
    # the intact-enough cases still get their preview (a first_slice that gave up on everything fails)
    assert len(previews) > 50 and {c.template.split("/")[1] for c in previews} == set(fuzz.SYNTAXES)
    assert max(r["rss"] for r in results.values()) < fuzz.MAX_RSS
    assert max(r.get("child_rss", 0) for r in results.values()) < fuzz.MAX_RSS
