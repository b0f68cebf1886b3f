"""The layout of record (README, "Architecture"): imports run one way, top to bottom, with no cycle.

Every import counts, function-local ones included; only ``if TYPE_CHECKING:`` blocks (never run) are
left out. A structural check of the source, so it fails the moment a module imports upwards.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "airflow_flowservice"

# Layer of each module, by its dotted name's prefix (the longest prefix wins); a module may import
# only modules of its own layer or of lower layers. testing/ stands apart: no production module imports it.
LAYERS: dict[str, int] = {
    "airflow_flowservice": 6,  # __init__: version, provider info
    # Airflow-facing: validate, delegate, defer, push XCom; Airflow's exception types applied here
    "airflow_flowservice.operators": 5,
    "airflow_flowservice.sensors": 5,
    "airflow_flowservice.triggers": 5,
    "airflow_flowservice.links": 5,
    "airflow_flowservice.lineage": 5,
    "airflow_flowservice.cli": 5,
    "airflow_flowservice.__main__": 5,
    # domain rules, as functions that take the hook
    "airflow_flowservice.dataflows": 4,
    "airflow_flowservice.as_code": 4,
    "airflow_flowservice.runs": 4,
    # the one API layer
    "airflow_flowservice.hooks": 3,
    # user-input models and checks
    "airflow_flowservice.inputs": 2,
    "airflow_flowservice.validation": 2,
    "airflow_flowservice.specs": 2,
    "airflow_flowservice.ui": 2,
    # the HTTP core
    "airflow_flowservice.client": 1,
    "airflow_flowservice.auth": 1,
    "airflow_flowservice.models": 1,
    "airflow_flowservice.run_heads": 1,
    "airflow_flowservice.journal_pages": 1,
    "airflow_flowservice.kinds": 0,
    "airflow_flowservice.exceptions": 0,
    "airflow_flowservice.registry": 0,  # the public classes and their modules: imports nothing
    "airflow_flowservice._compat": 0,  # Airflow names that moved between 3.0 and 3.3; imports none of ours
}
#: The layer of the hook: below it nothing imports Airflow (or _compat, Airflow's names), and only the hook
#: package touches a client.
HOOK_LAYER = LAYERS["airflow_flowservice.hooks"]
# What the top layer may take from the package root (constants, no logic).
ROOT_NAMES = {"CONN_TYPE", "DEFAULT_CONN_ID", "get_provider_info", "__version__"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _runtime_imports(path: Path) -> list[tuple[str, int, list[str]]]:
    """``(module, line, names)`` of every import that runs, function-local ones included."""
    tree = ast.parse(path.read_text())
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for child in node.body for n in ast.walk(child))
    found: list[tuple[str, int, list[str]]] = []
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno, []) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.append((base, node.lineno, [a.name for a in node.names]))
    return found


def _layer(module: str) -> int | None:
    best = max((p for p in LAYERS if module == p or module.startswith(p + ".")), key=len, default=None)
    return LAYERS[best] if best is not None else None


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        for target, _, names in _runtime_imports(path):
            if not target.startswith("airflow_flowservice"):
                continue
            # `from pkg import module` imports the submodule
            subs = [f"{target}.{n}" for n in names if f"{target}.{n}" in modules]
            graph[name].update(subs or ([target] if target in modules else []))
    return graph


def test_no_import_cycles() -> None:
    graph = _graph()
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            # a package's own __init__ is imported before its submodules: not an edge of a cycle
            if node.startswith(nxt + "."):
                continue
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)
    assert cycles == []


def test_imports_run_top_down() -> None:
    upward: list[str] = []
    for path in PACKAGE.rglob("*.py"):
        name = _module_name(path)
        if name.startswith("airflow_flowservice.testing"):
            continue
        own = _layer(name)
        assert own is not None, f"{name} has no layer in the layout of record: add it to LAYERS and the README"
        for target, line, names in _runtime_imports(path):
            if not target.startswith("airflow_flowservice"):
                continue
            if target.startswith("airflow_flowservice.testing"):
                upward.append(f"{name}:{line} imports the emulator/testing package")
                continue
            if target == "airflow_flowservice" and set(names) <= ROOT_NAMES:
                continue
            # `from pkg import module` imports that module, not the package's own names
            modules = [
                f"{target}.{n}"
                for n in names
                if (PACKAGE.parent / f"{target}.{n}".replace(".", "/")).with_suffix(".py").exists()
            ]
            for imported in modules or [target]:
                layer = _layer(imported)
                if layer is not None and layer > own:
                    upward.append(f"{name}:{line} (layer {own}) imports {imported} (layer {layer})")
    assert upward == []


def test_emulator_shares_no_code_with_the_client() -> None:
    emulator = PACKAGE / "testing" / "emulator"
    shared = [
        f"{_module_name(path)}:{line} imports {target}"
        for path in emulator.rglob("*.py")
        for target, line, _ in _runtime_imports(path)
        if target.startswith("airflow_flowservice") and not target.startswith("airflow_flowservice.testing")
    ]
    assert shared == []


def _below_the_hook() -> list[tuple[str, Path]]:
    modules = [(_module_name(p), p) for p in PACKAGE.rglob("*.py")]
    return [
        (name, path)
        for name, path in modules
        if not name.startswith("airflow_flowservice.testing")
        and name != "airflow_flowservice._compat"
        and (_layer(name) or 0) < HOOK_LAYER
    ]


def test_nothing_below_the_hook_imports_airflow() -> None:
    found = [
        f"{name}:{line} imports {target}"
        for name, path in _below_the_hook()
        for target, line, _ in _runtime_imports(path)
        if target == "airflow" or target.startswith(("airflow.", "airflow_flowservice._compat"))
    ]
    assert found == []


def test_only_the_hook_touches_a_client() -> None:
    """The hook is the one API layer: no other production module reads a hook's ``client`` or makes one."""
    found = []
    for path in PACKAGE.rglob("*.py"):
        name = _module_name(path)
        if name.startswith(("airflow_flowservice.hooks", "airflow_flowservice.testing", "airflow_flowservice.client")):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in ("client", "get_async_client", "get_conn"):
                found.append(f"{name}:{node.lineno} .{node.attr}")
            elif isinstance(node, ast.Name) and node.id in ("FlowServiceClient", "AsyncFlowServiceClient"):
                found.append(f"{name}:{node.lineno} {node.id}")
    assert found == []


EMULATOR = PACKAGE / "testing" / "emulator"
# Data tables, not logic: the only emulator module whose functions may run past MAX_FUNCTION_LINES.
EMULATOR_DATA_TABLES = {"stores/catalog_data.py"}
MAX_FUNCTION_LINES = 80


def _app_registrations() -> tuple[set[str], set[str]]:
    """The resources ``emulator/app.py`` registers: ``(routers in ROUTERS, fields of Stores)``."""
    tree = ast.parse((EMULATOR / "app.py").read_text())
    routers: set[str] = set()
    fields: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "ROUTERS" for t in node.targets):
            assert isinstance(node.value, ast.Tuple)
            routers = {ast.unparse(e).removesuffix(".router") for e in node.value.elts}
        if isinstance(node, ast.ClassDef) and node.name == "Stores":
            fields = {s.target.id for s in node.body if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name)}
    return routers, fields


def test_emulator_resources_are_a_router_and_a_store_registered_in_the_app() -> None:
    """Each ``routers/<name>.py`` has its ``stores/<name>.py``, and ``app.py`` registers both."""
    resources = {p.stem for p in (EMULATOR / "routers").glob("*.py") if p.stem != "__init__"}
    stores = {p.stem for p in (EMULATOR / "stores").glob("*.py")}
    assert resources - stores == set(), "a router without its store module"
    routers, fields = _app_registrations()
    assert routers == resources, "app.ROUTERS must include every router of routers/"
    assert resources <= fields, "app.Stores must have a field per resource"


def test_emulator_stores_know_nothing_of_http_routing() -> None:
    """Stores hold state and rules; routers, dependencies, the gateway and the app sit above them."""
    above = ("routers", "app", "dependencies", "gateway", "server")
    wrong = [
        f"{_module_name(path)}:{line} imports {target}"
        for path in (EMULATOR / "stores").glob("*.py")
        for target, line, _ in _runtime_imports(path)
        if any(target.startswith(f"airflow_flowservice.testing.emulator.{name}") for name in above)
        or target.split(".")[0] in ("fastapi", "starlette")
    ]
    assert wrong == []


def test_emulator_functions_are_short() -> None:
    long = [
        f"{path.relative_to(EMULATOR)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for path in EMULATOR.rglob("*.py")
        if str(path.relative_to(EMULATOR)) not in EMULATOR_DATA_TABLES
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert long == []
