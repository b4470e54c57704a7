"""The coded vocabulary of the exports, read from ``resources/codes.json`` (which says where each
code came from). Standard codes there are copies of ``pydicom.sr.codedict`` entries; private ones
use the project's coding scheme ``99RPWS``, declared in every SR we write."""
from __future__ import annotations

from functools import cache
from typing import Any

from pydicom.sr.coding import Code

from ..resources import load_json

PRIVATE_SCHEME = "99RPWS"


def _code(d: dict[str, Any]) -> Code:
    return Code(value=str(d["value"]), scheme_designator=str(d["scheme"]), meaning=str(d["meaning"]))


@cache
def table() -> dict[str, Any]:
    codes: dict[str, Any] = load_json("codes.json")
    return codes


def code(section: str, key: str) -> Code:
    """``code("lesion", "volume")`` -> the Code recorded under that section and key."""
    try:
        return _code(table()[section][key])
    except KeyError:
        raise KeyError(f"resources/codes.json: no code {section}.{key}") from None


def value_code(section: str, key: str) -> Code:
    """A code from a section's ``values`` table (T categories, stage groups, calls)."""
    try:
        return _code(table()[section]["values"][key])
    except KeyError:
        raise KeyError(f"resources/codes.json: no code {section}.values.{key}") from None


def reverse(section: str, sub: str | None = None) -> dict[tuple[str, str], str]:
    """(scheme, value) -> key for a section (or its ``values``), for reading an SR back."""
    t = table()[section]
    if sub:
        t = t[sub]
    return {(str(d["scheme"]), str(d["value"])): k for k, d in t.items() if isinstance(d, dict) and "value" in d}


def private_scheme() -> dict[str, str]:
    return dict(table()["private_scheme"])
