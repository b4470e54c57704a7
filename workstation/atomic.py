"""Atomic file writes: nothing half-written ever appears under the final name.

Every file the workstation writes for a person (exports, autosaved sessions) goes through here:
the bytes go to a temporary file in the *same directory* (so the final rename never crosses a file
system), are flushed and ``fsync``-ed, the file is renamed over the final name with
:func:`os.replace` (atomic on POSIX and Windows), and the directory is ``fsync``-ed so that the
rename itself survives a power cut. A crash at any point leaves either the old file or the new one,
never a mixture; a leftover temporary file is recognisable by :func:`is_temp_name` and is never
mistaken for data.

Permissions (POSIX; nothing is changed on Windows, where files inherit the folder's ACL): a
*private* mode -- one without group or other bits, :data:`PRIVATE_FILE` ``0o600`` -- is applied
exactly, whatever the process umask (a umask of 0 would otherwise leave nothing to tighten, and an
odd one such as 0o277 would leave the owner unable to write); any other mode is the ordinary
"before the umask" request. Patient data (autosaved reads, identified exports) is written private;
folders made for it are :data:`PRIVATE_DIR` ``0o700``. See docs/cli.md, "File permissions".
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import re
import secrets
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from .errors import WorkstationError

log = logging.getLogger(__name__)

#: temporary files are ``.<final name>.<random>.tmp`` beside the final file
TEMP_SUFFIX = ".tmp"
#: owner read/write only: files holding patient data
PRIVATE_FILE = 0o600
#: owner only: folders holding patient data
PRIVATE_DIR = 0o700
#: an ordinary file (the umask decides what group and others get)
DEFAULT_FILE = 0o644


def is_private(mode: int) -> bool:
    """True for a mode that gives group and others nothing (applied exactly, umask or not)."""
    return not mode & 0o077


#: what chmod says on a file system that keeps no permissions (a FAT/exFAT USB stick, some CIFS
#: mounts): the file is still written -- it was created with the private mode under the umask, so
#: it is at most as open as the mount makes every file -- rather than the reader's export lost
_NO_PERMISSIONS = frozenset({errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS})
_told_no_permissions: set[int] = set()


def set_private(fd: int, mode: int = PRIVATE_FILE) -> None:
    """``mode`` (owner-only) set exactly on the open file ``fd``, which this process created
    (POSIX; nothing on Windows). A file system without permissions is logged once per device, not
    refused; any other failure raises."""
    if not hasattr(os, "fchmod"):
        return
    try:
        os.fchmod(fd, mode)
    except OSError as exc:
        if exc.errno not in _NO_PERMISSIONS:
            raise
        dev = os.fstat(fd).st_dev
        if dev not in _told_no_permissions:
            _told_no_permissions.add(dev)
            log.warning("a file system here keeps no permissions (chmod refused): patient data written "
                        "to it is as readable as the mount makes every file")


def _exact_mode(fd: int, mode: int) -> None:
    """A private ``mode`` set exactly on the open file ``fd`` (POSIX); other modes are left to
    the umask."""
    if is_private(mode):
        set_private(fd, mode)


def _create_new(path: Path, mode: int) -> int:
    """A new file ``path`` (``O_EXCL``) opened for writing with ``mode`` (a private one exact); if
    the mode cannot be set the file is closed and removed."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        _exact_mode(fd, mode)
    except BaseException:
        os.close(fd)  # the caller's fdopen owns (and closes) it only once it is reached
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise
    return fd


def _mode_kw(mode: int, default: int) -> dict[str, int]:
    """``{"mode": mode}`` unless it is the writer's default: the low-level writers are called in
    their plain ``(path, data)`` form for the default (the form wrappers and test doubles know)."""
    return {} if mode == default else {"mode": mode}


def make_private_dir(path: str | os.PathLike[str]) -> Path:
    """Create ``path`` and any missing parents owner-only (``0o700`` exactly, whatever the
    umask); an existing folder is left as it is (the caller chose it). POSIX; on Windows the
    folders are created with the defaults. Returns the path."""
    p = Path(path)
    missing: list[Path] = []
    q = p
    while not q.exists() and q != q.parent:
        missing.append(q)
        q = q.parent
    for d in reversed(missing):
        try:
            os.mkdir(d, PRIVATE_DIR)
        except FileExistsError:  # made by someone else meanwhile: theirs, left alone
            continue
        if os.name == "posix":
            os.chmod(d, PRIVATE_DIR)
    return p


def temp_name_for(path: Path) -> Path:
    """A fresh temporary path in the same directory as ``path``."""
    return path.with_name(f".{path.name}.{secrets.token_hex(6)}{TEMP_SUFFIX}")


def is_temp_name(name: str | os.PathLike[str]) -> bool:
    """True for a temporary file left by an interrupted atomic write."""
    n = Path(name).name
    return n.startswith(".") and n.endswith(TEMP_SUFFIX)


def fsync_dir(directory: str | os.PathLike[str]) -> None:
    """Make a rename in ``directory`` durable (no-op where directories cannot be opened)."""
    try:
        fd = os.open(os.fspath(directory), os.O_RDONLY)
    except OSError:  # e.g. Windows
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_temp(path: Path, data: bytes, *, mode: int = DEFAULT_FILE) -> Path:
    tmp = temp_name_for(path)
    fd = _create_new(tmp, mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return tmp


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, durable: bool = True,
                       mode: int = DEFAULT_FILE) -> Path:
    """Write ``data`` to ``path`` atomically; returns the final path.

    ``durable=False`` skips the directory fsync (the file's own data is still fsync-ed).
    ``mode``: the new file's permissions -- :data:`PRIVATE_FILE` for patient data (exact,
    whatever the umask); a mode with group/other bits is subject to the umask.
    """
    p = Path(path)
    try:
        tmp = _write_temp(p, bytes(data), **_mode_kw(mode, DEFAULT_FILE))
        try:
            os.replace(tmp, p)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError as exc:
        raise WorkstationError(f"{p}: cannot write ({exc.strerror or exc})") from None
    if durable:
        fsync_dir(p.parent)
    return p


def atomic_write_text(path: str | os.PathLike[str], text: str, *, encoding: str = "utf-8",
                      durable: bool = True, mode: int = DEFAULT_FILE) -> Path:
    """Write ``text`` to ``path`` atomically (UTF-8, newlines as given); ``mode`` as for
    :func:`atomic_write_bytes`."""
    return atomic_write_bytes(path, text.encode(encoding), durable=durable, mode=mode)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "wb", *,
                perms: int = DEFAULT_FILE) -> Iterator[IO[Any]]:
    """``with atomic_open(p, "w") as fh: ...`` -- the file appears under ``p`` only if the block
    finishes without an exception (then flushed, fsync-ed and renamed); otherwise ``p`` is
    untouched and the temporary file removed. ``perms`` as ``mode`` of :func:`atomic_write_bytes`."""
    if mode not in ("w", "wb"):
        raise ValueError("atomic_open: mode must be 'w' or 'wb'")
    p = Path(path)
    tmp = temp_name_for(p)
    fd = _create_new(tmp, perms)
    fh: IO[Any] = os.fdopen(fd, "wb") if mode == "wb" else os.fdopen(fd, "w", encoding="utf-8")
    try:
        yield fh
        fh.flush()
        os.fsync(fh.fileno())
        fh.close()
        os.replace(tmp, p)
    except BaseException:
        fh.close()
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(p.parent)


def atomic_write_many(files: Mapping[str | os.PathLike[str], bytes], *,
                      mode: int = DEFAULT_FILE) -> list[Path]:
    """Write several files so that each is whole: every temporary file is written and fsync-ed
    first, and only then are they renamed into place one after another. A failure while writing
    leaves every previous file as it was; the renames themselves cannot half-write a file.
    ``mode`` as for :func:`atomic_write_bytes`."""
    items = [(Path(p), bytes(b)) for p, b in files.items()]
    temps: list[tuple[Path, Path]] = []
    try:
        for p, data in items:
            temps.append((_write_temp(p, data, **_mode_kw(mode, DEFAULT_FILE)), p))
        for tmp, p in temps:
            os.replace(tmp, p)
    except OSError as exc:
        for tmp, _ in temps:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise WorkstationError(f"{getattr(exc, 'filename', None) or 'export'}: cannot write "
                               f"({exc.strerror or exc})") from None
    except BaseException:
        for tmp, _ in temps:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise
    for d in {p.parent for p, _ in items}:
        fsync_dir(d)
    return [p for p, _ in items]


# ---------------------------------------------------------------------------------- file sets
#
# An export is a *set* of files that belong together (findings.json, report.txt, the SR, the SEG).
# :func:`commit_set` makes the set appear as a whole:
#
# 1. every file is written and fsync-ed into a staging folder ``.rp-set-<random>.tmp`` inside the
#    target folder (same file system, so the later renames are atomic), the manifest last;
# 2. the staging folder is renamed to ``.rp-set-<random>.commit`` -- one atomic rename that is the
#    commit point: from here on the set is rolled *forward*;
# 3. each file is renamed over its final name, then ``manifest.json`` (names, sizes, sha256, the
#    study key, the export time), then files of the previous set that the new one no longer has
#    are removed and the commit folder is deleted.
#
# A kill before step 2 leaves the previous set and a ``.tmp`` folder; a kill in step 3 leaves a
# ``.commit`` folder. :func:`recover_set` (run by every export into the folder and by
# :func:`read_set`) deletes the first and finishes the second, so the folder then holds exactly
# the previous complete set or the new one, and no temporary file. A reader trusts only files
# listed in a manifest whose sizes and digests match (:func:`read_set`). Exports into one folder are
# serialised with an advisory lock on the folder itself (released by the kernel on a kill).

#: the file that commits a set (written last)
MANIFEST = "manifest.json"
MANIFEST_SCHEMA = "rp-export-set/1"
SET_PREFIX = ".rp-set-"
_STAGE_SUFFIX, _COMMIT_SUFFIX = ".tmp", ".commit"
_SUPERSEDED = "superseded.json"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_OUR_TEMP = re.compile(r"^\..+\.[0-9a-f]{12}\.tmp$")  # temp_name_for's pattern


class SetConflict(WorkstationError):
    """The folder holds another owner's set (another study's export); ``force`` replaces it."""


class SetError(WorkstationError):
    """A folder's set cannot be trusted (no manifest, a file missing or changed)."""


def is_set_temp(name: str | os.PathLike[str]) -> bool:
    """True for a staging or commit folder (or a temporary file) of an interrupted set write."""
    n = Path(name).name
    return n.startswith(SET_PREFIX) or is_temp_name(n)


@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """An exclusive advisory lock on ``folder`` (flock on the folder's descriptor, POSIX only)."""
    try:
        import fcntl
    except ImportError:  # Windows: exports into one folder are not serialised
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        # a file system without locks (some network mounts): go on unserialised
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _load_manifest(path: Path) -> dict[str, Any] | None:
    """The manifest at ``path`` if it is well-formed, else None (never raises on content)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("schema") != MANIFEST_SCHEMA or not isinstance(doc.get("files"), list):
        return None
    files = doc["files"]
    if not all(isinstance(f, dict) and isinstance(f.get("name"), str) and _NAME_RE.match(f["name"])
               and isinstance(f.get("sha256"), str) and isinstance(f.get("size"), int) for f in files):
        return None
    return doc


def read_manifest(folder: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The folder's committed manifest (well-formed), or None when it has none."""
    return _load_manifest(Path(folder) / MANIFEST)


def _rmtree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def _roll_forward(commit: Path, folder: Path) -> None:
    """Finish a committed set: move its files, then its manifest, into ``folder``."""
    manifest = _load_manifest(commit / MANIFEST)
    names = [f["name"] for f in manifest["files"]] if manifest else []
    for name in names:
        if (commit / name).exists():
            os.replace(commit / name, folder / name)
    if (commit / MANIFEST).exists():
        os.replace(commit / MANIFEST, folder / MANIFEST)
    fsync_dir(folder)
    try:
        superseded = json.loads((commit / _SUPERSEDED).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        superseded = []
    current = read_manifest(folder)
    keep = {f["name"] for f in current["files"]} if current else set(names)
    for name in superseded if isinstance(superseded, list) else []:
        if isinstance(name, str) and _NAME_RE.match(name) and name not in keep and name != MANIFEST:
            with contextlib.suppress(OSError):
                os.unlink(folder / name)
    _rmtree(commit)
    fsync_dir(folder)


def recover_set(folder: str | os.PathLike[str]) -> None:
    """Clean up after an interrupted set write in ``folder``: staging folders are deleted (the
    previous set is intact), commit folders are finished. Idempotent; a kill during it is
    recovered by the next call."""
    f = Path(folder)
    if not f.is_dir():
        return
    with _folder_lock(f):
        _recover_locked(f)


def _recover_locked(folder: Path) -> None:
    entries = sorted(folder.iterdir(), key=lambda p: p.name)
    for p in entries:
        if p.name.startswith(SET_PREFIX) and p.name.endswith(_COMMIT_SUFFIX) and p.is_dir() \
                and not p.is_symlink():
            _roll_forward(p, folder)
    for p in entries:
        if not p.exists():
            continue
        if p.name.startswith(SET_PREFIX) and p.is_dir() and not p.is_symlink():
            _rmtree(p)
        elif _OUR_TEMP.match(p.name) and p.is_file() and not p.is_symlink():
            with contextlib.suppress(OSError):  # left by atomic_write_bytes (never another tool's)
                p.unlink()


def commit_set(folder: str | os.PathLike[str], files: Mapping[str, bytes], *, key: str,
               key_field: str = "key", meta: Mapping[str, Any] | None = None, force: bool = False,
               owner_of: Callable[[Path], str | None] | None = None,
               conflict_message: str = "holds another owner's files",
               private: bool = True) -> dict[str, Path]:
    """Write ``files`` (name -> bytes) into ``folder`` as one set committed by ``manifest.json``.

    ``key``: the set's owner (e.g. a study key); a folder whose manifest names another key is
    refused with :class:`SetConflict` unless ``force``; it is stored as ``key_field``. ``owner_of(folder)`` gives the key of a
    folder without a manifest (files from before manifests existed): None when it holds nothing
    of ours, ``""`` when its owner cannot be told (refused as well). ``meta``: more fields for the
    manifest. The previous set of the same owner is replaced as a whole (its files that the new set
    lacks are removed). Returns name -> final path.

    ``private`` (the default: a set is patient data unless the caller knows otherwise): every file
    of the set, the manifest included, is :data:`PRIVATE_FILE` and a folder this call creates
    (with its missing parents) :data:`PRIVATE_DIR`, exactly, whatever the umask. ``private=False``
    (a de-identified export): :data:`DEFAULT_FILE` and ordinary folders, both subject to the umask.
    An existing folder keeps its permissions either way (the reader chose it).
    """
    f = Path(folder)
    for name in files:
        if not _NAME_RE.match(name) or name == MANIFEST:
            raise ValueError(f"commit_set: bad file name {name!r}")
    mode = PRIVATE_FILE if private else DEFAULT_FILE
    try:
        if private:
            make_private_dir(f)
        else:
            f.mkdir(parents=True, exist_ok=True)
        with _folder_lock(f):
            _recover_locked(f)
            old = read_manifest(f)
            old_key = old.get(key_field) if old is not None else (owner_of(f) if owner_of else None)
            if old_key is not None and old_key != key and not force:
                raise SetConflict(f"{f}: {conflict_message}; not overwritten without confirmation")
            for name in files:
                if (f / name).is_dir() and not (f / name).is_symlink():
                    raise WorkstationError(f"{f / name}: a folder is in the way of the export's file")
            _stage_and_commit(f, files, {key_field: key, **dict(meta or {})}, old, mode)
    except OSError as exc:
        raise WorkstationError(f"{getattr(exc, 'filename', None) or f}: cannot write "
                               f"({exc.strerror or type(exc).__name__})") from None
    return {name: f / name for name in files}


def _stage_and_commit(folder: Path, files: Mapping[str, bytes], meta: dict[str, Any],
                      old: dict[str, Any] | None, mode: int = PRIVATE_FILE) -> None:
    token = secrets.token_hex(6)
    stage = folder / f"{SET_PREFIX}{token}{_STAGE_SUFFIX}"
    commit = folder / f"{SET_PREFIX}{token}{_COMMIT_SUFFIX}"
    os.mkdir(stage, PRIVATE_DIR)  # transient: owner-only whatever the set's own permissions
    try:
        listing = []
        for name, data in files.items():
            _write_durable(stage / name, bytes(data), **_mode_kw(mode, PRIVATE_FILE))
            listing.append({"name": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()})
        superseded = [e["name"] for e in old["files"]] if old else []
        _write_durable(stage / _SUPERSEDED, json.dumps(superseded).encode())
        doc = {"schema": MANIFEST_SCHEMA, **meta, "files": listing}
        _write_durable(stage / MANIFEST, (json.dumps(doc, indent=1, allow_nan=False) + "\n").encode(),
                       **_mode_kw(mode, PRIVATE_FILE))
        fsync_dir(stage)
        os.rename(stage, commit)          # the commit point
    except BaseException:
        _rmtree(stage)
        raise
    fsync_dir(folder)
    _roll_forward(commit, folder)


def _write_durable(path: Path, data: bytes, *, mode: int = PRIVATE_FILE) -> None:
    fd = _create_new(path, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def read_set(folder: str | os.PathLike[str], *, recover: bool = True) -> dict[str, Any]:
    """The folder's committed set: its manifest, after checking that every listed file is there
    with the listed size and sha256 (:class:`SetError` names the first that is not).
    ``recover``: first finish or clean an interrupted write (needs write access)."""
    f = Path(folder)
    if recover:
        with contextlib.suppress(OSError):
            recover_set(f)
    doc = read_manifest(f)
    if doc is None:
        raise SetError(f"{f / MANIFEST}: missing or not a complete export manifest")
    for e in doc["files"]:
        p = f / e["name"]
        try:
            ok = p.is_file() and p.stat().st_size == e["size"] and _sha256(p) == e["sha256"]
        except OSError:
            ok = False
        if not ok:
            raise SetError(f"{p}: missing or changed since the export (does not match {MANIFEST})")
    return doc
