"""Helpers for the viewer tests: generated phantom volumes, the sample study, real mouse input.

Mouse input is sent as real ``QMouseEvent``/``QWheelEvent`` objects to the view's viewport widget
(what Qt delivers for a hardware mouse), with sub-pixel positions so measured lengths are not
limited by screen rounding.
"""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
from PyQt6.QtCore import QPoint, QPointF, Qt
from PyQt6.QtGui import QMouseEvent, QWheelEvent
from PyQt6.QtTest import QTest
from PyQt6.QtWidgets import QApplication

from workstation.resources import SAMPLE_DICOM
from workstation.volume import Volume

MOVE_INTERVAL_MS = 12
STUDY = SAMPLE_DICOM / "study"
TRUTH = SAMPLE_DICOM / "truth.json"


def phantom(shape=(40, 64, 80), spacing=(2.5, 0.8, 0.8), origin=(-30.0, -20.0, -50.0),
            row=(1, 0, 0), col=(0, 1, 0), normal=None, uid="1.2.3.phantom", description="PHANTOM",
            modality="CT") -> Volume:
    """A volume whose every voxel value encodes its index (k*10000 + j*100 + i - 200000), so a
    test can tell from a displayed value exactly which voxel is shown."""
    k, j, i = np.indices(shape)
    vox = (k * 10000 + j * 100 + i).astype(np.int32) - 200000
    vol = Volume(vox, spacing, origin, row, col, normal, unit="HU" if modality == "CT" else "signal",
                 modality=modality, series_uid=uid, description=description,
                 meta={"patient_name": "TEST^PATIENT", "series_number": 7})
    return vol


# -- real input -------------------------------------------------------------------------------
def _send_mouse(vp, etype, pos: QPointF, button, buttons, mods=Qt.KeyboardModifier.NoModifier):
    w = vp.viewport()
    g = QPointF(w.mapToGlobal(QPoint(0, 0))) + pos
    ev = QMouseEvent(etype, pos, g, button, buttons, mods)
    QApplication.sendEvent(w, ev)


def drag(vp, a: QPointF, b: QPointF, button=Qt.MouseButton.LeftButton, steps: int = 8,
         mods=Qt.KeyboardModifier.NoModifier) -> None:
    """Press at ``a``, move in steps to ``b``, release at ``b`` (viewport widget coordinates)."""
    T = QMouseEvent.Type
    _send_mouse(vp, T.MouseButtonPress, a, button, button, mods)
    for s in range(1, steps + 1):
        QTest.qWait(MOVE_INTERVAL_MS)  # pyqtgraph drops moves faster than its mouseRateLimit
        p = a + (b - a) * (s / steps)
        _send_mouse(vp, T.MouseMove, p, Qt.MouseButton.NoButton, button, mods)
    QTest.qWait(MOVE_INTERVAL_MS)
    _send_mouse(vp, T.MouseButtonRelease, b, button, Qt.MouseButton.NoButton, mods)
    QApplication.processEvents()


def click(vp, p: QPointF, button=Qt.MouseButton.LeftButton) -> None:
    T = QMouseEvent.Type
    _send_mouse(vp, T.MouseButtonPress, p, button, button)
    _send_mouse(vp, T.MouseButtonRelease, p, button, Qt.MouseButton.NoButton)
    QApplication.processEvents()


def wheel(vp, notches: int, pos: QPointF | None = None, mods=Qt.KeyboardModifier.NoModifier) -> None:
    """``notches`` > 0: wheel turned away from the reader (up); < 0: towards (down)."""
    w = vp.viewport()
    pos = pos or QPointF(w.width() / 2, w.height() / 2)
    g = QPointF(w.mapToGlobal(QPoint(0, 0))) + pos
    ev = QWheelEvent(pos, g, QPoint(0, 0), QPoint(0, 120 * notches), Qt.MouseButton.NoButton, mods,
                     Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(w, ev)
    QApplication.processEvents()


def center(vp) -> QPointF:
    w = vp.viewport()
    return QPointF(w.width() / 2, w.height() / 2)


def show(win, volume: Volume) -> None:
    """Register a volume with the study and show it (as the loader does)."""
    win.study.add_volume(volume)
    win.study.loaded.add(volume.series_uid)
    win.viewer.show_volume(volume)
    QApplication.processEvents()


def shown_window(qtbot, modules: bool, size: tuple[int, int] = (1400, 900)):
    """A real main window (with or without the plugin modules), shown and exposed, owned by qtbot."""
    from ui.app import create_window, make_app

    make_app()
    win = create_window(None, modules=modules)
    qtbot.addWidget(win)
    win.resize(*size)
    win.show()
    qtbot.waitExposed(win)
    return win


def write_synthetic_study(folder, study_uid: str, n: int = 16, size: int = 64, description: str = "SYNTH CT",
                          age: str = "040Y", sex: str = "M") -> list[str]:
    """A small CT series written with pydicom (``tests/workstation/dicom/dicom_synth.py``): a disc
    of 40 HU in air, its own StudyInstanceUID, Patient's Age / Sex set. Returns the file paths."""
    import sys
    from pathlib import Path

    from pydicom.uid import generate_uid

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workstation" / "dicom"))
    from dicom_synth import stack, write

    j, i = np.mgrid[0:size, 0:size]
    r = size / 2 - 0.5
    disc = ((j - r) ** 2 + (i - r) ** 2 <= (0.35 * size) ** 2)
    pixels = np.where(disc, 1024 + 40, 0).astype(np.int16)
    series = generate_uid()
    dss = stack(n, dz=3.0, origin=(-size, -size, -20.0), spacing=(2.0, 2.0), rows=size, cols=size,
                pixels=pixels, study_uid=study_uid, series_uid=series, description=description)
    for ds in dss:
        ds.PatientAge, ds.PatientSex = age, sex
    return write(str(folder), dss)
