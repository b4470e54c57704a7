"""The status bar: a message, the loading progress bar and the "N files skipped — details" button.

Problems are collected here instead of popping dialogs: the reader sees one line and opens the list
when they want it.
"""
from __future__ import annotations

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QListWidget, QProgressBar, QStatusBar, QToolButton, QVBoxLayout


class ProblemsDialog(QDialog):
    def __init__(self, title: str, lines: list[str], parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.resize(720, 360)
        lay = QVBoxLayout(self)
        self.list = QListWidget()
        self.list.addItems(lines)
        lay.addWidget(self.list)
        bb = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        bb.rejected.connect(self.reject)
        bb.accepted.connect(self.accept)
        lay.addWidget(bb)


class StatusArea:
    """Wraps the main window's QStatusBar."""

    def __init__(self, bar: QStatusBar) -> None:
        self.bar = bar
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(220)
        self.progress.setMaximumHeight(16)
        self.progress.setTextVisible(True)
        self.progress.setVisible(False)
        self.problems_button = QToolButton()
        self.problems_button.setAutoRaise(True)
        self.problems_button.setVisible(False)
        self.problems_button.clicked.connect(self.show_problems)
        self.cursor_label = QLabel("")
        self.cursor_label.setMinimumWidth(260)
        # fixed size: the crosshair text changes with every slice step, and a label that may change
        # size makes the status bar re-lay out and repaint across the window each time
        sample = QLabel("Crosshair (-0000.0, -0000.0, -0000.0) mm LPS")
        self.cursor_label.setFixedSize(max(260, sample.sizeHint().width()), sample.sizeHint().height())
        self.cursor_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        bar.addPermanentWidget(self.cursor_label)
        bar.addPermanentWidget(self.problems_button)
        bar.addPermanentWidget(self.progress)
        self.skipped: list[str] = []
        self.other: list[str] = []
        self.dialog: ProblemsDialog | None = None

    def message(self, text: str, timeout_ms: int = 0) -> None:
        self.bar.showMessage(text, timeout_ms)

    def current_message(self) -> str:
        return self.bar.currentMessage()

    def set_progress(self, done: int, total: int, text: str = "") -> None:
        if total <= 0 or done >= total:
            self.progress.setVisible(False)
            return
        self.progress.setVisible(True)
        self.progress.setMaximum(total)
        self.progress.setValue(done)
        self.progress.setFormat(f"{text} %v/%m" if text else "%v/%m")

    def add_skipped(self, lines: list[str]) -> None:
        self.skipped.extend(lines)
        self._update_button()

    def add_problem(self, line: str) -> None:
        self.other.append(line)
        self._update_button()

    def clear_study(self) -> None:
        """Forget the skipped files, problems and progress of the study that is closing."""
        self.skipped.clear()
        self.other.clear()
        self.set_progress(0, 0)
        self._update_button()
        if self.dialog is not None:
            self.dialog.close()
            self.dialog = None

    def problem_lines(self) -> list[str]:
        return list(self.other) + list(self.skipped)

    def _update_button(self) -> None:
        parts = []
        if self.skipped:
            n = len(self.skipped)
            parts.append(f"{n} file{'s' if n != 1 else ''} skipped")
        if self.other:
            n = len(self.other)
            parts.append(f"{n} problem{'s' if n != 1 else ''}")
        self.problems_button.setText(", ".join(parts) + " — details")
        self.problems_button.setVisible(bool(parts))

    def show_problems(self) -> ProblemsDialog:
        if self.dialog is not None:
            self.dialog.close()
        self.dialog = ProblemsDialog("Problems while opening the study", self.problem_lines(), self.bar.window())
        self.dialog.show()
        return self.dialog
