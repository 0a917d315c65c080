"""Admin labels left in English: what an operator who works in Spanish would still read in English.

Used in this suite's project (tests/test_admin.py) and in the example shop (tests/test_example_project.py, through
``manage.py shell``), so it imports nothing but Django.
"""

from __future__ import annotations

from typing import Any, cast

from django.contrib import admin
from django.contrib.admin.utils import label_for_field
from django.contrib.auth import get_user_model
from django.test import RequestFactory
from django.utils import translation
from django.utils.translation import trans_real

#: The apps whose labels are checked: ours, the shops' in this repository, and Django's own. A third-party app in
#: the admin (the task backend's results) is its authors' to translate.
CHECKED_APPS = ("django_orkestapay", "shop", "tests.", "django.contrib.")


def untranslated_admin_labels(
    language: str, site: admin.AdminSite = admin.site, also: tuple[str, ...] = ()
) -> list[str]:
    """Every label of ``site`` (app and model names, change-form fields, list columns and filters, inline fields)
    that reads the same in English and in ``language``, unless a catalogue deliberately translates it as itself
    ("total", "checkout"). Primary keys ("ID") are left out: the word is the same in Spanish. ``also``: more apps
    whose app and model names (what the admin's index shows) are checked: the example shop translates
    django-tasks-db's, whose columns partly are plain English strings no catalogue can reach."""
    request = RequestFactory().get("/")
    request.user = get_user_model()(is_superuser=True, is_staff=True)
    catalog = cast(Any, trans_real.translation(language))._catalog  # the merged catalogues, msgid -> msgstr
    found: list[str] = []

    def check(where: str, label: Any) -> None:
        with translation.override("en"):
            english = str(label())
        with translation.override(language):
            translated = str(label())
        same_word = str(catalog.get(english, "")).lower() == english.lower()
        if english.lower() == translated.lower() and not same_word:
            found.append(f"{where}: {english!r}")

    for model, model_admin in site._registry.items():
        config = model._meta.app_config
        if not config.name.startswith((*CHECKED_APPS, *also)):
            continue
        check(f"app {config.label}", lambda config=config: config.verbose_name)
        check(f"{model._meta.label} name", lambda model=model: model._meta.verbose_name)
        check(f"{model._meta.label} plural", lambda model=model: model._meta.verbose_name_plural)
        if not config.name.startswith(CHECKED_APPS):
            continue
        filters: list[Any] = list(model_admin.list_filter)  # a name, a (name, filter class) pair, or a filter class
        names = [*model_admin.get_fields(request), *model_admin.list_display]
        names += [item if isinstance(item, str) else item[0] for item in filters if isinstance(item, (str, tuple))]
        targets: list[tuple[Any, str, Any]] = [(model, name, model_admin) for name in names if isinstance(name, str)]
        for inline in model_admin.get_inline_instances(request):
            fields = inline.get_fields(request)
            targets += [(inline.model, name, inline) for name in fields if isinstance(name, str)]
        for target, name, owner in dict.fromkeys(targets):
            if name == "action_checkbox" or name == target._meta.pk.name:
                continue
            try:
                label_for_field(name, target, owner)
            except AttributeError:  # a form-only field (the user add form's passwords): labelled by its form
                continue
            check(f"{target._meta.label}.{name}", lambda n=name, t=target, o=owner: label_for_field(n, t, o))
    return sorted(set(found))
