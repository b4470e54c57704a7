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
    with pytest.raises(RuntimeError), atomic.atomic_open(p, "wb") as fh:
        fh.write(b"partial")
        raise RuntimeError("interrupted")
    assert p.read_bytes() == b"keep"
    assert sorted(f.name for f in tmp_path.iterdir()) == ["x.bin"]
    with atomic.atomic_open(p, "w") as fh:
        fh.write("text")
    assert p.read_text() == "text"


def test_write_many_failure_before_renames_keeps_all_old_files(tmp_path, fail_on_call):
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(b"A0")
    b.write_bytes(b"B0")
    fail_on_call(atomic, "_write_temp", 2, 5, "I/O error")  # the second temp file cannot be written
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


# ---------------------------------------------------------------------------------- file sets


def _folder_names(folder):
    return sorted(f.name for f in folder.iterdir())


def test_commit_set_writes_a_manifest_and_replaces_the_previous_set(tmp_path):
    out = tmp_path / "set"
    atomic.commit_set(out, {"a.txt": b"A1", "b.dcm": b"B1", "old-only.bin": b"O"}, key="study-1")
    doc = atomic.read_set(out)
    assert doc["key"] == "study-1"
    assert {e["name"]: e["size"] for e in doc["files"]} == {"a.txt": 2, "b.dcm": 2, "old-only.bin": 1}
    atomic.commit_set(out, {"a.txt": b"A2", "b.dcm": b"B2"}, key="study-1", meta={"note": "second"})
    assert _folder_names(out) == ["a.txt", "b.dcm", "manifest.json"]   # the old set's extra file went with it
    doc = atomic.read_set(out)
    assert doc["note"] == "second" and (out / "a.txt").read_bytes() == b"A2"


def test_commit_set_refuses_another_owner_unless_forced(tmp_path):
    out = tmp_path / "set"
    atomic.commit_set(out, {"a.txt": b"A1"}, key="study-1")
    with pytest.raises(atomic.SetConflict, match="without confirmation"):
        atomic.commit_set(out, {"a.txt": b"X"}, key="study-2")
    assert (out / "a.txt").read_bytes() == b"A1" and _folder_names(out) == ["a.txt", "manifest.json"]
    atomic.commit_set(out, {"a.txt": b"X"}, key="study-2", force=True)
    assert atomic.read_set(out)["key"] == "study-2"
    # files of ours without a manifest: the caller tells their owner ("" = cannot be told)
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    (legacy / "a.txt").write_text("old")
    with pytest.raises(atomic.SetConflict):
        atomic.commit_set(legacy, {"a.txt": b"new"}, key="k", owner_of=lambda f: "")
    atomic.commit_set(legacy, {"a.txt": b"new"}, key="k", owner_of=lambda f: "k")
    assert (legacy / "a.txt").read_bytes() == b"new"


def test_reader_refuses_a_changed_or_missing_file(tmp_path):
    out = tmp_path / "set"
    atomic.commit_set(out, {"a.txt": b"A1", "b.txt": b"B1"}, key="k")
    (out / "b.txt").write_bytes(b"B-edited")
    with pytest.raises(atomic.SetError, match="b.txt"):
        atomic.read_set(out)
    (out / "b.txt").unlink()
    with pytest.raises(atomic.SetError, match="b.txt"):
        atomic.read_set(out)
    with pytest.raises(atomic.SetError, match="manifest"):
        atomic.read_set(tmp_path)


def test_killed_before_the_commit_point_keeps_the_old_set(tmp_path):
    """A staging folder left by a kill (half-written) is removed; the old set stays."""
    out = tmp_path / "set"
    atomic.commit_set(out, {"a.txt": b"A1", "b.txt": b"B1"}, key="k")
    stale = out / f"{atomic.SET_PREFIX}dead01.tmp"
    stale.mkdir()
    (stale / "a.txt").write_bytes(b"A2-half")
    (out / ".a.txt.0123456789ab.tmp").write_bytes(b"left by atomic_write_bytes")
    (out / ".editor-swap.tmp").write_bytes(b"someone else's")      # not ours: kept
    atomic.recover_set(out)
    assert _folder_names(out) == [".editor-swap.tmp", "a.txt", "b.txt", "manifest.json"]
    (out / ".editor-swap.tmp").unlink()
    assert (out / "a.txt").read_bytes() == b"A1"
    atomic.read_set(out)


def test_killed_after_the_commit_point_is_rolled_forward(tmp_path, monkeypatch):
    """The process dies after moving one file of the new set: the folder is mixed until the
    next export or reader rolls the commit forward to the whole new set."""
    out = tmp_path / "set"
    atomic.commit_set(out, {"a.txt": b"A1", "b.txt": b"B1", "c.txt": b"C1"}, key="k")
    real = os.replace
    calls = []

    def die_on_second(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise SystemExit("killed")       # nothing after this runs, as after a kill
        return real(src, dst)

    monkeypatch.setattr(atomic.os, "replace", die_on_second)
    with pytest.raises(SystemExit):
        atomic.commit_set(out, {"a.txt": b"A2", "b.txt": b"B2"}, key="k")
    monkeypatch.setattr(atomic.os, "replace", real)
    assert any(n.endswith(".commit") for n in _folder_names(out))
    with pytest.raises(atomic.SetError):                # without recovery the mix is not trusted
        atomic.read_set(out, recover=False)
    doc = atomic.read_set(out)                           # recovery finishes the new set
    assert {e["name"] for e in doc["files"]} == {"a.txt", "b.txt"}
    assert _folder_names(out) == ["a.txt", "b.txt", "manifest.json"]
    assert (out / "b.txt").read_bytes() == b"B2"


def test_commit_set_rejects_names_that_leave_the_folder(tmp_path):
    for bad in ("../x", "a/b", ".hidden", "manifest.json", ""):
        with pytest.raises(ValueError):
            atomic.commit_set(tmp_path / "s", {bad: b"x"}, key="k")


def test_concurrent_set_writers_into_one_folder_leave_one_whole_set(tmp_path):
    """Two writers (threads here; processes alike) take turns through the folder lock."""
    import threading

    out = tmp_path / "set"
    errors = []

    def writer(tag):
        try:
            for i in range(15):
                data = f"{tag}{i}".encode()
                atomic.commit_set(out, {"a.txt": data, "b.txt": data * 1000}, key="k")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(t,)) for t in "XY"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    atomic.read_set(out, recover=False)
    a = (out / "a.txt").read_bytes()
    assert (out / "b.txt").read_bytes() == a * 1000          # both files from the same commit
    assert _folder_names(out) == ["a.txt", "b.txt", "manifest.json"]


# -- permissions (POSIX): patient data owner-only whatever the umask --------------------------------
posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")


@pytest.fixture(params=[0o022, 0o000, 0o277], ids=["umask022", "umask000", "umask277"])
def umask(request):
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def _mode(p) -> int:
    return os.stat(p).st_mode & 0o777


@posix_only
def test_private_writes_are_0600_whatever_the_umask(tmp_path, umask):
    a = atomic.atomic_write_bytes(tmp_path / "a.json", b"{}", mode=atomic.PRIVATE_FILE)
    b = atomic.atomic_write_text(tmp_path / "b.txt", "x", mode=atomic.PRIVATE_FILE)
    (c, d) = atomic.atomic_write_many({tmp_path / "c": b"1", tmp_path / "d": b"2"}, mode=atomic.PRIVATE_FILE)
    with atomic.atomic_open(tmp_path / "e.txt", "w", perms=atomic.PRIVATE_FILE) as fh:
        fh.write("e")
    names = ["a.json", "b.txt", "c", "d", "e.txt"]
    assert {p.name: _mode(p) for p in (a, b, c, d, tmp_path / "e.txt")} == dict.fromkeys(names, 0o600)
    assert (tmp_path / "e.txt").read_text() == "e" and a.read_bytes() == b"{}"


@posix_only
def test_ordinary_writes_follow_the_umask(tmp_path, umask):
    p = atomic.atomic_write_bytes(tmp_path / "plain.txt", b"x")
    assert _mode(p) == 0o644 & ~umask


@posix_only
def test_identified_set_is_0600_in_a_0700_folder_made_for_it(tmp_path, umask):
    out = tmp_path / "new" / "deeper" / "export"
    written = atomic.commit_set(out, {"findings.json": b"{}", "report.txt": b"r"}, key="k")
    assert {n: _mode(p) for n, p in written.items()} == {"findings.json": 0o600, "report.txt": 0o600}
    assert _mode(out / atomic.MANIFEST) == 0o600
    assert [_mode(d) for d in (out, out.parent, out.parent.parent)] == [0o700] * 3
    assert sorted(p.name for p in out.iterdir()) == ["findings.json", atomic.MANIFEST, "report.txt"]


@posix_only
def test_existing_folder_keeps_its_permissions_but_the_files_are_private(tmp_path):
    out = tmp_path / "shared"
    out.mkdir()
    os.chmod(out, 0o755)
    old = os.umask(0o022)
    try:
        atomic.commit_set(out, {"report.txt": b"identified"}, key="k")
    finally:
        os.umask(old)
    assert _mode(out) == 0o755 and _mode(out / "report.txt") == 0o600 and _mode(out / atomic.MANIFEST) == 0o600


@posix_only
def test_deidentified_set_has_ordinary_permissions_and_a_set_is_consistent(tmp_path):
    old = os.umask(0o022)
    try:
        out = tmp_path / "deid"
        atomic.commit_set(out, {"a.txt": b"1", "b.txt": b"2"}, key="k", private=False)
        assert _mode(out) == 0o755 and {_mode(p) for p in out.iterdir()} == {0o644}
        # the same folder exported identified: every file of the new set (manifest too) private
        atomic.commit_set(out, {"a.txt": b"3", "b.txt": b"4"}, key="k")
        assert {p.name: _mode(p) for p in out.iterdir()} == {"a.txt": 0o600, "b.txt": 0o600, atomic.MANIFEST: 0o600}
        atomic.commit_set(out, {"a.txt": b"5"}, key="k", private=False)
        assert {p.name: _mode(p) for p in out.iterdir()} == {"a.txt": 0o644, atomic.MANIFEST: 0o644}
    finally:
        os.umask(old)


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd") or not hasattr(os, "fchmod"), reason="Linux /proc")
def test_a_file_system_without_permissions_still_gets_the_write(tmp_path, monkeypatch, caplog):
    """A FAT USB stick or a CIFS mount refuses chmod (EPERM / ENOTSUP): the private write still
    happens -- the file was created owner-only under the umask -- with one warning, no leak."""
    def refuse(fd, mode):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "fchmod", refuse)
    monkeypatch.setattr(atomic, "_told_no_permissions", set())
    before = _open_fds()
    with caplog.at_level("WARNING", logger="workstation.atomic"):
        for i in range(5):
            atomic.atomic_write_bytes(tmp_path / "a.json", b"{%d}" % i, mode=atomic.PRIVATE_FILE)
            atomic.atomic_write_many({tmp_path / "c": b"%d" % i}, mode=atomic.PRIVATE_FILE)
    assert _open_fds() == before
    assert (tmp_path / "a.json").read_bytes() == b"{4}" and (tmp_path / "c").read_bytes() == b"4"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "c"]
    assert len([r for r in caplog.records if "keeps no permissions" in r.message]) == 1


def test_a_failing_chmod_closes_the_file_and_leaves_no_temp(tmp_path, monkeypatch):
    """Any other chmod failure (here EIO) is one clear error, and neither a file descriptor nor a
    temporary file is left behind."""
    def fail(fd, mode):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fchmod", fail)
    before = _open_fds()
    for _ in range(5):
        with pytest.raises((WorkstationError, OSError)):
            atomic.atomic_write_bytes(tmp_path / "a.json", b"{}", mode=atomic.PRIVATE_FILE)
        with pytest.raises((WorkstationError, OSError)):
            atomic.atomic_write_many({tmp_path / "c": b"1"}, mode=atomic.PRIVATE_FILE)
    assert _open_fds() == before
    assert list(tmp_path.iterdir()) == []
