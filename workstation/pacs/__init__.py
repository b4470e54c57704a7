"""PACS access: find, retrieve and send studies over DICOMweb or DIMSE, and a local cache.

``connect(SERVER, aet=None)`` resolves SERVER (URL or a name in the servers file, see
:mod:`.config`) and returns a :class:`~.base.PacsClient`: :class:`~.dicomweb.DicomWebPacs` or
:class:`~.dimse.DimsePacs`. Both raise :class:`~.base.PacsError` with one line that names the server
and the cause. :mod:`.cache` keeps retrieved studies for the app.
"""
from __future__ import annotations

from .base import Cancelled, PacsClient, PacsError, SendResult, SeriesMatch, StudyMatch, StudyQuery, collect_files
from .config import ServerConfig, resolve, server_names

__all__ = ["Cancelled", "PacsClient", "PacsError", "SendResult", "SeriesMatch", "ServerConfig",
           "StudyMatch", "StudyQuery", "collect_files", "connect", "client_for", "server_names"]


def client_for(cfg: ServerConfig) -> PacsClient:
    if cfg.kind == "dimse":
        from .dimse import DimsePacs

        return DimsePacs(cfg)
    from .dicomweb import DicomWebPacs

    return DicomWebPacs(cfg)


def connect(server: str, aet: str | None = None) -> PacsClient:
    """The client for SERVER (a dicom:// or http(s):// address, or a name in the servers file)."""
    return client_for(resolve(server, aet))
