"""The registry of public classes is the one list: the lazy imports, the IDE imports and the provider info agree."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

import airflow_flowservice
from airflow_flowservice import get_provider_info, registry

PACKAGE = Path(airflow_flowservice.__file__).parent
LAZY_PACKAGES = {"operators": registry.OPERATORS, "sensors": registry.SENSORS, "triggers": registry.TRIGGERS}


def _type_checking_imports(package: str) -> dict[str, str]:
    """``name -> module`` of the ``if TYPE_CHECKING:`` imports of a package's ``__init__``."""
    tree = ast.parse((PACKAGE / package / "__init__.py").read_text())
    found: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                if isinstance(child, ast.ImportFrom) and child.module:
                    found.update({alias.name: child.module for alias in child.names})
    return found


@pytest.mark.parametrize("package", sorted(LAZY_PACKAGES))
def test_lazy_and_type_checking_imports_match_the_registry(package: str) -> None:
    classes = LAZY_PACKAGES[package]
    module = importlib.import_module(f"airflow_flowservice.{package}")
    assert sorted(module.__all__) == sorted(classes)
    assert _type_checking_imports(package) == dict(classes)
    for name, defined_in in classes.items():
        cls = getattr(module, name)
        assert cls.__module__ == defined_in and cls.__name__ == name


def test_every_public_task_or_trigger_class_is_registered() -> None:
    """A class an operator, sensor or trigger module defines for users (no leading ``_``) is in the registry."""
    from airflow.triggers.base import BaseTrigger

    from airflow_flowservice._compat import BaseOperator

    registered = {name for classes in registry.PUBLIC.values() for name in classes}
    unregistered = []
    for package in LAZY_PACKAGES:
        for info in pkgutil.iter_modules([str(PACKAGE / package)]):
            module = importlib.import_module(f"airflow_flowservice.{package}.{info.name}")
            for name, cls in inspect.getmembers(module, inspect.isclass):
                public = not name.startswith("_") and cls.__module__ == module.__name__
                task_or_trigger = issubclass(cls, (BaseOperator, BaseTrigger)) and not inspect.isabstract(cls)
                base = name.endswith(("Base", "BaseOperator"))  # a base to derive from, not a task
                if public and task_or_trigger and not base and name not in registered:
                    unregistered.append(f"{module.__name__}.{name}")
    assert unregistered == []


def test_provider_info_lists_the_registrys_modules() -> None:
    info = get_provider_info()
    for kind, classes in (
        ("hooks", registry.HOOKS),
        ("operators", registry.OPERATORS),
        ("sensors", registry.SENSORS),
        ("triggers", registry.TRIGGERS),
    ):
        (entry,) = info[kind]
        assert entry["python-modules"] == registry.modules(classes)
    assert info["extra-links"] == [f"{module}.{name}" for name, module in registry.EXTRA_LINKS.items()]
    hook = registry.HOOKS["FlowServiceHook"]
    assert info["connection-types"][0]["hook-class-name"] == f"{hook}.FlowServiceHook"
