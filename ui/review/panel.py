"""The RP review side panel: live summary and ranked differential on top, fields and checklist below.

Everything shown is read from the :class:`~ui.review.controller.ReviewController` (the findings and
the core's assessment); every edit goes through it (validated there). Field names, labels, units,
enumerations, groups and help texts come from ``resources/checklist.json`` via the core — nothing
about the checklist is typed here. Layout, top to bottom (usable at ~380 px wide):

* summary — size and T category (``cT3`` when sarcoma staging applies, else only "if sarcoma"),
  staging (the clinical stage group or possible groups, or "does not apply" and why), IVC segments
  with the tumour-thrombus level, enhancement call, thrombus call;
* differential — one bar per diagnosis, best first, probability in % with its word ("most
  likely", "possible" …; never 0 or 100 %); click a bar (or hover) for the findings that raised and
  lowered it, worded by the core (the "why" stays here, not in the report);
* recommendations — the core's cited recommendations, most urgent first (reason and source on hover);
* below a splitter, in a scroll area: a filter box, the numeric / categorical fields with where each
  number came from, and the checklist in the spec's four groups (collapsible), each item ``[Y][N][?]``.
  Pending suggestions are highlighted on their items with Accept / Dismiss.

When the controller is read-only (the study is open for editing in another window) a line above
the checklist says so and nothing can be changed: number boxes are read-only (their text can still
be selected and copied), choices, Y/N/? buttons, clear, "use measurements", the target lesion box
and Accept / Dismiss are disabled. Filtering, folding sections and the differential's reasons work
as always.
"""
from __future__ import annotations

import html
import time
from collections.abc import Callable, Mapping
from typing import Any

from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtWidgets import (
    QAbstractSpinBox,
    QComboBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from workstation.reasoning.findings import FIELD_SPECS
from workstation.resources import load_json

from .controller import ReviewController
from .panel_widgets import (
    NO,
    SUGGEST,
    UNKNOWN,
    YES,
    ClickLabel,
    DifferentialBar,
    NoWheelCombo,
    OptionalSpin,
    Section,
    TriState,
    caption,
    percent_of,
    small_button,
)

_CHECKLIST = load_json("checklist.json")

#: how the stage inputs are named on screen (short words a radiologist uses)
_STAGE_INPUT_WORDS = {"greatest_dimension_mm": "size (T)", "lymph_node_metastases": "N",
                      "distant_metastases": "M", "grade": "grade"}
_CALL_WORDS = {"enhancing": "enhancing", "equivocal": "equivocal", "not_enhancing": "not enhancing",
               "tumor_thrombus": "tumour thrombus", "bland_thrombus": "bland thrombus",
               "indeterminate": "indeterminate"}
#: display ranges of the number boxes by unit (wide; the controller validates the real limits)
_UNIT_RANGE = {"years": (0.0, 120.0), "HU": (-2000.0, 5000.0), "%": (-100.0, 10000.0),
               "mm": (-5000.0, 5000.0)}

#: widths that keep the fields usable in a narrow dock (~340-380 px)
LABEL_WIDTH = 120
EDITOR_MIN_WIDTH = 72

STYLE = f"""
#ReviewPanel {{ background: palette(window); }}
#ReviewPanel QLabel#caption {{ color: #9a9aa2; font-size: 11px; }}
#ReviewPanel QLabel#sumKey {{ color: #9a9aa2; }}
#ReviewPanel QLabel#sumValue {{ font-weight: bold; color: #f0f0f0; }}
#ReviewPanel QLabel#heading {{ font-weight: bold; color: #cfd8e3; padding-top: 4px; }}
#ReviewPanel QLabel#problem {{ color: #ff9d8f; background: #3a2222; border-radius: 3px; padding: 3px; }}
#ReviewPanel QLabel#reasons {{ background: #1d1d21; border-radius: 3px; padding: 4px 6px; margin-left: 12px; }}
#ReviewPanel QLabel#banner {{ color: #f3d38a; background: #3b3220; border-radius: 3px; padding: 3px 6px; }}
#ReviewPanel QLabel#readOnlyNote {{ color: #f3d38a; background: #3b3220; border: 1px solid #8a6d2a;
    border-radius: 3px; padding: 3px 6px; font-weight: bold; }}
#ReviewPanel QPushButton#sectionHeader {{ text-align: left; font-weight: bold; padding: 4px 6px;
    background: #2b2b30; border: 0; border-top: 1px solid #3a3a40; color: #dcdcdc; }}
#ReviewPanel QToolButton#triYes, #ReviewPanel QToolButton#triNo, #ReviewPanel QToolButton#triUnknown {{
    background: #303036; border: 1px solid #44444c; border-radius: 3px; color: #a8a8b0; font-weight: bold; }}
#ReviewPanel QToolButton#triYes:hover, #ReviewPanel QToolButton#triNo:hover,
#ReviewPanel QToolButton#triUnknown:hover {{ border-color: #8a8a96; }}
#ReviewPanel QToolButton#triYes:checked {{ background: {YES}; color: white; border-color: {YES}; }}
#ReviewPanel QToolButton#triNo:checked {{ background: {NO}; color: white; border-color: {NO}; }}
#ReviewPanel QToolButton#triUnknown:checked {{ background: {UNKNOWN}; color: #e0e0e0; border-color: {UNKNOWN}; }}
#ReviewPanel QToolButton#triYes:disabled, #ReviewPanel QToolButton#triNo:disabled,
#ReviewPanel QToolButton#triUnknown:disabled {{ background: #26262a; color: #55555c; border-color: #303036; }}
#ReviewPanel QToolButton#triYes:checked:disabled {{ background: #2c5234; color: #b8c8b8; border-color: #2c5234; }}
#ReviewPanel QToolButton#triNo:checked:disabled {{ background: #66352f; color: #d0bcbc; border-color: #66352f; }}
#ReviewPanel QToolButton#triUnknown:checked:disabled {{ background: #3c3c42; color: #9a9aa2; border-color: #3c3c42; }}
#ReviewPanel QWidget#row[state="yes"] QLabel#itemLabel {{ color: #ffffff; font-weight: bold; }}
#ReviewPanel QWidget#row[state="no"] QLabel#itemLabel {{ color: #d8d8d8; }}
#ReviewPanel QWidget#row[state="unknown"] QLabel#itemLabel {{ color: #a4a4ac; }}
#ReviewPanel QWidget#row[suggested="true"] {{ background: #3b3220; border-left: 3px solid {SUGGEST}; }}
#ReviewPanel QPushButton#small {{ padding: 1px 6px; min-height: 16px; }}
#ReviewPanel QPushButton#accept {{ padding: 1px 6px; background: {YES}; color: white; border-radius: 3px; }}
#ReviewPanel QPushButton#dismiss {{ padding: 1px 6px; background: #44444c; color: #e0e0e0; border-radius: 3px; }}
"""


def _fmt_num(v: float) -> str:
    return f"{v:+g}"


def _staging(a) -> Any:
    """The core's staging applicability (None with an older core: treated as applying)."""
    return getattr(a, "staging", None)


def t_text(a, gd: float | None) -> str:
    """``cT3 (110 mm)`` when sarcoma staging applies, ``T3 if sarcoma (110 mm)`` when it does not."""
    if not a.t_category:
        return "— (greatest dimension not set)"
    st = _staging(a)
    size = f"{gd:g} mm" if gd is not None else ""
    if st is None:
        return f"{a.t_category}  ({size})"
    if st.applies:
        return f"c{a.t_category}  ({size})"
    return f"{a.t_category} if sarcoma  ({size})"


def stage_text(a) -> str:
    st = _staging(a)
    if st is not None and not st.applies:
        why = (st.note or "").split(";")[0].strip().rstrip(".")  # "Lymphoma leads"
        text = f"does not apply — {why}" if why else "does not apply"
        kidney = getattr(st, "kidney", None)
        if kidney:  # a renal primary leads: the conditional kidney T (AJCC 8th, kidney)
            text += f"; kidney: {kidney['label']}"
        return text
    stage = a.stage
    if stage.group is not None:
        return stage.group
    missing = ", ".join(_STAGE_INPUT_WORDS.get(m, m) for m in stage.missing)
    poss = list(stage.possible)
    if len(poss) <= 3:
        joined = poss[0] if len(poss) == 1 else ", ".join(poss[:-1]) + " or " + poss[-1]
        return f"possible: {joined} (missing: {missing})"
    return f"not yet (missing: {missing})"


def ivc_text(a, ivc: dict) -> str:
    segs = a.ivc_segments
    ext = getattr(a, "ivc_extent", None) or {}
    # the Neves-Zincke level is given by the core only for thrombus from a renal or adrenal primary
    level = f" · tumour-thrombus level {ext['level']} (renal/adrenal primary)" if ext.get("level") else ""
    if segs is None:
        need = [w for k, w in (("renal_vein_z_mm", "renal veins"), ("hepatic_vein_z_mm", "hepatic veins"),
                               ("tumor_z_mm", "tumour ends")) if ivc.get(k) is None]
        return "— (mark " + ", ".join(need) + ")" + level
    if not segs:
        return "none"
    names = ext.get("segment_names") or []
    named = f" ({'; '.join(names)})" if names else ""
    return ("segment " if len(segs) == 1 else "segments ") + " and ".join(str(s) for s in segs) + named + level


def percent_word(d) -> str:
    """``most likely · 82 %``: the core's word with the bounded percentage."""
    word = getattr(d, "likelihood_word", "") or ""
    return f"{word} · {percent_of(d.probability)}" if word else percent_of(d.probability)


def _reasons_html(d) -> str:
    parts = [f"<i>{html.escape(percent_word(d))}</i>"]
    if d.raised_by:
        parts.append("<b>Raised by</b>")
        parts += [f"<span style='color:#7fd18b'>▲</span> {html.escape(r.text)}" for r in d.raised_by]
    if d.lowered_by:
        parts.append("<b>Lowered by</b>")
        parts += [f"<span style='color:#f08a7e'>▼</span> {html.escape(r.text)}" for r in d.lowered_by]
    if len(parts) == 1:
        parts.append("<i>No finding bears on it yet: prior prevalence only.</i>")
    return "<br>".join(parts)


def _reasons_plain(d) -> str:
    lines = [f"{d.label}: {percent_word(d)}"]
    lines += [f"▲ {r.text}" for r in d.raised_by]
    lines += [f"▼ {r.text}" for r in d.lowered_by]
    if len(lines) == 1:
        lines.append("No finding bears on it yet: prior prevalence only.")
    return "\n".join(lines)


class ChecklistRow(QWidget):
    """``label ............ [Y][N][?]`` with a suggestion strip (Accept / Dismiss) when one is pending."""

    def __init__(self, item: dict, controller: ReviewController, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("row")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.fid = item["id"]
        self.text = item["label"]
        self.help = item.get("help", "")
        self.c = controller
        self._search = f"{self.fid} {self.text} {self.help}".lower().replace("_", " ")
        outer = QVBoxLayout(self)
        outer.setContentsMargins(6, 1, 2, 1)
        outer.setSpacing(1)
        line = QHBoxLayout()
        line.setSpacing(4)
        self.label = QLabel(self.text)
        self.label.setObjectName("itemLabel")
        self.label.setWordWrap(True)
        self.label.setToolTip(f"{self.text}: {self.help}" if self.help else self.text)
        self.label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.tri = TriState(self)
        self.tri.setAccessibleName(self.text)
        self.tri.value_chosen.connect(lambda v: self.c.set_finding(self.fid, v))
        line.addWidget(self.label, 1)
        line.addWidget(self.tri, 0, Qt.AlignmentFlag.AlignTop)
        outer.addLayout(line)
        # suggestion strip
        self.strip = QWidget(self)
        sl = QHBoxLayout(self.strip)
        sl.setContentsMargins(0, 0, 0, 2)
        sl.setSpacing(4)
        self.suggestion_label = caption("", self.strip)
        self.suggestion_label.setStyleSheet("color: #f3d38a;")
        self.accept_button = small_button("Accept", "Take the suggested value", self.strip)
        self.accept_button.setObjectName("accept")
        self.dismiss_button = small_button("Dismiss", "Leave the item as it is", self.strip)
        self.dismiss_button.setObjectName("dismiss")
        self.accept_button.clicked.connect(lambda: self.c.accept_suggestion(self.fid))
        self.dismiss_button.clicked.connect(lambda: self.c.dismiss_suggestion(self.fid))
        sl.addWidget(self.suggestion_label, 1)
        sl.addWidget(self.accept_button, 0, Qt.AlignmentFlag.AlignTop)
        sl.addWidget(self.dismiss_button, 0, Qt.AlignmentFlag.AlignTop)
        self.strip.hide()
        outer.addWidget(self.strip)
        self._state: Any = "init"
        self._suggestion: Any = None
        self.set_state(None)

    def matches(self, words: list[str]) -> bool:
        return all(w in self._search for w in words)

    def set_state(self, value, source: str = "") -> None:
        self.tri.set_value(value)
        tip = f"{self.text}: {self.help}" if self.help else self.text
        if source:
            tip += f"\nSource: {source}"
        self.label.setToolTip(tip)
        if value is self._state:
            return
        self._state = value
        self.setProperty("state", {True: "yes", False: "no", None: "unknown"}[value])
        self._repolish()

    def set_suggestion(self, s: dict | None) -> None:
        if s == self._suggestion:
            return
        self._suggestion = s
        if s is None:
            self.strip.hide()
            self.setProperty("suggested", "false")
        else:
            word = "yes" if s["value"] else "no"
            self.suggestion_label.setText(f"Suggested: {word} — {s['reason']}")
            self.strip.show()
            self.setProperty("suggested", "true")
        self._repolish()

    def _repolish(self) -> None:
        st = self.style()
        if st is None:
            return
        for w in (self, self.label):
            st.unpolish(w)
            st.polish(w)


class ReviewPanel(QWidget):
    """The side panel. ``use_largest``: called by "use measurements" (the plugin's link);
    ``link``: the :class:`~ui.review.link.MeasurementLink` (its lesions fill the "Target lesion" box)."""

    def __init__(self, controller: ReviewController, use_largest: Callable[[], None] | None = None,
                 parent=None, link: Any = None) -> None:
        super().__init__(parent)
        self.setObjectName("ReviewPanel")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setStyleSheet(STYLE)
        self.c = controller
        self.use_largest = use_largest
        self.link = link
        self.expanded: set[str] = set()
        self.last_refresh_s = 0.0
        self._tumor_partial = False
        outer = QVBoxLayout(self)
        outer.setContentsMargins(4, 4, 4, 4)
        outer.setSpacing(4)

        self.splitter = QSplitter(Qt.Orientation.Vertical, self)
        self.splitter.setChildrenCollapsible(False)
        outer.addWidget(self.splitter)
        self.splitter.addWidget(self._build_top())
        self.splitter.addWidget(self._build_bottom())
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)

        self.problem_label = QLabel("", self)
        self.problem_label.setObjectName("problem")
        self.problem_label.setWordWrap(True)
        self.problem_label.hide()
        outer.addWidget(self.problem_label)
        self._problem_timer = QTimer(self)
        self._problem_timer.setSingleShot(True)
        self._problem_timer.timeout.connect(self.problem_label.hide)

        controller.changed.connect(self.refresh)
        if link is not None and hasattr(link, "lesions_changed"):
            link.lesions_changed.connect(self._sync_target)
        controller.suggestions_changed.connect(self.refresh_suggestions)
        controller.problem.connect(self.show_problem)
        controller.read_only_changed.connect(self.set_read_only)
        self.setMinimumWidth(300)
        self.refresh()
        self.refresh_suggestions()
        self.set_read_only(controller.read_only)

    # ------------------------------------------------------------------ building
    def _build_top(self) -> QWidget:
        top = QWidget()
        lay = QVBoxLayout(top)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        grid = QGridLayout()
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(2)
        self.summary: dict[str, QLabel] = {}
        for r, (key, title, tip) in enumerate((
            ("t", "Size / T", "AJCC 8th retroperitoneum, from the unrounded greatest dimension; "
                              "cT when sarcoma staging applies, otherwise only 'if sarcoma'"),
            ("stage", "Staging", "AJCC 8th soft-tissue sarcoma staging applies when a sarcoma leads the "
                                 "differential or the histology names one; clinical stage group from T, N, M "
                                 "and grade"),
            ("ivc", "IVC", "IVC segments involved by intraluminal tumour (1 infrarenal, 2 renal to "
                           "hepatic veins, 3 suprahepatic); for tumour thrombus from a renal or adrenal "
                           "primary also its Neves-Zincke level"),
            ("enhancement", "Enhancement", "Call from the CT delta HU or MR percent enhancement"),
            ("thrombus", "Thrombus", "Intraluminal filling defect: tumour or bland thrombus"),
        )):
            k = QLabel(title)
            k.setObjectName("sumKey")
            k.setToolTip(tip)
            v = QLabel("—")
            v.setObjectName("sumValue")
            v.setWordWrap(True)
            v.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            v.setToolTip(tip)
            grid.addWidget(k, r, 0, Qt.AlignmentFlag.AlignTop)
            grid.addWidget(v, r, 1)
            self.summary[key] = v
        grid.setColumnStretch(1, 1)
        lay.addLayout(grid)
        self.t_label, self.stage_label = self.summary["t"], self.summary["stage"]
        self.ivc_label = self.summary["ivc"]
        self.enhancement_label, self.thrombus_label = self.summary["enhancement"], self.summary["thrombus"]

        head = QLabel("Differential")
        head.setObjectName("heading")
        hint = caption("click a bar: reasons")
        hl = QHBoxLayout()
        hl.addWidget(head)
        hl.addStretch(1)
        hl.addWidget(hint)
        lay.addLayout(hl)

        dx_box = QWidget()
        dl = QVBoxLayout(dx_box)
        dl.setContentsMargins(0, 0, 0, 0)
        dl.setSpacing(1)
        self.bars: list[DifferentialBar] = []
        self.reason_labels: list[QLabel] = []
        for _ in self.c.assessment().differentials:
            bar = DifferentialBar(dx_box)
            bar.toggled.connect(self._toggle_reasons)
            rl = QLabel("", dx_box)
            rl.setObjectName("reasons")
            rl.setWordWrap(True)
            rl.setTextFormat(Qt.TextFormat.RichText)
            rl.hide()
            dl.addWidget(bar)
            dl.addWidget(rl)
            self.bars.append(bar)
            self.reason_labels.append(rl)
        dl.addStretch(1)
        self.dx_scroll = QScrollArea()
        self.dx_scroll.setWidgetResizable(True)
        self.dx_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.dx_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.dx_scroll.setWidget(dx_box)
        self.dx_scroll.setMinimumHeight(120)
        n = len(self.bars)
        self.dx_scroll.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self._dx_natural = n * 21 + 4
        lay.addWidget(self.dx_scroll, 1)
        return top

    def _build_bottom(self) -> QWidget:
        bottom = QWidget()
        lay = QVBoxLayout(bottom)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(3)
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter checklist (e.g. fat, IVC, T2)")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self.apply_filter)
        lay.addWidget(self.filter)
        self.banner = ClickLabel("")
        self.banner.setObjectName("banner")
        self.banner.setWordWrap(True)
        self.banner.setCursor(Qt.CursorShape.PointingHandCursor)
        self.banner.clicked.connect(self.show_first_suggestion)
        self.banner.hide()
        lay.addWidget(self.banner)
        self.read_only_note = QLabel("Read-only: this study is open for editing in another window; "
                                     "the findings cannot be changed here")
        self.read_only_note.setObjectName("readOnlyNote")
        self.read_only_note.setWordWrap(True)
        self.read_only_note.hide()
        lay.addWidget(self.read_only_note)

        content = QWidget()
        cl = QVBoxLayout(content)
        cl.setContentsMargins(0, 0, 4, 0)
        cl.setSpacing(2)
        self.recommendations_section = Section("Recommendations", self._build_recommendations())
        cl.addWidget(self.recommendations_section)
        self.fields_section = Section("Measurements and clinical data", self._build_fields())
        cl.addWidget(self.fields_section)
        self.rows: dict[str, ChecklistRow] = {}
        self.sections: dict[str, Section] = {}
        for g in _CHECKLIST["groups"]:
            body = QWidget()
            bl = QVBoxLayout(body)
            bl.setContentsMargins(0, 0, 0, 2)
            bl.setSpacing(0)
            for item in g["items"]:
                row = ChecklistRow(item, self.c, body)
                bl.addWidget(row)
                self.rows[item["id"]] = row
            sec = Section(g["label"], body)
            sec.group_id = g["id"]
            sec.row_ids = [it["id"] for it in g["items"]]
            self.sections[g["id"]] = sec
            cl.addWidget(sec)
        cl.addStretch(1)
        self.checklist_area = QScrollArea()
        self.checklist_area.setWidgetResizable(True)
        self.checklist_area.setFrameShape(QFrame.Shape.NoFrame)
        self.checklist_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.checklist_area.setWidget(content)
        lay.addWidget(self.checklist_area, 1)
        return bottom

    def _build_fields(self) -> QWidget:
        box = QWidget()
        grid = QGridLayout(box)
        grid.setContentsMargins(6, 4, 2, 4)
        grid.setHorizontalSpacing(6)
        grid.setVerticalSpacing(2)
        grid.setColumnStretch(1, 1)
        self.editors: dict[str, Any] = {}
        self.source_labels: dict[str, QLabel] = {}
        self.clear_buttons: dict[str, Any] = {}
        row = 0

        def label(text: str, tip: str) -> QLabel:
            lab = QLabel(text)
            lab.setToolTip(tip)
            lab.setWordWrap(True)
            lab.setMaximumWidth(LABEL_WIDTH)
            return lab

        def add_number(path: str, spec: Mapping[str, Any]) -> None:
            nonlocal row
            units = spec.get("units", "")
            lo, hi = _UNIT_RANGE.get(units, (-1e5, 1e5))
            if "min" in spec:
                lo = spec["min"] - 1  # one below the minimum means "not set"
            if "exclusive_min" in spec:
                lo = spec["exclusive_min"]
            if "max" in spec:
                hi = spec["max"]
            spin = OptionalSpin(lo, hi, 0 if units == "years" else 1, f" {units}" if units else "")
            spin.setMinimumWidth(EDITOR_MIN_WIDTH)
            spin.setToolTip(spec.get("help", ""))
            spin.setAccessibleName(spec.get("label", path))
            spin.value_committed.connect(lambda v, p=path: self._number_edited(p, v))
            clear = small_button("×", "Clear (unknown)")
            clear.setFixedWidth(22)
            clear.clicked.connect(lambda _=False, p=path: self._number_edited(p, None))
            self.clear_buttons[path] = clear
            h = QHBoxLayout()
            h.setSpacing(2)
            h.addWidget(spin, 1)
            h.addWidget(clear)
            grid.addWidget(label(spec.get("label", path), spec.get("help", "")), row, 0)
            grid.addLayout(h, row, 1)
            self.editors[path] = spin
            row += 1
            self._add_source(grid, path, row)
            row += 1

        def add_enum(path: str, spec: Mapping[str, Any]) -> None:
            nonlocal row
            combo = QComboBox()
            NoWheelCombo.install(combo)
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(6)
            combo.setMinimumWidth(EDITOR_MIN_WIDTH)
            combo.addItem("unknown", None)
            if spec["type"] == "boolean":
                combo.addItem("yes", True)
                combo.addItem("no", False)
            for v in spec.get("enum", ()):
                combo.addItem(spec.get("labels", {}).get(str(v), str(v)), v)
            combo.setToolTip(spec.get("help", ""))
            combo.setAccessibleName(spec.get("label", path))
            combo.activated.connect(lambda i, p=path, cb=combo: self.c.set_field(p, cb.itemData(i)))
            grid.addWidget(label(spec.get("label", path), spec.get("help", "")), row, 0)
            grid.addWidget(combo, row, 1)
            self.editors[path] = combo
            row += 1
            self._add_source(grid, path, row)
            row += 1

        for name, spec in FIELD_SPECS.items():
            if spec["type"] == "number":
                add_number(name, spec)
                if name == "greatest_dimension_mm":
                    self.use_largest_button = small_button(
                        "use measurements",
                        "Let the target lesion (or the largest caliper) set the greatest dimension again")
                    self.use_largest_button.clicked.connect(self._use_largest)
                    grid.addWidget(self.use_largest_button, row, 1, Qt.AlignmentFlag.AlignLeft)
                    row += 1
                    row = self._add_target_row(grid, row, label)
            elif spec["type"] in ("enum", "integer_enum", "boolean"):
                add_enum(name, spec)
            elif spec["type"] == "object":
                head = QLabel(spec.get("label", name))
                head.setObjectName("heading")
                head.setToolTip(spec.get("help", ""))
                grid.addWidget(head, row, 0, 1, 2)
                row += 1
                for key, sub in spec["properties"].items():
                    path = f"{name}.{key}"
                    if sub["type"] == "number":
                        add_number(path, sub)
                    elif sub["type"] == "range":
                        lo, hi = _UNIT_RANGE.get(sub.get("units", ""), (-1e5, 1e5))
                        a = OptionalSpin(lo - 1, hi, 1, " mm")
                        b = OptionalSpin(lo - 1, hi, 1, " mm")
                        for s_ in (a, b):
                            s_.setMinimumWidth(EDITOR_MIN_WIDTH)
                        a.setToolTip("caudal end (low z)")
                        b.setToolTip("cranial end (high z)")
                        for s in (a, b):
                            s.value_committed.connect(lambda _v, p=path: self._range_edited(p))
                        clear = small_button("×", "Clear (unknown)")
                        clear.setFixedWidth(22)
                        clear.clicked.connect(lambda _=False, p=path: self._clear_range(p))
                        self.clear_buttons[path] = clear
                        h = QHBoxLayout()
                        h.setSpacing(2)
                        h.addWidget(a, 1)
                        h.addWidget(QLabel("to"))
                        h.addWidget(b, 1)
                        h.addWidget(clear)
                        # label on its own line: two number boxes need the whole width at ~380 px
                        grid.addWidget(label(sub.get("label", key), sub.get("help", "")), row, 0, 1, 2)
                        row += 1
                        grid.addLayout(h, row, 0, 1, 2)
                        self.editors[path] = (a, b)
                        row += 1
                        self._add_source(grid, path, row)
                        row += 1
        return box

    def _add_target_row(self, grid: QGridLayout, row: int, label: Callable[[str, str], QLabel]) -> int:
        """"Target lesion [Lesion 1 (110.2 mm) ▾]": which grown lesion is the mass (shown when any)."""
        tip = ("The lesion reported as the mass: its 3D greatest dimension sets the T category. The "
               "first lesion grown is the target; choose another here (or 'Make target', Shift+T)")
        self.target_label = label("Target lesion", tip)
        self.target_combo = QComboBox()
        NoWheelCombo.install(self.target_combo)
        self.target_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.target_combo.setMinimumContentsLength(6)
        self.target_combo.setMinimumWidth(EDITOR_MIN_WIDTH)
        self.target_combo.setToolTip(tip)
        self.target_combo.setAccessibleName("Target lesion")
        self.target_combo.activated.connect(self._target_chosen)
        grid.addWidget(self.target_label, row, 0)
        grid.addWidget(self.target_combo, row, 1)
        self.target_label.hide()
        self.target_combo.hide()
        return row + 1

    def _sync_target(self) -> None:
        if self.link is None or not hasattr(self, "target_combo"):
            return
        from .link import measurement_length_mm

        lesions = self.link.lesions()
        target = self.link.target_lesion()
        combo = self.target_combo
        combo.blockSignals(True)
        combo.clear()
        combo.addItem("none (largest caliper)", "")
        for m in lesions:
            gd = measurement_length_mm(m)
            combo.addItem(f"{m.label or 'Lesion'}" + (f" ({gd:.1f} mm)" if gd else ""), m.id)
        combo.setCurrentIndex(max(0, combo.findData(target.id)) if target is not None else 0)
        combo.blockSignals(False)
        for w in (combo, self.target_label):
            w.setVisible(bool(lesions))

    def choose_target(self, lesion_id: str | None) -> None:
        """Pick an entry of the "Target lesion" box as the reader does (tests)."""
        i = self.target_combo.findData(lesion_id or "")
        self.target_combo.setCurrentIndex(i)
        self.target_combo.activated.emit(i)

    def _target_chosen(self, index: int) -> None:
        mid = self.target_combo.itemData(index)
        if self.link is not None:
            if mid:
                self.link.make_target(mid)
            else:
                self.link.clear_target()
        self._sync_target()  # a refused change shows the target that is kept

    def _build_recommendations(self) -> QWidget:
        box = QWidget()
        self.rec_layout = QVBoxLayout(box)
        self.rec_layout.setContentsMargins(6, 2, 2, 4)
        self.rec_layout.setSpacing(3)
        self.rec_labels: list[QLabel] = []
        return box

    def _refresh_recommendations(self, a) -> None:
        recs = [(r.text, f"Why: {r.reason}\nSource: {r.source}") for r in getattr(a, "recommendations", ()) or ()]
        if recs == getattr(self, "_recs_shown", None):
            return  # unchanged: no relayout
        self._recs_shown = recs
        shown = recs or [("", "")]
        while len(self.rec_labels) < len(shown):
            lab = QLabel("")
            lab.setWordWrap(True)
            lab.setObjectName("recommendation")
            lab.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.rec_layout.addWidget(lab)
            self.rec_labels.append(lab)
        for i, lab in enumerate(self.rec_labels):
            if i < len(recs):
                lab.setText(f"{i + 1}. {recs[i][0]}")
                lab.setToolTip(recs[i][1])
            else:
                lab.setText("No further work-up follows from the findings so far." if i == 0 else "")
                lab.setToolTip("")
            want = i < len(shown)
            if lab.isVisibleTo(self) != want:
                lab.setVisible(want)
        self.recommendations_section.set_count(str(len(recs)) if recs else "")

    def recommendations_shown(self) -> list[str]:
        """The recommendation texts as shown, top to bottom (tests)."""
        return [lab.text() for lab in self.rec_labels if lab.isVisibleTo(self) and lab.text()[:1].isdigit()]

    def _add_source(self, grid: QGridLayout, path: str, row: int) -> None:
        lab = caption("")
        lab.hide()
        grid.addWidget(lab, row, 1)
        self.source_labels[path] = lab

    def showEvent(self, ev):  # noqa: N802 - Qt name
        super().showEvent(ev)
        if not getattr(self, "_sized", False):  # first show: the whole differential visible on top
            self._sized = True
            top = self.splitter.widget(0)
            want = top.sizeHint().height() - self.dx_scroll.sizeHint().height() + self._dx_natural
            total = max(self.splitter.height(), want + 200)
            self.splitter.setSizes([want, max(200, total - want)])

    # ------------------------------------------------------------------ read-only
    def set_read_only(self, on: bool) -> None:
        """Make every editor read-only (``True``) or editable again; see the module doc."""
        self.read_only = bool(on)
        self.read_only_note.setVisible(self.read_only)
        for ed in self.editors.values():
            for w in ed if isinstance(ed, tuple) else (ed,):
                if isinstance(w, OptionalSpin):
                    w.setReadOnly(self.read_only)  # the value can still be selected and copied
                    w.setButtonSymbols(QAbstractSpinBox.ButtonSymbols.NoButtons if self.read_only
                                       else QAbstractSpinBox.ButtonSymbols.UpDownArrows)
                else:
                    w.setEnabled(not self.read_only)
        for b in self._edit_buttons():
            b.setEnabled(not self.read_only)

    def editable_widgets(self) -> list[QWidget]:
        """Every widget of the panel that changes the findings and is usable now (tests)."""
        spins = [w for w in self.findChildren(OptionalSpin) if w.isEnabled() and not w.isReadOnly()]
        return spins + [w for w in self._edit_buttons() if w.isEnabled()]

    def _edit_buttons(self) -> list[QWidget]:
        ws: list[QWidget] = [*self.clear_buttons.values()]
        ws += [w for w in self.editors.values() if isinstance(w, QComboBox)]
        for name in ("use_largest_button", "target_combo"):
            if hasattr(self, name):
                ws.append(getattr(self, name))
        for row in self.rows.values():
            ws += [*row.tri.buttons.values(), row.accept_button, row.dismiss_button]
        return ws

    # ------------------------------------------------------------------ edits
    def _number_edited(self, path: str, v: float | None) -> None:
        head, _, key = path.partition(".")
        ok = self.c.set_ivc(key, v) if key else self.c.set_field(path, v)
        if not ok:  # refused: show what is kept
            self._sync_fields()

    def _range_edited(self, path: str) -> None:
        a, b = self.editors[path]
        lo, hi = a.number(), b.number()
        key = path.split(".", 1)[1]
        if lo is None or hi is None:
            self._tumor_partial = lo is not None or hi is not None
            if self.c.value(path) is not None:
                self.c.set_ivc(key, None)
            return
        self._tumor_partial = False
        if not self.c.set_ivc(key, [lo, hi]):
            self._sync_fields()

    def _clear_range(self, path: str) -> None:
        self._tumor_partial = False
        key = path.split(".", 1)[1]
        if self.c.value(path) is None:
            self._sync_fields()
        else:
            self.c.set_ivc(key, None)

    def _use_largest(self) -> None:
        if self.use_largest is not None:
            self.use_largest()

    def _toggle_reasons(self, dx_id: str) -> None:
        if dx_id in self.expanded:
            self.expanded.discard(dx_id)
        else:
            self.expanded.add(dx_id)
        self._refresh_differential()

    def show_problem(self, text: str) -> None:
        self.problem_label.setText(f"Not accepted: {text}")
        self.problem_label.show()
        self._problem_timer.start(10000)

    # ------------------------------------------------------------------ showing
    def refresh(self) -> None:
        t0 = time.perf_counter()
        a = self.c.assessment()
        doc = self.c.findings_dict()
        self._refresh_summary(a, doc)
        self._refresh_differential()
        self._refresh_recommendations(a)
        self._sync_target()
        self._sync_fields()
        self._sync_checklist(doc)
        self.last_refresh_s = time.perf_counter() - t0

    def _refresh_summary(self, a, doc: dict) -> None:
        gd = doc.get("greatest_dimension_mm")
        self.t_label.setText(t_text(a, gd))
        self.stage_label.setText(stage_text(a))
        self.ivc_label.setText(ivc_text(a, doc.get("ivc") or {}))
        if a.enhancement_call:
            if doc.get("enhancement_delta_hu") is not None:
                m = f"{_fmt_num(doc['enhancement_delta_hu'])} HU"
            else:
                m = f"{_fmt_num(doc['enhancement_percent'])} %"
            self.enhancement_label.setText(f"{_CALL_WORDS[a.enhancement_call]} ({m})")
        else:
            self.enhancement_label.setText("— (not measured)")
        if a.thrombus_call:
            self.thrombus_label.setText(f"{_CALL_WORDS[a.thrombus_call]} ({_fmt_num(doc['thrombus_delta_hu'])} HU)")
        else:
            self.thrombus_label.setText("— (not measured)")

    def _refresh_differential(self) -> None:
        for i, d in enumerate(self.c.assessment().differentials):
            open_ = d.id in self.expanded
            self.bars[i].set_data(i, d.id, d.label, d.probability, open_, _reasons_plain(d),
                                  getattr(d, "likelihood_word", "") or "")
            rl = self.reason_labels[i]
            if open_:
                rl.setText(_reasons_html(d))
            if rl.isVisibleTo(self) != open_:
                rl.setVisible(open_)

    def _sync_fields(self) -> None:
        srcs = self.c.sources()
        for path, ed in self.editors.items():
            v = self.c.value(path)
            if isinstance(ed, tuple):
                if v is None and self._tumor_partial:
                    pass
                else:
                    ed[0].set_number(None if v is None else v[0])
                    ed[1].set_number(None if v is None else v[1])
            elif isinstance(ed, OptionalSpin):
                if ed.number() != v and not (v is not None and ed.number() is not None
                                             and abs(ed.number() - v) < 10 ** -ed.decimals() / 2):
                    ed.set_number(v)
            else:
                i = ed.findData(v) if v is not None else 0
                if ed.currentIndex() != i:
                    ed.blockSignals(True)
                    ed.setCurrentIndex(max(i, 0))
                    ed.blockSignals(False)
            lab = self.source_labels.get(path)
            if lab is None:
                continue
            src = srcs.get(path)
            text = f"from {src}" if src else ("entered by hand" if v is not None else "")
            if path == "ivc.tumor_z_mm" and v is None and self._tumor_partial:
                text = "set both ends"
            if lab.text() != text:
                lab.setText(text)
            lab.setVisible(bool(text))
        if hasattr(self, "use_largest_button"):
            self.use_largest_button.setVisible(self.c.value("greatest_dimension_mm") is not None
                                               and self.c.source_measurement("greatest_dimension_mm") is None)

    def _sync_checklist(self, doc: dict) -> None:
        items = doc.get("findings") or {}
        srcs = self.c.sources()
        for fid, row in self.rows.items():
            row.set_state(items.get(fid), srcs.get(f"findings.{fid}", ""))
        self._update_counts()

    def refresh_suggestions(self) -> None:
        sugg = self.c.suggestions()
        for fid, row in self.rows.items():
            row.set_suggestion(sugg.get(fid))
        n = len(sugg)
        if n:
            self.banner.setText(f"{n} suggestion{'s' if n > 1 else ''} from the measurements waiting "
                                "for you — click to show")
            self.banner.show()
        else:
            self.banner.hide()
        self._update_counts()

    def _update_counts(self) -> None:
        items = self.c.findings_dict().get("findings") or {}
        sugg = self.c.suggestions()
        for sec in self.sections.values():
            known = sum(1 for i in sec.row_ids if i in items)
            pending = sum(1 for i in sec.row_ids if i in sugg)
            text = f"{known}/{len(sec.row_ids)}"
            if pending:
                text += f" · {pending} suggested"
            sec.header.setToolTip(f"{known} of {len(sec.row_ids)} items set" + (f", {pending} suggested" if pending else ""))
            sec.set_count(text)

    def show_first_suggestion(self) -> None:
        sugg = self.c.suggestions()
        for sec in self.sections.values():
            for fid in sec.row_ids:
                if fid in sugg:
                    sec.set_expanded(True)
                    self.checklist_area.ensureWidgetVisible(self.rows[fid], 0, 40)
                    return

    def apply_filter(self, text: str) -> None:
        words = text.lower().split()
        for sec in self.sections.values():
            any_shown = False
            for fid in sec.row_ids:
                row = self.rows[fid]
                shown = row.matches(words)
                row.setVisible(shown)
                any_shown |= shown
            sec.setVisible(any_shown)
            if words and any_shown:
                sec.set_expanded(True)
        self.fields_section.setVisible(not words)

    # ------------------------------------------------------------------ reading (tests, session)
    def ranking_shown(self) -> list[tuple[str, str]]:
        """(label, percent) of the differential bars as laid out on screen, top to bottom."""
        bars = sorted(self.bars, key=lambda b: b.mapTo(self, b.rect().topLeft()).y())
        return [(b.label_text, b.percent_text()) for b in bars]
