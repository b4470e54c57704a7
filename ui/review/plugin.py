"""``ReviewModule``: the RP mass review plugin (entry point ``workstation.modules: rp_review``).

``activate(host)`` builds the :class:`~ui.review.controller.ReviewController` and the side panel,
links the host's measurements to the findings (:class:`MeasurementLink`) and creates its tools
directly, keeping a reference to each: ``lesion_tools``, ``enhancement_tools``, ``ivc_tools``,
``export_tools`` and ``session`` (the autosave). A tool that fails to start is reported through
``host.report_problem`` (its attribute stays None) and the rest of the review keeps working. Other
code reaches them through the module object: ``host.module("rp_review").lesion_tools``.

When the open study closes (File › Open study…) the module's close hook (``host.add_close_hook``)
closes it in order — autosave first, then the tools, then the findings — and the next
``study_loaded`` starts afresh (see ``_study_closing``). The File menu gets *Start a new read*,
*Reads of this study* and *Recent studies* (the reads are the autosave's, ``ui.review.session``).

How measurements fill fields — the greatest dimension from the target lesion (an explicit choice,
kept in the lesion record) or the largest caliper, the IVC levels from the landmarks — is
:class:`ui.review.link.MeasurementLink`, the one writer of those fields; the tools only emit
measurements.
"""
from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import Any

from .controller import ReviewController
from .link import AUTO_METHODS, GREATEST, MeasurementLink, measurement_length_mm

log = logging.getLogger(__name__)

# the link (the one writer of the measurement-derived fields) lives in .link; re-exported here
__all__ = ["AUTO_METHODS", "GREATEST", "MeasurementLink", "ReviewModule", "header_age_years",
           "measurement_length_mm", "prefill_from_header"]


_AGE = re.compile(r"^(\d{1,3})([DWMY])$")


def header_age_years(text: Any) -> float | None:
    """DICOM AS (``057Y``, ``006M``, ``010W``, ``003D``) as years; ``None`` when absent, malformed
    or zero (``000Y`` is what many scanners and anonymisers write for an unknown age)."""
    if not isinstance(text, str):
        return None
    m = _AGE.match(text.strip().upper())
    if not m:
        return None
    n, unit = int(m.group(1)), m.group(2)
    if n == 0:
        return None
    years = {"Y": n, "M": n / 12, "W": n * 7 / 365.25, "D": n / 365.25}[unit]
    return round(years, 1)


def prefill_from_header(controller: ReviewController, volume) -> None:
    """Age and sex from the DICOM header when the reader has not set them (source: the header)."""
    meta = getattr(volume, "meta", {}) or {}
    if controller.value("age_years") is None:
        age = header_age_years(meta.get("patient_age"))
        if age is not None and 0 <= age <= 120:
            controller.set_field("age_years", age, source="DICOM header (Patient's Age)")
    if controller.value("sex") is None:
        sex = {"F": "female", "M": "male", "O": "other"}.get(str(meta.get("patient_sex") or "").strip().upper())
        if sex is not None:
            controller.set_field("sex", sex, source="DICOM header (Patient's Sex)")


class ReviewModule:
    """The plugin object the host activates."""

    id = "rp_review"
    title = "RP mass review"
    panel_title = "RP review"
    #: the order parts close the study in (the autosave first: it saves before anything resets)
    CLOSE_ORDER = ("session", "lesion_tools", "enhancement_tools", "ivc_tools", "export_tools")

    def __init__(self) -> None:
        self.host: Any = None
        self.controller: ReviewController = None  # type: ignore[assignment]  # set by activate
        self.panel: Any = None
        self.dock: Any = None
        self.link: MeasurementLink = None  # type: ignore[assignment]  # set by activate
        self.lesion_tools: Any = None
        self.enhancement_tools: Any = None
        self.ivc_tools: Any = None
        self.export_tools: Any = None
        self.session: Any = None
        self._header_done: set[str] = set()

    def activate(self, host) -> None:
        from .panel import ReviewPanel

        self.host = host
        self.controller = c = ReviewController(host)
        self.link = MeasurementLink(host, c)
        self.panel = ReviewPanel(c, use_largest=lambda: self.link.refresh_greatest(force=True), link=self.link)
        self.dock = host.add_panel(self.panel, self.panel_title)
        self._arrange_dock()
        c.problem.connect(lambda text: host.status(f"Findings: {text}", 10000))
        host.series_loaded.connect(self._series_loaded)
        host.add_close_hook(self._study_closing, order=0, name="review")
        for vol in host.volumes().values():
            self._series_loaded(vol)
        self._create_tools()
        self._build_menus()

    # -- the tools --------------------------------------------------------------------------
    def _start(self, what: str, make: Callable[[], Any]) -> Any:
        """``make()``, or None with the failure reported (one broken tool never stops the review)."""
        try:
            return make()
        except Exception as exc:
            log.exception("review: %s failed to start", what)
            self.host.report_problem(f"review: {what} failed to start: {type(exc).__name__}: {exc}")
            return None

    def _create_tools(self) -> None:
        h, c = self.host, self.controller

        def lesion() -> Any:
            from .tools_lesion import LesionTools
            return LesionTools(h, c)

        def enhancement() -> Any:
            from .tools_enhancement import EnhancementTools
            return EnhancementTools(h, c)

        def ivc() -> Any:
            from .tools_ivc import IvcTools
            return IvcTools(h, c)

        def export() -> Any:
            from .export_dialog import ExportTools
            return ExportTools(h, c, lesions=self.lesion_tools, enhancement=self.enhancement_tools)

        def session() -> Any:
            from .session import SessionAutosave
            return SessionAutosave(h, c, lesions=self.lesion_tools, reset_work=self.reset_work)

        self.lesion_tools = self._start("lesion tools", lesion)
        self.enhancement_tools = self._start("enhancement tool", enhancement)
        self.ivc_tools = self._start("IVC tools", ivc)
        self.export_tools = self._start("export", export)
        self.session = self._start("autosave", session)

    def parts(self) -> dict[str, Any]:
        """The tools that started, in closing order."""
        return {name: getattr(self, name) for name in self.CLOSE_ORDER if getattr(self, name) is not None}

    def _study_closing(self) -> None:
        """The open study is closing (its volumes and measurements are still there).

        In this order: the autosave flushes the old study's state and marks it closed cleanly, then
        detaches (before anything is reset, so the reset is never saved over the old study's work);
        the tools drop their per-study state (lesion masks and overlays, enhancement results, an
        open export dialog); the findings go back to an empty document; the header prefill will run
        again for the next study."""
        self._close_parts(self.parts())
        self.controller.reset()
        self._header_done.clear()

    def _close_parts(self, parts: dict[str, Any]) -> None:
        for name, part in parts.items():
            close = getattr(part, "close_study", None)
            if close is None:
                continue
            try:
                close()
            except Exception as exc:  # one part failing must not keep the others on the old study
                log.exception("review: %s failed to close the study", name)
                self.host.report_problem(f"review: {name} failed to close the study: {type(exc).__name__}: {exc}")

    def reset_work(self) -> None:
        """Empty the work on the open study (a new read, another read brought back, taking over
        editing): the tools' per-study state, the measurements with their undo history and the
        findings; the header prefill runs again. The study stays open; the autosave is not told
        (it calls this itself)."""
        self._close_parts({k: v for k, v in self.parts().items() if k != "session"})
        self.host.measurements.reset()
        self.controller.reset()
        self._header_done.clear()
        for vol in self.host.volumes().values():
            self._series_loaded(vol)

    # -- reads (File menu) ------------------------------------------------------------------
    def _build_menus(self) -> None:
        """File › Start a new read, Reads of this study ▸, Recent studies ▸."""
        from PyQt6.QtGui import QAction

        h = self.host
        self.act_new_read = QAction("Start a new read", h.dialog_parent())
        self.act_new_read.setObjectName("start_new_read")
        self.act_new_read.setToolTip("Keep the current read of this study (archived, listed under Reads of "
                                     "this study) and start an empty one")
        self.act_new_read.triggered.connect(lambda _=False: self.start_new_read())
        h.menu("&File").addSeparator()
        h.add_menu_action("&File", self.act_new_read)
        self.reads_menu = h.add_submenu("&File", "Reads of this study")
        self.reads_menu.aboutToShow.connect(self._fill_reads_menu)
        self.recent_menu = h.add_submenu("&File", "Recent studies")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        self.controller.read_only_changed.connect(self._reads_menu_read_only)
        self._reads_menu_read_only(bool(getattr(self.controller, "_read_only", False)))

    def _reads_menu_read_only(self, on: bool) -> None:
        """A read-only window cannot start a new read or bring another back (either changes the
        read the editing window owns); Recent studies stays (it opens another study)."""
        why = " (read-only window: another window is editing this study)" if on else ""
        for act in (self.act_new_read, self.reads_menu.menuAction()):
            act.setEnabled(not on)
            act.setStatusTip(why.strip(" ()"))

    def start_new_read(self) -> str | None:
        return self.session.start_new_read() if self.session is not None else None

    def recent_reads(self, limit: int = 10) -> list[Any]:
        """Reads in progress with work, newest first (``workstation.session.ReadInfo``)."""
        from workstation.session import list_reads

        try:
            return [r for r in list_reads() if r.has_work][:limit]
        except OSError:
            return []

    def open_recent(self, info: Any) -> bool:
        """Reopen the study of a read in progress (from its saved source path)."""
        from pathlib import Path

        if self.session is not None and info.key == self.session.current_key():
            self.host.status("That study is the one open", 5000)
            return False
        if not info.source_path or not Path(info.source_path).exists():
            self.host.status(f"Read #{info.key[:6]}: its study is no longer where it was opened from; "
                             "open it with File › Open study…", 10000)
            return False
        return bool(self.host.open_study(info.source_path))

    def _fill_recent_menu(self) -> None:
        m = self.recent_menu
        m.clear()
        reads = self.recent_reads()
        for r in reads:
            act = m.addAction(r.label())
            act.setToolTip(r.summary())
            act.setData(r.key)
            act.triggered.connect(lambda _=False, info=r: self.open_recent(info))
        if not reads:
            m.addAction("No reads in progress").setEnabled(False)

    def _fill_reads_menu(self) -> None:
        m = self.reads_menu
        m.clear()
        reads = self.session.reads() if self.session is not None else []
        for r in reads:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(r.saved_at)) if r.saved_at else "?"
            act = m.addAction(f"Read last edited {when} — {r.summary()}")
            act.setData(r.read_id)
            act.triggered.connect(lambda _=False, rid=r.read_id: self.session.switch_read(rid))
        if not reads:
            m.addAction("No earlier reads of this study").setEnabled(False)

    def _series_loaded(self, volume) -> None:
        """Age and sex from the header once per study, so a value the reader cleared stays cleared."""
        key = str((getattr(volume, "meta", {}) or {}).get("study_uid") or getattr(volume, "series_uid", ""))
        if key in self._header_done:
            return
        self._header_done.add(key)
        prefill_from_header(self.controller, volume)

    def _arrange_dock(self) -> None:
        """Give the review panel most of the right column, at a width it reads well at."""
        from PyQt6.QtCore import QTimer

        def arrange() -> None:
            self.host.size_panel(self.dock, width=400, height_share=0.83)

        arrange()
        QTimer.singleShot(0, arrange)  # again once the window has its real size
