"""A PACS that cannot be reached, refuses, stays silent or answers wrongly: exit 2, ONE line that
names the server and the cause, within 15 s (the subprocess deadline fails the test otherwise); no
credential ever printed."""
from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from orthanc_server import free_port, run_cli, start_orthanc

DEADLINE_S = 15


@contextmanager
def silent_server() -> Iterator[int]:
    """A TCP port that accepts connections (the kernel completes the handshake) and never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield int(s.getsockname()[1])


def _one_line(proc, *needles: str) -> str:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    for n in needles:
        assert n in lines[0], lines[0]
    assert "Traceback" not in proc.stderr
    return lines[0]


@pytest.mark.parametrize("kind", ["dicomweb", "dimse"])
def test_unreachable_port(kind):
    port = free_port()
    url = f"http://127.0.0.1:{port}/dicom-web" if kind == "dicomweb" else f"dicom://PACS@127.0.0.1:{port}"
    proc = run_cli("pacs", "echo", url, timeout=DEADLINE_S)
    _one_line(proc, url, "connection refused")


@pytest.mark.parametrize("kind", ["dicomweb", "dimse"])
def test_server_that_never_answers_times_out(kind, tmp_path):
    with silent_server() as port:
        url = f"http://127.0.0.1:{port}/dicom-web" if kind == "dicomweb" else f"dicom://PACS@127.0.0.1:{port}"
        proc = run_cli("pacs", "query", url, "--json", timeout=DEADLINE_S)
    _one_line(proc, url, "no answer within")
    assert proc.stdout == ""


def test_wrong_called_ae_title_is_refused(orthanc):
    url = f"dicom://NOT_ORTHANC@127.0.0.1:{orthanc.dicom_port}"
    proc = run_cli("pacs", "echo", url, timeout=DEADLINE_S)
    _one_line(proc, url, "rejected", "called AE title")


def test_wrong_dicomweb_root_is_named(orthanc, tmp_path):
    url = f"{orthanc.http_url}/no-such-root"
    proc = run_cli("pacs", "retrieve", url, "1.2.3", "--out", str(tmp_path / "out"), timeout=DEADLINE_S)
    _one_line(proc, url, "HTTP 404")
    assert not any((tmp_path / "out").rglob("*.dcm"))


def test_unknown_study_is_one_line(server_url, tmp_path):
    proc = run_cli("pacs", "retrieve", server_url, "1.2.3.4.5", "--out", str(tmp_path / "o"),
                   timeout=DEADLINE_S)
    _one_line(proc, server_url, "study not found")


def test_credentials_never_printed(tmp_path, config_dir):
    port = free_port()
    (config_dir / "servers.toml").write_text(
        f'[servers.hospital]\nurl = "http://127.0.0.1:{port}/dicom-web"\nusername = "dr-who"\n'
        'password_env = "RP_TEST_PACS_PASSWORD"\n')
    secret = "s3cret-Pa55word"
    env = {"RP_TEST_PACS_PASSWORD": secret}
    proc = run_cli("pacs", "echo", "hospital", env=env, timeout=DEADLINE_S)
    line = _one_line(proc, "server hospital", "connection refused")
    assert secret not in line
    # a password inside a URL given on the command line is not printed either
    proc = run_cli("pacs", "echo", f"http://dr-who:{secret}@127.0.0.1:{port}/dicom-web", timeout=DEADLINE_S)
    line = _one_line(proc, f"http://127.0.0.1:{port}/dicom-web", "connection refused")
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
        assert "wrong" not in _one_line(bad, "server secure", "HTTP 401")
        unset = run_cli("pacs", "echo", "secure", env={"RP_TEST_PACS_PASSWORD": ""}, timeout=DEADLINE_S)
        _one_line(unset, "server secure", "RP_TEST_PACS_PASSWORD is not set")
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
    _one_line(proc, "server kr", needle)


def _self_signed(folder) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 (cryptography, a dependency of keyring on Linux):
    (PEM with key and certificate for Orthanc, PEM with the certificate alone for ca_bundle)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rp-test-pacs")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    both, alone = folder / "orthanc.pem", folder / "ca.pem"
    folder.mkdir(parents=True, exist_ok=True)
    both.write_bytes(key_pem + cert_pem)
    alone.write_bytes(cert_pem)
    return str(both), str(alone)


@contextmanager
def https_qido_server(cert_and_key: str) -> Iterator[int]:
    """A real HTTPS server on loopback (Python's ssl; Orthanc 1.10's own HTTPS crashes on this
    machine's OpenSSL) that answers every QIDO-RS query with no study."""
    import http.server
    import ssl
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "application/dicom+json")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"[]")

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert_and_key)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(httpd.server_address[1])
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_tls_certificates_are_verified_by_default(tmp_path, config_dir):
    """An HTTPS DICOMweb server with a self-signed certificate: refused by default, accepted with
    its certificate as ca_bundle, or with verify_tls = false."""
    both, ca = _self_signed(tmp_path / "tls")
    with https_qido_server(both) as port:
        url = f"https://127.0.0.1:{port}/dicom-web"
        (config_dir / "servers.toml").write_text(
            f'[servers.strict]\nurl = "{url}"\n\n'
            f'[servers.own-ca]\nurl = "{url}"\nca_bundle = "{ca}"\n\n'
            f'[servers.lax]\nurl = "{url}"\nverify_tls = false\n')
        _one_line(run_cli("pacs", "echo", "strict", timeout=DEADLINE_S), "server strict", "TLS")
        for name in ("own-ca", "lax"):
            proc = run_cli("pacs", "echo", name, timeout=DEADLINE_S)
            assert proc.returncode == 0, proc.stderr


def test_pacs_that_refuses_our_retrieve(tmp_path, sample):
    """An Orthanc that does not know our AE title and allows C-GET only to known ones: one line that
    names the server and says what was refused, and nothing half-written under --out."""
    server = start_orthanc(tmp_path / "strict", {"DicomAlwaysAllowGet": False, "DicomModalities": {}})
    try:
        server.upload(sample.files[:3])
        out = tmp_path / "out"
        proc = run_cli("pacs", "retrieve", server.dimse_url, sample.study_uid, "--out", str(out),
                       timeout=DEADLINE_S)
        _one_line(proc, server.dimse_url, "C-GET", "WORKSTATION")
        assert not [p for p in out.rglob("*") if p.is_file()]
    finally:
        server.stop()
