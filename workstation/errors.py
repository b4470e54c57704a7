"""Errors the workstation reports to a person: one line that names the file or field.

Anything raised as a :class:`WorkstationError` is shown as its message (CLI: on stderr, exit 2;
app: in the status bar). Messages never carry patient data (names, IDs, dates): they name files,
DICOM keywords and findings fields.

Every boundary (the CLI's ``main``, the loader thread, the app's file actions) turns *any* failure
into one line with :func:`user_line`: a dependency's exception (a native decoder's panic, which
derives from :class:`BaseException`; :class:`MemoryError`; :class:`RecursionError`) is named by its
type only, never by its text (which can quote header bytes), and its traceback goes to the detail
log (:func:`workstation.logs.record_failure`). :data:`PASS_THROUGH` exceptions are never caught.
"""
from __future__ import annotations

import os
import re

#: longest line a boundary prints
MAX_LINE = 300
#: exceptions every boundary lets through untouched (Ctrl+C, sys.exit, generator close)
PASS_THROUGH: tuple[type[BaseException], ...] = (KeyboardInterrupt, SystemExit, GeneratorExit)

_OUR_CODE = tuple(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), d) + os.sep
                  for d in ("workstation", "ui"))
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


class WorkstationError(Exception):
    """Bad input or an impossible request, with a message fit to show as is."""

    exit_status = 2


class InputError(WorkstationError):
    """A file, folder or argument that cannot be used (names the file or argument)."""


class DicomError(InputError):
    """A DICOM file or series that cannot be read or assembled."""


class FindingsError(InputError):
    """A findings document that fails validation (names the field)."""


class LimitError(InputError):
    """An input beyond one of the configured limits (size, count, depth); names the limit."""


def one_line(text: str, limit: int = MAX_LINE) -> str:
    """``text`` as one printable line of at most ``limit`` characters (control characters and
    line breaks become spaces; an over-long line ends in an ellipsis)."""
    s = _CONTROL.sub(" ", str(text)).strip()
    s = re.sub(r" {2,}", " ", s)
    return s if len(s) <= limit else s[: limit - 1].rstrip() + "\u2026"


def is_ours(exc: BaseException) -> bool:
    """Whether ``exc`` was raised in this project's own code (its innermost frame is ours): an
    internal error, as opposed to a dependency failing on its input."""
    tb = exc.__traceback__
    last = None
    while tb is not None:
        last = tb
        tb = tb.tb_next
    if last is None:
        return False
    return os.path.abspath(last.tb_frame.f_code.co_filename).startswith(_OUR_CODE)


def kind_of(exc: BaseException) -> str:
    """``"input"`` (bad input, exit 2), ``"internal"`` (our own bug, exit 1)."""
    if isinstance(exc, WorkstationError):
        return "input"
    if isinstance(exc, (MemoryError, RecursionError, OSError)) or not isinstance(exc, Exception):
        return "input"  # resources exhausted by an input, the file system, a native decoder's panic
    return "internal" if is_ours(exc) else "input"


def _dependency_phrase(exc: BaseException) -> str:
    if isinstance(exc, MemoryError):
        return "not enough memory to read it"
    if isinstance(exc, RecursionError):
        return "nested too deeply to read"
    if isinstance(exc, OSError):
        reason = exc.strerror or type(exc).__name__
        return f"cannot be read ({reason})"
    if not isinstance(exc, Exception):
        return f"a decoder failed on it ({type(exc).__name__})"
    return f"could not be read ({type(exc).__name__})"


def user_line(exc: BaseException, where: str | None = None, log: str | None = None) -> str:
    """The one line a person sees for ``exc``. A :class:`WorkstationError` is its own message; any
    other exception is named by its type only (its text can quote file bytes), with ``where``
    (the file or field) and ``log`` (where the detail went) when known."""
    if isinstance(exc, WorkstationError):
        return one_line(str(exc))
    tail = f"; details in {log}" if log else ""
    if kind_of(exc) == "internal":
        where_part = f" while processing {where}" if where else ""
        text = f"internal error ({type(exc).__name__}){where_part}{tail}"
    else:
        text = f"{where or 'input'}: {_dependency_phrase(exc)}{tail}"
    if len(text) > MAX_LINE and log:  # the log's path is the first thing to give up
        text = text[: -len(tail)]
    return one_line(text)


def report(exc: BaseException, where: str | None = None, context: str = "") -> str:
    """Log ``exc`` (traceback to the detail log, unless it is a plain input error) and return its
    one line. Raises :data:`PASS_THROUGH` exceptions again."""
    if isinstance(exc, PASS_THROUGH):
        raise exc
    log_file = None
    if not isinstance(exc, WorkstationError):
        from .logs import record_failure

        log_file = record_failure(exc, context or (where or ""))
    return user_line(exc, where, log_file)
