"""The command's own behaviour: usage errors are one line and exit 2, never a traceback."""
import subprocess
import sys

import pytest

from workstation.cli import main, parse_point
from workstation.errors import WorkstationError


def test_unknown_option_is_one_line_exit_2(capsys):
    assert main(["info", "--no-such-option"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("workstation:")


@pytest.mark.parametrize("text", ["1,2", "a,b,c", "1,2,nan", "1,2,3,4"])
def test_parse_point_rejects_bad_points_naming_the_argument(text):
    with pytest.raises(WorkstationError, match="--at"):
        parse_point(text)


def test_parse_point_accepts_spaces_and_negatives():
    assert parse_point(" -1.5, 2 ,3e1") == (-1.5, 2.0, 30.0)


def test_console_script_runs_without_traceback():
    proc = subprocess.run([sys.executable, "-m", "workstation.cli", "probe", "--bogus"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
