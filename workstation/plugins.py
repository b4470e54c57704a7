"""Workstation modules are plugins, declared through the ``workstation.modules`` entry point group.

Each entry point names a module *object* (a class or a factory). The host instantiates it and asks it
for its panels and tools (see ``ui/host.py`` for the host side). The core only discovers and loads;
it never imports a module's Qt code itself.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

GROUP = "workstation.modules"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModuleEntry:
    name: str
    value: str
    factory: Any


def discover(group: str = GROUP) -> tuple[list[ModuleEntry], list[str]]:
    """Load every module declared in ``group``: (entries, problems).

    A module that fails to import is reported in ``problems`` (one line each) and skipped, so one
    broken plugin never keeps the host from starting.
    """
    entries: list[ModuleEntry] = []
    problems: list[str] = []
    for ep in sorted(entry_points(group=group), key=lambda e: e.name):
        try:
            entries.append(ModuleEntry(ep.name, ep.value, ep.load()))
        except Exception as exc:  # a broken plugin must not take the host down
            problems.append(f"module {ep.name} ({ep.value}) failed to load: {exc}")
            log.warning("module %s failed to load: %s", ep.name, exc)
    return entries, problems
