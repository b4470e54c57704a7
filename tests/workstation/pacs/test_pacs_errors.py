"""A PACS that cannot be reached, refuses, stays silent or answers wrongly: exit 2, ONE line that
names the server and the cause, within 15 s (the subprocess deadline fails the test otherwise); no
credential ever printed."""
from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from conftest import run_cli, start_orthanc
from orthanc_server import free_port

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
