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
# The worldwide cloud's app-only scope. A config's own scope follows its Graph URL (``scope``).
GRAPH_SCOPE = "https://graph.microsoft.com/.default"


@dataclass(frozen=True)
class Cloud:
    """Where one Microsoft cloud keeps its identity platform, Graph and My Sign-Ins."""

    name: str
    authority_host: str
    graph_url: str
    my_sign_ins_url: str


# microsoftgraph/microsoft-graph-docs-contrib, concepts/deployments.md: "Microsoft Graph for US
# Government L4 | https://graph.microsoft.us", "L5 (DOD) | https://dod-graph.microsoft.us",
# "China operated by 21Vianet | https://microsoftgraph.chinacloudapi.cn"; the token service
# is login.microsoftonline.us for both US Government clouds. MicrosoftDocs/entra-docs,
# identity-platform/authentication-national-cloud.md names login.partner.microsoftonline.cn
# for 21Vianet (the Graph page's older login.chinacloudapi.cn is an alias MSAL also knows).
# My Sign-Ins: mysignins.microsoft.us serves both US Government clouds; the 21Vianet address
# is set by MFAPORTAL_MY_SIGN_INS_URL where a tenant's own differs (docs/entra-setup.md).
CLOUDS = {
    "global": Cloud(
        "global",
        DEFAULT_AUTHORITY_HOST,
        DEFAULT_GRAPH_URL,
        "https://mysignins.microsoft.com/security-info",
    ),
    "usgov": Cloud(
        "usgov",
        "https://login.microsoftonline.us",
        "https://graph.microsoft.us",
        "https://mysignins.microsoft.us/security-info",
    ),
    "dod": Cloud(
        "dod",
        "https://login.microsoftonline.us",
        "https://dod-graph.microsoft.us",
        "https://mysignins.microsoft.us/security-info",
    ),
    "china": Cloud(
        "china",
        "https://login.partner.microsoftonline.cn",
        "https://microsoftgraph.chinacloudapi.cn",
        "https://mysignins.azure.cn/security-info",
    ),
}


def cloud_named(name: str) -> Cloud:
    cloud = CLOUDS.get((name or "global").strip().lower())
    if cloud is None:
        raise ValueError(f"MFAPORTAL_CLOUD must be one of {', '.join(CLOUDS)}, not {name!r}")
    return cloud


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
    # Which Microsoft cloud (``CLOUDS``): the My Sign-Ins link; the hosts above may differ.
    cloud: str = "global"
    # Where people manage their own security info; empty: the cloud's My Sign-Ins page.
    my_sign_ins: str = ""
    # Keep to the limits Microsoft publishes (the reports' 5 requests per 10 s, half the
    # tenant's per-user read quota) by waiting before sending. Off only against a Graph that
    # keeps no limit (the benchmark's emulator with --no-report-limit); against Microsoft,
    # Graph would answer 429 instead and the client would wait as long after it.
    paced: bool = True

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
        cloud_named(self.cloud)

    @property
    def authority(self) -> str:
        return f"{self.authority_host}/{self.tenant_id}"

    @property
    def graph_host(self) -> str:
        return urlsplit(self.graph_url).netloc

    @property
    def scope(self) -> str:
        """The app-only ``.default`` scope of the Graph this config talks to.

        microsoftgraph/microsoft-graph-docs-contrib, concepts/sdks/national-clouds.md: "Any
        permission scope value (including the `.default` scope) that contains the Microsoft
        Graph domain MUST use the domain of the Microsoft Graph service root endpoint for the
        national cloud deployment", e.g. ``https://graph.microsoft.us/.default``.
        """
        parts = urlsplit(self.graph_url)
        return f"{parts.scheme}://{parts.netloc}/.default"

    @property
    def my_sign_ins_url(self) -> str:
        return self.my_sign_ins or cloud_named(self.cloud).my_sign_ins_url


def graph_config_from_settings() -> GraphConfig:
    """Build the config from ``django.conf.settings`` (MFAPORTAL_* names)."""
    # Imported here so the package stays importable (and testable) without Django.
    from django.conf import settings

    def setting(name: str, default: str = "") -> str:
        value = getattr(settings, name, default)
        return str(value) if value is not None else default

    # The cloud gives the hosts; MFAPORTAL_AUTHORITY_HOST and MFAPORTAL_GRAPH_URL, when set,
    # win (a proxy, the emulator), and the token scope follows the Graph URL in use.
    cloud = cloud_named(setting("MFAPORTAL_CLOUD", "global"))
    return GraphConfig(
        tenant_id=setting("MFAPORTAL_TENANT_ID"),
        client_id=setting("MFAPORTAL_CLIENT_ID"),
        client_secret=setting("MFAPORTAL_CLIENT_SECRET") or None,
        client_cert_path=setting("MFAPORTAL_CLIENT_CERT_PATH") or None,
        authority_host=setting("MFAPORTAL_AUTHORITY_HOST") or cloud.authority_host,
        graph_url=setting("MFAPORTAL_GRAPH_URL") or cloud.graph_url,
        cloud=cloud.name,
        my_sign_ins=setting("MFAPORTAL_MY_SIGN_INS_URL"),
        ca_bundle=setting("MFAPORTAL_CA_BUNDLE") or None,
        timeout=float(getattr(settings, "MFAPORTAL_GRAPH_TIMEOUT", 30.0) or 30.0),
        concurrency=max(1, int(getattr(settings, "MFAPORTAL_GRAPH_CONCURRENCY", 4) or 4)),
        paced=bool(getattr(settings, "MFAPORTAL_GRAPH_PACED", True)),
    )


def my_sign_ins_url_from_settings() -> str:
    """The My Sign-Ins page of the configured cloud (needs no credentials)."""
    from django.conf import settings

    explicit = str(getattr(settings, "MFAPORTAL_MY_SIGN_INS_URL", "") or "")
    return (
        explicit or cloud_named(str(getattr(settings, "MFAPORTAL_CLOUD", "global"))).my_sign_ins_url
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
