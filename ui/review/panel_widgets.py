"""Small widgets of the review panel: tri-state checklist row, optional number box, differential bar,
collapsible section. Each shows one thing and says what it is to a screen reader / tooltip."""
from __future__ import annotations

from PyQt6.QtCore import QRectF, QSize, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QFont, QPainter, QPalette
from PyQt6.QtWidgets import (
    QAbstractSpinBox,
    QButtonGroup,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

#: colours on the host's dark palette (ui/app.py dark_palette)
YES = "#3f8f4f"
NO = "#a5483f"
UNKNOWN = "#55555d"
ACCENT = "#2a5f8a"
SUGGEST = "#b08a2e"

TRI_VALUES = (True, False, None)
TRI_TEXT = {True: "Y", False: "N", None: "?"}
TRI_TIP = {True: "yes (present)", False: "no (absent)", None: "unknown (weighs nothing)"}


class TriState(QWidget):
    """``[Y][N][?]`` — three exclusive toggle buttons; ``value_chosen(object)`` on a click."""

    value_chosen = pyqtSignal(object)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        self.group = QButtonGroup(self)
        self.group.setExclusive(True)
        self.buttons: dict[object, QToolButton] = {}
        for v in TRI_VALUES:
            b = QToolButton(self)
            b.setText(TRI_TEXT[v])
            b.setCheckable(True)
            b.setToolTip(TRI_TIP[v])
            b.setFixedSize(24, 20)
            b.setObjectName({True: "triYes", False: "triNo", None: "triUnknown"}[v])
            b.setCursor(Qt.CursorShape.PointingHandCursor)
            self.group.addButton(b)
            self.buttons[v] = b
            lay.addWidget(b)
            b.clicked.connect(lambda _=False, v=v: self.value_chosen.emit(v))
        self._value: object = None
        self.buttons[None].setChecked(True)

    def value(self):
        return self._value

    def set_value(self, v) -> None:
        if v is self._value and self.buttons[v].isChecked():
            return
        self._value = v
        self.buttons[v].setChecked(True)


class OptionalSpin(QDoubleSpinBox):
    """A number box whose lowest value means *not set* (shown as ``not set``).

    It commits only on Enter, focus loss or an arrow step (no keyboard tracking), and ignores the
    mouse wheel unless it has focus, so scrolling the panel never changes a value by accident."""

    value_committed = pyqtSignal(object)  # float, or None for not set

    def __init__(self, low: float, high: float, decimals: int, suffix: str = "", parent=None) -> None:
        super().__init__(parent)
        self.setDecimals(decimals)
        self.setRange(low, high)
        self.setSpecialValueText("not set")
        self.setSuffix(suffix)
        self.setKeyboardTracking(False)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setButtonSymbols(QAbstractSpinBox.ButtonSymbols.UpDownArrows)
        self.setAccelerated(True)
        self.setValue(low)
        self._programmatic = False
        self.valueChanged.connect(self._changed)

    def number(self) -> float | None:
        return None if self.value() <= self.minimum() else float(self.value())

    def set_number(self, v: float | None) -> None:
        self._programmatic = True
        try:
            self.setValue(self.minimum() if v is None else float(v))
        finally:
            self._programmatic = False

    def _changed(self, _v: float) -> None:
        if not self._programmatic:
            self.value_committed.emit(self.number())

    def wheelEvent(self, ev):  # noqa: N802 - Qt name
        if self.hasFocus():
            super().wheelEvent(ev)
        else:
            ev.ignore()


class NoWheelCombo:
    """Mixin-free helper: make a QComboBox ignore the wheel unless focused."""

    @staticmethod
    def install(combo) -> None:
        combo.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        orig = combo.wheelEvent

        def wheel(ev, combo=combo, orig=orig):
            if combo.hasFocus():
                orig(ev)
            else:
                ev.ignore()

        combo.wheelEvent = wheel


def percent_of(p: float) -> str:
    """A probability in % that is never 0 or 100 (``<1 %``, ``>99 %``): a handful of findings
    neither proves nor excludes a diagnosis."""
    pct = float(p) * 100
    if pct < 1:
        return "<1 %"
    if pct > 99:
        return ">99 %"
    return f"{pct:.0f} %"


class DifferentialBar(QWidget):
    """One ranked diagnosis: ``▸ label ... ███ possible  42 %``; click to show/hide the reasons.

    The likelihood word ("most likely", "possible", "less likely", "unlikely") is drawn inside
    the bar's track, small, so the number never stands alone."""

    toggled = pyqtSignal(str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.dx_id = ""
        self.label_text = ""
        self.probability = 0.0
        self.rank = 0
        self.word = ""
        self.expanded = False
        self.best = False
        self.setMinimumHeight(20)
        self.setMaximumHeight(20)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setCursor(Qt.CursorShape.PointingHandCursor)

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(300, 20)

    def set_data(self, rank: int, dx_id: str, label: str, probability: float, expanded: bool, tip: str,
                 word: str = "") -> None:
        self.rank, self.dx_id, self.label_text, self.probability = rank, dx_id, label, probability
        self.word = word
        self.expanded, self.best = expanded, rank == 0
        self.setToolTip(tip)
        self.setAccessibleName(f"{label} {word + ' ' if word else ''}{self.percent_text()}")
        self.update()

    def percent_text(self) -> str:
        return percent_of(self.probability)

    def mousePressEvent(self, ev):  # noqa: N802
        if ev.button() == Qt.MouseButton.LeftButton:
            self.toggled.emit(self.dx_id)
        ev.accept()

    def paintEvent(self, _ev):  # noqa: N802
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        w, h = self.width(), self.height()
        pal = self.palette()
        text_col = pal.color(QPalette.ColorRole.WindowText)
        label_w = min(175, int(w * 0.5))
        pct_w = 42
        bar_x, bar_w = label_w + 4, max(10, w - label_w - pct_w - 8)
        # label
        f = QFont(self.font())
        f.setBold(self.best)
        p.setFont(f)
        p.setPen(text_col)
        arrow = "▾" if self.expanded else "▸"
        p.drawText(QRectF(2, 0, label_w, h), Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                   p.fontMetrics().elidedText(f"{arrow} {self.label_text}", Qt.TextElideMode.ElideRight, label_w))
        # track and bar
        track = QRectF(bar_x, 4, bar_w, h - 8)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(30, 30, 34))
        p.drawRoundedRect(track, 3, 3)
        fill = QRectF(bar_x, 4, max(1.5, bar_w * self.probability), h - 8)
        p.setBrush(QColor("#3d8fd1") if self.best else QColor("#4f6f8c"))
        p.drawRoundedRect(fill, 3, 3)
        if self.word:
            small = QFont(self.font())
            small.setPointSizeF(max(6.5, small.pointSizeF() * 0.8))
            p.setFont(small)
            p.setPen(QColor(225, 225, 232))
            p.drawText(track.adjusted(3, 0, -3, 0), Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight,
                       p.fontMetrics().elidedText(self.word, Qt.TextElideMode.ElideRight, int(track.width()) - 6))
            p.setFont(f)
        # percent
        p.setPen(text_col)
        p.drawText(QRectF(w - pct_w - 2, 0, pct_w, h), Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight,
                   self.percent_text())
        p.end()


class Section(QWidget):
    """A collapsible section: a header button (``▾ Title   3 / 17``) over a body widget."""

    def __init__(self, title: str, body: QWidget, parent=None, expanded: bool = True) -> None:
        super().__init__(parent)
        self.title = title
        self.body = body
        self.group_id = ""                 # the checklist group it shows (panel), if any
        self.row_ids: list[str] = []       # the checklist ids in it
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        self.header = QPushButton(self)
        self.header.setObjectName("sectionHeader")
        self.header.setFlat(True)
        self.header.setMinimumWidth(1)  # a long title is clipped, it never widens the panel
        self.header.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.header.setCheckable(True)
        self.header.setChecked(expanded)
        self.header.setCursor(Qt.CursorShape.PointingHandCursor)
        self.header.toggled.connect(self._toggle)
        lay.addWidget(self.header)
        lay.addWidget(body)
        self._count = ""
        self._toggle(expanded)

    def set_count(self, text: str) -> None:
        self._count = text
        self._refresh_header()

    def _refresh_header(self) -> None:
        arrow = "▾" if self.header.isChecked() else "▸"
        self.header.setText(f"{arrow}  {self.title}" + (f"   ·   {self._count}" if self._count else ""))

    def _toggle(self, on: bool) -> None:
        self.body.setVisible(on)
        self._refresh_header()

    def set_expanded(self, on: bool) -> None:
        self.header.setChecked(on)

    def is_expanded(self) -> bool:
        return self.header.isChecked()


class ClickLabel(QLabel):
    """A label that says when it is clicked (the suggestions banner)."""

    clicked = pyqtSignal()

    def mousePressEvent(self, ev):  # noqa: N802 - Qt name
        if ev is not None and ev.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit()
        super().mousePressEvent(ev)


def small_button(text: str, tip: str, parent=None) -> QPushButton:
    b = QPushButton(text, parent)
    b.setToolTip(tip)
    b.setCursor(Qt.CursorShape.PointingHandCursor)
    b.setObjectName("small")
    return b


def caption(text: str = "", parent=None) -> QLabel:
    lab = QLabel(text, parent)
    lab.setObjectName("caption")
    lab.setWordWrap(True)
    return lab
