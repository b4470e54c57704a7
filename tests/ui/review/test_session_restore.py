"""Autosave (debounced, on every kind of change) and the restore offer bar, in process."""
from __future__ import annotations

import numpy as np
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QApplication

from test_tools_support import (STUDY, click_at, open_review_window, review_window, show_series,  # noqa: F401
                                state_dir, volume_of)


def _store_for(win):
    from workstation.session import SessionStore, study_key

    uids = {v.meta["study_uid"] for v in win.host.volumes().values()}
    return SessionStore(study_key(uids))


def test_changes_are_autosaved_debounced(qtbot, review_window, truth):
    from ui.review.tools_ivc import IVC_TOOLS

    win = review_window
    auto = win.host.module("rp_review").session
    assert auto.state == auto.ACTIVE
    c = win.controller
    n0 = auto.saves
    with qtbot.waitSignal(auto.saved, timeout=5000):
        c.set_finding("calcification", False)
        c.set_finding("necrosis", True)
        c.set_field("grade", 3)
    assert auto.saves == n0 + 1  # three changes, one write
    st = _store_for(win).load()
    assert st.findings["findings"] == {"calcification": False, "necrosis": True} and st.findings["grade"] == 3
    # a measurement placed with a tool is saved too
    pre = volume_of(win, "ct_pre", truth)
    show_series(win, pre)
    win.host.select_tool(IVC_TOOLS["renal_vein"][0])
    with qtbot.waitSignal(auto.saved, timeout=5000):
        click_at(win, win.viewer.coronal, (-20.8, 16.1, -4.0))
    st = _store_for(win).load()
    assert [m.landmark for m in st.measurements] == ["renal_vein"]
    assert not st.clean and _store_for(win).has_unrestored()
    # closing the window flushes and marks the session clean
    c.set_field("grade", 1)
    win.close()
    st = _store_for(win).load()
    assert st.findings["grade"] == 1 and st.clean


def _crashed_session(truth):
    """A session as a killed app leaves it (written with the core store, not closed cleanly)."""
    from workstation.measure.model import Landmark
    from workstation.session import SessionStore, study_key

    store = SessionStore(study_key([truth["study_uid"]]))
    lm = Landmark(series_uid=truth["series"]["ct_pre"]["series_uid"], label="Renal veins",
                  landmark="renal_vein", point=(-20.8, 16.1, -4.0))
    findings = {"schema": "rp-findings/1", "greatest_dimension_mm": 111.0, "findings": {"necrosis": True}}
    store.save(findings, [lm], masks={})
    return findings, lm


def test_restore_bar_restores(qtbot, state_dir, truth):

    findings, lm = _crashed_session(truth)
    win, c = open_review_window(qtbot)
    auto = win.host.module("rp_review").session
    try:
        assert auto.state == auto.OFFERING and auto.bar is not None and auto.bar.isVisible()
        assert "1 measurement" in auto.bar.label.text()
        # nothing is saved while the offer is open: the crashed work stays on disk
        c.set_field("grade", 2)
        qtbot.wait(600)
        assert _store_for(win).load().findings == findings
        with qtbot.waitSignal(auto.restored, timeout=5000):
            qtbot.mouseClick(auto.bar.buttons["restore_session"], Qt.MouseButton.LeftButton)
        assert auto.bar is None and auto.state == auto.ACTIVE
        assert c.findings_dict() == findings
        got = win.host.measurements.get(lm.id)
        assert got is not None and got.to_dict() == lm.to_dict()
        # the restored landmark is drawn: its level line in the coronal view

        assert lm.id in win.host.module("rp_review").ivc_tools.overlays[id(win.viewer.coronal)].items
        # and from now on changes are saved again
        with qtbot.waitSignal(auto.saved, timeout=5000):
            c.set_field("grade", 2)
        assert _store_for(win).load().findings["grade"] == 2
    finally:
        win.close()


def test_discard_and_clean_close_offer_nothing(qtbot, state_dir, truth):

    _crashed_session(truth)
    win, c = open_review_window(qtbot)
    auto = win.host.module("rp_review").session
    with qtbot.waitSignal(auto.discarded, timeout=5000):
        qtbot.mouseClick(auto.bar.buttons["discard_session"], Qt.MouseButton.LeftButton)
    assert len(win.host.measurements) == 0 and "greatest_dimension_mm" not in c.findings_dict()
    win.close()
    QApplication.processEvents()
    win2, _ = open_review_window(qtbot)
    try:
        auto2 = win2.host.module("rp_review").session
        assert auto2.state == auto2.ACTIVE and auto2.bar is None
    finally:
        win2.close()


def test_lesion_mask_edits_are_saved(qtbot, review_window, truth):

    win = review_window
    auto = win.host.module("rp_review").session
    lt = win.host.module("rp_review").lesion_tools
    show_series(win, volume_of(win, "ct_pre", truth))
    win.host.select_tool("grow_lesion")
    with qtbot.waitSignal(lt.grown, timeout=60000):
        click_at(win, win.viewer.axial, truth["mass"]["seed_mm"])
    qtbot.waitUntil(lambda: not auto.busy(), timeout=5000)
    st = _store_for(win).load()
    lid = lt.active_id
    assert set(st.masks) == {lid} and np.array_equal(st.masks[lid], lt.active().mask)
