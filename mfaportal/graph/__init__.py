"""Microsoft Graph and identity-platform access for the portal.

The only package that imports ``msal`` or ``requests``. It has no models and does not need
Django: build a ``GraphConfig`` (or ``graph_config_from_settings()`` inside the app), then

    client = GraphClient(config)
    for page in client.users_delta(stored_delta_link):
        ...

Services take the client as a parameter so tests can hand in one pointed at the emulator.
"""

from .auth import (
    AccessToken,
    SignedInUser,
    TokenProvider,
    TokenSource,
    build_session,
    get_token_provider,
    reset_token_providers,
)
from .client import (
    MAX_BATCH_SIZE,
    REPORTS_LIMIT,
    GraphClient,
    GraphResponse,
    client_from_settings,
    identity_reads_per_10s,
    parse_retry_after,
)
from .concurrency import Pace, ReadAhead, bounded_map, prefetched
from .config import (
    CLOUDS,
    GRAPH_SCOPE,
    Cloud,
    GraphConfig,
    ca_bundle_path,
    cloud_named,
    graph_config_from_settings,
    my_sign_ins_url_from_settings,
)
from .errors import (
    AuthFlowError,
    AuthNonceMismatch,
    AuthStateMismatch,
    DeltaTokenExpired,
    GraphBadRequest,
    GraphError,
    GraphForbidden,
    GraphNotFound,
    GraphThrottled,
    GraphTimeout,
    GraphUnauthorized,
    GraphUnavailable,
    TokenError,
)
from .types import (
    PHONE_METHOD_IDS,
    USER_SELECT,
    AuthMethod,
    BatchRequest,
    BatchResult,
    DeltaPage,
    GraphUser,
    MfaRequirements,
    PerUserMfaState,
    PerUserResult,
    PhoneType,
    RegistrationDetails,
    RoleAssignment,
    SignInPreferences,
    TemporaryAccessPassMethod,
)

# Well-known directory role template ids (roleDefinitionId of built-in roles).
GLOBAL_ADMINISTRATOR_ROLE_ID = "62e90394-69f5-4237-9190-012177145e10"
AUTHENTICATION_ADMINISTRATOR_ROLE_ID = "c4e39bd9-1100-46d3-8c65-fb160da0071f"
PRIVILEGED_AUTHENTICATION_ADMINISTRATOR_ROLE_ID = "7be44c8a-adaf-4e2a-84d6-ab2649e08a13"

__all__ = [
    "AUTHENTICATION_ADMINISTRATOR_ROLE_ID",
    "CLOUDS",
    "GLOBAL_ADMINISTRATOR_ROLE_ID",
    "GRAPH_SCOPE",
    "MAX_BATCH_SIZE",
    "PHONE_METHOD_IDS",
    "PRIVILEGED_AUTHENTICATION_ADMINISTRATOR_ROLE_ID",
    "REPORTS_LIMIT",
    "USER_SELECT",
    "AccessToken",
    "AuthFlowError",
    "AuthMethod",
    "AuthNonceMismatch",
    "AuthStateMismatch",
    "BatchRequest",
    "BatchResult",
    "Cloud",
    "DeltaPage",
    "DeltaTokenExpired",
    "GraphBadRequest",
    "GraphClient",
    "GraphConfig",
    "GraphError",
    "GraphForbidden",
    "GraphNotFound",
    "GraphResponse",
    "GraphThrottled",
    "GraphTimeout",
    "GraphUnauthorized",
    "GraphUnavailable",
    "GraphUser",
    "MfaRequirements",
    "Pace",
    "PerUserMfaState",
    "PerUserResult",
    "PhoneType",
    "ReadAhead",
    "RegistrationDetails",
    "RoleAssignment",
    "SignInPreferences",
    "SignedInUser",
    "TemporaryAccessPassMethod",
    "TokenError",
    "TokenProvider",
    "TokenSource",
    "bounded_map",
    "build_session",
    "ca_bundle_path",
    "client_from_settings",
    "cloud_named",
    "get_token_provider",
    "graph_config_from_settings",
    "identity_reads_per_10s",
    "my_sign_ins_url_from_settings",
    "parse_retry_after",
    "prefetched",
    "reset_token_providers",
]
