"""Run real DAGs through Airflow (``dag.test()``) in the session's temporary AIRFLOW_HOME.

``dag.test()`` on Airflow 3 syncs the DAG from the dags-folder bundle, so every DAG a test runs is a
file in ``$AIRFLOW__CORE__DAGS_FOLDER``: :func:`load_dag` copies an example DAG there, or writes
DAG source given as text.
"""

from __future__ import annotations

import os
import shutil
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

EXAMPLE_DAGS = Path(__file__).resolve().parents[2] / "example_dags"


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """Create the metadata DB once per test session."""
    from airflow.utils.db import initdb

    initdb()


def _dags_folder() -> Path:
    return Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])


@pytest.fixture
def load_dag(airflow_db: None) -> Callable[..., Any]:
    """``load_dag(dag_id, example="x.py")`` or ``load_dag(dag_id, source="...python...")`` -> DAG."""

    def load(dag_id: str, *, example: str | None = None, source: str | None = None) -> Any:
        from tests.compat import DagBag

        folder = _dags_folder()
        if example is not None:
            target = folder / example
            shutil.copy(EXAMPLE_DAGS / example, target)
        elif source is not None:
            target = folder / f"{dag_id}.py"
            target.write_text(textwrap.dedent(source))
        else:
            raise ValueError("give example= or source=")
        bag = DagBag(str(target))
        assert not bag.import_errors, bag.import_errors
        return bag.dags[dag_id]

    return load
