"""Export dialog (driven through its widgets), Copy report, and Open SR restoring measurements."""
from __future__ import annotations

import json

import numpy as np
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QApplication, QMessageBox, QPushButton
from review_helpers import click_at, show_series, volume_of


def _measure(qtbot, win, truth):
    """Grow the lesion, measure enhancement and mark the IVC levels through the tools."""
    from ui.review.tools_ivc import IVC_TOOLS

    pre = volume_of(win, "ct_pre", truth)
    show_series(win, pre)
    win.host.select_tool("grow_lesion")
    with qtbot.waitSignal(win.host.module("rp_review").lesion_tools.grown, timeout=60000):
        click_at(win, win.viewer.axial, truth["mass"]["seed_mm"])
    win.host.select_tool("enhancement")
    with qtbot.waitSignal(win.host.module("rp_review").enhancement_tools.measured, timeout=60000):
        click_at(win, win.viewer.axial, truth["mass"]["solid_roi_point_mm"])
    ivc = truth["ivc"]
    x, y = ivc["tumor_thrombus_point_mm"][:2]
    for kind, z in (("renal_vein", ivc["renal_vein_z_mm"]), ("hepatic_vein", ivc["hepatic_vein_z_mm"]),
                    ("tumor_caudal", ivc["tumor_thrombus_z_mm"][0]), ("tumor_cranial", ivc["tumor_thrombus_z_mm"][1])):
        win.host.select_tool(IVC_TOOLS[kind][0])
        click_at(win, win.viewer.coronal, (x, y, z))
    win.host.select_tool("navigate")
    return pre


def test_export_dialog_writes_three_files_and_copy_report(qtbot, review_window, truth, tmp_path):

    win = review_window
    pre = _measure(qtbot, win, truth)
    tools = win.host.module("rp_review").export_tools
    win.activateWindow()
    tools.act_export.trigger()  # Ctrl+E
    dlg = tools.dialog
    qtbot.waitExposed(dlg)
    assert dlg.selected_volume() is pre  # default: the series measured
    out = tmp_path / "export"
    dlg.folder.clear()
    qtbot.keyClicks(dlg.folder, str(out))
    assert not dlg.deidentify.isChecked()
    with qtbot.waitSignal(tools.exported, timeout=60000):
        qtbot.mouseClick(dlg.export_button, Qt.MouseButton.LeftButton)
    names = sorted(p.name for p in out.iterdir())
    assert names == ["findings.json", "lesion-seg.dcm", "manifest.json", "report-sr.dcm", "report.txt"]
    for n in names:
        assert str(out / n) in dlg.result_label.text()
    assert dlg.error.text() == ""
    doc = json.loads((out / "findings.json").read_text())
    c = win.controller
    assert doc["greatest_dimension_mm"] == c.value("greatest_dimension_mm")
    assert doc["ivc"]["tumor_z_mm"] == c.value("ivc.tumor_z_mm")
    report = (out / "report.txt").read_text()
    assert "T3" in report and "segment" in report.lower()
    # Copy report (Ctrl+Shift+C) puts exactly that report on the clipboard
    QApplication.clipboard().clear()
    tools.act_copy.trigger()
    assert QApplication.clipboard().text() == report
    # an unwritable folder: one line in the dialog, nothing raised
    blocker_file = tmp_path / "a-file"
    blocker_file.write_text("x")
    dlg.folder.setText(str(blocker_file / "sub"))
    with qtbot.waitSignal(tools.export_failed, timeout=60000):
        qtbot.mouseClick(dlg.export_button, Qt.MouseButton.LeftButton)
    assert dlg.error.text() and "\n" not in dlg.error.text()
    dlg.close()


def test_deidentified_export_has_no_patient_name(qtbot, review_window, truth, tmp_path):

    win = review_window
    _measure(qtbot, win, truth)
    tools = win.host.module("rp_review").export_tools
    dlg = tools.show_dialog()
    dlg.folder.setText(str(tmp_path / "deid"))
    qtbot.mouseClick(dlg.deidentify, Qt.MouseButton.LeftButton)
    assert dlg.deidentify.isChecked()
    with qtbot.waitSignal(tools.exported, timeout=60000):
        qtbot.mouseClick(dlg.export_button, Qt.MouseButton.LeftButton)
    name = truth["patient"]["name"].encode()
    pid = truth["patient"]["id"].encode()
    for p in (tmp_path / "deid").iterdir():
        data = p.read_bytes()
        assert name not in data and pid not in data, p.name
    dlg.close()


def test_open_sr_restores_measurements_and_findings(qtbot, review_window, truth, tmp_path):

    win = review_window
    pre = _measure(qtbot, win, truth)
    tools = win.host.module("rp_review").export_tools
    store = win.host.measurements
    sr_able = {m.id: m for m in store.items() if m.kind in ("lesion", "landmark", "caliper", "ellipse")}
    assert len(sr_able) == 5
    with qtbot.waitSignal(tools.exported, timeout=60000):
        tools.export(tmp_path / "x", pre)
    findings = json.loads((tmp_path / "x" / "findings.json").read_text())
    # a fresh reading: nothing on the images, empty findings
    store.clear()
    win.controller.set_document({"schema": "rp-findings/1"})
    QApplication.processEvents()
    assert len(store) == 0
    n = tools.open_sr(tmp_path / "x" / "report-sr.dcm")
    assert n == len(sr_able) == len(store)
    for mid, m in sr_able.items():
        r = store.get(mid)
        assert r is not None and r.kind == m.kind and r.series_uid == pre.series_uid
        if m.kind == "landmark":
            assert r.landmark == m.landmark and np.allclose(r.point, m.point, atol=1e-3)
        if m.kind == "lesion":
            assert np.allclose(r.endpoints, m.endpoints, atol=1e-3)
    # drawn on the images: the landmarks' level lines are back on the coronal view

    assert len(win.host.module("rp_review").ivc_tools.overlays[id(win.viewer.coronal)].items) == 4
    got = win.controller.findings_dict()
    for k in ("greatest_dimension_mm", "ivc", "enhancement_delta_hu"):
        assert got.get(k) == findings.get(k), k
    assert win.controller.assessment().to_dict()["ivc_segments"] == [2]


def test_export_into_another_studys_folder_asks_before_replacing(qtbot, review_window, truth, tmp_path):
    from workstation.atomic import commit_set, read_set

    win = review_window
    show_series(win, volume_of(win, "ct_pre", truth))
    other = tmp_path / "other-study"
    commit_set(other, {"findings.json": b"{}", "report.txt": b"other study"}, key="0" * 32, key_field="study_key")
    before = {p.name: p.read_bytes() for p in other.iterdir()}
    tools = win.host.module("rp_review").export_tools
    dlg = tools.show_dialog()
    dlg.folder.setText(str(other))
    with qtbot.waitSignal(tools.export_conflict, timeout=60000):
        qtbot.mouseClick(dlg.export_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dlg.confirm is not None and dlg.confirm.isVisible(), timeout=60000)
    assert "another study" in dlg.error.text() and "\n" not in dlg.error.text()
    assert {p.name: p.read_bytes() for p in other.iterdir()} == before      # nothing written yet
    # Cancel: the other study's export stays
    qtbot.mouseClick(dlg.confirm.button(QMessageBox.StandardButton.Cancel), Qt.MouseButton.LeftButton)
    assert dlg.confirm is None and {p.name: p.read_bytes() for p in other.iterdir()} == before
    assert dlg.export_button.isEnabled()
    # again, and Replace: this study's set replaces it
    with qtbot.waitSignal(tools.export_conflict, timeout=60000):
        qtbot.mouseClick(dlg.export_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dlg.confirm is not None and dlg.confirm.isVisible(), timeout=60000)
    replace = dlg.confirm.findChild(QPushButton, "export_replace")
    with qtbot.waitSignal(tools.exported, timeout=60000):
        qtbot.mouseClick(replace, Qt.MouseButton.LeftButton)
    manifest = read_set(other)
    assert manifest["study_key"] != "0" * 32
    assert (other / "report-sr.dcm").exists() and (other / "report.txt").read_bytes() != b"other study"
    assert str(other / "report-sr.dcm") in dlg.result_label.text() and dlg.error.text() == ""
    dlg.close()
