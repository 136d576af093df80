"""The portal's own icon (not Microsoft's): named by every page, and at /favicon.ico, where
browsers ask for it whatever the page says."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from django.conf import settings
from django.templatetags.static import static
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db
STATIC = Path(settings.BASE_DIR) / "static"


def test_every_page_names_the_icon(client: Client) -> None:
    head = client.get(reverse("signin")).content.decode().split("</head>", 1)[0]
    assert f'<link rel="icon" href="{static("favicon.svg")}" type="image/svg+xml">' in head
    assert f'<link rel="icon" href="{static("favicon.ico")}" sizes="16x16 32x32 48x48">' in head


def test_favicon_ico_leads_to_the_icon_without_signing_in(client: Client) -> None:
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"] == static("favicon.ico")
    assert "max-age=86400" in response["Cache-Control"]


def test_the_icons_are_real_images_of_our_own() -> None:
    ico = (STATIC / "favicon.ico").read_bytes()
    reserved, kind, count = struct.unpack("<HHH", ico[:6])
    assert (reserved, kind) == (0, 1)  # an icon resource
    sizes = {ico[6 + 16 * number] for number in range(count)}
    assert sizes == {16, 32, 48}
    svg = (STATIC / "favicon.svg").read_text()
    assert svg.startswith("<svg") and "#2d5b7c" in svg  # the portal's accent colour
    assert "microsoft" not in svg.lower()
