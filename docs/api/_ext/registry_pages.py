"""Sphinx extension: the API reference's class pages, written from ``airflow_flowservice.registry``.

At ``builder-inited`` it writes ``generated/<kind>.rst`` for each kind of :data:`~airflow_flowservice.registry.PUBLIC`
(hooks, operators, ...): the kind's modules in the registry's order, each with its docstring and an
``autoclass`` per registered class, so the reference documents exactly the registry's classes. The
folder is build output (git ignores it). At ``env-check-consistency`` it warns (an error under ``-W``)
for each registered class that the built reference does not document.

:func:`pages` needs no Sphinx: ``tests/unit/test_registry.py`` checks the pages against the registry.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from airflow_flowservice import registry

#: Where the pages are written, relative to the Sphinx source folder (``docs/api``).
FOLDER = "generated"
#: The title of each kind's page.
TITLES = {
    "hooks": "Hooks",
    "operators": "Operators",
    "sensors": "Sensors",
    "triggers": "Triggers",
    "extra-links": "Extra links",
}


def _heading(text: str, underline: str) -> list[str]:
    return [text, underline * len(text), ""]


def page(kind: str, classes: Mapping[str, str]) -> str:
    """The ``.rst`` text of one kind's page: its modules in the registry's order, each with its classes."""
    by_module: dict[str, list[str]] = {}
    for name, module in classes.items():
        by_module.setdefault(module, []).append(name)
    lines = [
        f".. Written by docs/api/_ext/registry_pages.py from airflow_flowservice.registry ({kind}): do not edit.",
        "",
        *_heading(TITLES.get(kind, kind.replace("-", " ").capitalize()), "="),
    ]
    for module, names in by_module.items():
        lines += _heading(f"``{module}``", "-")
        lines += [f".. automodule:: {module}", ""]
        for name in names:
            lines += [f".. autoclass:: {module}.{name}", "   :members:", ""]
    return "\n".join(lines)


def pages() -> dict[str, str]:
    """``<kind>.rst`` -> its text, for every kind of the registry, in the registry's order."""
    return {f"{kind}.rst": page(kind, classes) for kind, classes in registry.PUBLIC.items()}


def write_pages(folder: Path) -> None:
    """Write :func:`pages` into ``folder``: a page is rewritten only when its text changed, a stale one removed."""
    folder.mkdir(exist_ok=True)
    wanted = pages()
    for stale in folder.glob("*.rst"):
        if stale.name not in wanted:
            stale.unlink()
    for name, text in wanted.items():
        path = folder / name
        if not path.exists() or path.read_text() != text:
            path.write_text(text)


def _on_builder_inited(app: Any) -> None:
    write_pages(Path(app.srcdir) / FOLDER)


def _on_check_consistency(app: Any, env: Any) -> None:
    """Warn for each registered class the reference does not document (a page left out, an import that failed)."""
    from sphinx.util import logging

    logger = logging.getLogger(__name__)
    documented = {name for name, obj in env.get_domain("py").objects.items() if obj.objtype == "class"}
    for kind, classes in registry.PUBLIC.items():
        for name, module in classes.items():
            if f"{module}.{name}" not in documented:
                logger.warning(f"{module}.{name} (registry {kind}) is not documented by the API reference")


@functools.cache
def public_paths() -> dict[str, str]:
    """``airflow_flowservice.operators.X`` -> ``airflow_flowservice.operators.<module>.X``: the import paths the
    lazy packages serve (what DAG files and docstrings write), to the path the reference documents."""
    paths = {}
    for classes in registry.PUBLIC.values():
        for name, module in classes.items():
            package = module.rpartition(".")[0]
            if name in getattr(importlib.import_module(package), "__all__", ()):
                paths[f"{package}.{name}"] = f"{module}.{name}"
    return paths


def _on_missing_reference(app: Any, env: Any, node: Any, contnode: Any) -> Any:
    """Resolve a registered class's public import path; leave a type of a signature that is not here plain text.

    Signatures name internal and third-party types this reference does not document (and there is no
    intersphinx offline): they stay text. A reference written in a docstring (a role: it has
    ``refexplicit``) must resolve, else ``nitpicky`` reports it.
    """
    if node.get("refdomain") != "py":
        return None
    target = public_paths().get(node["reftarget"])
    if target is not None:
        domain = env.get_domain("py")
        return domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"], target, node, contnode)
    if "refexplicit" not in node:  # from a signature's annotation, not a docstring's role
        return contnode
    return None


def setup(app: Any) -> dict[str, Any]:
    app.connect("builder-inited", _on_builder_inited)
    app.connect("env-check-consistency", _on_check_consistency)
    app.connect("missing-reference", _on_missing_reference)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
