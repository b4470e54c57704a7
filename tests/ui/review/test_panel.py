"""The RP review side panel, driven through its real widgets in the real main window.

What the tests read is what the reader sees: the order of the differential bars as laid out on
screen, the summary labels, the number boxes and the checked [Y][N][?] buttons.
"""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QApplication, QDockWidget
from review_helpers import LYMPHOMA, click_tri

from workstation.measure.model import Caliper, Landmark


def order(panel) -> list[str]:
    return [label for label, _pct in panel.ranking_shown()]


def checked_value(panel, fid):
    tri = panel.rows[fid].tri
    on = [v for v, b in tri.buttons.items() if b.isChecked()]
    assert len(on) == 1
    return on[0]


def pick(combo, i: int) -> None:
    """Entry ``i`` of a combo box, as the reader's choice (current index, then activated)."""
    combo.setCurrentIndex(i)
    combo.activated.emit(i)


def choose(combo, value) -> None:
    """The entry of a combo box whose data is ``value`` (a real choice, not the "not set" entry)."""
    i = combo.findData(value)
    assert i > 0, value
    pick(combo, i)


def type_number(qtbot, spin, text: str) -> None:
    spin.setFocus()
    spin.lineEdit().selectAll()
    qtbot.keyClicks(spin.lineEdit(), text)
    qtbot.keyClick(spin.lineEdit(), Qt.Key.Key_Return)


# ------------------------------------------------------------------------------------------------
def test_fat_yes_moves_liposarcoma_up(qtbot, review):
    win, mod = review
    panel = mod.panel
    before = order(panel)
    assert len(before) == len(mod.controller.assessment().differentials) == 14 and "Liposarcoma" in before
    assert before[0] != "Liposarcoma"
    assert checked_value(panel, "macroscopic_fat") is None
    click_tri(qtbot, panel, "macroscopic_fat", True)
    after = order(panel)
    assert checked_value(panel, "macroscopic_fat") is True
    assert after.index("Liposarcoma") < before.index("Liposarcoma")
    assert after[0] == "Liposarcoma"
    # the percentages shown sum to about 100 and the top bar has the largest
    pcts = [float(p.split()[0]) if not p.startswith("<") else 0.0 for _l, p in panel.ranking_shown()]
    assert pcts[0] == max(pcts) and 95 <= sum(pcts) <= 105
    # "no" moves it back down below where "yes" put it; "?" restores the original order
    click_tri(qtbot, panel, "macroscopic_fat", False)
    assert order(panel).index("Liposarcoma") > before.index("Liposarcoma")
    click_tri(qtbot, panel, "macroscopic_fat", None)
    assert order(panel) == before
    assert "findings" not in mod.controller.findings_dict()


def test_reasons_on_demand_name_the_finding(qtbot, review):
    win, mod = review
    panel = mod.panel
    click_tri(qtbot, panel, "macroscopic_fat", True)
    top = min(panel.bars, key=lambda b: b.y())
    assert top.label_text == "Liposarcoma"
    assert "macroscopic fat" in top.toolTip().lower()
    i = panel.bars.index(top)
    assert not panel.reason_labels[i].isVisible()
    qtbot.mouseClick(top, Qt.MouseButton.LeftButton)
    assert panel.reason_labels[i].isVisible()
    shown = panel.reason_labels[i].text()
    core = mod.controller.assessment().differentials[0]
    assert core.id == "liposarcoma" and core.raised_by
    assert "Raised by" in shown and core.raised_by[0].text.split(" — ")[0] in shown
    qtbot.mouseClick(top, Qt.MouseButton.LeftButton)
    assert not panel.reason_labels[i].isVisible()


def test_age_and_sex_change_the_ranking(qtbot, review):
    win, mod = review
    panel = mod.panel
    shown0 = panel.ranking_shown()
    type_number(qtbot, panel.editors["age_years"], "8")
    assert mod.controller.value("age_years") == 8
    assert panel.source_labels["age_years"].text() == "entered by hand"
    shown1 = panel.ranking_shown()
    assert shown1 != shown0
    combo = panel.editors["sex"]
    combo.setFocus()
    qtbot.keyClick(combo, Qt.Key.Key_Down)  # unknown -> female
    assert mod.controller.value("sex") == combo.currentData() == "female"
    assert panel.ranking_shown() != shown1
    # back to unknown: the sex term weighs nothing again
    qtbot.keyClick(combo, Qt.Key.Key_Up)
    assert mod.controller.value("sex") is None
    assert panel.ranking_shown() == shown1


def test_caliper_fills_greatest_dimension_and_t3(qtbot, sample_review):
    win, mod = sample_review
    panel, c, store = mod.panel, mod.controller, win.host.measurements
    truth_pre = next(v for v in win.host.volumes().values() if v.description == "CT ABD NON-CONTRAST")
    uid = truth_pre.series_uid
    cal = store.add(Caliper(series_uid=uid, label="Mass AP", p1=(-20.0, 0.0, 0.0), p2=(90.0, 0.0, 0.0)))
    assert c.value("greatest_dimension_mm") == pytest.approx(110.0)
    assert panel.editors["greatest_dimension_mm"].number() == pytest.approx(110.0)
    assert panel.t_label.text().startswith("cT3")  # a sarcoma leads for this woman of 57: staging applies
    src = panel.source_labels["greatest_dimension_mm"].text()
    assert "caliper 'Mass AP'" in src and "CT ABD NON-CONTRAST" in src
    # N0 M0 known, grade not: the stage shows the possible groups and what is missing
    click_tri(qtbot, panel, "lymph_node_metastases", False)
    click_tri(qtbot, panel, "distant_metastases", False)
    assert panel.stage_label.text() == "possible: IB or IIIB (missing: grade)"
    # a shorter caliper does not replace the longest
    small = store.add(Caliper(series_uid=uid, label="Node", p1=(0.0, 0.0, 0.0), p2=(30.0, 0.0, 0.0)))
    assert c.value("greatest_dimension_mm") == pytest.approx(110.0)
    # typed by hand: never overwritten silently by a longer caliper
    type_number(qtbot, panel.editors["greatest_dimension_mm"], "95")
    assert panel.t_label.text().lstrip("c").startswith("T2")  # cT2, or "T2 if sarcoma" when no sarcoma leads
    assert panel.source_labels["greatest_dimension_mm"].text() == "entered by hand"
    big = store.add(Caliper(series_uid=uid, label="Long", p1=(0.0, 0.0, -70.0), p2=(0.0, 0.0, 60.0)))
    assert c.value("greatest_dimension_mm") == 95
    assert panel.use_largest_button.isVisible()
    qtbot.mouseClick(panel.use_largest_button, Qt.MouseButton.LeftButton)
    assert c.value("greatest_dimension_mm") == pytest.approx(130.0)
    assert "caliper 'Long'" in panel.source_labels["greatest_dimension_mm"].text()
    assert not panel.use_largest_button.isVisible()
    # removing the measurement the value came from falls back to the longest left, then to unknown
    store.remove(big.id)
    assert c.value("greatest_dimension_mm") == pytest.approx(110.0)
    store.remove(cal.id)
    store.remove(small.id)
    assert c.value("greatest_dimension_mm") is None
    assert panel.editors["greatest_dimension_mm"].number() is None
    assert panel.t_label.text().startswith("—")


def test_landmarks_fill_ivc_segment_2(qtbot, review):
    win, mod = review
    panel, c, store = mod.panel, mod.controller, win.host.measurements
    marks = {}
    for kind, z in (("renal_vein", -60.0), ("hepatic_vein", 60.0), ("tumor_caudal", -30.0)):
        marks[kind] = store.add(Landmark(label=kind, landmark=kind, point=(5.0, 20.0, z)))
    assert c.value("ivc.renal_vein_z_mm") == -60.0 and c.value("ivc.hepatic_vein_z_mm") == 60.0
    assert c.value("ivc.tumor_z_mm") is None  # needs both ends
    assert "tumour ends" in panel.ivc_label.text()
    marks["tumor_cranial"] = store.add(Landmark(label="top", landmark="tumor_cranial", point=(5.0, 20.0, 20.0)))
    assert c.value("ivc.tumor_z_mm") == [-30.0, 20.0]
    # without histology a renal primary with tumour thrombus leads: its Neves-Zincke level is given
    assert panel.ivc_label.text() == ("segment 2 (suprarenal-infrahepatic IVC) · tumour-thrombus level II "
                                      "(renal/adrenal primary)")
    assert "kidney: if renal cell carcinoma: at least cT3b" in panel.stage_label.text()
    # a primary IVC leiomyosarcoma is described by its segments only: no thrombus level, no kidney T
    assert c.set_field("histology", "leiomyosarcoma")
    assert panel.ivc_label.text() == "segment 2 (suprarenal-infrahepatic IVC)"
    assert "kidney" not in panel.stage_label.text()
    assert c.set_field("histology", None)
    a, b = panel.editors["ivc.tumor_z_mm"]
    assert (a.number(), b.number()) == (-30.0, 20.0)
    assert panel.editors["ivc.renal_vein_z_mm"].number() == -60.0
    assert "landmark 'renal_vein'" in panel.source_labels["ivc.renal_vein_z_mm"].text()
    # the cranial end moved above the hepatic veins: segments 2 and 3
    moved = Landmark(label="top", landmark="tumor_cranial", point=(5.0, 20.0, 80.0), id=marks["tumor_cranial"].id)
    store.update(moved)
    assert panel.ivc_label.text().startswith("segments 2 and 3 (suprarenal-infrahepatic IVC; suprahepatic IVC")
    assert panel.ivc_label.text().endswith("· tumour-thrombus level III (renal/adrenal primary)")
    store.remove(marks["tumor_cranial"].id)
    assert c.value("ivc.tumor_z_mm") is None
    assert (a.number(), b.number()) == (None, None)
    assert panel.ivc_label.text().startswith("—")


def test_invalid_input_is_refused_with_problem(qtbot, review):
    win, mod = review
    c, panel = mod.controller, mod.panel
    assert c.set_field("age_years", 64)
    doc = c.findings_dict()
    with qtbot.waitSignal(c.problem, timeout=1000) as sig:
        assert c.set_field("age_years", 130) is False
    assert "age_years" in sig.args[0] and "120" in sig.args[0]
    assert c.findings_dict() == doc
    assert panel.editors["age_years"].number() == 64
    assert panel.problem_label.isVisible() and "age_years" in panel.problem_label.text()
    # other refusals: wrong type, unknown id, hepatic veins caudal to renal veins
    for call in (lambda: c.set_field("sex", "f"), lambda: c.set_finding("no_such_item", True),
                 lambda: c.set_field("grade", 4)):
        with qtbot.waitSignal(c.problem, timeout=1000):
            assert call() is False
    assert c.set_ivc("renal_vein_z_mm", -50.0)
    with qtbot.waitSignal(c.problem, timeout=1000) as sig:
        assert c.set_ivc("hepatic_vein_z_mm", -80.0) is False
    assert "hepatic_vein_z_mm" in sig.args[0]
    assert c.findings_dict() == {**doc, "ivc": {"renal_vein_z_mm": -50.0}}
    # a whole document is refused as a whole
    with qtbot.waitSignal(c.problem, timeout=1000):
        assert c.set_document({"schema": "rp-findings/1", "age_years": 50, "findings": {"fat": True}}) is False
    assert c.value("age_years") == 64


def test_every_click_updates_the_ranking_shown(qtbot, review):
    """Click -> ranking read back from the bars (the timing of this path is benchmarks/review_panel.py)."""
    win, mod = review
    panel = mod.panel
    ids = ["macroscopic_fat", "calcification", "necrosis", "hemorrhage", "b_symptoms", "vascular_invasion",
           "multiple_adenopathy", "paraspinal_location", "low_t2_signal", "homogeneous"]
    for fid in ids:
        for value in (True, False):
            panel.checklist_area.ensureWidgetVisible(panel.rows[fid])
            before = panel.ranking_shown()
            qtbot.mouseClick(panel.rows[fid].tri.buttons[value], Qt.MouseButton.LeftButton)
            assert panel.ranking_shown() != before, fid


def test_suggestions_accept_and_dismiss(qtbot, review):
    win, mod = review
    c, panel = mod.controller, mod.panel
    assert c.suggest("calcification", True, "calcified voxels 4 % of the lesion")
    row = panel.rows["calcification"]
    assert row.strip.isVisibleTo(panel) and "calcified voxels" in row.suggestion_label.text()
    assert row.property("suggested") == "true"
    assert panel.banner.isVisibleTo(panel)
    assert checked_value(panel, "calcification") is None  # never ticked silently
    assert "findings" not in c.findings_dict()
    qtbot.mouseClick(row.accept_button, Qt.MouseButton.LeftButton)
    assert checked_value(panel, "calcification") is True
    assert not row.strip.isVisibleTo(panel) and not panel.banner.isVisibleTo(panel)
    assert "calcified voxels" in c.sources()["findings.calcification"]
    assert "calcified voxels" in row.label.toolTip()
    assert c.suggest("necrosis", True, "low attenuation 30 %")
    qtbot.mouseClick(panel.rows["necrosis"].dismiss_button, Qt.MouseButton.LeftButton)
    assert checked_value(panel, "necrosis") is None
    assert not panel.rows["necrosis"].strip.isVisibleTo(panel)
    assert c.suggest("necrosis", True, "low attenuation 31 %") is False  # not raised again
    assert c.suggestions() == {}


def test_filter_and_collapsible_groups(qtbot, review):
    win, mod = review
    panel = mod.panel
    sec = panel.sections["clinical"]
    assert panel.rows["b_symptoms"].isVisibleTo(panel)
    qtbot.mouseClick(sec.header, Qt.MouseButton.LeftButton)
    assert not panel.rows["b_symptoms"].isVisibleTo(panel) and not sec.is_expanded()
    qtbot.mouseClick(sec.header, Qt.MouseButton.LeftButton)
    assert panel.rows["b_symptoms"].isVisibleTo(panel)
    qtbot.keyClicks(panel.filter, "fat")
    assert panel.rows["macroscopic_fat"].isVisibleTo(panel)
    assert panel.rows["fat_fluid_level"].isVisibleTo(panel)
    assert not panel.rows["b_symptoms"].isVisibleTo(panel)
    assert not panel.sections["spread"].isVisibleTo(panel)
    panel.filter.clear()
    assert all(r.isVisibleTo(panel) for r in panel.rows.values())


def test_checklist_groups_come_from_the_resource(review):
    from workstation.resources import load_json

    win, mod = review
    panel = mod.panel
    groups = load_json("checklist.json")["groups"]
    assert list(panel.sections) == [g["id"] for g in groups]
    for g in groups:
        sec = panel.sections[g["id"]]
        assert sec.title == g["label"]
        assert sec.row_ids == [it["id"] for it in g["items"]]
        for it in g["items"]:
            assert panel.rows[it["id"]].label.text() == it["label"]


def test_usable_at_380_px(qtbot, review):
    win, mod = review
    panel = mod.panel
    panel.setParent(None)  # on its own, at the narrow width
    qtbot.addWidget(panel)
    panel.show()
    qtbot.waitExposed(panel)
    for width in (380, 340):
        panel.resize(width, 900)
        QApplication.processEvents()
        view = panel.checklist_area.viewport()
        content = panel.checklist_area.widget()
        assert content.width() <= view.width(), width  # nothing clipped on the right
        for fid in ("homogeneous", "t1_hyperintense_nonsuppressing", "perirenal_or_posterior_pararenal",
                    "vascular_encasement_without_narrowing", "claw_sign", "active_extravasation",
                    "intracardiac_extension", "hydronephrosis"):
            row = panel.rows[fid]
            panel.checklist_area.ensureWidgetVisible(row)
            q = row.tri.buttons[None]
            assert q.mapTo(view, q.rect().topRight()).x() <= view.width(), (width, fid)
        for path, ed in panel.editors.items():
            last = ed[1] if isinstance(ed, tuple) else ed
            assert last.mapTo(content, last.rect().topRight()).x() <= view.width(), (width, path)
        for bar in panel.bars:
            assert bar.width() <= panel.dx_scroll.viewport().width()
        for lab in panel.rec_labels:  # the recommendations wrap inside the panel
            assert lab.mapTo(content, lab.rect().topRight()).x() <= view.width(), width


def test_plugin_found_through_entry_point_and_activated(qtbot, state_dir):
    from ui.app import create_window, make_app
    from ui.review.panel import ReviewPanel
    from workstation import plugins

    entries, problems = plugins.discover()
    names = {e.name: e for e in entries}
    assert "rp_review" in names, problems
    assert names["rp_review"].factory.id == "rp_review"
    make_app()
    win = create_window(None, modules=True)
    qtbot.addWidget(win)
    mods = [m for m in win.host.modules if getattr(m, "id", None) == "rp_review"]
    assert len(mods) == 1
    docks = [d for d in win.findChildren(QDockWidget) if d.windowTitle() == "RP review"]
    assert len(docks) == 1 and isinstance(docks[0].widget(), ReviewPanel)
    assert not [p for p in win.host.module_problems if "rp_review" in p]


def test_age_and_sex_prefilled_from_the_header_once(qtbot, sample_review, truth):
    win, mod = sample_review
    c, panel = mod.controller, mod.panel
    want_age = float(int(truth["patient"]["age"][:3]))
    assert c.value("age_years") == want_age
    assert c.value("sex") == {"F": "female", "M": "male"}[truth["patient"]["sex"]]
    assert "DICOM header" in panel.source_labels["age_years"].text()
    # the reader clears the age: loading another series does not put it back
    qtbot.mouseClick(panel.clear_buttons["age_years"], Qt.MouseButton.LeftButton)
    assert c.value("age_years") is None and panel.editors["age_years"].number() is None
    assert panel.editors["age_years"].text() == "not set"
    for vol in win.host.volumes().values():
        win.host.series_loaded.emit(vol)
    assert c.value("age_years") is None


# -- issue 10: staging applicability, recommendations, words, version 1.1 fields --------------------
def test_staging_shows_why_it_does_not_apply(qtbot, lymphoma_review):
    win, mod = lymphoma_review
    c, panel = mod.controller, mod.panel
    type_number(qtbot, panel.editors["greatest_dimension_mm"], "121")
    assert order(panel)[0] == "Lymphoma"
    assert panel.stage_label.text().startswith("does not apply — ") and "Lymphoma" in panel.stage_label.text()
    assert panel.t_label.text().startswith("T3 if sarcoma")          # only as a condition, never cT3
    # histology names a sarcoma: staging applies, labelled as clinical (cT)
    choose(panel.editors["histology"], "leiomyosarcoma")
    assert c.value("histology") == "leiomyosarcoma"
    assert panel.t_label.text().startswith("cT3") and not panel.stage_label.text().startswith("does not")
    assert "possible" in panel.stage_label.text()


def test_recommendations_follow_the_findings(qtbot, lymphoma_review):
    win, mod = lymphoma_review
    panel = mod.panel
    shown = panel.recommendations_shown()
    ids = [r.id for r in mod.controller.assessment().recommendations]
    assert len(shown) == len(ids) >= 1 and shown[0].startswith("1. ")
    assert any("core" in t and "not fine-needle aspiration" in t for t in shown)
    assert not any("after resection" in t.lower() for t in shown)
    assert "Source:" in panel.rec_labels[0].toolTip() and "Why:" in panel.rec_labels[0].toolTip()
    # a paraganglioma picture: biochemistry comes first
    for fid in LYMPHOMA:
        click_tri(qtbot, panel, fid, None)
    for fid in ("organ_of_zuckerkandl_location", "catecholamine_excess"):
        click_tri(qtbot, panel, fid, True)
    assert "metanephrines" in panel.recommendations_shown()[0]


def test_bars_carry_words_and_never_100_percent(qtbot, lymphoma_review):
    win, mod = lymphoma_review
    panel = mod.panel
    shown = panel.ranking_shown()
    assert all(p not in ("100 %", "0 %") for _l, p in shown)
    top = min(panel.bars, key=lambda b: b.mapTo(panel, b.rect().topLeft()).y())
    core = mod.controller.assessment().differentials[0]
    assert top.word == core.likelihood_word != "" and core.likelihood_word in top.accessibleName()
    assert core.likelihood_word in top.toolTip()
    # the "why" stays in the panel: the reasons of the top entry name their findings
    qtbot.mouseClick(top, Qt.MouseButton.LeftButton)
    assert "Raised by" in panel.reason_labels[panel.bars.index(top)].text()


def test_version_1_1_fields_in_the_panel(qtbot, review):
    win, mod = review
    c, panel = mod.controller, mod.panel
    for path, value in (("side", "right"), ("resected", True)):
        choose(panel.editors[path], value)
        assert c.value(path) == value
    assert c.findings_dict()["schema"] in ("rp-findings/1", "rp-findings/1.1")
    type_number(qtbot, panel.editors["ivc.right_atrium_z_mm"], "140")
    assert c.value("ivc.right_atrium_z_mm") == 140
    pick(panel.editors["resected"], 0)
    assert c.value("resected") is None


def test_make_target_action_in_the_review_menu(review):
    win, mod = review
    act = mod.link.act_make_target
    assert act.shortcut().toString() == "Shift+T"
    menus = [a.menu() for a in win.menuBar().actions() if a.menu() is not None]
    review_menu = next(m for m in menus if m.title().replace("&", "") == "Review")
    assert act in review_menu.actions()
    act.trigger()  # nothing selected: says what to do, changes nothing
    assert "select a grown lesion" in win.status_area.current_message()
    assert mod.controller.value("greatest_dimension_mm") is None
