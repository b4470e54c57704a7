"""A real Orthanc started as a plain process for the PACS tests and the benchmark.

``OrthancServer(workdir, aet=..., aet_port=...)`` writes an Orthanc configuration in ``workdir``
(storage and index there, free loopback ports, DICOMweb plugin, no authentication, remote access
refused, the called AE title checked), starts ``Orthanc CONFIG.json`` with ``TCP_NODELAY=1`` in its
environment (Orthanc's DICOM side leaves Nagle on otherwise), polls ``GET /system`` until it
answers and stops it with terminate -> wait -> kill. Orthanc 1.10 has no bind-address option: its
ports listen on every interface, which is why remote access stays refused.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
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


class OrthancServer:
    def __init__(self, workdir: Path, *, aet: str = "WORKSTATION", aet_port: int = 11112,
                 overrides: dict[str, object] | None = None) -> None:
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
        config = {
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
        env = dict(os.environ, TCP_NODELAY="1")
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
        # the test server's own self-signed certificate (HTTPS tests) is not what this checks
        ctx = ssl._create_unverified_context() if self.scheme == "https" else None
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
                  aet: str = "WORKSTATION") -> OrthancServer:
    """A started Orthanc for a test; a missing or broken Orthanc FAILS the test (never a skip)."""
    import pytest

    try:
        return OrthancServer(workdir, aet=aet, aet_port=free_port(), overrides=overrides).start()
    except RuntimeError as exc:
        pytest.fail(f"the PACS tests need a real Orthanc: {exc}", pytrace=False)


def run_cli(*args: str, env: dict[str, str] | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``workstation ARGS`` in a fresh process (the deadline fails the test when exceeded)."""
    import sys

    return subprocess.run([sys.executable, "-m", "workstation.cli", *args], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})
