"""Errors the workstation reports to a person: one line that names the file or field.

Anything raised as a :class:`WorkstationError` is shown as its message (CLI: on stderr, exit 2;
app: in the status bar). Messages never carry patient data (names, IDs, dates): they name files,
DICOM keywords and findings fields.
"""
from __future__ import annotations


class WorkstationError(Exception):
    """Bad input or an impossible request, with a message fit to show as is."""

    exit_status = 2


class InputError(WorkstationError):
    """A file, folder or argument that cannot be used (names the file or argument)."""


class DicomError(InputError):
    """A DICOM file or series that cannot be read or assembled."""


class FindingsError(InputError):
    """A findings document that fails validation (names the field)."""
