"""Fixed template text rendered once per language (mfaportal.core.template_folding): every
page reads exactly as Django alone renders it, in each language, with a CSRF token of its own
per request."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.template import Context, engines
from django.test import Client, override_settings
from django.utils import timezone
from django.utils.translation import override

from mfaportal.core import roles
from mfaportal.core.template_folding import FixedRun, fold
from mfaportal.directory.models import DirectoryUser
from mfaportal.directory.services import session_proof_mark
from mfaportal.mfa.models import MfaState
from tests.factories import make_user

TOKEN = re.compile(r'(name="csrfmiddlewaretoken" value="|"X-CSRFToken": ")[^"]+"')


def _plain_templates() -> list[dict[str, Any]]:
    """The portal's template settings with Django's own cached loader in place of folding."""
    plain: list[dict[str, Any]] = copy.deepcopy(settings.TEMPLATES)
    partials = plain[0]["OPTIONS"]["loaders"][0]
    (folding, below) = partials[1][0]
    assert folding == "mfaportal.core.template_folding.Loader"
    partials[1][0] = ("django.template.loaders.cached.Loader", below)
    return plain


def _without_tokens(html: str) -> str:
    return TOKEN.sub(r'\1…"', html)


@pytest.fixture
def signed_in() -> Iterator[dict[str, Client]]:
    admin = make_user(
        "admin@contoso.test", display_name="MOD Administrator", registered=True,
        admin_role=roles.GLOBAL_ADMINISTRATOR, state=MfaState.ENFORCED,
    )  # fmt: skip
    for number in range(3):
        make_user(f"user{number}@contoso.test", display_name=f"Zoë <{number}>", registered=True)
    clients = {"admin": Client(), "anonymous": Client()}
    clients["admin"].force_login(admin)
    session = clients["admin"].session
    session_proof_mark(session=session, at=timezone.now() + timedelta(hours=1))
    session.save()
    yield clients


PAGES = [
    ("admin", "/admin/users/"),
    ("admin", "/admin/users/?q=zo&status=disabled"),
    ("admin", "/admin/users/?q=nobody"),
    ("admin", "/admin/active-users/"),
    ("admin", "/admin/settings/"),
    ("admin", "/admin/audit/"),
    ("admin", "/admin/sign-ins/"),
    ("admin", "/admin/hardware-tokens/"),
    ("admin", "/admin/bulk-update/"),
    ("admin", "/admin/guide/"),
    ("admin", "/mfa/setup/"),
    ("admin", "/mfa/app-passwords/"),
    ("anonymous", "/signin/"),
]


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["en", "es"])
def test_every_page_reads_as_django_alone_renders_it_in_each_language(
    signed_in: dict[str, Client], language: str
) -> None:
    def pages() -> list[str]:
        answers = []
        for who, url in PAGES:
            response = signed_in[who].get(url, HTTP_ACCEPT_LANGUAGE=language)
            assert response.status_code == 200, (url, response.status_code)
            answers.append(_without_tokens(response.content.decode()))
        return answers

    folded = pages()
    with override_settings(TEMPLATES=_plain_templates()):
        plain = pages()
    for (_who, url), one, other in zip(PAGES, folded, plain, strict=True):
        assert one == other, url
    assert ("Idioma" in folded[0]) is (language == "es")


@pytest.mark.django_db
def test_the_same_page_in_english_then_spanish_is_worded_in_each(
    signed_in: dict[str, Client],
) -> None:
    english = signed_in["anonymous"].get("/signin/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    spanish = signed_in["anonymous"].get("/signin/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "Skip to main content" in english and "Skip to main content" not in spanish
    assert '<html lang="es">' in spanish


@pytest.mark.django_db
def test_each_visitor_gets_a_csrf_token_of_their_own_that_the_portal_accepts(
    signed_in: dict[str, Client],
) -> None:
    first, second = Client(enforce_csrf_checks=True), Client(enforce_csrf_checks=True)
    tokens = []
    for client in (first, second):
        html = client.get("/signin/").content.decode()
        found = TOKEN.findall(html)
        assert found, "the sign-in page carries a CSRF token"
        tokens.append(re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)[1])  # type: ignore[index]
    assert tokens[0] != tokens[1]
    # The footer's language form, fixed text around a token, posts with the token it drew.
    answer = first.post("/i18n/setlang/", {"language": "es", "csrfmiddlewaretoken": tokens[0]})
    assert answer.status_code == 302
    refused = first.post("/i18n/setlang/", {"language": "es", "csrfmiddlewaretoken": "x" * 64})
    assert refused.status_code == 403


def test_fixed_runs_are_folded_and_what_changes_per_request_is_not() -> None:
    engine = engines["django"].engine  # type: ignore[attr-defined]
    template = engine.from_string(
        "{% load i18n %}<p>{% translate 'Sign out' %}</p>{% csrf_token %}"
        "{% url 'admin_portal:users' %}{{ name }}{% translate 'Sign out' as kept %}[{{ kept }}]"
        "{% if flag %}<b>{% translate 'Language' %}</b>{% endif %}"
        "{% language 'es' %}{% translate 'Language' %}{% endlanguage %}"
    )
    plain = template.render(Context({"name": "Zoë <b>", "flag": True, "csrf_token": "t0k"}))
    fold(template.nodelist)
    runs = [node for node in template.nodelist if isinstance(node, FixedRun)]
    assert runs and len(template.nodelist) < 10
    for language in ("en", "es", "en"):
        with override(language):
            context = Context({"name": "Zoë <b>", "flag": True, "csrf_token": f"{language}-t"})
            unfolded = engine.from_string(template.source).render(
                Context({"name": "Zoë <b>", "flag": True, "csrf_token": f"{language}-t"})
            )
            assert template.render(context) == unfolded
    assert plain.count("t0k") == 1 and "Zoë &lt;b&gt;" in plain
    with override("es"):
        spanish = template.render(Context({"flag": False, "csrf_token": "x"}))
    assert "Cerrar sesión" in spanish and spanish.endswith("Idioma")


def test_fixed_links_follow_the_script_prefix_and_static_files_their_url() -> None:
    """A portal served under /mfa/ beside one at the root never hands out the other's links;
    moving the static files moves their links."""
    from django.urls import get_script_prefix, set_script_prefix

    engine = engines["django"].engine  # type: ignore[attr-defined]
    template = engine.from_string(
        "<a href=\"{% url 'admin_portal:users' %}\">{% load static %}{% static 'css/portal.css' %}"
    )
    fold(template.nodelist)
    assert len(template.nodelist) == 1
    before = get_script_prefix()
    try:
        set_script_prefix("/mfa/")
        assert template.render(Context()) == '<a href="/mfa/admin/users/">/static/css/portal.css'
        set_script_prefix("/")
        assert template.render(Context()) == '<a href="/admin/users/">/static/css/portal.css'
        with override_settings(STATIC_URL="/assets/"):
            assert template.render(Context()).endswith("/assets/css/portal.css")
        assert template.render(Context()).endswith("/static/css/portal.css")
    finally:
        set_script_prefix(before)


def test_fixed_text_is_escaped_where_escaping_is_on_and_only_there() -> None:
    """The same folded text drawn with escaping on, then off, then on again."""
    engine = engines["django"].engine  # type: ignore[attr-defined]
    template = engine.from_string("{% load static %}<link href=\"{% static 'a.css' %}\">")
    fold(template.nodelist)
    with override_settings(STATIC_URL="/assets&more/"):
        for _ in range(2):
            assert (
                template.render(Context(autoescape=True)) == '<link href="/assets&amp;more/a.css">'
            )
            assert template.render(Context(autoescape=False)) == '<link href="/assets&more/a.css">'


def test_pages_loaded_by_many_threads_at_once_are_whole() -> None:
    """Gunicorn's threads may ask for a template no thread has loaded yet, all at once: each
    gets the whole page, folded once (a template was once kept before it was folded, and a
    second thread folding it too lost part of the page)."""
    import sys
    import threading

    from django.template.backends.django import DjangoTemplates
    from django.template.engine import Engine

    def fresh_engine() -> Engine:
        params = {**copy.deepcopy(settings.TEMPLATES[0]), "NAME": "fresh", "APP_DIRS": False}
        params.pop("BACKEND")
        return DjangoTemplates(params).engine

    def load_and_draw(engine: Engine, pages: list[str]) -> None:
        pages.append(engine.get_template("base.html").render(Context()))

    expected = fresh_engine().get_template("base.html").render(Context())
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        for _ in range(200):
            engine = fresh_engine()
            pages: list[str] = []
            threads = [
                threading.Thread(target=load_and_draw, args=(engine, pages)) for _ in range(4)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert pages == [expected] * 4
    finally:
        sys.setswitchinterval(interval)


@pytest.mark.django_db
def test_a_signed_in_users_name_is_never_kept_in_fixed_text(
    signed_in: dict[str, Client],
) -> None:
    """Two people in turn: each page names its own visitor (nothing per user is folded)."""
    other = make_user("other@contoso.test", display_name="Other Person", registered=True)
    second = Client()
    second.force_login(DirectoryUser.objects.get(pk=other.pk))
    session = second.session
    session_proof_mark(session=session, at=timezone.now() + timedelta(hours=1))
    session.save()
    first_page = signed_in["admin"].get("/mfa/setup/").content.decode()
    second_page = second.get("/mfa/setup/").content.decode()
    assert "admin@contoso.test" in first_page and "admin@contoso.test" not in second_page
    assert "other@contoso.test" in second_page


def _engine_over(*directories: Any) -> Any:
    from django.template.engine import Engine

    return Engine(
        dirs=[str(directory) for directory in directories],
        libraries={"i18n": "django.templatetags.i18n"},
        loaders=[
            (
                "mfaportal.core.template_folding.Loader",
                ["django.template.loaders.filesystem.Loader"],
            )
        ],
    )


def _engine_with(directory: Any, templates: dict[str, str]) -> Any:
    for name, text in templates.items():
        (directory / name).write_text(text)
    return _engine_over(directory)


def test_a_layout_and_an_included_part_are_looked_up_once_not_on_every_page(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = _engine_with(
        tmp_path,
        {
            "layout.html": "<main>{% block main %}{% endblock %}</main>",
            "part.html": "[{{ who }}]",
            "page.html": '{% extends "layout.html" %}{% block main %}'
            '{% include "part.html" with who=name %}{% include "part.html" with who="x" only %}'
            "{% endblock %}",
        },
    )
    page = engine.get_template("page.html")
    assert page.render(Context({"name": "Zoë"})) == "<main>[Zoë][x]</main>"
    looked_up: list[str] = []
    original = engine.find_template

    def counted(name: str, *args: Any, **kwargs: Any) -> Any:
        looked_up.append(name)
        return original(name, *args, **kwargs)

    monkeypatch.setattr(engine, "find_template", counted)
    assert page.render(Context({"name": "Ann"})) == "<main>[Ann][x]</main>"
    assert looked_up == []


def test_a_template_that_extends_another_directorys_template_of_its_own_name_still_does(
    tmp_path: Any,
) -> None:
    """As an app overrides a library's base.html by extending it: Django skips the
    templates already in the chain, and so does the kept lookup."""
    mine, library = tmp_path / "mine", tmp_path / "library"
    mine.mkdir()
    library.mkdir()
    (library / "base.html").write_text("<lib>{% block body %}{% endblock %}</lib>")
    (mine / "base.html").write_text(
        '{% extends "base.html" %}{% block body %}<mine>{% block inner %}{% endblock %}</mine>'
        "{% endblock %}"
    )
    (mine / "page.html").write_text(
        '{% extends "base.html" %}{% block inner %}{{ text }}{% endblock %}'
    )
    engine = _engine_over(mine, library)
    for text in ("one", "two"):
        assert engine.get_template("page.html").render(Context({"text": text})) == (
            f"<lib><mine>{text}</mine></lib>"
        )
    # The overriding template on its own, after the page: found the same way.
    assert engine.get_template("base.html").render(Context()) == "<lib><mine></mine></lib>"


def test_a_language_block_words_its_part_and_what_it_includes_in_its_language_only(
    tmp_path: Any,
) -> None:
    engine = _engine_with(
        tmp_path,
        {
            "part.html": '{% load i18n %}<{% translate "Language" %}>',
            "page.html": '{% load i18n %}{% translate "Language" %}|{% language "es" %}'
            '{% include "part.html" %}|{% translate "Language" %}{% endlanguage %}'
            '|{% translate "Language" %}{% include "part.html" %}',
        },
    )
    with override("en"):
        for _ in range(2):
            page = engine.get_template("page.html").render(Context())
            assert page == "Language|<Idioma>|Idioma|Language<Language>"
