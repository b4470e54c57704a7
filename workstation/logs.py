"""The detail log: tracebacks and diagnostics that never reach a person's screen.

What a person sees is one line (:func:`workstation.errors.user_line`); what a developer needs
(the traceback, the exception's own text) goes to ``<state>/logs/workstation.log``, where
``<state>`` follows :func:`workstation.session.default_root`'s convention: ``$WORKSTATION_STATE_DIR``
when set, else ``$XDG_STATE_HOME/rp-workstation`` (``~/.local/state/rp-workstation``). The folder is
created owner-only (0700) and the file owner-only (0600): the log may hold file paths and the text
of a dependency's exception, which can quote header bytes (patient data).

The file is rotated at :data:`MAX_BYTES` (:class:`logging.handlers.RotatingFileHandler`, three
backups), so a long fuzz run or a flood of broken files cannot fill the disk.
"""
from __future__ import annotations

import logging
import logging.handlers
import os
import stat
import threading
import traceback
from pathlib import Path

LOG_NAME = "workstation.log"
MAX_BYTES = 4 * 1024 * 1024
BACKUPS = 3

_lock = threading.Lock()
_handler: logging.Handler | None = None


def state_root() -> Path:
    """The state folder (the parent of the sessions folder when no override is set)."""
    env = os.environ.get("WORKSTATION_STATE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "rp-workstation"


def log_dir() -> Path:
    return state_root() / "logs"


def log_path() -> Path:
    return log_dir() / LOG_NAME


def _owner_only_dir(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    st = folder.lstat()
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        raise OSError(f"{folder}: not a folder")
    if st.st_uid == os.getuid() and stat.S_IMODE(st.st_mode) != 0o700:
        os.chmod(folder, 0o700)


def _owner_only_file(path: Path) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
    try:
        if stat.S_IMODE(os.fstat(fd).st_mode) != 0o600:
            os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


class _OwnerOnlyRotatingHandler(logging.handlers.RotatingFileHandler):
    """A rotating file handler whose files (rotated ones too) are created 0600."""

    def _open(self):  # type: ignore[no-untyped-def]
        _owner_only_file(Path(self.baseFilename))
        return super()._open()


def detail_handler() -> logging.Handler | None:
    """The (shared) handler writing to the detail log; None when the state folder is unusable."""
    global _handler
    with _lock:
        if _handler is not None and Path(getattr(_handler, "baseFilename", "")) == log_path():
            return _handler
        try:
            _owner_only_dir(log_dir())
            h = _OwnerOnlyRotatingHandler(log_path(), maxBytes=MAX_BYTES, backupCount=BACKUPS,
                                          encoding="utf-8", delay=False)
        except OSError:
            return None
        h.setFormatter(logging.Formatter("%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"))
        _handler = h
        return h


def attach(level: int = logging.INFO, logger: logging.Logger | None = None) -> logging.Handler | None:
    """Route ``logger`` (default: the root logger) to the detail log at ``level``; Python warnings
    too. Returns the handler (None when the log cannot be written; nothing is attached then)."""
    h = detail_handler()
    target = logger or logging.getLogger()
    if h is not None and h not in target.handlers:
        target.addHandler(h)
        if target.level == logging.NOTSET or target.level > level:
            target.setLevel(level)
    logging.captureWarnings(True)
    return h


def record_failure(exc: BaseException, context: str = "") -> str | None:
    """Write ``exc`` with its traceback to the detail log; the log's path (None if not written)."""
    h = detail_handler()
    if h is None:
        return None
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    rec = logging.LogRecord("workstation.failure", logging.ERROR, __file__, 0,
                            "%s\n%s", (context or "failure", text.rstrip()), None)
    try:
        h.handle(rec)
    except Exception:  # the log is a convenience: never a second failure
        return None
    return str(log_path())
