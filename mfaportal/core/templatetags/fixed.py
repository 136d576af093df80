"""``{% fixed key … %}…{% endfixed %}``: a part of a page kept once rendered for its language,
URL prefix and keys (mfaportal.core.template_folding.FixedBlock). A builtin library
(TEMPLATES' ``builtins``): every template has it without a ``{% load %}``.
"""

from __future__ import annotations

from django import template
from django.template.base import Parser, Token

from mfaportal.core.template_folding import FixedBlock

register = template.Library()


@register.tag
def fixed(parser: Parser, token: Token) -> FixedBlock:
    keys = [parser.compile_filter(bit) for bit in token.split_contents()[1:]]
    nodelist = parser.parse(("endfixed",))
    parser.delete_first_token()
    return FixedBlock(keys, nodelist)
