"""GraphEmulator: Microsoft Graph and the identity platform on one loopback HTTPS port.

    with GraphEmulator(users=1000) as emulator:
        config = emulator.graph_config()     # mfaportal.graph.GraphConfig pointing here
        emulator.faults.add(r"/v1.0/users$", status=429, retry_after=1)
        ...
        emulator.log.matching(r"/v1.0/users")  # what the client sent, and when

The authority host and the Graph base URL are the same ``https://127.0.0.1:PORT``: identity
paths start with the tenant id, Graph paths with ``/v1.0`` or ``/beta``.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import html
import json
import re
import secrets
import shutil
import socket
import ssl
import tempfile
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

import trustme

from .faults import Fault, Faults, LoggedRequest, RequestLog
from .graph_api import GraphApi, Request, Response, graph_error, inner_request
from .tenant import Tenant

if TYPE_CHECKING:
    from mfaportal.graph import GraphConfig

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass
class IssuedToken:
    expires_at: float
    # The user for delegated tokens; None for app-only (client credentials).
    user_id: str | None = None


@dataclass
class PendingCode:
    client_id: str
    redirect_uri: str
    code_challenge: str | None
    nonce: str | None
    user_id: str
    expires_at: float


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _json_b64url(value: Any) -> str:
    return _b64url(json.dumps(value, separators=(",", ":")).encode())


def oauth_error(status: int, error: str, aadsts: str, description: str) -> Response:
    correlation_id = str(uuid.uuid4())
    return Response(
        status,
        {
            "error": error,
            "error_description": f"{aadsts}: {description} Trace ID: {uuid.uuid4()} "
            f"Correlation ID: {correlation_id} Timestamp: {time.strftime('%Y-%m-%d %H:%M:%SZ', time.gmtime())}",
            "error_codes": [int(aadsts.removeprefix("AADSTS"))],
            "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime()),
            "trace_id": str(uuid.uuid4()),
            "correlation_id": correlation_id,
        },
        content_type="application/json; charset=utf-8",
    )


class GraphEmulator:
    def __init__(
        self,
        *,
        users: int = 50,
        domain: str = "contoso.test",
        client_id: str | None = None,
        client_secret: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        latency: float = 0.0,
        read_after_write_lag: float = 0.0,
        page_size: int = 100,
        delta_page_size: int = 100,
        report_page_size: int = 1000,
        token_lifetime: int = 3599,
        state_dir: str | Path | None = None,
        ca: trustme.CA | None = None,
        seed: str | None = None,
    ) -> None:
        # The seed fixes the tenant id and user ids, so a portal's cache stays valid across
        # restarts of a hand-run emulator; tests leave it random so ids never collide.
        self.tenant = Tenant(user_count=users, domain=domain, seed=seed or secrets.token_hex(4))
        self.client_id = client_id or str(uuid.uuid4())
        self.client_secret = client_secret or secrets.token_urlsafe(24)
        self.host = host
        self.faults = Faults()
        self.log = RequestLog()
        # Seconds added to every top-level request (think: a slow tenant).
        self.latency = latency
        # Seconds a per-user MFA state written through Graph may still read as before.
        self.read_after_write_lag = read_after_write_lag
        # The clock rate limits are measured on; tests hand in one their sleeps advance.
        self.clock: Callable[[], float] = time.monotonic
        # Identity and access reports: 5 requests per 10 seconds per app per tenant
        # (concepts/throttling-limits.md); None lifts the limit.
        self.report_limit: tuple[int, float] | None = (5, 10.0)
        self.report_requests: deque[float] = deque()
        self.page_size = page_size
        self.delta_page_size = delta_page_size
        self.report_page_size = report_page_size
        self.token_lifetime = token_lifetime
        # Who "signs in" at /authorize when no login_hint names someone: the first user.
        self.sign_in_user_id = self.tenant.user_id_for(0)
        # How they proved it's them (the access token's amr): a password and MFA by default.
        self.sign_in_amr: list[str] = ["pwd", "mfa"]
        self.tokens: dict[str, IssuedToken] = {}
        self.codes: dict[str, PendingCode] = {}
        self.redeemed_codes: set[str] = set()
        # Requests being answered now, and the most at once so far (proves bounded clients).
        self.in_flight = 0
        self.max_in_flight = 0
        self.graph = GraphApi(self)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._owns_state_dir = state_dir is None
        self.state_dir = Path(state_dir or tempfile.mkdtemp(prefix="graph-emulator-"))
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._ca = ca or trustme.CA()
        self.ca_pem_path = str(self.state_dir / "emulator-ca.pem")
        self._ca.cert_pem.write_to_path(self.ca_pem_path)
        server_cert = self._ca.issue_cert(host, "localhost", "127.0.0.1")
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_cert.configure_cert(context)
        self._server = _Server((host, port), _Handler, emulator=self, context=context)
        self.port = self._server.server_address[1]
        self._thread: threading.Thread | None = None
        self._client_cert_pem: bytes | None = None
        self.client_certificate_path: str | None = None

    # --- addresses and credentials ------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"https://{self.host}:{self.port}"

    @property
    def authority_host(self) -> str:
        return self.base_url

    @property
    def graph_url(self) -> str:
        return self.base_url

    @property
    def tenant_id(self) -> str:
        return self.tenant.tenant_id

    @property
    def authority(self) -> str:
        return f"{self.authority_host}/{self.tenant_id}"

    @property
    def token_endpoint(self) -> str:
        return f"{self.authority}/oauth2/v2.0/token"

    def enable_client_certificate(self) -> str:
        """Register a client certificate for the app; returns the PEM (key + certificate)
        path to use as MFAPORTAL_CLIENT_CERT_PATH."""
        if self.client_certificate_path is None:
            leaf = self._ca.issue_cert("mfaportal-client", key_type=trustme.KeyType.RSA)
            path = self.state_dir / "client-cert.pem"
            leaf.private_key_and_cert_chain_pem.write_to_path(str(path))
            self._client_cert_pem = leaf.cert_chain_pems[0].bytes()
            self.client_certificate_path = str(path)
        return self.client_certificate_path

    def graph_config(self, **overrides: Any) -> GraphConfig:
        """A mfaportal.graph.GraphConfig pointed at this emulator (secret credential)."""
        from mfaportal.graph import GraphConfig

        values: dict[str, Any] = {
            "tenant_id": self.tenant_id,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "authority_host": self.authority_host,
            "graph_url": self.graph_url,
            "ca_bundle": self.ca_pem_path,
            "timeout": 5.0,
        }
        values.update(overrides)
        return GraphConfig(**values)

    def environment(self) -> dict[str, str]:
        """MFAPORTAL_* variables that point the portal at this emulator."""
        return {
            "MFAPORTAL_DIRECTORY": "graph",
            "MFAPORTAL_TENANT_ID": self.tenant_id,
            "MFAPORTAL_CLIENT_ID": self.client_id,
            "MFAPORTAL_CLIENT_SECRET": self.client_secret,
            "MFAPORTAL_AUTHORITY_HOST": self.authority_host,
            "MFAPORTAL_GRAPH_URL": self.graph_url,
            "MFAPORTAL_CA_BUNDLE": self.ca_pem_path,
        }

    def issue_access_token(self, user_id: str | None = None) -> str:
        """A valid bearer token without going through /token (for raw-HTTP tests)."""
        token = "emu." + secrets.token_urlsafe(32)
        with self._lock:
            self.tokens[token] = IssuedToken(time.time() + self.token_lifetime, user_id)
        return token

    def revoke_all_tokens(self) -> None:
        with self._lock:
            self.tokens.clear()

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> GraphEmulator:
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
            name="graph-emulator",
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.close_all_connections()
        self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)
        if self._owns_state_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def __enter__(self) -> GraphEmulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def report_throttled(self) -> float | None:
        """Seconds until a report request would fit the reports' limit, or None if it fits
        now (the request then counts)."""
        if self.report_limit is None:
            return None
        limit, window = self.report_limit
        with self._lock:
            now = self.clock()
            while self.report_requests and self.report_requests[0] <= now - window:
                self.report_requests.popleft()
            if len(self.report_requests) >= limit:
                return self.report_requests[0] + window - now
            self.report_requests.append(now)
            return None

    def wait(self, seconds: float) -> None:
        """Sleep, but wake up at once when the emulator stops."""
        if seconds > 0:
            self._stop.wait(seconds)

    # --- request handling -----------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """Route a top-level request (faults already applied)."""
        if request.path.startswith(("/v1.0/", "/beta/")) or request.path in ("/v1.0", "/beta"):
            unauthorized = self._check_bearer(request)
            if unauthorized:
                return unauthorized
            return self.graph.dispatch(request)
        parts = [p for p in request.path.split("/") if p]
        if len(parts) >= 2:
            tenant, rest = parts[0], "/".join(parts[1:])
            if rest == "v2.0/.well-known/openid-configuration" and request.method == "GET":
                return self.openid_configuration(tenant)
            if rest == "oauth2/v2.0/token" and request.method == "POST":
                return self.token(tenant, request)
            if rest == "oauth2/v2.0/authorize" and request.method == "GET":
                return self.authorize(tenant, request)
            if rest == "discovery/v2.0/keys" and request.method == "GET":
                return Response(200, {"keys": []}, content_type="application/json")
        return graph_error(404, "NotFound", f"No such endpoint: {request.method} {request.path}")

    def dispatch_batch_item(
        self, version: str, item: dict[str, Any], envelope_headers: dict[str, str]
    ) -> tuple[Response, int | None]:
        request = inner_request(version, item)
        fault = self.faults.take(request.method, request.path, batch_item=True)
        answer: Response
        if fault is not None and fault.status is not None:
            if fault.delay:
                self.wait(fault.delay)
            answer = self.fault_response(fault)
        else:
            if fault is not None and fault.delay:
                self.wait(fault.delay)
            answer = self.graph.dispatch(request)
        self.log.append(
            LoggedRequest(
                method=request.method,
                path=request.path,
                query=request.query,
                headers=request.headers,
                body=request.body,
                time=time.monotonic(),
                status=answer.status,
                batch_item=True,
                fault=fault is not None,
            )
        )
        return answer, (fault.envelope_status if fault is not None else None)

    def fault_response(self, fault: Fault) -> Response:
        request_id = str(uuid.uuid4())
        return Response(
            fault.status or 500,
            fault.error_body(request_id, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())),
            headers={"request-id": request_id, **fault.headers()},
        )

    def _check_bearer(self, request: Request) -> Response | None:
        header = request.headers.get("authorization", "")
        token = header[7:] if header.lower().startswith("bearer ") else ""
        with self._lock:
            issued = self.tokens.get(token)
        if not token:
            problem = "Access token is empty."
        elif issued is None:
            problem = "Invalid access token."
        elif issued.expires_at < time.time():
            problem = "Lifetime validation failed, the token is expired."
        else:
            return None
        return graph_error(
            401,
            "InvalidAuthenticationToken",
            problem,
            **{
                "WWW-Authenticate": f'Bearer realm="", authorization_uri="{self.authority}/oauth2/authorize"'
            },
        )

    # --- identity platform ------------------------------------------------------------------

    def _known_tenant(self, tenant: str) -> bool:
        return tenant.lower() in (self.tenant_id, self.tenant.domain.lower())

    def openid_configuration(self, tenant: str) -> Response:
        if not self._known_tenant(tenant):
            return oauth_error(
                400, "invalid_tenant", "AADSTS90002", f"Tenant '{tenant}' not found."
            )
        base = f"{self.base_url}/{self.tenant_id}"
        return Response(
            200,
            {
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
                "jwks_uri": f"{base}/discovery/v2.0/keys",
                "issuer": f"{base}/v2.0",
                "response_modes_supported": ["query", "fragment", "form_post"],
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "private_key_jwt",
                    "client_secret_basic",
                ],
                "code_challenge_methods_supported": ["plain", "S256"],
                "tenant_region_scope": "EU",
            },
            content_type="application/json; charset=utf-8",
        )

    def _client_authenticated(self, form: dict[str, str]) -> Response | None:
        if form.get("client_id") != self.client_id:
            return oauth_error(
                400,
                "unauthorized_client",
                "AADSTS700016",
                f"Application with identifier '{form.get('client_id')}' was not found in the directory.",
            )
        if "client_secret" in form:
            if not secrets.compare_digest(form["client_secret"], self.client_secret):
                return oauth_error(
                    401,
                    "invalid_client",
                    "AADSTS7000215",
                    "Invalid client secret provided. Ensure the secret being sent in the request "
                    "is the client secret value, not the client secret ID.",
                )
            return None
        if form.get("client_assertion_type") == JWT_BEARER and form.get("client_assertion"):
            if self._assertion_valid(form["client_assertion"]):
                return None
            return oauth_error(
                401,
                "invalid_client",
                "AADSTS700027",
                "Client assertion failed signature validation.",
            )
        return oauth_error(
            401,
            "invalid_client",
            "AADSTS7000218",
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        )

    def _assertion_valid(self, assertion: str) -> bool:
        if self._client_cert_pem is None:
            return False
        import jwt  # PyJWT ships with msal
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes

        certificate = x509.load_pem_x509_certificate(self._client_cert_pem)
        try:
            header = jwt.get_unverified_header(assertion)
            claims = jwt.decode(
                assertion,
                certificate.public_key(),  # type: ignore[arg-type]
                algorithms=["PS256", "RS256"],
                audience=self.token_endpoint,
            )
        except jwt.PyJWTError:
            return False
        thumbprint = _b64url(certificate.fingerprint(hashes.SHA256()))
        return (
            claims.get("iss") == claims.get("sub") == self.client_id
            # MSAL pads the base64url thumbprint with "="; the JOSE spec does not.
            and str(header.get("x5t#S256", thumbprint)).rstrip("=") == thumbprint
        )

    def token(self, tenant: str, request: Request) -> Response:
        if not self._known_tenant(tenant):
            return oauth_error(
                400, "invalid_request", "AADSTS90002", f"Tenant '{tenant}' not found."
            )
        form = {
            k: v[0] for k, v in parse_qs(request.raw_body.decode(), keep_blank_values=True).items()
        }
        problem = self._client_authenticated(form)
        if problem:
            return problem
        grant = form.get("grant_type")
        if grant == "client_credentials":
            scope = form.get("scope") or ""
            if not scope.endswith("/.default"):
                return oauth_error(
                    400,
                    "invalid_scope",
                    "AADSTS1002012",
                    f"The provided value for scope {scope} is not valid. Client credential "
                    "flows must have a scope value with /.default suffixed to the resource identifier.",
                )
            # The scope names the Graph this emulator stands for, not the worldwide one
            # (microsoftgraph/microsoft-graph-docs-contrib, concepts/sdks/national-clouds.md:
            # "Any permission scope value (including the `.default` scope) that contains the
            # Microsoft Graph domain MUST use the domain of the Microsoft Graph service root
            # endpoint for the national cloud deployment"). A token asked for another cloud's
            # Graph is refused as Entra refuses a resource it does not know.
            if scope != f"{self.graph_url}/.default":
                resource = scope.removesuffix("/.default")
                return oauth_error(
                    400,
                    "invalid_resource",
                    "AADSTS500011",
                    f"The resource principal named {resource} was not found in the tenant "
                    f"named {self.tenant_id}. This can happen if the application has not been "
                    "installed by the administrator of the tenant or consented to by any user "
                    "in the tenant. You might have sent your authentication request to the "
                    "wrong tenant.",
                )
            return Response(
                200,
                {
                    "token_type": "Bearer",
                    "expires_in": self.token_lifetime,
                    "ext_expires_in": self.token_lifetime,
                    "access_token": self.issue_access_token(),
                },
                content_type="application/json; charset=utf-8",
            )
        if grant == "authorization_code":
            return self._redeem_code(form)
        return oauth_error(
            400,
            "unsupported_grant_type",
            "AADSTS70003",
            f"The app requested an unsupported grant type '{grant}'.",
        )

    def _redeem_code(self, form: dict[str, str]) -> Response:
        code = form.get("code", "")
        with self._lock:
            pending = self.codes.pop(code, None)
            replayed = pending is None and code in self.redeemed_codes
            self.redeemed_codes.add(code)
        if replayed:
            return oauth_error(
                400,
                "invalid_grant",
                "AADSTS54005",
                "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.",
            )
        if pending is None or pending.expires_at < time.time():
            return oauth_error(
                400,
                "invalid_grant",
                "AADSTS70008",
                "The provided authorization code or refresh token has expired due to inactivity.",
            )
        if pending.redirect_uri != form.get("redirect_uri"):
            return oauth_error(
                400,
                "invalid_grant",
                "AADSTS50148",
                "The redirect_uri does not match the one used in the authorization request.",
            )
        if pending.code_challenge is not None:
            verifier = form.get("code_verifier", "")
            if _b64url(hashlib.sha256(verifier.encode()).digest()) != pending.code_challenge:
                return oauth_error(
                    400,
                    "invalid_grant",
                    "AADSTS501481",
                    "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
                )
        user = self.tenant.find(pending.user_id)
        if user is None:
            return oauth_error(
                400,
                "invalid_grant",
                "AADSTS50034",
                "The user account does not exist in the directory.",
            )
        now = int(time.time())
        claims = {
            "aud": self.client_id,
            "iss": f"{self.base_url}/{self.tenant_id}/v2.0",
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "name": user.display_name,
            "oid": user.id,
            "preferred_username": user.user_principal_name,
            "sub": _b64url(hashlib.sha256(f"{user.id}{self.client_id}".encode()).digest()),
            "tid": self.tenant_id,
            "ver": "2.0",
        }
        if pending.nonce:
            claims["nonce"] = pending.nonce  # already hashed by MSAL: echoed as received
        # Unsigned (alg:none): MSAL 1.38+ does not check id_token signatures, only the nonce.
        # `tid` is the tenant's GUID whatever name the sign-in used (MicrosoftDocs/entra-docs,
        # identity-platform/id-token-claims-reference.md: "tid | String, a GUID"). A v2.0 ID
        # token carries no `amr`: access-token-claims-reference.md lists "amr | JSON array of
        # strings, only present in v1.0 tokens", and the Graph access token is a v1.0 token.
        id_token = f"{_json_b64url({'alg': 'none', 'typ': 'JWT'})}.{_json_b64url(claims)}."
        access_claims = {
            "aud": self.graph_url,
            "iss": f"https://sts.windows.net/{self.tenant_id}/",
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "amr": list(self.sign_in_amr),
            "oid": user.id,
            "tid": self.tenant_id,
            "scp": "openid profile User.Read email",
            "ver": "1.0",
        }
        access_token = (
            f"{_json_b64url({'alg': 'none', 'typ': 'JWT'})}.{_json_b64url(access_claims)}."
        )
        with self._lock:
            self.tokens[access_token] = IssuedToken(time.time() + self.token_lifetime, user.id)
        return Response(
            200,
            {
                "token_type": "Bearer",
                "scope": "openid profile offline_access User.Read",
                "expires_in": self.token_lifetime,
                "ext_expires_in": self.token_lifetime,
                "access_token": access_token,
                "refresh_token": "emu-refresh." + secrets.token_urlsafe(24),
                "id_token": id_token,
                # Without client_info MSAL files the account under `sub`, not oid.tid.
                "client_info": _json_b64url({"uid": user.id, "utid": self.tenant_id}),
            },
            content_type="application/json; charset=utf-8",
        )

    def authorize(self, tenant: str, request: Request) -> Response:
        """The browser step of the code flow. No sign-in page: the user named by login_hint
        (else ``sign_in_user_id``) is signed in at once and sent back with a code."""
        redirect_uri = request.param("redirect_uri") or ""
        if (
            not self._known_tenant(tenant)
            or request.param("client_id") != self.client_id
            or not redirect_uri
        ):
            return Response(
                400,
                b"<!doctype html><title>Sign-in error</title><p>AADSTS700016: unknown application or tenant.",
                content_type="text/html; charset=utf-8",
            )
        hint = request.param("login_hint")
        user = self.tenant.find(hint) if hint else self.tenant.find(self.sign_in_user_id)
        params: dict[str, str]
        if user is None:
            params = {"error": "access_denied", "error_description": "AADSTS50034: unknown user."}
        else:
            code = "emu-code." + secrets.token_urlsafe(24)
            challenge = request.param("code_challenge")
            if challenge and request.param(
                "code_challenge_method",
            ) not in (None, "S256"):
                challenge = None
            with self._lock:
                self.codes[code] = PendingCode(
                    client_id=self.client_id,
                    redirect_uri=redirect_uri,
                    code_challenge=challenge,
                    nonce=request.param("nonce"),
                    user_id=user.id,
                    expires_at=time.time() + 600,
                )
            params = {"code": code, "session_state": str(uuid.uuid4())}
        if request.param("state") is not None:
            params["state"] = request.param("state") or ""
        if request.param("response_mode") == "form_post":
            fields = "".join(
                f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                for k, v in params.items()
            )
            page = (
                f'<!doctype html><title>Working...</title><form method="POST" action="{html.escape(redirect_uri)}">'
                f"{fields}<noscript><button>Continue</button></noscript></form>"
                "<script>document.forms[0].submit()</script>"
            )
            return Response(200, page.encode(), content_type="text/html; charset=utf-8")
        separator = "&" if "?" in redirect_uri else "?"
        return Response(
            302, None, headers={"Location": f"{redirect_uri}{separator}{urlencode(params)}"}
        )

    def browser_authorize(self, auth_uri: str, *, login_hint: str | None = None) -> dict[str, str]:
        """Play the browser: open ``auth_uri`` and return the redirect's parameters, i.e. the
        ``auth_response`` to hand to the code flow's second half."""
        import requests  # only the tests use it here

        session = requests.Session()
        session.trust_env = False
        url = auth_uri if not login_hint else f"{auth_uri}&{urlencode({'login_hint': login_hint})}"
        answer = session.get(url, verify=self.ca_pem_path, allow_redirects=False, timeout=10)
        if answer.status_code == 200 and "form_post" in url:
            # response_mode=form_post: the page holds the answer as hidden form fields.
            return form_post_fields(answer.text)
        location = answer.headers.get("Location")
        if answer.status_code != 302 or not location:
            raise AssertionError(f"authorize answered {answer.status_code}: {answer.text[:200]}")
        return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def form_post_fields(page: str) -> dict[str, str]:
    """The hidden fields of a form_post answer page (what the browser would POST back)."""
    fields = re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)">', page)
    if not fields:
        raise AssertionError(f"no form_post fields in: {page[:200]}")
    return {html.unescape(name): html.unescape(value) for name, value in fields}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        *,
        emulator: GraphEmulator,
        context: ssl.SSLContext,
    ) -> None:
        self.emulator = emulator
        self._context = context
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        raw, address = self.socket.accept()
        # Headers and body leave in separate writes; without TCP_NODELAY, Nagle's algorithm
        # and delayed ACKs add ~40 ms to every answer.
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # The TLS handshake runs later, in the connection's own thread, so one stalled client
        # cannot block accept() for everyone else.
        connection = self._context.wrap_socket(raw, server_side=True, do_handshake_on_connect=False)
        with self._connections_lock:
            self._connections.add(connection)
        return connection, address

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        with contextlib.suppress(OSError):  # ssl.SSLError is an OSError
            super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that drop connections (and the dropped-connection fault) are normal here.
        pass

    def close_all_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
            self._connections.clear()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            connection.close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Idle keep-alive connections give up after this many seconds.
    timeout = 15
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the request log replaces stderr noise

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def _handle(self) -> None:
        emulator = self.server.emulator
        with emulator._lock:
            emulator.in_flight += 1
            emulator.max_in_flight = max(emulator.max_in_flight, emulator.in_flight)
        try:
            self._handle_counted()
        finally:
            with emulator._lock:
                emulator.in_flight -= 1

    def _handle_counted(self) -> None:
        emulator = self.server.emulator
        arrived = time.monotonic()
        length = int(self.headers.get("Content-Length") or 0)
        raw_body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        headers = {k.lower(): v for k, v in self.headers.items()}
        body: Any = None
        if raw_body and "json" in headers.get("content-type", ""):
            try:
                body = json.loads(raw_body)
            except ValueError:
                body = None
        request = Request(
            method=self.command,
            path=unquote(parts.path),
            query=parse_qs(parts.query, keep_blank_values=True),
            headers=headers,
            body=body,
            raw_body=raw_body,
        )
        if emulator.latency:
            emulator.wait(emulator.latency)
        fault = emulator.faults.take(request.method, request.path, batch_item=False)
        if fault is not None and fault.delay:
            emulator.wait(fault.delay)
        if fault is not None and fault.drop_connection:
            self._log(request, arrived, 0, fault=True)
            self.close_connection = True
            return
        if raw_body and body is None and "json" in headers.get("content-type", ""):
            response = graph_error(400, "BadRequest", "The request body is not valid JSON.")
        elif fault is not None and fault.status is not None:
            response = emulator.fault_response(fault)
        else:
            response = emulator.handle(request)
        self._log(request, arrived, response.status, fault=fault is not None)
        self._write(response)

    def _log(self, request: Request, arrived: float, status: int, *, fault: bool) -> None:
        self.server.emulator.log.append(
            LoggedRequest(
                method=request.method,
                path=request.path,
                query=request.query,
                headers=request.headers,
                body=request.body
                if request.body is not None
                else (request.raw_body.decode(errors="replace") or None),
                time=arrived,
                status=status,
                fault=fault,
            )
        )

    def _write(self, response: Response) -> None:
        if response.body is None:
            payload = b""
        elif isinstance(response.body, bytes):
            payload = response.body
        else:
            payload = json.dumps(response.body, ensure_ascii=False).encode("utf-8")
        self.send_response(response.status)
        headers = {
            "Date": formatdate(usegmt=True),
            "request-id": response.headers.get("request-id") or str(uuid.uuid4()),
            "client-request-id": self.headers.get("client-request-id") or str(uuid.uuid4()),
            **response.headers,
        }
        if payload:
            headers["Content-Type"] = response.content_type
        headers["Content-Length"] = str(len(payload))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if payload and self.command != "HEAD":
            self.wfile.write(payload)
