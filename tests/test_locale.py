"""The Spanish (Mexico) catalogues: complete, compiled, in step with the source, and used by the pages."""

import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest
from django.urls import reverse
from django.utils import translation

from django_orkestapay.models import OrderStatus

ROOT = Path(__file__).resolve().parent.parent
CATALOGUES = {
    "package": ROOT / "django_orkestapay" / "locale" / "es" / "LC_MESSAGES",
    "example shop": ROOT / "example_project" / "shop" / "locale" / "es" / "LC_MESSAGES",
}


@pytest.mark.standalone
@pytest.mark.parametrize("name", CATALOGUES)
def test_catalogue_is_complete_and_the_compiled_file_matches_it(name):
    folder = CATALOGUES[name]
    po = polib.pofile(str(folder / "django.po"))
    assert po.percent_translated() == 100, [e.msgid for e in po.untranslated_entries()]
    assert not po.fuzzy_entries()
    assert po.metadata["Plural-Forms"].startswith("nplurals=2")
    compiled = {(e.msgctxt, e.msgid): (e.msgstr, e.msgstr_plural) for e in polib.mofile(str(folder / "django.mo"))}
    source = {(e.msgctxt, e.msgid): (e.msgstr, e.msgstr_plural) for e in po.translated_entries()}
    assert compiled == source, "django.mo is stale: run compilemessages"


@pytest.mark.standalone
@pytest.mark.skipif(shutil.which("xgettext") is None, reason="needs GNU gettext (scripts/test installs it)")
@pytest.mark.parametrize("name", CATALOGUES)
def test_every_translatable_string_in_the_source_is_in_the_catalogue(name, tmp_path):
    app = CATALOGUES[name].parents[2]
    copy = tmp_path / app.name
    shutil.copytree(app, copy, ignore=shutil.ignore_patterns("__pycache__"))
    settings, path = (
        ("tests.settings", str(ROOT)) if name == "package" else ("shop_site.settings", str(ROOT / "example_project"))
    )
    result = subprocess.run(
        [sys.executable, "-m", "django", "makemessages", "-l", "es", "--no-location", "-i", "testing/*"],
        cwd=copy,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": path, "DJANGO_SETTINGS_MODULE": settings},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    extracted = {e.msgid for e in polib.pofile(str(copy / "locale/es/LC_MESSAGES/django.po")) if not e.obsolete}
    shipped = {e.msgid for e in polib.pofile(str(CATALOGUES[name] / "django.po")) if not e.obsolete}
    assert extracted == shipped, f"new: {sorted(extracted - shipped)}; gone: {sorted(shipped - extracted)}"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("accept_language", "title", "message"),
    [
        ("es-MX,es;q=0.9", "Enlace no válido", "Este enlace de pago está incompleto."),
        ("en", "Invalid link", "This payment link is incomplete."),
    ],
)
def test_buyer_pages_speak_the_active_language(client, accept_language, title, message):
    response = client.get(reverse("orkestapay:completed"), HTTP_ACCEPT_LANGUAGE=accept_language)
    page = response.content.decode()
    assert response.status_code == 400
    assert title in page
    assert message in page
    assert f'lang="{accept_language[:2]}"' in page


def test_status_labels_are_translated():
    with translation.override("es-mx"):
        assert str(OrderStatus.PAID.label) == "Pagada"
        assert str(OrderStatus.PENDING.label) == "Pago pendiente"
