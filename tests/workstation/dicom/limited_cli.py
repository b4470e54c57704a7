"""``workstation ARGS`` in a child process with bounded address space and CPU time
(``resource.setrlimit`` in ``preexec_fn``) and a wall-clock timeout that only guards against hangs;
shared by the hostile-input and security-review tests."""
from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
#: address space allowed to one CLI run (the interpreter with numpy, pydicom and a few threads
#: needs well under 1 GiB; the largest legitimate hostile case needs a few MiB)
AS_LIMIT = 3 * 1024 ** 3
CPU_SECONDS = 120
HANG_GUARD_S = 180


def _limits(cpu: int) -> None:  # pragma: no cover - runs in the child
    resource.setrlimit(resource.RLIMIT_AS, (AS_LIMIT, AS_LIMIT))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))


def run_cli(args: list[str], state: Path, prelude: str = "", cpu: int = CPU_SECONDS,
            hang_guard_s: float = HANG_GUARD_S, **env_extra: str) -> subprocess.CompletedProcess[str]:
    """``workstation ARGS`` in a limited subprocess (``cpu`` seconds of CPU time at most, killed after
    ``hang_guard_s`` of wall time); ``prelude`` is Python run first (a monkeypatch)."""
    code = f"{prelude}\nimport sys\nfrom workstation.cli import main\nsys.exit(main(sys.argv[1:]))\n"
    env = dict(os.environ, WORKSTATION_STATE_DIR=str(state), QT_QPA_PLATFORM="offscreen", **env_extra)
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=hang_guard_s, preexec_fn=lambda: _limits(cpu), check=False)
