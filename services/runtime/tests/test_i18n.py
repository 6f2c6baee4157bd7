"""The message catalogue and the page renderer every service shares."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sipas_runtime import i18n
from sipas_runtime.i18n import Catalogue, choose_language
from sipas_runtime.pages import SECURITY_HEADERS, Pages


@pytest.mark.parametrize(
    ("query", "cookie", "accept", "expected"),
    [
        (None, None, None, "vi"),
        (None, None, "en-US,en;q=0.9,vi;q=0.8", "en"),
        (None, None, "vi,en;q=0.5", "vi"),
        (None, None, "fr-FR,fr;q=0.9,en;q=0.4", "en"),
        (None, None, "en;q=0.2,vi;q=0.9", "vi"),
        (None, None, "en;q=0", "vi"),
        (None, "en", "vi", "en"),
        ("vi", "en", "en", "vi"),
        ("xx", None, None, "vi"),
    ],
)
def test_language_is_the_explicit_choice_then_the_browser_then_vietnamese(
    query, cookie, accept, expected
):
    assert choose_language(query, cookie, accept) == expected


@given(st.text(max_size=60))
def test_any_accept_language_header_yields_a_supported_language(header):
    assert choose_language(accept_language=header) in i18n.LANGUAGES


def test_runtime_messages_are_vietnamese_by_default_and_english_on_request():
    catalogue = Catalogue.of()

    assert catalogue.gettext("vi", "Skip to main content") == "Bỏ qua, đến nội dung chính"
    assert catalogue.gettext("en", "Skip to main content") == "Skip to main content"


def _package(tmp_path: Path, source: str, po: str | None) -> Path:
    package = tmp_path / "sipas_example"
    package.mkdir()
    (package / "__init__.py").write_text(source)
    if po is not None:
        path = i18n.po_path(package)
        path.parent.mkdir(parents=True)
        path.write_text(po)
    return package


def test_check_names_a_message_without_translation(tmp_path):
    package = _package(tmp_path, 'from x import _\nA = _("Dossier %(id)s is late")\n', None)

    problems = list(i18n.check(package))

    assert [(p.message, p.reason) for p in problems] == [
        ("Dossier %(id)s is late", "no vi translation")
    ]


def test_check_names_a_translation_that_lost_its_placeholder(tmp_path):
    po = 'msgid ""\nmsgstr ""\n\nmsgid "Dossier %(id)s is late"\nmsgstr "Hồ sơ bị trễ"\n'
    package = _package(tmp_path, 'from x import _\nA = _("Dossier %(id)s is late")\n', po)

    assert [p.reason for p in i18n.check(package)] == ["placeholders differ"]


def test_extract_then_translate_makes_the_check_pass_and_is_stable(tmp_path):
    package = _package(tmp_path, 'from x import _\nA = _("Case %(n)s overdue")\n', None)
    assert i18n.update_po(package) == (1, 1)
    path = i18n.po_path(package)
    path.write_text(
        path.read_text().replace(
            'msgid "Case %(n)s overdue"\nmsgstr ""',
            'msgid "Case %(n)s overdue"\nmsgstr "Phản ánh %(n)s quá hạn"',
        )
    )
    before = path.read_text()

    assert i18n.update_po(package) == (1, 0)
    assert path.read_text() == before
    assert list(i18n.check(package)) == []


def test_every_workspace_package_has_its_messages_translated():
    root = Path(__file__).resolve().parents[3]
    packages = [root / "services" / "runtime" / "src" / "sipas_runtime"]
    packages += sorted((root / "services").glob("*/src/sipas_*"))

    problems = [p for package in packages for p in i18n.check(package)]

    assert problems == []


def test_pages_render_the_shared_layout_translated_with_security_headers():
    pages = Pages("sipas_runtime", Catalogue.of())
    template = '{% extends "layout.html" %}{% block title %}{{ _("Error:") }}{% endblock %}'
    environment = pages.environment("vi")

    html = environment.from_string(template).render()
    english = pages.environment("en").from_string(template).render()

    assert "<title>Lỗi:</title>" in html
    assert 'lang="vi"' in html
    assert "Bỏ qua, đến nội dung chính" in html
    assert "<title>Error:</title>" in english
    assert "frame-ancestors 'none'" in SECURITY_HEADERS["Content-Security-Policy"]
    assert "unsafe-inline" not in SECURITY_HEADERS["Content-Security-Policy"]


def test_pages_escape_what_they_are_given():
    pages = Pages("sipas_runtime", Catalogue.of())

    html = pages.environment("vi").from_string("{{ x }}").render(x="<script>")

    assert html == "&lt;script&gt;"
