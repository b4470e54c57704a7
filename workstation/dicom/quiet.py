"""Silencing pydicom's per-value warnings and log records in the threads that read for us, and
only there.

pydicom warns (and logs) about every odd value it meets; the loader reports per file and per
series instead. An earlier version set the "pydicom" logger's level and the process's warnings
filters from the loading thread, which changed them for every thread of the app while a study
loaded. Here :func:`install` (once, from the main thread when the app starts, or on first import)
adds a filter to the "pydicom" logger and wraps ``warnings.showwarning``; both drop what a thread
emits while its thread-local flag is set by :func:`quiet_pydicom`. Nothing else is changed.
"""
from __future__ import annotations

import contextlib
import logging
import threading
import warnings
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")

_local = threading.local()
_lock = threading.Lock()


def _quiet_here() -> bool:
    return bool(getattr(_local, "on", False))


class QuietInLoaderThreads(logging.Filter):
    """Drops the "pydicom" log records of a thread inside :func:`quiet_pydicom`."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not _quiet_here()


def install() -> None:
    """Add the thread-aware logging filter and ``showwarning`` wrapper (idempotent)."""
    with _lock:
        logger = logging.getLogger("pydicom")
        if any(isinstance(f, QuietInLoaderThreads) for f in logger.filters):
            return
        logger.addFilter(QuietInLoaderThreads())
        shown = warnings.showwarning

        def showwarning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                        file: Any = None, line: str | None = None) -> None:
            if not _quiet_here():
                shown(message, category, filename, lineno, file, line)

        warnings.showwarning = showwarning


@contextlib.contextmanager
def quiet_pydicom() -> Iterator[None]:
    """pydicom's warnings and log records are dropped in this thread (only) inside the block."""
    was = _quiet_here()
    _local.on = True
    try:
        yield
    finally:
        _local.on = was


def quietly(fn: Callable[..., T], *args: object) -> T:
    """``fn(*args)`` inside :func:`quiet_pydicom` (for pool threads)."""
    with quiet_pydicom():
        return fn(*args)
