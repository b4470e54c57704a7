"""A real Orthanc started as a plain process for the PACS tests and the benchmark.

``OrthancServer(workdir, aet=..., aet_port=...)`` writes an Orthanc configuration in ``workdir``
(storage and index there, free loopback ports, DICOMweb plugin, no authentication, remote access
refused, the called AE title checked), starts ``Orthanc CONFIG.json`` with ``TCP_NODELAY=1`` in its
environment (Orthanc's DICOM side leaves Nagle on otherwise), polls ``GET /system`` until it
answers and stops it with terminate -> wait -> kill. Orthanc 1.10 has no bind-address option: its
ports listen on every interface, which is why remote access stays refused.

With ``tls=`` (:func:`self_signed_tls`) it serves HTTPS (``SslEnabled``, ``SslCertificate``: one PEM
with the private key and the certificate). Debian 12's Orthanc 1.10.1 serves HTTPS through civetweb
1.15, which loads ``libssl.so`` at run time and calls ``SSL_get_peer_certificate`` after every
handshake: OpenSSL 3 renamed that function (``SSL_get1_peer_certificate``, same meaning), civetweb
finds no symbol and Orthanc dies of a NULL call (SIGSEGV) on its first HTTPS connection. Where the
system's libssl lacks the old name, :func:`civetweb_openssl3_shim` compiles a two-line
``libssl.so`` that provides it and forwards everything else to the real libssl, and Orthanc is
started with that folder first on ``LD_LIBRARY_PATH``.
"""
from __future__ import annotations

import base64
import contextlib
import ctypes
import ctypes.util
import json
import os
import shutil
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ORTHANC = os.environ.get("ORTHANC_BIN", shutil.which("Orthanc") or "/usr/sbin/Orthanc")
PLUGIN_DIRS = ("/usr/share/orthanc/plugins", "/usr/lib/orthanc", "/usr/local/share/orthanc/plugins")
PLUGIN_NAME = "libOrthancDicomWeb.so"
ORTHANC_AET = "ORTHANC"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def dicomweb_plugin() -> Path:
    for d in PLUGIN_DIRS:
        p = Path(d) / PLUGIN_NAME
        if p.exists():
            return p
    raise RuntimeError(f"Orthanc's DICOMweb plugin {PLUGIN_NAME} not found in {', '.join(PLUGIN_DIRS)}: "
                       "run ./dev setup (Debian packages orthanc, orthanc-dicomweb)")


@dataclass(frozen=True)
class TlsFiles:
    server_pem: Path   # private key + certificate: Orthanc's SslCertificate
    ca_pem: Path       # the certificate alone: what a client trusts (ca_bundle)


def self_signed_tls(folder: Path, hosts: tuple[str, ...] = ("127.0.0.1", "localhost")) -> TlsFiles:
    """A fresh self-signed certificate (its own authority) valid for ``hosts``, made with
    ``cryptography`` (a test dependency)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def alt(h: str) -> x509.GeneralName:
        try:
            return x509.IPAddress(ipaddress.ip_address(h))
        except ValueError:
            return x509.DNSName(h)

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rp-test-pacs")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([alt(h) for h in hosts]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    folder.mkdir(parents=True, exist_ok=True)
    files = TlsFiles(folder / "orthanc.pem", folder / "ca.pem")
    files.server_pem.write_bytes(key_pem + cert_pem)
    files.server_pem.chmod(0o600)
    files.ca_pem.write_bytes(cert_pem)
    return files


_SHIM_C = """\
void *SSL_get1_peer_certificate(const void *ssl);
void *SSL_get_peer_certificate(const void *ssl) { return SSL_get1_peer_certificate(ssl); }
"""


def civetweb_openssl3_shim(folder: Path) -> dict[str, str]:
    """The environment Orthanc's HTTPS needs on this system: {} when the system's libssl still has
    ``SSL_get_peer_certificate`` (OpenSSL 1.1), else ``LD_LIBRARY_PATH`` pointing at a compiled
    ``libssl.so`` that adds it (see the module's docstring)."""
    libname = ctypes.util.find_library("ssl")
    if libname is None:
        raise RuntimeError("no libssl found for Orthanc's HTTPS")
    if hasattr(ctypes.CDLL(libname), "SSL_get_peer_certificate"):
        return {}
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        raise RuntimeError("Orthanc's HTTPS (civetweb) needs a libssl shim on OpenSSL 3 and no C "
                           "compiler (cc) was found to build it: install gcc")
    folder.mkdir(parents=True, exist_ok=True)
    src, lib = folder / "shim.c", folder / "libssl.so"
    src.write_text(_SHIM_C)
    subprocess.run([cc, "-shared", "-fPIC", "-o", str(lib), str(src), "-Wl,--no-as-needed", f"-l:{libname}"],
                   check=True, capture_output=True, timeout=60)
    old = os.environ.get("LD_LIBRARY_PATH")
    return {"LD_LIBRARY_PATH": f"{folder}:{old}" if old else str(folder)}


class OrthancServer:
    def __init__(self, workdir: Path, *, aet: str = "WORKSTATION", aet_port: int = 11112,
                 overrides: dict[str, object] | None = None, tls: TlsFiles | None = None) -> None:
        if not Path(ORTHANC).exists():
            raise RuntimeError(f"Orthanc not found at {ORTHANC}: run ./dev setup (Debian package orthanc)")
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.http_port = free_port()
        self.dicom_port = free_port()
        self.aet = ORTHANC_AET
        self.config_path = self.workdir / "orthanc.json"
        self.log_path = self.workdir / "orthanc.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.tls = tls
        self.env: dict[str, str] = {}
        self.auth: tuple[str, str] | None = None  # (user, password) for the REST calls below
        config: dict[str, object] = {
            "Name": "rp-test-pacs",
            "StorageDirectory": str(self.workdir / "storage"),
            "IndexDirectory": str(self.workdir / "index"),
            "HttpPort": self.http_port,
            "DicomPort": self.dicom_port,
            "DicomAet": self.aet,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": False,
            "HttpServerEnabled": True,
            "DicomServerEnabled": True,
            "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
            "Plugins": [str(dicomweb_plugin())],
            "DicomAlwaysAllowEcho": True,
            "DicomAlwaysAllowFind": True,
            "DicomAlwaysAllowGet": True,
            "DicomAlwaysAllowMove": True,
            "DicomAlwaysAllowStore": True,
            "DicomCheckCalledAet": True,
            "DicomModalities": {"workstation": [aet, "127.0.0.1", aet_port]},
            "StableAge": 1,
            "ConcurrentJobs": 2,
        }
        if tls is not None:
            config.update({"SslEnabled": True, "SslCertificate": str(tls.server_pem)})
            self.env = civetweb_openssl3_shim(self.workdir / "openssl3-shim")
        config.update(overrides or {})
        self.scheme = "https" if config.get("SslEnabled") else "http"
        self.config_path.write_text(json.dumps(config, indent=2))

    # ---------------------------------------------------------------- addresses
    @property
    def http_url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.http_port}"

    @property
    def dicomweb_url(self) -> str:
        return f"{self.http_url}/dicom-web"

    @property
    def dimse_url(self) -> str:
        return f"dicom://{self.aet}@127.0.0.1:{self.dicom_port}"

    # ---------------------------------------------------------------- life cycle
    def start(self, timeout_s: float = 20.0) -> OrthancServer:
        env = dict(os.environ, TCP_NODELAY="1", **self.env)
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen([ORTHANC, str(self.config_path)], cwd=self.workdir, env=env,
                                         stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"Orthanc exited with status {self.proc.returncode}; see {self.log_path}")
            try:
                self.get_json("/system")
                return self
            except urllib.error.HTTPError:  # it answers (e.g. 401 with authentication on)
                return self
            except OSError:
                pass
            with contextlib.suppress(subprocess.TimeoutExpired):  # a wait on the process, not a sleep
                self.proc.wait(timeout=0.05)
        self.stop()
        raise RuntimeError(f"Orthanc did not answer GET /system within {timeout_s:.0f} s; see {self.log_path}")

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None

    def __enter__(self) -> OrthancServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---------------------------------------------------------------- REST
    def request(self, method: str, path: str, data: bytes | None = None,
                content_type: str = "application/dicom") -> bytes:
        req = urllib.request.Request(self.http_url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", content_type)
        if self.auth is not None:
            token = base64.b64encode(":".join(self.auth).encode()).decode()
            req.add_header("Authorization", f"Basic {token}")
        # HTTPS: verified against the test server's own certificate
        ctx = ssl.create_default_context(cafile=str(self.tls.ca_pem)) if self.tls is not None else None
        with urllib.request.urlopen(req, timeout=30, context=ctx) as resp:
            return bytes(resp.read())

    def get_json(self, path: str) -> object:
        return json.loads(self.request("GET", path))

    def upload(self, files: list[Path]) -> list[str]:
        """POST each file to /instances; the Orthanc ids of the studies they went into."""
        studies = []
        for f in files:
            doc = json.loads(self.request("POST", "/instances", f.read_bytes()))
            studies.append(doc["ParentStudy"])
        return sorted(set(studies))

    def study_id(self, study_uid: str) -> str:
        body = json.dumps({"Level": "Study", "Query": {"StudyInstanceUID": study_uid}}).encode()
        ids = json.loads(self.request("POST", "/tools/find", body, "application/json"))
        if not ids:
            raise KeyError(study_uid)
        return str(ids[0])

    def instance_count(self) -> int:
        stats = self.get_json("/statistics")
        assert isinstance(stats, dict)
        return int(stats["CountInstances"])



def start_orthanc(workdir: Path, overrides: dict[str, object] | None = None,
                  aet: str = "WORKSTATION", tls: bool = False) -> OrthancServer:
    """A started Orthanc for a test (HTTPS with a fresh self-signed certificate when ``tls``); a
    missing or broken Orthanc FAILS the test (never a skip)."""
    import pytest

    try:
        files = self_signed_tls(Path(workdir) / "tls") if tls else None
        return OrthancServer(workdir, aet=aet, aet_port=free_port(), overrides=overrides, tls=files).start()
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        pytest.fail(f"the PACS tests need a real Orthanc: {exc}", pytrace=False)


def run_cli(*args: str, env: dict[str, str] | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``workstation ARGS`` in a fresh process (the deadline fails the test when exceeded)."""
    import sys

    return subprocess.run([sys.executable, "-m", "workstation.cli", *args], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})


def one_line_failure(proc: subprocess.CompletedProcess[str], *needles: str) -> str:
    """The CLI failed as a person should see it: exit 2, ONE line on stderr holding ``needles``,
    no traceback; that line."""
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    for n in needles:
        assert n in lines[0], lines[0]
    assert "Traceback" not in proc.stderr
    return lines[0]
