"""A generated corpus of hostile inputs (issue 11) and the guarded way to run the CLI on them.

Every builder writes its case under a folder and returns what to run. Images carry a planted
patient name and header string (:data:`PLANTED`) that must never reach a message. The runner starts
``python -m workstation.cli`` in a subprocess with an address-space limit and a CPU-time limit
(``resource.setrlimit`` in ``preexec_fn``) and a wall-clock timeout that only guards against hangs.
"""
from __future__ import annotations

import json
import os
import stat
import struct
import subprocess
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from dicom_synth import image, stack, write
from limited_cli import run_cli
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate
from pydicom.sequence import Sequence
from pydicom.uid import RLELossless

PLANTED_NAME = "Quaxley^Zebedine"
PLANTED_ID = "PIDQX7731"
PLANTED_TEXT = "QXPLANTEDHEADERVALUE"
PLANTED = (PLANTED_NAME, "Quaxley", PLANTED_ID, PLANTED_TEXT)


def plant(ds: Dataset) -> Dataset:
    ds.PatientName, ds.PatientID = PLANTED_NAME, PLANTED_ID
    ds.InstitutionName = PLANTED_TEXT
    ds.StudyDescription = ds.SeriesDescription = PLANTED_TEXT
    return ds


def series(folder: Path, n: int = 3, **kw) -> list[str]:
    return write(folder, [plant(ds) for ds in stack(n, **kw)])


# -- DICOM cases -----------------------------------------------------------------------------------
def _rle_declaring(d: Path, name: str, frames: int, fragments: list[bytes]) -> Path:
    """An RLE Lossless file ``d/name`` declaring ``frames`` frames over the given fragments."""
    ds = plant(image())
    ds.file_meta.TransferSyntaxUID = RLELossless
    ds.NumberOfFrames = frames
    ds.PixelData = encapsulate(fragments)
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    d.mkdir(parents=True)
    p = d / name
    ds.save_as(p, enforce_file_format=True)
    return p


def million_frames_compressed(d: Path) -> Path:
    """RLE Lossless file declaring 1,000,000 frames with one 64-byte fragment."""
    return _rle_declaring(d, "million.dcm", 1_000_000, [b"\0" * 64])


def fewer_fragments_than_frames(d: Path) -> Path:
    """RLE Lossless, 2,000 frames declared, 3 fragments present (room in the file for the headers)."""
    return _rle_declaring(d, "fewer.dcm", 2000, [b"\0" * 8000] * 3)


def truncated_native(d: Path) -> Path:
    paths = series(d, 3)
    for p in paths:
        data = Path(p).read_bytes()
        Path(p).write_bytes(data[: len(data) - 100])
    return d


def declared_huge_native(d: Path) -> Path:
    """Rows 65535 x Columns 65535 x 1000 frames declared over a few bytes of native pixel data."""
    ds = plant(image())
    ds.Rows = ds.Columns = 65535
    ds.NumberOfFrames = 1000
    d.mkdir(parents=True)
    p = d / "huge.dcm"
    ds.save_as(p, enforce_file_format=True)
    return p


def huge_rescale(d: Path, slope: str = "1e300") -> Path:
    dss = [plant(ds) for ds in stack(3)]
    for ds in dss:
        ds.add_new(0x00281053, "DS", slope)  # RescaleSlope, written as given
    write(d, dss)
    return d


def empty_modality_lut(d: Path, item: bool = False) -> Path:
    dss = [plant(ds) for ds in stack(3)]
    for ds in dss:
        ds.ModalityLUTSequence = Sequence([Dataset()] if item else [])
    write(d, dss)
    return d


def rle_series(d: Path) -> Path:
    dss = [plant(ds) for ds in stack(3)]
    for ds in dss:
        ds.compress(RLELossless, np.frombuffer(ds.PixelData, "<i2").reshape(ds.Rows, ds.Columns))
    write(d, dss)
    return d


def many_gaps(d: Path, n: int = 1000) -> Path:
    """``n`` tiny slices: the first half 1 mm apart, then each of the rest 126 mm further (125
    missing slices per gap, below any one-gap threshold; together 62,000 invented slices)."""
    z = [k * 1.0 if k < n // 2 else (n // 2) + 126.0 * (k - n // 2) for k in range(n)]
    dss = [plant(image(rows=2, cols=2, k=0, ipp=(0.0, 0.0, zk), instance=k + 1, pixels=np.zeros((2, 2))))
           for k, zk in enumerate(z)]
    write(d, dss)
    return d


def one_far_slice(d: Path) -> Path:
    dss = [plant(ds) for ds in stack(10)]
    dss[-1].ImagePositionPatient = [-10.0, -20.0, 1.0e6]
    write(d, dss)
    return d


def deflate_bomb(d: Path, mib: int = 128) -> Path:
    """A Deflated Explicit VR Little Endian file whose dataset inflates by ~1000:1 (a private OB
    element of ``mib`` MiB of zeros inside the deflate stream)."""
    from pydicom.filereader import _read_file_meta_info, read_preamble
    from pydicom.uid import DeflatedExplicitVRLittleEndian

    ds = plant(image())
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    d.mkdir(parents=True)
    p = d / "deflated.dcm"
    ds.save_as(p, enforce_file_format=True)
    data = p.read_bytes()
    with open(p, "rb") as f:
        read_preamble(f, False)
        _read_file_meta_info(f)
        start = f.tell()
    body = zlib.decompress(data[start:], -zlib.MAX_WBITS)
    co = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    parts = [data[:start], co.compress(body), co.compress(b"\x09\x00\x10\x00LO\x04\x00QXQX"),
             co.compress(b"\x09\x00\x00\x10OB\x00\x00" + struct.pack("<L", mib << 20))]
    zeros = b"\0" * (1 << 20)
    parts += [co.compress(zeros) for _ in range(mib)]
    p.write_bytes(b"".join(parts) + co.flush())
    return p


def dicomdir_loop(d: Path) -> Path:
    """A DICOMDIR (written by pydicom's FileSet) whose first record's next-record offset points
    at itself."""
    import pydicom
    from pydicom.fileset import FileSet

    fs = FileSet()
    for ds in stack(3):
        fs.add(plant(ds))
    fs.write(d)
    p = d / "DICOMDIR"
    dd = pydicom.dcmread(p)
    rec = dd.DirectoryRecordSequence[0]
    rec.OffsetOfTheNextDirectoryRecord = rec.seq_item_tell
    dd.save_as(p)
    return p


# -- file system cases -----------------------------------------------------------------------------
def deep_folders(d: Path, depth: int = 1100) -> Path:
    """``depth`` nested folders (made one by one: Path.mkdir(parents=True) itself recurses)."""
    series(d / "series", 3)
    p = str(d)
    for _ in range(depth):
        p = os.path.join(p, "d")
        os.mkdir(p)
    series(Path(p), 2, series_uid="1.2.826.0.1.3680043.8.498.99")
    return d


def remove_deep(d: Path) -> None:
    """Remove what :func:`deep_folders` made, deepest first (shutil.rmtree recurses too)."""
    p = str(d)
    chain = []
    while os.path.isdir(os.path.join(p, "d")):
        p = os.path.join(p, "d")
        chain.append(p)
    for folder in reversed(chain):
        for name in os.listdir(folder):
            if name != "d":
                os.unlink(os.path.join(folder, name))
        os.rmdir(folder)


def special_files(d: Path) -> Path:
    series(d, 3)
    os.mkfifo(d / "fifo.dcm")
    os.symlink("/dev/zero", d / "zero.dcm")
    return d


def link_loops(d: Path) -> Path:
    series(d / "a", 3)
    os.symlink("..", d / "a" / "up")  # a folder loop
    os.symlink("self.dcm", d / "a" / "self.dcm")  # a link to itself
    return d


# -- zip cases -------------------------------------------------------------------------------------
def zip_bomb(d: Path, members: int = 16, member_mib: int = 24) -> Path:
    """``members`` members of ``member_mib`` MiB of zeros each (about 1000:1)."""
    d.mkdir(parents=True)
    p = d / "bomb.zip"
    zeros = b"\0" * (1024 * 1024)
    with zipfile.ZipFile(p, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        for i in range(members):
            with z.open(f"IM{i:04d}.dcm", "w") as f:
                for _ in range(member_mib):
                    f.write(zeros)
    return p


def zip_declaring_huge(d: Path) -> Path:
    """Small members whose central directory declares 4 GiB each (16 of them: 64 GiB)."""
    d.mkdir(parents=True)
    p = d / "declared.zip"
    with zipfile.ZipFile(p, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for i in range(16):
            z.writestr(f"IM{i:04d}.dcm", b"\0" * 1000)
    data = bytearray(p.read_bytes())
    pos = data.find(b"PK\x01\x02")
    while pos != -1:  # central directory entries: uncompressed size at offset 24
        struct.pack_into("<L", data, pos + 24, 0xFFFFFFF0)
        pos = data.find(b"PK\x01\x02", pos + 4)
    p.write_bytes(bytes(data))
    return p


def zip_lying_small(d: Path, mib: int = 256) -> Path:
    """A member that declares 1,000 bytes but inflates to ``mib`` MiB."""
    d.mkdir(parents=True)
    p = d / "lying.zip"
    zeros = b"\0" * (1024 * 1024)
    with zipfile.ZipFile(p, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as z, \
            z.open("IM0001.dcm", "w", force_zip64=False) as f:
        for _ in range(mib):
            f.write(zeros)
    data = bytearray(p.read_bytes())
    for sig, off in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        pos = data.find(sig)
        struct.pack_into("<L", data, pos + off, 1000)
    p.write_bytes(bytes(data))
    return p


def zip_of_series(d: Path) -> Path:
    series(d / "src", 3)
    p = d / "study.zip"
    with zipfile.ZipFile(p, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for f in sorted((d / "src").iterdir()):
            z.write(f, f.name)
    return p


# -- the checks ------------------------------------------------------------------------------------
def clean(proc: subprocess.CompletedProcess[str], codes: tuple[int, ...] = (0, 2)) -> str:
    """Exit 0 or 2; on failure exactly one stderr line of at most 300 characters; never a
    traceback; no planted patient data anywhere on stderr. Returns the line ("" on success)."""
    err = proc.stderr
    assert proc.returncode in codes, (proc.returncode, err[-2000:])
    assert "Traceback" not in err and "Error:" not in err.split(":", 1)[0]
    lines = err.strip().splitlines()
    if proc.returncode == 0:
        assert lines == [], err[:2000]
        return ""
    assert len(lines) == 1 and len(lines[0]) <= 300, err[:2000]
    for s in PLANTED:
        assert s not in err
    return lines[0]


def info(path: Path, state: Path) -> tuple[subprocess.CompletedProcess[str], dict | None]:
    proc = run_cli(["info", str(path), "--json"], state)
    doc = json.loads(proc.stdout) if proc.returncode == 0 else None
    return proc, doc


def no_planted(doc: dict | None) -> None:
    """The skipped-file reasons never quote header values."""
    for k in (doc or {}).get("skipped", []):
        assert not any(s in k["reason"] for s in PLANTED), k


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


#: hostile files refused in one clean line, with what the line must name (any one of the words)
REFUSED = {
    "a_million_frames_declared_compressed": (million_frames_compressed, ("NumberOfFrames",)),
    "fewer_fragments_than_frames": (fewer_fragments_than_frames, ("fragment",)),
    "truncated_native_pixel_data": (truncated_native, ("truncated", "PixelData")),
    "declared_size_beyond_the_pixel_bytes": (declared_huge_native, ("limit", "PixelData")),
    "zip_bomb_members_not_inflated": (zip_bomb, ("compression ratio",)),
    "zip_declaring_more_than_the_total_limit": (zip_declaring_huge, ("max_zip_total_bytes",)),
    "zip_member_inflating_beyond_its_declared_size": (zip_lying_small, ()),
    "deflate_bomb_before_pydicom_inflates_it": (deflate_bomb, ("deflate bomb",)),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_hostile_file_is_refused_in_one_clean_line(tmp_path, state, case):
    build, words = REFUSED[case]
    proc, _ = info(build(tmp_path / "case"), state)
    line = clean(proc, (2,))
    assert not words or any(w in line for w in words), line


@pytest.mark.parametrize("slope", ["1e300", "inf", "nan", "-1e308"])
def test_overflowing_or_non_finite_rescale_slope_is_refused_naming_the_field(tmp_path, state, slope):
    proc, _ = info(huge_rescale(tmp_path / "r", slope), state)
    assert "RescaleSlope" in clean(proc, (2,))


@pytest.mark.parametrize("item", [False, True])
def test_empty_modality_lut_sequence_is_ignored_with_a_reason(tmp_path, state, item):
    d = empty_modality_lut(tmp_path / "l", item)
    proc, doc = info(d, state)
    clean(proc, (0,))
    assert any("ModalityLUTSequence" in w for w in doc["series"][0]["warnings"])
    probe = run_cli(["probe", str(d), "--at", "-10,-20,32", "--json"], state)
    clean(probe, (0,))
    # the rescale of the file applies: stored 100*k + 10*j + i, intercept -1024 (slice k=1, j=i=0)
    assert json.loads(probe.stdout)["hu"] == pytest.approx(100 - 1024)


def test_many_gaps_never_invent_more_slices_than_the_images(tmp_path, state):
    proc, doc = info(many_gaps(tmp_path / "g"), state)
    clean(proc, (0,))
    images = sum(s["n_images"] for s in doc["series"])
    slices = sum(s["n_slices"] for s in doc["series"])
    assert images == 1000 and slices <= 2 * images
    assert max(s["n_slices"] for s in doc["series"]) <= 1000


def test_one_far_slice_splits_the_stack(tmp_path, state):
    proc, doc = info(one_far_slice(tmp_path / "f"), state)
    clean(proc, (0,))
    assert sorted(s["n_slices"] for s in doc["series"]) == [1, 9]


#: folders and archives that still load their 3 images, with the reason given for what was skipped
LOADED = {
    "deeply_nested_folders_walked_without_recursion": (deep_folders, "nested more than"),
    "link_loops_skipped": (link_loops, "link loop"),
    "dicomdir_records_in_a_loop_fall_back_to_the_folder": (dicomdir_loop, "DICOMDIR records"),
    "a_sound_zip": (zip_of_series, None),
}


@pytest.mark.parametrize("case", sorted(LOADED))
def test_hostile_folder_still_loads_what_it_can(tmp_path, state, case):
    build, reason = LOADED[case]
    try:
        proc, doc = info(build(tmp_path / "case"), state)
    finally:
        remove_deep(tmp_path / "case")  # deep_folders' chain (shutil.rmtree recurses); else nothing
    clean(proc, (0,))
    assert [s["n_images"] for s in doc["series"]] == [3]
    assert reason is None or any(reason in k["reason"] for k in doc["skipped"]), doc["skipped"]
    no_planted(doc)


def test_fifo_and_device_links_named_dcm_are_skipped_unopened(tmp_path, state):
    d = special_files(tmp_path / "s")
    proc, doc = info(d, state)
    clean(proc, (0,))
    reasons = {Path(k["file"]).name: k["reason"] for k in doc["skipped"]}
    assert "FIFO" in reasons["fifo.dcm"] and "device" in reasons["zero.dcm"]
    for name in ("fifo.dcm", "zero.dcm"):  # named alone, too
        proc = run_cli(["info", str(d / name)], state)
        assert "not a regular file" in clean(proc, (2,))


def test_the_voxel_cap_per_series_is_configurable_and_refuses_before_allocating(tmp_path, state):
    d = tmp_path / "v"
    series(d, 3)  # 3 slices of 12 x 10 = 360 voxels
    ok = run_cli(["info", str(d)], state, WORKSTATION_LIMIT_MAX_VOXELS_PER_SERIES="360")
    clean(ok, (0,))
    over = run_cli(["probe", str(d), "--at", "0,0,0"], state, WORKSTATION_LIMIT_MAX_VOXELS_PER_SERIES="359")
    assert "max_voxels_per_series" in clean(over, (2,))


def noise_files(d: Path, mib: int = 15) -> Path:
    """Files of zeros named *.dcm: one bare, one behind a preamble, 'DICM' and a File Meta group."""
    d.mkdir(parents=True)
    (d / "zeros.dcm").write_bytes(b"\0" * (mib << 20))
    uid = b"1.2.840.10008.1.2.1\0"
    el = b"\x02\x00\x10\x00UI" + struct.pack("<H", len(uid)) + uid
    meta = b"\x02\x00\x00\x00UL" + struct.pack("<HL", 4, len(el)) + el
    (d / "dicm-zeros.dcm").write_bytes(b"\0" * 128 + b"DICM" + meta + b"\0" * (mib << 20))
    return d


def test_megabytes_of_noise_named_dcm_are_refused_within_a_few_cpu_seconds(tmp_path, state):
    d = noise_files(tmp_path / "n")
    for path in (d, d / "zeros.dcm", d / "dicm-zeros.dcm"):  # forced parsing took ~9 CPU s per file
        assert "not DICOM" in clean(run_cli(["info", str(path)], state, cpu=8), (2,))


PANIC = """
import pydicom.pixels.decoders.base as _b
class PanicException(BaseException):
    pass
def _panic(*a, **k):
    raise PanicException("decoder panicked on " + "Quaxley^Zebedine")
_b.Decoder.as_array = _panic
_b.Decoder.iter_array = _panic
_b.DecodeRunner.decode = _panic
"""


def test_a_panicking_decoder_is_one_line_and_a_logged_traceback(tmp_path, state):
    d = rle_series(tmp_path / "rle")
    proc = run_cli(["probe", str(d), "--at", "-10,-20,32", "--json"], state, prelude=PANIC)
    line = clean(proc, (2,))
    assert "PanicException" in line
    log = state / "logs" / "workstation.log"
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert stat.S_IMODE(log.parent.stat().st_mode) == 0o700
    assert "PanicException" in log.read_text()


def test_memory_error_anywhere_is_one_line_exit_2(tmp_path, state):
    d = series(tmp_path / "m", 3)
    prelude = ("import numpy as _np\n_z = _np.zeros\n"
               "def _boom(shape, *a, **k):\n"
               "    raise MemoryError('cannot allocate Quaxley^Zebedine')\n"
               "import workstation.dicom.series as _s\n_s.np = type('N', (), {'zeros': staticmethod(_boom),"
               " '__getattr__': lambda self, n: getattr(_np, n)})()\n")
    proc = run_cli(["probe", str(Path(d[0]).parent), "--at", "-10,-20,32"], state, prelude=prelude)
    assert "memory" in clean(proc, (2,))


def test_our_own_bug_is_one_internal_error_line_and_ctrl_c_is_130(tmp_path, state):
    d = tmp_path / "s"
    series(d, 3)
    bug = ("import workstation.dicom.geometry as _g\n"
           "def _bug(*a, **k):\n    return {}['" + PLANTED_TEXT + "']\n"
           "_g.layout_slices = _bug\nimport workstation.dicom.series as _s\n_s.layout_slices = _bug\n")
    proc = run_cli(["probe", str(d), "--at", "0,0,0"], state, prelude=bug)
    assert "cannot be assembled (KeyError)" in clean(proc, (2,))  # that series' files, by type only
    bug = ("import workstation.dicom.series as _s\nimport workstation.dicom.headers as _h\n"
           "_s.Scan.to_json = lambda self: _h.check_rescale(None)\n")  # fails inside our own code
    proc = run_cli(["info", str(d), "--json"], state, prelude=bug)
    assert "internal error (AttributeError)" in clean(proc, (1,))
    ctrl_c = ("import workstation.dicom.series as _s\n"
              "def _stop(*a, **k):\n    raise KeyboardInterrupt\n_s.scan = _stop\n")
    proc = run_cli(["info", str(d)], state, prelude=ctrl_c)
    assert proc.returncode == 130 and "Traceback" not in proc.stderr
