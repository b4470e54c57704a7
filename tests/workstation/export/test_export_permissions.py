"""Export permissions (docs/cli.md, "File permissions"): an identified export is owner-only
(files 0600, a folder it creates 0700) whatever the umask; a de-identified one is ordinary."""
from __future__ import annotations

import os

import pytest

from workstation.cli import main
from workstation.export import export_study

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")

FINDINGS = {"schema": "rp-findings/1", "age_years": 58, "sex": "female", "greatest_dimension_mm": 121.0,
            "findings": {"necrosis": True}}


@pytest.fixture
def umask022():
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _modes(folder):
    return {p.name: p.stat().st_mode & 0o777 for p in folder.iterdir()}


def test_identified_export_is_owner_only_under_umask_022(ct_series, tmp_path, umask022):
    vol, _ = ct_series
    out = tmp_path / "exports" / "study"
    paths = export_study(FINDINGS, vol, out)
    modes = _modes(out)
    assert set(modes) == {p.name for p in paths.values()} and "report-sr.dcm" in modes
    assert set(modes.values()) == {0o600}, modes
    assert (out.stat().st_mode & 0o777, out.parent.stat().st_mode & 0o777) == (0o700, 0o700)


def test_deidentified_export_is_ordinary_and_consistent_under_umask_022(ct_series, tmp_path, umask022):
    vol, _ = ct_series
    out = tmp_path / "deid"
    export_study(FINDINGS, vol, out, deidentify=True)
    assert set(_modes(out).values()) == {0o644} and out.stat().st_mode & 0o777 == 0o755
    export_study(FINDINGS, vol, out)                      # the same folder, identified: all private
    assert set(_modes(out).values()) == {0o600}
    export_study(FINDINGS, vol, out, deidentify=True)     # and back: all ordinary again
    assert set(_modes(out).values()) == {0o644}


def test_cli_export_is_owner_only_under_umask_022(ct_series, tmp_path, umask022, capsys):
    import json

    _, files = ct_series
    fj = tmp_path / "f.json"
    fj.write_text(json.dumps(FINDINGS))
    out = tmp_path / "cli-out"
    assert main(["export", str(fj), "--series", str(files[0].parent), "--out", str(out)]) == 0
    assert set(_modes(out).values()) == {0o600} and out.stat().st_mode & 0o777 == 0o700
