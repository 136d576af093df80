"""Template tags of the admin pages."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape as _escape
from typing import TYPE_CHECKING

from django import template
from django.utils.formats import localize
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from mfaportal.admin_portal import history
from mfaportal.core.models import AuditEvent
from mfaportal.core.templatetags.portal import options
from mfaportal.mfa.phones import phone_mask
from mfaportal.mfa.selectors.users import PAGE_SIZES

if TYPE_CHECKING:
    from mfaportal.admin_portal.views.listing import Listing, SortLink
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
    the history: ``{% sort_header sort_links.display_name _("DISPLAY NAME") "results" "sort-name" %}``.
    Written as a string, as the rows are: ``format_html`` cost ~140 calls a header."""
    sorted_as = f' aria-sort="{_escape(link.aria_sort)}"' if link.aria_sort else ""
    url = _escape(link.url)
    return SafeString(
        f'<th scope="col"{sorted_as}><a class="sort" href="{url}" hx-get="{url}"'
        f' hx-target="#{_escape(target)}" hx-swap="outerHTML" hx-push-url="true"'
        f' id="{_escape(link_id)}">{_escape(label)}'
        f'<span class="sort-mark" aria-hidden="true">{_escape(link.mark)}</span></a></th>'
    )


@register.simple_tag
def pager(listing: Listing, target: str, size_form: str) -> SafeString:
    """The pager of a keyset-paged list (views.listing): First page, Previous, the page
    number, Next, then the page size, which sticks. Each link swaps the part ``target``
    names in place and puts its address in the history; the size goes with the filter form
    ``size_form``: ``{% pager listing "results" "filters" %}``. Written as a string: as a
    template component it cost ~450 Python calls a page (issue 15)."""
    swap = f'hx-target="#{_escape(target)}" hx-swap="outerHTML" hx-push-url="true"'

    def link(url: str, rel: str, link_id: str, text: str) -> str:
        shown = _escape(url)
        return f'<a href="{shown}"{rel} hx-get="{shown}" {swap} id="{link_id}">{_escape(text)}</a>'

    pages, size_label = _("Pages"), _("Users per page")
    parts = [f'<nav class="pager" data-focus-scope="pager" aria-label="{_escape(pages)}">']
    if listing.first_url:
        parts.append(link(listing.first_url, "", "page-first", _("First page")))
    if listing.prev_url:
        parts.append(link(listing.prev_url, ' rel="prev"', "page-prev", _LEFT + _("Previous")))
    if listing.page.rows:
        number = _("Page %(number)s") % {"number": localize(listing.page_number)}
        parts.append(f'<span class="page-number">{_escape(number)}</span>')
    if listing.next_url:
        parts.append(link(listing.next_url, ' rel="next"', "page-next", _("Next") + _RIGHT))
    form = _escape(size_form)
    size = (
        f'</nav>\n<span class="page-size">\n  <label for="f-size">{_escape(size_label)}</label>\n'
        f'  <select id="f-size" name="size" form="{form}" hx-get="{_escape(listing.size_url)}"'
        f' hx-include="#{form}" {swap} hx-trigger="change">'
        f"{options(PAGE_SIZES, listing.size)}</select>\n</span>"
    )
    return SafeString("\n  ".join(parts) + size)


# The pager's arrows, single angle quotation marks: before Previous, after Next.
_LEFT, _RIGHT = "\u2039 ", " \u203a"


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
