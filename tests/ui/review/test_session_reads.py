"""The read of a study persists and has one writer (issue 11): clean close -> relaunch (in process
and in a new process) brings it back, a second window or process is read-only until the owner has
gone, a damaged session file is kept aside while autosave carries on, "Start a new read" archives,
File › Reads of this study and File › Recent studies bring reads back. Real windows, real study."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
from PyQt6.QtCore import Qt
from review_helpers import click_at, open_review_window, show_series, volume_of
from viewer_helpers import STUDY, write_synthetic_study

from workstation.session import SessionStore, study_key

HERE = Path(__file__).resolve().parent


def _module(win):
    return win.host.module("rp_review")


def _store(truth) -> SessionStore:
    return SessionStore(study_key([truth["study_uid"]]))


def _landmark(win, truth, kind="renal_vein"):
    from ui.review.tools_ivc import IVC_TOOLS

    show_series(win, volume_of(win, "ct_pre", truth))
    ivc = truth["ivc"]
    x, y = ivc["tumor_thrombus_point_mm"][:2]
    z = ivc["renal_vein_z_mm"] if kind == "renal_vein" else ivc["hepatic_vein_z_mm"]
    win.host.select_tool(IVC_TOOLS[kind][0])
    click_at(win, win.viewer.coronal, (x, y, z))
    win.host.select_tool("navigate")
    return next(m for m in win.host.measurements.items() if getattr(m, "landmark", None) == kind)


def _work(qtbot, win, truth, grow: bool = True):
    """A grown lesion (mask, target lesion), a landmark and findings, saved."""
    mod = _module(win)
    lt, auto, c = mod.lesion_tools, mod.session, mod.controller
    if grow:
        show_series(win, volume_of(win, "ct_pre", truth))
        win.host.select_tool("grow_lesion")
        with qtbot.waitSignal(lt.grown, timeout=60000):
            click_at(win, win.viewer.axial, truth["mass"]["seed_mm"])
    lm = _landmark(win, truth)
    c.set_finding("necrosis", True)
    c.set_field("grade", 3)
    qtbot.waitUntil(lambda: not auto.busy(), timeout=60000)
    return lm


def _snapshot(win) -> dict:
    mod = _module(win)
    lt = mod.lesion_tools
    return {"findings": mod.controller.findings_dict(),
            "measurements": sorted(json.dumps(m.to_dict(), sort_keys=True) for m in win.host.measurements.items()),
            "masks": {k: int(m.sum()) for k, m in lt.masks().items()}, "active": lt.active_id}


def test_clean_close_then_relaunch_brings_the_read_back(qtbot, state_dir, truth):
    win, _ = open_review_window(qtbot)
    _work(qtbot, win, truth)
    before = _snapshot(win)
    assert before["masks"] and before["active"] in before["masks"]
    win.close()  # a clean close
    assert json.loads(_store(truth).path.read_text())["clean"] is True

    win2, c2 = open_review_window(qtbot)
    try:
        auto = _module(win2).session
        assert auto.state == auto.ACTIVE and auto.bar is None
        assert auto.last_message.startswith("Restored your read of this study")
        assert "2 measurements, findings, lesion mask" in auto.last_message
        assert _snapshot(win2) == before  # findings, measurements, masks, the target lesion
        lt = _module(win2).lesion_tools
        win2.viewer.jump_to(lt.active().seed)
        assert lt.overlays[id(win2.viewer.axial)].image.isVisible()
        # reopening saved nothing over the read before it came back: it is still whole on disk
        st = _store(truth).load()
        assert st.findings == before["findings"] and len(st.measurements) == 2
    finally:
        win2.close()


RELAUNCH = textwrap.dedent(r'''
    import json, sys
    from PyQt6.QtCore import QEventLoop, QTimer
    from ui.app import create_window, make_app
    app = make_app()
    win = create_window(None, modules=True)
    win.resize(1200, 800)
    win.show()
    mod = win.host.module("rp_review")
    loop = QEventLoop()
    win.study.study_loaded.connect(lambda: QTimer.singleShot(0, loop.quit))
    QTimer.singleShot(120000, loop.quit)
    win.study.open(sys.argv[1])
    loop.exec()
    lt = mod.lesion_tools
    print(json.dumps({"state": mod.session.state, "message": mod.session.last_message,
                      "findings": mod.controller.findings_dict(),
                      "measurements": sorted(m.id for m in win.host.measurements.items()),
                      "masks": {k: int(m.sum()) for k, m in lt.masks().items()}, "active": lt.active_id}))
    win.close()
''')


def test_relaunch_in_a_new_process_brings_the_read_back(qtbot, state_dir, truth):
    win, _ = open_review_window(qtbot)
    _work(qtbot, win, truth)
    before = _snapshot(win)
    ids = sorted(m.id for m in win.host.measurements.items())
    win.close()
    out = subprocess.run([sys.executable, "-c", RELAUNCH, str(STUDY)], capture_output=True, timeout=300,
                         env={**os.environ, "QT_QPA_PLATFORM": "offscreen"}, cwd=str(HERE.parents[2]))
    assert out.returncode == 0, out.stderr.decode()[-2000:]
    got = json.loads(out.stdout.decode().strip().splitlines()[-1])
    assert got["state"] == "active" and got["message"].startswith("Restored your read of this study")
    assert got["findings"] == before["findings"] and got["measurements"] == ids
    assert got["masks"] == before["masks"] and got["active"] == before["active"]
    assert json.loads(_store(truth).path.read_text())["clean"] is True  # the child closed cleanly too


HOLDER = textwrap.dedent("""
    import sys
    from workstation.session import SessionStore
    st = SessionStore(sys.argv[1]).acquire()
    print("held" if st.acquired else "refused", flush=True)
    sys.stdin.readline()
""")


def test_another_process_on_the_study_makes_the_window_read_only_until_it_dies(qtbot, state_dir, truth):
    from workstation.measure.model import Landmark

    store = _store(truth)
    lm = Landmark(series_uid=truth["series"]["ct_pre"]["series_uid"], label="Renal veins",
                  landmark="renal_vein", point=(-20.8, 16.1, -4.0))
    saved = {"schema": "rp-findings/1", "grade": 2, "findings": {"necrosis": True}}
    store.save(saved, [lm], masks={})
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, store.key], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, env=dict(os.environ))
    try:
        assert proc.stdout.readline().strip() == b"held"
        win, c = open_review_window(qtbot)
        auto = _module(win).session
        # read-only, with a banner that names the owner; the saved read is shown
        assert auto.state == auto.READ_ONLY and auto.bar is not None and auto.bar.isVisible()
        assert auto.bar.text().startswith("Read-only") and f"process {proc.pid} on" in auto.bar.text()
        assert c.findings_dict() == saved and lm.id in win.host.measurements
        # changes here are never written
        on_disk = store.path.read_bytes()
        c.set_field("grade", 4)
        assert not auto.timer.isActive() and not auto.save_now()
        win.host.measurements.remove(lm.id)
        assert store.path.read_bytes() == on_disk
        # taking over while the owner lives: refused
        qtbot.mouseClick(auto.bar.buttons["take_over_session"], Qt.MouseButton.LeftButton)
        assert auto.state == auto.READ_ONLY and auto.last_message.startswith("Still open for editing")
        # the owner is killed: its lock is stale and taken over; the saved read replaces the
        # unsaved read-only changes
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert auto.owner_gone()
        qtbot.waitUntil(lambda: "has closed" in auto.bar.text(), timeout=60000)  # the banner says so
        qtbot.mouseClick(auto.bar.buttons["take_over_session"], Qt.MouseButton.LeftButton)
        assert auto.state == auto.ACTIVE and auto.bar is None
        assert f"took over from process {proc.pid}" in auto.last_message
        assert c.findings_dict() == saved and lm.id in win.host.measurements
        with qtbot.waitSignal(auto.saved, timeout=60000):
            c.set_field("grade", 1)
        assert store.load().findings["grade"] == 1
        win.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_second_window_on_the_same_study_is_read_only(qtbot, review_window, truth):
    win = review_window
    auto = _module(win).session
    assert auto.state == auto.ACTIVE
    win2, c2 = open_review_window(qtbot)
    auto2 = _module(win2).session
    try:
        assert auto2.state == auto2.READ_ONLY and f"process {os.getpid()} on" in auto2.bar.text()
        c2.set_field("grade", 4)
        assert not auto2.save_now()
    finally:
        win2.close()
    # the read-only window's close leaves the owner's lock alone: the first window still saves
    assert json.loads((_store(truth).dir / "lock").read_text())["pid"] == os.getpid()
    with qtbot.waitSignal(auto.saved, timeout=60000):
        win.controller.set_field("grade", 1)
    assert _store(truth).load().findings["grade"] == 1


def test_a_damaged_session_file_is_kept_aside_and_autosave_carries_on(qtbot, state_dir, truth):
    store = _store(truth)
    store.dir.mkdir(parents=True)
    damaged = '{"schema": "rp-session/1", "measurements": [{"kind": "cali'
    store.path.write_text(damaged)
    win, c = open_review_window(qtbot)
    try:
        auto = _module(win).session
        assert auto.state == auto.ACTIVE
        assert auto.bar is not None and auto.bar.isVisible() and auto.bar.kind == "error"
        assert "kept aside" in auto.bar.text() and "autosave continues" in auto.bar.text()
        assert "cali" not in auto.bar.text()  # names the file, never echoes its contents
        assert any("session.json.corrupt-" in p for p in win.status_area.problem_lines())
        (aside,) = [f for f in store.dir.iterdir() if ".corrupt-" in f.name]
        assert aside.read_text() == damaged
        with qtbot.waitSignal(auto.saved, timeout=60000):
            c.set_field("grade", 2)
        assert store.load().findings["grade"] == 2
        qtbot.mouseClick(auto.bar.buttons["dismiss_session_banner"], Qt.MouseButton.LeftButton)
        assert auto.bar is None
    finally:
        win.close()


def test_start_a_new_read_archives_and_the_reads_menu_brings_it_back(qtbot, review_window, truth):
    win = review_window
    mod = _module(win)
    auto, c = mod.session, mod.controller
    file_menu = win.host.menu("&File")
    titles = [a.text() for a in file_menu.actions()]
    assert {"Start a new read", "Reads of this study", "Recent studies"} <= set(titles)
    lm = _work(qtbot, win, truth, grow=False)
    mod.act_new_read.trigger()
    # the window starts empty, the previous read is archived, listed and nothing deleted
    assert len(win.host.measurements) == 0 and c.value("grade") is None and c.value("findings.necrosis") is None
    assert c.value("sex") == "female"  # the header prefill of the open study again
    (old,) = auto.reads()
    assert old.measurements == 1 and old.findings >= 2
    st = auto.store.load()
    assert st is not None and not st.has_work()
    assert auto.last_message.startswith("Started a new read")
    with qtbot.waitSignal(auto.saved, timeout=60000):
        c.set_field("grade", 1)
    # File › Reads of this study: the archived read comes back, the current one is archived
    mod.reads_menu.aboutToShow.emit()
    (act,) = [a for a in mod.reads_menu.actions() if a.data()]
    assert "1 measurement" in act.text()
    act.trigger()
    assert lm.id in win.host.measurements and c.value("grade") == 3 and c.value("findings.necrosis") is True
    (other,) = auto.reads()
    assert other.read_id != old.read_id and auto.store.load_read(other.read_id).findings["grade"] == 1
    qtbot.waitUntil(lambda: not auto.busy(), timeout=60000)
    assert auto.store.load().findings["grade"] == 3


def test_recent_studies_lists_reads_in_progress_and_reopens_them(qtbot, review_window, truth, tmp_path):
    win = review_window
    mod = _module(win)
    lm = _work(qtbot, win, truth, grow=False)
    key = study_key([truth["study_uid"]])
    synth = tmp_path / "synth"
    write_synthetic_study(synth, "1.2.826.0.1.3680043.8.498.5151")
    with qtbot.waitSignal(win.study.study_loaded, timeout=60000):
        assert win.open_study(synth)
    assert len(win.host.measurements) == 0
    mod.recent_menu.aboutToShow.emit()
    acts = [a for a in mod.recent_menu.actions() if a.data()]
    assert [a.data() for a in acts] == [key]  # the synthetic study holds no work: not listed
    label = acts[0].text()
    mods = "/".join(sorted({k.split("_")[0].upper() for k in truth["series"]}))  # CT/MR
    n = len(truth["series"])
    assert re.fullmatch(rf"{mods} · {n} series · edited \d{{4}}-\d\d-\d\d \d\d:\d\d · #{key[:6]}", label), label
    for phi in (truth["patient"]["name"], truth["patient"]["id"], "SYNTHETIC", truth["study_uid"], str(STUDY)):
        assert phi not in label and phi not in acts[0].toolTip()
    with qtbot.waitSignal(win.study.study_loaded, timeout=60000):
        acts[0].trigger()
    assert win.host.study_path() == Path(STUDY)
    assert lm.id in win.host.measurements and mod.controller.value("grade") == 3
    assert mod.session.last_message.startswith("Restored your read of this study")
    # the open study is not opened again from the menu
    mod.recent_menu.aboutToShow.emit()
    (again,) = [a for a in mod.recent_menu.actions() if a.data() == key]
    again.trigger()
    assert "is the one open" in win.status_area.current_message()
    assert np.isclose(mod.controller.value("grade"), 3)
