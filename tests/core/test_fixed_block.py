"""``{% fixed key … %}``: a part of a page kept once drawn for its keys (issue 15). What it
keeps must never carry one visitor's data to another: each part is checked before it is
first kept, and the pages that use it still mark the page you are on and show each visitor
their own menu."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.template import Context, TemplateSyntaxError, engines
from django.template.base import Template
from django.test import Client
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import override

from mfaportal.core import roles
from mfaportal.core.template_folding import FixedBlock, fold
from mfaportal.directory.services import session_proof_mark
from mfaportal.mfa.models import MfaState
from tests.factories import make_user


def _template(source: str) -> Template:
    """The template folded as the portal's loader folds it (its fixed runs joined)."""
    template: Template = engines["django"].engine.from_string(source)  # type: ignore[attr-defined]
    fold(template.nodelist)
    return template


def _block(template: Template) -> FixedBlock:
    (block,) = template.nodelist.get_nodes_by_type(FixedBlock)
    assert isinstance(block, FixedBlock)
    return block


def test_a_fixed_part_is_drawn_once_per_value_of_its_keys_and_in_each_language() -> None:
    template = _template(
        "{% load i18n %}{% fixed tab %}<b>{% translate 'Language' %}</b>"
        '{% if tab == "users" %}[users]{% else %}[{{ tab }}]{% endif %}{% endfixed %}'
    )
    drawn = []
    for language, tab in (("en", "users"), ("en", "audit <1>"), ("es", "users"), ("en", "users")):
        with override(language):
            drawn.append(template.render(Context({"tab": tab})))
    assert drawn == [
        "<b>Language</b>[users]",
        "<b>Language</b>[audit &lt;1&gt;]",
        "<b>Idioma</b>[users]",
        "<b>Language</b>[users]",
    ]
    assert len(_block(template).rendered) == 3


def test_a_key_that_is_not_a_plain_value_or_is_missing_draws_the_part_every_time() -> None:
    template = _template("{% fixed tab %}[{{ tab.0 }}]{% endfixed %}")
    assert template.render(Context({"tab": ["a"]})) == "[a]"
    assert template.render(Context({"tab": ["b"]})) == "[b]"
    assert _block(template).rendered == {}
    # Missing, None and "" print differently; none of them is kept.
    template = _template(
        "{% fixed tab %}[{{ tab }}]{% if tab is None %}none{% endif %}{% endfixed %}"
    )
    assert template.render(Context()) == "[]none"
    assert template.render(Context({"tab": None})) == "[None]none"
    assert template.render(Context({"tab": ""})) == "[]"
    assert template.render(Context()) == "[]none"
    assert len(_block(template).rendered) == 1  # "" only


def test_equal_keys_of_other_kinds_are_kept_apart() -> None:
    """Text and the same text marked safe print differently; True and 1 are equal keys."""
    template = _template("{% fixed tab %}{{ tab }}{% endfixed %}")
    assert template.render(Context({"tab": "<i>"})) == "&lt;i&gt;"
    assert template.render(Context({"tab": mark_safe("<i>")})) == "<i>"
    assert template.render(Context({"tab": "<i>"})) == "&lt;i&gt;"
    assert template.render(Context({"tab": True})) == "True"
    assert template.render(Context({"tab": 1})) == "1"


def test_a_name_set_inside_a_fixed_part_stays_inside() -> None:
    template = _template(
        "{% fixed %}{% url 'admin_portal:guide' as guide %}<a href=\"{{ guide }}\">{% endfixed %}"
        "[{{ guide }}]"
    )
    for _ in range(2):
        assert template.render(Context()) == '<a href="/admin/guide/">[]'


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        (
            "{% fixed tab %}{{ user.user_principal_name }}{% endfixed %}",
            "'user.user_principal_name'",
        ),
        ("{% fixed %}{% if user.is_staff %}x{% endif %}{% endfixed %}", "'user.is_staff'"),
        ("{% fixed tab %}{{ tab|default:name }}{% endfixed %}", "'name'"),
        ("{% fixed %}{% csrf_token %}{% endfixed %}", "a CSRF token"),
        ('{% fixed %}<form>{% csrf_token %}<input name="a">{% endfixed %}', "a CSRF token"),
        ("{% fixed %}{{ csrf_token }}{% endfixed %}", "'csrf_token'"),
        ("{% fixed %}{% for x in xs %}{% endfor %}{% endfixed %}", "for x in xs"),
        ("{% fixed %}{% url 'admin_portal:user_detail' pk %}{% endfixed %}", "url"),
        ("{% fixed %}{% url next_view as link %}{{ link }}{% endfixed %}", "url next_view"),
        ("{% fixed tab %}{% if tab|default:other %}x{% endif %}{% endfixed %}", "'other'"),
        (
            "{% load i18n %}{% fixed %}{% blocktranslate count counter=n %}one{% plural %}"
            "many{% endblocktranslate %}{% endfixed %}",
            "'n'",
        ),
        (
            "{% load i18n %}{% fixed %}{% blocktranslate context kind %}Hi{% endblocktranslate %}"
            "{% endfixed %}",
            "'kind'",
        ),
        (
            "{% load i18n %}{% fixed %}{% blocktranslate %}Hi {{ name }}{% endblocktranslate %}"
            "{% endfixed %}",
            "'name'",
        ),
        ("{% fixed %}{% include 'components/dialog.html' %}{% endfixed %}", "only"),
        (
            "{% fixed %}{% include 'components/dialog.html' with focus_return=x only %}"
            "{% endfixed %}",
            "quoted values",
        ),
        (
            # What it includes reads a selection it was not given.
            "{% fixed %}{% include 'components/quick_steps.html' only %}{% endfixed %}",
            "'selection.count'",
        ),
    ],
)
def test_a_fixed_part_that_reads_more_than_its_keys_is_refused_before_anything_is_kept(
    source: str, problem: str
) -> None:
    template = _template(source)
    context = {"tab": "users", "user": {"user_principal_name": "a@b"}, "csrf_token": "secret"}
    with pytest.raises(TemplateSyntaxError, match="holds .*" + problem.replace("|", r"\|")):
        template.render(Context(context))
    assert _block(template).rendered == {}


def test_a_page_whose_fixed_part_reads_more_is_refused_as_it_loads_not_when_drawn(
    tmp_path: Any,
) -> None:
    """A mistake shows when the template loads (at start, in every test of its page), not as
    a server error on somebody's first visit; what an include brings in counts too."""
    from django.template.engine import Engine

    (tmp_path / "inner.html").write_text("<p>{{ label }} {{ user.user_principal_name }}</p>")
    (tmp_path / "page.html").write_text(
        '{% fixed %}{% include "inner.html" with label="Hi" only %}{% endfixed %}'
    )
    (tmp_path / "fine.html").write_text(
        '{% fixed tab %}{% include "label.html" with label="Hi" only %}{% endfixed %}'
    )
    (tmp_path / "label.html").write_text("<p>{{ label }}</p>")
    engine = Engine(
        dirs=[str(tmp_path)],
        builtins=["mfaportal.core.templatetags.fixed"],
        loaders=[
            (
                "mfaportal.core.template_folding.Loader",
                ["django.template.loaders.filesystem.Loader"],
            )
        ],
    )
    with pytest.raises(TemplateSyntaxError, match=r"'user\.user_principal_name'"):
        engine.get_template("page.html")
    assert engine.get_template("fine.html").render(Context({"tab": "a"})) == "<p>Hi</p>"


def test_an_include_given_only_quoted_values_may_be_fixed() -> None:
    template = _template(
        '{% fixed %}{% include "components/dialog.html" with focus_return="pane" only %}'
        "{% endfixed %}"
    )
    drawn = template.render(Context({"focus_return": "elsewhere"}))
    assert 'data-focus-return="pane"' in drawn and len(_block(template).rendered) == 1


def _signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    session = client.session
    session_proof_mark(session=session, at=timezone.now() + timedelta(hours=1))
    session.save()
    return client


@pytest.mark.django_db
def test_the_portal_menu_marks_the_page_you_are_on_and_shows_admin_pages_only_to_staff() -> None:
    admin = make_user(
        "admin@contoso.test", display_name="MOD Administrator", registered=True,
        admin_role=roles.GLOBAL_ADMINISTRATOR, state=MfaState.ENFORCED,
    )  # fmt: skip
    member = make_user("member@contoso.test", display_name="Member", registered=True)
    admin_client, member_client = _signed_in(admin), _signed_in(member)
    admin_link = '<a href="/admin/users/" aria-current="page">multi-factor authentication</a>'
    for _ in range(2):
        users_page = admin_client.get("/admin/users/").content.decode()
        active_page = admin_client.get("/admin/active-users/").content.decode()
        member_page = member_client.get("/mfa/setup/").content.decode()
        admin_setup = admin_client.get("/mfa/setup/").content.decode()
        assert admin_link in users_page and admin_link not in active_page
        assert '<a href="/admin/active-users/" aria-current="page">Active users</a>' in active_page
        assert "/admin/active-users/" not in member_page and "member@contoso.test" in member_page
        assert "/admin/active-users/" in admin_setup and admin_link not in admin_setup
        assert "admin@contoso.test" in admin_setup and "member@contoso.test" not in admin_setup
