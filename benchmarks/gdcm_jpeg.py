"""JPEG Lossless SV1 Pixel Data encoded by GDCM through SimpleITK (pydicom has no encoder for that
syntax): one home for the benchmark (benchmarks/load.py) and the decoding tests
(tests/workstation/dicom/test_decode.py), which put this folder on their import path."""
from __future__ import annotations

import os

import numpy as np


def gdcm_jpeg_lossless(arr: np.ndarray, tmp: str) -> bytes:
    """The encapsulated Pixel Data GDCM writes for the 2-D ``arr`` as JPEG Lossless SV1. GDCM writes
    a whole file: ``tmp`` is its name (removed again before this returns)."""
    import pydicom
    import SimpleITK as sitk
    from pydicom.uid import JPEGLosslessSV1

    w = sitk.ImageFileWriter()
    w.SetImageIO("GDCMImageIO")
    w.SetUseCompression(True)
    w.SetCompressor("JPEG")
    w.SetFileName(tmp)
    try:
        w.Execute(sitk.GetImageFromArray(arr))
        ds = pydicom.dcmread(tmp)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    if ds.file_meta.TransferSyntaxUID != JPEGLosslessSV1:
        raise RuntimeError(f"GDCM wrote {ds.file_meta.TransferSyntaxUID}, not JPEG Lossless SV1")
    return bytes(ds.PixelData)
