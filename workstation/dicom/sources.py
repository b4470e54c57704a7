"""Where DICOM files come from: a folder (recursive), a DICOMDIR, a zip archive or one file.

A :class:`Source` is one file, on disk or a member of a zip archive (read into memory, never
extracted). Its ``label`` is what the user sees: the path, or ``zip://ARCHIVE!MEMBER``.
"""
from __future__ import annotations

import io
import logging
import os
import zipfile
from dataclasses import dataclass
from typing import BinaryIO

from ..errors import DicomError

log = logging.getLogger(__name__)

ZIP_SCHEME = "zip://"
#: Media Storage SOP Class of a DICOMDIR (PS3.10 / PS3.4 Annex F: Media Storage Directory Storage)
DICOMDIR_SOP_CLASS = "1.2.840.10008.1.3.10"


@dataclass(frozen=True)
class Skipped:
    """A file that could not be used, with a one-line reason."""

    file: str
    reason: str

    def to_json(self) -> dict:
        return {"file": self.file, "reason": self.reason}


@dataclass(frozen=True)
class Source:
    """One file: ``path`` on disk, or ``member`` of the zip ``archive``."""

    path: str | None = None
    archive: str | None = None
    member: str | None = None

    @property
    def label(self) -> str:
        if self.archive is not None:
            return f"{ZIP_SCHEME}{self.archive}!{self.member}"
        return str(self.path)

    @property
    def on_disk(self) -> bool:
        return self.path is not None

    def read_bytes(self) -> bytes:
        if self.path is not None:
            with open(self.path, "rb") as f:
                return f.read()
        with zipfile.ZipFile(self.archive) as z:  # type: ignore[arg-type]
            return z.read(self.member)  # type: ignore[arg-type]

    def open(self) -> BinaryIO:
        """A binary file object (the caller closes it); zip members are read into memory."""
        if self.path is not None:
            return open(self.path, "rb")
        return io.BytesIO(self.read_bytes())

    def size(self) -> int:
        if self.path is not None:
            return os.path.getsize(self.path)
        with zipfile.ZipFile(self.archive) as z:  # type: ignore[arg-type]
            return z.getinfo(self.member).file_size  # type: ignore[arg-type]


def _is_zip(path: str) -> bool:
    if path.lower().endswith(".zip"):
        return True
    try:
        with open(path, "rb") as f:
            head = f.read(132)
    except OSError:
        return False
    if head[128:132] == b"DICM":
        return False
    return head[:4] == b"PK\x03\x04" and zipfile.is_zipfile(path)


def zip_sources(archive: str) -> tuple[list[Source], list[Skipped]]:
    """Every file member of a zip archive (nested archives are not opened)."""
    try:
        with zipfile.ZipFile(archive) as z:
            names = [i.filename for i in z.infolist() if not i.is_dir()]
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        return [], [Skipped(archive, f"unreadable zip archive ({exc})")]
    names = [n for n in sorted(names) if not _ignorable(os.path.basename(n))]
    return [Source(archive=archive, member=n) for n in names], []


def _ignorable(name: str) -> bool:
    """Index files that are no images and need no mention (a DICOMDIR inside a scanned folder)."""
    return name.upper() == "DICOMDIR"


def folder_sources(folder: str) -> tuple[list[Source], list[Skipped]]:
    """Every file below ``folder`` (recursively, sorted); zip archives found there are opened."""
    sources: list[Source] = []
    skipped: list[Skipped] = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            if _ignorable(name):
                continue
            p = os.path.join(root, name)
            if _is_zip(p):
                s, k = zip_sources(p)
                sources += s
                skipped += k
            else:
                sources.append(Source(path=p))
    return sources, skipped


def _is_dicomdir(path: str) -> bool:
    if os.path.basename(path).upper() == "DICOMDIR":
        return True
    try:
        import pydicom

        ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["SOPClassUID"], force=True)
        meta = getattr(ds, "file_meta", None)
        return meta is not None and str(meta.get("MediaStorageSOPClassUID", "")) == DICOMDIR_SOP_CLASS
    except Exception:
        return False


def dicomdir_sources(path: str) -> tuple[list[Source], list[Skipped]]:
    """The image files a DICOMDIR references; its folder is scanned instead when its records fail."""
    import pydicom
    from pydicom.fileset import FileSet

    skipped: list[Skipped] = []
    try:
        fs = FileSet(pydicom.dcmread(path))
        paths = [os.fspath(inst.path) for inst in fs]
    except Exception as exc:  # broken records: fall back to every file next to it
        log.info("DICOMDIR %s unreadable (%s); scanning its folder", path, type(exc).__name__)
        src, skp = folder_sources(os.path.dirname(os.path.abspath(path)))
        note = Skipped(path, f"DICOMDIR records unreadable ({type(exc).__name__}); scanned its folder instead")
        return src, [note] + skp
    sources = []
    for p in paths:
        if os.path.isfile(p):
            sources.append(Source(path=p))
        else:
            skipped.append(Skipped(p, "referenced by the DICOMDIR but missing"))
    if not sources:
        src, skp = folder_sources(os.path.dirname(os.path.abspath(path)))
        return src, skipped + skp
    return sources, skipped


def list_sources(path: str) -> tuple[list[Source], list[Skipped]]:
    """The files behind ``path`` (folder, DICOMDIR, zip or single file)."""
    path = os.fspath(path)
    if os.path.isdir(path):
        return folder_sources(path)
    if not os.path.exists(path):
        raise DicomError(f"{path}: no such file or folder")
    if not os.access(path, os.R_OK):
        raise DicomError(f"{path}: not readable (permission denied)")
    if _is_zip(path):
        return zip_sources(path)
    if _is_dicomdir(path):
        return dicomdir_sources(path)
    return [Source(path=path)], []
