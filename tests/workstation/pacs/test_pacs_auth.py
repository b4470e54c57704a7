"""DICOMweb basic authentication from the OS keyring (keyring's real API, with an in-memory backend
installed by ``keyring.set_keyring``) and from an environment variable, against a real Orthanc with
``AuthenticationEnabled`` and ``RegisteredUsers``, over HTTPS: the right password opens it; a wrong
or missing one is ONE line that names the server and never the password (not on screen, not in
the detail log)."""
from __future__ import annotations

import json

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError
from orthanc_server import start_orthanc

from workstation.cli import main
from workstation.logs import log_path

USER, PASSWORD = "dr-who", "tardis-42-Gallifrey"
WRONG = "not-the-password-7"


class MemoryKeyring(KeyringBackend):
    """A keyring that keeps its passwords in a dict (the OS's own is not for tests)."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.passwords: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.passwords.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.passwords[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.passwords.pop((service, username), None) is None:
            raise PasswordDeleteError(username)


@pytest.fixture(scope="module")
def orthanc_auth(tmp_path_factory, sample):
    server = start_orthanc(tmp_path_factory.mktemp("orthanc-auth"), tls=True,
                           overrides={"AuthenticationEnabled": True, "RegisteredUsers": {USER: PASSWORD}})
    try:
        # the fixture's own uploads go through REST with the same user
        server.auth = (USER, PASSWORD)
        server.upload(sample.series[sorted(sample.series)[0]][:2])
        yield server
    finally:
        server.stop()


@pytest.fixture
def memory_keyring():
    before = keyring.get_keyring()
    ring = MemoryKeyring()
    keyring.set_keyring(ring)
    try:
        yield ring
    finally:
        keyring.set_keyring(before)


def _servers(config_dir, orthanc_auth, **extra: object) -> None:
    table = {"url": orthanc_auth.dicomweb_url, "username": USER, "ca_bundle": str(orthanc_auth.tls.ca_pem),
             **extra}
    (config_dir / "servers.toml").write_text(
        "[servers.secure]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in table.items()))


def _fails_in_one_line(capsys, argv: list[str], *needles: str) -> str:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


def _never_shown(capsys, *secrets: str) -> None:
    captured = capsys.readouterr()
    log = log_path().read_text(errors="replace") if log_path().exists() else ""
    for s in secrets:
        assert s not in captured.out and s not in captured.err and s not in log


def test_the_keyring_password_opens_the_server(orthanc_auth, sample, config_dir, memory_keyring, capsys):
    memory_keyring.set_password("rp-workstation", USER, PASSWORD)
    _servers(config_dir, orthanc_auth, keyring=True)
    assert main(["pacs", "echo", "secure"]) == 0
    assert "server secure: answers" in capsys.readouterr().out
    assert main(["pacs", "query", "secure", "--patient-id", sample.patient_id, "--json"]) == 0
    assert [s["study_uid"] for s in json.loads(capsys.readouterr().out)["studies"]] == [sample.study_uid]
    # another service name, from keyring_service
    memory_keyring.set_password("hospital-pacs", USER, PASSWORD)
    memory_keyring.delete_password("rp-workstation", USER)
    _servers(config_dir, orthanc_auth, keyring=True, keyring_service="hospital-pacs")
    assert main(["pacs", "echo", "secure"]) == 0
    _never_shown(capsys, PASSWORD)


def test_a_wrong_keyring_password_is_one_line_without_it(orthanc_auth, config_dir, memory_keyring, capsys):
    memory_keyring.set_password("rp-workstation", USER, WRONG)
    _servers(config_dir, orthanc_auth, keyring=True)
    for action in ("echo", "query"):
        _fails_in_one_line(capsys, ["pacs", action, "secure"],
                           "server secure: HTTP 401: authentication required or refused")
    _never_shown(capsys, WRONG, PASSWORD)


def test_no_keyring_password_is_one_line_naming_where_it_was_looked_for(orthanc_auth, config_dir,
                                                                        memory_keyring, capsys):
    _servers(config_dir, orthanc_auth, keyring=True)
    _fails_in_one_line(capsys, ["pacs", "echo", "secure"],
                       "server secure: no password in the OS keyring for service 'rp-workstation', "
                       f"account '{USER}'")
    # the keyring has a password for another account only: still not used
    memory_keyring.set_password("rp-workstation", "someone-else", PASSWORD)
    _fails_in_one_line(capsys, ["pacs", "echo", "secure"], "server secure: no password in the OS keyring")
    _never_shown(capsys, PASSWORD)


class BrokenKeyring(MemoryKeyring):
    """A backend failing with its own error, not a KeyringError (as a D-Bus one can)."""

    def get_password(self, service: str, username: str) -> str | None:
        raise ConnectionError("org.freedesktop.secrets: no reply")


def test_a_failing_keyring_backend_is_one_line(orthanc_auth, config_dir, capsys):
    before = keyring.get_keyring()
    keyring.set_keyring(BrokenKeyring())
    try:
        _servers(config_dir, orthanc_auth, keyring=True)
        _fails_in_one_line(capsys, ["pacs", "echo", "secure"],
                           "server secure: OS keyring unavailable (ConnectionError)")
    finally:
        keyring.set_keyring(before)


def test_no_password_at_all_is_refused_by_the_server(orthanc_auth, config_dir, capsys):
    _servers(config_dir, orthanc_auth)
    _fails_in_one_line(capsys, ["pacs", "echo", "secure"], "server secure: HTTP 401")


@pytest.mark.parametrize("value, needle", [
    (PASSWORD, None),
    (WRONG, "server secure: HTTP 401: authentication required or refused"),
    ("", "server secure: environment variable RP_TEST_PACS_SECRET is not set"),
])
def test_the_password_from_an_environment_variable(orthanc_auth, config_dir, monkeypatch, capsys, value, needle):
    monkeypatch.setenv("RP_TEST_PACS_SECRET", value)
    _servers(config_dir, orthanc_auth, password_env="RP_TEST_PACS_SECRET")
    if needle is None:
        assert main(["pacs", "echo", "secure"]) == 0
    else:
        _fails_in_one_line(capsys, ["pacs", "echo", "secure"], needle)
    _never_shown(capsys, PASSWORD, WRONG)
