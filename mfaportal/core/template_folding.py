"""Templates whose fixed text is joined once per language (issue 15).

A page such as ``/mfa/setup/`` is some 140 template nodes, about half of them text that is
the same on every request in a language: markup, ``{% translate "…" %}`` of a literal,
``{% url 'name' %}`` without arguments, ``{% static 'path' %}``, ``{% load %}`` and
``{% comment %}``. Django renders each of them on every request (a ``{% translate %}``
costs ~8 µs, a ``{% static %}`` ~10 µs). This loader, Django's
cached loader with one more step, replaces each run of such nodes by a single node that
renders the run once per language, escaping, URL configuration, script prefix and
application namespace, and then only joins in the request's CSRF token where the run holds a
``{% csrf_token %}``. Everything else (variables, ``if``, ``for``, blocks, includes, other
tags) renders as before, and the page is the same text, byte for byte but the token:
``tests/core/test_template_folding.py`` compares pages with and without it.

Two lookups Django repeats on every render are kept too. An ``{% extends %}`` or
``{% include %}`` of a quoted name asks every loader for the template each time (~50 calls);
here the node keeps what the first lookup found, for as long as the template itself is kept.
And a page's root template is searched for its ``{% block %}`` nodes on every render (a walk
of every node, ~300 calls for the portal's layout); here the search is done once.

A part that also depends on a few values of the page (which tab is current, whether the
signed-in user is staff) says so: ``{% fixed tab portal_directory_mode %}…{% endfixed %}``
(FixedBlock) renders once per language, URL prefix and values of those keys. Nothing inside
may read anything else: as its template loads (a template made from a string: before it
first keeps a rendering), the block checks every variable, condition, include and tag
inside it against its keys, and refuses (TemplateSyntaxError) one that reads more, a CSRF
token, or a tag it does not know.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

from django.core.signals import setting_changed
from django.template import Context, Template, TemplateSyntaxError
from django.template.base import (
    FilterExpression,
    Node,
    NodeList,
    Origin,
    TextNode,
    TokenType,
    Variable,
    VariableNode,
)
from django.template.defaulttags import CommentNode, CsrfTokenNode, IfNode, LoadNode
from django.template.engine import Engine
from django.template.loader_tags import ExtendsNode, IncludeNode
from django.template.loaders import base, cached
from django.templatetags.i18n import BlockTranslateNode, LanguageNode, TranslateNode
from django.templatetags.static import StaticNode
from django.urls import get_script_prefix, get_urlconf
from django.utils import translation
from django.utils.autoreload import file_changed

from mfaportal.core.templatetags.cached_url import CachedURLNode

# What a run renders to: text, with None where the request's CSRF token input goes.
Parts = tuple[str | None, ...]

# One per language, escaping, URL configuration, script prefix and namespace: a handful.
_KEPT_AT_MOST = 64

# Bumped when a compiled catalog changes under runserver, which reloads translations
# without restarting, and when a test changes a setting the text depends on: every run is
# rendered again.
_generation = [0]
_SETTINGS_READ = frozenset(
    {"STATIC_URL", "STATIC_ROOT", "STORAGES", "ROOT_URLCONF", "LOCALE_PATHS", "USE_I18N"}
    | {"LANGUAGE_CODE", "LANGUAGES"}
)


class _Folding(base.Loader):
    """Folds a template as it is compiled, before the cached loader keeps it: threads that
    find it in the cache never see it half folded."""

    def get_template(self, template_name: str, skip: Any = None) -> Template:
        template: Template = super().get_template(template_name, skip)
        fold(template.nodelist)
        template.nodelist = _KeptNodeList(template.nodelist)
        # A {% fixed %} part that reads more than its keys fails as the template loads.
        for block in template.nodelist.get_nodes_by_type(FixedBlock):
            assert isinstance(block, FixedBlock)
            block.check(self.engine)
        return template


class Loader(cached.Loader, _Folding):
    """Django's cached loader, keeping each template with its fixed runs folded."""


class FixedRun(TextNode):
    """Nodes whose output is fixed once the language and URL prefix are known, rendered as
    one. A TextNode, so that ``{% extends %}`` still finds a child template's first tag."""

    def __init__(self, nodes: list[Node]) -> None:
        super().__init__("")
        self.nodes = nodes
        self.token = nodes[0].token
        self.origin = nodes[0].origin
        self.rendered: dict[tuple[Any, ...], Parts] = {}
        self.generation = _generation[0]

    def __repr__(self) -> str:
        return f"<FixedRun: {len(self.nodes)} nodes>"

    def render_annotated(self, context: Context) -> str:
        return self.render(context)

    def render(self, context: Context) -> str:
        if self.generation != _generation[0]:
            self.rendered, self.generation = {}, _generation[0]
        key = (_request_key(context), context.autoescape)
        parts = self.rendered.get(key)
        if parts is None:
            parts = tuple(
                None if isinstance(node, CsrfTokenNode) else str(node.render_annotated(context))
                for node in self.nodes
            )
            parts = _joined(parts)
            if len(self.rendered) >= _KEPT_AT_MOST:
                self.rendered = {}  # never more than a handful: start again, never stop
            self.rendered[key] = parts
        if len(parts) == 1 and parts[0] is not None:
            return parts[0]
        token = ""
        if None in parts:
            token = str(CsrfTokenNode().render(context))
        return "".join(token if part is None else part for part in parts)


# The values a FixedBlock keys on: what compares equal renders the same. (None is not one:
# a missing variable resolves to None too, and prints otherwise.)
_KEY_TYPES = (str, bool, int)
# A block keyed on the page's view name is kept for each page, language and staff or not: a
# few hundred at most; the bound only stops a key that could take any value from growing it.
_BLOCK_KEPT_AT_MOST = 512


class FixedBlock(Node):
    """``{% fixed key … %}…{% endfixed %}``: a part of a page rendered once per language, URL
    prefix, escaping, localization and values of its keys (each a variable, as ``{% if %}``
    reads one), then kept. A key that is missing or whose value is not text, an integer or a
    boolean (or of a subclass of one: safe text, a text choice) renders the part every time,
    as if it were not fixed. Names set inside (``{% url … as name %}``) stay inside."""

    child_nodelists = ("nodelist",)

    def __init__(self, keys: list[FilterExpression], nodelist: NodeList) -> None:
        self.keys = keys
        self.nodelist = nodelist
        self.rendered: dict[tuple[Any, ...], str] = {}
        self.generation = _generation[0]
        self.checked = False

    def __repr__(self) -> str:
        return f"<FixedBlock: {' '.join(key.token for key in self.keys)}>"

    def render(self, context: Context) -> str:
        values = tuple(key.resolve(context, ignore_failures=True) for key in self.keys)
        if not all(isinstance(value, _KEY_TYPES) for value in values):
            return self._render(context)
        if self.generation != _generation[0]:
            self.rendered, self.generation = {}, _generation[0]
        # The types too: True and 1 are equal keys, "<b>" and a safe "<b>" print differently.
        key = (
            _request_key(context),
            (context.autoescape, context.use_l10n, context.use_tz),
            tuple((type(value), value) for value in values),
        )
        text = self.rendered.get(key)
        if text is None:
            if not self.checked:  # a template not from a loader (Engine.from_string)
                assert context.template is not None  # a node renders within its template
                self.check(context.template.engine)
            text = self._render(context)
            if len(self.rendered) >= _BLOCK_KEPT_AT_MOST:
                self.rendered = {}
            self.rendered[key] = text
        return text

    def _render(self, context: Context) -> str:
        with context.push():
            return str(self.nodelist.render(context))

    def check(self, engine: Engine) -> None:
        """Refuse a part that reads more than its keys (TemplateSyntaxError)."""
        names = {str(key.token) for key in self.keys}
        problem = _reads_more(self.nodelist, names, engine)
        self.checked = problem is None
        if problem:
            where = self.origin.template_name or self.origin.name
            raise TemplateSyntaxError(
                f"{{% fixed {' '.join(sorted(names))} %}} in {where!s} "
                f"(line {self.token.lineno if self.token else '?'}) holds {problem}: "
                "name it as a key or move it out."
            )


def _reads_more(nodelist: NodeList, names: set[str], engine: Engine) -> str | None:
    """What in ``nodelist`` reads more than the variables ``names`` (and the language and
    URL prefix), described; None when nothing does. Names set inside are added as they come."""
    names = set(names)
    for node in nodelist:
        problem = _node_reads_more(node, names, engine)
        if problem:
            return problem
    return None


def _node_reads_more(node: Node, names: set[str], engine: Engine) -> str | None:
    if isinstance(node, FixedRun):
        if any(isinstance(inner, CsrfTokenNode) for inner in node.nodes):
            return "a CSRF token"
        return None
    if isinstance(node, CsrfTokenNode):
        return "a CSRF token"
    if is_fixed(node):
        return None
    if isinstance(node, VariableNode):
        return _reads_unnamed(node.filter_expression, names)
    if isinstance(node, IfNode):
        for condition, child in node.conditions_nodelists:
            for expression in _condition_expressions(condition):
                problem = _reads_unnamed(expression, names)
                if problem:
                    return problem
            problem = _reads_more(child, names, engine)
            if problem:
                return problem
        return None
    if (
        isinstance(node, CachedURLNode)
        and node.asvar
        and _literal(node.view_name)
        and not node.args
        and not node.kwargs
    ):
        names.add(node.asvar)
        return None
    if isinstance(node, BlockTranslateNode) and node.asvar is None:
        return _translation_reads_more(node, names)
    if isinstance(node, IncludeNode):
        return _include_reads_more(node, engine)
    return f"{{% {node.token.contents if node.token else type(node).__name__} %}}"


# What every template context holds (django.template.context.BaseContext).
_BUILTIN_NAMES = frozenset({"True", "False", "None"})


def _reads_unnamed(expression: FilterExpression, names: set[str]) -> str | None:
    expressions = [expression.var]
    for _func, args in expression.filters:
        expressions += [arg for lookup, arg in args if lookup]
    for var in expressions:
        if isinstance(var, Variable) and var.lookups is not None:
            name = str(var.var)
            if name in _BUILTIN_NAMES:
                continue
            if name not in names and not any(name.startswith(f"{key}.") for key in names):
                return f"the variable {name!r}"
    return None


def _condition_expressions(condition: Any) -> Iterator[FilterExpression]:
    """The variables an ``{% if %}`` condition reads (Django's parsed condition tree)."""
    if condition is None:
        return
    value = getattr(condition, "value", None)
    if isinstance(value, FilterExpression):
        yield value
    for part in (getattr(condition, "first", None), getattr(condition, "second", None)):
        yield from _condition_expressions(part)


def _translation_reads_more(node: BlockTranslateNode, names: set[str]) -> str | None:
    inner = set(names) | set(node.extra_context) | {node.countervar}
    for expression in [*node.extra_context.values(), node.counter, node.message_context]:
        if isinstance(expression, FilterExpression):
            problem = _reads_unnamed(expression, names)
            if problem:
                return problem
    for token in [*node.singular, *(node.plural or [])]:
        if token.token_type == TokenType.VAR and token.contents not in inner:
            return f"the variable {token.contents!r}"
    return None


def _include_reads_more(node: IncludeNode, engine: Engine) -> str | None:
    """An include inside a fixed part sees only what it is given (``only``), and that must be
    fixed text; what it includes is checked with those names."""
    template = node.template
    given = node.extra_context.values()
    if not node.isolated_context or not all(_literal(value) for value in given):
        return f"{{% {node.token.contents} %}} (an include there takes only quoted values)"
    if isinstance(template, _NamedTemplate):
        name = template.name
    elif isinstance(template, FilterExpression) and _literal(template):
        name = str(template.resolve(Context()))
    else:
        return f"{{% {node.token.contents} %}} (an include there names its template)"
    found = engine.get_template(name)
    return _reads_more(found.nodelist, set(node.extra_context), engine)


class _KeptNodeList(NodeList):
    """A template's top node list, which ``{% extends %}`` searches for blocks on every
    render of a page built on it: searched once per node type. A folded template's nodes
    never change."""

    def __init__(self, nodes: NodeList) -> None:
        super().__init__(nodes)
        self.contains_nontext = nodes.contains_nontext
        self.found: dict[type[Node], list[Node]] = {}

    def get_nodes_by_type(self, nodetype: type[Node]) -> list[Node]:
        found = self.found.get(nodetype)
        if found is None:
            found = self.found[nodetype] = super().get_nodes_by_type(nodetype)
        return list(found)


class _NamedTemplate:
    """What an ``{% extends "name" %}`` or ``{% include "name" %}`` node reads for its
    template's name: the template itself once the node first found it. Django's nodes take
    a template in place of a name and then skip the lookup."""

    def __init__(self, node: ExtendsNode | IncludeNode, expression: FilterExpression, name: str):
        self.node = node
        self.name = name
        # What Django's nodes and their repr read of the expression they held.
        self.token = expression.token
        self.var = expression.var
        self.filters = expression.filters
        self.found: Template | None = None

    def resolve(self, context: Context, ignore_failures: bool = False) -> Template | str:
        node = self.node
        if isinstance(node, IncludeNode):
            if self.found is None:
                assert context.template is not None  # a node renders within its template
                self.found = context.template.engine.get_template(self.name)
            return self.found
        # ExtendsNode.find_template's history, kept as Django keeps it. A template that
        # extends one of its own name (another directory's) is looked up as Django does,
        # skipping the templates already in the chain.
        history: list[Origin] = cast(
            "list[Origin]", context.render_context.setdefault(node.context_key, [node.origin])
        )
        if any(origin.template_name == self.name for origin in history):
            return self.name
        if self.found is None:
            self.found = node.find_template(self.name, context)
        else:
            history.append(self.found.origin)
        return self.found


def _keep_named_template(node: Node) -> None:
    """Give an extends or include of a quoted name its template once found."""
    if type(node) is ExtendsNode:
        attribute = "parent_name"
    elif type(node) is IncludeNode:
        attribute = "template"
    else:
        return
    expression = getattr(node, attribute)
    if not isinstance(expression, FilterExpression) or not _literal(expression):
        return
    var = expression.var
    name = str(var if isinstance(var, str) else var.literal)
    if name.startswith("."):  # relative to the including template: Django works it out
        return
    setattr(node, attribute, _NamedTemplate(node, expression, name))


def _request_key(context: Context) -> tuple[Any, ...]:
    """What a run's text can depend on besides escaping: the language, URL configuration,
    script prefix and application namespace, worked out once per page. A ``{% language %}``
    block (_LanguageBlock) asks again inside it and after it."""
    render_context = context.render_context
    key: tuple[Any, ...] | None = getattr(render_context, "fixed_run_key", None)
    if key is None:
        request = getattr(context, "request", None)
        current_app = getattr(request, "current_app", None)
        if current_app is None:
            current_app = getattr(getattr(request, "resolver_match", None), "namespace", None)
        key = (translation.get_language(), get_urlconf(), get_script_prefix(), current_app)
        render_context.fixed_run_key = key  # type: ignore[attr-defined]
    return key


class _LanguageBlock(LanguageNode):
    """``{% language %}``, which changes the language for the runs inside it: they, and
    the runs after it, work out the page's key again. (Python code that switches language
    mid-page, ``translation.override``, only ever wraps its own strings here, never the
    rendering of a page's nodes.)"""

    def render(self, context: Context) -> str:
        render_context = context.render_context
        outside = getattr(render_context, "fixed_run_key", None)
        render_context.fixed_run_key = None  # type: ignore[attr-defined]
        try:
            return super().render(context)
        finally:
            render_context.fixed_run_key = outside  # type: ignore[attr-defined]


def _joined(parts: tuple[str | None, ...]) -> Parts:
    """Adjacent texts as one."""
    joined: list[str | None] = []
    for part in parts:
        if part is not None and joined and joined[-1] is not None:
            joined[-1] += part
        else:
            joined.append(part)
    return tuple(joined) or ("",)


def is_fixed(node: Node) -> bool:
    """Whether a node's output is known from the language and URL prefix alone."""
    if type(node) in (TextNode, LoadNode, CommentNode, CsrfTokenNode):
        return True
    if type(node) is TranslateNode:
        expression = node.filter_expression
        return (
            not node.noop
            and node.asvar is None
            and _literal(expression)
            and (node.message_context is None or _literal(node.message_context))
        )
    if type(node) is StaticNode:
        return node.varname is None and _literal(node.path)
    if type(node) is CachedURLNode:
        return not node.args and not node.kwargs and node.asvar is None and _literal(node.view_name)
    return False


def _literal(expression: FilterExpression) -> bool:
    """A quoted string with no filter: Django keeps it as the text itself, or (in
    ``{% translate %}``) as a variable holding a literal."""
    if expression.filters:
        return False
    if isinstance(expression.var, Variable):
        return expression.var.literal is not None and expression.var.lookups is None
    return isinstance(expression.var, str)


def fold(nodelist: NodeList, seen: set[int] | None = None) -> None:
    """Fold the fixed runs of ``nodelist`` and of every node list under it, in place (a
    partial or a block is the same node list wherever it is referred to)."""
    seen = set() if seen is None else seen
    if id(nodelist) in seen:
        return
    seen.add(id(nodelist))
    folded: list[Node] = []
    run: list[Node] = []
    for node in nodelist:
        if is_fixed(node):
            run.append(node)
            continue
        folded.extend(_run_node(run))
        run = []
        for child in _child_nodelists(node):
            fold(child, seen)
        _keep_named_template(node)
        if type(node) is LanguageNode:
            node.__class__ = _LanguageBlock
        folded.append(node)
    folded.extend(_run_node(run))
    nodelist[:] = folded


def _run_node(run: list[Node]) -> list[Node]:
    """A run as one node; a lone text stays as it is."""
    if not run:
        return []
    if len(run) == 1 and type(run[0]) is TextNode:
        return run
    return [FixedRun(run)]


def _child_nodelists(node: Node) -> Iterator[NodeList]:
    if isinstance(node, IfNode):
        for _condition, nodelist in node.conditions_nodelists:
            yield nodelist
    for value in vars(node).values():
        if isinstance(value, NodeList):
            yield value


def _catalog_changed(sender: Any, file_path: Any, **kwargs: Any) -> None:
    if str(file_path).endswith(".mo"):
        _generation[0] += 1


def _setting_changed(sender: Any, setting: str, **kwargs: Any) -> None:
    if setting in _SETTINGS_READ:
        _generation[0] += 1


file_changed.connect(_catalog_changed)
setting_changed.connect(_setting_changed)
