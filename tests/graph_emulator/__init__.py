"""A Microsoft Graph + identity platform emulator over loopback HTTPS, for tests and demos.

``python -m tests.graph_emulator --users 100000 --port 8443`` runs it by hand; pytest code
uses the fixtures in ``tests.graph_emulator.fixtures``.
"""

from .faults import Fault, Faults, LoggedRequest, RequestLog
from .server import GraphEmulator
from .tenant import (
    AUTHENTICATION_ADMINISTRATOR,
    GLOBAL_ADMINISTRATOR,
    PHONE_METHOD_IDS,
    Tenant,
    User,
)

__all__ = [
    "AUTHENTICATION_ADMINISTRATOR",
    "GLOBAL_ADMINISTRATOR",
    "PHONE_METHOD_IDS",
    "Fault",
    "Faults",
    "GraphEmulator",
    "LoggedRequest",
    "RequestLog",
    "Tenant",
    "User",
]
