"""File › Open study…: the host replaces the open study in place (no modules; the review module's
side is in tests/ui/review/test_open_study.py)."""
from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest
from PyQt6.QtGui import QKeySequence
from PyQt6.QtWidgets import QApplication, QFileDialog
from viewer_helpers import STUDY, drag, shown_window, write_synthetic_study

SYNTH_STUDY_UID = "1.2.826.0.1.3680043.8.498.4242"


@pytest.fixture
def synth(tmp_path):
    folder = tmp_path / "synth"
    write_synthetic_study(folder, SYNTH_STUDY_UID)
    return folder


def _open(qtbot, win, path) -> None:
    with qtbot.waitSignal(win.study.study_loaded, timeout=60000):
        assert win.open_study(path)
    QApplication.processEvents()


def _browser_uids(win) -> list[str]:
    from PyQt6.QtCore import Qt

    return [win.browser.item(r).data(Qt.ItemDataRole.UserRole) for r in range(win.browser.count())]


def _scene_items(win) -> int:
    return sum(len(vp.scene().items()) for vp in win.viewer.all_viewports())


def test_file_menu_has_open_study_with_ctrl_o(qtbot, synth, monkeypatch):
    win = shown_window(qtbot, modules=False)
    menus = {a.text().replace("&", ""): a.menu() for a in win.menuBar().actions()}
    assert "File" in menus
    opens = [a for a in menus["File"].actions() if a.shortcut() == QKeySequence("Ctrl+O")]
    assert len(opens) == 1 and opens[0].text().startswith("Open study")
    assert any("file" in a.text().lower() for a in menus["File"].actions())  # zip / DICOMDIR / .dcm
    # the action asks for a folder and opens what was chosen
    asked = []
    monkeypatch.setattr(QFileDialog, "getExistingDirectory",
                        staticmethod(lambda *a, **k: asked.append(a) or str(synth)))
    with qtbot.waitSignal(win.study.study_loaded, timeout=60000):
        opens[0].trigger()
    assert asked and win.study.path == synth
    assert [v.meta["study_uid"] for v in win.study.volumes.values()] == [SYNTH_STUDY_UID]
    # a cancelled dialog changes nothing
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: ""))
    assert not win.ask_open_study(folder=True)
    assert win.study.path == synth and len(win.study.volumes) == 1
    win.study.close()


def test_switching_studies_clears_the_host_and_frees_the_old_volumes(qtbot, synth, truth):
    win = shown_window(qtbot, modules=False)
    _open(qtbot, win, STUDY)
    store, ax = win.store, win.viewer.axial
    # a caliper drawn with the mouse, the compare layout, a problem in the list
    t = truth["caliper"]
    vol = win.study.volumes[truth["series"][t["series"]]["series_uid"]]
    win.viewer.show_volume(vol)
    win.viewer.set_cursor(t["p1_mm"])
    win.tools.select("caliper")
    drag(ax, ax.patient_to_widget(np.asarray(t["p1_mm"])), ax.patient_to_widget(np.asarray(t["p2_mm"])))
    assert len(store) == 1 and store.undo_stack.canUndo()
    assert win.study.pair is not None
    win.show_compare()
    assert win.viewer.layout == "compare" and win.viewer.compare.volume is not None
    win.status_area.add_problem("a problem of the first study")
    old = [weakref.ref(v) for v in win.study.volumes.values()]
    assert len(old) == 3
    del vol
    items_first = _scene_items(win)

    closing = []
    win.host.study_closing.connect(lambda: closing.append((len(win.study.volumes), len(store))))
    _open(qtbot, win, synth)
    # study_closing came before anything was cleared
    assert closing == [(3, 1)]
    new = list(win.study.volumes.values())
    assert [v.meta["study_uid"] for v in new] == [SYNTH_STUDY_UID]
    assert _browser_uids(win) == [new[0].series_uid]
    assert win.study.loaded == {new[0].series_uid} and win.study.pair is None
    assert len(win.study.infos) == 1
    # no measurement, and undo does not bring the old one back
    assert len(store) == 0 and win.measurements_panel.rowCount() == 0
    assert not store.undo_stack.canUndo() and not win.act_undo.isEnabled()
    store.undo()
    assert len(store) == 0
    # default layout, the new study shown, nothing of the old one in any view
    assert win.viewer.layout == "mpr" and win.act_mpr.isChecked()
    assert win.viewer.compare_volume is None and win.viewer.compare.volume is None
    assert all(vp.volume is new[0] for vp in (win.viewer.axial, win.viewer.coronal, win.viewer.sagittal))
    assert all(not vp.measurement_layer.graphics for vp in win.viewer.all_viewports())
    assert win.status_area.problem_lines() == [] and not win.status_area.problems_button.isVisible()
    assert not win.status_area.progress.isVisible()
    # the old volumes are garbage
    gc.collect()
    assert [r() for r in old] == [None, None, None]
    # switching back and forth does not pile up graphics items
    _open(qtbot, win, STUDY)
    _open(qtbot, win, synth)
    items_synth = _scene_items(win)
    _open(qtbot, win, STUDY)
    _open(qtbot, win, synth)
    assert _scene_items(win) == items_synth <= items_first
    win.study.close()


def test_closed_study_leaves_empty_views(qtbot):
    win = shown_window(qtbot, modules=False)
    _open(qtbot, win, STUDY)
    win.viewer.set_cursor((10.0, 20.0, 5.0))
    win.close_study()
    QApplication.processEvents()
    assert win.study.volumes == {} and win.browser.count() == 0
    assert np.array_equal(win.viewer.point, np.zeros(3))
    for vp in win.viewer.all_viewports():
        assert vp.volume is None and vp.mapping is None and vp.image.image is None
        assert not vp.hline.isVisible() and not vp.vline.isVisible()
        assert vp.t_topleft.text() == "" and vp.t_bottomleft.text() == ""
        assert all(t.text() == "" for t in vp.letters.values())


def test_opening_during_a_load_stops_it(qtbot, synth, monkeypatch):
    """Open the sample study and, while it is still loading, the synthetic one: nothing of the
    first load reaches the views, the browser or the volumes afterwards."""
    import threading

    import workstation.dicom

    # the loader reads the sample's second series only once the test has seen the first one
    # arrive: on a busy machine the whole study could otherwise be loaded before the test looks
    real, seen, go = workstation.dicom.read_series, [], threading.Event()

    def second_series_waits(info, *args, **kwargs):
        seen.append(info)
        if len(seen) == 2:
            go.wait(60)
        return real(info, *args, **kwargs)

    monkeypatch.setattr(workstation.dicom, "read_series", second_series_waits)
    win = shown_window(qtbot, modules=False)
    assert win.open_study(STUDY)
    qtbot.waitUntil(lambda: len(win.study.volumes) > 0, timeout=60000)
    assert win.study.loading
    go.set()  # the load goes on: the second series is being read when the other study is opened
    first_load = win.study.loader.worker_thread
    _open(qtbot, win, synth)
    qtbot.waitUntil(first_load.isFinished, timeout=60000)  # the stopped load has ended ...
    QApplication.processEvents()  # ... and whatever it queued has been delivered
    assert [v.meta["study_uid"] for v in win.study.volumes.values()] == [SYNTH_STUDY_UID]
    assert _browser_uids(win) == list(win.study.volumes)
    assert win.viewer.volume is next(iter(win.study.volumes.values()))


def test_a_missing_path_keeps_the_open_study(qtbot, tmp_path):
    win = shown_window(qtbot, modules=False)
    _open(qtbot, win, STUDY)
    before = dict(win.study.volumes)
    assert not win.open_study(tmp_path / "nothing-here")
    assert win.study.volumes == before and win.browser.count() == 3
    assert "no such file" in win.status_area.current_message()
    win.study.close()
