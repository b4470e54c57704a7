"""Atomic file writes: nothing half-written ever appears under the final name.

Every file the workstation writes for a person (exports, autosaved sessions) goes through here:
the bytes go to a temporary file in the *same directory* (so the final rename never crosses a file
system), are flushed and ``fsync``-ed, the file is renamed over the final name with
:func:`os.replace` (atomic on POSIX and Windows), and the directory is ``fsync``-ed so that the
rename itself survives a power cut. A crash at any point leaves either the old file or the new one,
never a mixture; a leftover temporary file is recognisable by :func:`is_temp_name` and is never
mistaken for data.
"""
from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path
from typing import IO, Iterator, Mapping

from .errors import WorkstationError

#: temporary files are ``.<final name>.<random>.tmp`` beside the final file
TEMP_SUFFIX = ".tmp"


def temp_name_for(path: Path) -> Path:
    """A fresh temporary path in the same directory as ``path``."""
    return path.with_name(f".{path.name}.{secrets.token_hex(6)}{TEMP_SUFFIX}")


def is_temp_name(name: str | os.PathLike) -> bool:
    """True for a temporary file left by an interrupted atomic write."""
    n = Path(name).name
    return n.startswith(".") and n.endswith(TEMP_SUFFIX)


def fsync_dir(directory: str | os.PathLike) -> None:
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


def _write_temp(path: Path, data: bytes) -> Path:
    tmp = temp_name_for(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
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


def atomic_write_bytes(path: str | os.PathLike, data: bytes, *, durable: bool = True) -> Path:
    """Write ``data`` to ``path`` atomically; returns the final path.

    ``durable=False`` skips the directory fsync (the file's own data is still fsync-ed).
    """
    p = Path(path)
    try:
        tmp = _write_temp(p, bytes(data))
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


def atomic_write_text(path: str | os.PathLike, text: str, *, encoding: str = "utf-8",
                      durable: bool = True) -> Path:
    """Write ``text`` to ``path`` atomically (UTF-8, newlines as given)."""
    return atomic_write_bytes(path, text.encode(encoding), durable=durable)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """``with atomic_open(p, "w") as fh: ...`` -- the file appears under ``p`` only if the block
    finishes without an exception (then flushed, fsync-ed and renamed); otherwise ``p`` is
    untouched and the temporary file removed."""
    if mode not in ("w", "wb"):
        raise ValueError("atomic_open: mode must be 'w' or 'wb'")
    p = Path(path)
    tmp = temp_name_for(p)
    fh = open(tmp, "x" + mode[1:] if len(mode) > 1 else "x", **({} if "b" in mode else {"encoding": "utf-8"}))
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


def atomic_write_many(files: Mapping[str | os.PathLike, bytes]) -> list[Path]:
    """Write several files so that each is whole: every temporary file is written and fsync-ed
    first, and only then are they renamed into place one after another. A failure while writing
    leaves every previous file as it was; the renames themselves cannot half-write a file."""
    items = [(Path(p), bytes(b)) for p, b in files.items()]
    temps: list[tuple[Path, Path]] = []
    try:
        for p, data in items:
            temps.append((_write_temp(p, data), p))
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
