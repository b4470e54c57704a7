"""Test-run settings. Tests read nothing outside the repository: the interface they check is the
project's own (docs/), and the data is the sample study, pydicom's files and generated cases."""
import importlib.util
import os
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


def pytest_configure(config):
    """Keep the run away from the user's own autosaves and Qt settings: a fresh state folder and
    config home per run (set before any QApplication or SessionStore exists)."""
    import tempfile

    run_dir = Path(tempfile.mkdtemp(prefix="rp-tests-"))
    os.environ["WORKSTATION_STATE_DIR"] = str(run_dir / "state")
    os.environ["XDG_CONFIG_HOME"] = str(run_dir / "config")
    # nor the user's PACS servers.toml, PACS cache or other XDG folders: a test that does not set its
    # own folder then reads and writes only this run's (no state carried between tests of other runs)
    os.environ["WORKSTATION_CONFIG_DIR"] = str(run_dir / "config" / "rp-workstation")
    os.environ["WORKSTATION_CACHE_DIR"] = str(run_dir / "cache" / "rp-workstation")
    for name in ("XDG_CACHE_HOME", "XDG_STATE_HOME", "XDG_DATA_HOME"):
        os.environ[name] = str(run_dir / name.lower())


@pytest.fixture
def fail_on_call(monkeypatch):
    """``fail_on_call(module, name, n, errno, message)`` replaces the writer ``module.name(path, ...)``
    by one whose ``n``-th call raises ``OSError(errno, message, path)`` (the other calls write);
    returns the real writer, to put back with ``monkeypatch.setattr``."""

    def arm(module: object, name: str, n: int, errno: int, message: str) -> Callable[..., object]:
        real = getattr(module, name)
        calls: list[object] = []

        def failing(path: object, data: object, *args: object, **kwargs: object) -> object:
            calls.append(path)
            if len(calls) == n:
                raise OSError(errno, message, str(path))
            return real(path, data, *args, **kwargs)

        monkeypatch.setattr(module, name, failing)
        return real

    return arm


@pytest.fixture
def benchmark_module() -> Callable[[str], ModuleType]:
    """``benchmark_module("fuzz")`` loads benchmarks/fuzz.py as the module ``ws_fuzz`` (registered in
    sys.modules, where its dataclasses look their module up) and returns it."""

    def load(name: str) -> ModuleType:
        spec = importlib.util.spec_from_file_location(f"ws_{name}", ROOT / "benchmarks" / f"{name}.py")
        assert spec is not None and spec.loader is not None, name
        mod = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = mod
        spec.loader.exec_module(mod)
        return mod

    return load
