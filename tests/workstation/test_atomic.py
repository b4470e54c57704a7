"""Atomic writes: a crash between writing and renaming leaves the old file intact."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from workstation import atomic
from workstation.errors import WorkstationError


def test_write_replaces_whole_file(tmp_path):
    p = tmp_path / "a.json"
    atomic.atomic_write_text(p, "old")
    atomic.atomic_write_text(p, "new contents")
    assert p.read_text() == "new contents"
    assert [f.name for f in tmp_path.iterdir()] == ["a.json"]


def test_crash_between_write_and_rename_keeps_old_file(tmp_path, monkeypatch):
    p = tmp_path / "report.txt"
    p.write_text("previous report")

    def boom(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "replace", boom)
    with pytest.raises(WorkstationError, match="report.txt"):
        atomic.atomic_write_text(p, "half of a new report")
    assert p.read_text() == "previous report"
    assert [f.name for f in tmp_path.iterdir()] == ["report.txt"]  # temp removed


def test_atomic_open_exception_leaves_target_untouched(tmp_path):
    p = tmp_path / "x.bin"
    p.write_bytes(b"keep")
    with pytest.raises(RuntimeError):
        with atomic.atomic_open(p, "wb") as fh:
            fh.write(b"partial")
            raise RuntimeError("interrupted")
    assert p.read_bytes() == b"keep"
    assert sorted(f.name for f in tmp_path.iterdir()) == ["x.bin"]
    with atomic.atomic_open(p, "w") as fh:
        fh.write("text")
    assert p.read_text() == "text"


def test_write_many_failure_before_renames_keeps_all_old_files(tmp_path, monkeypatch):
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(b"A0")
    b.write_bytes(b"B0")
    real = atomic._write_temp
    calls = []

    def second_fails(path, data):
        calls.append(path)
        if len(calls) == 2:
            raise OSError(5, "I/O error", str(path))
        return real(path, data)

    monkeypatch.setattr(atomic, "_write_temp", second_fails)
    with pytest.raises(WorkstationError):
        atomic.atomic_write_many({a: b"A1", b: b"B1"})
    assert a.read_bytes() == b"A0" and b.read_bytes() == b"B0"
    assert sorted(f.name for f in tmp_path.iterdir()) == ["a", "b"]


def test_sigkill_during_writes_never_leaves_a_partial_file(tmp_path):
    """A process rewriting a 2 MB file in a loop is killed; the file is one whole version."""
    target = tmp_path / "big.bin"
    code = textwrap.dedent(f"""
        import sys
        from workstation.atomic import atomic_write_bytes
        i = 0
        while True:
            i = (i + 1) % 250
            atomic_write_bytes({str(target)!r}, bytes([i]) * 2_000_000)
            if i == 3:
                print("ready", flush=True)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    assert proc.stdout.readline().strip() == b"ready"
    proc.kill()
    proc.wait()
    data = target.read_bytes()
    assert len(data) == 2_000_000 and len(set(data)) == 1
    for f in tmp_path.iterdir():
        assert f.name == "big.bin" or atomic.is_temp_name(f.name)
