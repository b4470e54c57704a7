"""What both PACS protocols share: the query, the results, the instance writer and the interface.

A :class:`PacsClient` (DICOMweb in :mod:`.dicomweb`, DIMSE in :mod:`.dimse`) answers ``echo``,
``find_studies``, ``find_series``, ``retrieve`` and ``store``. Retrieved instances go through an
:class:`InstanceWriter`: each file is written to a temporary name beside its final name and renamed
into place only when whole, so a cancelled or failed retrieve leaves no half-written file.
"""
from __future__ import annotations

import contextlib
import os
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ..atomic import PRIVATE_FILE, is_temp_name, make_private_dir, set_private, temp_name_for
from ..errors import WorkstationError

#: (done, total) after each instance; total is 0 while unknown
ProgressFn = Callable[[int, int], None]

_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")


class PacsError(WorkstationError):
    """A PACS that cannot be reached or answered wrongly; the message names the server, never a
    credential or patient data."""


class Cancelled(WorkstationError):
    """The user cancelled a retrieve or send."""


@dataclass(frozen=True)
class StudyQuery:
    patient_id: str | None = None
    patient_name: str | None = None
    study_date: str | None = None  # YYYYMMDD or YYYYMMDD-YYYYMMDD (either end may be empty)
    modality: str | None = None
    accession: str | None = None
    limit: int | None = None


@dataclass
class StudyMatch:
    study_uid: str
    patient_id: str = ""
    patient_name: str = ""
    study_date: str = ""
    accession: str = ""
    description: str = ""
    modalities: list[str] = field(default_factory=list)
    n_series: int | None = None
    n_instances: int | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SeriesMatch:
    series_uid: str
    modality: str = ""
    description: str = ""
    n_instances: int | None = None
    number: int | None = None

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("number")
        return d


@dataclass
class SendResult:
    stored: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"stored": self.stored, "failed": list(self.failed)}


class PacsClient(Protocol):
    """The interface both protocols implement (all calls time out; errors are :class:`PacsError`)."""

    name: str
    #: one-line warnings to show the user once (e.g. TLS verification switched off)
    warnings: list[str]

    def echo(self) -> None: ...

    def find_studies(self, query: StudyQuery) -> list[StudyMatch]: ...

    def find_series(self, study_uid: str) -> list[SeriesMatch]: ...

    def retrieve(self, study_uid: str, out: Path, series: list[str] | None = None,
                 progress: ProgressFn | None = None, cancel: threading.Event | None = None) -> int: ...

    def store(self, files: list[Path], progress: ProgressFn | None = None,
              cancel: threading.Event | None = None) -> SendResult: ...


def check_uid(uid: str, what: str) -> str:
    if not _UID.match(uid) or len(uid) > 64:
        raise WorkstationError(f"{what}: not a DICOM UID")
    return uid


def check_date(text: str | None) -> str | None:
    """``YYYYMMDD`` or a range ``YYYYMMDD-YYYYMMDD`` (an open end allowed), else an error."""
    if not text:
        return None
    if not re.fullmatch(r"(\d{8})?(-(\d{8})?)?", text) or text == "-":
        raise WorkstationError("--study-date: expected YYYYMMDD or YYYYMMDD-YYYYMMDD")
    return text


def wanted_series(server: str, known: list[SeriesMatch], series: list[str] | None) -> list[SeriesMatch]:
    """The study's series to retrieve (all, or those named), or a PacsError naming the server."""
    wanted = [s for s in known if series is None or s.series_uid in series]
    if series is not None and len(wanted) != len(set(series)):
        raise PacsError(f"server {server}: series not found in the study")
    if not wanted:
        raise PacsError(f"server {server}: study not found")
    return wanted


class InstanceWriter:
    """Writes retrieved instances under ``out/<series folder>/<SOP instance UID>.dcm``, each through
    a temporary file renamed into place when whole; counts them and reports progress. Thread-safe
    (series arrive in parallel)."""

    def __init__(self, out: Path, total: int = 0, progress: ProgressFn | None = None,
                 cancel: threading.Event | None = None) -> None:
        self.out = Path(out)
        self.total = total
        self.progress = progress
        self.cancel = cancel or threading.Event()
        self.count = 0
        self._lock = threading.Lock()
        self._dirs: set[str] = set()

    def check_cancel(self) -> None:
        if self.cancel.is_set():
            raise Cancelled("retrieve cancelled")

    def path_for(self, series_uid: str, sop_uid: str) -> Path:
        series = check_uid(series_uid, "SeriesInstanceUID")
        d = self.out / series
        if series not in self._dirs:  # patient data: folders made for it are owner-only
            make_private_dir(d)
            self._dirs.add(series)
        return d / f"{check_uid(sop_uid, 'SOPInstanceUID')}.dcm"

    def write(self, series_uid: str, sop_uid: str, chunks: list[bytes]) -> Path:
        """Write the encoded file (``chunks`` concatenated) atomically."""
        self.check_cancel()
        try:
            final = self._write_atomically(self.path_for(series_uid, sop_uid), chunks)
        except OSError as exc:  # names the folder, never the instance's UIDs
            raise WorkstationError(f"{self.out}: cannot write ({exc.strerror or type(exc).__name__})") from None
        with self._lock:
            self.count += 1
            n = self.count
        if self.progress is not None:
            self.progress(n, self.total)
        return final

    @staticmethod
    def _write_atomically(final: Path, chunks: list[bytes]) -> Path:
        tmp = temp_name_for(final)
        try:  # patient data: owner-only (0o600) whatever the umask, like saved reads
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), PRIVATE_FILE)
            try:
                set_private(fd, PRIVATE_FILE)
            except BaseException:
                os.close(fd)  # open() below owns (and closes) it only once it is reached
                raise
            with open(fd, "wb") as fh:
                for c in chunks:
                    fh.write(c)
            os.replace(tmp, final)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return final


#: fetches one series into the writer (DICOMweb: WADO-RS; DIMSE: one C-GET association)
SeriesFetch = Callable[[str, "InstanceWriter"], None]


def retrieve_parallel(server: str, known: list[SeriesMatch], series: list[str] | None, out: Path,
                      fetch: SeriesFetch, workers: int, progress: ProgressFn | None = None,
                      cancel: threading.Event | None = None) -> int:
    """The retrieve both protocols share: pick the series (all of ``known``, or those named), then
    run ``fetch(series_uid, writer)`` for each, up to ``workers`` at once, into one
    :class:`InstanceWriter` under ``out``; the first failure cancels the rest and is raised. The
    number of instances written."""
    wanted = wanted_series(server, known, series)
    writer = InstanceWriter(out, sum(s.n_instances or 0 for s in wanted), progress, cancel)
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(wanted)))) as pool:
        futures = [pool.submit(fetch, s.series_uid, writer) for s in wanted]
        try:
            for f in futures:
                f.result()
        except BaseException:
            writer.cancel.set()  # stop the other series too
            raise
    return writer.count


def store_each(files: list[Path], store_one: Callable[[Path], str | None], result: SendResult,
               progress: ProgressFn | None = None, cancel: threading.Event | None = None) -> SendResult:
    """Store ``files`` one by one with ``store_one`` (None when stored, else the reason it was
    refused), collecting the outcome in ``result``; progress after each, cancel between them."""
    for i, f in enumerate(files, 1):
        if cancel is not None and cancel.is_set():
            raise Cancelled("send cancelled")
        reason = store_one(f)
        if reason is None:
            result.stored += 1
        else:
            result.failed.append({"file": str(f), "reason": reason})
        if progress is not None:
            progress(i, len(files))
    return result


def remove_temp_files(root: Path) -> None:
    """Delete temporary files an interrupted writer left under ``root`` (normally none)."""
    for p in Path(root).rglob("*"):
        if p.is_file() and is_temp_name(p.name):
            with contextlib.suppress(OSError):
                p.unlink()


def is_part10(path: Path) -> bool:
    """True when the file starts with the DICOM preamble and ``DICM`` (PS3.10 section 7.1)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:] == b"DICM"


def collect_files(paths: list[str | os.PathLike[str]]) -> list[Path]:
    """The files to send: each file named as given, and the DICOM files (PS3.10) found under each
    folder (an export folder's findings.json and report.txt are not sent); sorted, hidden and
    temporary files skipped."""
    found: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found.extend(sorted(f for f in p.rglob("*") if f.is_file()
                                and not any(part.startswith(".") for part in f.relative_to(p).parts)
                                and is_part10(f)))
        elif p.is_file():
            found.append(p)
        else:
            raise WorkstationError(f"{p}: no such file or folder")
    return found
