"""Tokens through real MSAL over HTTPS against the emulator's identity endpoints."""

from __future__ import annotations

import logging
import sys
import types
from pathlib import Path
from urllib.parse import quote

import pytest

from mfaportal.graph import (
    AuthNonceMismatch,
    AuthStateMismatch,
    GraphClient,
    GraphConfig,
    GraphUnauthorized,
    TokenError,
    TokenProvider,
    ca_bundle_path,
    get_token_provider,
    graph_config_from_settings,
    reset_token_providers,
)
from mfaportal.graph.auth import is_microsoft_authority_host
from mfaportal.graph.config import system_ca_bundle
from tests.graph_emulator import GraphEmulator

TOKEN_PATH = r"/oauth2/v2.0/token$"


def test_client_credentials_token_then_cached(
    graph_emulator: GraphEmulator, graph_config: GraphConfig
) -> None:
    provider = TokenProvider(graph_config)

    first = provider.get_access_token()
    second = provider.get_access_token()

    assert first.from_cache is False
    assert second.from_cache is True
    assert second.value == first.value
    token_posts = graph_emulator.log.matching(TOKEN_PATH, method="POST")
    assert len(token_posts) == 1
    form = token_posts[0].body
    assert "grant_type=client_credentials" in form
    assert f"scope={quote(graph_emulator.graph_url, safe='')}%2F.default" in form
    # MSAL read the emulator's OpenID configuration over HTTPS, trusting only our CA bundle.
    assert graph_emulator.log.matching(r"/v2.0/.well-known/openid-configuration$")


def test_graph_requests_carry_the_bearer_token(
    graph_emulator: GraphEmulator, graph_client: GraphClient
) -> None:
    graph_client.user_get(graph_emulator.tenant.user_id_for(0))

    (request,) = graph_emulator.log.matching(r"^/v1.0/users/")
    assert request.header(
        "authorization",
    ).startswith("Bearer emu.")  # type: ignore[union-attr]
    assert request.status == 200


def test_token_refused_by_graph_is_renewed_once(
    graph_emulator: GraphEmulator, graph_client: GraphClient
) -> None:
    graph_client.user_get(graph_emulator.tenant.user_id_for(0))
    graph_emulator.revoke_all_tokens()  # e.g. the emulator restarted, or keys rolled

    graph_client.user_get(graph_emulator.tenant.user_id_for(1))

    assert len(graph_emulator.log.matching(TOKEN_PATH, method="POST")) == 2
    assert [r.status for r in graph_emulator.log.matching(r"^/v1.0/users/")] == [200, 401, 200]


def test_invalid_token_is_graph_unauthorized_when_renewal_does_not_help(
    graph_emulator: GraphEmulator, graph_config: GraphConfig
) -> None:
    graph_emulator.faults.add(r"^/v1.0/users$", status=401, times=None)
    client = GraphClient(graph_config, token_provider=TokenProvider(graph_config))

    with pytest.raises(GraphUnauthorized) as caught:
        next(client.users_list())

    assert caught.value.code == "InvalidAuthenticationToken"
    assert len(graph_emulator.log.matching(r"^/v1.0/users$")) == 2


def test_wrong_secret_is_a_typed_error_without_the_secret(
    graph_emulator: GraphEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    wrong_secret = "not-the-secret-" + "x" * 20
    provider = TokenProvider(graph_emulator.graph_config(client_secret=wrong_secret))

    with caplog.at_level(logging.DEBUG), pytest.raises(TokenError) as caught:
        provider.get_access_token()

    assert caught.value.code == "invalid_client"
    assert "AADSTS7000215" in caught.value.error_description
    for text in (str(caught.value), repr(caught.value), caplog.text):
        assert wrong_secret not in text
    assert wrong_secret not in repr(provider.config)


def test_unknown_tenant_fails_at_construction_as_token_error(graph_emulator: GraphEmulator) -> None:
    config = graph_emulator.graph_config(tenant_id="00000000-0000-0000-0000-000000000000")

    with pytest.raises(TokenError) as caught:
        TokenProvider(config)

    assert caught.value.code == "authority_unreachable"


def test_certificate_credential(graph_emulator: GraphEmulator) -> None:
    cert_path = graph_emulator.enable_client_certificate()
    config = graph_emulator.graph_config(client_secret=None, client_cert_path=cert_path)

    token = TokenProvider(config).get_access_token()

    assert token.value.startswith("emu.")
    (post,) = graph_emulator.log.matching(TOKEN_PATH, method="POST")
    assert "client_assertion=" in post.body
    assert "client_secret" not in post.body


def test_requests_ca_bundle_in_the_environment_does_not_override_our_bundle(
    graph_emulator: GraphEmulator, graph_config: GraphConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With trust_env on, requests would verify against this file (without the emulator's CA)
    # and MSAL's discovery would fail with CERTIFICATE_VERIFY_FAILED.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", system_ca_bundle())
    monkeypatch.setenv("CURL_CA_BUNDLE", system_ca_bundle())

    provider = TokenProvider(graph_config)
    client = GraphClient(graph_config, token_provider=provider)

    assert provider.get_access_token().value
    assert client.user_get(graph_emulator.tenant.user_id_for(0)).user_principal_name


def test_one_token_provider_per_config_per_process(graph_config: GraphConfig) -> None:
    reset_token_providers()
    try:
        assert get_token_provider(graph_config) is get_token_provider(graph_config)
        client = GraphClient(graph_config)
        assert client.token_provider is get_token_provider(graph_config)
    finally:
        reset_token_providers()


def test_instance_discovery_only_for_microsoft_hosts() -> None:
    assert is_microsoft_authority_host("https://login.microsoftonline.com")
    assert is_microsoft_authority_host("https://login.microsoftonline.us")
    assert not is_microsoft_authority_host("https://127.0.0.1:8443")


def test_ca_bundle_adds_the_extra_ca_to_the_system_ones(graph_emulator: GraphEmulator) -> None:
    combined = Path(ca_bundle_path(graph_emulator.ca_pem_path)).read_text()
    system = Path(system_ca_bundle()).read_text()

    assert Path(graph_emulator.ca_pem_path).read_text().strip() in combined
    assert system.strip()[:2000] in combined
    assert ca_bundle_path(None) == system_ca_bundle()


def test_config_from_django_settings_without_configuring_django(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_settings = types.SimpleNamespace(
        MFAPORTAL_TENANT_ID="tenant-guid",
        MFAPORTAL_CLIENT_ID="client-guid",
        MFAPORTAL_CLIENT_SECRET="s3cret",
        MFAPORTAL_CLIENT_CERT_PATH="",
        MFAPORTAL_AUTHORITY_HOST="",
        MFAPORTAL_GRAPH_URL="https://graph.example.test/",
        MFAPORTAL_CA_BUNDLE="",
        MFAPORTAL_GRAPH_TIMEOUT=12.5,
    )
    monkeypatch.setitem(sys.modules, "django.conf", types.SimpleNamespace(settings=fake_settings))

    config = graph_config_from_settings()

    assert config.authority == "https://login.microsoftonline.com/tenant-guid"
    assert config.graph_url == "https://graph.example.test"
    assert config.client_cert_path is None and config.ca_bundle is None
    assert config.timeout == 12.5
    assert "s3cret" not in repr(config)


def _settings(monkeypatch: pytest.MonkeyPatch, **values: object) -> None:
    fake_settings = types.SimpleNamespace(
        MFAPORTAL_TENANT_ID="tenant-guid",
        MFAPORTAL_CLIENT_ID="client-guid",
        MFAPORTAL_CLIENT_SECRET="s3cret",
        **values,
    )
    monkeypatch.setitem(sys.modules, "django.conf", types.SimpleNamespace(settings=fake_settings))


@pytest.mark.parametrize(
    ("cloud", "authority", "graph", "my_sign_ins"),
    [
        (
            "global",
            "https://login.microsoftonline.com",
            "https://graph.microsoft.com",
            "https://mysignins.microsoft.com/security-info",
        ),
        (
            "usgov",
            "https://login.microsoftonline.us",
            "https://graph.microsoft.us",
            "https://mysignins.microsoft.us/security-info",
        ),
        (
            "dod",
            "https://login.microsoftonline.us",
            "https://dod-graph.microsoft.us",
            "https://mysignins.microsoft.us/security-info",
        ),
        (
            "china",
            "https://login.partner.microsoftonline.cn",
            "https://microsoftgraph.chinacloudapi.cn",
            "https://mysignins.azure.cn/security-info",
        ),
    ],
)
def test_a_national_cloud_gives_its_authority_graph_token_scope_and_my_sign_ins(
    monkeypatch: pytest.MonkeyPatch, cloud: str, authority: str, graph: str, my_sign_ins: str
) -> None:
    _settings(monkeypatch, MFAPORTAL_CLOUD=cloud)

    config = graph_config_from_settings()

    assert config.authority == f"{authority}/tenant-guid"
    assert config.graph_url == graph
    assert config.scope == f"{graph}/.default"
    assert config.my_sign_ins_url == my_sign_ins


def test_explicit_hosts_win_over_the_cloud_and_the_scope_follows_the_graph_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _settings(
        monkeypatch,
        MFAPORTAL_CLOUD="usgov",
        MFAPORTAL_AUTHORITY_HOST="https://login.proxy.example.test",
        MFAPORTAL_GRAPH_URL="https://dod-graph.microsoft.us/",
        MFAPORTAL_MY_SIGN_INS_URL="https://mysignins.example.test/security-info",
    )

    config = graph_config_from_settings()

    assert config.authority == "https://login.proxy.example.test/tenant-guid"
    assert config.scope == "https://dod-graph.microsoft.us/.default"
    assert config.my_sign_ins_url == "https://mysignins.example.test/security-info"


def test_an_unknown_cloud_is_a_clear_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    _settings(monkeypatch, MFAPORTAL_CLOUD="germany")

    with pytest.raises(ValueError, match="global, usgov, dod, china"):
        graph_config_from_settings()


def test_the_token_is_asked_for_the_graph_in_use_not_the_worldwide_one(
    graph_emulator: GraphEmulator, graph_config: GraphConfig
) -> None:
    # The emulator's Graph is not graph.microsoft.com: a token for the worldwide Graph is
    # refused there (AADSTS500011), as a national cloud refuses it.
    client = GraphClient(graph_config, token_provider=TokenProvider(graph_config))

    client.user_get(graph_emulator.tenant.user_id_for(0))

    (post,) = graph_emulator.log.matching(TOKEN_PATH, method="POST")
    assert post.status == 200
    assert "graph.microsoft.com" not in post.body


def test_http_urls_are_refused() -> None:
    with pytest.raises(ValueError, match="https"):
        GraphConfig(tenant_id="t", client_id="c", client_secret="s", graph_url="http://127.0.0.1")


# --- staff sign-in: authorization code flow ---------------------------------------------------

REDIRECT_URI = "http://127.0.0.1:8000/auth/callback/"


def test_auth_code_flow_signs_in_the_user(
    graph_emulator: GraphEmulator, graph_config: GraphConfig
) -> None:
    provider = TokenProvider(graph_config)
    helpdesk = graph_emulator.tenant.user_at(1)

    flow = provider.initiate_auth_code_flow(REDIRECT_URI, login_hint=helpdesk.user_principal_name)
    auth_response = graph_emulator.browser_authorize(flow["auth_uri"])
    user = provider.complete_auth_code_flow(flow, auth_response)

    assert user.oid == helpdesk.id
    assert user.preferred_username == "helpdesk@contoso.test"
    assert user.name == "Helpdesk Agent"
    assert user.tenant_id == graph_emulator.tenant_id
    (post,) = graph_emulator.log.matching(TOKEN_PATH, method="POST")
    assert "grant_type=authorization_code" in post.body
    assert "code_verifier=" in post.body  # PKCE


def test_auth_code_flow_with_wrong_state_is_refused(
    graph_emulator: GraphEmulator, graph_config: GraphConfig
) -> None:
    provider = TokenProvider(graph_config)
    flow = provider.initiate_auth_code_flow(REDIRECT_URI)
    auth_response = graph_emulator.browser_authorize(flow["auth_uri"])

    with pytest.raises(AuthStateMismatch):
        provider.complete_auth_code_flow(flow, {**auth_response, "state": "forged"})

    # Refused before any token request: the code was never sent.
    assert not graph_emulator.log.matching(TOKEN_PATH, method="POST")


def test_auth_code_cannot_be_redeemed_twice(
    graph_emulator: GraphEmulator, graph_config: GraphConfig
) -> None:
    provider = TokenProvider(graph_config)
    flow = provider.initiate_auth_code_flow(REDIRECT_URI)
    auth_response = graph_emulator.browser_authorize(flow["auth_uri"])
    provider.complete_auth_code_flow(dict(flow), auth_response)

    replaying_provider = TokenProvider(graph_config)  # fresh MSAL caches: a real second attempt
    with pytest.raises(TokenError) as caught:
        replaying_provider.complete_auth_code_flow(dict(flow), auth_response)

    assert caught.value.code == "invalid_grant"
    assert "AADSTS54005" in caught.value.error_description


def test_auth_code_flow_with_foreign_nonce_is_refused(
    graph_emulator: GraphEmulator, graph_config: GraphConfig
) -> None:
    provider = TokenProvider(graph_config)
    flow = provider.initiate_auth_code_flow(REDIRECT_URI)
    # An attacker's code, obtained through another flow (another nonce), injected with our state.
    other_flow = provider.initiate_auth_code_flow(REDIRECT_URI)
    other_response = graph_emulator.browser_authorize(other_flow["auth_uri"])
    other_flow_code_verifier = other_flow["code_verifier"]

    with pytest.raises(AuthNonceMismatch):
        provider.complete_auth_code_flow(
            {**flow, "code_verifier": other_flow_code_verifier},
            {**other_response, "state": flow["state"]},
        )
