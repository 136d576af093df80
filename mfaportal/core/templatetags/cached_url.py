"""``{% url %}``, remembering what a URL with no arguments reverses to. A builtin library
(TEMPLATES' ``builtins``), so its tag replaces Django's on every page.

Each ``{% url 'name' %}`` reverses on every render, ~12 µs; a page such as the users tab
holds about twenty (issue 15). A URL without arguments reverses to the same text for the
same name, URL configuration, script prefix and application namespace, so that text is kept
per process. A URL with arguments reverses as Django's tag does.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.template.base import Parser, Token
from django.template.defaulttags import URLNode
from django.template.defaulttags import url as django_url
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse
from django.utils.html import conditional_escape

register = template.Library()

# Bounded: a view name can come from a variable.
_REVERSED: dict[tuple[Any, ...], str] = {}
_KEPT_AT_MOST = 1000


class CachedURLNode(URLNode):
    def render(self, context: template.Context) -> str:
        if self.args or self.kwargs:
            return str(super().render(context))
        view_name = self.view_name.resolve(context)
        # The application namespace as Django's tag finds it.
        request = getattr(context, "request", None)
        current_app = getattr(request, "current_app", None)
        if current_app is None:
            current_app = getattr(getattr(request, "resolver_match", None), "namespace", None)
        key = (view_name, get_urlconf(), get_script_prefix(), current_app)
        url = _REVERSED.get(key)
        if url is None:
            try:
                url = reverse(view_name, current_app=current_app)
            except NoReverseMatch:
                if self.asvar is None:
                    raise
                url = ""
            else:
                if len(_REVERSED) < _KEPT_AT_MOST:
                    _REVERSED[key] = url
        if self.asvar:
            context[self.asvar] = url
            return ""
        return conditional_escape(url) if context.autoescape else url


@register.tag
def url(parser: Parser, token: Token) -> CachedURLNode:
    """Django's ``{% url %}``, parsed by Django; see the module's text."""
    node = django_url(parser, token)
    return CachedURLNode(node.view_name, node.args, node.kwargs, node.asvar)
