"""Fixtures for the viewer tests (helpers in viewer_helpers.py)."""
from __future__ import annotations

import json
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
from viewer_helpers import STUDY, TRUTH, phantom, shown_window


@pytest.fixture
def make_phantom():
    return phantom


@pytest.fixture(scope="session")
def truth() -> dict:
    if not TRUTH.exists():
        pytest.skip("sample study not generated")
    return json.loads(TRUTH.read_text())


@pytest.fixture
def window(qtbot):
    """A main window without modules and without a study (tests add volumes)."""
    from ui.app import make_app
    from ui.main_window import MainWindow

    make_app()
    win = MainWindow()
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.study.close()


@pytest.fixture
def sample_window(qtbot):
    """The main window with the sample study fully loaded."""
    if not STUDY.exists():
        pytest.skip("sample study not generated")
    win = shown_window(qtbot, modules=False)
    with qtbot.waitSignal(win.study.study_loaded, timeout=60000):
        win.study.open(STUDY)
    yield win
    win.study.close()


