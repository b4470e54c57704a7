"""Fixtures for the review tests (plain helpers are in review_helpers.py).

``review_window``: the main window on the sample study with the review module activated (see
``review_helpers.open_review_window``); autosave goes to a per-test folder (``state_dir``).
``review``: a main window without a study, the review module activated, its panel raised;
``sample_review``: the same on the sample study; ``lymphoma_review``: ``review`` with the
``LYMPHOMA`` picture clicked into the checklist.
``tool_on_pre``: shows the pre-contrast CT and picks a tool; ``grow_mass``: grows the lesion from the
mass seed on it (both are functions, called when the test is ready for them).
"""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
from PyQt6.QtWidgets import QDockWidget
from review_helpers import (
    LYMPHOMA,
    activate_review,
    click_at,
    click_tri,
    open_review_window,
    review_module,
    show_series,
    volume_of,
)
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


@pytest.fixture
def tool_on_pre(review_window, truth):
    """``tool_on_pre(tool_id)`` shows the sample's pre-contrast CT, picks the tool, returns the volume."""

    def select(tool_id: str):
        pre = volume_of(review_window, "ct_pre", truth)
        show_series(review_window, pre)
        review_window.host.select_tool(tool_id)
        return pre

    return select


@pytest.fixture
def grow_mass(qtbot, review_window, truth, tool_on_pre):
    """``grow_mass()`` clicks the mass seed with Grow lesion on the pre-contrast CT and waits for the
    lesion; returns (lesion tools, pre-contrast volume)."""

    def grow():
        tools = review_module(review_window.host).lesion_tools
        pre = tool_on_pre("grow_lesion")
        with qtbot.waitSignal(tools.grown, timeout=60000):
            click_at(review_window, review_window.viewer.axial, truth["mass"]["seed_mm"])
        return tools, pre

    return grow


@pytest.fixture
def review(window, state_dir):
    """A main window (no study) with the review module activated as the host does it."""
    mod = activate_review(window)
    window.findChild(QDockWidget, "panel_RP review").raise_()
    return window, mod


@pytest.fixture
def sample_review(sample_window, state_dir):
    """The sample study loaded, the review module activated."""
    return sample_window, activate_review(sample_window)


@pytest.fixture
def lymphoma_review(qtbot, review):
    """``review`` with the lymphoma picture (``LYMPHOMA``) clicked into the checklist."""
    win, mod = review
    for fid, value in LYMPHOMA.items():
        click_tri(qtbot, mod.panel, fid, value)
    return win, mod
