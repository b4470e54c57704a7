"""A second window on a study another window edits is visibly read-only (issue 11): the tools that
create or change the read are disabled, the measurements cannot be drawn, moved, renamed, deleted
or undone, the findings panel cannot be changed, and the saved read stays byte-identical whatever
the reader tries; when the editing window closes, "Take over editing" makes it the editing window.
Real windows on the sample study, driven with the mouse and the keyboard."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QAbstractItemView, QApplication, QComboBox
from review_helpers import open_review_window
from viewer_helpers import drag

from workstation.atomic import PRIVATE_FILE, atomic_write_bytes
from workstation.session import SessionStore, study_key


def _module(win):
    return win.host.module("rp_review")


def _at_caliper(win, truth):
    t = truth["caliper"]
    vol = win.study.volumes[truth["series"][t["series"]]["series_uid"]]
    p1, p2 = np.asarray(t["p1_mm"]), np.asarray(t["p2_mm"])
    win.viewer.show_volume(vol)
    win.viewer.set_cursor(p1)
    QApplication.processEvents()
    return p1, p2, win.viewer.axial


def _snapshot(store: SessionStore) -> dict[str, bytes]:
    """Every file of the study's saved state (the lock aside: it is the owner's)."""
    return {p.relative_to(store.dir).as_posix(): p.read_bytes()
            for p in sorted(store.dir.rglob("*")) if p.is_file() and p.name != "lock"}


@pytest.fixture
def owner_with_work(qtbot, review_window, truth):
    """The editing window with a caliper drawn by mouse and two findings, saved."""
    win = review_window
    auto, c = _module(win).session, _module(win).controller
    p1, p2, ax = _at_caliper(win, truth)
    qtbot.keyClick(ax, "m")
    assert win.tools.current.id == "caliper"
    drag(ax, ax.patient_to_widget(p1), ax.patient_to_widget(p2), steps=10)
    win.tools.select("navigate")
    (cal,) = win.store.of_kind("caliper")
    c.set_finding("necrosis", True)
    c.set_field("grade", 2)
    qtbot.waitUntil(lambda: not auto.busy(), timeout=60000)
    store = SessionStore(study_key([truth["study_uid"]]))
    assert {m["id"] for m in json.loads(store.path.read_text())["measurements"]} == {cal.id}
    return win, cal, store


@pytest.fixture
def reader(qtbot, owner_with_work):
    """A second window on the same study: read-only."""
    win2, _ = open_review_window(qtbot)
    yield win2
    win2.close()


def test_the_read_only_window_changes_nothing_whatever_the_reader_tries(qtbot, owner_with_work, reader, truth,
                                                                            tmp_path):
    owner, cal, store = owner_with_work
    win = reader
    mod = _module(win)
    auto, c, panel = mod.session, mod.controller, mod.panel
    assert auto.state == auto.READ_ONLY and auto.bar.text().startswith("Read-only")
    assert cal.id in win.store and c.findings_dict()["findings"] == {"necrosis": True}
    before = _snapshot(store)

    # the tool bar: only viewing tools are usable; an editing tool's key does nothing
    usable = {tid for tid, act in win.tools.actions.items() if act.isEnabled()}
    assert usable == {"navigate", "probe"}
    assert {"caliper", "ellipse", "grow_lesion"} <= set(win.tools.actions) - usable
    # File: no new read, no other read brought back (either would change the owner's read)
    assert not mod.act_new_read.isEnabled() and not mod.reads_menu.menuAction().isEnabled()
    assert mod.recent_menu.menuAction().isEnabled()
    assert "read-only" in win.tools.actions["caliper"].toolTip()
    p1, p2, ax = _at_caliper(win, truth)
    for key in ("m", "e"):
        qtbot.keyClick(ax, key)
        assert win.tools.current.id == "navigate"
    win.host.select_tool("caliper")
    assert win.tools.current.id == "navigate"
    # a caliper drag creates nothing (it moves the crosshair, as Navigate does)
    n = len(win.store)
    drag(ax, ax.patient_to_widget(p1 + [0, 30, 0]), ax.patient_to_widget(p2 + [0, 30, 0]), steps=8)
    assert len(win.store) == n and win.store.of_kind("caliper") == [cal]
    # even were the caliper tool current (a module bypassing the tool bar), the store keeps nothing
    win.tools.current = win.tools.tools["caliper"]
    drag(ax, ax.patient_to_widget(p1 + [0, 30, 0]), ax.patient_to_widget(p2 + [0, 30, 0]), steps=8)
    assert len(win.store) == n
    win.tools.select("navigate")
    # the saved caliper is drawn without handles; dragging its end moves nothing
    g = ax.measurement_layer.graphics[cal.id]
    assert not any(h.isVisible() for h in g.roi.getHandles())
    drag(ax, ax.patient_to_widget(cal.p2), ax.patient_to_widget(np.asarray(cal.p2) + [20.0, 0, 0]), steps=6)
    assert win.store.get(cal.id).to_dict() == cal.to_dict()
    # the list: no rename, no delete (greyed out, and refused when triggered); nothing to undo
    win.store.select(cal.id)
    assert not win.act_delete.isEnabled()
    win.store.remove(cal.id)
    assert cal.id in win.store
    table = win.measurements_panel
    assert table.editTriggers() == QAbstractItemView.EditTrigger.NoEditTriggers
    table.item(0, 0).setText("renamed here")
    assert win.store.get(cal.id).label == cal.label and table.item(0, 0).text() == cal.label
    assert not win.act_undo.isEnabled() and not win.viewer_actions.act_redo.isEnabled()
    win.store.undo()
    assert win.store.get(cal.id).to_dict() == cal.to_dict()

    # the findings panel: a visible note, every editor read-only or disabled, clicks change nothing
    assert panel.read_only_note.isVisible()
    assert panel.editable_widgets() == []
    row = panel.rows["necrosis"]
    assert not any(b.isEnabled() for b in row.tri.buttons.values())
    panel.checklist_area.ensureWidgetVisible(row)
    qtbot.mouseClick(row.tri.buttons[False], Qt.MouseButton.LeftButton)
    spin = panel.editors["age_years"]
    assert spin.isReadOnly() and spin.buttonSymbols() == spin.ButtonSymbols.NoButtons
    spin.setFocus()
    qtbot.keyClick(spin, Qt.Key.Key_Up)
    assert all(not w.isEnabled() for w in panel.editors.values() if isinstance(w, QComboBox))
    assert not c.set_field("grade", 3) and not c.set_finding("calcification", True)
    assert c.findings_dict()["findings"] == {"necrosis": True} and c.value("grade") == 2
    # the summary can still be read and copied
    assert panel.t_label.textInteractionFlags() & Qt.TextInteractionFlag.TextSelectableByMouse

    # Review menu: copying the report and exporting stay; opening an SR (it brings work in) does not
    ex = mod.export_tools
    assert ex.act_export.isEnabled() and ex.act_copy.isEnabled() and not ex.act_open_sr.isEnabled()
    assert "RETROPERITONEAL MASS" in ex.copy_report()
    from workstation.export import export_study

    sr = export_study(_module(owner).controller.findings_dict(), owner.host.volume(cal.series_uid),
                      tmp_path / "sr", measurements=[cal])["sr"]
    assert ex.open_sr(sr) == 0 and len(win.store) == n and not win.act_undo.isEnabled()

    # viewing stays: probe, slice scrolling
    win.tools.select("probe")
    assert win.tools.current.id == "probe"
    win.tools.select("navigate")

    assert not auto.save_now() and not auto.timer.isActive()
    assert _snapshot(store) == before  # byte-identical: the read is the owner's


def test_taking_over_after_the_owner_closes_makes_everything_editable(qtbot, owner_with_work, reader, truth):
    owner, cal, store = owner_with_work
    win = reader
    mod = _module(win)
    auto, c, panel = mod.session, mod.controller, mod.panel
    owner.close()  # the editing window goes: its lock is released
    qtbot.waitUntil(lambda: "has closed" in auto.bar.text(), timeout=60000)
    # still read-only until the reader chooses to take over
    assert auto.state == auto.READ_ONLY and not win.tools.actions["caliper"].isEnabled()
    assert panel.editable_widgets() == []
    qtbot.mouseClick(auto.bar.buttons["take_over_session"], Qt.MouseButton.LeftButton)
    assert auto.state == auto.ACTIVE and auto.bar is None
    assert mod.act_new_read.isEnabled() and mod.reads_menu.menuAction().isEnabled()
    assert win.tools.actions["caliper"].isEnabled() and not panel.read_only_note.isVisible()
    assert win.tools.actions["caliper"].toolTip() == owner.tools.actions["caliper"].toolTip()
    assert win.act_delete.isEnabled() and win.measurements_panel.editTriggers() != QAbstractItemView.EditTrigger.NoEditTriggers
    assert panel.rows["necrosis"].tri.buttons[False].isEnabled() and not panel.editors["age_years"].isReadOnly()
    assert cal.id in win.store and c.value("grade") == 2  # the read as the owner saved it
    # the reader now draws and ticks, and it is saved
    p1, p2, ax = _at_caliper(win, truth)
    qtbot.keyClick(ax, "m")
    drag(ax, ax.patient_to_widget(p1 + [0, 30, 0]), ax.patient_to_widget(p2 + [0, 30, 0]), steps=8)
    assert len(win.store.of_kind("caliper")) == 2
    with qtbot.waitSignal(auto.saved, timeout=60000):
        panel.checklist_area.ensureWidgetVisible(panel.rows["calcification"])
        qtbot.mouseClick(panel.rows["calcification"].tri.buttons[True], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not auto.busy(), timeout=60000)
    saved = store.load()
    assert len([m for m in saved.measurements if m.kind == "caliper"]) == 2
    assert saved.findings["findings"] == {"necrosis": True, "calcification": True}


def test_the_read_only_window_follows_the_owners_saves_and_stays_read_only(qtbot, owner_with_work, reader, truth):
    owner, cal, store = owner_with_work
    win = reader
    mod, omod = _module(win), _module(owner)
    auto = mod.session
    # the editing window goes on: a second caliper, a finding, a grade
    p1, p2, ax = _at_caliper(owner, truth)
    owner.tools.select("caliper")  # (the reader's window has the keyboard focus)
    drag(ax, ax.patient_to_widget(p1 + [0, 25, 0]), ax.patient_to_widget(p2 + [0, 25, 0]), steps=8)
    owner.tools.select("navigate")
    assert len(owner.store.of_kind("caliper")) == 2
    omod.controller.set_finding("calcification", True)
    omod.controller.set_field("grade", 3)
    qtbot.waitUntil(lambda: not omod.session.busy(), timeout=60000)
    saved = _snapshot(store)
    # the read-only window shows it within a few seconds, and is still read-only
    qtbot.waitUntil(lambda: mod.controller.value("grade") == 3, timeout=60000)
    assert len(win.store.of_kind("caliper")) == 2
    assert mod.controller.findings_dict()["findings"] == {"necrosis": True, "calcification": True}
    assert auto.state == auto.READ_ONLY and auto.last_message.startswith("Read-only: showing the editing")
    assert win.store.read_only and mod.controller.read_only and not win.tools.actions["caliper"].isEnabled()
    assert mod.panel.editable_widgets() == [] and mod.panel.read_only_note.isVisible()
    assert not win.act_undo.isEnabled()
    assert _snapshot(store) == saved  # following never writes
    # a caliper the editing window deletes goes here too
    owner.store.remove(cal.id)
    qtbot.waitUntil(lambda: not omod.session.busy(), timeout=60000)
    qtbot.waitUntil(lambda: cal.id not in win.store, timeout=60000)
    assert len(win.store.of_kind("caliper")) == 1 and cal.id not in win.viewer.axial.measurement_layer.graphics
    assert win.store.read_only and not win.act_undo.isEnabled()


def test_a_save_within_the_same_clock_tick_and_size_is_still_followed(qtbot, owner_with_work, reader):
    """A file system with a coarse clock (1-2 s on FAT, some network shares) can give the editing
    window's next save the same modification time, and a changed grade leaves the size alike: the
    read-only window must still show it (each save is a new file, renamed into place)."""
    owner, cal, store = owner_with_work
    auto, c = _module(reader).session, _module(reader).controller
    qtbot.waitUntil(lambda: c.value("grade") == 2, timeout=60000)
    auto.owner_watch.stop()  # no check while the save below is made
    before = store.path.stat()
    text = store.path.read_text()
    assert text.count('"grade":2') == 1
    # the editing window's next save, as it writes it (atomically, owner-only), one digit changed
    atomic_write_bytes(store.path, text.replace('"grade":2', '"grade":3').encode(), mode=PRIVATE_FILE)
    os.utime(store.path, ns=(before.st_atime_ns, before.st_mtime_ns))  # the coarse clock's tick
    assert store.path.stat().st_size == before.st_size
    assert auto.follow_owner() and c.value("grade") == 3
