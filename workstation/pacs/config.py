"""Which PACS to talk to: a URL given on the command line or a named server in the servers file.

SERVER is a DICOMweb base URL (``http(s)://HOST:PORT/ROOT``), a DIMSE address
(``dicom://CALLED_AET@HOST:PORT``) or the name of a ``[servers.NAME]`` table in
``$WORKSTATION_CONFIG_DIR/servers.toml`` (default ``~/.config/rp-workstation/servers.toml``).
Secrets never live in the file: a DICOMweb password or token comes from an environment variable or
the OS keyring, and no message ever contains one. The file format is documented in docs/pacs.md.
"""
from __future__ import annotations

import ipaddress
import os
import re
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import tomllib

from ..errors import WorkstationError
from ..resources import load_json

DEFAULT_AET = "WORKSTATION"
KEYRING_SERVICE = "rp-workstation"
_AET = re.compile(r"^[\x20-\x7e]{1,16}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def pacs_default(key: str) -> Any:
    return load_json("pacs.json")[key]["value"]


def config_dir() -> Path:
    env = os.environ.get("WORKSTATION_CONFIG_DIR")
    return Path(env) if env else Path.home() / ".config" / "rp-workstation"


def servers_file() -> Path:
    return config_dir() / "servers.toml"


@dataclass(frozen=True)
class ServerConfig:
    name: str                    # shown in every message: the server's name or its URL without userinfo
    kind: str                    # "dicomweb" or "dimse"
    url: str = ""                # DICOMweb base URL
    host: str = ""               # DIMSE
    port: int = 0
    called_aet: str = ""
    calling_aet: str = DEFAULT_AET
    username: str | None = None
    password_env: str | None = None
    token_env: str | None = None
    keyring: bool = False
    keyring_service: str = KEYRING_SERVICE
    verify_tls: bool = True
    ca_bundle: str | None = None
    timeout_s: float = 10.0

    def password(self) -> str | None:
        """The DICOMweb password (or bearer token) from the environment or the OS keyring."""
        if self.token_env or self.password_env:
            var = self.token_env or self.password_env or ""
            value = os.environ.get(var)
            if not value:
                raise WorkstationError(f"server {self.name}: environment variable {var} is not set")
            return value
        if self.keyring:
            return _keyring_password(self)
        return None

    def warnings(self) -> list[str]:
        """One line per risk the user chose for this server and should see once per run: TLS
        verification switched off, or credentials sent without TLS to another machine."""
        if self.kind != "dicomweb":
            return []
        parts = urlsplit(self.url)
        if parts.scheme == "https" and not self.verify_tls:
            return [f"server {self.name}: TLS certificate verification is off (verify_tls = false): "
                    "the connection is encrypted but the server is not authenticated"]
        has_secret = bool(self.password_env or self.token_env or self.keyring)
        if parts.scheme == "http" and has_secret and not _is_loopback(parts.hostname or ""):
            return [f"server {self.name}: the password or token is sent unencrypted (http://, not https://)"]
        return []


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _keyring_password(cfg: ServerConfig) -> str:
    import keyring
    account = cfg.username or cfg.name
    try:
        value = keyring.get_password(cfg.keyring_service, account)
    except Exception as exc:  # KeyringError, or a backend's own (D-Bus, Secret Service) error
        raise WorkstationError(f"server {cfg.name}: OS keyring unavailable ({type(exc).__name__})") from None
    if not value:
        raise WorkstationError(f"server {cfg.name}: no password in the OS keyring for service "
                               f"{cfg.keyring_service!r}, account {account!r}")
    return value


def _display_url(url: str) -> str:
    """The URL without user:password@ and without query or fragment."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def parse_dimse_url(url: str, name: str | None = None, calling_aet: str = DEFAULT_AET,
                    timeout_s: float | None = None) -> ServerConfig:
    m = re.fullmatch(r"dicom://([^@/]{1,16})@(\[[^\]]+\]|[^:/@]+):(\d{1,5})/?", url)
    if not m:
        raise WorkstationError(f"{name or 'SERVER'}: expected dicom://CALLED_AET@HOST:PORT")
    called, host, port = m.group(1), m.group(2).strip("[]"), int(m.group(3))
    for aet, what in ((called, "called AE title"), (calling_aet, "calling AE title")):
        if not _AET.match(aet) or aet.strip() == "" or "\\" in aet:
            raise WorkstationError(f"{name or url}: {what} must be 1-16 printable characters")
    if not 0 < port < 65536:
        raise WorkstationError(f"{name or url}: port out of range")
    return ServerConfig(name=name or f"dicom://{called}@{m.group(2)}:{port}", kind="dimse", host=host,
                        port=port, called_aet=called, calling_aet=calling_aet,
                        timeout_s=float(timeout_s or pacs_default("timeout_s")))


def parse_dicomweb_url(url: str, name: str | None = None, **options: Any) -> ServerConfig:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WorkstationError(f"{name or 'SERVER'}: expected http(s)://HOST:PORT/ROOT")
    try:
        _ = parts.port
    except ValueError:
        raise WorkstationError(f"{name or _display_url(url)}: port out of range") from None
    opts = {k: v for k, v in options.items() if v is not None}
    opts.setdefault("timeout_s", float(pacs_default("timeout_s")))
    # userinfo in a URL on the command line is dropped from the name; only a user name is kept
    if parts.username and "username" not in opts:
        opts["username"] = parts.username
    clean = _display_url(url)
    return ServerConfig(name=name or clean, kind="dicomweb", url=clean, **opts)


def load_servers(path: Path | None = None) -> dict[str, Any]:
    """The parsed servers file ({} when there is none)."""
    p = path or servers_file()
    if not p.exists():
        return {}
    try:
        with open(p, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise WorkstationError(f"{p}: not valid TOML ({exc})") from None
    except OSError as exc:
        raise WorkstationError(f"{p}: cannot read ({exc.strerror or exc})") from None


def server_names(path: Path | None = None) -> list[str]:
    servers = load_servers(path).get("servers", {})
    return sorted(servers) if isinstance(servers, dict) else []


_STR_KEYS = ("username", "password_env", "token_env", "keyring_service", "ca_bundle")
#: keys that mean something only for a DICOMweb server (DIMSE here is plain, unencrypted DICOM)
_WEB_KEYS = ("keyring", "verify_tls", *_STR_KEYS)


def check_ca_bundle(label: str, value: str) -> str:
    """The CA bundle path (``~`` expanded) when it is a readable PEM file with at least one
    certificate; else one line starting with ``label`` (where the path was named) and naming the
    path (never its contents)."""
    path = Path(value).expanduser()
    if not path.is_file():
        why = "is a folder, expected a PEM file" if path.is_dir() else "no such file"
        raise WorkstationError(f"{label}: {path}: {why}")
    try:
        ssl.create_default_context(cafile=str(path))
    except ssl.SSLError:
        raise WorkstationError(f"{label}: {path}: holds no PEM certificate") from None
    except OSError as exc:
        raise WorkstationError(f"{label}: {path}: cannot read ({exc.strerror or type(exc).__name__})") from None
    return str(path)


def _from_table(name: str, t: dict[str, Any], calling_aet: str | None, src: Path) -> ServerConfig:
    where = f"{src}: servers.{name}"
    unknown = set(t) - {"url", "host", "port", "called_aet", "calling_aet", "keyring", "verify_tls",
                        "timeout_s", *_STR_KEYS}
    if unknown:
        raise WorkstationError(f"{where}: unknown key {sorted(unknown)[0]!r}")
    timeout = t.get("timeout_s")
    if timeout is not None and (not isinstance(timeout, (int, float)) or not 0 < timeout <= 600):
        raise WorkstationError(f"{where}.timeout_s: expected seconds between 0 and 600")
    aet = str(calling_aet or t.get("calling_aet") or DEFAULT_AET)
    url = t.get("url")
    web_only = sorted(k for k in _WEB_KEYS if k in t)
    if web_only and ("host" in t or (isinstance(url, str) and url.startswith("dicom://"))):
        raise WorkstationError(f"{where}.{web_only[0]}: applies to DICOMweb servers only "
                               "(DIMSE here is plain DICOM, without TLS or passwords)")
    if isinstance(url, str) and url.startswith("dicom://"):
        return parse_dimse_url(url, name, aet, timeout)
    if "host" in t:
        if not isinstance(t.get("port"), int) or not isinstance(t.get("called_aet"), str):
            raise WorkstationError(f"{where}: a DIMSE server needs host, port (integer) and called_aet")
        return parse_dimse_url(f"dicom://{t['called_aet']}@{t['host']}:{t['port']}", name, aet, timeout)
    if not isinstance(url, str):
        raise WorkstationError(f"{where}: needs url (http(s)://... or dicom://...) or host/port/called_aet")
    opts: dict[str, Any] = {k: str(t[k]) for k in _STR_KEYS if k in t}
    for key in ("keyring", "verify_tls"):
        if key in t:
            if not isinstance(t[key], bool):
                raise WorkstationError(f"{where}.{key}: expected true or false")
            opts[key] = t[key]
    if "ca_bundle" in opts:
        if opts.get("verify_tls") is False:
            raise WorkstationError(f"{where}: ca_bundle and verify_tls = false contradict each other "
                                   "(keep ca_bundle: it verifies against that authority)")
        opts["ca_bundle"] = check_ca_bundle(f"{where}.ca_bundle", opts["ca_bundle"])
    return parse_dicomweb_url(url, name, timeout_s=timeout, **opts)


def resolve(spec: str, calling_aet: str | None = None, servers_path: Path | None = None) -> ServerConfig:
    """SERVER as given on the command line (URL or a name in the servers file) -> its config."""
    spec = spec.strip()
    if spec.startswith("dicom://"):
        return parse_dimse_url(spec, None, calling_aet or DEFAULT_AET)
    if re.match(r"^https?://", spec):
        return parse_dicomweb_url(spec)
    src = servers_path or servers_file()
    servers = load_servers(src).get("servers", {})
    if not _NAME.match(spec) or not isinstance(servers, dict) or spec not in servers:
        raise WorkstationError(f"server {spec!r}: not a dicom:// or http(s):// address and not a "
                               f"server named in {src}")
    table = servers[spec]
    if not isinstance(table, dict):
        raise WorkstationError(f"{src}: servers.{spec} must be a table")
    return _from_table(spec, table, calling_aet, src)


def cache_settings(servers_path: Path | None = None) -> tuple[Path, int]:
    """(cache folder, size cap in bytes): ``$WORKSTATION_CACHE_DIR`` or ``$XDG_CACHE_HOME``/
    ``~/.cache`` + ``rp-workstation/pacs``; the cap from ``[cache] max_mb`` in the servers file."""
    env = os.environ.get("WORKSTATION_CACHE_DIR")
    if env:
        root = Path(env)
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        root = (Path(xdg) if xdg else Path.home() / ".cache") / "rp-workstation" / "pacs"
    table = load_servers(servers_path).get("cache", {})
    max_mb = table.get("max_mb", pacs_default("cache_max_mb")) if isinstance(table, dict) else None
    if not isinstance(max_mb, (int, float)) or max_mb <= 0:
        raise WorkstationError(f"{servers_path or servers_file()}: cache.max_mb must be a positive number")
    return root, int(max_mb * 1024 * 1024)
