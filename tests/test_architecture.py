"""The package keeps its shape: imports point down the layers, never run in a circle, and no module outgrows itself.

The layers (docs/architecture.rst), highest first; a module may import its own layer's rooms and lower layers:

==========  ==================================================================================================
edges       ``views``, ``headless`` (the JSON views), ``paying`` (what they share), ``webhooks`` (the view),
            ``urls``, ``admin``, ``templatetags``, ``management``, ``apps``, ``checks``, ``migrations``, ``tasks``
            (the background tasks, over services)
services    ``services`` (its modules import each other one way only); beside it, the tool ``probe``
core        ``client``, ``models``, ``adapters``, ``signing``, ``webhook_verification``
base        ``conf``, ``exceptions``, ``signals``, the package's ``__init__`` (the version), ``tasks_compat``
            (Django's Tasks framework or its backport, behind one import)
==========  ==================================================================================================

and beside them ``testing`` (the fake gateway), standard library only. On top of the layers: the client stays free
of Django and of the models (and the models of the client); only ``urls`` imports ``views`` and ``webhooks``; the
sandbox probe needs no Django project (it imports only the base rooms, the client and ``signing``) and only
``management`` (its command) imports it;
nothing of the app imports the fake gateway; and no circle, neither between rooms (the modules of ``services``
counted one by one) nor between the modules of one package.

The checker reads the source with ``ast`` and imports nothing: absolute and relative imports, imports inside
functions and under ``if TYPE_CHECKING:`` (a type-only import is still a dependency, and a circle for a reader),
each resolved to an absolute module name. Dynamic imports (``import_string``, ``importlib``) are not seen.
The tests at the end run the checker on small planted packages, to show that every rule can fail.
"""

from __future__ import annotations

import ast
import itertools
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "django_orkestapay"

#: Each room (a top-level module or subpackage of the package) and its layer; higher layers have higher ranks.
LAYERS: dict[str, tuple[int, str]] = {
    **dict.fromkeys(("__init__", "conf", "exceptions", "signals", "tasks_compat"), (0, "base")),
    **dict.fromkeys(("client", "models", "adapters", "signing", "webhook_verification"), (1, "core")),
    "services": (2, "services"),
    "probe": (2, "tools"),
    **dict.fromkeys(
        (
            "views",
            "links",
            "headless",
            "paying",
            "webhooks",
            "urls",
            "admin",
            "templatetags",
            "management",
            "apps",
            "checks",
            "migrations",
            "tasks",
        ),
        (3, "edges"),
    ),
}
#: The fake gateway: outside the layers, standard library only.
TESTING = "testing"
#: The fake's pytest integration: the one module of ``testing`` that may import more than the standard library:
#: pytest, and (inside its reset hook, when Django is configured) Django and the service layer's face, to make the
#: app forget the token the fake's reset revoked. Top-level names of other distributions, and modules of the app.
TESTING_INTEGRATIONS: dict[str, frozenset[str]] = {
    f"{PACKAGE}.testing.pytest_plugin": frozenset({"pytest", "django", f"{PACKAGE}.services"})
}
#: Rooms that must not reach Django, directly or through another module of the package.
DJANGO_FREE = ("client", "webhook_verification", TESTING)
#: The view modules: only ``urls`` imports them.
VIEW_ROOMS = ("views", "links", "headless", "webhooks")
#: Rooms that may import only these rooms of the package: the sandbox probe runs without a Django project
#: (``python -m django_orkestapay.probe``), so it must not reach the models or the app registry.
RESTRICTED_ROOMS: dict[str, frozenset[str]] = {
    "probe": frozenset({"__init__", "conf", "exceptions", "client", "signing"})
}
#: Rooms only one other room imports: the probe is a tool, reached through its management command.
SOLE_IMPORTER: dict[str, str] = {"probe": "management"}

MAX_MODULE_LINES = 400
MAX_CLASS_LINES = 250

#: Modules allowed over the limits (none: every room was split in issue 10). An entry is a strict xfail, so a module
#: that shrinks turns its entry into a failure that asks for the entry's removal.
KNOWN_OVERSIZED: dict[str, str] = {}
#: Packages whose modules are allowed to import each other in a circle (none).
KNOWN_CIRCULAR_PACKAGES: dict[str, str] = {}


# -----------------------------------------------------------------------------------------------------------------
# The checker
# -----------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Import:
    """One imported module, resolved: ``importer`` imports ``target`` at ``file:line``."""

    importer: str
    target: str
    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.importer} imports {self.target}"


@dataclass(frozen=True)
class Package:
    """A package's modules (absolute name -> file, relative to the package's parent) and every import in them."""

    name: str
    modules: Mapping[str, str]
    imports: tuple[Import, ...]

    def internal(self) -> Iterator[Import]:
        """The imports of the package's own modules."""
        return (imp for imp in self.imports if is_within(imp.target, self.name))

    def room(self, module: str) -> str:
        """``django_orkestapay.services.orders`` -> ``services``; the package itself -> ``__init__``."""
        parts = module.split(".")
        return parts[1] if len(parts) > 1 else "__init__"

    def node(self, module: str) -> str:
        """A node of the room graph: the room, except that each module of ``services`` is a node of its own."""
        room = self.room(module)
        return module.removeprefix(f"{self.name}.") if room == "services" else room


def is_within(module: str, package: str) -> bool:
    return module == package or module.startswith(f"{package}.")


def scan(package_dir: Path) -> Package:
    """Parse every module under ``package_dir`` and resolve its imports."""
    base = package_dir.parent
    name = package_dir.name
    files = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(base).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        files[".".join(parts)] = path
    modules = {module: path.relative_to(base).as_posix() for module, path in files.items()}
    imports: list[Import] = []
    for module, path in files.items():
        is_package = path.name == "__init__.py"
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for statement in ast.walk(tree):  # every statement: module level, in functions, under TYPE_CHECKING
            if isinstance(statement, ast.Import | ast.ImportFrom):
                for target in _targets(statement, module, is_package, modules):
                    imports.append(Import(module, target, modules[module], statement.lineno))
    return Package(name=name, modules=modules, imports=tuple(imports))


def _targets(
    statement: ast.Import | ast.ImportFrom, module: str, is_package: bool, modules: Mapping[str, str]
) -> list[str]:
    if isinstance(statement, ast.Import):
        return [alias.name for alias in statement.names]
    if statement.level:
        anchor = module.split(".") if is_package else module.split(".")[:-1]
        anchor = anchor[: len(anchor) - (statement.level - 1)]
        source = ".".join([*anchor, statement.module] if statement.module else anchor)
    else:
        source = statement.module or ""
    # "from . import services" imports the module django_orkestapay.services; "from .models import Order" a name.
    targets = [f"{source}.{alias.name}" for alias in statement.names if f"{source}.{alias.name}" in modules]
    return targets if len(targets) == len(statement.names) else [source, *targets]


def top_level(module: str) -> str:
    return module.split(".")[0]


def is_django(module: str) -> bool:
    return top_level(module) == "django"


def layer_violations(package: Package) -> list[str]:
    """Every import that breaks a rule of the layers, as readable lines (file:line first)."""
    problems: list[str] = []
    django_chains = _django_chains(package)
    for imp in package.imports:
        importer_room = package.room(imp.importer)
        if importer_room == TESTING:
            problems.extend(_testing_violations(package, imp))
            continue
        if not is_within(imp.target, package.name):
            if importer_room in DJANGO_FREE and is_django(imp.target):
                problems.append(f"{imp}: {importer_room} must stay free of Django")
            continue
        target_room = package.room(imp.target)
        if target_room == importer_room:
            continue
        if target_room == TESTING:
            problems.append(f"{imp}: the app must not depend on its fake gateway (testing)")
            continue
        if importer_room not in LAYERS or target_room not in LAYERS:
            continue  # reported by test_every_room_has_a_layer
        (importer_rank, importer_layer), (target_rank, target_layer) = LAYERS[importer_room], LAYERS[target_room]
        if target_rank > importer_rank:
            problems.append(
                f"{imp}: a lower layer imports a higher one ({importer_room} is in {importer_layer}, "
                f"{target_room} in {target_layer})"
            )
        if target_room in VIEW_ROOMS and importer_room != "urls":
            problems.append(f"{imp}: only urls imports the view modules ({', '.join(VIEW_ROOMS)})")
        if importer_room in RESTRICTED_ROOMS and target_room not in RESTRICTED_ROOMS[importer_room]:
            allowed = ", ".join(sorted(RESTRICTED_ROOMS[importer_room]))
            problems.append(f"{imp}: {importer_room} imports only {allowed} of the package")
        if target_room in SOLE_IMPORTER and importer_room != SOLE_IMPORTER[target_room]:
            problems.append(f"{imp}: only {SOLE_IMPORTER[target_room]} imports {target_room}")
        if {importer_room, target_room} == {"client", "models"}:
            problems.append(f"{imp}: the client and the models do not know each other")
        if importer_room in DJANGO_FREE and imp.target in django_chains:
            problems.append(f"{imp}: {importer_room} must stay free of Django, and {django_chains[imp.target]}")
    return problems


def _testing_violations(package: Package, imp: Import) -> list[str]:
    if is_within(imp.target, f"{package.name}.{TESTING}"):
        return []
    allowed = TESTING_INTEGRATIONS.get(imp.importer, frozenset())
    if is_within(imp.target, package.name):
        if imp.target in allowed:
            return []
        return [f"{imp}: the fake gateway (testing) imports nothing of the app"]
    top = top_level(imp.target)
    if top in sys.stdlib_module_names or top in allowed:
        return []
    return [f"{imp}: the fake gateway (testing) is standard library only"]


def _django_chains(package: Package) -> dict[str, str]:
    """The package's modules that reach Django, each with how: ``conf imports django at conf.py:11``."""
    reaches: dict[str, str] = {}
    for imp in package.imports:
        if is_django(imp.target) and imp.importer not in reaches:
            reaches[imp.importer] = f"{imp.importer} imports {imp.target} at {imp.file}:{imp.line}"
    changed = True
    while changed:
        changed = False
        for imp in package.internal():
            if imp.target in reaches and imp.importer not in reaches:
                reaches[imp.importer] = f"{imp.importer} imports {imp.target}, and {reaches[imp.target]}"
                changed = True
    return reaches


def cycles(edges: Iterable[tuple[str, str, Import]]) -> list[str]:
    """The circles of a graph given as (node, node, the import that makes the edge): for each knot of nodes that
    reach each other, its shortest circle, with the import behind each step (file:line)."""
    graph: dict[str, dict[str, list[Import]]] = {}
    for source, target, imp in edges:
        if source != target:
            graph.setdefault(source, {}).setdefault(target, []).append(imp)
            graph.setdefault(target, {})
    blocks = []
    for component in sorted(_strongly_connected(graph), key=min):
        if len(component) > 1:
            circle = min((_shortest_circle(graph, component, start) for start in sorted(component)), key=len)
            steps = [sorted(graph[source][target], key=str)[0] for source, target in itertools.pairwise(circle)]
            knot = f" (one circle of the knot {', '.join(sorted(component))})" if len(component) > len(steps) else ""
            blocks.append(f"circle: {' -> '.join(circle)}{knot}\n    " + "\n    ".join(map(str, steps)))
    return blocks


def _shortest_circle(graph: Mapping[str, Mapping[str, object]], component: set[str], start: str) -> list[str]:
    """The shortest path from ``start`` back to itself inside ``component`` (breadth first), as its nodes."""
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for target in sorted(graph[node]):
            if target == start:
                return [*paths[node], start]
            if target in component and target not in paths:
                paths[target] = [*paths[node], target]
                queue.append(target)
    raise AssertionError(f"{start} is on no circle of {component}")


def _strongly_connected(graph: Mapping[str, Mapping[str, object]]) -> list[set[str]]:
    """Tarjan's algorithm (recursive: these graphs have a few dozen nodes)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    components: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                component.add(member)
                if member == node:
                    break
            components.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def room_cycles(package: Package) -> list[str]:
    """Circles between rooms, each module of ``services`` counted as a room of its own."""
    return cycles((package.node(imp.importer), package.node(imp.target), imp) for imp in package.internal())


def subpackages(package: Package) -> list[str]:
    """The subpackages (``services``, ``testing``, ``management.commands``...), as names relative to the package."""
    prefix = f"{package.name}."
    return sorted(
        module.removeprefix(prefix)
        for module, file in package.modules.items()
        if file.endswith("/__init__.py") and module != package.name
    )


def package_cycles(package: Package, subpackage: str) -> list[str]:
    """Circles between the modules of one subpackage (its own modules only, not those of its subpackages)."""
    name = f"{package.name}.{subpackage}"

    def owner(module: str) -> str:
        return module if module == name else ".".join(module.split(".")[: len(name.split(".")) + 1])

    return cycles(
        (owner(imp.importer), owner(imp.target), imp)
        for imp in package.internal()
        if is_within(imp.importer, name) and is_within(imp.target, name)
    )


def deep_service_imports(package: Package) -> list[str]:
    """Imports, from outside ``services``, of its inner modules: the rest of the package imports only its face."""
    services = f"{package.name}.services"
    return [
        f"{imp}: import {services}, nothing deeper"
        for imp in package.internal()
        if package.room(imp.importer) != "services" and is_within(imp.target, services) and imp.target != services
    ]


def module_lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def long_classes(source: str, limit: int = MAX_CLASS_LINES) -> list[str]:
    """The classes of a module longer than ``limit`` lines (decorators aside), as ``Name (n lines)``."""
    return [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.ClassDef) and node.end_lineno is not None and node.end_lineno - node.lineno + 1 > limit
    ]


# -----------------------------------------------------------------------------------------------------------------
# The rules, on django_orkestapay
# -----------------------------------------------------------------------------------------------------------------

REAL = scan(ROOT / PACKAGE)
MODULE_FILES = sorted(file.removeprefix(f"{PACKAGE}/") for file in REAL.modules.values() if "/migrations/" not in file)


def known_offenders_marked(reasons: Mapping[str, str], names: Iterable[str]) -> list[object]:
    return [
        pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=reasons[name])) if name in reasons else name
        for name in names
    ]


def test_every_room_has_a_layer() -> None:
    rooms = {REAL.room(module) for module in REAL.modules} - {TESTING}
    assert rooms - LAYERS.keys() == set(), "give each new room a layer here and a line in docs/architecture.rst"


def test_imports_point_down_the_layers() -> None:
    problems = layer_violations(REAL)
    assert not problems, "imports against the layers:\n" + "\n".join(problems)


def test_no_circle_between_rooms() -> None:
    problems = room_cycles(REAL)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("subpackage", known_offenders_marked(KNOWN_CIRCULAR_PACKAGES, subpackages(REAL)))
def test_no_circle_inside_a_package(subpackage: str) -> None:
    problems = package_cycles(REAL, subpackage)
    assert not problems, "\n".join(problems)


def test_the_rest_imports_only_the_face_of_services() -> None:
    problems = deep_service_imports(REAL)
    assert not problems, "import django_orkestapay.services, nothing deeper:\n" + "\n".join(problems)


@pytest.mark.parametrize("name", known_offenders_marked(KNOWN_OVERSIZED, MODULE_FILES))
def test_module_is_at_most_400_lines(name: str) -> None:
    lines = module_lines(ROOT / PACKAGE / name)
    assert lines <= MAX_MODULE_LINES, f"{PACKAGE}/{name} has {lines} lines: split it along its seams"


@pytest.mark.parametrize("name", known_offenders_marked(KNOWN_OVERSIZED, MODULE_FILES))
def test_classes_are_at_most_250_lines(name: str) -> None:
    long = long_classes((ROOT / PACKAGE / name).read_text(encoding="utf-8"))
    assert not long, f"{PACKAGE}/{name}: " + ", ".join(long)


def test_known_offenders_are_still_there() -> None:
    gone = [name for name in KNOWN_OVERSIZED if name not in MODULE_FILES]
    gone += [name for name in KNOWN_CIRCULAR_PACKAGES if name not in subpackages(REAL)]
    assert not gone, f"split and gone: remove {gone} from the known offenders at the top of this file"


def test_the_checker_sees_imports_in_functions_and_relative_ones() -> None:
    seen = {(imp.importer, imp.target) for imp in REAL.imports}
    assert (f"{PACKAGE}.urls", f"{PACKAGE}.views") in seen  # from . import views, webhooks
    assert (f"{PACKAGE}.apps", f"{PACKAGE}.checks") in seen  # inside AppConfig.ready()
    assert (f"{PACKAGE}.services.orders", f"{PACKAGE}.models") in seen  # from ..models import ...


# -----------------------------------------------------------------------------------------------------------------
# Every check fails on a planted violation
# -----------------------------------------------------------------------------------------------------------------

#: A small package with the real one's shape that breaks no rule.
CLEAN = {
    "__init__.py": '__version__ = "1.0"\n',
    "conf.py": "from django.conf import settings\n",
    "exceptions.py": "class OrkestaPayError(Exception):\n    pass\n",
    "signals.py": "from django.dispatch import Signal\n",
    "client.py": "import requests\n\nfrom . import __version__\nfrom .exceptions import OrkestaPayError\n",
    "models.py": "from django.db import models\n",
    "services/__init__.py": "from .orders import create_order\n\n__all__ = ['create_order']\n",
    "services/orders.py": "from ..models import Order\nfrom .transitions import transition_order\n",
    "services/transitions.py": "from .. import signals\nfrom ..client import Client\n",
    "views.py": "from django.http import HttpResponse\n\nfrom . import services\n",
    "webhooks.py": "from . import conf, services\n",
    "urls.py": "from . import views, webhooks\n",
    "admin.py": "import django_orkestapay.services\n",
    "apps.py": "def ready():\n    from . import checks\n",
    "checks.py": "from . import conf\n",
    "probe/__init__.py": "from .. import __version__, conf\nfrom ..client import Client\n",
    "management/commands/orkestapay_probe.py": "from ...probe import run_probe\n",
    "testing/__init__.py": "from .fake_gateway import FakeOrkestaPay\n",
    "testing/fake_gateway.py": "import http.server\nimport json\n",
    "testing/pytest_plugin.py": "import pytest\n\nfrom .fake_gateway import FakeOrkestaPay\n",
}


def plant(tmp_path: Path, **changes: str) -> Package:
    """Write CLEAN with ``changes`` (file names with "__" for "/", minus ".py") under tmp_path and scan it."""
    files = {**CLEAN, **{f"{name.replace('__', '/')}.py": source for name, source in changes.items()}}
    for name, source in files.items():
        path = tmp_path / PACKAGE / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")
    return scan(tmp_path / PACKAGE)


def test_a_clean_package_passes(tmp_path: Path) -> None:
    package = plant(tmp_path)
    assert layer_violations(package) == []
    assert room_cycles(package) == []
    assert [problem for name in subpackages(package) for problem in package_cycles(package, name)] == []
    assert deep_service_imports(package) == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        pytest.param(
            {"models": "from django.db import models\n\n\ndef late():\n    from .services import orders\n"},
            "django_orkestapay/models.py:5: django_orkestapay.models imports django_orkestapay.services.orders: "
            "a lower layer imports a higher one (models is in core, services in services)",
            id="models-imports-services-in-a-function",
        ),
        pytest.param(
            {"signals": "import django_orkestapay.services.orders\n"},
            "django_orkestapay/signals.py:1: django_orkestapay.signals imports django_orkestapay.services.orders: "
            "a lower layer imports a higher one (signals is in base, services in services)",
            id="base-imports-services-absolutely",
        ),
        pytest.param(
            {"services__orders": "from ..views import pay\n"},
            "django_orkestapay/services/orders.py:1: django_orkestapay.services.orders imports "
            "django_orkestapay.views: a lower layer imports a higher one (services is in services, views in edges)",
            id="services-imports-views",
        ),
        pytest.param(
            {"services__transitions": "from ..management.commands import orkestapay_sync\n"},
            "django_orkestapay/services/transitions.py:1: django_orkestapay.services.transitions imports "
            "django_orkestapay.management.commands: a lower layer imports a higher one",
            id="services-imports-management",
        ),
        pytest.param(
            {"admin": "from .webhooks import receive\n"},
            "django_orkestapay/admin.py:1: django_orkestapay.admin imports django_orkestapay.webhooks: "
            "only urls imports the view modules (views, links, headless, webhooks)",
            id="admin-imports-the-webhook-view",
        ),
        pytest.param(
            {"client": "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from django.http import X\n"},
            "django_orkestapay/client.py:4: django_orkestapay.client imports django.http: "
            "client must stay free of Django",
            id="client-imports-django-for-types",
        ),
        pytest.param(
            {"client": "from . import conf\n"},
            "django_orkestapay/client.py:1: django_orkestapay.client imports django_orkestapay.conf: client must "
            "stay free of Django, and django_orkestapay.conf imports django.conf at django_orkestapay/conf.py:1",
            id="client-reaches-django-through-conf",
        ),
        pytest.param(
            {"client": "from .models import Order\n"},
            "django_orkestapay/client.py:1: django_orkestapay.client imports django_orkestapay.models: "
            "the client and the models do not know each other",
            id="client-imports-models",
        ),
        pytest.param(
            {"models": "from .client import OrkestaPayClient\n"},
            "django_orkestapay/models.py:1: django_orkestapay.models imports django_orkestapay.client: "
            "the client and the models do not know each other",
            id="models-imports-client",
        ),
        pytest.param(
            {"testing__fake_gateway": "from django_orkestapay.models import Order\n"},
            "django_orkestapay/testing/fake_gateway.py:1: django_orkestapay.testing.fake_gateway imports "
            "django_orkestapay.models: the fake gateway (testing) imports nothing of the app",
            id="testing-imports-the-app",
        ),
        pytest.param(
            {"testing__fake_gateway": "import http.server\nfrom django.conf import settings\n"},
            "django_orkestapay/testing/fake_gateway.py:2: django_orkestapay.testing.fake_gateway imports "
            "django.conf: the fake gateway (testing) is standard library only",
            id="testing-imports-django",
        ),
        pytest.param(
            {"testing__fake_gateway": "import pytest\n"},
            "django_orkestapay/testing/fake_gateway.py:1: django_orkestapay.testing.fake_gateway imports pytest: "
            "the fake gateway (testing) is standard library only",
            id="pytest-outside-the-plugin",
        ),
        pytest.param(
            {"testing__pytest_plugin": "import pytest\n\ndef hook():\n    from django_orkestapay import models\n"},
            "django_orkestapay/testing/pytest_plugin.py:4: django_orkestapay.testing.pytest_plugin imports "
            "django_orkestapay.models: the fake gateway (testing) imports nothing of the app",
            id="plugin-imports-more-than-the-services-face",
        ),
        pytest.param(
            {"probe__runner": "from ..models import Order\n"},
            "django_orkestapay/probe/runner.py:1: django_orkestapay.probe.runner imports django_orkestapay.models: "
            "probe imports only __init__, client, conf, exceptions, signing of the package",
            id="the-probe-imports-the-models",
        ),
        pytest.param(
            {"services__orders": "from ..probe import run_probe\n"},
            "django_orkestapay/services/orders.py:1: django_orkestapay.services.orders imports "
            "django_orkestapay.probe: only management imports probe",
            id="services-import-the-probe",
        ),
        pytest.param(
            {"views": "from .testing import FakeOrkestaPay\n"},
            "django_orkestapay/views.py:1: django_orkestapay.views imports django_orkestapay.testing: "
            "the app must not depend on its fake gateway (testing)",
            id="the-app-imports-the-fake",
        ),
    ],
)
def test_a_planted_import_against_the_layers_is_reported(
    tmp_path: Path, changes: dict[str, str], expected: str
) -> None:
    problems = layer_violations(plant(tmp_path, **changes))
    assert any(problem.startswith(expected) for problem in problems), problems


def test_a_planted_deep_import_of_services_is_reported(tmp_path: Path) -> None:
    package = plant(tmp_path, views="from .services.orders import create_order\n")
    assert deep_service_imports(package) == [
        "django_orkestapay/views.py:1: django_orkestapay.views imports django_orkestapay.services.orders: "
        "import django_orkestapay.services, nothing deeper"
    ]


def test_a_planted_circle_inside_services_is_reported(tmp_path: Path) -> None:
    package = plant(tmp_path, services__transitions="import logging\n\nfrom . import orders\n")
    steps = (
        "    django_orkestapay/services/orders.py:2: django_orkestapay.services.orders imports "
        "django_orkestapay.services.transitions\n"
        "    django_orkestapay/services/transitions.py:3: django_orkestapay.services.transitions imports "
        "django_orkestapay.services.orders"
    )
    assert room_cycles(package) == [f"circle: services.orders -> services.transitions -> services.orders\n{steps}"]
    assert package_cycles(package, "services") == [
        "circle: django_orkestapay.services.orders -> django_orkestapay.services.transitions -> "
        f"django_orkestapay.services.orders\n{steps}"
    ]


def test_a_planted_circle_through_the_face_of_services_is_reported(tmp_path: Path) -> None:
    package = plant(tmp_path, services__transitions="from . import create_order\n")
    assert room_cycles(package) == [
        "circle: services -> services.orders -> services.transitions -> services\n"
        "    django_orkestapay/services/__init__.py:1: django_orkestapay.services imports "
        "django_orkestapay.services.orders\n"
        "    django_orkestapay/services/orders.py:2: django_orkestapay.services.orders imports "
        "django_orkestapay.services.transitions\n"
        "    django_orkestapay/services/transitions.py:1: django_orkestapay.services.transitions imports "
        "django_orkestapay.services"
    ]


def test_a_planted_circle_between_rooms_is_reported(tmp_path: Path) -> None:
    package = plant(
        tmp_path, models="from django.db import models\n\n\ndef late():\n    from .services import orders\n"
    )
    assert room_cycles(package) == [
        "circle: models -> services.orders -> models\n"
        "    django_orkestapay/models.py:5: django_orkestapay.models imports django_orkestapay.services.orders\n"
        "    django_orkestapay/services/orders.py:1: django_orkestapay.services.orders imports django_orkestapay.models"
    ]


def test_a_planted_type_checking_circle_inside_the_fake_is_reported(tmp_path: Path) -> None:
    package = plant(
        tmp_path,
        testing__fake_gateway=(
            "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from .pytest_plugin import fake_orkestapay\n"
        ),
    )
    assert room_cycles(package) == []  # within one room
    assert package_cycles(package, "testing") == [
        "circle: django_orkestapay.testing.fake_gateway -> django_orkestapay.testing.pytest_plugin -> "
        "django_orkestapay.testing.fake_gateway\n"
        "    django_orkestapay/testing/fake_gateway.py:4: django_orkestapay.testing.fake_gateway imports "
        "django_orkestapay.testing.pytest_plugin\n"
        "    django_orkestapay/testing/pytest_plugin.py:3: django_orkestapay.testing.pytest_plugin imports "
        "django_orkestapay.testing.fake_gateway"
    ]


def test_a_planted_long_module_and_long_class_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "long.py"
    path.write_text("x = 1\n" * (MAX_MODULE_LINES + 1), encoding="utf-8")
    assert module_lines(path) == MAX_MODULE_LINES + 1
    body = "    x = 1\n" * (MAX_CLASS_LINES - 1)
    assert long_classes(f"class Short:\n{body}") == []
    assert long_classes(f"@decorated\nclass Long:\n{body}    y = 2\n") == [f"Long ({MAX_CLASS_LINES + 1} lines)"]
