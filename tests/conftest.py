"""Test session set-up: a throw-away AIRFLOW_HOME (never ~/airflow) and a fresh token cache per test."""

from __future__ import annotations

import atexit
import functools
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


@pytest.fixture(autouse=True, scope="session")
def _one_in_process_execution_api() -> Iterator[None]:
    """On Airflow 3.0-3.2, build ``dag.test()``'s in-process Execution API once per test process, as 3.3 does.

    Their ``dag.test()`` creates a new ``InProcessExecutionAPI`` for every task it runs: a FastAPI app with
    all its API versions, and an a2wsgi bridge with an event-loop thread that is never stopped. Airflow 3.3
    caches it (``functools.lru_cache(maxsize=1)`` on ``in_process_api_server``: apache/airflow#65235);
    the same cache here takes most of the time out of the DAG tiers on the older lines (the matrix times in
    the README). What the tasks do and what the tests check is unchanged.
    """
    from airflow.sdk.execution_time import supervisor

    built = supervisor.in_process_api_server
    if hasattr(built, "cache_info"):  # 3.3+: cached by Airflow itself
        yield
        return
    supervisor.in_process_api_server = functools.lru_cache(maxsize=1)(built)
    try:
        yield
    finally:
        supervisor.in_process_api_server = built


@pytest.fixture(autouse=True)
def _fresh_token_cache() -> Iterator[None]:
    from airflow_flowservice.auth import TOKEN_CACHE

    TOKEN_CACHE.clear()
    yield
    TOKEN_CACHE.clear()


# Every test runs under pytest-timeout: pyproject.toml sets 300 s a test with the thread method (Airflow's own
# SIGALRM timeouts, around DAG file imports and task execution, would cancel the signal method's alarm); on a
# timeout it prints every thread's stack and ends the test process. A tier that needs longer says so here, by
# its folder under tests/: (seconds, method).
TIER_TIMEOUTS: dict[str, tuple[float, str]] = {
    # Its first test starts Airflow (about a minute), its scenarios take up to ~1.5 min each on a loaded
    # machine. The signal method raises in the test instead, so the session fixture still stops every process.
    "deployment": (900, "signal"),
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    tests = os.path.dirname(os.path.abspath(__file__))
    for item in items:
        parts = os.path.relpath(str(item.path), tests).split(os.sep)
        if parts[0] in TIER_TIMEOUTS and item.get_closest_marker("timeout") is None:
            seconds, method = TIER_TIMEOUTS[parts[0]]
            item.add_marker(pytest.mark.timeout(seconds, method=method))
