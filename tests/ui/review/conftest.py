"""Fixtures for the review tests (plain helpers are in review_helpers.py).

``review_window``: the main window on the sample study with the review module activated (see
``review_helpers.open_review_window``); autosave goes to a per-test folder (``state_dir``).
"""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
from review_helpers import open_review_window, review_module
from viewer_helpers import STUDY, TRUTH


@pytest.fixture
def state_dir(tmp_path, monkeypatch):
    d = tmp_path / "state"
    monkeypatch.setenv("WORKSTATION_STATE_DIR", str(d))
    monkeypatch.delenv("WORKSTATION_AUTORESTORE", raising=False)
    return d


@pytest.fixture
def review_window(qtbot, state_dir):
    if not STUDY.exists() or not TRUTH.exists():
        pytest.skip("sample study not generated")
    win, controller = open_review_window(qtbot)
    win.controller = controller  # for the tests
    yield win
    t = review_module(win.host).lesion_tools
    if t is not None:
        t.worker.wait(30000)
    win.study.close()
    win.close()
