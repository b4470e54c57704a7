"""DICOMweb over HTTPS against a real Orthanc serving TLS (fixture ``orthanc_tls``: a fresh
self-signed certificate, see orthanc_server.py): certificates are verified by default, a CA bundle
named in the servers file makes every command work, ``verify_tls = false`` works with one warning,
and every TLS or connection failure is ONE line naming the server and the cause, within 15 s (the
subprocess deadline fails the test otherwise), never a traceback."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pydicom
import pytest
from orthanc_server import one_line_failure, run_cli, self_signed_tls
from pydicom.uid import generate_uid

from workstation.atomic import is_temp_name
from workstation.cli import main

DEADLINE_S = 15


def _servers(config_dir: Path, **tables: dict[str, object]) -> None:
    """Write servers.toml with one [servers.NAME] table per keyword."""
    text = ""
    for name, table in tables.items():
        text += f"[servers.{name}]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in table.items()) + "\n"
    (config_dir / "servers.toml").write_text(text)


def _json(capsys, argv: list[str]) -> dict:
    assert main(argv) == 0, capsys.readouterr().err
    captured = capsys.readouterr()
    assert captured.err == ""  # no warning when the certificate is verified
    return json.loads(captured.out)


def test_an_unknown_self_signed_certificate_is_refused_by_default(orthanc_tls, sample, config_dir, tmp_path):
    _servers(config_dir, strict={"url": orthanc_tls.dicomweb_url})
    out = tmp_path / "out"
    for argv in (["echo", "strict"], ["query", "strict", "--json"],
                 ["retrieve", "strict", sample.study_uid, "--out", str(out)]):
        proc = run_cli("pacs", *argv, timeout=DEADLINE_S)
        one_line_failure(proc, "server strict: TLS certificate verification failed (self-signed certificate)",
                         "ca_bundle")
        assert proc.stdout == ""
    assert not [p for p in out.rglob("*") if p.is_file()]
    # the address on the command line: the same refusal, naming the address
    proc = run_cli("pacs", "echo", orthanc_tls.dicomweb_url, timeout=DEADLINE_S)
    one_line_failure(proc, f"server {orthanc_tls.dicomweb_url}: TLS certificate verification failed")


def test_with_its_ca_bundle_echo_query_series_retrieve_and_send_work(orthanc_tls, sample, config_dir,
                                                                     tmp_path, capsys):
    _servers(config_dir, hospital={"url": orthanc_tls.dicomweb_url, "ca_bundle": str(orthanc_tls.tls.ca_pem)})
    assert main(["pacs", "echo", "hospital"]) == 0
    assert "server hospital: answers" in capsys.readouterr().out

    doc = _json(capsys, ["pacs", "query", "hospital", "--patient-id", sample.patient_id, "--json"])
    assert [(s["study_uid"], s["n_instances"]) for s in doc["studies"]] == [(sample.study_uid, len(sample.files))]
    doc = _json(capsys, ["pacs", "series", "hospital", sample.study_uid, "--json"])
    assert {s["series_uid"]: s["n_instances"] for s in doc["series"]} == \
        {uid: len(files) for uid, files in sample.series.items()}

    out = tmp_path / "out"
    doc = _json(capsys, ["pacs", "retrieve", "hospital", sample.study_uid, "--out", str(out), "--json"])
    assert doc == {"study_uid": sample.study_uid, "n_instances": len(sample.files), "out": str(out)}
    files = sorted(p for p in out.rglob("*") if p.is_file())
    assert len(files) == len(sample.files) and not any(is_temp_name(p) for p in files)
    for p in files[:: max(1, len(files) // 20)]:
        got = pydicom.dcmread(p)
        orig = pydicom.dcmread(sample.sop_to_file[got.SOPInstanceUID])
        assert got.file_meta.TransferSyntaxUID == orig.file_meta.TransferSyntaxUID
        assert got.PixelData == orig.PixelData

    # send: one instance of a study of its own, so the sample study's counts stay as they are
    ds = pydicom.dcmread(sample.files[0])
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID = generate_uid(), generate_uid(), generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    sent = tmp_path / "send" / "one.dcm"
    sent.parent.mkdir()
    ds.save_as(sent, enforce_file_format=True)
    assert _json(capsys, ["pacs", "send", "hospital", str(sent.parent), "--json"]) == {"stored": 1, "failed": []}
    study = orthanc_tls.study_id(ds.StudyInstanceUID)  # KeyError when the server did not store it
    assert orthanc_tls.get_json(f"/studies/{study}/instances")[0]["MainDicomTags"]["SOPInstanceUID"] == \
        ds.SOPInstanceUID
    orthanc_tls.request("DELETE", f"/studies/{study}")


def test_verify_tls_false_works_and_warns_once(orthanc_tls, sample, config_dir, tmp_path):
    _servers(config_dir, lax={"url": orthanc_tls.dicomweb_url, "verify_tls": False})
    query = run_cli("pacs", "query", "lax", "--patient-id", sample.patient_id, "--json", timeout=DEADLINE_S)
    assert query.returncode == 0, query.stderr
    assert [s["study_uid"] for s in json.loads(query.stdout)["studies"]] == [sample.study_uid]
    out = tmp_path / "out"
    # a retrieve makes one request per series, 4 at once: still one warning
    retrieve = run_cli("pacs", "retrieve", "lax", sample.study_uid, "--out", str(out), "--json", timeout=60)
    assert retrieve.returncode == 0, retrieve.stderr
    assert json.loads(retrieve.stdout)["n_instances"] == len(sample.files)
    for proc in (query, retrieve):
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1, proc.stderr
        assert lines[0].startswith("workstation: warning: server lax: TLS certificate verification is off")
        assert "verify_tls = false" in lines[0]


def test_a_ca_bundle_of_another_authority_is_refused(orthanc_tls, config_dir, tmp_path):
    other = self_signed_tls(tmp_path / "other")
    _servers(config_dir, wrongca={"url": orthanc_tls.dicomweb_url, "ca_bundle": str(other.ca_pem)})
    one_line_failure(run_cli("pacs", "echo", "wrongca", timeout=DEADLINE_S),
                     "server wrongca: TLS certificate verification failed")


def test_a_certificate_for_another_host_is_refused(orthanc_tls, config_dir):
    """127.0.0.2 reaches the same Orthanc (loopback), but its certificate names 127.0.0.1 and
    localhost only."""
    url = f"https://127.0.0.2:{orthanc_tls.http_port}/dicom-web"
    _servers(config_dir, other={"url": url, "ca_bundle": str(orthanc_tls.tls.ca_pem)})
    one_line_failure(run_cli("pacs", "echo", "other", timeout=DEADLINE_S),
                     "server other: TLS certificate verification failed (the certificate is not valid for "
                     "this host name)")


def test_https_to_a_plain_http_port_and_http_to_a_tls_port(orthanc, orthanc_tls):
    url = f"https://127.0.0.1:{orthanc.http_port}/dicom-web"
    one_line_failure(run_cli("pacs", "echo", url, timeout=DEADLINE_S),
                     f"server {url}: TLS handshake failed (the port does not speak TLS: try http://)")
    url = f"http://127.0.0.1:{orthanc_tls.http_port}/dicom-web"
    one_line_failure(run_cli("pacs", "echo", url, timeout=DEADLINE_S), f"server {url}: ")


@pytest.mark.parametrize("table, needle", [
    ({"ca_bundle": "{tmp}/missing.pem"}, "servers.bad.ca_bundle: {tmp}/missing.pem: no such file"),
    ({"ca_bundle": "{tmp}"}, "servers.bad.ca_bundle: {tmp}: is a folder, expected a PEM file"),
    ({"ca_bundle": "{tmp}/garbage.pem"}, "servers.bad.ca_bundle: {tmp}/garbage.pem: holds no PEM certificate"),
    ({"ca_bundle": "{ca}", "verify_tls": False}, "servers.bad: ca_bundle and verify_tls = false contradict"),
])
def test_an_unusable_ca_bundle_is_one_line_naming_the_key(orthanc_tls, config_dir, tmp_path, table, needle):
    (tmp_path / "garbage.pem").write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    subst = {"tmp": str(tmp_path), "ca": str(orthanc_tls.tls.ca_pem)}
    table = {k: v.format(**subst) if isinstance(v, str) else v for k, v in table.items()}
    _servers(config_dir, bad={"url": orthanc_tls.dicomweb_url, **table})
    line = one_line_failure(run_cli("pacs", "echo", "bad", timeout=DEADLINE_S), needle.format(**subst))
    assert "servers.toml" in line


def test_an_unusable_requests_ca_bundle_is_one_line(orthanc_tls, tmp_path):
    missing = tmp_path / "nowhere.pem"
    proc = run_cli("pacs", "echo", orthanc_tls.dicomweb_url, env={"REQUESTS_CA_BUNDLE": str(missing)},
                   timeout=DEADLINE_S)
    one_line_failure(proc, f"server {orthanc_tls.dicomweb_url}: REQUESTS_CA_BUNDLE: {missing}: no such file")
    # and a usable one is what requests verifies against when the servers file names none
    shutil.copy(orthanc_tls.tls.ca_pem, missing)
    proc = run_cli("pacs", "echo", orthanc_tls.dicomweb_url, env={"REQUESTS_CA_BUNDLE": str(missing)},
                   timeout=DEADLINE_S)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
