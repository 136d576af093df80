"""Which directory the portal runs against: the one place that reads the setting.

``local``: the portal's database is the directory. ``graph``: Microsoft Entra ID is, read
and written through Microsoft Graph (the ``entra`` app).
"""

from __future__ import annotations

from django.conf import settings

LOCAL = "local"
GRAPH = "graph"


def directory_mode() -> str:
    return str(settings.MFAPORTAL_DIRECTORY)


def graph_mode() -> bool:
    return directory_mode() == GRAPH


def local_mode() -> bool:
    return directory_mode() == LOCAL
