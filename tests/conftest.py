"""Test-run settings. Tests read nothing outside the repository: the interface they check is the
project's own (docs/), and the data is the sample study, pydicom's files and generated cases."""
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def pytest_configure(config):
    """Keep the run away from the user's own autosaves and Qt settings: a fresh state folder and
    config home per run (set before any QApplication or SessionStore exists)."""
    import tempfile

    run_dir = Path(tempfile.mkdtemp(prefix="rp-tests-"))
    os.environ["WORKSTATION_STATE_DIR"] = str(run_dir / "state")
    os.environ["XDG_CONFIG_HOME"] = str(run_dir / "config")
