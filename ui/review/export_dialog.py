"""Export, copy report and re-open an SR (review menu; Ctrl+E, Ctrl+Shift+C, Ctrl+Shift+O).

* **Export…** (Ctrl+E): a dialog with the output folder, "De-identify" and the series the SR
  references (default: the series measured — the grown lesion's, else the one with most
  measurements). *Export* runs :func:`workstation.export.export_study` on a worker thread with the
  controller's findings, that series, the measurements in its frame of reference, the grown lesion's
  figures and the latest enhancement result; the dialog lists the written files, or shows the error
  in one line. A folder that holds another study's export is not overwritten unless the reader
  answers *Replace* to the question the dialog then asks (the CLI's ``--force``).
* **Copy report** (Ctrl+Shift+C): the plain-text report (``workstation.export.render_report``,
  the same text ``report.txt`` gets, not de-identified) on the clipboard.
* **Open SR…** (Ctrl+Shift+O): reads an exported ``report-sr.dcm`` with
  :func:`workstation.export.sr.read_sr`; its measurements go back into ``host.measurements`` (drawn on
  the images; a series UID not in this study — e.g. after de-identification — is mapped to the
  series shown) and its findings document into the controller.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from PyQt6.QtCore import QObject, QSettings, Qt, pyqtSignal
from PyQt6.QtGui import QAction
from PyQt6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from workstation.errors import WorkstationError
from workstation.errors import report as report_error
from workstation.export import FILES, ExportConflict, export_study
from workstation.export import render_report as _render_report
from workstation.export.sr import LesionFigures, read_sr
from workstation.measure.model import Lesion3D, Measurement
from workstation.volume import Volume

from .tools_lesion import Worker

__all__ = ["ExportTools", "ExportDialog", "render_report"]

SETTINGS_FOLDER = "review/export_folder"
_CONFLICT = "conflict"  # the worker's answer when the folder holds another study's export


def render_report(findings: dict[str, Any], volume: Volume | None, lesion: Any = None,
                  enhancement: Any = None, pre_volume: Volume | None = None) -> str:
    """The plain-text report for the current state (what ``report.txt`` would hold)."""
    return _render_report(findings, volume, lesion, enhancement, pre_volume=pre_volume)


class ExportTools(QObject):
    """Signals: ``exported(dict)`` (name -> path), ``export_failed(str)``, ``export_conflict(str)``
    (the folder holds another study's export; nothing written), ``report_copied(str)``,
    ``sr_opened(int)`` (measurements restored)."""

    exported = pyqtSignal(object)
    export_failed = pyqtSignal(str)
    export_conflict = pyqtSignal(str)
    report_copied = pyqtSignal(str)
    sr_opened = pyqtSignal(int)

    def __init__(self, host, controller=None, lesions=None, enhancement=None) -> None:
        """``lesions``, ``enhancement``: the review's lesion and enhancement tools (what is exported)."""
        super().__init__(host)
        self.host, self.controller = host, controller
        self.lesions, self.enhancement = lesions, enhancement
        self.worker = Worker(self)
        self.dialog: ExportDialog | None = None
        self.act_export = self._action("Export…", "Ctrl+E", "Export findings.json, report.txt and the DICOM SR (Ctrl+E)",
                                       self.show_dialog)
        self.act_copy = self._action("Copy report", "Ctrl+Shift+C", "Copy the plain-text report to the clipboard "
                                     "(Ctrl+Shift+C)", self.copy_report)
        self.act_open_sr = self._action("Open SR…", "Ctrl+Shift+O", "Re-open an exported SR: its measurements and "
                                        "findings (Ctrl+Shift+O)", self.ask_open_sr)
        for a in (self.act_export, self.act_copy, self.act_open_sr):
            host.add_menu_action("&Review", a)
        store = host.measurements  # a read-only window cannot bring an SR's work in (export stays)
        if hasattr(store, "read_only_changed"):
            store.read_only_changed.connect(lambda on: self.act_open_sr.setEnabled(not on))

    def _action(self, text, key, tip, slot) -> QAction:
        return self.host.new_action(text, key, tip=tip, slot=slot)

    def close_study(self) -> None:
        """Another study is being opened: an open export dialog closes (it lists the old series;
        Ctrl+E opens it again on the new study)."""
        if self.dialog is not None:
            self.dialog.hide()
            self.dialog.result_label.setText("")
            self.dialog.error.setText("")

    # -- what is exported ------------------------------------------------------------------------
    def _lesion_tools(self):
        return self.lesions

    def _enhancement(self) -> dict[str, Any] | None:
        t = self.enhancement
        return t.last() if t is not None else None

    def measured_series(self) -> Volume | None:
        """The series measured: the grown lesion's, else the one with most measurements, else shown."""
        lt = self._lesion_tools()
        if lt is not None and lt.active() is not None:
            return lt.active().volume
        counts: dict[str, int] = {}
        for m in self.host.measurements.items():
            if self.host.volume(m.series_uid) is not None:
                counts[m.series_uid] = counts.get(m.series_uid, 0) + 1
        if counts:
            return self.host.volume(max(counts, key=counts.__getitem__))
        return self.host.current_volume()

    def lesion_for(self, volume: Volume) -> Any:
        lt = self._lesion_tools()
        if lt is not None:
            a = lt.active()
            if a is not None and a.volume.series_uid == volume.series_uid and a.result is not None:
                rec = self.host.measurements.get(a.id)
                fig = LesionFigures.from_any(a.result)
                if rec is not None and fig is not None:
                    fig.id, fig.label = rec.id, rec.label
                return fig
        recs = [m for m in self.host.measurements.items()
                if isinstance(m, Lesion3D) and m.series_uid == volume.series_uid]
        return recs[-1] if recs else None

    def measurements_for(self, volume: Volume) -> list[Measurement]:
        """Measurements the SR can place on ``volume``: its own and those of its frame of reference."""
        f = (volume.meta or {}).get("frame_of_reference_uid")
        out = []
        for m in self.host.measurements.items():
            other = self.host.volume(m.series_uid)
            same = m.series_uid == volume.series_uid or (
                other is not None and f and (other.meta or {}).get("frame_of_reference_uid") == f)
            if same:
                out.append(m)
        return out

    def inputs(self, volume: Volume) -> dict[str, Any]:
        enh = self._enhancement()
        pre = enh["pre"] if enh is not None else None
        return {"findings": self.controller.findings_dict() if self.controller else {"schema": "rp-findings/1"},
                "volume": volume, "measurements": self.measurements_for(volume),
                "lesion": self.lesion_for(volume), "enhancement": enh["result"] if enh else None,
                "pre_volume": pre if (pre is not None and pre is not volume) else None,
                "masks": lt.masks() if (lt := self._lesion_tools()) is not None else None}

    # -- actions --------------------------------------------------------------------------------
    def show_dialog(self) -> ExportDialog:
        if self.dialog is None:
            self.dialog = ExportDialog(self, self.host.dialog_parent())
        self.dialog.refresh()
        self.dialog.show()
        self.dialog.raise_()
        return self.dialog

    def export(self, out_dir, volume: Volume, deidentify: bool = False, force: bool = False) -> None:
        """Export on the worker; ``force`` replaces another study's export in ``out_dir``."""
        try:
            args = self.inputs(volume)
        except WorkstationError as exc:
            self._failed(str(exc))
            return
        self.host.status(f"Exporting to {out_dir} …")

        def job() -> dict:
            try:
                return export_study(args["findings"], volume, out_dir, measurements=args["measurements"],
                                    lesion=args["lesion"], enhancement=args["enhancement"],
                                    deidentify=deidentify, pre_volume=args["pre_volume"],
                                    masks=args["masks"], force=force)
            except ExportConflict as exc:
                return {_CONFLICT: str(exc)}

        self.worker.run(job, self._done, self._failed)

    def _done(self, paths: dict) -> None:
        if _CONFLICT in paths:
            self.host.status(f"Export: {paths[_CONFLICT]}", 15000)
            self.export_conflict.emit(paths[_CONFLICT])
            return
        self.host.status(f"Exported {len(paths)} files to {Path(next(iter(paths.values()))).parent}", 10000)
        self.exported.emit(paths)

    def _failed(self, message: str) -> None:
        line = message.splitlines()[0] if message else "export failed"
        self.host.status(f"Export: {line}", 15000)
        self.export_failed.emit(line)

    def report_text(self, volume: Volume | None = None) -> str:
        volume = volume or self.measured_series()
        args = self.inputs(volume) if volume is not None else {
            "findings": self.controller.findings_dict(), "lesion": None, "enhancement": None, "pre_volume": None}
        return render_report(args["findings"], volume, args["lesion"], args["enhancement"], args["pre_volume"])

    def copy_report(self) -> str | None:
        try:
            text = self.report_text()
        except WorkstationError as exc:
            self.host.status(f"Copy report: {exc}", 10000)
            return None
        clipboard = QApplication.clipboard()
        if clipboard is not None:  # None only without a QGuiApplication
            clipboard.setText(text)
        n = text.count("\n") + 1
        self.host.status(f"Report copied to the clipboard ({n} lines)", 6000)
        self.report_copied.emit(text)
        return text

    def ask_open_sr(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.host.dialog_parent(), "Open an exported SR",
                                              str(self._folder()), "DICOM SR (*.dcm);;All files (*)")
        if path:
            self.open_sr(path)

    def open_sr(self, path) -> int:
        """Restore the measurements and findings of an SR; returns the number of measurements
        (0, with the reason in the status line, in a read-only window)."""
        if getattr(self.host.measurements, "read_only", False):
            self.host.status("Open SR: this window is read-only (the study is open for editing in "
                             "another window)", 10000)
            return 0
        try:
            findings, ms = read_sr(path, list(self.host.volumes().values()))
        except Exception as exc:  # noqa: BLE001 - the GUI boundary: one line, never a traceback
            self.host.status(f"Open SR: {report_error(exc, str(path), 'Open SR')}", 15000)
            return 0
        store = self.host.measurements
        shown = self.host.current_volume()
        mapped = 0
        store.undo_stack.beginMacro(f"open SR {Path(path).name}")
        try:
            for m in ms:
                if self.host.volume(m.series_uid) is None and shown is not None:
                    m.series_uid = shown.series_uid  # de-identified (remapped) UIDs: the series shown
                    mapped += 1
                if m.id in store:
                    store.update(m, text="restore")
                else:
                    store.add(m)
        finally:
            store.undo_stack.endMacro()
        from .open_sr import restore_lesion_masks  # the lesion masks from the SEG beside the SR

        n_masks = restore_lesion_masks(self.host, self._lesion_tools(), path, ms)
        if findings is not None and self.controller is not None:
            self.controller.set_document(findings)
        note = f"; {mapped} placed on the series shown (its UIDs are not in this study)" if mapped else ""
        note += f"; {n_masks} lesion mask(s) from the SEG" if n_masks else ""
        self.host.status(f"Opened {Path(path).name}: {len(ms)} measurements"
                         + (" and the findings" if findings else "") + note, 10000)
        self.sr_opened.emit(len(ms))
        return len(ms)

    @staticmethod
    def _folder() -> Path:
        v = QSettings().value(SETTINGS_FOLDER)
        return Path(v) if v else Path.home() / "rp-export"


class ExportDialog(QDialog):
    """Output folder, de-identify, referenced series; Export; the written files or one error line."""

    def __init__(self, tools: ExportTools, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tools = tools
        self.setWindowTitle("Export structured findings")
        self.setModal(False)
        self.resize(640, 260)
        lay = QVBoxLayout(self)
        form = QFormLayout()
        row = QHBoxLayout()
        self.folder = QLineEdit(str(ExportTools._folder()))
        self.folder.setObjectName("export_folder")
        self.browse = QPushButton("Browse…")
        self.browse.clicked.connect(self._browse)
        row.addWidget(self.folder, 1)
        row.addWidget(self.browse)
        form.addRow("Output folder", row)
        self.deidentify = QCheckBox("De-identify (PS3.15: names, IDs, dates and free text removed; "
                                    "age and sex kept; UIDs remapped)")
        self.deidentify.setToolTip("Every file of the set is de-identified: the SR and SEG keep only what their "
                                   "DICOM definitions need, the report and findings.json carry no names, IDs, "
                                   "accession numbers or dates, and all UIDs are remapped consistently.")
        self.deidentify.setObjectName("export_deidentify")
        form.addRow("", self.deidentify)
        self.series = QComboBox()
        self.series.setObjectName("export_series")
        form.addRow("Series referenced", self.series)
        lay.addLayout(form)
        self.result_label = QLabel("")
        self.result_label.setObjectName("export_result")
        self.result_label.setWordWrap(True)
        self.result_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(self.result_label)
        self.error = QLabel("")
        self.error.setObjectName("export_error")
        self.error.setStyleSheet("color: #ff7070;")
        lay.addWidget(self.error)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.copy_button = QPushButton("Copy report")
        self.copy_button.clicked.connect(lambda: self.tools.copy_report())
        self.export_button = QPushButton("Export")
        self.export_button.setObjectName("export_button")
        self.export_button.setDefault(True)
        self.export_button.clicked.connect(self._export)
        self.close_button = QPushButton("Close")
        self.close_button.clicked.connect(self.close)
        for b in (self.copy_button, self.export_button, self.close_button):
            buttons.addWidget(b)
        lay.addLayout(buttons)
        tools.exported.connect(self._exported)
        tools.export_failed.connect(self._failed)
        tools.export_conflict.connect(self._conflict)
        #: the open "replace another study's export?" question, if any
        self.confirm: QMessageBox | None = None
        self._pending: tuple[str, Volume, bool] | None = None
        self._uids: list[str] = []

    def refresh(self) -> None:
        host = self.tools.host
        self.series.clear()
        self._uids = []
        loaded = set(host.loaded_series())
        for uid, v in host.volumes().items():
            if uid in loaded:
                self._uids.append(uid)
                self.series.addItem(f"{v.modality} {v.description or uid}")
        m = self.tools.measured_series()
        if m is not None and m.series_uid in self._uids:
            self.series.setCurrentIndex(self._uids.index(m.series_uid))

    def selected_volume(self) -> Volume | None:
        i = self.series.currentIndex()
        return self.tools.host.volume(self._uids[i]) if 0 <= i < len(self._uids) else None

    def _browse(self) -> None:
        d = QFileDialog.getExistingDirectory(self, "Export folder", self.folder.text())
        if d:
            self.folder.setText(d)

    def _export(self) -> None:
        self.error.setText("")
        self.result_label.setText("")
        vol = self.selected_volume()
        folder = self.folder.text().strip()
        if vol is None:
            self._failed("no series to reference: load a study first")
            return
        if not folder:
            self._failed("choose an output folder")
            return
        QSettings().setValue(SETTINGS_FOLDER, folder)
        self.export_button.setEnabled(False)
        self.result_label.setText("Exporting …")
        self._pending = (folder, vol, self.deidentify.isChecked())
        self.tools.export(folder, vol, self.deidentify.isChecked())

    def _conflict(self, line: str) -> None:
        """Ask before replacing another study's export (non-blocking; *Replace* exports with force)."""
        self.export_button.setEnabled(True)
        self.result_label.setText("")
        self.error.setText(line)
        box = QMessageBox(QMessageBox.Icon.Warning, "Replace another study's export?",
                          "The folder holds the export of another study.\n\nReplace it with this "
                          "study's export? Its files will be deleted.", QMessageBox.StandardButton.Cancel, self)
        box.setObjectName("export_confirm_replace")
        replace = box.addButton("Replace", QMessageBox.ButtonRole.DestructiveRole)
        assert replace is not None
        replace.setObjectName("export_replace")
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.buttonClicked.connect(lambda b: self._answered(b is replace))
        self.confirm = box
        box.open()

    def _answered(self, replace: bool) -> None:
        self.confirm = None
        pending, self._pending = self._pending, None
        if not replace or pending is None:
            self.result_label.setText("Not exported: the folder keeps the other study's export.")
            return
        folder, vol, deid = pending
        self.error.setText("")
        self.export_button.setEnabled(False)
        self.result_label.setText("Exporting …")
        self.tools.export(folder, vol, deid, force=True)

    def _exported(self, paths: dict) -> None:
        self.export_button.setEnabled(True)
        self.error.setText("")
        order = [k for k in [*FILES, "manifest"] if k in paths]
        self.result_label.setText("Written:\n" + "\n".join(str(paths[k]) for k in order))

    def _failed(self, line: str) -> None:
        self.export_button.setEnabled(True)
        self.result_label.setText("")
        self.error.setText(line)
