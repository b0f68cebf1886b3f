"""Test session set-up: a throw-away AIRFLOW_HOME (never ~/airflow) and a fresh token cache per test."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator

import pytest

# Must run before anything imports airflow.
_HOME = tempfile.mkdtemp(prefix="flowservice-airflow-home-")
atexit.register(shutil.rmtree, _HOME, ignore_errors=True)  # removed when the test process exits
os.environ["AIRFLOW_HOME"] = _HOME
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_HOME}/airflow.db"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = os.path.join(_HOME, "dags")
os.makedirs(os.path.join(_HOME, "dags"), exist_ok=True)


@pytest.fixture(autouse=True)
def _fresh_token_cache() -> Iterator[None]:
    from airflow_flowservice.auth import TOKEN_CACHE

    TOKEN_CACHE.clear()
    yield
    TOKEN_CACHE.clear()
