"""Retrieved studies kept on disk for the app, within a size cap, the oldest evicted first.

Layout under the cache folder (``$WORKSTATION_CACHE_DIR``, else ``$XDG_CACHE_HOME`` or ``~/.cache``
+ ``rp-workstation/pacs``)::

    <key>/<series uid>/<sop uid>.dcm   the study (key: study UID, + a digest of the series chosen)
    <key>.json                         written last: the entry is complete; size and last use
    .staging-<key>-<random>/           a retrieve in progress (renamed to <key> when whole)

A study that is cached opens without any retrieval; an aborted retrieve leaves only a staging
folder, which is removed. Entries are evicted by last use, oldest first, until the cache is under
its cap again (the entry just retrieved or opened is never evicted).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ..atomic import PRIVATE_DIR, PRIVATE_FILE, atomic_write_text, make_private_dir
from .base import PacsClient, ProgressFn, check_uid

_STAGING = ".staging-"


@dataclass(frozen=True)
class CacheEntry:
    key: str
    path: Path
    size: int
    last_used: float


def folder_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


class StudyCache:
    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = Path(root)
        self.max_bytes = int(max_bytes)

    @staticmethod
    def key(study_uid: str, series: list[str] | None = None) -> str:
        check_uid(study_uid, "StudyInstanceUID")
        if not series:
            return study_uid
        digest = hashlib.sha256("\n".join(sorted(series)).encode()).hexdigest()[:12]
        return f"{study_uid}-{digest}"

    def _meta(self, key: str) -> Path:
        return self.root / f"{key}.json"

    def lookup(self, study_uid: str, series: list[str] | None = None) -> Path | None:
        """The cached study's folder (its last use updated), or None."""
        key = self.key(study_uid, series)
        path, meta = self.root / key, self._meta(key)
        if not (path.is_dir() and meta.is_file()):
            return None
        self._write_meta(key, study_uid, self._read_size(meta, path))
        return path

    def entries(self) -> list[CacheEntry]:
        found: list[CacheEntry] = []
        if not self.root.is_dir():
            return found
        for meta in self.root.glob("*.json"):
            key = meta.stem
            path = self.root / key
            if not path.is_dir():
                continue
            try:
                doc = json.loads(meta.read_text())
                found.append(CacheEntry(key, path, int(doc["bytes"]), float(doc["last_used"])))
            except (OSError, ValueError, KeyError, TypeError):
                found.append(CacheEntry(key, path, folder_size(path), meta.stat().st_mtime))
        return sorted(found, key=lambda e: e.last_used)

    def total_bytes(self) -> int:
        return sum(e.size for e in self.entries())

    def evict(self, keep: str | None = None) -> list[str]:
        """Remove the least recently used entries until the cache fits its cap; their keys."""
        entries = self.entries()
        total = sum(e.size for e in entries)
        removed = []
        for e in entries:
            if total <= self.max_bytes:
                break
            if e.key == keep:
                continue
            self._meta(e.key).unlink(missing_ok=True)  # incomplete from now on
            shutil.rmtree(e.path, ignore_errors=True)
            total -= e.size
            removed.append(e.key)
        return removed

    def retrieve(self, client: PacsClient, study_uid: str, series: list[str] | None = None,
                 progress: ProgressFn | None = None, cancel: threading.Event | None = None) -> Path:
        """The study's folder: from the cache when there, else retrieved into it (then evicted to
        the cap). A failed or cancelled retrieve leaves nothing behind."""
        cached = self.lookup(study_uid, series)
        if cached is not None:
            return cached
        key = self.key(study_uid, series)
        make_private_dir(self.root)  # patient data: a cache made here is owner-only
        self.clean_staging()
        staging = self.root / f"{_STAGING}{key}-{secrets.token_hex(4)}"
        staging.mkdir(PRIVATE_DIR)
        if os.name == "posix":
            os.chmod(staging, PRIVATE_DIR)
        try:
            client.retrieve(study_uid, staging, series, progress, cancel)
            final = self.root / key
            if final.exists():  # a stale incomplete entry (no .json)
                shutil.rmtree(final)
            os.rename(staging, final)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        self._write_meta(key, study_uid, folder_size(final))
        self.evict(keep=key)
        return final

    def clean_staging(self, older_than_s: float = 3600.0) -> None:
        """Remove staging folders an interrupted process left (older than ``older_than_s``)."""
        now = time.time()
        for d in self.root.glob(f"{_STAGING}*"):
            with contextlib.suppress(OSError):
                if now - d.stat().st_mtime > older_than_s:
                    shutil.rmtree(d)

    def _read_size(self, meta: Path, path: Path) -> int:
        try:
            return int(json.loads(meta.read_text())["bytes"])
        except (OSError, ValueError, KeyError, TypeError):
            return folder_size(path)

    def _write_meta(self, key: str, study_uid: str, size: int) -> None:
        doc = {"study_uid": study_uid, "bytes": size, "last_used": time.time()}
        atomic_write_text(self._meta(key), json.dumps(doc), durable=False, mode=PRIVATE_FILE)  # names the study


def default_cache() -> StudyCache:
    from .config import cache_settings

    root, cap = cache_settings()
    return StudyCache(root, cap)
