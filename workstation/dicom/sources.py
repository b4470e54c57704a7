"""Where DICOM files come from: a folder (recursive), a DICOMDIR, a zip archive or one file.

A :class:`Source` is one file, on disk or a member of a zip archive (read into memory, never
extracted). Its ``label`` is what the user sees: the path, or ``zip://ARCHIVE!MEMBER``.
"""
from __future__ import annotations

import errno
import functools
import io
import logging
import os
import stat
import zipfile
from dataclasses import dataclass
from typing import Any, BinaryIO

from ..errors import DicomError, LimitError
from ..resources import load_json

log = logging.getLogger(__name__)

ZIP_SCHEME = "zip://"
#: Media Storage SOP Class of a DICOMDIR (PS3.10 / PS3.4 Annex F: Media Storage Directory Storage)
DICOMDIR_SOP_CLASS = "1.2.840.10008.1.3.10"


@dataclass(frozen=True)
class Skipped:
    """A file that could not be used, with a one-line reason."""

    file: str
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"file": self.file, "reason": self.reason}


def limit(name: str) -> int:
    """An input limit from ``resources/limits.json`` (``WORKSTATION_LIMIT_<NAME>`` overrides)."""
    env = os.environ.get(f"WORKSTATION_LIMIT_{name.upper()}")
    if env:
        try:
            return int(float(env))
        except ValueError:
            log.warning("WORKSTATION_LIMIT_%s is not a number; the default is used", name.upper())
    return int(load_json("limits.json")[name]["value"])


def max_voxels() -> int:
    """Voxels one series may have: ``max_voxels_per_series``, and at most a quarter of the
    machine's memory in voxels (an int16 volume then fills half of it at most)."""
    cap = limit("max_voxels_per_series")
    try:
        phys = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return cap
    return min(cap, phys // 4) if phys > 0 else cap


def file_kind(mode: int) -> str:
    """What a non-regular directory entry is, in words."""
    for test, word in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISDIR, "a folder"), (stat.S_ISLNK, "a link")):
        if test(mode):
            return word
        continue
    return "not a regular file"


def _stat_reason(path: str, exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "link loop: not read"
    if exc.errno == errno.ENOENT and os.path.islink(path):
        return "broken link: not read"
    return f"cannot be read ({exc.strerror or type(exc).__name__})"


def open_regular(path: str) -> BinaryIO:
    """Open a regular file for reading; anything else (a FIFO, a device such as /dev/zero behind a
    link, a socket, a folder) is refused without blocking (``O_NONBLOCK``, then ``fstat``)."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotRegularFile(f"{path}: {file_kind(st.st_mode)}, not a regular file: not read")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


class NotRegularFile(DicomError, OSError):
    """A path that is no regular file (FIFO, device, socket, folder)."""


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
            with open_regular(self.path) as f:
                return f.read()
        return self.read_head(None)[0]

    def read_head(self, n: int | None) -> tuple[bytes, int]:
        """The first ``n`` bytes (all when None) and the file's size. Zip members are streamed
        (decompressed only as far as asked) and never read past :func:`limit`
        ``max_zip_member_bytes``."""
        if self.path is not None:
            with open_regular(self.path) as f:
                size = os.fstat(f.fileno()).st_size
                return (f.read() if n is None else f.read(n)), size
        cap = limit("max_zip_member_bytes")
        z = _zip(self.archive)  # type: ignore[arg-type]
        info = z.getinfo(self.member)  # type: ignore[arg-type]
        if info.file_size > cap:
            raise LimitError(f"{self.label}: declares {info.file_size} bytes, more than the limit "
                             f"of {cap} (max_zip_member_bytes): not read")
        with z.open(info) as f:  # reads stop at the declared size (zipfile's own bound)
            data = f.read(min(cap, info.file_size) if n is None else min(n, info.file_size))
        return data, info.file_size

    def open(self) -> BinaryIO:
        """A binary file object (the caller closes it); zip members are read into memory (at most
        ``max_zip_member_bytes``)."""
        if self.path is not None:
            return open_regular(self.path)
        return io.BytesIO(self.read_bytes())

    def size(self) -> int:
        if self.path is not None:
            return os.path.getsize(self.path)
        return _zip(self.archive).getinfo(self.member).file_size  # type: ignore[arg-type]


@functools.lru_cache(maxsize=4)
def _open_zip(archive: str, stamp: tuple[int, int]) -> zipfile.ZipFile:
    return zipfile.ZipFile(archive)


def _zip(archive: str) -> zipfile.ZipFile:
    """The archive opened once (its central directory parsed once) for all its members: opening it
    per member made an archive of 200,000 empty members take O(n^2), minutes. Reads from several
    threads are safe (zipfile locks its shared file); a changed archive is opened again."""
    st = os.stat(archive)
    return _open_zip(archive, (st.st_mtime_ns, st.st_size))


def _is_zip(path: str) -> bool:
    if path.lower().endswith(".zip"):
        return True
    try:
        with open_regular(path) as f:
            head = f.read(132)
    except OSError:
        return False
    if head[128:132] == b"DICM":
        return False
    return head[:4] == b"PK\x03\x04" and zipfile.is_zipfile(path)


def _member_problem(info: zipfile.ZipInfo) -> str | None:
    """Why a zip member is not read (declared size or compression ratio), or None."""
    cap = limit("max_zip_member_bytes")
    if info.file_size > cap:
        return f"declares {info.file_size} bytes uncompressed, more than the limit of {cap} (max_zip_member_bytes): not read"
    ratio_cap = limit("max_zip_ratio")
    if info.file_size > limit("max_zip_ratio_min_bytes") and info.file_size > ratio_cap * max(1, info.compress_size):
        ratio = info.file_size // max(1, info.compress_size)
        return f"compression ratio {ratio}:1 above the limit of {ratio_cap}:1 (max_zip_ratio; a suspected zip bomb): not read"
    return None


def zip_sources(archive: str) -> tuple[list[Source], list[Skipped]]:
    """Every file member of a zip archive (nested archives are not opened). The central directory's
    declared sizes are checked first: an archive declaring more than ``max_zip_total_bytes`` or more
    than ``max_files`` members is refused whole; a member that is too large or compressed beyond
    ``max_zip_ratio`` is skipped with its reason. Nothing is decompressed here."""
    try:
        with zipfile.ZipFile(archive) as z:
            infos = [i for i in z.infolist() if not i.is_dir()]
    # RuntimeError: zipfile's refusals of archives it cannot read (multi-disk, unsupported
    # compression or encryption) all derive from RuntimeError
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, RuntimeError) as exc:
        return [], [Skipped(archive, f"unreadable zip archive ({type(exc).__name__})")]
    total, cap_total, cap_n = sum(i.file_size for i in infos), limit("max_zip_total_bytes"), limit("max_files")
    if total > cap_total:
        return [], [Skipped(archive, f"zip archive declares {total} bytes uncompressed, more than the limit "
                                     f"of {cap_total} (max_zip_total_bytes): not read")]
    if len(infos) > cap_n:
        return [], [Skipped(archive, f"zip archive holds {len(infos)} files, more than the limit of {cap_n} "
                                     f"(max_files): not read")]
    sources: list[Source] = []
    skipped: list[Skipped] = []
    for info in sorted(infos, key=lambda i: i.filename):
        if _ignorable(os.path.basename(info.filename)):
            continue
        src = Source(archive=archive, member=info.filename)
        problem = _member_problem(info)
        if problem:
            skipped.append(Skipped(src.label, problem))
        else:
            sources.append(src)
    return sources, skipped


def _ignorable(name: str) -> bool:
    """Index files that are no images and need no mention (a DICOMDIR inside a scanned folder)."""
    return name.upper() == "DICOMDIR"


class _Walk:
    """An iterative folder walk (no recursion: any depth of nesting is safe) with caps on depth and
    file count; links are followed, each folder visited once (a link loop is named, not followed);
    only regular files are listed (FIFOs, devices, sockets are skipped with a reason, never opened)."""

    def __init__(self) -> None:
        self.sources: list[Source] = []
        self.skipped: list[Skipped] = []
        self.max_depth = limit("max_folder_depth")
        self.max_files = limit("max_files")
        self.seen: set[tuple[int, int]] = set()
        self.full = False

    def run(self, folder: str) -> None:
        try:
            st = os.stat(folder)
        except OSError as exc:
            self.skipped.append(Skipped(folder, _stat_reason(folder, exc)))
            return
        self.seen.add((st.st_dev, st.st_ino))
        stack: list[tuple[str, int]] = [(folder, 0)]
        while stack and not self.full:
            here, depth = stack.pop()
            subdirs = self._entries(here, depth)
            stack.extend((d, depth + 1) for d in reversed(subdirs))

    def _entries(self, here: str, depth: int) -> list[str]:
        try:
            with os.scandir(here) as it:
                names = sorted(e.name for e in it)
        except OSError as exc:
            self.skipped.append(Skipped(here, f"folder {_stat_reason(here, exc)}"))
            return []
        subdirs: list[str] = []
        for name in names:
            if _ignorable(name):
                continue
            p = os.path.join(here, name)
            try:
                st = os.stat(p)
            except OSError as exc:
                self.skipped.append(Skipped(p, _stat_reason(p, exc)))
                continue
            if stat.S_ISDIR(st.st_mode):
                self._folder(p, st, depth, subdirs)
            elif stat.S_ISREG(st.st_mode):
                self._file(p)
                if self.full:
                    break
            else:
                self.skipped.append(Skipped(p, f"{file_kind(st.st_mode)}, not a regular file: not read"))
        return subdirs

    def _folder(self, p: str, st: os.stat_result, depth: int, subdirs: list[str]) -> None:
        key = (st.st_dev, st.st_ino)
        if key in self.seen:
            self.skipped.append(Skipped(p, "folder already scanned through another path (a link loop): not read again"))
        elif depth + 1 > self.max_depth:
            self.skipped.append(Skipped(p, f"folders nested more than {self.max_depth} deep (max_folder_depth): not scanned"))
        else:
            self.seen.add(key)
            subdirs.append(p)

    def _file(self, p: str) -> None:
        if len(self.sources) >= self.max_files:
            self.skipped.append(Skipped(os.path.dirname(p), f"more than {self.max_files} files (max_files): "
                                                            "the rest of the folder was not scanned"))
            self.full = True
            return
        if _is_zip(p):
            s, k = zip_sources(p)
            self.sources += s[: max(0, self.max_files - len(self.sources))]
            self.skipped += k
        else:
            self.sources.append(Source(path=p))


def folder_sources(folder: str) -> tuple[list[Source], list[Skipped]]:
    """Every regular file below ``folder`` (iteratively, sorted); zip archives found there are
    opened; non-regular entries, link loops and over-deep folders are skipped with a reason."""
    walk = _Walk()
    walk.run(folder)
    return walk.sources, walk.skipped


def _is_dicomdir(path: str) -> bool:
    if os.path.basename(path).upper() == "DICOMDIR":
        return True
    try:
        from pydicom.filereader import read_file_meta_info

        with open_regular(path) as f:  # a DICOMDIR has File Meta (PS3.10 7.1): read that group only
            if f.read(132)[128:132] != b"DICM":
                return False
        meta = read_file_meta_info(path)
        return str(meta.get("MediaStorageSOPClassUID", "")) == DICOMDIR_SOP_CLASS
    except Exception:
        return False


def _records_loop(ds: Any) -> bool:
    """Whether the DICOMDIR's record offsets (next record, lower-level entity) reach a record twice
    (a loop, or a record shared by two parents): walked iteratively with a visited set."""
    recs = {r.seq_item_tell: r for r in ds.get("DirectoryRecordSequence") or []}
    seen: set[int] = set()
    stack = [ds.get("OffsetOfTheFirstDirectoryRecordOfTheRootDirectoryEntity")]
    while stack:
        off = stack.pop()
        while off:
            if off in seen:
                return True
            seen.add(off)
            rec = recs.get(off)
            if rec is None:
                break
            stack.append(rec.get("OffsetOfReferencedLowerLevelDirectoryEntity"))
            off = rec.get("OffsetOfTheNextDirectoryRecord")
    return False


def dicomdir_sources(path: str) -> tuple[list[Source], list[Skipped]]:
    """The image files a DICOMDIR references; its folder is scanned instead when its records fail."""
    import pydicom
    from pydicom.fileset import FileSet

    skipped: list[Skipped] = []
    try:
        ds = pydicom.dcmread(path)
        if _records_loop(ds):  # pydicom would follow the loop for ever
            raise DicomError("DICOMDIR records form a loop")
        fs = FileSet(ds)
        paths = [os.fspath(inst.path) for inst in fs]
    except Exception as exc:  # broken records: fall back to every file next to it
        log.info("DICOMDIR %s unreadable (%s); scanning its folder", path, type(exc).__name__)
        src, skp = folder_sources(os.path.dirname(os.path.abspath(path)))
        note = Skipped(path, f"DICOMDIR records unreadable ({type(exc).__name__}); scanned its folder instead")
        return src, [note] + skp
    sources = []
    root = os.path.realpath(os.path.dirname(os.path.abspath(path)))
    for p in paths[: limit("max_files")]:
        if os.path.commonpath([root, os.path.realpath(p)]) != root:
            skipped.append(Skipped(p, "referenced by the DICOMDIR but outside its folder: not read"))
        elif os.path.isfile(p):
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
    try:
        st = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            raise DicomError(f"{path}: broken link") from None
        raise DicomError(f"{path}: no such file or folder") from None
    except OSError as exc:
        raise DicomError(f"{path}: {_stat_reason(path, exc)}") from None
    if stat.S_ISDIR(st.st_mode):
        return folder_sources(path)
    if not stat.S_ISREG(st.st_mode):
        raise DicomError(f"{path}: {file_kind(st.st_mode)}, not a regular file: not read")
    if not os.access(path, os.R_OK):
        raise DicomError(f"{path}: not readable (permission denied)")
    if _is_zip(path):
        return zip_sources(path)
    if _is_dicomdir(path):
        return dicomdir_sources(path)
    return [Source(path=path)], []
