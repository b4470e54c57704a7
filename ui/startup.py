"""Launch timestamps: with ``WORKSTATION_STARTUP_TRACE=1`` each stage of the launch (Qt imported,
window built, first slice found, first paint, loader started, preview replaced, modules active)
is written to stderr as ``startup <seconds since launch> cpu <CPU seconds> [thread] <stage>``.
The launch is measured from the process start (``/proc/self/stat``) where there is one. Used with
``benchmarks/first_image.py`` to see where the time to the first image goes."""
from __future__ import annotations

import os
import sys
import threading
import time

TRACE_ENV = "WORKSTATION_STARTUP_TRACE"
_ON = bool(os.environ.get(TRACE_ENV))


def _process_start() -> float:
    """Wall-clock (epoch) seconds at which this process started, or now when unknown."""
    try:
        with open("/proc/self/stat", "rb") as f:
            ticks = int(f.read().rsplit(b")", 1)[1].split()[19])
        with open("/proc/uptime", "rb") as f:
            uptime = float(f.read().split()[0])
        return time.time() - uptime + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return time.time()


_T0 = _process_start() if _ON else 0.0


def trace(stage: str) -> None:
    """Write one timestamp line for ``stage`` (nothing unless the environment asks for it)."""
    if _ON:
        sys.stderr.write(f"startup {time.time() - _T0:7.3f} cpu {time.process_time():6.3f} "
                         f"[{threading.current_thread().name}] {stage}\n")
