"""DICOMweb (QIDO-RS, WADO-RS, STOW-RS) through ``dicomweb-client``.

Details that matter with real servers (Orthanc among them):

* query values go out literally (``*``, ``,``, ``^`` are not percent-encoded: Orthanc's QIDO-RS does
  not decode them), and ``includefield=00081030`` asks for the study description;
* WADO-RS asks for ``transfer-syntax=*`` so the server sends each instance as stored instead of
  transcoding it;
* every request has a timeout and is tried once (dicomweb-client would otherwise retry with back-off
  well past the 15 s a person waits for an answer);
* TLS certificates are verified unless the servers file says otherwise.
"""
from __future__ import annotations

import io
import logging
import os
import ssl
import threading
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pydicom
import requests
import urllib3
import urllib3.connection
from requests.adapters import HTTPAdapter

from . import base
from .base import Cancelled, InstanceWriter, PacsError, check_uid
from .config import ServerConfig, check_ca_bundle, pacs_default

log = logging.getLogger(__name__)

ANY_TRANSFER_SYNTAX = (("application/dicom", "*"),)
STUDY_FIELDS = ["00081030", "00080061", "00201206", "00201208", "00080050"]
SERIES_FIELDS = ["0008103E", "00080060", "00201209", "00200011"]
# characters QIDO-RS matching uses that some servers do not percent-decode
_LITERAL = {"%2A": "*", "%2C": ",", "%5E": "^", "%2a": "*", "%2c": ",", "%5e": "^"}


class _LiteralQuery:
    """Puts the QIDO-RS matching characters back into the request line: urllib3 percent-encodes
    ``^`` (not a URI character) after every hook requests offers, and Orthanc does not decode it."""

    def putrequest(self, method: str, url: str, *args: Any, **kwargs: Any) -> None:
        if "?" in url:
            path, query = url.split("?", 1)
            for enc, lit in _LITERAL.items():
                query = query.replace(enc, lit)
            url = f"{path}?{query}"
        super().putrequest(method, url, *args, **kwargs)  # type: ignore[misc]


class _HTTPConnection(_LiteralQuery, urllib3.connection.HTTPConnection):
    pass


class _HTTPSConnection(_LiteralQuery, urllib3.connection.HTTPSConnection):
    pass


class _HTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


class _Adapter(HTTPAdapter):
    """Every request with a timeout, tried once, QIDO matching characters left literal."""

    def __init__(self, timeout: float, verify: bool | str | None = None) -> None:
        self.timeout = timeout
        # the servers file's choice wins over REQUESTS_CA_BUNDLE (which requests lets override
        # session.verify); None: requests' default (certifi, or that environment variable)
        self.verify = verify
        super().__init__(max_retries=0, pool_maxsize=8)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        if self.verify is not None:
            kwargs["verify"] = self.verify
        return super().send(request, *args, **kwargs)


def _first(doc: Mapping[str, Any], tag: str) -> Any:
    vals = doc.get(tag, {}).get("Value") or []
    return vals[0] if vals else None


def _text(doc: Mapping[str, Any], tag: str) -> str:
    v = _first(doc, tag)
    if isinstance(v, dict):  # PN: {"Alphabetic": "..."}
        return str(v.get("Alphabetic", ""))
    return "" if v is None else str(v)


def _int(doc: Mapping[str, Any], tag: str) -> int | None:
    v = _first(doc, tag)
    try:
        return None if v is None else int(v)
    except (TypeError, ValueError):
        return None


def study_from_json(doc: Mapping[str, Any]) -> base.StudyMatch:
    return base.StudyMatch(
        study_uid=_text(doc, "0020000D"), patient_id=_text(doc, "00100020"),
        patient_name=_text(doc, "00100010"), study_date=_text(doc, "00080020"),
        accession=_text(doc, "00080050"), description=_text(doc, "00081030"),
        modalities=[str(m) for m in doc.get("00080061", {}).get("Value") or []],
        n_series=_int(doc, "00201206"), n_instances=_int(doc, "00201208"))


def series_from_json(doc: Mapping[str, Any]) -> base.SeriesMatch:
    return base.SeriesMatch(series_uid=_text(doc, "0020000E"), modality=_text(doc, "00080060"),
                            description=_text(doc, "0008103E"), n_instances=_int(doc, "00201209"),
                            number=_int(doc, "00200011"))


class DicomWebPacs:
    """A DICOMweb server; every failure to reach it or to understand it is a :class:`PacsError`."""

    def __init__(self, cfg: ServerConfig) -> None:
        from dicomweb_client.api import DICOMwebClient

        self.cfg = cfg
        self.name = cfg.name
        self.workers = int(pacs_default("retrieve_workers"))
        session = requests.Session()
        adapter = _Adapter(cfg.timeout_s, cfg.ca_bundle or (None if cfg.verify_tls else False))
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.verify = cfg.ca_bundle or cfg.verify_tls
        self.warnings = cfg.warnings()
        if cfg.url.startswith("https://"):
            self._check_tls_setup()
        secret = cfg.password()
        headers: dict[str, str] = {}
        if cfg.token_env and secret:
            headers["Authorization"] = f"Bearer {secret}"
        elif secret is not None:
            session.auth = (cfg.username or "", secret)
        self.client = DICOMwebClient(cfg.url, session=session, headers=headers, timeout=cfg.timeout_s)
        self.client.set_http_retry_params(retry=False)

    def _check_tls_setup(self) -> None:
        """A CA bundle named by the environment must be usable (requests would fail on the first
        request with an OSError that names neither the server nor the cause); with verification
        off, urllib3's per-request warning is replaced by our one line (``self.warnings``)."""
        if not self.cfg.verify_tls:
            warnings.filterwarnings("ignore", category=urllib3.exceptions.InsecureRequestWarning)
            return
        if self.cfg.ca_bundle:
            return
        for var in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
            value = os.environ.get(var)
            if value:
                if not os.path.isdir(value):
                    check_ca_bundle(f"server {self.name}: {var}", value)
                return

    # ---------------------------------------------------------------- errors
    def _fail(self, exc: BaseException) -> PacsError:
        return PacsError(f"server {self.name}: {describe_http_error(exc, self.cfg.timeout_s)}")

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (requests.RequestException, ValueError, KeyError, TypeError) as exc:
            raise self._fail(exc) from None

    # ---------------------------------------------------------------- the interface
    def echo(self) -> None:
        found = self._call(self.client.search_for_studies, limit=1)
        if not isinstance(found, list):
            raise PacsError(f"server {self.name}: unexpected answer to a QIDO-RS query")

    def find_studies(self, query: base.StudyQuery) -> list[base.StudyMatch]:
        filters = {k: v for k, v in {
            "PatientID": query.patient_id, "PatientName": query.patient_name,
            "StudyDate": query.study_date, "ModalitiesInStudy": query.modality,
            "AccessionNumber": query.accession}.items() if v}
        docs = self._call(self.client.search_for_studies, search_filters=filters, fields=STUDY_FIELDS,
                          limit=query.limit)
        matches = [study_from_json(d) for d in self._json_list(docs)]
        return matches[: query.limit] if query.limit else matches

    def find_series(self, study_uid: str) -> list[base.SeriesMatch]:
        docs = self._call(self.client.search_for_series, check_uid(study_uid, "STUDY_UID"),
                          fields=SERIES_FIELDS)
        found = [series_from_json(d) for d in self._json_list(docs)]
        return sorted(found, key=lambda s: (s.number is None, s.number or 0, s.series_uid))

    def _json_list(self, docs: Any) -> list[Mapping[str, Any]]:
        if not isinstance(docs, list) or not all(isinstance(d, dict) for d in docs):
            raise PacsError(f"server {self.name}: unexpected answer to a QIDO-RS query")
        return docs

    def retrieve(self, study_uid: str, out: Path, series: list[str] | None = None,
                 progress: base.ProgressFn | None = None, cancel: threading.Event | None = None) -> int:
        study_uid = check_uid(study_uid, "STUDY_UID")
        return base.retrieve_parallel(self.name, self.find_series(study_uid), series, out,
                                      lambda uid, w: self._retrieve_series(study_uid, uid, w), self.workers,
                                      progress, cancel)

    def _retrieve_series(self, study_uid: str, series_uid: str, writer: InstanceWriter) -> None:
        writer.check_cancel()
        try:
            for ds in self.client.iter_series(study_uid, series_uid, media_types=ANY_TRANSFER_SYNTAX):
                writer.write(series_uid, str(ds.SOPInstanceUID), [_encode(ds)])
        except requests.RequestException as exc:  # an OSError too: before the writer's OSError
            raise self._fail(exc) from None
        except (Cancelled, PacsError, OSError):
            raise
        except Exception as exc:  # multipart decoding, pydicom
            raise self._fail(exc) from None

    def store(self, files: list[Path], progress: base.ProgressFn | None = None,
              cancel: threading.Event | None = None) -> base.SendResult:
        return base.store_each(files, self._store_one, base.SendResult(), progress, cancel)

    def _store_one(self, path: Path) -> str | None:
        try:
            ds = pydicom.dcmread(path)
        except Exception:
            return "not a DICOM file"
        try:
            answer = self.client.store_instances([ds])
        except requests.HTTPError as exc:
            code = exc.response.status_code if exc.response is not None else 0
            if code in (401, 403, 404, 407) or code >= 500:
                raise self._fail(exc) from None
            return f"rejected by the server (HTTP {code})"
        except requests.RequestException as exc:
            raise self._fail(exc) from None
        except Exception as exc:
            return f"cannot be encoded ({type(exc).__name__})"
        failed = getattr(answer, "FailedSOPSequence", None)
        if failed:
            reason = getattr(failed[0], "FailureReason", None)
            return f"rejected by the server (failure reason {reason})" if reason is not None else \
                "rejected by the server"
        return None


def _encode(ds: pydicom.Dataset) -> bytes:
    buf = io.BytesIO()
    pydicom.dcmwrite(buf, ds, enforce_file_format=True)
    return buf.getvalue()


def describe_http_error(exc: BaseException, timeout_s: float) -> str:
    """One line for a failed HTTP exchange (never the URL's query, never credentials)."""
    if isinstance(exc, requests.exceptions.SSLError):
        return describe_tls_error(exc)
    if isinstance(exc, (requests.exceptions.ConnectTimeout,)):
        return f"no connection within {timeout_s:g} s"
    if isinstance(exc, (requests.exceptions.ReadTimeout, requests.exceptions.Timeout)):
        return f"no answer within {timeout_s:g} s"
    if isinstance(exc, requests.exceptions.ConnectionError):
        text = str(exc)
        if "refused" in text.lower():
            return "connection refused"
        if "Name or service not known" in text or "resolve" in text.lower():
            return "host name not found"
        if "RemoteDisconnected" in text or "aborted" in text.lower() or "reset" in text.lower():
            return "connection closed by the server"
        return "cannot connect"
    if isinstance(exc, requests.HTTPError):
        code = exc.response.status_code if exc.response is not None else 0
        meaning = {401: "authentication required or refused", 403: "access forbidden",
                   404: "not found (check the DICOMweb root)", 406: "no acceptable answer format",
                   503: "service unavailable"}.get(code, "request failed")
        return f"HTTP {code}: {meaning}"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "answer cut off (the connection broke during the transfer)"
    if isinstance(exc, requests.RequestException):
        return f"request failed ({type(exc).__name__})"
    return f"unexpected answer ({type(exc).__name__})"


#: OpenSSL verify codes meaning "not issued by an authority we trust" (x509_vfy.h)
_UNTRUSTED = {18, 19, 20, 21}
_HOST_MISMATCH = {62, 64}


def _ssl_cause(exc: BaseException) -> ssl.SSLError | None:
    """The ssl module's error inside requests' and urllib3's wrappers, if any."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        e = todo.pop(0)
        if id(e) in seen or len(seen) > 16:
            continue
        seen.add(id(e))
        if isinstance(e, ssl.SSLError):
            return e
        more = [*e.args, getattr(e, "reason", None), e.__cause__, e.__context__]
        todo.extend(m for m in more if isinstance(m, BaseException))
    return None


def describe_tls_error(exc: BaseException) -> str:
    """Why TLS failed, in words a person can act on: the certificate (untrusted, expired, for
    another host) or the handshake (not a TLS port, closed, no common protocol)."""
    cause = _ssl_cause(exc)
    if isinstance(cause, ssl.SSLCertVerificationError):
        code = cause.verify_code
        what = str(cause.verify_message or "rejected").strip().rstrip(".")[:90]
        if code in _UNTRUSTED:
            return (f"TLS certificate verification failed ({what}): the server's certificate is not "
                    "from a trusted authority; name that authority's certificate in ca_bundle")
        if code in _HOST_MISMATCH:
            return "TLS certificate verification failed (the certificate is not valid for this host name)"
        return f"TLS certificate verification failed ({what})"
    reason = str(getattr(cause, "reason", "") or "").upper()
    text = str(cause or exc).lower()
    if "WRONG_VERSION_NUMBER" in reason or "wrong version number" in text:
        return "TLS handshake failed (the port does not speak TLS: try http://)"
    if isinstance(cause, ssl.SSLEOFError) or "eof" in text:
        return "TLS handshake failed (connection closed by the server)"
    if "ALERT" in reason or "alert" in text:
        return "TLS handshake failed (the server refused it: no common protocol or cipher, or it wants a client certificate)"
    return "TLS handshake failed"
