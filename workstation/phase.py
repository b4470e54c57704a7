"""The contrast phase of a series: one classifier for the app and the report.

:func:`classify` reads the series description (whole-word keywords from
``resources/contrast_phase.json``, first class in the table's order wins) and falls back on the
header's ContrastBolusAgent. :func:`pre_or_post` folds the phase into the two sides of a
hanging-protocol pair. Both the app's hanging protocol (``ui.display``) and the report's technique
line (``workstation.export.report``) call these, so a series is never "pre" on screen and
"portal venous" in the report.
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Literal

from .resources import load_json

__all__ = ["PHASES", "classify", "phase_of_volume", "pre_or_post"]

PrePost = Literal["pre", "post"]


@lru_cache(maxsize=1)
def _table() -> tuple[tuple[str, re.Pattern[str]], ...]:
    doc = load_json("contrast_phase.json")
    out = []
    for phase in doc["order"]:
        words = sorted(doc["keywords"][phase], key=len, reverse=True)
        alt = "|".join(re.escape(w.lower()) for w in words)
        out.append((phase, re.compile(rf"(?<![a-z0-9])(?:{alt})(?![a-z0-9])")))
    return tuple(out)


#: every phase name :func:`classify` can return, in the table's order
PHASES: tuple[str, ...] = tuple(load_json("contrast_phase.json")["order"])


def classify(description: str | None, contrast_agent: Any = None) -> str | None:
    """``"non-contrast"``, ``"arterial"``, ``"portal venous"``, ``"nephrographic"``, ``"delayed"``,
    ``"post-contrast"`` or ``None`` (not stated) for a series description and its
    ContrastBolusAgent value."""
    text = " ".join(str(description or "").lower().replace("_", " ").split())
    for phase, pattern in _table():
        if pattern.search(text):
            return phase
    if contrast_agent is not None and str(contrast_agent).strip():
        return str(load_json("contrast_phase.json")["agent_phase"])
    return None


def pre_or_post(phase: str | None) -> PrePost | None:
    """The side of a pre/post pair a phase belongs to (``None`` when the phase is unknown)."""
    if phase is None:
        return None
    return "pre" if phase in load_json("contrast_phase.json")["pre_phases"] else "post"


def phase_of_volume(volume: Any) -> str | None:
    """:func:`classify` for anything with ``description`` and ``meta['contrast_agent']``."""
    meta = getattr(volume, "meta", None) or {}
    return classify(getattr(volume, "description", "") or "", meta.get("contrast_agent"))
