"""Seeded mutation fuzzing of the sample study's files through ``workstation info`` / ``probe``
(benchmarks/fuzz.py; a longer run: ``benchmarks/fuzz.py --n 5000``). Every mutated input must end
in exit 0 or 2 with at most one stderr line of at most 300 characters and no traceback, in child
processes limited to 3 GiB of address space, with bounded memory."""
from __future__ import annotations

import warnings

import pytest


@pytest.mark.parametrize("seed", [11])
def test_a_few_hundred_mutated_sample_files_end_in_exit_0_or_2_with_one_line(tmp_path, seed, benchmark_module):
    fuzz = benchmark_module("fuzz")
    try:
        fuzz.sample_files()
    except SystemExit:
        pytest.skip("sample study not generated")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases, results = fuzz.run(300, seed, 2, tmp_path)
    assert len(results) == len(cases) == 300
    failures = [(c.index, c.kind, fuzz.problem(results[c.index]), results[c.index]["stderr"][:300])
                for c in cases if fuzz.problem(results[c.index])]
    assert failures == []
    kinds = {c.kind for c in cases}
    assert {"bitflip", "truncate", "chunk", "tag"} <= kinds
    codes = {results[c.index]["rc"] for c in cases}
    assert codes == {0, 2}  # the mutations reach both outcomes: the corpus is not all-broken or all-fine
    assert any(c.probe for c in cases)  # pixel reading is exercised too
    peak = max(r["rss"] for r in results.values())
    assert peak < 1024 ** 3  # a child never held more than 1 GiB
