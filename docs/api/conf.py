"""Sphinx configuration of the API reference (``python3 dev.py docs``; see index.rst)."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE / "_ext"), str(HERE.parents[1])]  # the registry_pages extension; the provider's checkout

from airflow_flowservice import __version__  # noqa: E402

project = "airflow-provider-flowservice"
author = "airflow-provider-flowservice developers"
copyright = "airflow-provider-flowservice developers"
release = version = __version__

extensions = ["sphinx.ext.autodoc", "registry_pages"]
# Warnings are errors (sphinx-build -W in dev.py), and a reference a docstring writes must resolve
# (registry_pages.py leaves the undocumented types of signatures as plain text; index.rst says why).
nitpicky = True

# Docstrings are reStructuredText with :param: fields (Airflow's style): no napoleon.
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
# An override without a docstring (execute) is left out, not shown with its Airflow base's docstring.
autodoc_inherit_docstrings = False

# Each class's module is its section's title: signatures and the sidebar show the class's name alone.
add_module_names = False
toc_object_entries_show_parents = "hide"

html_theme = "alabaster"
html_title = f"airflow-provider-flowservice {release} API reference"
html_static_path: list[str] = []
