"""File › Open from PACS… and File › Send to PACS… (thin: every network call is in
:mod:`workstation.pacs`, run on a worker thread; the window stays responsive and a call can be
cancelled).

* :class:`OpenFromPacsDialog` — server picker (names from the servers file, or a typed
  ``http(s)://`` / ``dicom://`` address), search by patient ID / name, date range, modality and
  accession, a results table, the chosen study's series (all ticked), Retrieve with a progress bar
  and Cancel. The study goes to the cache (:mod:`workstation.pacs.cache`; a study already cached
  opens without retrieval) and then opens in the window through the host's open-study path.
* :class:`SendToPacsDialog` — a folder of exported files (an SR, a SEG...) stored on the chosen
  server, with one result line per file.

A server that cannot be reached, refuses or misbehaves shows its one-line message in the dialog.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PyQt6.QtCore import Qt, QThread, pyqtSignal
from PyQt6.QtGui import QAction
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workstation.errors import WorkstationError
from workstation.pacs import SeriesMatch, StudyMatch, StudyQuery, collect_files, connect, server_names
from workstation.pacs.base import Cancelled, check_date

MODALITIES = ["", "CT", "MR", "PT", "US", "CR", "DX", "NM", "SR", "SEG"]
STUDY_COLUMNS = ["Patient ID", "Patient name", "Date", "Accession", "Description", "Modalities",
                 "Series", "Images"]


class Task(QThread):
    """Runs ``fn(progress, cancel)`` off the GUI thread; reports through queued signals."""

    progressed = pyqtSignal(int, int)
    succeeded = pyqtSignal(object)
    failed = pyqtSignal(str)

    def __init__(self, fn: Callable[[Callable[[int, int], None], threading.Event], Any],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.fn = fn
        self.cancel = threading.Event()

    def run(self) -> None:  # noqa: D401 - QThread API
        try:
            result = self.fn(self.progressed.emit, self.cancel)
        except Cancelled:
            self.failed.emit("Cancelled")
        except WorkstationError as exc:
            self.failed.emit(str(exc))
        except Exception as exc:  # never a silent worker: one line in the dialog
            self.failed.emit(f"unexpected error: {type(exc).__name__}")
        else:
            self.succeeded.emit(result)


class _PacsDialog(QDialog):
    """Server picker, status line, progress bar and the task runner both dialogs share."""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.task: Task | None = None
        self.server = QComboBox()
        self.server.setObjectName("pacs_server")
        self.server.setEditable(True)
        self.server.setMinimumWidth(320)
        edit = self.server.lineEdit()
        if edit is not None:
            edit.setPlaceholderText("server name, http(s)://HOST:PORT/ROOT or dicom://AET@HOST:PORT")
        try:
            self.server.addItems(server_names())
        except WorkstationError as exc:
            self.server.setToolTip(str(exc))
        self.status = QLabel("")
        self.status.setObjectName("pacs_status")
        self.status.setWordWrap(True)
        # a risk the user chose for this server (TLS verification off...), shown while it is in use
        self.warning = QLabel("")
        self.warning.setObjectName("pacs_warning")
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet("color: #b35900;")
        self.warning.setVisible(False)
        self.progress = QProgressBar()
        self.progress.setObjectName("pacs_progress")
        self.progress.setVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("pacs_cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)

    def client(self) -> Any:
        spec = self.server.currentText().strip()
        if not spec:
            raise WorkstationError("choose a server (a name from servers.toml or an address)")
        self.show_warnings([])
        client = connect(spec)
        self.show_warnings(list(getattr(client, "warnings", [])))
        return client

    def show_warnings(self, lines: list[str]) -> None:
        self.warning.setText("\n".join(f"Warning: {line}" for line in lines))
        self.warning.setVisible(bool(lines))

    def busy(self) -> bool:
        return self.task is not None and self.task.isRunning()

    def start(self, text: str, fn: Callable[..., Any], on_done: Callable[[Any], None],
              show_progress: bool = False) -> None:
        if self.busy():
            return
        self.status.setText(text)
        self.progress.setVisible(show_progress)
        self.progress.setRange(0, 0)
        self.cancel_button.setEnabled(True)
        self._set_inputs_enabled(False)
        task = Task(fn, self)
        task.progressed.connect(self._progressed)
        task.succeeded.connect(on_done)
        task.failed.connect(self._failed)
        task.finished.connect(self._finished)
        self.task = task
        task.start()

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel.set()
            self.status.setText("Cancelling…")

    def _progressed(self, done: int, total: int) -> None:
        if total:
            self.progress.setRange(0, total)
        self.progress.setValue(done)

    def _failed(self, text: str) -> None:
        self.status.setText(text)
        self.progress.setVisible(False)

    def _finished(self) -> None:
        self.cancel_button.setEnabled(False)
        self._set_inputs_enabled(True)
        self.after_task()

    def after_task(self) -> None:
        """Hook: the task thread has ended (a follow-up request may start now)."""

    def _set_inputs_enabled(self, on: bool) -> None:
        pass

    def reject(self) -> None:  # closing the dialog cancels what runs
        self.cancel()
        if self.task is not None:
            self.task.wait(15000)
        super().reject()


class OpenFromPacsDialog(_PacsDialog):
    """Search a PACS, pick a study (and series), retrieve it into the cache and open it."""

    study_ready = pyqtSignal(object)  # the folder the study was retrieved to (or found in the cache)

    def __init__(self, open_study: Callable[[Path], Any], parent: QWidget | None = None,
                 cache: Any = None) -> None:
        super().__init__("Open from PACS", parent)
        self.open_study = open_study
        self._cache = cache
        self.studies: list[StudyMatch] = []
        self.series: list[SeriesMatch] = []
        self._series_wanted = False
        self.patient_id = self._edit("pacs_patient_id", "exact ID")
        self.patient_name = self._edit("pacs_patient_name", "e.g. DOE^J*")
        self.date_from = self._edit("pacs_date_from", "YYYYMMDD")
        self.date_to = self._edit("pacs_date_to", "YYYYMMDD")
        self.modality = QComboBox()
        self.modality.setObjectName("pacs_modality")
        self.modality.setEditable(True)
        self.modality.addItems(MODALITIES)
        self.accession = self._edit("pacs_accession", "")
        self.search_button = QPushButton("Search")
        self.search_button.setObjectName("pacs_search")
        self.search_button.setDefault(True)
        self.search_button.clicked.connect(self.search)
        self.results = QTableWidget(0, len(STUDY_COLUMNS))
        self.results.setObjectName("pacs_results")
        self.results.setHorizontalHeaderLabels(STUDY_COLUMNS)
        self.results.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.results.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.results.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        _stretch_last(self.results, STUDY_COLUMNS.index("Description"))
        self.results.itemSelectionChanged.connect(self._study_chosen)
        self.results.doubleClicked.connect(lambda _i: self.retrieve())
        self.series_list = QListWidget()
        self.series_list.setObjectName("pacs_series")
        self.series_list.setMinimumWidth(260)
        self.retrieve_button = QPushButton("Retrieve and open")
        self.retrieve_button.setObjectName("pacs_retrieve")
        self.retrieve_button.setEnabled(False)
        self.retrieve_button.clicked.connect(self.retrieve)
        self._layout()
        self.resize(980, 620)

    def _edit(self, name: str, placeholder: str) -> QLineEdit:
        e = QLineEdit()
        e.setObjectName(name)
        e.setPlaceholderText(placeholder)
        return e

    def _layout(self) -> None:
        form = QFormLayout()
        form.addRow("Server", self.server)
        form.addRow("Patient ID", self.patient_id)
        form.addRow("Patient name", self.patient_name)
        dates = QHBoxLayout()
        dates.addWidget(self.date_from)
        dates.addWidget(QLabel("to"))
        dates.addWidget(self.date_to)
        form.addRow("Study date", dates)
        form.addRow("Modality", self.modality)
        form.addRow("Accession", self.accession)
        top = QHBoxLayout()
        top.addLayout(form, 1)
        top.addWidget(self.search_button, 0, Qt.AlignmentFlag.AlignBottom)
        lower = QHBoxLayout()
        lower.addWidget(self.results, 3)
        side = QVBoxLayout()
        side.addWidget(QLabel("Series"))
        side.addWidget(self.series_list)
        lower.addLayout(side, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.progress, 3)
        buttons.addStretch(1)  # the buttons keep their size while the progress bar is hidden
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.retrieve_button)
        root = QVBoxLayout(self)
        root.addLayout(top)
        root.addLayout(lower, 1)
        root.addWidget(self.warning)
        root.addWidget(self.status)
        root.addLayout(buttons)

    def _set_inputs_enabled(self, on: bool) -> None:
        for w in (self.search_button, self.server, self.results, self.series_list):
            w.setEnabled(on)
        self.retrieve_button.setEnabled(on and self._current_study() is not None)

    # ---------------------------------------------------------------- search
    def query(self) -> StudyQuery:
        a, b = self.date_from.text().strip(), self.date_to.text().strip()
        date = check_date(f"{a}-{b}" if (a or b) and a != b else a or None)
        return StudyQuery(patient_id=self.patient_id.text().strip() or None,
                          patient_name=self.patient_name.text().strip() or None,
                          study_date=date, modality=self.modality.currentText().strip() or None,
                          accession=self.accession.text().strip() or None)

    def search(self) -> None:
        try:
            client, q = self.client(), self.query()
        except WorkstationError as exc:
            self.status.setText(str(exc).replace("--study-date", "Study date"))
            return
        self.results.setRowCount(0)
        self.series_list.clear()
        self.start("Searching…", lambda _p, _c: client.find_studies(q), self._show_studies)

    def _show_studies(self, studies: list[StudyMatch]) -> None:
        self.studies = list(studies)
        self.results.setRowCount(len(self.studies))
        for row, s in enumerate(self.studies):
            values = [s.patient_id, s.patient_name, s.study_date, s.accession, s.description,
                      "/".join(s.modalities), _num(s.n_series), _num(s.n_instances)]
            for col, v in enumerate(values):
                item = QTableWidgetItem(v)
                item.setToolTip(v)
                self.results.setItem(row, col, item)
        n = len(self.studies)
        self.status.setText(f"{n} stud{'y' if n == 1 else 'ies'} found" if n else "No study found")
        if n:
            self.results.selectRow(0)

    def _current_study(self) -> StudyMatch | None:
        model = self.results.selectionModel()
        rows = model.selectedRows() if model is not None else []
        return self.studies[rows[0].row()] if rows and rows[0].row() < len(self.studies) else None

    def _study_chosen(self) -> None:
        study = self._current_study()
        self.series_list.clear()
        self.retrieve_button.setEnabled(study is not None and not self.busy())
        if study is None:
            return
        if self.busy():  # the search's thread is still ending: list the series right after it
            self._series_wanted = True
            return
        try:
            client = self.client()
        except WorkstationError as exc:
            self.status.setText(str(exc))
            return
        self.start("Listing series…", lambda _p, _c: client.find_series(study.study_uid), self._show_series)

    def after_task(self) -> None:
        if self._series_wanted:
            self._series_wanted = False
            self._study_chosen()

    def _show_series(self, series: list[SeriesMatch]) -> None:
        self.series = list(series)
        self.series_list.clear()
        for s in self.series:
            item = QListWidgetItem(f"{s.modality}  {s.description or '(no description)'}  "
                                   f"({_num(s.n_instances)} images)")
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked)
            item.setData(Qt.ItemDataRole.UserRole, s.series_uid)
            self.series_list.addItem(item)
        self.status.setText(f"{len(self.series)} series")

    def chosen_series(self) -> list[str] | None:
        """The ticked series, or None for the whole study (all ticked)."""
        items = [self.series_list.item(i) for i in range(self.series_list.count())]
        ticked = [str(i.data(Qt.ItemDataRole.UserRole)) for i in items
                  if i is not None and i.checkState() == Qt.CheckState.Checked]
        return None if len(ticked) == len(items) else ticked

    # ---------------------------------------------------------------- retrieve
    def cache(self) -> Any:
        if self._cache is None:
            from workstation.pacs.cache import default_cache

            self._cache = default_cache()
        return self._cache

    def retrieve(self) -> None:
        study = self._current_study()
        if study is None or self.busy():
            return
        series = self.chosen_series()
        if series == []:
            self.status.setText("Tick at least one series")
            return
        try:
            client, cache = self.client(), self.cache()
        except WorkstationError as exc:
            self.status.setText(str(exc))
            return
        cached = cache.lookup(study.study_uid, series)
        if cached is not None:
            self.status.setText("Opening from the cache")
            self._retrieved(cached)
            return

        def work(progress: Callable[[int, int], None], cancel: threading.Event) -> Path:
            return Path(cache.retrieve(client, study.study_uid, series, progress, cancel))

        self.start("Retrieving…", work, self._retrieved, show_progress=True)

    def _retrieved(self, path: Path) -> None:
        self.progress.setVisible(False)
        self.study_ready.emit(path)
        self.open_study(path)
        self.accept()


class SendToPacsDialog(_PacsDialog):
    """Store a folder of exported files on a PACS and show each file's result."""

    def __init__(self, folder: str | Path | None = None, parent: QWidget | None = None) -> None:
        super().__init__("Send to PACS", parent)
        self.folder = QLineEdit(str(folder) if folder else "")
        self.folder.setObjectName("pacs_send_folder")
        self.folder.setPlaceholderText("folder of exported files (SR, SEG, images)")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        self.send_button = QPushButton("Send")
        self.send_button.setObjectName("pacs_send")
        self.send_button.setDefault(True)
        self.send_button.clicked.connect(self.send)
        self.results = QTableWidget(0, 2)
        self.results.setObjectName("pacs_send_results")
        self.results.setHorizontalHeaderLabels(["File", "Result"])
        self.results.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        _stretch_last(self.results, 1)
        form = QFormLayout()
        form.addRow("Server", self.server)
        row = QHBoxLayout()
        row.addWidget(self.folder, 1)
        row.addWidget(browse)
        form.addRow("Folder", row)
        buttons = QHBoxLayout()
        buttons.addWidget(self.progress, 3)
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.send_button)
        root = QVBoxLayout(self)
        root.addLayout(form)
        root.addWidget(self.results, 1)
        root.addWidget(self.warning)
        root.addWidget(self.status)
        root.addLayout(buttons)
        self.resize(760, 420)
        self.files: list[Path] = []

    def _browse(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Folder to send", self.folder.text())
        if path:
            self.folder.setText(path)

    def _set_inputs_enabled(self, on: bool) -> None:
        self.send_button.setEnabled(on)
        self.server.setEnabled(on)
        self.folder.setEnabled(on)

    def send(self) -> None:
        try:
            client = self.client()
            if not self.folder.text().strip():
                raise WorkstationError("choose the folder of exported files")
            self.files = collect_files([self.folder.text().strip()])
        except WorkstationError as exc:
            self.status.setText(str(exc))
            return
        if not self.files:
            self.status.setText("The folder holds no files")
            return
        self.results.setRowCount(0)
        files = list(self.files)
        self.start(f"Sending {len(files)} file(s)…",
                   lambda progress, cancel: client.store(files, progress, cancel),
                   self._sent, show_progress=True)

    def _sent(self, result: Any) -> None:
        reasons = {f["file"]: f["reason"] for f in result.failed}
        base = Path(self.folder.text().strip())
        self.results.setRowCount(len(self.files))
        for row, f in enumerate(self.files):
            name = str(f.relative_to(base)) if f.is_relative_to(base) else str(f)
            self.results.setItem(row, 0, QTableWidgetItem(name))
            self.results.setItem(row, 1, QTableWidgetItem(reasons.get(str(f), "stored")))
        self.progress.setVisible(False)
        self.status.setText(f"{result.stored} stored, {len(result.failed)} failed")

    def file_results(self) -> dict[str, str]:
        """{file shown: result} as the table shows them."""
        out = {}
        for row in range(self.results.rowCount()):
            a, b = self.results.item(row, 0), self.results.item(row, 1)
            if a is not None and b is not None:
                out[a.text()] = b.text()
        return out


def _stretch_last(table: QTableWidget, stretch: int) -> None:
    """Columns sized to their contents, column ``stretch`` taking the room that is left."""
    header = table.horizontalHeader()
    if header is not None:
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)


def _num(n: int | None) -> str:
    return "" if n is None else str(n)


def add_pacs_actions(window: Any, menu: QMenu) -> tuple[QAction, QAction]:
    """File › Open from PACS… and File › Send to PACS… on ``window`` (the main window; the study
    opens through ``window.host.open_study``, the window's own open-study path)."""

    def open_study(path: Path) -> None:
        host = getattr(window, "host", None)
        (host.open_study if host is not None else window.open_study)(path)

    def ask_open() -> None:
        dlg = OpenFromPacsDialog(open_study, window)
        window.pacs_dialog = dlg
        dlg.show()

    def ask_send() -> None:
        dlg = SendToPacsDialog(None, window)
        window.pacs_send_dialog = dlg
        dlg.show()

    act_open = QAction("Open from PACS…", window)
    act_open.setObjectName("open_from_pacs")
    act_open.setToolTip("Search a PACS (DICOMweb or DIMSE), retrieve a study and open it")
    act_open.triggered.connect(lambda _=False: ask_open())
    act_send = QAction("Send to PACS…", window)
    act_send.setObjectName("send_to_pacs")
    act_send.setToolTip("Store a folder of exported files (SR, SEG) on a PACS, with each file's result")
    act_send.triggered.connect(lambda _=False: ask_send())
    menu.addSeparator()
    menu.addAction(act_open)
    menu.addAction(act_send)
    return act_open, act_send
