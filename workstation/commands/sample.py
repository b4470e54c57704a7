"""``workstation sample``: the path of the bundled synthetic study (generated into the user's cache on
first use when the installed package does not carry its files)."""
from __future__ import annotations

import argparse

from ..resources import sample_study


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help='print {"path": ...} instead of the bare path')


def run(args: argparse.Namespace) -> int:
    path = sample_study()
    if args.json:
        from ..cli import print_json

        print_json({"path": str(path)})
    else:
        print(path)
    return 0
