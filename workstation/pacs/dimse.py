"""DIMSE (C-ECHO, C-FIND, C-GET, C-STORE) through ``pynetdicom``.

* every association uses the server's timeout for connection, ACSE, DIMSE and network reads
  (pynetdicom otherwise waits 30-60 s or forever);
* ``TCP_NODELAY`` is set on our sockets as soon as they connect (pynetdicom leaves Nagle on, which
  stalls small request/answer exchanges by tens of milliseconds each);
* C-GET proposes one storage context per (SOP class, transfer syntax) with the SCP role, so the PACS
  can send each instance as stored (compressed ones included) instead of transcoding it; the
  received bytes are written as they came, with their file meta, through a temporary name;
* pynetdicom's own logger is silenced: failures come back as one :class:`PacsError` line that names
  the server and the cause.
"""
from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pydicom
from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_file_meta_info

from ..errors import WorkstationError
from . import base
from .base import Cancelled, InstanceWriter, PacsError, check_uid
from .config import ServerConfig, pacs_default

_PYNETDICOM_LOG = logging.getLogger("pynetdicom")
_PYNETDICOM_LOG.setLevel(logging.CRITICAL + 1)  # our errors say it in one line
_PYNETDICOM_LOG.propagate = False

MAX_CONTEXTS = 128
_PENDING = (0xFF00, 0xFF01)
_OK_STORE = (0x0000, 0xB000, 0xB006, 0xB007)
PREAMBLE = b"\x00" * 128 + b"DICM"


def _nodelay(event: Any) -> None:
    """EVT_CONN_OPEN: switch Nagle off on the association's socket."""
    sock = getattr(getattr(event.assoc.dul, "socket", None), "socket", None)
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _status(ds: Dataset | None) -> int | None:
    return int(ds.Status) if ds is not None and "Status" in ds else None


def _str(ds: Dataset, keyword: str) -> str:
    v = ds.get(keyword, "")
    return "" if v is None else str(v)


def _int(ds: Dataset, keyword: str) -> int | None:
    try:
        v = ds.get(keyword)
        return None if v in (None, "") else int(v)
    except (TypeError, ValueError):
        return None


def _multi(ds: Dataset, keyword: str) -> list[str]:
    v = ds.get(keyword)
    if v is None or v == "":
        return []
    return [str(x) for x in v] if isinstance(v, (list, pydicom.multival.MultiValue)) else [str(v)]


class DimsePacs:
    """A DIMSE server (``dicom://CALLED_AET@HOST:PORT``)."""

    def __init__(self, cfg: ServerConfig) -> None:
        self.cfg = cfg
        self.name = cfg.name
        self.warnings = cfg.warnings()
        self.workers = int(pacs_default("retrieve_workers"))

    # ---------------------------------------------------------------- associations
    def _ae(self) -> Any:
        from pynetdicom import AE

        ae = AE(ae_title=self.cfg.calling_aet)
        t = self.cfg.timeout_s
        ae.acse_timeout = t
        ae.dimse_timeout = t
        ae.network_timeout = t
        ae.connection_timeout = t
        ae.maximum_pdu_size = 0  # no limit: fewer, larger PDUs
        return ae

    def _associate(self, ae: Any, handlers: list[tuple[Any, Callable[..., Any]]] | None = None,
                   ext_neg: list[Any] | None = None) -> Any:
        from pynetdicom import evt

        started = time.monotonic()
        try:
            assoc = ae.associate(self.cfg.host, self.cfg.port, ae_title=self.cfg.called_aet,
                                 ext_neg=ext_neg or [],
                                 evt_handlers=[(evt.EVT_CONN_OPEN, _nodelay), *(handlers or [])])
        except OSError as exc:  # e.g. the host name does not resolve (raised before any connection)
            raise PacsError(f"server {self.name}: {_socket_cause(exc)}") from None
        if assoc.is_established:
            return assoc
        raise PacsError(f"server {self.name}: {self._why_not(assoc, time.monotonic() - started)}")

    def _why_not(self, assoc: Any, elapsed: float) -> str:
        if assoc.is_rejected:
            prim = getattr(assoc.acceptor, "primitive", None)
            reason = getattr(prim, "reason_str", "") if prim is not None else ""
            return f"association rejected ({reason or 'no reason given'})".replace(
                "Called AE title not recognised", "called AE title not recognised")
        if getattr(assoc, "_accepted_cx", None) == {} and assoc.rejected_contexts:
            return "association refused: none of the proposed services is accepted"
        if elapsed >= self.cfg.timeout_s * 0.9:  # no connection or no A-ASSOCIATE answer in time
            return f"no answer within {self.cfg.timeout_s:g} s"
        # it failed fast: ask TCP why (refused, unknown host...), within the 15 s a person waits
        cause = _tcp_cause(self.cfg.host, self.cfg.port, min(self.cfg.timeout_s, 3.0))
        return cause or "association aborted by the server (is it a DICOM port?)"

    def _require(self, assoc: Any, abstract_syntax: str, service: str) -> None:
        """The PACS accepted the association but maybe not this service (e.g. no C-GET)."""
        if not any(cx.abstract_syntax == abstract_syntax for cx in assoc.accepted_contexts):
            _release(assoc)
            raise PacsError(f"server {self.name}: does not offer {service}")

    def _lost(self, what: str, started: float) -> PacsError:
        """No status came back: a timeout, or the server closed or aborted the association."""
        if time.monotonic() - started >= self.cfg.timeout_s * 0.9:
            return PacsError(f"server {self.name}: no answer to {what} within {self.cfg.timeout_s:g} s")
        return PacsError(f"server {self.name}: {what} aborted by the server (is our AE title "
                         f"{self.cfg.calling_aet} allowed to do this?)")

    # ---------------------------------------------------------------- C-ECHO
    def echo(self) -> None:
        from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

        ae = self._ae()
        ae.add_requested_context(Verification)
        assoc = self._associate(ae)
        started = time.monotonic()
        try:
            status = _status(assoc.send_c_echo())
        finally:
            _release(assoc)
        if status is None:
            raise self._lost("C-ECHO", started)
        if status != 0:
            raise PacsError(f"server {self.name}: C-ECHO failed (status 0x{status:04X})")

    # ---------------------------------------------------------------- C-FIND
    def _find(self, identifier: Dataset) -> list[Dataset]:
        from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind as FIND  # type: ignore[attr-defined]

        ae = self._ae()
        ae.add_requested_context(FIND)
        assoc = self._associate(ae)
        self._require(assoc, FIND, "C-FIND (Study Root)")
        found: list[Dataset] = []
        started = time.monotonic()
        try:
            for status_ds, ident in assoc.send_c_find(identifier, FIND):
                status = _status(status_ds)
                if status is None:
                    raise self._lost("C-FIND", started)
                if status in _PENDING:
                    if ident is not None:
                        found.append(ident)
                elif status != 0:
                    raise PacsError(f"server {self.name}: C-FIND failed (status 0x{status:04X})")
        finally:
            _release(assoc)
        return found

    def find_studies(self, query: base.StudyQuery) -> list[base.StudyMatch]:
        q = Dataset()
        q.QueryRetrieveLevel = "STUDY"
        q.StudyInstanceUID = ""
        q.PatientID = query.patient_id or ""
        q.PatientName = query.patient_name or ""
        q.StudyDate = query.study_date or ""
        q.ModalitiesInStudy = query.modality or ""
        q.AccessionNumber = query.accession or ""
        q.StudyDescription = ""
        q.NumberOfStudyRelatedSeries = ""
        q.NumberOfStudyRelatedInstances = ""
        out = [base.StudyMatch(study_uid=_str(d, "StudyInstanceUID"), patient_id=_str(d, "PatientID"),
                               patient_name=_str(d, "PatientName"), study_date=_str(d, "StudyDate"),
                               accession=_str(d, "AccessionNumber"), description=_str(d, "StudyDescription"),
                               modalities=_multi(d, "ModalitiesInStudy"),
                               n_series=_int(d, "NumberOfStudyRelatedSeries"),
                               n_instances=_int(d, "NumberOfStudyRelatedInstances"))
               for d in self._find(q)]
        return out[: query.limit] if query.limit else out

    def find_series(self, study_uid: str) -> list[base.SeriesMatch]:
        q = Dataset()
        q.QueryRetrieveLevel = "SERIES"
        q.StudyInstanceUID = check_uid(study_uid, "STUDY_UID")
        q.SeriesInstanceUID = ""
        q.Modality = ""
        q.SeriesDescription = ""
        q.SeriesNumber = ""
        q.NumberOfSeriesRelatedInstances = ""
        found = [base.SeriesMatch(series_uid=_str(d, "SeriesInstanceUID"), modality=_str(d, "Modality"),
                                  description=_str(d, "SeriesDescription"),
                                  n_instances=_int(d, "NumberOfSeriesRelatedInstances"),
                                  number=_int(d, "SeriesNumber"))
                 for d in self._find(q)]
        return sorted(found, key=lambda s: (s.number is None, s.number or 0, s.series_uid))

    def _sop_classes(self, study_uid: str) -> list[str]:
        q = Dataset()
        q.QueryRetrieveLevel = "STUDY"
        q.StudyInstanceUID = study_uid
        q.SOPClassesInStudy = ""
        classes: list[str] = []
        for d in self._find(q):
            classes.extend(_multi(d, "SOPClassesInStudy"))
        return sorted(set(classes)) or [str(u) for u in pacs_default("cget_fallback_sop_classes")]

    # ---------------------------------------------------------------- C-GET
    def retrieve(self, study_uid: str, out: Path, series: list[str] | None = None,
                 progress: base.ProgressFn | None = None, cancel: threading.Event | None = None) -> int:
        study_uid = check_uid(study_uid, "STUDY_UID")
        known = self.find_series(study_uid)
        classes = self._sop_classes(study_uid)
        return base.retrieve_parallel(self.name, known, series, out,
                                      lambda uid, w: self._get_series(study_uid, uid, classes, w), self.workers,
                                      progress, cancel)

    def _get_series(self, study_uid: str, series_uid: str, classes: list[str],
                    writer: InstanceWriter) -> None:
        from pynetdicom import build_role, evt
        from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelGet as GET  # type: ignore[attr-defined]

        writer.check_cancel()
        ae = self._ae()
        ae.add_requested_context(GET)
        for sop, ts in storage_contexts(classes, MAX_CONTEXTS - 1):
            ae.add_requested_context(sop, ts)
        roles = [build_role(sop, scp_role=True) for sop in classes]
        errors: list[BaseException] = []

        def on_store(event: Any) -> int:
            if writer.cancel.is_set():
                return 0xA702
            try:
                meta = DicomBytesIO()
                write_file_meta_info(meta, event.file_meta)
                writer.write(series_uid, str(event.request.AffectedSOPInstanceUID),
                             [PREAMBLE, meta.getvalue(), event.request.DataSet.getvalue()])
            except BaseException as exc:  # reported after the C-GET; the PACS hears "failed"
                errors.append(exc)
                return 0xA700
            return 0x0000

        assoc = self._associate(ae, [(evt.EVT_C_STORE, on_store)], ext_neg=roles)
        self._require(assoc, GET, "C-GET (Study Root)")
        q = Dataset()
        q.QueryRetrieveLevel = "SERIES"
        q.StudyInstanceUID = study_uid
        q.SeriesInstanceUID = series_uid
        final: int | None = None
        failed = 0
        started = time.monotonic()
        try:
            for status_ds, _ident in assoc.send_c_get(q, GET):
                if writer.cancel.is_set():
                    assoc.abort()
                    raise Cancelled("retrieve cancelled")
                final = _status(status_ds)
                if final is None:
                    raise self._lost("C-GET", started)
                started = time.monotonic()  # the timeout runs per answer
                failed = _int(status_ds, "NumberOfFailedSuboperations") or 0
        finally:
            _release(assoc)
        if errors:
            raise errors[0] if isinstance(errors[0], (OSError, WorkstationError)) else PacsError(
                f"server {self.name}: an instance could not be written ({type(errors[0]).__name__})")
        if final not in (0x0000, 0xB000) or failed:
            code = f"0x{final:04X}" if final is not None else "none"
            raise PacsError(f"server {self.name}: C-GET failed (status {code}, {failed} instance(s) "
                            "not sent; is our AE title known to the PACS?)")

    # ---------------------------------------------------------------- C-STORE
    def store(self, files: list[Path], progress: base.ProgressFn | None = None,
              cancel: threading.Event | None = None) -> base.SendResult:
        result = base.SendResult()
        headers: list[tuple[Path, str, str]] = []
        for f in files:
            try:
                ds = pydicom.dcmread(f, stop_before_pixels=True)
                headers.append((f, str(ds.SOPClassUID), str(ds.file_meta.TransferSyntaxUID)))
            except Exception:
                result.failed.append({"file": str(f), "reason": "not a DICOM file"})
        if not headers:
            return result
        ae = self._ae()
        for sop, ts in sorted({(h[1], h[2]) for h in headers})[: MAX_CONTEXTS]:
            ae.add_requested_context(sop, ts)
        assoc = self._associate(ae)
        try:
            return base.store_each([h[0] for h in headers], lambda f: self._store_one(assoc, f), result,
                              progress, cancel)
        finally:
            _release(assoc)

    def _store_one(self, assoc: Any, path: Path) -> str | None:
        started = time.monotonic()
        try:
            status = _status(assoc.send_c_store(path))
        except ValueError:  # no accepted context for its SOP class / transfer syntax
            return "the server accepts no presentation context for this SOP class and transfer syntax"
        if status is None:
            raise self._lost("C-STORE", started)
        if status in _OK_STORE:
            return None
        return f"rejected by the server (status 0x{status:04X})"


def storage_contexts(classes: list[str], room: int) -> Iterator[tuple[str, str]]:
    """(SOP class, transfer syntax) pairs, one presentation context each, at most ``room``; when
    there are too many classes, fewer transfer syntaxes each (the commonest come first)."""
    syntaxes = [str(t) for t in pacs_default("cget_transfer_syntaxes")]
    per_class = max(1, min(len(syntaxes), room // max(1, len(classes))))
    n = 0
    for sop in classes:
        for ts in syntaxes[:per_class]:
            if n >= room:
                return
            n += 1
            yield sop, ts


def _release(assoc: Any) -> None:
    if assoc.is_established:
        assoc.release()


def _tcp_cause(host: str, port: int, timeout: float) -> str | None:
    """Why a TCP connection to host:port fails, or None when it opens."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except TimeoutError:
        return f"no connection within {timeout:g} s"
    except OSError as exc:
        return _socket_cause(exc)


def _socket_cause(exc: OSError) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.gaierror):
        return "host name not found"
    return f"cannot connect ({exc.strerror or type(exc).__name__})"
