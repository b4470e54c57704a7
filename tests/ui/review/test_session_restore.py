"""Autosave (debounced, on every kind of change) and the saved read coming back, in process."""
from __future__ import annotations

import numpy as np
from review_helpers import click_at, open_review_window, show_series, volume_of


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
    with qtbot.waitSignal(auto.saved, timeout=60000):
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
    with qtbot.waitSignal(auto.saved, timeout=60000):
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


def test_crashed_session_comes_back_with_a_status_line(qtbot, state_dir, truth):

    findings, lm = _crashed_session(truth)
    win, c = open_review_window(qtbot)
    auto = win.host.module("rp_review").session
    try:
        assert auto.state == auto.ACTIVE and auto.bar is None
        assert c.findings_dict() == findings
        assert auto.last_message.startswith("Restored your read of this study")
        assert "1 measurement" in auto.last_message and "findings" in auto.last_message
        got = win.host.measurements.get(lm.id)
        assert got is not None and got.to_dict() == lm.to_dict()
        # the restored landmark is drawn: its level line in the coronal view
        assert lm.id in win.host.module("rp_review").ivc_tools.overlays[id(win.viewer.coronal)].items
        # and from now on changes are saved again
        with qtbot.waitSignal(auto.saved, timeout=60000):
            c.set_field("grade", 2)
        st = _store_for(win).load()
        assert st.findings["grade"] == 2 and [m.id for m in st.measurements] == [lm.id]
    finally:
        win.close()


def test_autorestore_0_archives_the_saved_read_instead(qtbot, state_dir, truth, monkeypatch):

    findings, lm = _crashed_session(truth)
    monkeypatch.setenv("WORKSTATION_AUTORESTORE", "0")
    win, c = open_review_window(qtbot)
    auto = win.host.module("rp_review").session
    try:
        assert len(win.host.measurements) == 0 and "greatest_dimension_mm" not in c.findings_dict()
        reads = auto.reads()
        assert len(reads) == 1 and reads[0].measurements == 1  # kept, not deleted
        assert auto.store.load_read(reads[0].read_id).findings == findings
    finally:
        win.close()


def test_lesion_mask_edits_are_saved(qtbot, review_window, truth):

    win = review_window
    auto = win.host.module("rp_review").session
    lt = win.host.module("rp_review").lesion_tools
    show_series(win, volume_of(win, "ct_pre", truth))
    win.host.select_tool("grow_lesion")
    with qtbot.waitSignal(lt.grown, timeout=60000):
        click_at(win, win.viewer.axial, truth["mass"]["seed_mm"])
    qtbot.waitUntil(lambda: not auto.busy(), timeout=60000)
    st = _store_for(win).load()
    lid = lt.active_id
    assert set(st.masks) == {lid} and np.array_equal(st.masks[lid], lt.active().mask)
