"""Tokens from the Microsoft identity platform through MSAL.

One ``msal.ConfidentialClientApplication`` per process per config (``get_token_provider``):
MSAL caches tokens, discovery documents and error answers per application object, so a new
object per request would hit the token endpoint every time and lose throttling state.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import msal
import requests
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from msal.authority import WELL_KNOWN_AUTHORITY_HOSTS

from .config import GraphConfig, ca_bundle_path
from .errors import AuthFlowError, AuthNonceMismatch, AuthStateMismatch, TokenError

logger = logging.getLogger(__name__)


class TimeoutSession(requests.Session):
    """A Session that applies a default timeout: requests has no session-wide timeout and
    MSAL, given its own ``http_client``, passes none, so a stuck token endpoint would hang."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.default_timeout = timeout

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", self.default_timeout)
        return super().request(method, url, *args, **kwargs)


def build_session(config: GraphConfig) -> requests.Session:
    """An HTTPS session trusting the system CAs plus ``config.ca_bundle``.

    ``trust_env=False`` matters: with it on, requests lets REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE
    (set on these machines and in CI) silently override ``Session.verify``, so a loopback
    emulator's CA would be ignored. It also ignores proxy variables and ~/.netrc.
    """
    session = TimeoutSession(config.timeout)
    session.trust_env = False
    session.verify = ca_bundle_path(config.ca_bundle)
    return session


def is_microsoft_authority_host(authority_host: str) -> bool:
    return (urlsplit(authority_host).hostname or "") in WELL_KNOWN_AUTHORITY_HOSTS


@dataclass(frozen=True)
class AccessToken:
    value: str = field(repr=False)
    expires_in: int
    # True when MSAL answered from its cache without a request.
    from_cache: bool

    @property
    def authorization_header(self) -> str:
        return f"Bearer {self.value}"


@dataclass(frozen=True)
class SignedInUser:
    """Who signed in to the portal, from the id token's claims."""

    oid: str
    tenant_id: str
    preferred_username: str
    name: str
    claims: Mapping[str, Any] = field(repr=False, default_factory=dict)
    # How they proved it's them (``amr``: "pwd", "mfa", ...); empty when no token said.
    amr: tuple[str, ...] = ()


class TokenSource(Protocol):
    def get_access_token(self) -> AccessToken: ...

    def invalidate(self) -> None:
        """Forget cached tokens: Graph refused one that the cache still thought valid."""
        ...


def _client_credential(config: GraphConfig) -> str | dict[str, str]:
    if config.client_cert_path:
        pem = Path(config.client_cert_path).read_text(encoding="ascii")
        certificate = x509.load_pem_x509_certificate(pem.encode("ascii"))
        # MSAL derives the SHA-256 thumbprint (x5t#S256) from the public certificate.
        return {
            "private_key": pem,
            "public_certificate": certificate.public_bytes(Encoding.PEM).decode("ascii"),
        }
    assert config.client_secret  # GraphConfig guarantees one of the two
    return config.client_secret


class TokenProvider:
    """App-only tokens for Graph, plus the staff sign-in (authorization code) flow.

    Build one per process with ``get_token_provider(config)``; tests build their own so each
    gets fresh MSAL caches.
    """

    def __init__(
        self,
        config: GraphConfig,
        *,
        http_client: requests.Session | None = None,
        token_cache: msal.TokenCache | None = None,
    ) -> None:
        self.config = config
        self._http_client = http_client or build_session(config)
        # MSAL fetches the OpenID configuration here, in the constructor: a wrong authority
        # or an untrusted certificate fails now, as a TokenError rather than a bare traceback.
        try:
            self._app = msal.ConfidentialClientApplication(
                config.client_id,
                client_credential=_client_credential(config),
                authority=config.authority,
                http_client=self._http_client,
                token_cache=token_cache,
                # Instance discovery asks login.microsoftonline.com whether the authority is
                # genuine; it can only answer for Microsoft's own hosts, so skip it elsewhere
                # (a loopback emulator, a sovereign-cloud proxy) and keep it for Microsoft's.
                instance_discovery=None
                if is_microsoft_authority_host(config.authority_host)
                else False,
            )
        except (requests.RequestException, ValueError) as exc:
            raise TokenError(
                "authority_unreachable",
                f"cannot read the OpenID configuration of {config.authority}: "
                f"{type(exc).__name__}: {exc}",
            ) from exc
        self._lock = threading.Lock()
        # The last token MSAL gave, and until when (monotonic) it is handed out again
        # without asking MSAL: see get_access_token.
        self._recent: tuple[AccessToken, float, float] | None = None

    def get_access_token(self) -> AccessToken:
        """A token for Graph; MSAL serves it from its cache until 5 minutes before expiry.

        The same token is handed out again for up to a minute without asking MSAL (never
        closer than 5 minutes to its expiry): a full sync sends thousands of requests, and
        MSAL's cache look-up, under a lock every request thread shares, cost it about 2 % of
        its CPU time.
        """
        with self._lock:
            now = time.monotonic()
            if self._recent is not None and now < self._recent[1]:
                token, _until, expires_at = self._recent
                return AccessToken(token.value, int(expires_at - now), from_cache=True)
            try:
                result = self._app.acquire_token_for_client(scopes=[self.config.scope])
            except requests.RequestException as exc:
                raise TokenError(
                    "token_endpoint_unreachable",
                    f"{type(exc).__name__} talking to {self.config.authority_host}",
                ) from exc
            if "access_token" not in result:
                raise _token_error(result)
            token = AccessToken(
                value=result["access_token"],
                expires_in=int(result.get("expires_in", 0)),
                from_cache=result.get("token_source") == "cache",
            )
            expires_at = now + token.expires_in
            self._recent = (token, min(now + 60, expires_at - 300), expires_at)
            return token

    def invalidate(self) -> None:
        """Drop cached app-only tokens, e.g. after Graph answered 401 for one (revoked, or
        the tenant's keys rolled): the next get_access_token() asks the token endpoint."""
        with self._lock:
            self._recent = None
            self._app.remove_tokens_for_client()

    # --- staff sign-in (authorization code flow with PKCE) -------------------------------

    def initiate_auth_code_flow(
        self,
        redirect_uri: str,
        *,
        scopes: Sequence[str] = (),
        login_hint: str | None = None,
        response_mode: str = "form_post",
    ) -> dict[str, Any]:
        """Start a sign-in. Keep the returned dict server-side and send the browser to its
        ``auth_uri``.

        ``response_mode="form_post"`` by default, as MSAL recommends: the code travels in a
        POST body, not in a URL that logs and history keep. That POST arrives cross-site, so
        it carries no SameSite=Lax session cookie: keep the flow somewhere the callback can
        find without the session (``mfaportal/selfservice/entra.py`` explains how).
        """
        flow: dict[str, Any] = self._app.initiate_auth_code_flow(
            list(scopes),
            redirect_uri=redirect_uri,
            login_hint=login_hint,
            response_mode=response_mode,
        )
        return flow

    def complete_auth_code_flow(
        self, flow: Mapping[str, Any], auth_response: Mapping[str, str]
    ) -> SignedInUser:
        """Redeem the code from the redirect; returns who signed in.

        Raises AuthStateMismatch, AuthNonceMismatch, or TokenError (e.g. ``invalid_grant`` for
        a code already used), never a bare ValueError/RuntimeError from MSAL.
        """
        if not flow.get("state") or flow.get("state") != auth_response.get("state"):
            raise AuthStateMismatch("the sign-in answer does not belong to this sign-in")
        try:
            result = self._app.acquire_token_by_auth_code_flow(dict(flow), dict(auth_response))
        except RuntimeError as exc:
            # msal.oauth2cli.oidc raises RuntimeError for a nonce (or max_age) mismatch.
            if "nonce" in str(exc).lower():
                raise AuthNonceMismatch("the id token was not issued for this sign-in") from exc
            raise AuthFlowError(str(exc)) from exc
        except ValueError as exc:
            if "state" in str(exc).lower():
                raise AuthStateMismatch(
                    "the sign-in answer does not belong to this sign-in"
                ) from exc
            raise AuthFlowError(str(exc)) from exc
        except requests.RequestException as exc:
            raise TokenError(
                "token_endpoint_unreachable",
                f"{type(exc).__name__} talking to {self.config.authority_host}",
            ) from exc
        if "error" in result:
            raise _token_error(result)
        claims = result.get("id_token_claims") or {}
        if not claims.get("oid"):
            raise AuthFlowError("the id token carries no oid claim")
        return SignedInUser(
            oid=str(claims["oid"]),
            tenant_id=str(claims.get("tid", "")),
            preferred_username=str(claims.get("preferred_username", "")),
            name=str(claims.get("name", "")),
            claims=claims,
            amr=_amr(claims) or _amr(_jwt_claims(result.get("access_token"))),
        )

    @property
    def tenant_guid(self) -> str:
        """The tenant's id as the identity platform names it (its GUID), whether the config
        named the tenant by GUID or by one of its verified domains: MSAL reads it from the
        token endpoint of the authority's OpenID configuration."""
        return str(getattr(self._app.authority, "tenant", "") or self.config.tenant_id)


def _amr(claims: Mapping[str, Any]) -> tuple[str, ...]:
    value = claims.get("amr")
    if not isinstance(value, list):
        return ()
    return tuple(item for item in value if isinstance(item, str))


def _jwt_claims(token: Any) -> Mapping[str, Any]:
    """The claims of a JWT, read without checking it: only for the access token the token
    endpoint has just handed us over TLS, as MSAL reads the ID token. A v2.0 ID token has no
    ``amr``; the Graph access token (a v1.0 token) carries it. An opaque token says nothing."""
    if not isinstance(token, str) or token.count(".") != 2:
        return {}
    payload = token.split(".")[1]
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, TypeError):
        return {}
    return claims if isinstance(claims, dict) else {}


def _token_error(result: Mapping[str, Any]) -> TokenError:
    # error_description is written by the identity platform (AADSTS...) and carries no secret;
    # nothing else from the answer is used.
    return TokenError(
        str(result.get("error") or "unknown_error"),
        str(result.get("error_description") or ""),
        correlation_id=result.get("correlation_id"),
    )


_providers_lock = threading.Lock()
_providers: dict[GraphConfig, TokenProvider] = {}


def get_token_provider(config: GraphConfig) -> TokenProvider:
    """The process-wide TokenProvider (and so MSAL application) for this config."""
    with _providers_lock:
        provider = _providers.get(config)
        if provider is None:
            provider = TokenProvider(config)
            _providers[config] = provider
        return provider


def reset_token_providers() -> None:
    """Forget every cached provider (tests, or after rotating a secret)."""
    with _providers_lock:
        _providers.clear()
