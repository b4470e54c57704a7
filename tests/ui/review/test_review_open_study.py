"""The review module when another study is opened in the same window (File › Open study…): the old
study's work is saved and closed cleanly, the review starts afresh on the new study, and opening the
old study again brings its read back."""
from __future__ import annotations

import gc
import weakref

import numpy as np
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QApplication
from review_helpers import click_at, show_series, volume_of
from viewer_helpers import STUDY, drag, write_synthetic_study

from workstation.session import SessionStore, study_key

SYNTH_STUDY_UID = "1.2.826.0.1.3680043.8.498.4343"


def _module(win):
    return next(m for m in win.host.modules if getattr(m, "panel", None) is not None)


def _open(qtbot, win, path) -> None:
    with qtbot.waitSignal(win.study.study_loaded, timeout=60000):
        assert win.open_study(path)
    QApplication.processEvents()


def _checked(panel, fid):
    on = [v for v, b in panel.rows[fid].tri.buttons.items() if b.isChecked()]
    assert len(on) == 1
    return on[0]


def _fresh_ranking(doc) -> list[str]:
    from ui.review.controller import ReviewController

    fresh = ReviewController()
    assert fresh.set_document(doc)
    return [d.label for d in fresh.assessment().differentials]


def test_open_another_study_resets_the_review_and_keeps_the_work(qtbot, review_window, truth, tmp_path):
    from ui.review.plugin import header_age_years

    win = review_window
    mod = win.host.module("rp_review")
    c, panel, auto, lt = win.controller, _module(win).panel, mod.session, mod.lesion_tools
    store = win.host.measurements
    first_key = study_key([truth["study_uid"]])
    assert auto.state == auto.ACTIVE

    # work on the sample study: a grown lesion (mask + overlay, suggestions), a caliper drawn with
    # the mouse, a finding ticked in the panel
    pre = volume_of(win, "ct_pre", truth)
    show_series(win, pre)
    win.host.select_tool("grow_lesion")
    with qtbot.waitSignal(lt.grown, timeout=60000):
        click_at(win, win.viewer.axial, truth["mass"]["seed_mm"])
    assert lt.entries and lt.overlays[id(win.viewer.axial)].image.isVisible()
    t = truth["caliper"]
    win.viewer.set_cursor(t["p1_mm"])
    win.host.select_tool("caliper")
    ax = win.viewer.axial
    drag(ax, ax.patient_to_widget(np.asarray(t["p1_mm"])), ax.patient_to_widget(np.asarray(t["p2_mm"])))
    caliper = store.of_kind("caliper")[0]
    panel.checklist_area.ensureWidgetVisible(panel.rows["necrosis"])
    qtbot.mouseClick(panel.rows["necrosis"].tri.buttons[True], Qt.MouseButton.LeftButton)
    assert c.value("findings.necrosis") is True and c.value("greatest_dimension_mm") is not None
    ranking_before = [label for label, _ in panel.ranking_shown()]
    # the change is still waiting for its debounced save: the switch must flush it
    assert auto.busy()

    # the next study (pydicom-written) has no saved work
    synth = tmp_path / "synth"
    write_synthetic_study(synth, SYNTH_STUDY_UID, age="040Y", sex="M")

    old = [weakref.ref(v) for v in win.host.volumes().values()]
    del pre
    _open(qtbot, win, synth)

    # the first study: saved with the caliper and the finding, and closed cleanly
    first = SessionStore(first_key)
    assert not first.has_unrestored()
    st = first.load()
    assert st.clean and st.findings["findings"]["necrosis"] is True
    assert caliper.id in {m.id for m in st.measurements} and st.masks  # the lesion mask too
    # the host: only the new series, no measurement, nothing to undo
    new = list(win.host.volumes().values())
    assert [v.meta["study_uid"] for v in new] == [SYNTH_STUDY_UID] and win.browser.count() == 1
    assert len(store) == 0 and not store.undo_stack.canUndo()
    store.undo()
    assert len(store) == 0
    # the review: no findings, no sources but the new header's, no suggestions, default ranking
    doc = c.findings_dict()
    assert set(doc) <= {"schema", "age_years", "sex", "x_sources"}
    assert doc["age_years"] == 40 and doc["sex"] == "male"  # prefilled from the new study's header
    assert all(_checked(panel, fid) is None for fid in panel.rows)
    assert c.suggestions() == {} and not panel.banner.isVisible()
    assert panel.t_label.text().startswith("—") and panel.editors["greatest_dimension_mm"].number() is None
    shown = [label for label, _ in panel.ranking_shown()]
    assert shown == _fresh_ranking(doc) and shown != ranking_before
    # the lesion tools hold nothing of the old study
    assert lt.entries == {} and lt.active() is None
    assert not any(ov.image.isVisible() or ov.line.isVisible() for ov in lt.overlays.values())
    # the old volumes are garbage
    gc.collect()
    assert all(r() is None for r in old)
    assert auto.state == auto.ACTIVE and auto.bar is None

    # back to the sample study: its read comes back (closed cleanly, still brought back)
    _open(qtbot, win, STUDY)
    assert auto.state == auto.ACTIVE and auto.bar is None
    assert auto.last_message.startswith("Restored your read of this study")
    assert caliper.id in store and c.value("findings.necrosis") is True
    assert lt.entries and lt.active() is not None  # the lesion mask, ready for the brush
    st = SessionStore(first_key).load()
    assert caliper.id in {m.id for m in st.measurements} and st.findings["findings"]["necrosis"] is True
    # and the study is set up as on the first opening: header prefill, pre/post pair
    pre = volume_of(win, "ct_pre", truth)
    assert c.value("age_years") == header_age_years(pre.meta["patient_age"])
    assert c.value("sex") == {"F": "female", "M": "male"}[truth["patient"]["sex"]]
    assert win.study.pair is not None and all(v in win.host.volumes().values() for v in win.study.pair)
    assert not any(r() is not None for r in old)
