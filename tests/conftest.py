"""Shared test paths. ``shared/`` (specs, domain notes, the seed article) lies beside the repository,
as in CI, which clones the project and copies shared/ next to it; RP_SHARED overrides."""
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("RP_SHARED", ROOT.parent / "shared"))
