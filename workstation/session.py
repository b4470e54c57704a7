"""The reader's work on a study, kept per study: autosave, reads, one writer, crash safety.

Layout under the root (``$WORKSTATION_STATE_DIR`` or ``~/.local/state/rp-workstation/sessions``;
every folder this module creates is ``0o700`` and every file ``0o600``, exactly, whatever the
umask -- POSIX; see docs/cli.md, "File permissions")::

    <study_key>/session.json         the read in progress: findings, measurements, extra, clean
                                     flag, read id, source (path, modalities, series count), mask ref
    <study_key>/masks-<gen>.npz      its lesion masks (cropped to their bounding box, bit-packed)
    <study_key>/lock                 the writer's lock (pid, host, start time) -- :class:`StudyLock`
    <study_key>/reads/<read_id>/     earlier reads, archived by "Start a new read" (same two files)
    <study_key>/session.json.corrupt-<time>   a damaged file, kept aside for inspection

``study_key`` is a hash of the StudyInstanceUID(s): no patient name or ID ever appears in a path.
Every file is written atomically (:mod:`workstation.atomic`). ``session.json`` is written last and
names the mask file it belongs to (with its size and SHA-256), so a kill at any moment leaves the
previous complete save loadable; temporary files (``.*.tmp``) are never read.

``save()`` is cheap enough to call on every change (debouncing is the UI's job): with
``masks=None`` the masks of the previous save are kept and only the JSON is rewritten.
``clean_close()`` marks the session as closed cleanly. Nothing is deleted unless asked:
:meth:`SessionStore.archive_current` moves the read in progress to ``reads/`` and
:meth:`SessionStore.restore_read` brings an archived read back (archiving the current one).
:func:`list_reads` lists every study's reads (for "Recent studies" and ``workstation reads``).

One writer per study: :meth:`SessionStore.acquire` takes ``<study_key>/lock`` (an OS file lock,
released by the kernel when the process dies, plus the owner's pid, host name and start time); a
second window or process gets :class:`LockStatus` with ``acquired=False`` and the owner, and its
store refuses to save. A lock file naming a process that is gone is taken over (``took_over``).
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import secrets
import shutil
import socket
import stat
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import PRIVATE_DIR, PRIVATE_FILE, atomic_write_bytes, fsync_dir, is_temp_name, make_private_dir
from .errors import WorkstationError
from .measure.model import Measurement
from .reasoning.findings import record_problem

SCHEMA = "rp-session/1"
SESSION_FILE = "session.json"
LOCK_FILE = "lock"
READS_DIR = "reads"
#: findings keys the app fills by itself on opening (header prefill): not work to bring back
AUTOMATIC_KEYS = frozenset({"schema", "age_years", "sex", "x_sources"})


class SessionError(WorkstationError):
    """A session file that cannot be used (names the file)."""


def default_root() -> Path:
    env = os.environ.get("WORKSTATION_STATE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "rp-workstation" / "sessions"


def study_key(study_uids: str | Iterable[str]) -> str:
    """A stable file-name-safe key for one study (or a set of studies read together)."""
    uids = [study_uids] if isinstance(study_uids, str) else list(study_uids)
    uids = sorted({str(u).strip() for u in uids if str(u).strip()})
    if not uids:
        raise SessionError("study_key: no StudyInstanceUID given")
    return hashlib.sha256("\\".join(uids).encode("ascii", "replace")).hexdigest()[:24]


@dataclass
class SessionState:
    """What a restore gives back. ``problems``: parts that could not be brought back (one line
    each, e.g. a mask file that no longer matches its checksum) -- the rest is restored."""

    findings: dict[str, Any]
    measurements: list[Measurement]
    masks: dict[str, np.ndarray] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    saved_at: float = 0.0
    clean: bool = False
    generation: int = 0
    read_id: str = ""
    source: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def has_work(self) -> bool:
        """True when the state holds something the reader did (not only the header prefill)."""
        return bool(self.measurements or self.masks or (set(self.findings or {}) - AUTOMATIC_KEYS))


def new_read_id(at: float | None = None) -> str:
    """A sortable, file-name-safe read id: ``YYYYmmdd-HHMMSS-<4 hex>`` (local time of the start)."""
    t = time.localtime(time.time() if at is None else at)
    return time.strftime("%Y%m%d-%H%M%S", t) + "-" + secrets.token_hex(2)


#: permissions of every file of a read (the reader's work is patient data): exact, whatever the umask
PRIVATE = PRIVATE_FILE


def _mkdir_private(d: Path) -> None:
    """Create ``d`` and its missing parents owner-only (``0o700`` exactly, whatever the umask):
    the reader's work is patient data. ``d`` itself, when it exists already and is ours, is set to
    ``0o700`` too (a folder left group- or world-readable by an earlier version is tightened);
    existing parents are left alone. POSIX; nothing is changed on Windows."""
    make_private_dir(d)
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        st = d.stat()
        if st.st_uid == os.getuid() and stat.S_IMODE(st.st_mode) != PRIVATE_DIR:
            os.chmod(d, PRIVATE_DIR)


# -- the writer's lock ---------------------------------------------------------------------------
@dataclass(frozen=True)
class LockOwner:
    """Who holds a study's lock (no patient data: a process id, a host name, a start time)."""

    pid: int
    host: str
    started_at: float

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.started_at)) if self.started_at else "earlier"
        return f"process {self.pid} on {self.host}, since {when}"

    def to_dict(self) -> dict[str, Any]:
        return {"pid": self.pid, "host": self.host, "started_at": self.started_at}

    @classmethod
    def from_bytes(cls, raw: bytes) -> LockOwner | None:
        try:
            d = json.loads(raw.decode("utf-8"))
            return cls(int(d["pid"]), str(d["host"])[:255], float(d.get("started_at", 0.0)))
        except (ValueError, KeyError, TypeError, AttributeError):
            return None

    @classmethod
    def me(cls) -> LockOwner:
        return cls(os.getpid(), socket.gethostname(), time.time())


def pid_alive(pid: int) -> bool:
    """True when a process ``pid`` exists on this host (assumed on Windows, where signal 0 is
    Ctrl+C and must never be sent)."""
    if pid <= 0:
        return False
    if os.name == "nt":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except OSError:
        return False
    return True


@dataclass(frozen=True)
class LockStatus:
    """The outcome of :meth:`StudyLock.acquire`: ``acquired``; ``owner`` (who holds it when not
    acquired); ``took_over`` (the owner of a stale lock this process replaced)."""

    acquired: bool
    owner: LockOwner | None = None
    took_over: LockOwner | None = None


class StudyLock:
    """``<study_key>/lock``: an exclusive OS lock (``fcntl.flock``; the kernel drops it when the
    process ends, even on ``kill -9``) on a file holding the owner (:class:`LockOwner`).

    Where the OS lock is unavailable (a file system without locks) the owner record decides: a
    live owner on this host, or any owner on another host, holds the study; a dead one on this host
    is stale and taken over."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self.owner: LockOwner | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def _read_owner(self) -> LockOwner | None:
        try:
            return LockOwner.from_bytes(self.path.read_bytes()[:4096])
        except OSError:
            return None

    def acquire(self) -> LockStatus:
        if self._fd is not None:
            return LockStatus(True)
        _mkdir_private(self.path.parent)
        for _ in range(5):  # retried only when the file was replaced under us (a release racing)
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, PRIVATE)
            except OSError as exc:
                raise SessionError(f"{self.path}: cannot open the study lock ({exc.strerror or exc})") from None
            if hasattr(os, "fchmod"):  # owner-only whatever the umask (another user's file: refused, kept)
                with contextlib.suppress(OSError):
                    os.fchmod(fd, PRIVATE)
            got = _try_flock(fd)
            if got is False:
                os.close(fd)
                return LockStatus(False, self._read_owner())
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except OSError:
                same = False
            if not same:
                os.close(fd)
                continue
            prev = self._read_owner()
            if got is None and prev is not None and _owner_active(prev):
                os.close(fd)
                return LockStatus(False, prev)
            me = LockOwner.me()
            try:
                data = json.dumps(me.to_dict()).encode()
                os.ftruncate(fd, 0)
                os.lseek(fd, 0, os.SEEK_SET)
                os.write(fd, data)
                os.fsync(fd)
            except OSError as exc:
                os.close(fd)
                raise SessionError(f"{self.path}: cannot write the study lock ({exc.strerror or exc})") from None
            self._fd, self.owner = fd, me
            stale = prev if prev is not None and (prev.pid, prev.host) != (me.pid, me.host) else None
            return LockStatus(True, None, stale)
        return LockStatus(False, self._read_owner())

    def release(self) -> None:
        """Give the study back (the lock file goes; a waiting window can take it)."""
        fd, self._fd, self.owner = self._fd, None, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        with contextlib.suppress(OSError):
            os.close(fd)  # closing drops the OS lock


def _try_flock(fd: int) -> bool | None:
    """True: locked; False: held by another open file; None: the OS lock is not available here."""
    try:
        import fcntl
    except ImportError:  # not POSIX: the owner record decides
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError:  # e.g. ENOLCK on a file system without locks
        return None
    return True


def _owner_active(owner: LockOwner) -> bool:
    """Without an OS lock: is the recorded owner still there?"""
    if owner.host != socket.gethostname():
        return True  # cannot tell for another host: keep out
    return owner.pid != os.getpid() and pid_alive(owner.pid)


# -- mask packing: bounding box + packbits (a lesion is small beside its volume) -------------------
def _pack_mask(mask: np.ndarray) -> dict[str, np.ndarray]:
    m = np.asarray(mask).astype(bool, copy=False)
    if m.ndim != 3:
        raise SessionError(f"masks: expected 3D arrays [k, j, i], got shape {m.shape}")
    lo = np.zeros(3, dtype=np.int64)
    hi = np.zeros(3, dtype=np.int64)
    for ax in range(3):
        other = tuple(a for a in range(3) if a != ax)
        nz = np.flatnonzero(m.any(axis=other))
        if nz.size:
            lo[ax], hi[ax] = nz[0], nz[-1] + 1
    crop = m[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]
    return {"shape": np.asarray(m.shape, np.int64), "lo": lo, "hi": hi,
            "bits": np.packbits(crop, axis=None)}


def _unpack_mask(shape_a: np.ndarray, lo_a: np.ndarray, hi_a: np.ndarray, bits: np.ndarray) -> np.ndarray:
    shape = tuple(int(s) for s in shape_a)
    lo = [int(v) for v in lo_a]
    hi = [int(v) for v in hi_a]
    out = np.zeros(shape, dtype=bool)
    cshape = tuple(h - a for a, h in zip(lo, hi, strict=True))
    n = int(np.prod(cshape))
    if n:
        crop = np.unpackbits(bits, count=n).astype(bool).reshape(cshape)
        out[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]] = crop
    return out


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _mask_ref(value: Any) -> dict[str, Any] | None:
    """A session's mask reference, or None when absent or malformed."""
    if isinstance(value, dict) and isinstance(value.get("file"), str) and isinstance(value.get("names"), list):
        return value
    return None


class SessionStore:
    """The reads of one study. ``SessionStore(study_key(uids))``."""

    def __init__(self, study_key: str, root: str | os.PathLike[str] | None = None) -> None:
        key = str(study_key)
        if not key or any(c in key for c in "/\\.") or len(key) > 128:
            raise SessionError(f"study_key: {key!r} is not a plain key (use session.study_key(uids))")
        self.key = key
        self.root = Path(root) if root is not None else default_root()
        self.dir = self.root / key
        self._masks_ref: dict[str, Any] | None = None  # mask file of the last save (cached)
        self._generation = 0
        self._synced = False  # generation, read and mask file of the saved session read once
        self._read: dict[str, Any] = {}
        self.source: dict[str, Any] = {}
        self.lock = StudyLock(self.dir / LOCK_FILE)
        self.read_only = False

    @classmethod
    def for_study(cls, study_uids: str | Iterable[str], root: str | os.PathLike[str] | None = None) -> SessionStore:
        return cls(study_key(study_uids), root)

    @property
    def path(self) -> Path:
        return self.dir / SESSION_FILE

    def _private_root(self) -> None:
        """The default state folder owner-only too (its listing shows which studies were read and
        when); a folder the caller chose is left as it is."""
        if self.root == default_root():
            _mkdir_private(self.root)

    # -- one writer ----------------------------------------------------------------------------
    def acquire(self) -> LockStatus:
        """Become the study's writer; when another window or process is, this store turns read-only."""
        self._private_root()
        st = self.lock.acquire()
        self.read_only = not st.acquired
        return st

    def release(self) -> None:
        self.lock.release()

    def set_source(self, path: str | os.PathLike[str] | None, modalities: Iterable[str] = (),
                   series: int = 0) -> None:
        """Where the study was opened from (to reopen it from Recent studies) and a neutral
        description (modalities, number of series) -- saved with every save."""
        self.source = {"path": os.fspath(path) if path is not None else None,
                       "modalities": sorted({str(m) for m in modalities if m}), "series": int(series)}

    # -- writing -----------------------------------------------------------------------------
    def _read_header(self) -> dict[str, Any] | None:
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return doc if isinstance(doc, dict) else None

    def _sync(self) -> None:
        if self._synced:
            return
        prev = self._read_header()
        if prev is not None:
            self._masks_ref = _mask_ref(prev.get("masks"))
            with contextlib.suppress(TypeError, ValueError):
                self._generation = int(prev.get("generation", 0))
            read = prev.get("read")
            if isinstance(read, dict) and isinstance(read.get("id"), str):
                self._read = dict(read)
        self._synced = True

    def _writable(self) -> None:
        if self.read_only:
            raise SessionError(f"{self.path}: the study is open for editing elsewhere; not saved")

    def save(self, findings: Mapping[str, Any] | None, measurements: Iterable[Measurement] = (),
             masks: Mapping[str, np.ndarray] | None = None, extra: Mapping[str, Any] | None = None,
             *, clean: bool = False) -> Path:
        """Save the current state atomically. ``masks=None`` keeps the masks of the previous save
        (so a findings or measurement change costs only the JSON); ``masks={}`` drops them."""
        self._writable()
        self._private_root()
        _mkdir_private(self.dir)
        self._sync()
        if not self._read:
            now = time.time()
            self._read = {"id": new_read_id(now), "started_at": now}
        self._generation += 1
        gen = self._generation
        if masks is not None:
            self._masks_ref = self._write_masks(masks, gen) if masks else None
        doc = {
            "schema": SCHEMA,
            "generation": gen,
            "saved_at": time.time(),
            "clean": bool(clean),
            "read": self._read,
            "source": self.source or self._previous_source(),
            "findings": dict(findings) if findings is not None else None,
            "measurements": [m.to_dict() for m in measurements],
            "masks": self._masks_ref,
            "extra": dict(extra) if extra else {},
        }
        try:
            text = json.dumps(doc, allow_nan=False, separators=(",", ":"))
        except (TypeError, ValueError) as exc:
            raise SessionError(f"{self.path}: state is not JSON-serialisable ({type(exc).__name__})") from None
        atomic_write_bytes(self.path, text.encode("utf-8"), mode=PRIVATE)
        if masks is not None:  # masks changed: drop every other mask file (also ones left by a kill)
            self._drop_mask_files(keep=(self._masks_ref or {}).get("file"))
        return self.path

    def _previous_source(self) -> dict[str, Any]:
        prev = self._read_header() or {}
        src = prev.get("source")
        self.source = dict(src) if isinstance(src, dict) else {}
        return self.source

    def _write_masks(self, masks: Mapping[str, np.ndarray], gen: int) -> dict[str, Any]:
        arrays: dict[str, np.ndarray] = {}
        names = []
        for i, (name, m) in enumerate(masks.items()):
            names.append(str(name))
            for k, v in _pack_mask(m).items():
                arrays[f"m{i}_{k}"] = v
        buf = io.BytesIO()
        np.savez(buf, **arrays)  # type: ignore[arg-type]
        data = buf.getvalue()
        fname = f"masks-{gen}.npz"
        atomic_write_bytes(self.dir / fname, data, durable=False, mode=PRIVATE)
        return {"file": fname, "names": names, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}

    def _drop_mask_files(self, keep: str | None) -> None:
        for f in self.dir.glob("masks-*.npz"):
            if f.name != keep:
                with contextlib.suppress(OSError):
                    f.unlink()

    def clean_close(self) -> None:
        """Mark the saved session as closed cleanly (nothing to recover from a crash)."""
        if self.read_only:
            return
        doc = self._read_header()
        if doc is None:
            return
        doc["clean"] = True
        atomic_write_bytes(self.path, json.dumps(doc, allow_nan=False, separators=(",", ":")).encode(),
                           mode=PRIVATE)

    def has_unrestored(self) -> bool:
        """True when a session exists for this study that was not closed cleanly."""
        doc = self._read_header()
        if doc is None:
            return self.path.exists()  # unreadable: still offer (load() explains what is wrong)
        return not bool(doc.get("clean", False))

    def discard(self) -> None:
        """Delete the read in progress (only on the reader's request; kept-aside corrupt files
        and archived reads stay)."""
        self._writable()
        if self.dir.is_dir():
            for f in self.dir.iterdir():
                if f.name == SESSION_FILE or (f.name.startswith("masks-") and f.suffix == ".npz") \
                        or is_temp_name(f.name):
                    with contextlib.suppress(OSError):
                        f.unlink()
        self._forget()

    def _forget(self) -> None:
        self._masks_ref = None
        self._read = {}
        self._synced = False

    # -- reads ---------------------------------------------------------------------------------
    def archive_current(self) -> str | None:
        """Move the read in progress to ``reads/<read_id>/`` (the next save starts a new read);
        its id, or None when there was no work saved (a read holding only the header prefill is
        dropped, not archived). A kill at any point leaves the read whole in one place or the other."""
        self._writable()
        doc = self._read_header()
        if doc is None:
            if self.path.exists():  # damaged: keep it aside rather than archive it
                self._keep_aside(self.path, "unreadable")
            self._forget()
            return None
        info = read_info(self.key, self.path, None)
        if info is None or not info.has_work:
            self.discard()
            return None
        read = _obj(doc.get("read"))
        rid = str(read.get("id") or new_read_id(float(doc.get("saved_at") or time.time())))
        if not rid.replace("-", "").isalnum():
            rid = new_read_id()
        target = self.dir / READS_DIR / rid
        if target.exists():
            rid = new_read_id()
            target = self.dir / READS_DIR / rid
        _mkdir_private(target.parent)  # mkdir's mode covers the leaf only
        _mkdir_private(target)
        ref = _mask_ref(doc.get("masks"))
        if ref is not None:
            _link_or_copy(self.dir / ref["file"], target / ref["file"])
        os.replace(self.path, target / SESSION_FILE)  # the switch: from here the read is archived
        fsync_dir(self.dir)
        self._drop_mask_files(keep=None)
        self._forget()
        return rid

    def reads(self) -> list[ReadInfo]:
        """The archived reads of this study, newest first."""
        out = []
        base = self.dir / READS_DIR
        if base.is_dir():
            for d in base.iterdir():
                info = read_info(self.key, d / SESSION_FILE, d.name)
                if info is not None:
                    out.append(info)
        return sorted(out, key=lambda r: r.saved_at, reverse=True)

    def current_info(self) -> ReadInfo | None:
        return read_info(self.key, self.path, None)

    def restore_read(self, read_id: str) -> str | None:
        """Make the archived read ``read_id`` the read in progress again; the current one is
        archived first (its id is returned, None when there was none)."""
        self._writable()
        src = self.dir / READS_DIR / str(read_id)
        if not str(read_id).replace("-", "").isalnum() or not (src / SESSION_FILE).is_file():
            raise SessionError(f"{src}: no such archived read")
        archived = self.archive_current()
        try:
            doc = json.loads((src / SESSION_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise SessionError(f"{src / SESSION_FILE}: archived read is unreadable") from None
        ref = _mask_ref(doc.get("masks") if isinstance(doc, dict) else None)
        if ref is not None and (src / ref["file"]).exists():
            _link_or_copy(src / ref["file"], self.dir / ref["file"])
        os.replace(src / SESSION_FILE, self.path)
        fsync_dir(self.dir)
        shutil.rmtree(src, ignore_errors=True)
        self._forget()
        return archived

    def load_read(self, read_id: str) -> SessionState | None:
        """An archived read's state (read only: nothing moves)."""
        d = self.dir / READS_DIR / str(read_id)
        if not str(read_id).replace("-", "").isalnum():
            raise SessionError(f"{d}: no such archived read")
        return self._load_from(d / SESSION_FILE, keep_aside=False)

    # -- reading -----------------------------------------------------------------------------
    def _keep_aside(self, path: Path, why: str) -> SessionError:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        aside = path.with_name(f"{path.name}.corrupt-{stamp}")
        n = 1
        while aside.exists():
            n += 1
            aside = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
        try:
            os.replace(path, aside)
        except OSError:
            return SessionError(f"{path}: saved session is unusable ({why})")
        if path == self.path:
            self._forget()
        return SessionError(f"{path}: saved session is unusable ({why}); kept as {aside.name}")

    def load(self) -> SessionState | None:
        """The last completed save, or None when there is none. A corrupt session file is moved
        aside (``session.json.corrupt-<time>``) and reported as a :class:`SessionError`."""
        state = self._load_from(self.path, keep_aside=not self.read_only)
        if state is not None:
            header = self._read_header() or {}
            self._generation = state.generation
            self._read = dict(_obj(header.get("read"))) if state.read_id else {}
            self._masks_ref = _mask_ref(header.get("masks")) if not state.problems else None
            self._synced = True
        return state

    def _load_from(self, p: Path, keep_aside: bool) -> SessionState | None:
        try:
            raw = p.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise SessionError(f"{p}: cannot read ({exc.strerror or exc})") from None
        try:
            doc = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            why = f"not valid JSON: {type(exc).__name__}"
            raise (self._keep_aside(p, why) if keep_aside else SessionError(f"{p}: {why}")) from None
        try:
            return self._validate(doc, p.parent)
        except SessionError as exc:
            raise (self._keep_aside(p, str(exc)) if keep_aside else SessionError(f"{p}: {exc}")) from None

    def _validate(self, doc: Any, where: Path | None = None) -> SessionState:
        where = where or self.dir
        if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
            raise SessionError(f"schema is not {SCHEMA!r}")
        findings = doc.get("findings")
        if findings is not None and not isinstance(findings, dict):
            raise SessionError("findings: expected an object")
        ms = doc.get("measurements")
        if not isinstance(ms, list):
            raise SessionError("measurements: expected a list")
        measurements = []
        for i, d in enumerate(ms):
            if not isinstance(d, dict):
                raise SessionError(f"measurements[{i}]: expected an object")
            try:
                measurements.append(Measurement.from_dict(d))
            except WorkstationError as exc:
                raise SessionError(f"measurements[{i}]{record_problem(exc)}") from None
        extra = doc.get("extra") or {}
        if not isinstance(extra, dict):
            raise SessionError("extra: expected an object")
        problems: list[str] = []
        masks = self._load_masks(doc.get("masks"), where, problems)
        read, source = _obj(doc.get("read")), _obj(doc.get("source"))
        try:
            saved_at, gen = float(doc.get("saved_at", 0.0)), int(doc.get("generation", 0))
        except (TypeError, ValueError):
            raise SessionError("saved_at / generation: expected numbers") from None
        return SessionState(findings=findings or {}, measurements=measurements, masks=masks,
                            extra=extra, saved_at=saved_at, clean=bool(doc.get("clean", False)),
                            generation=gen, read_id=str(read.get("id") or ""), source=dict(source),
                            problems=problems)

    def _load_masks(self, value: Any, where: Path, problems: list[str]) -> dict[str, np.ndarray]:
        """The masks a session names; a missing or damaged mask file is a problem (reported, the
        rest of the read still comes back), never a reason to lose the read."""
        if not value:
            return {}
        ref = _mask_ref(value)
        if ref is None:
            problems.append("lesion masks: the reference in the session file is malformed; not restored")
            return {}
        mp = where / Path(ref["file"]).name
        try:
            data = mp.read_bytes()
        except OSError:
            problems.append(f"lesion masks: {mp.name} is missing; not restored")
            return {}
        if len(data) != ref.get("size") or hashlib.sha256(data).hexdigest() != ref.get("sha256"):
            problems.append(f"lesion masks: {mp.name} does not match its checksum; not restored")
            return {}
        masks: dict[str, np.ndarray] = {}
        try:
            with np.load(io.BytesIO(data)) as z:
                for i, name in enumerate(ref["names"]):
                    masks[str(name)] = _unpack_mask(z[f"m{i}_shape"], z[f"m{i}_lo"], z[f"m{i}_hi"], z[f"m{i}_bits"])
        except (OSError, ValueError, KeyError, TypeError):
            problems.append(f"lesion masks: {mp.name} cannot be read; not restored")
            return {}
        return masks


def _link_or_copy(src: Path, dst: Path) -> None:
    """``dst`` gets ``src``'s bytes (a hard link when possible, else an atomic copy)."""
    if not src.exists():
        return
    with contextlib.suppress(FileNotFoundError):
        os.unlink(dst)
    try:
        os.link(src, dst)
    except OSError:
        atomic_write_bytes(dst, src.read_bytes(), durable=False, mode=PRIVATE)


# -- listing -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReadInfo:
    """One saved read, described without patient data (for menus and ``workstation reads``)."""

    key: str
    read_id: str | None          # None: the read in progress; else an archived read
    saved_at: float
    started_at: float
    clean: bool
    measurements: int
    findings: int                # findings fields the reader set (beyond the header prefill)
    masks: int
    modalities: tuple[str, ...]
    series: int
    source_path: str | None
    archived_id: str = ""

    @property
    def has_work(self) -> bool:
        return bool(self.measurements or self.findings or self.masks)

    def label(self) -> str:
        """A neutral one-line label: modality, series count, last edited, a short hash."""
        mod = "/".join(self.modalities) or "study"
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.saved_at)) if self.saved_at else "unknown time"
        series = f"{self.series} series · " if self.series else ""
        return f"{mod} · {series}edited {when} · #{self.key[:6]}"

    def summary(self) -> str:
        parts = [f"{self.measurements} measurement{'s' if self.measurements != 1 else ''}"]
        if self.findings:
            parts.append(f"{self.findings} finding{'s' if self.findings != 1 else ''}")
        if self.masks:
            parts.append(f"{self.masks} lesion mask{'s' if self.masks != 1 else ''}")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "read_id": self.read_id, "current": self.read_id is None,
                "label": self.label(), "saved_at": self.saved_at, "started_at": self.started_at,
                "clean": self.clean, "measurements": self.measurements, "findings": self.findings,
                "masks": self.masks, "modalities": list(self.modalities), "series": self.series}


def read_info(key: str, path: Path, read_id: str | None) -> ReadInfo | None:
    """A :class:`ReadInfo` from a session file's header (masks are not read); None when absent
    or unreadable."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        return None
    read, src, findings = _obj(doc.get("read")), _obj(doc.get("source")), _obj(doc.get("findings"))
    ms_v = doc.get("measurements")
    ms: list[Any] = ms_v if isinstance(ms_v, list) else []
    ref = _mask_ref(doc.get("masks"))
    try:
        saved = float(doc.get("saved_at") or 0.0)
        started = float(read.get("started_at") or 0.0)
        series = int(src.get("series") or 0)
    except (TypeError, ValueError):
        saved, started, series = 0.0, 0.0, 0
    mods_v = src.get("modalities")
    mods: list[Any] = mods_v if isinstance(mods_v, list) else []
    path_s = src.get("path") if isinstance(src.get("path"), str) else None
    return ReadInfo(key=key, read_id=read_id, saved_at=saved, started_at=started,
                    clean=bool(doc.get("clean", False)), measurements=len(ms),
                    findings=len(set(findings) - AUTOMATIC_KEYS), masks=len(ref["names"]) if ref else 0,
                    modalities=tuple(str(m) for m in mods if _MODALITY_CODE.fullmatch(str(m))), series=series,
                    source_path=path_s,
                    archived_id=str(read.get("id") or ""))


#: what a read's label may show of a header's Modality: a code, never free text (issue 11)
_MODALITY_CODE = re.compile(r"[A-Z0-9]{1,16}")


def list_reads(root: str | os.PathLike[str] | None = None, archived: bool = False) -> list[ReadInfo]:
    """Every study's read in progress (and with ``archived`` its archived reads), newest first."""
    base = Path(root) if root is not None else default_root()
    out: list[ReadInfo] = []
    if not base.is_dir():
        return out
    for d in base.iterdir():
        if not d.is_dir() or any(c in d.name for c in "/\\.") or len(d.name) > 128:
            continue
        cur = read_info(d.name, d / SESSION_FILE, None)
        if cur is not None:
            out.append(cur)
        if archived:
            out.extend(SessionStore(d.name, base).reads())
    return sorted(out, key=lambda r: r.saved_at, reverse=True)


def lock_owner(store: SessionStore) -> LockOwner | None:
    """Who holds ``store``'s study right now, from the lock file alone (never taking the lock, so
    a window opening the study at the same moment is not disturbed): None when nobody does or the
    recorded owner on this host has ended."""
    try:
        owner = LockOwner.from_bytes(store.lock.path.read_bytes()[:4096])
    except OSError:
        return None
    if owner is None:
        return None
    if owner.host == socket.gethostname() and not pid_alive(owner.pid):
        return None
    return owner
