"""SERVER on the command line and the servers file (format in docs/pacs.md)."""
from __future__ import annotations

import pytest

from workstation.errors import WorkstationError
from workstation.pacs.config import cache_settings, resolve, server_names


def test_addresses():
    web = resolve("https://pacs.example.org:8443/dicom-web/")
    assert (web.kind, web.url, web.verify_tls, web.timeout_s) == (
        "dicomweb", "https://pacs.example.org:8443/dicom-web", True, 10.0)
    dimse = resolve("dicom://PACS@10.1.2.3:104", "MY_WS")
    assert (dimse.kind, dimse.host, dimse.port, dimse.called_aet, dimse.calling_aet) == (
        "dimse", "10.1.2.3", 104, "PACS", "MY_WS")
    assert resolve("dicom://PACS@h:11112").calling_aet == "WORKSTATION"


def test_named_servers(config_dir):
    (config_dir / "servers.toml").write_text('''
[cache]
max_mb = 100

[servers.web]
url = "https://pacs.example.org/dicom-web"
username = "rad"
keyring = true
verify_tls = false
timeout_s = 5

[servers.modality]
host = "127.0.0.1"
port = 4242
called_aet = "ORTHANC"
calling_aet = "READING1"

[servers.short]
url = "dicom://ORTHANC@127.0.0.1:4242"
''')
    assert server_names() == ["modality", "short", "web"]
    web = resolve("web")
    assert (web.name, web.kind, web.username, web.keyring, web.verify_tls, web.timeout_s) == (
        "web", "dicomweb", "rad", True, False, 5)
    m = resolve("modality")
    assert (m.name, m.kind, m.port, m.called_aet, m.calling_aet) == ("modality", "dimse", 4242, "ORTHANC", "READING1")
    assert resolve("modality", "OTHER").calling_aet == "OTHER"  # --aet wins
    assert resolve("short").port == 4242
    assert cache_settings()[1] == 100 * 1024 * 1024


@pytest.mark.parametrize("text, needle", [
    ("[servers.x\n", "not valid TOML"),
    ('[servers.x]\nurl = "http://h/dw"\npassword = "inline"\n', "unknown key 'password'"),
    ('[servers.x]\nhost = "h"\n', "needs host, port"),
    ('[servers.x]\nurl = "http://h/dw"\nverify_tls = "no"\n', "verify_tls"),
    ('[servers.x]\nurl = "http://h/dw"\ntimeout_s = 0\n', "timeout_s"),
    # DICOMweb-only keys on a DIMSE server would look like protection it does not have
    ('[servers.x]\nurl = "dicom://A@h:104"\nverify_tls = true\n', "servers.x.verify_tls: applies to DICOMweb"),
    ('[servers.x]\nhost = "h"\nport = 104\ncalled_aet = "A"\nca_bundle = "/etc/ca.pem"\n', "ca_bundle: applies to"),
    ('[servers.x]\nurl = "dicom://A@h:104"\npassword_env = "P"\n', "servers.x.password_env: applies to"),
])
def test_bad_servers_file_names_the_file_and_key(config_dir, text, needle):
    (config_dir / "servers.toml").write_text(text)
    with pytest.raises(WorkstationError, match="servers.toml") as exc:
        resolve("x")
    assert needle in str(exc.value)


def test_warnings_for_risks_the_user_chose(config_dir):
    (config_dir / "servers.toml").write_text('''
[servers.lax]
url = "https://pacs.example.org/dicom-web"
verify_tls = false

[servers.clear]
url = "http://pacs.example.org/dicom-web"
username = "rad"
password_env = "P"

[servers.local]
url = "http://127.0.0.1:8042/dicom-web"
username = "rad"
keyring = true
''')
    assert resolve("lax").warnings() == ["server lax: TLS certificate verification is off (verify_tls = false): "
                                         "the connection is encrypted but the server is not authenticated"]
    assert resolve("clear").warnings() == ["server clear: the password or token is sent unencrypted "
                                           "(http://, not https://)"]
    assert resolve("local").warnings() == []  # loopback: it never leaves the machine
    assert resolve("https://pacs.example.org/dicom-web").warnings() == []


def test_unknown_name(config_dir):
    with pytest.raises(WorkstationError, match="not a server named in"):
        resolve("nowhere")
