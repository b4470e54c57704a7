"""Session store: autosave, crash restore, corrupt files kept aside, no PHI in paths."""
from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from workstation.atomic import is_temp_name
from workstation.measure.model import Caliper, EllipseROI, Landmark, Lesion3D
from workstation.session import SessionError, SessionStore, list_reads, lock_owner, study_key

FINDINGS = {"schema": "rp-findings/1", "greatest_dimension_mm": 121.0, "age_years": 58,
            "sex": "female", "findings": {"necrosis": True, "macroscopic_fat": False}}


def _measurements():
    return [
        Caliper(series_uid="1.2.3", label="long axis", p1=(1, 2, 3), p2=(4, 5, 6)),
        EllipseROI(series_uid="1.2.3", major=((0, 0, 0), (10, 0, 0)), minor=((5, -3, 0), (5, 3, 0)),
                   stats={"mean": 41.5, "sd": 9.0}),
        Landmark(series_uid="1.2.3", landmark="renal_vein", point=(0, 10, -120.5)),
        Lesion3D(series_uid="1.2.3", seed=(1, 1, 1), endpoints=((0, 0, 0), (0, 0, 121)),
                 figures={"volume_ml": 512.0}),
    ]


def test_study_key_is_a_hash_not_a_name():
    k = study_key("1.2.840.113619.2.55.3.1234")
    assert k == study_key(["1.2.840.113619.2.55.3.1234"]) and len(k) == 24
    assert k.isalnum() and "1.2.840" not in k
    assert study_key(["1.2", "1.3"]) == study_key(["1.3", "1.2"])
    with pytest.raises(SessionError):
        study_key([])


def test_save_load_round_trip_with_masks(tmp_path):
    store = SessionStore(study_key("1.2.3.4"), root=tmp_path)
    assert store.load() is None and not store.has_unrestored()
    mask = np.zeros((40, 64, 64), bool)
    mask[10:20, 30:50, 5:9] = True
    mask[25, 1, 1] = True
    ms = _measurements()
    store.save(FINDINGS, ms, {"lesion": mask}, {"window": [40, 400]})
    st = SessionStore(store.key, root=tmp_path).load()
    assert st.findings == FINDINGS
    assert [m.to_dict() for m in st.measurements] == [m.to_dict() for m in ms]
    assert np.array_equal(st.masks["lesion"], mask)
    assert st.extra == {"window": [40, 400]}
    # masks=None keeps the previous masks (cheap save); masks={} drops them
    store2 = SessionStore(store.key, root=tmp_path)
    store2.save({**FINDINGS, "grade": 2}, ms[:1])
    st = store2.load()
    assert st.findings["grade"] == 2 and len(st.measurements) == 1
    assert np.array_equal(st.masks["lesion"], mask)
    store2.save(FINDINGS, ms, {})
    assert store2.load().masks == {}
    assert not any(f.name.endswith(".npz") for f in store2.dir.iterdir())


def test_clean_close_and_discard(tmp_path):
    store = SessionStore(study_key("9.8.7"), root=tmp_path)
    store.save(FINDINGS, _measurements())
    assert store.has_unrestored()
    store.clean_close()
    assert not store.has_unrestored()
    assert store.load().clean
    store.save(FINDINGS, [])          # a new change after reopening: dirty again
    assert store.has_unrestored()
    store.discard()
    assert store.load() is None and not store.has_unrestored()


def test_default_root_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKSTATION_STATE_DIR", str(tmp_path / "state"))
    store = SessionStore(study_key("1.2"))
    store.save(FINDINGS, [])
    assert store.path.is_relative_to(tmp_path / "state")


def test_corrupt_file_is_kept_aside_with_a_clear_message(tmp_path):
    store = SessionStore(study_key("5.5"), root=tmp_path)
    store.save(FINDINGS, _measurements())
    store.path.write_text('{"schema": "rp-session/1", "measurements": [{"kind": "caliper", "p1": [1, 2]}')
    with pytest.raises(SessionError, match=r"session.json.*not valid JSON.*kept as session.json.corrupt-"):
        store.load()
    assert store.load() is None
    aside = [f for f in store.dir.iterdir() if ".corrupt-" in f.name]
    assert len(aside) == 1 and aside[0].read_text().startswith('{"schema"')
    # valid JSON but an invalid measurement: names the field
    store.save(FINDINGS, [])
    doc = json.loads(store.path.read_text())
    doc["measurements"] = [{"kind": "caliper", "p1": [1, 2], "p2": [0, 0, 0]}]
    store.path.write_text(json.dumps(doc))
    with pytest.raises(SessionError, match=r"measurements\[0\].*caliper.p1"):
        store.load()


def test_cheap_save_keeps_a_large_mask_without_rewriting_it(tmp_path):
    """A findings/measurement change (masks unchanged) rewrites only the JSON; the mask file of the
    last mask save stays the same file (timings: benchmarks/session_save.py)."""
    store = SessionStore(study_key("3.3.3"), root=tmp_path)
    mask = np.zeros((120, 512, 512), bool)
    zz, yy, xx = np.ogrid[:120, :512, :512]
    mask[(zz - 60) ** 2 * 9 + (yy - 250) ** 2 + (xx - 260) ** 2 < 60 ** 2] = True
    ms = _measurements() * 5
    store.save(FINDINGS, ms, {"lesion": mask})
    (npz,) = list(store.dir.glob("masks-*.npz"))
    before = npz.stat()
    for i in range(5):
        store.save({**FINDINGS, "greatest_dimension_mm": 100.0 + i}, ms)
    assert list(store.dir.glob("masks-*.npz")) == [npz] and npz.stat().st_ino == before.st_ino
    st = store.load()
    assert st.findings["greatest_dimension_mm"] == 104.0
    assert np.array_equal(st.masks["lesion"], mask)


def test_sigkill_mid_saves_last_completed_save_loads_intact(tmp_path):
    root = tmp_path / "state"
    code = textwrap.dedent(f"""
        import numpy as np
        from workstation.measure.model import Caliper
        from workstation.session import SessionStore
        store = SessionStore("k1", root={str(root)!r})
        i = 0
        while True:
            i += 1
            ms = [Caliper(label=str(i), p1=(0, 0, 0), p2=(j, 0, 0)) for j in range(i % 7)]
            masks = None
            if i % 3 == 0:
                m = np.zeros((30, 64, 64), bool)
                m.reshape(-1)[: i * 37] = True
                masks = {{"lesion": m}}
            store.save({{"schema": "rp-findings/1", "greatest_dimension_mm": float(i)}}, ms, masks,
                       {{"i": i, "mask_i": (i // 3) * 3}})
            if i in (40, 80):
                print("ready" if i == 40 else "more", flush=True)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.stdout.readline().strip() == b"ready"
    assert proc.stdout.readline().strip() == b"more"  # saving goes on: killed somewhere mid-save
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    store = SessionStore("k1", root=root)
    assert store.has_unrestored()
    st = store.load()
    i = st.extra["i"]
    assert i >= 40
    assert st.findings["greatest_dimension_mm"] == float(i)
    assert len(st.measurements) == i % 7 and all(m.label == str(i) for m in st.measurements)
    assert int(st.masks["lesion"].sum()) == st.extra["mask_i"] * 37
    for f in store.dir.iterdir():  # only the state, the current mask file and perhaps temp files
        assert f.name == "session.json" or f.name.startswith("masks-") or is_temp_name(f.name)


# -- one writer per study -----------------------------------------------------------------------
HOLDER = textwrap.dedent("""
    import sys
    from workstation.session import SessionStore
    store = SessionStore(sys.argv[1], root=sys.argv[2])
    st = store.acquire()
    print("held" if st.acquired else "refused", flush=True)
    sys.stdin.readline()  # hold the lock until told (or killed)
""")


def _holder(key, root):
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, key, str(root)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.stdout.readline().strip() == b"held"
    return proc


def test_second_process_is_read_only_and_a_dead_owner_is_taken_over(tmp_path):
    import socket

    key = study_key("7.7.7")
    first = SessionStore(key, root=tmp_path)
    first.save(FINDINGS, _measurements())
    proc = _holder(key, tmp_path)
    try:
        second = SessionStore(key, root=tmp_path)
        st = second.acquire()
        # refused, and told who holds it: the other process, this host
        assert not st.acquired and second.read_only
        assert st.owner is not None and st.owner.pid == proc.pid and st.owner.host == socket.gethostname()
        assert f"process {proc.pid} on" in st.owner.describe()
        assert lock_owner(second).pid == proc.pid
        # a read-only store never writes: the saved read stays as it was
        before = second.path.read_bytes()
        with pytest.raises(SessionError, match="open for editing elsewhere"):
            second.save({"schema": "rp-findings/1"}, [])
        second.clean_close()
        assert second.path.read_bytes() == before and second.load().findings == FINDINGS
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    # the owner died without releasing: its lock file is still there, naming a dead process
    assert json.loads((tmp_path / key / "lock").read_text())["pid"] == proc.pid
    st = second.acquire()
    assert st.acquired and not second.read_only
    assert st.took_over is not None and st.took_over.pid == proc.pid
    second.save({**FINDINGS, "grade": 2}, [])
    assert second.load().findings["grade"] == 2
    # a third store in this process is refused while the second holds the study
    third = SessionStore(key, root=tmp_path)
    assert not third.acquire().acquired
    second.release()
    assert not (tmp_path / key / "lock").exists()
    st = third.acquire()
    assert st.acquired and st.took_over is None
    third.release()


def test_two_processes_never_corrupt_a_read(tmp_path):
    """The writer saves while a second process tries to: the second is refused every time and
    the writer's read loads whole."""
    key = study_key("8.8.8")
    proc = _holder(key, tmp_path)
    try:
        other = SessionStore(key, root=tmp_path)
        for i in range(20):
            assert not other.acquire().acquired
            with pytest.raises(SessionError):
                other.save({"schema": "rp-findings/1", "grade": i}, [])
        assert other.load() is None  # nothing written by the refused process
    finally:
        proc.stdin.write(b"done\n")
        proc.stdin.close()
        proc.wait()


# -- reads ------------------------------------------------------------------------------------
def test_start_a_new_read_archives_and_restores_nothing_deleted(tmp_path):
    store = SessionStore(study_key("6.6"), root=tmp_path)
    mask = np.zeros((10, 20, 20), bool)
    mask[2:5, 3:9, 4:6] = True
    ms = _measurements()
    store.set_source(tmp_path / "study", ["CT", "CT"], 3)
    store.save(FINDINGS, ms, {"lesion": mask})
    first = store.archive_current()
    assert first and store.load() is None and not list(store.dir.glob("masks-*.npz"))
    (r,) = store.reads()
    assert r.read_id == first and r.measurements == 4 and r.masks == 1 and r.findings >= 2
    assert np.array_equal(store.load_read(first).masks["lesion"], mask)
    # a second read with other work; restoring the first archives the second
    store.save({"schema": "rp-findings/1", "grade": 3}, ms[:1], {})
    second_id = store.current_info().archived_id
    archived = store.restore_read(first)
    assert archived == second_id
    st = store.load()
    assert st.findings == FINDINGS and np.array_equal(st.masks["lesion"], mask)
    assert [x.read_id for x in store.reads()] == [second_id]
    assert store.load_read(second_id).findings["grade"] == 3
    # an empty read (header prefill only) is not worth archiving
    store.archive_current()
    store.save({"schema": "rp-findings/1", "age_years": 50, "sex": "female"}, [])
    assert store.archive_current() is None and len(store.reads()) == 2
    with pytest.raises(SessionError, match="no such archived read"):
        store.restore_read("../../etc")


def test_damaged_mask_file_keeps_the_rest_of_the_read(tmp_path):
    store = SessionStore(study_key("4.4"), root=tmp_path)
    mask = np.ones((4, 4, 4), bool)
    store.save(FINDINGS, _measurements(), {"lesion": mask})
    (npz,) = list(store.dir.glob("masks-*.npz"))
    npz.write_bytes(b"garbage")
    st = store.load()
    assert st.findings == FINDINGS and len(st.measurements) == 4 and st.masks == {}
    assert st.problems and "does not match its checksum" in st.problems[0]
    # autosave goes on: the next save does not refer to the damaged file
    store.save(FINDINGS, _measurements())
    assert store.load().problems == []


def test_malformed_header_fields_do_not_stop_autosave(tmp_path):
    store = SessionStore(study_key("4.5"), root=tmp_path)
    store.save(FINDINGS, [])
    doc = json.loads(store.path.read_text())
    doc.update(masks="not a reference", generation="x", read=[1, 2])
    store.path.write_text(json.dumps(doc))
    fresh = SessionStore(store.key, root=tmp_path)
    fresh.save({**FINDINGS, "grade": 1}, [])
    assert fresh.load().findings["grade"] == 1


def test_corrupt_files_kept_aside_never_overwrite_each_other(tmp_path):
    store = SessionStore(study_key("5.6"), root=tmp_path)
    for i in range(3):
        store.path.parent.mkdir(parents=True, exist_ok=True)
        store.path.write_text(f"damaged {i}")
        with pytest.raises(SessionError, match="kept as session.json.corrupt-") as err:
            store.load()
        assert "damaged" not in str(err.value) and len(str(err.value)) <= 300  # never the file's bytes
    aside = sorted(f.read_text() for f in store.dir.iterdir() if ".corrupt-" in f.name)
    assert aside == ["damaged 0", "damaged 1", "damaged 2"]


def test_read_labels_carry_no_patient_data(tmp_path):
    store = SessionStore(study_key("1.2.840.99"), root=tmp_path)
    store.set_source(tmp_path / "DOE^JANE_1960" / "study", ["MR", "CT", "CT"], 4)
    store.save({**FINDINGS, "x_note": "Jane Doe"}, _measurements())
    empty = SessionStore(study_key("1.2.840.100"), root=tmp_path)
    empty.save({"schema": "rp-findings/1", "age_years": 40}, [])
    reads = list_reads(tmp_path)
    assert {r.key for r in reads} == {store.key, empty.key}
    (r,) = [r for r in reads if r.has_work]
    label = r.label()
    assert label.startswith("CT/MR · 4 series · edited ") and label.endswith(f"#{store.key[:6]}")
    text = label + r.summary() + json.dumps(r.to_dict())
    assert "DOE" not in text and "Jane" not in text and "1.2.840" not in text
    assert r.source_path.endswith("study")  # kept (owner-only folder) to reopen the study
    assert (tmp_path / store.key).stat().st_mode & 0o077 == 0
    # a folder an earlier version left readable by others is tightened on the next save
    os.chmod(tmp_path / store.key, 0o755)
    SessionStore(store.key, root=tmp_path).save(FINDINGS, [])
    assert (tmp_path / store.key).stat().st_mode & 0o077 == 0


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
@pytest.mark.parametrize("mask", [0o022, 0o000, 0o277])
def test_every_file_of_a_read_is_0600_and_every_folder_0700_whatever_the_umask(tmp_path, mask):
    root = tmp_path / "state" / "sessions"  # missing: made by the store
    old = os.umask(mask)
    try:
        store = SessionStore(study_key("1.2.840.77"), root=root)
        assert store.acquire().acquired
        vol_mask = np.zeros((4, 5, 6), bool)
        vol_mask[1:3, 2:4, 1:5] = True
        store.save(FINDINGS, _measurements(), masks={"lesion-1": vol_mask})
        store.archive_current()
        store.save(FINDINGS, _measurements(), masks={"lesion-1": vol_mask})
        store.clean_close()
        (store.dir / "session.json").write_text("damaged")  # kept aside: keeps the private mode
        os.chmod(store.dir / "session.json", 0o600)
        with pytest.raises(SessionError):
            store.load()
        store.save(FINDINGS, [])
        paths = [store.root.parent, store.root, *store.root.rglob("*")]
        files = {p.relative_to(tmp_path).as_posix(): p.stat().st_mode & 0o777 for p in paths if p.is_file()}
        dirs = {p.relative_to(tmp_path).as_posix(): p.stat().st_mode & 0o777 for p in paths if p.is_dir()}
        assert any("masks-" in f for f in files) and any("corrupt" in f for f in files) and any(
            "reads/" in f for f in files) and any(f.endswith("/lock") for f in files)
        assert set(files.values()) == {0o600}, files
        assert set(dirs.values()) == {0o700}, dirs
    finally:
        os.umask(old)
        with contextlib.suppress(NameError):
            store.release()


def test_a_damaged_measurement_is_named_by_its_field_never_its_value(tmp_path):
    store = SessionStore(study_key("1.2.840.78"), root=tmp_path)
    store.save(FINDINGS, _measurements())
    doc = json.loads(store.path.read_text())
    doc["measurements"][0]["p1"] = "DOE^JANE 12345678"
    store.path.write_text(json.dumps(doc))
    with pytest.raises(SessionError) as err:
        store.load()
    msg = str(err.value)
    assert re.search(r"measurements\[0\]\.(caliper\.)?p1: expected three coordinates", msg)
    assert "kept as session.json.corrupt-" in msg
    assert "DOE" not in msg and "12345678" not in msg
