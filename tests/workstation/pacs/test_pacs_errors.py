"""A PACS that cannot be reached, refuses, stays silent or answers wrongly: exit 2, ONE line that
names the server and the cause, within 15 s (the subprocess deadline fails the test otherwise); no
credential ever printed."""
from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from orthanc_server import free_port, one_line_failure, run_cli, start_orthanc

DEADLINE_S = 15


@contextmanager
def silent_server() -> Iterator[int]:
    """A TCP port that accepts connections (the kernel completes the handshake) and never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield int(s.getsockname()[1])


@pytest.mark.parametrize("kind", ["dicomweb", "dimse"])
def test_unreachable_port(kind):
    port = free_port()
    url = f"http://127.0.0.1:{port}/dicom-web" if kind == "dicomweb" else f"dicom://PACS@127.0.0.1:{port}"
    proc = run_cli("pacs", "echo", url, timeout=DEADLINE_S)
    one_line_failure(proc, url, "connection refused")


@pytest.mark.parametrize("url", ["https://no-such-host.invalid/dicom-web", "dicom://PACS@no-such-host.invalid:104"])
def test_unknown_host_name(url):
    one_line_failure(run_cli("pacs", "echo", url, timeout=DEADLINE_S), f"server {url}: host name not found")


@pytest.mark.parametrize("kind", ["dicomweb", "dimse"])
def test_server_that_never_answers_times_out(kind, tmp_path):
    with silent_server() as port:
        url = f"http://127.0.0.1:{port}/dicom-web" if kind == "dicomweb" else f"dicom://PACS@127.0.0.1:{port}"
        proc = run_cli("pacs", "query", url, "--json", timeout=DEADLINE_S)
    one_line_failure(proc, url, "no answer within")
    assert proc.stdout == ""


def test_wrong_called_ae_title_is_refused(orthanc):
    url = f"dicom://NOT_ORTHANC@127.0.0.1:{orthanc.dicom_port}"
    proc = run_cli("pacs", "echo", url, timeout=DEADLINE_S)
    one_line_failure(proc, url, "rejected", "called AE title")


def test_wrong_dicomweb_root_is_named(orthanc, tmp_path):
    url = f"{orthanc.http_url}/no-such-root"
    proc = run_cli("pacs", "retrieve", url, "1.2.3", "--out", str(tmp_path / "out"), timeout=DEADLINE_S)
    one_line_failure(proc, url, "HTTP 404")
    assert not any((tmp_path / "out").rglob("*.dcm"))


def test_unknown_study_is_one_line(server_url, tmp_path):
    proc = run_cli("pacs", "retrieve", server_url, "1.2.3.4.5", "--out", str(tmp_path / "o"),
                   timeout=DEADLINE_S)
    one_line_failure(proc, server_url, "study not found")


def test_credentials_never_printed(tmp_path, config_dir):
    port = free_port()
    (config_dir / "servers.toml").write_text(
        f'[servers.hospital]\nurl = "http://127.0.0.1:{port}/dicom-web"\nusername = "dr-who"\n'
        'password_env = "RP_TEST_PACS_PASSWORD"\n')
    secret = "s3cret-Pa55word"
    env = {"RP_TEST_PACS_PASSWORD": secret}
    proc = run_cli("pacs", "echo", "hospital", env=env, timeout=DEADLINE_S)
    line = one_line_failure(proc, "server hospital", "connection refused")
    assert secret not in line
    # a password inside a URL given on the command line is not printed either
    proc = run_cli("pacs", "echo", f"http://dr-who:{secret}@127.0.0.1:{port}/dicom-web", timeout=DEADLINE_S)
    line = one_line_failure(proc, f"http://127.0.0.1:{port}/dicom-web", "connection refused")
    assert secret not in line


def test_dicomweb_basic_auth_from_an_environment_variable(tmp_path, config_dir):
    """A second Orthanc with authentication on: the password from the environment variable named
    in servers.toml opens it; a wrong one is a one-line HTTP 401."""
    server = start_orthanc(tmp_path / "auth", {"AuthenticationEnabled": True,
                                                "RegisteredUsers": {"dr-who": "tardis-42"}})
    try:
        (config_dir / "servers.toml").write_text(
            f'[servers.secure]\nurl = "{server.dicomweb_url}"\nusername = "dr-who"\n'
            'password_env = "RP_TEST_PACS_PASSWORD"\n')
        ok = run_cli("pacs", "echo", "secure", env={"RP_TEST_PACS_PASSWORD": "tardis-42"}, timeout=DEADLINE_S)
        assert ok.returncode == 0, ok.stderr
        bad = run_cli("pacs", "echo", "secure", env={"RP_TEST_PACS_PASSWORD": "wrong"}, timeout=DEADLINE_S)
        assert "wrong" not in one_line_failure(bad, "server secure", "HTTP 401")
        unset = run_cli("pacs", "echo", "secure", env={"RP_TEST_PACS_PASSWORD": ""}, timeout=DEADLINE_S)
        one_line_failure(unset, "server secure", "RP_TEST_PACS_PASSWORD is not set")
    finally:
        server.stop()


@pytest.mark.parametrize("backend, needle", [
    ("keyring.backends.fail.Keyring", "OS keyring unavailable"),
    ("keyring.backends.null.Keyring", "no password in the OS keyring for service 'rp-workstation', account 'dr-who'"),
])
def test_keyring_without_a_password_is_one_line(config_dir, backend, needle):
    (config_dir / "servers.toml").write_text(
        f'[servers.kr]\nurl = "http://127.0.0.1:{free_port()}/dicom-web"\nusername = "dr-who"\nkeyring = true\n')
    proc = run_cli("pacs", "echo", "kr", env={"PYTHON_KEYRING_BACKEND": backend}, timeout=DEADLINE_S)
    one_line_failure(proc, "server kr", needle)


def test_pacs_that_refuses_our_retrieve(tmp_path, sample):
    """An Orthanc that does not know our AE title and allows C-GET only to known ones: one line that
    names the server and says what was refused, and nothing half-written under --out."""
    server = start_orthanc(tmp_path / "strict", {"DicomAlwaysAllowGet": False, "DicomModalities": {}})
    try:
        server.upload(sample.files[:3])
        out = tmp_path / "out"
        proc = run_cli("pacs", "retrieve", server.dimse_url, sample.study_uid, "--out", str(out),
                       timeout=DEADLINE_S)
        one_line_failure(proc, server.dimse_url, "C-GET", "WORKSTATION")
        assert not [p for p in out.rglob("*") if p.is_file()]
    finally:
        server.stop()


@contextmanager
def server_that_hangs_up_mid_retrieve(series_uid: str) -> Iterator[str]:
    """A DICOMweb server that lists one series (QIDO-RS) and then, asked for its instances
    (WADO-RS), promises a multipart answer, sends part of it and closes the connection."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802
            if self.path.split("?")[0].endswith("/series"):
                body = json.dumps([{"0020000E": {"vr": "UI", "Value": [series_uid]},
                                    "00201209": {"vr": "IS", "Value": [3]}}]).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/dicom+json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            self.send_response(200)
            self.send_header("Content-Type", 'multipart/related; type="application/dicom"; boundary=b0')
            self.send_header("Content-Length", "1000000")
            self.end_headers()
            self.wfile.write(b"--b0\r\nContent-Type: application/dicom\r\n\r\n" + b"\0" * 4096)
            self.wfile.flush()
            self.close_connection = True

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/dicom-web"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_server_hanging_up_mid_retrieve_is_one_line(tmp_path):
    out = tmp_path / "out"
    with server_that_hangs_up_mid_retrieve("1.2.3.4.5") as url:
        proc = run_cli("pacs", "retrieve", url, "1.2.3.4", "--out", str(out), timeout=DEADLINE_S)
    one_line_failure(proc, f"server {url}: answer cut off")
    assert not [p for p in out.rglob("*") if p.is_file()]

