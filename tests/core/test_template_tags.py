"""Template tags shared by every page (mfaportal.core.templatetags.portal)."""

from __future__ import annotations

import pytest
from django.template import Context, Template
from django.test import Client
from django.utils.translation import gettext_lazy, override


def test_a_dropdown_marks_the_chosen_option_and_escapes_what_the_directory_named() -> None:
    template = Template("{% load portal %}<select>{% options choices chosen %}</select>")
    choices = [("role:1", 'Admins <"R&D">'), ("role:2", "Helpdesk"), (3, "O'Brien")]
    html = template.render(Context({"choices": choices, "chosen": "role:2"}))
    assert html == (
        '<select><option value="role:1">Admins &lt;&quot;R&amp;D&quot;&gt;</option>'
        '<option value="role:2" selected>Helpdesk</option>'
        '<option value="3">O&#x27;Brien</option></select>'
    )
    # A number chosen matches its option; nothing chosen marks nothing.
    assert '<option value="3" selected>' in template.render(
        Context({"choices": choices, "chosen": 3})
    )
    assert "selected" not in template.render(Context({"choices": choices, "chosen": None}))


def test_a_page_size_dropdown_lists_each_size_as_its_own_label() -> None:
    template = Template("{% load portal %}{% options sizes size %}")
    assert template.render(Context({"sizes": (25, 50), "size": 50})) == (
        '<option value="25">25</option><option value="50" selected>50</option>'
    )


def test_a_dropdown_words_its_labels_in_the_readers_language() -> None:
    template = Template("{% load portal %}{% options choices 'any' %}")
    with override("es"):
        html = template.render(Context({"choices": [("any", gettext_lazy("Any"))]}))
    assert html == '<option value="any" selected>Cualquiera</option>'


def test_a_fixed_dropdown_is_the_same_each_time_and_refuses_a_label_not_yet_translated() -> None:
    """A tuple's options are kept per selection (core.templatetags.portal.options): a lazy
    label would be kept in the first reader's language, so it is refused."""
    template = Template("{% load portal %}{% options choices chosen %}")
    fixed = (("any", "Any"), ("role:1", "R&D"))
    for chosen in ("any", "role:1", "any"):
        assert template.render(Context({"choices": fixed, "chosen": chosen})) == template.render(
            Context({"choices": list(fixed), "chosen": chosen})
        )
    with pytest.raises(TypeError, match="plain text"):
        template.render(Context({"choices": (("any", gettext_lazy("Any")),), "chosen": "any"}))


def test_a_link_follows_the_script_prefix_the_portal_is_served_under() -> None:
    """{% url %} keeps what a URL without arguments reverses to, per prefix: a portal served
    under /mfa/ beside one at the root never hands out the other's links."""
    from django.urls import get_script_prefix, set_script_prefix

    page = Template(
        "{% url 'admin_portal:users' %}|{% url 'admin_portal:users' as there %}{{ there }}"
    )
    before = get_script_prefix()
    try:
        set_script_prefix("/mfa/")
        assert page.render(Context()) == "/mfa/admin/users/|/mfa/admin/users/"
        set_script_prefix("/")
        assert page.render(Context()) == "/admin/users/|/admin/users/"
    finally:
        set_script_prefix(before)


def test_links_with_arguments_and_unknown_names_reverse_as_django_does() -> None:
    import uuid

    from django.urls import NoReverseMatch

    object_id = uuid.UUID(int=7)
    html = Template("{% url 'admin_portal:user_detail' oid %}").render(Context({"oid": object_id}))
    assert html == f"/admin/users/{object_id}/"
    assert Template("{% url 'no-such-page' as there %}[{{ there }}]").render(Context()) == "[]"
    with pytest.raises(NoReverseMatch):
        Template("{% url 'no-such-page' %}").render(Context())


@pytest.mark.django_db
def test_the_language_picker_names_each_language_in_itself_and_marks_the_readers(
    client: Client,
) -> None:
    english = client.get("/signin/").content.decode()
    assert '<option value="en" lang="en" selected>English</option>' in english
    assert '<option value="es" lang="es">Español</option>' in english
    spanish = client.get("/signin/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert '<option value="en" lang="en">English</option>' in spanish
    assert '<option value="es" lang="es" selected>Español</option>' in spanish
