"""Run a DAG of independent bad-input tasks once through Airflow (``dag.test()``) and collect, per task,
the exception it failed with and the emulator requests made while it ran.

Each task gets an ``on_failure_callback`` that appends ``{task_id: [exception class, message]}`` to a
JSON file named by ``$FLOWSERVICE_BAD_INPUT_OUT``: the callback runs in the task runner (in-process under
``dag.test()``), so the file is the simplest way back to the test.
"""

from __future__ import annotations

import json
import os
import textwrap
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pendulum
import pytest

from airflow_flowservice.testing import FlowServiceEmulator
from airflow_flowservice.testing.emulator.requestlog import RequestRecord

OUT_ENV = "FLOWSERVICE_BAD_INPUT_OUT"
LOGICAL_DATE = pendulum.datetime(2024, 1, 2, tz="UTC")

# Pasted at the top of every generated DAG file: the failure callback that records the exception.
RECORDER = f'''
import json as _json
import os as _os


def record_failure(context):
    exc = context.get("exception")
    path = _os.environ["{OUT_ENV}"]
    data = _json.load(open(path)) if _os.path.exists(path) else {{}}
    data[context["ti"].task_id] = [type(exc).__name__, str(exc)]
    with open(path, "w") as fh:
        _json.dump(data, fh)
'''


@dataclass
class DagOutcome:
    """What one ``dag.test()`` of a bad-input DAG produced."""

    dag_id: str
    run_id: str
    states: dict[str, str]
    errors: dict[str, tuple[str, str]]
    spans: dict[str, tuple[datetime, datetime]]
    requests: list[RequestRecord] = field(default_factory=list)

    def requests_during(self, task_id: str) -> list[str]:
        """``METHOD path`` of every emulator request (token endpoint included) made while the task ran."""
        start, end = self.spans[task_id]
        return [f"{r.method} {r.path}" for r in self.requests if start.timestamp() <= r.time <= end.timestamp()]


def run_dag_source(dag_id: str, source: str, tmp: Path) -> DagOutcome:
    """Write ``source`` (which must use ``record_failure``) to the dags folder, ``dag.test()`` it once."""
    from airflow.utils.db import initdb

    from tests.compat import DagBag

    initdb()
    out = tmp / f"{dag_id}.json"
    os.environ[OUT_ENV] = str(out)
    target = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / f"{dag_id}.py"
    target.write_text(RECORDER + textwrap.dedent(source))
    bag = DagBag(str(target))
    assert not bag.import_errors, bag.import_errors
    dag_run = bag.dags[dag_id].test(logical_date=LOGICAL_DATE)
    tis = dag_run.get_task_instances()
    errors = {k: (v[0], v[1]) for k, v in json.loads(out.read_text()).items()} if out.exists() else {}
    return DagOutcome(
        dag_id=dag_id,
        run_id=dag_run.run_id,
        states={ti.task_id: str(ti.state) for ti in tis},
        errors=errors,
        spans={ti.task_id: (ti.start_date, ti.end_date) for ti in tis if ti.start_date and ti.end_date},
    )


@pytest.fixture(scope="module")
def module_emulator() -> Iterator[FlowServiceEmulator]:
    """One emulator for the module (its request log is what the tests inspect)."""
    emu = FlowServiceEmulator(run_timeline=(0.2, 0.5))
    emu.start()
    try:
        yield emu
    finally:
        emu.stop()


@pytest.fixture(scope="module")
def module_env() -> Iterator[pytest.MonkeyPatch]:
    """A module-scoped ``monkeypatch`` for connection environment variables."""
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def conn_json(emu: FlowServiceEmulator, **changes: Any) -> str:
    """The emulator's connection as Airflow JSON, with ``changes`` (``login=None`` drops the login;
    ``extra={"sandbox": None}`` drops that extra key). IMS and API urls always point at the emulator,
    so any call such a connection made would be in the emulator's request log."""
    extra: dict[str, Any] = {
        "org_id": emu.org_id,
        "sandbox": emu.sandbox,
        "ims_url": emu.ims_url,
        "api_url": emu.api_url,
    }
    conn: dict[str, Any] = {"conn_type": "adobe_flowservice", "login": emu.client_id, "password": emu.client_secret}
    for key, value in changes.items():
        if key == "extra":
            assert isinstance(value, Mapping)
            extra.update(value)
        else:
            conn[key] = value
    conn["extra"] = {k: v for k, v in extra.items() if v is not None}
    return json.dumps({k: v for k, v in conn.items() if v is not None})
