"""Template tags of the admin pages."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from django import template
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from mfaportal.admin_portal import history
from mfaportal.core.models import AuditEvent
from mfaportal.mfa.phones import phone_mask

if TYPE_CHECKING:
    from mfaportal.admin_portal.views.users import RowView

register = template.Library()


@register.filter
def phone_masked(e164: str) -> str:
    """A phone number as the whole detail page shows it (+1 XXXXXXXX23): the methods table,
    the password reset contacts and the history agree (mfa.phones.phone_mask)."""
    return phone_mask(e164) if e164 else ""


@register.simple_tag
def user_rows(rows: Sequence[RowView]) -> SafeString:
    """The users table's rows. Written with format_html rather than template tags: a page
    holds up to 200 rows and this keeps drawing them well under a millisecond. Every value
    is escaped (display names are untrusted directory data)."""
    if not rows:
        return format_html(
            '<tr><td colspan="4" class="empty">{}</td></tr>', _("There are no users to display.")
        )
    licence_tag = format_html(
        ' <span class="tag" title="{}">{}</span>',
        _("Only licensed users are eligible for multi-factor authentication."),
        _("no licence"),
    )
    return format_html_join(
        "\n",
        '<tr{}><td class="check"><input type="checkbox" name="u" value="{}" id="u-{}"{}'
        ' aria-label="{}"></td><td><a href="{}">{}</a></td><td>{}</td>'
        '<td><span class="state {}">{}</span>{}</td></tr>',
        (
            (
                SafeString(' class="selected"') if row.checked else "",
                row.id,
                row.id,
                SafeString(" checked") if row.checked else "",
                row.select_label,
                row.detail_url,
                row.display_name,
                row.user_principal_name,
                row.state_class,
                row.state_label,
                "" if row.is_licensed else licence_tag,
            )
            for row in rows
        ),
    )


@register.simple_tag
def event_sentence(event: AuditEvent) -> SafeString:
    """What an audit event did, as a sentence in the reader's language (admin_portal.history)."""
    return history.event_sentence(event)
