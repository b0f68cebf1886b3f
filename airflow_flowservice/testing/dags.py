"""Run a DAG file in a test the way Airflow runs it, and fail the test when a task fails.

>>> from airflow_flowservice.testing.dags import run_dag_file
>>> run = run_dag_file("dags/orders_ingest.py", logical_date="2026-01-05")  # doctest: +SKIP

Why a helper: on Airflow 3, ``dag.test()`` creates its DAG run from the *serialized* DAG, which it
finds by parsing the configured DAGs folder (the ``dags-folder`` bundle). A DAG object built inside
a test module is not in that folder, so ``dag.test()`` refuses it ("Cannot create DagRun ...
because the dag is not serialized"). And ``dag.test()`` returns a failed DAG run instead of
raising, so a test that only calls it passes whatever the tasks did.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from airflow_flowservice._compat import conf, dag_bag_of_file

_migrated: set[str] = set()
_DONE = ("success", "skipped")


class DagRunFailedError(AssertionError):
    """The DAG run did not succeed: names the DAG run and each task that did not succeed, with its state."""


def _dags_folder() -> Path:
    return Path(os.path.expanduser(conf.get("core", "dags_folder")))


def _ensure_metadata_db() -> None:
    """Create or upgrade Airflow's metadata DB once per process and DB (``airflow db migrate``)."""
    url = conf.get("database", "sql_alchemy_conn", fallback="")
    if url in _migrated:
        return
    from airflow.utils.db import initdb

    initdb()
    _migrated.add(url)


def _as_datetime(value: Any) -> Any:
    if value is None or not isinstance(value, str):
        return value
    import pendulum

    parsed = pendulum.parse(value, tz="UTC")
    if not isinstance(parsed, pendulum.DateTime):
        raise ValueError(f"logical_date: {value!r} is not a date or date-time (e.g. '2026-01-05')")
    return parsed


def run_dag_file(
    path: str | os.PathLike[str],
    *,
    dag_id: str | None = None,
    logical_date: Any = None,
    conf: dict[str, Any] | None = None,
) -> Any:
    """
    Run one DAG of a DAG file with ``dag.test()``; raise :class:`DagRunFailedError` unless every task succeeded.

    "Every task" counts the DAG's tasks, not the run's task instances: a logical date before the
    DAG's start date gives a run without tasks, which ``dag.test()`` reports as a success.

    The file is copied into the configured DAGs folder (``[core] dags_folder``, by default
    ``$AIRFLOW_HOME/dags``) unless it is already there, so that ``dag.test()`` finds and serializes
    it as Airflow does; the metadata DB is created on first use (in ``$AIRFLOW_HOME``: run your
    tests with a throw-away one). Connections and variables come from the environment as usual
    (the ``flowservice_emulator`` fixture sets ``AIRFLOW_CONN_FLOWSERVICE_DEFAULT``; set others
    with ``monkeypatch.setenv("AIRFLOW_VAR_...", ...)``). Task logs go to stdout, which pytest shows
    for a failed test. Only the DAG file is copied: a DAG that reads files beside it (e.g. a
    ``FlowServiceApplyOperator`` spec) runs from a path inside the DAGs folder, with its files there.

    :param path: the DAG file, e.g. ``Path(__file__).parent.parent / "dags" / "orders_ingest.py"``.
    :param dag_id: which DAG of the file; default the only one.
    :param logical_date: the run's logical date (its data interval is the timetable's for that date):
        a datetime or a string such as ``"2026-01-05"``. Default now.
    :param conf: the DAG run's ``conf``.
    :return: the finished DAG run (``run.state == "success"``).
    """
    source = Path(path).resolve()
    if not source.is_file():
        raise FileNotFoundError(f"path: no DAG file at {source}")
    folder = _dags_folder()
    folder.mkdir(parents=True, exist_ok=True)
    target = source if folder.resolve() in source.parents else folder / source.name
    if target != source:
        shutil.copyfile(source, target)
    _ensure_metadata_db()

    bag = dag_bag_of_file(str(target))
    if bag.import_errors:
        raise DagRunFailedError(f"{source} does not import: {bag.import_errors}")
    if dag_id is None:
        if len(bag.dags) != 1:
            raise ValueError(f"dag_id: {source} defines {sorted(bag.dags) or 'no DAG'}; pass the one to run")
        dag_id = next(iter(bag.dags))
    if dag_id not in bag.dags:
        raise ValueError(f"dag_id: {source} defines no DAG {dag_id!r} (it defines {sorted(bag.dags)})")
    dag = bag.dags[dag_id]

    kwargs: dict[str, Any] = {"run_conf": conf}
    if logical_date is not None:
        kwargs["logical_date"] = _as_datetime(logical_date)
    run = dag.test(**kwargs)
    # Every task of the DAG, not only the task instances the run has: a run for a date before a task's
    # start date gets no instance of it, and dag.test() calls such a run a success.
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    not_ok = sorted(
        (task_id, states.get(task_id, "not run")) for task_id in dag.task_ids if states.get(task_id) not in _DONE
    )
    if str(run.state) != "success" or not_ok:
        tasks = ", ".join(f"{task_id} {state}" for task_id, state in not_ok) or "no task failed"
        raise DagRunFailedError(f"DAG run {run.run_id} of {dag_id} is {run.state}: {tasks} (the task logs are above)")
    return run
