"""Security review (issue 11) with inputs the loader's authors had not seen: header values that carry
patient data in places no message should quote, damaged headers of new kinds, and hostile files.

Every run is ``workstation ...`` in a subprocess with an address-space limit and a hang guard; it
must end with exit 0 or 2, at most one stderr line of <= 300 characters, no traceback, and none of
the planted strings on stderr.
"""
from __future__ import annotations

import io
import os
import stat
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "dicom"))
from dicom_synth import stack, write  # noqa: E402
from limited_cli import run_cli  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
PLANTED = {"PatientName": "Zyxwoll^Bertrand", "PatientID": "PIDZX0931", "AccessionNumber": "ACCZX5521",
           "InstitutionName": "ZXInstitute Norbury", "SeriesDescription": "ZXDESC Bertrand Zyxwoll",
           "ReferringPhysicianName": "Quombe^Ottoline"}
NEEDLES = ("Zyxwoll", "Bertrand", "PIDZX0931", "ACCZX5521", "ZXInstitute", "ZXDESC", "Quombe", "Ottoline")
HANG_GUARD_S = 120


CPU_SECONDS = 90


def run(args: list[str], state: Path, cpu: int = CPU_SECONDS) -> subprocess.CompletedProcess[str]:
    """``workstation ARGS`` with at most 3 GiB of address space and ``cpu`` seconds of CPU time."""
    return run_cli(args, state, cpu=cpu, hang_guard_s=HANG_GUARD_S)


def clean(proc: subprocess.CompletedProcess[str]) -> str:
    err = proc.stderr
    assert proc.returncode in (0, 2), (proc.returncode, err[-2000:])
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) <= 1 and all(len(line) <= 300 for line in lines), err[:2000]
    if proc.returncode == 0:
        assert lines == [], err[:2000]
    for s in NEEDLES:
        assert s not in err, (s, err)
    return lines[0] if lines else ""


def planted_series(folder: Path, n: int = 4, **kw) -> list[str]:
    dss = stack(n, **kw)
    for ds in dss:
        for k, v in PLANTED.items():
            setattr(ds, k, v)
    return write(folder, dss)


def patch_element(path: str, tag: int, vr: str, value: bytes) -> None:
    """Rewrite one short-form explicit-VR element of ``path`` with raw ``value`` (any length, any VR):
    headers no DICOM writer would produce."""
    b = Path(path).read_bytes()
    key = struct.pack("<HH", tag >> 16, tag & 0xFFFF)
    i = b.find(key, 132)
    assert i > 0
    n = struct.unpack("<H", b[i + 6:i + 8])[0]
    Path(path).write_bytes(b[:i] + key + vr.encode() + struct.pack("<H", len(value)) + value + b[i + 8 + n:])


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


# -- messages name no patient -------------------------------------------------------------------------
def test_several_series_message_names_uid_number_modality_and_count_not_description(tmp_path, state):
    planted_series(tmp_path / "a", 3, series_uid="1.2.3.4.1")
    planted_series(tmp_path / "b", 2, series_uid="1.2.3.4.2")
    for args in (["probe", str(tmp_path), "--at", "0,0,0"], ["segment", str(tmp_path), "--seed", "0,0,0"],
                 ["probe", f"{tmp_path}#9.9.9", "--at", "0,0,0"]):
        line = clean(run(args, state))
        assert "1.2.3.4.1 (series 3, CT, 3 images)" in line and "1.2.3.4.2 (series 3, CT, 2 images)" in line


def test_several_series_message_does_not_quote_a_malformed_uid_or_modality(tmp_path, state):
    planted_series(tmp_path / "a", 3, series_uid="1.2.3.4.1")
    files = planted_series(tmp_path / "b", 2, series_uid="1.2.3.4.2")
    for f in files:
        patch_element(f, 0x0020000E, "UI", b"Zyxwoll^Bertrand")
        patch_element(f, 0x00080060, "CS", b"ZXDESC\\Quombe")
    line = clean(run(["probe", str(tmp_path), "--at", "0,0,0"], state))
    assert "(malformed UID)" in line


@pytest.mark.parametrize("tag,vr,value", [
    (0x00280004, "CS", b"ZXDESC Bertrand "),       # PhotometricInterpretation: free text where a term goes
    (0x00280030, "DS", b"Zyxwoll\\0.5"),            # PixelSpacing as a name
    (0x00200037, "DS", b"PIDZX0931\\1\\0\\0\\0\\1 "),  # ImageOrientationPatient as text
    (0x00200032, "DS", b"inf\\nan\\1e400 "),         # ImagePositionPatient not finite
    (0x00281053, "DS", b"ACCZX5521 "),              # RescaleSlope as text
    (0x00281053, "DS", b"1e-300"),                  # RescaleSlope that underflows
    (0x00280010, "US", b"\x0c"),                    # Rows with an odd length
    (0x00280100, "US", b"\x07\x00"),                # BitsAllocated 7
    (0x00100010, "US", b"Zyxwoll^Bertrand"),        # PatientName under a numeric VR
])
def test_damaged_header_is_one_clean_line_without_patient_data(tmp_path, state, tag, vr, value):
    for f in planted_series(tmp_path / "s"):
        patch_element(f, tag, vr, value)
    for args in (["info", str(tmp_path / "s")], ["probe", str(tmp_path / "s"), "--at", "-8,-18,32"]):
        clean(run(args, state))


def test_unknown_photometric_interpretation_is_not_quoted(tmp_path, state):
    for f in planted_series(tmp_path / "s"):
        patch_element(f, 0x00280004, "CS", b"ZXDESC Bertrand ")
    line = clean(run(["probe", str(tmp_path / "s"), "--at", "0,0,0"], state))
    assert "PhotometricInterpretation not a defined term" in line


def test_control_characters_in_file_names_do_not_break_the_line(tmp_path, state):
    folder = tmp_path / "s"
    planted_series(folder, 3)
    bad = folder / "x\n\x1b[31mfake line\r.dcm"
    bad.write_bytes(b"\0" * 10)
    proc = run(["info", str(bad)], state)
    line = clean(proc)
    assert proc.returncode == 2 and "\x1b" not in line


# -- state files ------------------------------------------------------------------------------------
def test_detail_log_is_owner_only_in_an_owner_only_folder(tmp_path, state):
    prelude = ("import workstation.dicom.series as s\n"
               "def boom(*a, **k):\n    raise MemoryError('Zyxwoll^Bertrand')\n"
               "s.scan = boom\n")
    code = f"{prelude}import sys\nfrom workstation.cli import main\nsys.exit(main(sys.argv[1:]))\n"
    env = dict(os.environ, WORKSTATION_STATE_DIR=str(state), QT_QPA_PLATFORM="offscreen")
    planted_series(tmp_path / "s", 2)
    proc = subprocess.run([sys.executable, "-c", code, "probe", str(tmp_path / "s"), "--at", "0,0,0"],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=HANG_GUARD_S, check=False)
    clean(proc)
    logs = list(state.rglob("*.log"))
    assert logs, "the failure was logged"
    for log in logs:
        assert stat.S_IMODE(log.stat().st_mode) == 0o600
        assert stat.S_IMODE(log.parent.stat().st_mode) == 0o700


# -- hostile containers and pixel data ---------------------------------------------------------------
def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def test_zip_member_named_with_dot_dot_is_never_written_outside(tmp_path, state):
    files = planted_series(tmp_path / "src", 3)
    members = {f"../../escape{i}.dcm": Path(f).read_bytes() for i, f in enumerate(files)}
    members["/abs/evil.dcm"] = Path(files[0]).read_bytes()
    (tmp_path / "work").mkdir()
    z = _zip(tmp_path / "work" / "x.zip", members)
    clean(run(["info", str(z)], state))
    assert not list(tmp_path.rglob("escape*")) and not Path("/abs/evil.dcm").exists()


def test_zip_inside_a_zip_is_one_clean_line(tmp_path, state):
    files = planted_series(tmp_path / "src", 3)
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as z:
        for f in files:
            z.write(f, Path(f).name)
    outer = _zip(tmp_path / "outer.zip", {"inner.zip": inner.getvalue(), "inner2.dcm": inner.getvalue()})
    clean(run(["info", str(outer)], state))


def test_dicomdir_pointing_at_itself_is_one_clean_line(tmp_path, state):
    from pydicom.fileset import FileSet

    folder = tmp_path / "d"
    planted_series(folder, 2)
    fs = FileSet()
    for f in sorted(folder.glob("*.dcm")):
        fs.add(str(f))
    fs.write(tmp_path / "fs")
    dicomdir = tmp_path / "fs" / "DICOMDIR"
    raw = dicomdir.read_bytes()
    # every ReferencedFileID now names the DICOMDIR itself
    patched = raw.replace(b"PT000000\\ST000000\\SE000000\\IM000000", b"DICOMDIR" + b" " * 28)
    assert patched != raw
    dicomdir.write_bytes(patched)
    clean(run(["info", str(dicomdir)], state))
    clean(run(["info", str(tmp_path / "fs")], state))


def test_zero_byte_files_named_dcm_are_skipped(tmp_path, state):
    folder = tmp_path / "z"
    folder.mkdir()
    for i in range(5):
        (folder / f"empty{i}.dcm").write_bytes(b"")
    line = clean(run(["info", str(folder)], state))
    assert line  # nothing usable: exit 2 naming the folder
    planted_series(folder, 3)
    assert clean(run(["info", str(folder)], state)) == ""


def test_odd_and_undefined_pixel_data_lengths_are_one_clean_line(tmp_path, state):
    files = planted_series(tmp_path / "odd", 3)
    for f in files:  # native Pixel Data one byte short, odd length
        b = Path(f).read_bytes()
        i = b.rfind(b"\xe0\x7f\x10\x00OW")
        n = struct.unpack("<I", b[i + 8:i + 12])[0]
        Path(f).write_bytes(b[:i + 8] + struct.pack("<I", n - 1) + b[i + 12:i + 12 + n - 1])
    clean(run(["probe", str(tmp_path / "odd"), "--at", "0,0,0"], state))
    files = planted_series(tmp_path / "undef", 3)
    for f in files:  # undefined length on native data, no fragments, no delimiter
        b = Path(f).read_bytes()
        i = b.rfind(b"\xe0\x7f\x10\x00OW")
        Path(f).write_bytes(b[:i + 8] + b"\xff\xff\xff\xff" + b[i + 12:])
    clean(run(["probe", str(tmp_path / "undef"), "--at", "0,0,0"], state))


def test_number_of_frames_abc_and_huge_rows_columns_with_tiny_data(tmp_path, state):
    dss = stack(2)
    for ds in dss:
        ds.NumberOfFrames = "2"
    files = write(tmp_path / "abc", dss)
    for f in files:
        patch_element(f, 0x00280008, "IS", b"abc ")
    clean(run(["probe", str(tmp_path / "abc"), "--at", "0,0,0"], state))
    files = planted_series(tmp_path / "huge", 2)
    for f in files:
        patch_element(f, 0x00280010, "US", b"\xff\xff")
        patch_element(f, 0x00280011, "US", b"\xff\xff")
    line = clean(run(["probe", str(tmp_path / "huge"), "--at", "0,0,0"], state))
    assert line  # refused, not allocated


# -- saved reads ------------------------------------------------------------------------------------
def test_saved_read_files_are_owner_only_and_listed_without_patient_data(tmp_path, state):
    from workstation.measure.model import Caliper
    from workstation.session import SessionStore, list_reads

    store = SessionStore.for_study("1.2.826.0.1.3680043.8.498.77", root=state / "sessions")
    store.acquire()
    store.set_source(tmp_path / "Zyxwoll_Bertrand_PIDZX0931", modalities=["CT", "Zyxwoll", "ZXDESC Bertrand"],
                     series=2)
    store.save({"schema": "rp-findings/1.1", "age_years": 50, "x_note": "Zyxwoll Bertrand"},
               [Caliper(label="Quombe", p1=(0.0, 0.0, 0.0), p2=(1.0, 0.0, 0.0))])
    store.archive_current()
    store.save({"schema": "rp-findings/1.1", "age_years": 51}, [])
    store.clean_close()
    files = [p for p in store.dir.rglob("*") if p.is_file()]
    assert any(p.name == "session.json" for p in files)
    for p in files:
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
    for d in [store.dir, *[p for p in store.dir.rglob("*") if p.is_dir()]]:
        assert stat.S_IMODE(d.stat().st_mode) == 0o700, d
    reads = list_reads(state / "sessions", archived=True)
    assert len(reads) == 2
    for r in reads:
        shown = f"{r.label()} {r.summary()} {r.to_dict()}"
        assert r.modalities == ("CT",)
        for s in NEEDLES:
            assert s not in shown


# -- export ------------------------------------------------------------------------------------------
FINDINGS_FILE = ROOT / "tests" / "workstation" / "export" / "cases" / "hematoma.json"


def export(series: Path, out: Path, state: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return run(["export", str(FINDINGS_FILE), "--series", str(series), "--out", str(out), *extra], state)


def test_series_without_birth_date_exports_deidentified_with_no_planted_byte(tmp_path, state):
    """dicom_synth's files, like many real ones, leave type 2 PatientBirthDate out; the SR
    builder refused them ('no attribute PatientBirthDate')."""
    planted_series(tmp_path / "s", 4)
    proc = export(tmp_path / "s", tmp_path / "out", state, "--deidentify")
    assert clean(proc) == ""
    files = list((tmp_path / "out").iterdir())
    assert any(p.name == "report-sr.dcm" for p in files)
    for p in files:
        data = p.read_bytes()
        for s in NEEDLES:
            assert s.encode() not in data, (p.name, s)


@pytest.mark.parametrize("tag,vr,value", [
    (0x00080016, "UI", b"PIDZX0931"),           # SOPClassUID no IOD has
    (0x00100010, "US", b"Zyxwoll^Bertrand"),    # PatientName under a numeric VR
])
def test_export_of_crafted_evidence_is_one_line_naming_the_sr(tmp_path, state, tag, vr, value):
    for f in planted_series(tmp_path / "s"):
        patch_element(f, tag, vr, value)
    line = clean(export(tmp_path / "s", tmp_path / "out", state, "--deidentify"))
    assert line.startswith("workstation: SR export:") and "hematoma" not in line


def test_element_beyond_the_defer_size_is_read_later_from_the_path(tmp_path, state):
    """A 100 KB private element (a Siemens CSA header is often that size) is deferred by the header
    scan; every later access (de-identification walks all elements) failed with AttributeError
    because pydicom took the descriptor's number for the file."""
    dss = stack(3)
    for ds in dss:
        for k, v in PLANTED.items():
            setattr(ds, k, v)
        ds.private_block(0x0029, "SIEMENS CSA HEADER", create=True).add_new(0x10, "OB", b"Zyxwoll" + bytes(100_000))
    write(tmp_path / "s", dss)
    assert clean(export(tmp_path / "s", tmp_path / "out", state, "--deidentify")) == ""
    for p in (tmp_path / "out").iterdir():
        assert b"Zyxwoll" not in p.read_bytes(), p.name
    files = planted_series(tmp_path / "long", 3)
    for f in files:  # a SeriesDescription of 70,000 characters (long form UN: no 2-byte length)
        b = Path(f).read_bytes()
        key = struct.pack("<HH", 0x0008, 0x103E)
        i = b.find(key, 132)
        n = struct.unpack("<H", b[i + 6:i + 8])[0]
        value = b"ZXDESC " * 10_000
        Path(f).write_bytes(b[:i] + key + b"UN\0\0" + struct.pack("<I", len(value)) + value + b[i + 8 + n:])
    assert clean(run(["info", str(tmp_path / "long")], state)) == ""


def test_a_dependency_failure_in_export_names_every_input_not_only_the_findings(tmp_path, state):
    planted_series(tmp_path / "s", 3)
    prelude = ("import workstation.export as e\n"
               "def boom(*a, **k):\n    raise TypeError('Zyxwoll^Bertrand')\n"
               "e.build_sr = boom\n")
    code = f"{prelude}import sys\nfrom workstation.cli import main\nsys.exit(main(sys.argv[1:]))\n"
    env = dict(os.environ, WORKSTATION_STATE_DIR=str(state), QT_QPA_PLATFORM="offscreen")
    (tmp_path / "out").mkdir()
    proc = subprocess.run([sys.executable, "-c", code, "export", str(FINDINGS_FILE), "--series", str(tmp_path / "s"),
                           "--out", str(tmp_path / "out")], capture_output=True, text=True, cwd=ROOT, env=env,
                          timeout=HANG_GUARD_S, check=False)
    line = clean(proc)
    assert f"hematoma.json or {tmp_path / 's'}: could not be read (TypeError)" in line
    assert str(tmp_path / "out") + ":" not in line


def test_zip_of_many_tiny_members_is_scanned_in_bounded_cpu(tmp_path, state):
    """Each member reopened the archive (its whole central directory parsed again): 200,000 empty
    members took minutes. 30,000 must finish within the CPU limit (the old way needs ~10x it)."""
    z = tmp_path / "many.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for i in range(30_000):
            zf.writestr(f"d/{i}.dcm", b"")
    line = clean(run(["info", str(z)], state, cpu=30))
    assert "empty file" in line


def test_misspelt_character_set_still_exports(tmp_path, state):
    """'ISO_IR100' (no space) is a common misspelling in real files; the SR copied it and highdicom
    refused it, so the study could not be exported at all. The SR is written in UTF-8."""
    import pydicom

    dss = stack(3)
    for ds in dss:
        ds.SpecificCharacterSet = "ISO_IR100"
    write(tmp_path / "s", dss)
    assert clean(export(tmp_path / "s", tmp_path / "out", state)) == ""
    assert pydicom.dcmread(tmp_path / "out" / "report-sr.dcm").SpecificCharacterSet == "ISO_IR 192"
    assert clean(export(tmp_path / "s", tmp_path / "out2", state, "--deidentify")) == ""


def test_default_state_folder_is_made_owner_only(tmp_path, monkeypatch):
    from workstation.session import SessionStore

    root = tmp_path / "state"
    monkeypatch.setenv("WORKSTATION_STATE_DIR", str(root))
    store = SessionStore.for_study("1.2.826.0.1.3680043.8.498.78")
    store.acquire()
    store.save({"schema": "rp-findings/1.1"}, [])
    store.release()
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    chosen = tmp_path / "chosen"
    chosen.mkdir(mode=0o755)
    os.chmod(chosen, 0o755)
    other = SessionStore.for_study("1.2.826.0.1.3680043.8.498.79", root=chosen)
    other.acquire()
    other.save({"schema": "rp-findings/1.1"}, [])
    other.release()
    assert stat.S_IMODE(chosen.stat().st_mode) == 0o755  # a folder the caller chose is not changed
    assert stat.S_IMODE(other.dir.stat().st_mode) == 0o700
