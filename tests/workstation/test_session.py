"""Session store: autosave, crash restore, corrupt files kept aside, no PHI in paths."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from workstation.measure.model import Caliper, EllipseROI, Landmark, Lesion3D
from workstation.session import SessionError, SessionStore, study_key
from workstation.atomic import is_temp_name

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


def test_typical_save_is_fast(tmp_path):
    """A findings/measurement change (masks unchanged) costs well under 20 ms."""
    store = SessionStore(study_key("3.3.3"), root=tmp_path)
    mask = np.zeros((120, 512, 512), bool)
    zz, yy, xx = np.ogrid[:120, :512, :512]
    mask[(zz - 60) ** 2 * 9 + (yy - 250) ** 2 + (xx - 260) ** 2 < 60 ** 2] = True
    ms = _measurements() * 5
    t0 = time.perf_counter()
    store.save(FINDINGS, ms, {"lesion": mask})
    t_mask = time.perf_counter() - t0
    times = []
    for i in range(20):
        t0 = time.perf_counter()
        store.save({**FINDINGS, "greatest_dimension_mm": 100.0 + i}, ms)
        times.append(time.perf_counter() - t0)
    median = sorted(times)[len(times) // 2]
    print(f"save with a 120x512x512 mask: {t_mask * 1000:.1f} ms; typical save median {median * 1000:.2f} ms")
    assert median < 0.020
    assert t_mask < 1.0
    assert np.array_equal(store.load().masks["lesion"], mask)


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
            if i == 40:
                print("ready", flush=True)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.stdout.readline().strip() == b"ready"
    time.sleep(0.3)
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
