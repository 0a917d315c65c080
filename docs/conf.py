"""Sphinx configuration of django-orkestapay's documentation. Build it with ``scripts/docs`` (HTML in
``docs/_build/html``); ``scripts/test`` builds it too, with warnings as errors."""

from __future__ import annotations

import sys
from pathlib import Path

import django
from django.conf import settings

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path[:0] = [str(ROOT), str(DOCS / "_ext")]

# autodoc imports the package, and the reference pages read its models: a minimal Django project, no database.
if not settings.configured:
    settings.configure(
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "django_orkestapay"],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        USE_I18N=True,
        LANGUAGE_CODE="en",
        SECRET_KEY="docs-build-only",  # noqa: S106 - signs nothing
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
    )
    django.setup()

from django_orkestapay import __version__  # noqa: E402

project = "django-orkestapay"
author = "django-orkestapay contributors"
copyright = "django-orkestapay contributors"
version = release = __version__

extensions = [
    "sphinx.ext.autodoc",
    "orkestapay_docs",
]
exclude_patterns = ["_build"]
templates_path: list[str] = []
root_doc = "index"
language = "en"

html_theme = "furo"
html_title = f"django-orkestapay {release}"
html_static_path: list[str] = []

# Code blocks say their language; a block that does not parse as it says is a warning (and -W makes it an error).
highlight_language = "none"

autodoc_typehints = "description"
autodoc_typehints_description_target = "documented_params"
autodoc_member_order = "bysource"
autodoc_class_signature = "separated"
autodoc_default_options = {"show-inheritance": False}
python_use_unqualified_type_names = True

# Nitpicky mode (-n) fails the build on every reference it cannot resolve. Left out, because no inventory of them
# can be fetched in CI (no network but the package registries, so no intersphinx): the standard library, Django,
# requests and pytest. Everything of this package, every setting and every check id must resolve.
nitpick_ignore_regex = [
    (r"py:.*", r"(decimal|datetime|uuid|collections|typing|types|enum|abc|logging|http|pathlib|re|threading)\..*"),
    (r"py:.*", r"(django|requests|pytest|django_tasks)(\..*)?"),
    (r"py:.*", r"(Decimal|datetime|timedelta|UUID|Callable|Iterable|Iterator|Mapping|Sequence|Any|Self|TypeVar)"),
    (r"py:.*", r"(HttpRequest|HttpResponse|QuerySet|Model|Task|TaskResult|TextChoices|ValidationError)"),
    (r"py:.*", r"(ImproperlyConfigured|Signal|RecordedRequest|Protocol|Exception|ValueError)"),
    (r"py:.*", r"(T|_R|_Result|P)"),
]
