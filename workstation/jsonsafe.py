"""Strict JSON for documents people hand us (findings, embedded findings in an SR).

:func:`loads` is :func:`json.loads` with what RFC 8259 leaves open closed: duplicate keys (RFC 8259
section 4: "names within an object SHOULD be unique"; I-JSON, RFC 7493 section 2.3, MUST), the
non-standard ``NaN``/``Infinity`` and numbers that overflow a double (I-JSON section 2.2), nesting
deeper than :data:`MAX_DEPTH` (checked before parsing, so the parser never recurses that far) and
documents larger than :data:`MAX_BYTES`. Every refusal is a :class:`~workstation.errors.FindingsError`
naming the field by its path (``lesion.greatest_dimension_mm``, ``measurements[3]``) and what was
expected, never its value (a key that is not a plain field name is not echoed either).
Syntax errors stay :class:`json.JSONDecodeError` (the caller names line and column).
"""
from __future__ import annotations

import errno
import json
import math
import os
import re
import stat
from typing import Any

from .errors import FindingsError, one_line

#: largest document accepted (a findings document with its measurements is a few hundred KB)
MAX_BYTES = 16 * 1024 * 1024
#: deepest nesting of objects and arrays accepted (findings-v1 nests 4 levels)
MAX_DEPTH = 64

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")


class _NonFinite:
    """Placeholder for a NaN/Infinity or an overflowing number, found again to name its field."""

    def __init__(self, text: str) -> None:
        self.text = text


class _DuplicateKeys(dict):  # type: ignore[type-arg]
    """An object that repeated a key (the repeated name kept to report it)."""

    duplicate: str = ""


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            dup = _DuplicateKeys(out)
            dup.duplicate = k
            return dup
        out[k] = v
    return out


def _float(text: str) -> float | _NonFinite:
    v = float(text)
    return v if math.isfinite(v) else _NonFinite(text)


def _int(text: str) -> int | _NonFinite:
    if len(text) > 400:  # far beyond any double; int() of a huge literal is slow and refused anyway
        return _NonFinite(text)
    return int(text)


def nesting_depth(text: str) -> int:
    """Deepest nesting of ``[``/``{`` outside strings (no parsing, no recursion)."""
    depth = deepest = 0
    for m in _BRACKETS.finditer(_STRING.sub('""', text)):
        depth += 1 if m.group() in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


#: a key named as it is in a message; any other key (free text, long) is not echoed: it may be
#: patient data put where a field name should be
_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def _name(path: list[str | int]) -> str:
    out = ""
    for p in path:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            k = p if _PLAIN_KEY.match(p) else "(a key that is not a field name)"
            out += f".{k}" if out else k
    return one_line(out or "(document)", 120)


def _find_bad(doc: Any) -> tuple[list[str | int], str] | None:
    """Path and problem of the first placeholder or duplicate key (iterative, depth-first)."""
    stack: list[tuple[list[str | int], Any]] = [([], doc)]
    while stack:
        path, v = stack.pop()
        if isinstance(v, _NonFinite):
            return path, "is not a finite number (NaN, Infinity and overflowing numbers are refused)"
        if isinstance(v, _DuplicateKeys):
            return path + [v.duplicate], "appears twice in one object (duplicate keys are refused)"
        if isinstance(v, dict):
            stack.extend((path + [k], x) for k, x in reversed(list(v.items())))
        elif isinstance(v, list):
            stack.extend((path + [i], x) for i, x in reversed(list(enumerate(v))))
    return None


def loads(text: str | bytes, where: str = "", max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH) -> Any:
    """Parse ``text`` strictly; refusals name ``where`` (the file) and the field."""
    prefix = f"{where}: " if where else ""
    size = len(text)
    if size > max_bytes:
        raise FindingsError(f"{prefix}document is {size} bytes, more than the limit of {max_bytes}")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise FindingsError(f"{prefix}not UTF-8 text") from None
    depth = nesting_depth(text)
    if depth > max_depth:
        raise FindingsError(f"{prefix}objects and arrays nested {depth} deep, more than the limit of {max_depth}")
    doc = json.loads(text, object_pairs_hook=_pairs, parse_float=_float, parse_int=_int,
                     parse_constant=_NonFinite)
    bad = _find_bad(doc)
    if bad is not None:
        path, problem = bad
        raise FindingsError(f"{prefix}{_name(path)} {problem}")
    return doc


def read_document(path: str | os.PathLike[str], max_bytes: int = MAX_BYTES) -> str:
    """A UTF-8 text file's content, read only when it is a regular file (a FIFO or a device is
    refused without blocking) of at most ``max_bytes``. Raises what :meth:`pathlib.Path.read_text`
    raises (FileNotFoundError, IsADirectoryError, UnicodeDecodeError, OSError) and
    :class:`FindingsError` for an over-large file."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(errno.EISDIR, "is a folder", str(path))
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        if st.st_size > max_bytes:
            raise FindingsError(f"{path}: {st.st_size} bytes, more than the limit of {max_bytes} for a document")
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise FindingsError(f"{path}: more than the limit of {max_bytes} bytes for a document")
    return data.decode("utf-8")
