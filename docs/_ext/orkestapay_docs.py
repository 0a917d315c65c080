"""Sphinx directives that render django-orkestapay's reference pages from the code, so they cannot drift from it.

``.. orkestapay-settings::``  every key of ``conf.DEFAULTS``: its default and its ``conf.SETTINGS_HELP`` text
``.. orkestapay-models::``    every model of the ``orkestapay`` app: table, fields, choices, methods
``.. orkestapay-fake-switches::``  the fake gateway's behaviour switches and their defaults
``.. orkestapay-fake-profiles::``  the fake gateway's answers in each profile, with the evidence profile's sources
``.. orkestapay-signals::``  every signal of ``django_orkestapay.signals``, with its documentation
``.. orkestapay-fake-cli::``  the fake gateway's command line, as ``--help`` prints it
``.. orkestapay-commands::``  every ``orkestapay_*`` management command, its help and its own options

and two object types for cross references: ``.. setting:: KEY`` / ``:setting:`KEY``` and ``.. check:: ID`` /
``:check:`orkestapay.E001```. With ``-n`` (nitpicky) a reference to a key or check that does not exist fails the
build.
"""

from __future__ import annotations

import inspect
import pprint
from collections.abc import Iterable
from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles


def _literal(value: Any) -> str:
    """A default as reST: an inline literal, or a literal block when it spans lines."""
    text = pprint.pformat(value, width=60, sort_dicts=False)
    return f"``{text}``" if "\n" not in text else "::\n\n" + "\n".join(f"   {line}" for line in text.splitlines())


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _cell(text: str) -> str:
    """Text for a list-table cell: one line (an empty cell needs a placeholder)."""
    return _one_line(text) or " "


class _GeneratedRst(SphinxDirective):
    """A directive whose output is reStructuredText built from the code, parsed here as if written in the page."""

    has_content = False

    def lines(self) -> Iterable[str]:
        raise NotImplementedError

    def run(self) -> list[nodes.Node]:
        source = StringList()
        where = self.get_source_info()[0] or "<generated>"
        for number, line in enumerate(self.lines()):
            source.append(line, f"{where} ({self.name})", number)
        container = nodes.section()
        container.document = self.state.document
        nested_parse_with_titles(self.state, source, container)
        return list(container.children)


class SettingsReference(_GeneratedRst):
    """Every ``ORKESTAPAY`` key in ``conf.DEFAULTS`` order: a summary table, then one entry per key."""

    def lines(self) -> Iterable[str]:
        from django_orkestapay import conf

        missing = sorted(set(conf.DEFAULTS) - set(conf.SETTINGS_HELP))
        if missing:
            raise self.error(f"conf.SETTINGS_HELP has no description of {', '.join(missing)}")
        yield ".. list-table::"
        yield "   :header-rows: 1"
        yield "   :widths: 35 65"
        yield ""
        yield "   * - key"
        yield "     - default"
        for key, default in conf.DEFAULTS.items():
            text = pprint.pformat(default, width=1000, sort_dicts=False)
            yield f"   * - :setting:`{key}`"
            yield f"     - ``{text}``"
        yield ""
        for key, default in conf.DEFAULTS.items():
            yield f".. setting:: {key}"
            yield ""
            yield f"   Default: {_literal(default)}".replace("\n", "\n   ")
            yield ""
            yield f"   {_one_line(conf.SETTINGS_HELP[key])}"
            yield ""


class ModelsReference(_GeneratedRst):
    """Every model of the ``orkestapay`` app, with its fields (English verbose names) and their choices."""

    def lines(self) -> Iterable[str]:
        from django.apps import apps
        from django.db import models
        from django.utils import translation

        config = apps.get_app_config("orkestapay")
        with translation.override("en"):
            choices_done: set[type] = set()
            for model in config.get_models():
                yield from self._model(model, models, choices_done)

    def _model(self, model: Any, models: Any, choices_done: set[type]) -> Iterable[str]:
        meta = model._meta
        name = model.__name__
        yield name
        yield "-" * len(name)
        yield ""
        yield f".. py:class:: {name}"
        yield "   :module: django_orkestapay.models"
        yield f"   :canonical: {model.__module__}.{name}"
        yield ""
        for line in inspect.cleandoc(model.__doc__ or "").splitlines():
            yield f"   {line}"
        yield ""
        yield f"   Table ``{meta.db_table}``; in the admin: *{meta.verbose_name_plural}*."
        custom = [(codename, str(label)) for codename, label in meta.permissions]
        if custom:
            perms = "; ".join(f"``{meta.app_label}.{codename}`` ({label})" for codename, label in custom)
            yield f"   Permissions besides add, change, delete and view: {perms}."
        yield ""
        yield "   .. list-table::"
        yield "      :header-rows: 1"
        yield "      :widths: 22 22 22 34"
        yield ""
        yield "      * - field"
        yield "        - type"
        yield "        - verbose name"
        yield "        - help text and values"
        used_choices: list[type] = []
        for field in meta.get_fields():
            if field.auto_created and not field.concrete:
                continue  # reverse relations: documented on the model that holds the key
            yield f"      * - ``{field.name}``"
            yield f"        - {self._field_type(field, models)}"
            yield f"        - {_cell(str(getattr(field, 'verbose_name', '')))}"
            yield f"        - {_cell(self._field_help(field, used_choices))}"
        yield ""
        yield from self._methods(model)
        for choices in used_choices:
            if choices not in choices_done:
                choices_done.add(choices)
                yield from self._choices(choices)

    @staticmethod
    def _field_type(field: Any, models: Any) -> str:
        kind = type(field).__name__
        if field.is_relation and field.related_model is not None and field.concrete:
            target = field.related_model
            if target._meta.app_label == "orkestapay":
                return f"{kind} to :class:`~django_orkestapay.models.{target.__name__}`"
            return f"{kind} to ``{target._meta.label}``"
        if isinstance(field, models.CharField) and field.max_length:
            return f"{kind} ({field.max_length})"
        if isinstance(field, models.DecimalField):
            return f"{kind} ({field.max_digits}, {field.decimal_places})"
        return kind

    @staticmethod
    def _field_help(field: Any, used_choices: list[type]) -> str:
        parts = [str(getattr(field, "help_text", "") or "")]
        choices = getattr(field, "choices", None)
        if choices:
            enum = next((c for c in _choice_classes() if list(c.choices) == list(choices)), None)
            if enum is not None:
                used_choices.append(enum)
                parts.append(f"One of :class:`~django_orkestapay.models.{enum.__name__}`.")
        if getattr(field, "unique", False) and not getattr(field, "primary_key", False):
            parts.append("Unique.")
        if getattr(field, "primary_key", False):
            parts.append("Primary key.")
        return " ".join(part for part in parts if part)

    @staticmethod
    def _methods(model: Any) -> Iterable[str]:
        """The model's own public methods and properties that have a docstring (not Django's generated ones)."""
        entries = []
        for attribute, value in vars(model).items():
            if attribute.startswith("_") or attribute in {"save", "from_db"}:
                continue
            target = value.fget if isinstance(value, property) else value
            doc = inspect.getdoc(target) if inspect.isfunction(target) else None
            if doc and getattr(target, "__module__", "").startswith("django_orkestapay"):
                call = "" if isinstance(value, property) else "()"
                entries.append(f"   * ``{attribute}{call}``: {_one_line(doc)}")
        if entries:
            yield "   Besides its fields:"
            yield ""
            yield from entries
            yield ""

    @staticmethod
    def _choices(enum: Any) -> Iterable[str]:
        yield f".. py:class:: {enum.__name__}"
        yield "   :module: django_orkestapay.models"
        yield f"   :canonical: {enum.__module__}.{enum.__name__}"
        yield ""
        yield f"   {_one_line(inspect.getdoc(enum) or '')}"
        yield ""
        yield "   " + ", ".join(f"``{value}`` ({label})" for value, label in enum.choices) + "."
        yield ""


def _choice_classes() -> list[Any]:
    from django.db import models as django_models

    from django_orkestapay import models

    return [
        value
        for value in vars(models).values()
        if isinstance(value, type)
        and issubclass(value, django_models.Choices)
        and value.__module__.startswith(models.__name__)
    ]


class FakeSwitches(_GeneratedRst):
    """The fake gateway's behaviour switches (what ``reset()`` restores), with their constructor defaults."""

    def lines(self) -> Iterable[str]:
        from django_orkestapay.testing import FakeOrkestaPay
        from django_orkestapay.testing.profiles import PROFILE_PRESETS
        from django_orkestapay.testing.settings import RESETTABLE

        parameters = inspect.signature(FakeOrkestaPay.__init__).parameters
        yield ".. list-table::"
        yield "   :header-rows: 1"
        yield "   :widths: 40 60"
        yield ""
        yield "   * - switch"
        yield "     - default"
        for name in RESETTABLE:
            default = parameters[name].default
            yield f"   * - ``{name}``"
            shown = pprint.pformat(default, width=1000)
            if default is None and name in PROFILE_PRESETS["rich"]:  # a profile's preset
                shown = "; ".join(f"{p}: {pprint.pformat(v[name], width=1000)}" for p, v in PROFILE_PRESETS.items())
            yield f"     - ``{shown}``"
        yield ""


class FakeProfiles(_GeneratedRst):
    """The fake gateway's answers in the evidence and rich profiles, with the evidence profile's sources."""

    def lines(self) -> Iterable[str]:
        from django_orkestapay.testing.evidence import EVIDENCE

        yield from (".. list-table::", "   :header-rows: 1", "   :widths: 18 30 26 26", "")
        rows = [("point", "evidence profile", "rich profile", "source of the evidence profile's answer"), *EVIDENCE]
        for row in rows:  # plain text: escape what reST would read as markup
            cells = ["".join(f"\\{c}" if c in "\\*`|_" else c for c in text) for text in row]
            yield from (f"   {'*' if i == 0 else ' '} - {_cell(cell)}" for i, cell in enumerate(cells))
        yield ""


class EvidenceReference(_GeneratedRst):
    """Every field the client reads or sends, call by call: its public source, and what happens without it
    (``django_orkestapay.client.evidence.FIELDS``)."""

    def lines(self) -> Iterable[str]:
        from django_orkestapay.client.evidence import FIELDS, SENT

        calls: dict[tuple[str, str], list[Any]] = {}
        for field in FIELDS:
            calls.setdefault((field.direction, field.call), []).append(field)
        for (direction, call), fields in calls.items():
            yield f"**{'Sent' if direction == SENT else 'Read'}: {call}**"
            yield ""
            yield ".. list-table::"
            yield "   :header-rows: 1"
            yield "   :widths: 20 20 30 15 15"
            yield ""
            yield "   * - field"
            yield "     - public source"
            yield "     - absent or null" if direction != SENT else "     - when the shop has no value"
            yield "     - another type"
            yield "     - out of range"
            for field in fields:
                yield f"   * - ``{field.name}``"
                yield f"     - {_cell(field.source) if field.evidenced else '**assumed**'}"
                yield f"     - {_cell(field.absent)}"
                yield f"     - {_cell(field.other_type)}"
                yield f"     - {_cell(field.out_of_range)}"
            yield ""


class CommandsReference(_GeneratedRst):
    """Every ``orkestapay_*`` management command: its help and its own options (not Django's common ones)."""

    def lines(self) -> Iterable[str]:
        from django.core.management import get_commands, load_command_class
        from django.core.management.base import BaseCommand

        common = {
            option
            for action in BaseCommand().create_parser("manage.py", "x")._actions
            for option in action.option_strings
        }
        names = sorted(name for name, app in get_commands().items() if app == "django_orkestapay")
        for name in names:
            command = load_command_class("django_orkestapay", name)
            parser = command.create_parser("manage.py", name)
            yield f"``manage.py {name}``"
            yield f"   {_one_line(str(command.help))}"
            yield ""
            own = [action for action in parser._actions if not set(action.option_strings) & common]
            for action in own:
                flags = ", ".join(action.option_strings)
                metavar = "" if action.nargs == 0 else f" {action.metavar or action.dest.upper()}"
                text = _one_line(action.help or "").replace("%(default)s", str(action.default))
                yield f"   * ``{flags}{metavar}``: {text}"
            yield ""


class FakeCli(_GeneratedRst):
    """``python -m django_orkestapay.testing --help``, as the fake's own parser prints it."""

    def lines(self) -> Iterable[str]:
        import argparse

        from django_orkestapay.testing.__main__ import build_parser

        parser = build_parser()
        parser.formatter_class = lambda prog: argparse.HelpFormatter(prog, width=100)
        yield ".. code-block:: text"
        yield ""
        for line in parser.format_help().splitlines():
            yield f"   {line}".rstrip()
        yield ""


def _importable(dotted: str) -> bool:
    """Whether ``dotted`` names a module, or an attribute (at any depth) of one, of this package."""
    import importlib

    if not dotted.startswith("django_orkestapay"):
        return False
    parts = dotted.split(".")
    for split in range(len(parts), 0, -1):
        try:
            target: Any = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        try:
            for name in parts[split:]:
                target = getattr(target, name)
        except AttributeError:
            return False
        return True
    return False


def _candidates(target: str, module: str | None, klass: str | None) -> Iterable[str]:
    """Where a short Python name in a docstring may live: the class, the module and its parents, the package."""
    scopes = []
    if module:
        parts = module.split(".")
        if klass:
            scopes.append(f"{module}.{klass}")
        scopes += [".".join(parts[:index]) for index in range(len(parts), 0, -1)]
    scopes.append("django_orkestapay")
    yield target
    for scope in scopes:
        yield f"{scope}.{target}"


def resolve_short_python_names(app: Sphinx, env: Any, node: Any, contnode: nodes.Element) -> nodes.Element | None:
    """The package's docstrings name things as their module sees them (``:class:`Order```, ``:func:`load_payments```,
    ``:data:`PAY_FIELD```). Link such a name to the one documented object it can mean; when it names something real
    that the documentation does not cover (an internal helper), show it as code without a link. A name that means
    nothing in the package stays unresolved, and nitpicky mode fails the build on it: no reference can go stale."""
    if node.get("refdomain") != "py":
        return None
    target = str(node["reftarget"]).lstrip(".~")
    domain = env.get_domain("py")
    documented = domain.objects
    candidates = list(_candidates(target, node.get("py:module"), node.get("py:class")))
    for candidate in candidates:
        if candidate in documented:
            return domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"], candidate, node, contnode)
    suffix = "." + target
    matches = sorted({name for name in documented if name.endswith(suffix) and not documented[name].aliased})
    if len(matches) == 1:
        return domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"], matches[0], node, contnode)
    if any(_importable(candidate) for candidate in candidates) or _defined_in_package(target):
        return contnode
    return None


def _defined_in_package(target: str) -> bool:
    """Whether ``target`` (``name`` or ``module.name``) is an attribute of one of the package's loaded modules."""
    import sys

    modules = [
        name for name in list(sys.modules) if name == "django_orkestapay" or name.startswith("django_orkestapay.")
    ]
    return any(_importable(f"{module}.{target}") for module in modules)


class SignalsReference(_GeneratedRst):
    """Every signal of ``django_orkestapay.signals``, in the order the module defines them, with its ``#:`` text."""

    def lines(self) -> Iterable[str]:
        from django.dispatch import Signal

        from django_orkestapay import signals

        for name, value in vars(signals).items():
            if isinstance(value, Signal):
                yield f".. autodata:: django_orkestapay.signals.{name}"
                yield "   :no-value:"
                yield ""


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("missing-reference", resolve_short_python_names)
    app.add_object_type("setting", "setting", indextemplate="pair: %s; ORKESTAPAY setting", objname="setting")
    app.add_object_type("check", "check", indextemplate="pair: %s; system check", objname="system check")
    app.add_directive("orkestapay-settings", SettingsReference)
    app.add_directive("orkestapay-models", ModelsReference)
    app.add_directive("orkestapay-fake-switches", FakeSwitches)
    app.add_directive("orkestapay-fake-profiles", FakeProfiles)
    app.add_directive("orkestapay-commands", CommandsReference)
    app.add_directive("orkestapay-fake-cli", FakeCli)
    app.add_directive("orkestapay-signals", SignalsReference)
    app.add_directive("orkestapay-evidence", EvidenceReference)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
