"""Plain helpers for the review tests (the fixtures are in conftest.py; no tests here).

``open_review_window`` opens the main window on the sample study with the review module as the
app has it: the ``rp_review`` entry point when the review plugin activates (it creates its tools),
otherwise a ``ReviewModule`` activated on the host directly, so the tools are tested the same way
either way; the tools are reached through the module (``host.module("rp_review").lesion_tools``).
"""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QApplication
from viewer_helpers import STUDY, click, shown_window


def review_module(host):
    """The activated review module of ``host`` (None when it is not activated)."""
    return host.module("rp_review")


def install_review(host):
    """The controller of the activated review module (activating one when the host has none)."""
    mod = review_module(host)
    if mod is None:
        from ui.review.plugin import ReviewModule

        mod = ReviewModule()
        mod.activate(host)
        host.modules.append(mod)
    return mod.controller


def open_review_window(qtbot, modules: bool = True):
    win = shown_window(qtbot, modules=modules)
    controller = install_review(win.host)
    with qtbot.waitSignal(win.study.study_loaded, timeout=60000):
        win.study.open(STUDY)
    return win, controller


def volume_of(win, key: str, truth: dict):
    return win.host.volume(truth["series"][key]["series_uid"])


def show_series(win, volume) -> None:
    win.study.show_series(volume.series_uid)
    QApplication.processEvents()


def click_at(win, vp, xyz) -> None:
    """Put the crosshair on ``xyz`` (every view shows its slice) and click it in ``vp``."""
    win.viewer.set_cursor(np.asarray(xyz, float))
    QApplication.processEvents()
    click(vp, vp.patient_to_widget(xyz))


def activate_review(win):
    """A ``ReviewModule`` activated on the window's host as the host does it."""
    from ui.review.plugin import ReviewModule

    mod = ReviewModule()
    mod.activate(win.host)
    QApplication.processEvents()
    return mod


def click_tri(qtbot, panel, fid, value) -> None:
    """Click the [Y][N][?] button of checklist item ``fid`` for ``value`` (True, False, None)."""
    panel.checklist_area.ensureWidgetVisible(panel.rows[fid])
    qtbot.mouseClick(panel.rows[fid].tri.buttons[value], Qt.MouseButton.LeftButton)


#: a lymphoma picture, as a reader clicks it into the checklist
LYMPHOMA = {"b_symptoms": True, "elevated_ldh": True, "homogeneous": True, "necrosis": False,
            "multiple_adenopathy": True, "vascular_encasement_without_narrowing": True}
