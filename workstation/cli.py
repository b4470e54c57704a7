"""The ``workstation`` command (spec: shared/spec/cli.md).

``workstation [PATH] [--screenshot FILE.png]`` opens the app; ``workstation SUBCOMMAND ...`` runs a
headless command. Each subcommand lives in ``workstation/commands/<name>.py`` and provides
``add_arguments(parser)`` and ``run(args) -> int``. Bad input: exit 2 and one line on stderr.
"""
from __future__ import annotations

import argparse
import importlib
import json
import logging
import re
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from .errors import MAX_LINE, WorkstationError, kind_of, one_line, report, user_line
from .logs import attach as attach_detail_log

#: subcommand -> (module under workstation.commands, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "info": ("info", "list the series found in a folder, DICOMDIR, zip or file"),
    "probe": ("probe", "value at a patient point (LPS mm)"),
    "segment": ("segment", "grow the lesion containing a seed point and measure it"),
    "enhancement": ("enhancement", "pre/post ROI at one patient point, delta HU and call"),
    "assess": ("assess", "validate a findings document and reason over it"),
    "export": ("export", "write findings.json, report.txt and a DICOM SR"),
    "sample": ("sample", "print the path of the bundled synthetic study"),
    "pacs": ("pacs", "find, retrieve and send studies on a PACS (DICOMweb or DIMSE)"),
    "reads": ("reads", "list and export the reads the app saved (no patient data listed)"),
}


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line with exit status 2."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # LPS points are often negative: let "--at -12.5,-3,40" pass as a value, not an option
        self._negative_number_matcher = re.compile(r"^-\d|^-\.\d")

    def error(self, message: str) -> NoReturn:  # noqa: D401 - argparse API
        raise WorkstationError(f"{self.prog}: {message}")


def print_json(doc: Any) -> None:
    """The one JSON document a ``--json`` subcommand prints on stdout."""
    json.dump(doc, sys.stdout, indent=2, allow_nan=False)
    sys.stdout.write("\n")


def parse_point(text: str, name: str = "--at") -> tuple[float, float, float]:
    """``"X,Y,Z"`` -> floats, or a WorkstationError naming the argument."""
    parts = [p.strip() for p in str(text).split(",")]
    try:
        if len(parts) != 3:
            raise ValueError
        pt = tuple(float(p) for p in parts)
    except ValueError:
        raise WorkstationError(f"{name}: expected X,Y,Z in millimetres, got {text!r}") from None
    if not all(map(lambda v: v == v and abs(v) != float("inf"), pt)):
        raise WorkstationError(f"{name}: coordinates must be finite numbers, got {text!r}")
    return pt  # type: ignore[return-value]


def _app_main(argv: Sequence[str]) -> int:
    p = _Parser(prog="workstation", description="Open the workstation on a study (default: the bundled sample).")
    p.add_argument("path", nargs="?", help="folder, DICOMDIR, zip or single DICOM file")
    p.add_argument("--screenshot", metavar="FILE.png", help="save a PNG of the main window once the study is shown, then exit")
    sub = ", ".join(SUBCOMMANDS)
    p.epilog = f"headless subcommands: {sub} (workstation SUBCOMMAND -h)"
    args = p.parse_args(list(argv))
    from ui.app import run_app  # Qt is imported only when the app is opened

    return run_app(args.path, screenshot=args.screenshot)


def _sub_main(name: str, argv: Sequence[str]) -> int:
    modname, helptext = SUBCOMMANDS[name]
    mod = importlib.import_module(f"workstation.commands.{modname}")
    p = _Parser(prog=f"workstation {name}", description=helptext)
    mod.add_arguments(p)
    args = p.parse_args(list(argv))
    return int(mod.run(args) or 0)


def _where(argv: Sequence[str]) -> str | None:
    """The inputs a failure can be about: every argument that names an existing file or folder
    (not the output folder), so that a series' failure is not pinned on the findings file."""
    import os

    found: list[str] = []
    skip = False
    for a in argv:
        if skip:
            skip = False
        elif a in _OUTPUT_OPTIONS:
            skip = True
        elif a and not a.startswith("-") and (os.path.exists(a) or os.path.exists(a.split("#", 1)[0])):
            found.append(a)
    return one_line(" or ".join(found), 160) if found else None


#: options whose value is where a command writes, never what it read
_OUTPUT_OPTIONS = frozenset({"--out", "--screenshot"})


def _setup_logging() -> None:
    """Diagnostics go to the detail log (logs.py), never to the console: stderr carries the one line
    of a failure and nothing else."""
    root = logging.getLogger()
    for h in list(root.handlers):
        if isinstance(h, logging.StreamHandler) and getattr(h, "stream", None) in (sys.stderr, sys.stdout):
            root.removeHandler(h)
    if attach_detail_log(logging.WARNING) is None:
        root.addHandler(logging.NullHandler())
        logging.captureWarnings(True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; the error boundary: every failure is one line on stderr (exit 2 for bad
    input, 1 for our own bug), its detail in the log; Ctrl+C is exit 130."""
    argv = list(sys.argv[1:] if argv is None else argv)
    _setup_logging()
    try:
        if argv and argv[0] in SUBCOMMANDS:
            return _sub_main(argv[0], argv[1:])
        return _app_main(argv)
    except KeyboardInterrupt:
        return 130
    except SystemExit:
        raise
    except BrokenPipeError:
        return 0
    except WorkstationError as exc:
        _print_line(user_line(exc))
        return exc.exit_status
    except BaseException as exc:  # noqa: B036 - the boundary: a native decoder's panic is a BaseException
        line = report(exc, _where(argv[1:] if argv and argv[0] in SUBCOMMANDS else argv),
                      context=f"workstation {' '.join(argv[:1])}")
        _print_line(line)
        return 1 if kind_of(exc) == "internal" else 2


def _print_line(line: str) -> None:
    try:
        sys.stderr.write(f"workstation: {line}"[:MAX_LINE] + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    sys.exit(main())
