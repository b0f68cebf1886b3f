"""The registry of public classes is the one list: the lazy imports, the IDE imports, the provider info and the
API reference (docs/api) agree."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import pkgutil
import re
from pathlib import Path
from types import ModuleType

import pytest

import airflow_flowservice
from airflow_flowservice import get_provider_info, registry

PACKAGE = Path(airflow_flowservice.__file__).parent
API_DOCS = PACKAGE.parent / "docs" / "api"
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


def _registry_pages() -> ModuleType:
    """docs/api/_ext/registry_pages.py, the Sphinx extension writing the class pages (it needs no Sphinx)."""
    spec = importlib.util.spec_from_file_location("registry_pages", API_DOCS / "_ext" / "registry_pages.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _targets(rst: str, directive: str) -> list[str]:
    """The targets of every ``.. <directive>:: <target>`` of an ``.rst`` text."""
    return re.findall(rf"^\.\. {directive}:: (\S+)$", rst, flags=re.MULTILINE)


def test_the_api_reference_documents_every_registered_class() -> None:
    """A page per kind with an ``autoclass`` for each of its registered classes and no other, and every page in the
    index's table of contents. (``python3 dev.py docs`` also fails when the build leaves a registered class out.)"""
    pages = _registry_pages().pages()
    assert list(pages) == [f"{kind}.rst" for kind in registry.PUBLIC]
    for kind, classes in registry.PUBLIC.items():
        documented = _targets(pages[f"{kind}.rst"], "autoclass")
        assert sorted(documented) == sorted(f"{module}.{name}" for name, module in classes.items())
    listed = re.findall(r"^\s+generated/(\S+)$", (API_DOCS / "index.rst").read_text(), flags=re.MULTILINE)
    assert listed == list(registry.PUBLIC)


def test_the_api_reference_documents_the_testing_package() -> None:
    """docs/api/testing.rst documents each name ``airflow_flowservice.testing`` exports (the emulator's classes)."""
    from airflow_flowservice import testing

    assert sorted(_targets((API_DOCS / "testing.rst").read_text(), "autoclass")) == sorted(testing.__all__)
