"""Issue 6: kill the app mid-session (SIGKILL) and check that reopening restores everything.

The first app runs in a subprocess (a real main window with the review module, on the sample
study, autosaving into a temporary state folder). It grows the lesion, brushes it, marks the IVC
levels with clicks in the coronal view, measures enhancement and ticks findings through the
controller, waits until the autosave has written everything, prints the state it holds as JSON and
"saved", then sleeps. The test kills it with SIGKILL, opens a second window in this process on the
same study and state folder with ``WORKSTATION_AUTORESTORE=1`` and checks the restored findings,
measurements and lesion mask are exactly the saved ones.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest
from viewer_helpers import STUDY, TRUTH

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]

CHILD = textwrap.dedent(r'''
    import json, os, signal, sys, time
    sys.path[:0] = [{tests_ui!r}, {here!r}]
    import numpy as np
    from PyQt6.QtCore import QEventLoop, QTimer
    from PyQt6.QtWidgets import QApplication
    from review_helpers import open_review_window, click_at, volume_of
    from viewer_helpers import drag

    class Bot:  # the bits of pytest-qt's qtbot that open_review_window uses
        def addWidget(self, w): pass
        def waitExposed(self, w, timeout=5000): QApplication.processEvents()
        def waitSignal(self, sig, timeout=60000): return Wait(sig, timeout)

    class Wait:  # a signal already emitted inside the block ends the wait; a missing one fails
        def __init__(self, sig, timeout): self.sig, self.timeout, self.fired = sig, timeout, False
        def __enter__(self):
            self.loop = QEventLoop(); self.sig.connect(self.fire); return self
        def fire(self, *a):
            self.fired = True; self.loop.quit()
        def __exit__(self, *exc):
            if exc[0] is None and not self.fired:
                QTimer.singleShot(self.timeout, self.loop.quit); self.loop.exec()
                assert self.fired, "signal not emitted within %d ms" % self.timeout
            return False

    def settle(ms):
        loop = QEventLoop(); QTimer.singleShot(ms, loop.quit); loop.exec()

    from ui.app import make_app
    app = make_app()  # kept referenced for the life of the process
    truth = json.load(open({truth!r}))
    bot = Bot()
    win, c = open_review_window(bot)
    from ui.review.tools_ivc import IVC_TOOLS
    host = win.host
    auto = host.module("rp_review").session
    assert auto is not None and auto.state == auto.ACTIVE, "autosave not active"
    pre = volume_of(win, "ct_pre", truth)
    win.study.show_series(pre.series_uid)
    lt = host.module("rp_review").lesion_tools
    host.select_tool("grow_lesion")
    with bot.waitSignal(lt.grown):
        click_at(win, win.viewer.axial, truth["mass"]["seed_mm"])
    # brush a stroke in the coronal view above the mass
    tip = np.asarray(truth["mass"]["center_mm"]) + [0, 0, truth["mass"]["semi_axes_mm"][2] + 5]
    win.viewer.set_cursor(truth["mass"]["center_mm"]); settle(50)
    host.select_tool("lesion_brush")
    cor = win.viewer.coronal
    with bot.waitSignal(lt.measured):
        drag(cor, cor.patient_to_widget(tip - [12, 0, 0]), cor.patient_to_widget(tip + [12, 0, 0]))
    ivc = truth["ivc"]
    x, y = ivc["tumor_thrombus_point_mm"][:2]
    for kind, z in (("renal_vein", ivc["renal_vein_z_mm"]), ("hepatic_vein", ivc["hepatic_vein_z_mm"]),
                    ("tumor_caudal", ivc["tumor_thrombus_z_mm"][0]), ("tumor_cranial", ivc["tumor_thrombus_z_mm"][1])):
        host.select_tool(IVC_TOOLS[kind][0])
        click_at(win, cor, (x, y, z))
    host.select_tool("enhancement")
    with bot.waitSignal(host.module("rp_review").enhancement_tools.measured):
        click_at(win, win.viewer.axial, truth["mass"]["solid_roi_point_mm"])
    c.set_finding("necrosis", True, source="reader")
    c.set_finding("lymph_node_metastases", False)
    c.set_field("grade", 2)
    # wait for the autosave to catch up (debounced), then report what it holds (a deadline, not a
    # count of 50 ms pauses: those stretch on a loaded machine)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        settle(50)
        if not auto.busy() and auto.saves > 0:
            break
    assert not auto.busy(), "autosave did not finish"
    state = {{"findings": c.findings_dict(),
              "measurements": [m.to_dict() for m in host.measurements.items()],
              "mask_voxels": {{k: int(m.sum()) for k, m in lt.masks().items()}}}}
    print(json.dumps(state), flush=True)
    print("saved", flush=True)
    signal.pause()  # the child waits for the SIGKILL the test sends once it has read "saved"
''')


def _read_until_saved(proc, timeout_s: float) -> list[str]:
    lines: list[str] = []
    done = threading.Event()

    def reader():
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if line.strip() == "saved":
                done.set()
                return
        done.set()

    threading.Thread(target=reader, daemon=True).start()
    done.wait(timeout_s)
    return lines


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_killed_session_is_restored_exactly(qtbot, tmp_path, monkeypatch):
    if not STUDY.exists() or not TRUTH.exists():
        pytest.skip("sample study not generated")
    state_dir = tmp_path / "state"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", WORKSTATION_STATE_DIR=str(state_dir))
    env.pop("WORKSTATION_AUTORESTORE", None)
    script = CHILD.format(tests_ui=str(HERE.parent), here=str(HERE), truth=str(TRUTH))
    # the child's stderr goes to a file: a pipe nobody reads until the end can fill and stall it
    err_path = tmp_path / "child-stderr.txt"
    with open(err_path, "w") as err:
        proc = subprocess.Popen([sys.executable, "-c", script], cwd=str(ROOT), env=env, text=True,
                                stdout=subprocess.PIPE, stderr=err)
    try:
        lines = _read_until_saved(proc, 480)
        assert lines and lines[-1] == "saved", f"child did not save: {lines[-3:]} {err_path.read_text()[-2000:]}"
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    saved = json.loads(lines[-2])
    assert len(saved["measurements"]) == 7  # lesion, 4 landmarks, 2 enhancement spheres
    sessions = list(state_dir.glob("*/session.json"))
    assert len(sessions) == 1 and json.loads(sessions[0].read_text())["clean"] is False

    # reopen: same study, same state folder; the offer is accepted by the environment
    monkeypatch.setenv("WORKSTATION_STATE_DIR", str(state_dir))
    monkeypatch.setenv("WORKSTATION_AUTORESTORE", "1")
    from review_helpers import install_review

    from ui.app import create_window, make_app
    make_app()
    win = create_window(None, modules=True)
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    c = install_review(win.host)
    auto = win.host.module("rp_review").session
    with qtbot.waitSignals([win.study.study_loaded, auto.restored], timeout=60000):
        win.study.open(STUDY)
    try:
        got_findings = c.findings_dict()
        assert got_findings == saved["findings"]
        got = [json.loads(json.dumps(m.to_dict())) for m in win.host.measurements.items()]
        assert sorted(got, key=lambda d: d["id"]) == sorted(saved["measurements"], key=lambda d: d["id"])
        lt = win.host.module("rp_review").lesion_tools
        assert {k: int(m.sum()) for k, m in lt.masks().items()} == saved["mask_voxels"]
        # what the reader sees: the overlay on the restored mask, the segment call, the T category
        vp = win.viewer.axial
        win.viewer.jump_to(next(m for m in win.host.measurements.items() if m.kind == "lesion").seed)
        assert lt.overlays[id(vp)].image.isVisible()
        a = c.assessment().to_dict()
        assert a["ivc_segments"] == [2] and a["t_category"] == "T3"
        assert np.isclose(c.value("enhancement_delta_hu"), saved["findings"]["enhancement_delta_hu"])
    finally:
        win.close()
    # a clean close is remembered: no offer next time
    assert json.loads(sessions[0].read_text())["clean"] is True
