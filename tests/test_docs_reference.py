"""The documentation's reference parts cannot drift from the code: every setting has a description next to its
default, the services page documents exactly ``services.__all__``, the architecture page lists every room of the
package, and the system checks page lists exactly the check ids the checks emit. (The settings, models, signals,
management commands and the fake gateway's options and switches are rendered from the code by docs/_ext, and the
Sphinx build fails on a reference to anything that does not exist.) Each rule is shown failing on a planted
violation."""

from __future__ import annotations

import re
from pathlib import Path

from django_orkestapay import conf, services
from tests.doc_examples import DOCS, ROOT
from tests.test_architecture import LAYERS, TESTING


def settings_without_help(defaults: dict[str, object], help_texts: dict[str, str]) -> list[str]:
    """Keys with no (or an empty) description, and descriptions of no key."""
    undescribed = [key for key in defaults if not help_texts.get(key, "").strip()]
    return undescribed + [f"{key} (not a setting)" for key in help_texts if key not in defaults]


def test_every_setting_has_a_description():
    assert settings_without_help(conf.DEFAULTS, conf.SETTINGS_HELP) == []


def test_a_setting_without_a_description_is_found():
    defaults = {**conf.DEFAULTS, "NEW_KEY": 1}
    help_texts = {**conf.SETTINGS_HELP, "OLD_KEY": "gone", "CURRENCY": " "}
    assert settings_without_help(defaults, help_texts) == ["CURRENCY", "NEW_KEY", "OLD_KEY (not a setting)"]


def test_the_settings_descriptions_link_only_real_keys():
    """``:setting:`` links inside the descriptions name keys of ``DEFAULTS`` (the Sphinx build checks it too)."""
    linked = {name for text in conf.SETTINGS_HELP.values() for name in re.findall(r":setting:`([A-Z_]+)`", text)}
    assert linked - set(conf.DEFAULTS) == set()
    assert linked


def documented_services(text: str) -> list[str]:
    return re.findall(r"^\.\. auto(?:function|class|data):: (\w+)$", text, re.MULTILINE)


def test_the_services_page_documents_exactly_the_public_names():
    documented = documented_services((DOCS / "reference" / "services.rst").read_text(encoding="utf-8"))
    assert sorted(documented) == sorted(services.__all__)
    assert len(documented) == len(set(documented))


def test_a_public_name_left_out_of_the_services_page_is_found():
    page = ".. autofunction:: create_order\n.. autoclass:: SyncResult\n   :members:\n"
    assert sorted(documented_services(page)) != sorted(services.__all__)
    assert documented_services(page) == ["create_order", "SyncResult"]


def rooms_listed(text: str) -> set[str]:
    """The rooms (first names) in the architecture page's module table: ````name```` at the start of a row."""
    return {name.split(".")[0] for name in re.findall(r"^``([\w.]+)``", text, re.MULTILINE)}


def test_the_architecture_page_lists_every_room():
    listed = rooms_listed((DOCS / "architecture.rst").read_text(encoding="utf-8"))
    assert {*LAYERS, TESTING} - listed == set()


def test_a_room_missing_from_the_architecture_page_is_found():
    assert {*LAYERS, TESTING} - rooms_listed("``views``   the views\n``conf``   the setting\n") >= {"services"}


def check_ids_in(paths: list[Path]) -> set[str]:
    return {found for path in paths for found in re.findall(r'"(orkestapay\.[EW]\d{3})"', path.read_text("utf-8"))}


def test_the_checks_page_lists_exactly_the_checks_there_are():
    emitted = check_ids_in(sorted((ROOT / "django_orkestapay" / "checks").glob("*.py")))
    page = (DOCS / "configuration.rst").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\.\. check:: (orkestapay\.[EW]\d{3})$", page, re.MULTILINE))
    assert len(emitted) >= 21
    assert listed == emitted


def test_readme_keeps_no_settings_table():
    """The settings reference is generated (docs/reference/settings.rst); a second, hand-kept table would drift."""
    readme = (ROOT / "README.rst").read_text(encoding="utf-8")
    assert [key for key in conf.DEFAULTS if f"``{key}``" in readme] == []
