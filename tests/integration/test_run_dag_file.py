"""``airflow_flowservice.testing.dags.run_dag_file``: a DAG run that did not run every task is a failure."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_flowservice.testing.dags import DagRunFailedError, run_dag_file

pytestmark = pytest.mark.integration

DAG_SOURCE = """
import pendulum
from airflow.sdk import DAG, task

with DAG("{dag_id}", schedule="@daily", start_date=pendulum.datetime(2026, 1, 3, tz="UTC")):

    @task
    def ok() -> None:
        pass

    @task
    def boom() -> None:
        raise RuntimeError("boom")

    ok() >> ({tail})
"""


def _dag_file(tmp_path: Path, dag_id: str, tail: str) -> Path:
    path = tmp_path / f"{dag_id}.py"
    path.write_text(DAG_SOURCE.format(dag_id=dag_id, tail=tail))
    return path


def test_a_green_run_is_returned(tmp_path: Path) -> None:
    run = run_dag_file(_dag_file(tmp_path, "green", "ok.override(task_id='ok_2')()"), logical_date="2026-01-05")
    assert run.state == "success"
    assert sorted(ti.task_id for ti in run.get_task_instances()) == ["ok", "ok_2"]


def test_a_failed_task_fails_the_test(tmp_path: Path) -> None:
    with pytest.raises(DagRunFailedError, match=r"DAG run .* of failing is failed: boom failed \(the task logs"):
        run_dag_file(_dag_file(tmp_path, "failing", "boom()"), logical_date="2026-01-05")


def test_a_date_before_the_start_date_runs_no_task_and_fails(tmp_path: Path) -> None:
    # dag.test() reports such a run as a success although no task ran (before its start date).
    with pytest.raises(DagRunFailedError, match="boom not run, ok not run"):
        run_dag_file(_dag_file(tmp_path, "early", "boom()"), logical_date="2026-01-01")


def test_the_dag_id_is_needed_when_the_file_has_several(tmp_path: Path) -> None:
    path = tmp_path / "two.py"
    path.write_text(DAG_SOURCE.format(dag_id="one", tail="boom()") + DAG_SOURCE.format(dag_id="two", tail="boom()"))
    with pytest.raises(ValueError, match=r"dag_id: .*two.py defines \['one', 'two'\]; pass the one to run"):
        run_dag_file(path)
