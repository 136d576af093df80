"""Template tags of the admin pages."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape as _escape
from typing import TYPE_CHECKING

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from mfaportal.admin_portal import history
from mfaportal.core.models import AuditEvent
from mfaportal.mfa.phones import phone_mask

if TYPE_CHECKING:
    from mfaportal.admin_portal.views.listing import SortLink
    from mfaportal.admin_portal.views.users import RowView

register = template.Library()


@register.filter
def phone_masked(e164: str) -> str:
    """A phone number as the whole detail page shows it (+1 XXXXXXXX23): the methods table,
    the password reset contacts and the history agree (mfa.phones.phone_mask)."""
    return phone_mask(e164) if e164 else ""


@register.simple_tag
def sort_header(link: SortLink, label: str, target: str, link_id: str) -> SafeString:
    """A sortable column's header cell: a link that sorts the list by the column (or the
    other way round), swapping the part ``target`` names in place and putting its address in
    the history: ``{% sort_header sort_links.display_name label "results" "sort-name" %}``."""
    sorted_as = format_html(' aria-sort="{}"', link.aria_sort) if link.aria_sort else ""
    return format_html(
        '<th scope="col"{}><a class="sort" href="{}" hx-get="{}" hx-target="#{}"'
        ' hx-swap="outerHTML" hx-push-url="true" id="{}">{}'
        '<span class="sort-mark" aria-hidden="true">{}</span></a></th>',
        sorted_as, link.url, link.url, target, link_id, label, link.mark,
    )  # fmt: skip


@register.simple_tag
def user_rows(rows: Sequence[RowView]) -> SafeString:
    """The users table's rows. Written as strings rather than template tags: a page holds up
    to 200 rows. Every value is escaped (display names are untrusted directory data) by
    ``html.escape``, which is what Django's ``escape`` applies, without the per-value cost of
    its lazy-string wrapper (~800 calls a page, issue 15)."""
    if not rows:
        return format_html(
            '<tr><td colspan="4" class="empty">{}</td></tr>', _("There are no users to display.")
        )
    licence_tag = format_html(
        ' <span class="tag" title="{}">{}</span>',
        _("Only licensed users are eligible for multi-factor authentication."),
        _("no licence"),
    )
    selected = ' class="selected"'
    return SafeString(
        "\n".join(
            f'<tr{selected if row.checked else ""}><td class="check">'
            f'<input type="checkbox" name="u" value="{row.id:d}" id="u-{row.id:d}"'
            f'{" checked" if row.checked else ""} aria-label="{_escape(row.select_label)}">'
            f'</td><td><a href="{_escape(row.detail_url)}">{_escape(row.display_name)}</a></td>'
            f"<td>{_escape(row.user_principal_name)}</td>"
            f'<td><span class="state {_escape(row.state_class)}">{_escape(row.state_label)}'
            f"</span>{'' if row.is_licensed else licence_tag}</td></tr>"
            for row in rows
        )
    )


@register.simple_tag
def event_sentence(event: AuditEvent) -> SafeString:
    """What an audit event did, as a sentence in the reader's language (admin_portal.history)."""
    return history.event_sentence(event)
