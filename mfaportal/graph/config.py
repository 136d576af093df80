"""Plain configuration for the Graph client: no Django needed to build or use one.

``graph_config_from_settings()`` is the only bridge to Django and imports it lazily, so the
package (and its tests) run without a settings module.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_AUTHORITY_HOST = "https://login.microsoftonline.com"
DEFAULT_GRAPH_URL = "https://graph.microsoft.com"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"

# The system bundle Debian/Ubuntu maintain; certifi is the fallback on other systems.
SYSTEM_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


@dataclass(frozen=True)
class GraphConfig:
    """Where the tenant, the identity platform and Graph are, and how to reach them.

    Frozen and hashable: it keys the per-process cache of MSAL applications.
    """

    tenant_id: str
    client_id: str
    # repr=False keeps the secret out of logs, tracebacks and assertion messages.
    client_secret: str | None = field(default=None, repr=False)
    # PEM file holding the certificate and its private key (certificate credential).
    client_cert_path: str | None = None
    authority_host: str = DEFAULT_AUTHORITY_HOST
    graph_url: str = DEFAULT_GRAPH_URL
    # Extra CA certificates (PEM) trusted for both hosts, on top of the system CAs.
    ca_bundle: str | None = None
    # Seconds for connect and for each read, on every request.
    timeout: float = 30.0
    max_attempts: int = 5
    # Upper bound on the time spent waiting between attempts of one logical request.
    max_retry_seconds: float = 120.0
    # Requests in flight at once (each a $batch of up to 20 calls) for per-user work.
    concurrency: int = 4

    def __post_init__(self) -> None:
        for name in ("authority_host", "graph_url"):
            url = getattr(self, name)
            if urlsplit(url).scheme != "https":
                # MSAL refuses http:// authorities, and tokens must never travel in clear.
                raise ValueError(f"{name} must be an https:// URL, got {url!r}")
            object.__setattr__(self, name, url.rstrip("/"))
        if not self.tenant_id or not self.client_id:
            raise ValueError("tenant_id and client_id are required")
        if not self.client_secret and not self.client_cert_path:
            raise ValueError("a client secret or a client certificate path is required")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")

    @property
    def authority(self) -> str:
        return f"{self.authority_host}/{self.tenant_id}"

    @property
    def graph_host(self) -> str:
        return urlsplit(self.graph_url).netloc


def graph_config_from_settings() -> GraphConfig:
    """Build the config from ``django.conf.settings`` (MFAPORTAL_* names)."""
    # Imported here so the package stays importable (and testable) without Django.
    from django.conf import settings

    def setting(name: str, default: str = "") -> str:
        value = getattr(settings, name, default)
        return str(value) if value is not None else default

    return GraphConfig(
        tenant_id=setting("MFAPORTAL_TENANT_ID"),
        client_id=setting("MFAPORTAL_CLIENT_ID"),
        client_secret=setting("MFAPORTAL_CLIENT_SECRET") or None,
        client_cert_path=setting("MFAPORTAL_CLIENT_CERT_PATH") or None,
        authority_host=setting("MFAPORTAL_AUTHORITY_HOST") or DEFAULT_AUTHORITY_HOST,
        graph_url=setting("MFAPORTAL_GRAPH_URL") or DEFAULT_GRAPH_URL,
        ca_bundle=setting("MFAPORTAL_CA_BUNDLE") or None,
        timeout=float(getattr(settings, "MFAPORTAL_GRAPH_TIMEOUT", 30.0) or 30.0),
        concurrency=max(1, int(getattr(settings, "MFAPORTAL_GRAPH_CONCURRENCY", 4) or 4)),
    )


_bundle_lock = threading.Lock()
_bundle_paths: dict[str, str] = {}


def system_ca_bundle() -> str:
    """The CA file the machine trusts: Debian's bundle when present, else certifi's."""
    if SYSTEM_CA_BUNDLE.is_file():
        return str(SYSTEM_CA_BUNDLE)
    import certifi

    return certifi.where()


def ca_bundle_path(extra_ca_file: str | None) -> str:
    """Path of a PEM bundle to pass as ``verify=``: system CAs plus ``extra_ca_file``.

    requests' ``verify=`` takes one file and *replaces* the default trust store, so trusting
    one more CA means writing a combined file. It is written once per process per content.
    """
    base = system_ca_bundle()
    if not extra_ca_file:
        return base
    extra_pem = Path(extra_ca_file).read_bytes()
    if b"-----BEGIN CERTIFICATE-----" not in extra_pem:
        raise ValueError(f"{extra_ca_file} holds no PEM certificate")
    combined = Path(base).read_bytes().rstrip(b"\n") + b"\n" + extra_pem
    digest = hashlib.sha256(combined).hexdigest()[:16]
    with _bundle_lock:
        cached = _bundle_paths.get(digest)
        if cached and os.path.exists(cached):
            return cached
        target = Path(tempfile.gettempdir()) / f"mfaportal-ca-bundle-{digest}.pem"
        # Write under a unique name then rename, so a concurrent reader never sees half a file.
        fd, partial = tempfile.mkstemp(dir=target.parent, prefix=target.name, suffix=".part")
        with os.fdopen(fd, "wb") as handle:
            handle.write(combined)
        os.replace(partial, target)
        _bundle_paths[digest] = str(target)
        return str(target)
