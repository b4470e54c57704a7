"""Shared test paths. ``shared/`` (specs, domain notes, the seed article) lies beside the repository,
as in CI, which clones the project and copies shared/ next to it; RP_SHARED overrides."""
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("RP_SHARED", ROOT.parent / "shared"))


def pytest_configure(config):
    """Keep the run away from the user's own autosaves and Qt settings: a fresh state folder and
    config home per run (set before any QApplication or SessionStore exists)."""
    import tempfile

    run_dir = Path(tempfile.mkdtemp(prefix="rp-tests-"))
    os.environ["WORKSTATION_STATE_DIR"] = str(run_dir / "state")
    os.environ["XDG_CONFIG_HOME"] = str(run_dir / "config")
