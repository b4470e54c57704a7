"""The retrieved-study cache (a study cached opens without retrieval; size cap, oldest evicted
first) and aborted retrieves (no half-written or temporary file left)."""
from __future__ import annotations

import os
import threading

import pydicom
import pytest
from orthanc_server import free_port

from workstation.atomic import is_temp_name
from workstation.pacs import Cancelled, PacsError, connect
from workstation.pacs.cache import StudyCache, default_cache


def test_cache_hit_needs_no_server(server_url, sample, tmp_path):
    cache = StudyCache(tmp_path / "cache", 1 << 30)
    seen: list[int] = []
    path = cache.retrieve(connect(server_url), sample.study_uid, progress=lambda d, t: seen.append(d))
    assert len(list(path.rglob("*.dcm"))) == 190 and len(seen) == 190
    assert cache.total_bytes() == sum(f.stat().st_size for f in path.rglob("*.dcm"))
    # the second time the study opens from the cache: a server that refuses would fail otherwise
    dead = connect(f"dicom://NOBODY@127.0.0.1:{free_port()}")
    assert cache.retrieve(dead, sample.study_uid) == path
    with pytest.raises(PacsError, match="connection refused"):
        cache.retrieve(dead, sample.study_uid, series=[next(iter(sample.series))])


def test_size_cap_evicts_the_oldest_first(orthanc, sample, tmp_path):
    client = connect(orthanc.dicomweb_url)
    by_size = sorted(sample.series, key=lambda u: len(sample.series[u]))
    sizes = {u: sum(f.stat().st_size for f in sample.series[u]) for u in by_size}
    # room for the two smaller series but not for all three
    cap = sizes[by_size[0]] + sizes[by_size[1]] + sizes[by_size[2]] // 2
    cache = StudyCache(tmp_path / "cache", cap)
    first = cache.retrieve(client, sample.study_uid, [by_size[0]])
    second = cache.retrieve(client, sample.study_uid, [by_size[1]])
    assert cache.lookup(sample.study_uid, [by_size[0]]) == first  # used again: now the newest
    third = cache.retrieve(client, sample.study_uid, [by_size[2]])
    assert third.is_dir() and first.is_dir()
    assert not second.exists() and cache.lookup(sample.study_uid, [by_size[1]]) is None
    assert cache.total_bytes() <= cap


def test_default_cache_folder_from_environment(tmp_path, config_dir, monkeypatch):
    monkeypatch.setenv("WORKSTATION_CACHE_DIR", str(tmp_path / "elsewhere"))
    assert default_cache().root == tmp_path / "elsewhere"


def _cancel_after(n: int) -> tuple[threading.Event, object]:
    cancel = threading.Event()

    def progress(done: int, total: int) -> None:
        if done >= n:
            cancel.set()

    return cancel, progress


def test_cancelled_retrieve_leaves_only_whole_files(server_url, sample, tmp_path):
    out = tmp_path / "out"
    cancel, progress = _cancel_after(25)
    with pytest.raises(Cancelled):
        connect(server_url).retrieve(sample.study_uid, out, progress=progress, cancel=cancel)
    files = [p for p in out.rglob("*") if p.is_file()]
    assert 25 <= len(files) < 190
    assert not any(is_temp_name(p) for p in files)
    for p in files:  # every file there is complete: it parses and its pixels equal the original
        ds = pydicom.dcmread(p)
        assert ds.PixelData == pydicom.dcmread(sample.sop_to_file[ds.SOPInstanceUID]).PixelData


def test_cancelled_cache_retrieve_leaves_nothing(server_url, sample, tmp_path):
    cache = StudyCache(tmp_path / "cache", 1 << 30)
    cancel, progress = _cancel_after(10)
    with pytest.raises(Cancelled):
        cache.retrieve(connect(server_url), sample.study_uid, progress=progress, cancel=cancel)
    assert list(cache.root.iterdir()) == []
    assert cache.lookup(sample.study_uid) is None


@pytest.mark.parametrize("through_cache", [True, False], ids=["cache", "retrieve-to-folder"])
def test_retrieved_patient_data_is_owner_only_whatever_the_umask(server_url, sample, tmp_path, through_cache):
    """Retrieved instances are patient data: files 0600 and the folders made for them 0700, as
    for saved reads and identified exports (docs/cli.md, "File permissions")."""
    import os
    import stat
    old = os.umask(0o022)
    try:
        series = [next(iter(sample.series))]
        if through_cache:
            out = StudyCache(tmp_path / "cache", 1 << 30).retrieve(connect(server_url), sample.study_uid, series)
            made = [tmp_path / "cache", out]
        else:
            out = tmp_path / "out"
            connect(server_url).retrieve(sample.study_uid, out, series)
            made = []
    finally:
        os.umask(old)
    files = list(out.rglob("*.dcm"))
    assert len(files) == len(sample.series[series[0]])
    assert {stat.S_IMODE(f.stat().st_mode) for f in files} == {0o600}
    folders = made + [d for d in out.rglob("*") if d.is_dir()]
    assert folders and {stat.S_IMODE(d.stat().st_mode) for d in folders} == {0o700}
    if through_cache:  # the entry's record names the study (its UID): owner-only too
        assert stat.S_IMODE((tmp_path / "cache" / f"{out.name}.json").stat().st_mode) == 0o600


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd") or not hasattr(os, "fchmod"), reason="Linux /proc")
def test_a_failing_chmod_closes_the_instance_file(tmp_path, monkeypatch):
    """A retrieve folder where chmod fails (EIO): each instance is one error naming the folder, and
    no descriptor or temporary file is left open. A file system that keeps no permissions (EPERM,
    e.g. a FAT USB stick) is written to all the same."""
    from workstation.errors import WorkstationError
    from workstation.pacs.base import InstanceWriter

    def fail(fd, mode):
        raise OSError(5, "Input/output error")

    def refuse(fd, mode):
        raise PermissionError(1, "Operation not permitted")

    writer = InstanceWriter(tmp_path / "out")
    writer.path_for("1.2.3", "1.2.3.4")  # the series folder exists before chmod fails
    monkeypatch.setattr(os, "fchmod", fail)
    before = len(os.listdir("/proc/self/fd"))
    for i in range(5):
        with pytest.raises(WorkstationError, match="cannot write"):
            writer.write("1.2.3", f"1.2.3.4.{i}", [b"DICM"])
    assert len(os.listdir("/proc/self/fd")) == before
    assert list((tmp_path / "out" / "1.2.3").iterdir()) == []
    monkeypatch.setattr(os, "fchmod", refuse)
    assert writer.write("1.2.3", "1.2.3.4.9", [b"DICM"]).read_bytes() == b"DICM"
    assert len(os.listdir("/proc/self/fd")) == before
