"""Lineage through real DAG runs (``dag.test()``): OpenLineage facets on finished tasks, and Asset events."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pendulum
import pytest

from airflow_flowservice.hooks.flowservice import FlowServiceHook
from airflow_flowservice.testing.flows import create_table_flow
from tests.compat import AIRFLOW_V_3_1_PLUS

pytestmark = pytest.mark.integration

DATASET = "6155e3a9bd13651949515f14"  # what create_table_flow's target connection writes

DAG_SOURCE = """
import pendulum
from airflow.sdk import DAG
from airflow.timetables.interval import CronDataIntervalTimetable
from airflow_flowservice.operators import FlowServiceTriggerRunOperator

with DAG(
    "{dag_id}",
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
):
    FlowServiceTriggerRunOperator(
        task_id="ingest",
        flow_id="{flow_id}",
        delta_column="updated_at",
        poll_interval=0.1,
        deferrable={deferrable},
        asset_alias="aep_ingest",
    )
"""


class CaptureLineage:
    """A task listener doing what the OpenLineage listener does on success: ask the task for its lineage."""

    def __init__(self) -> None:
        self.lineage: dict[str, Any] = {}

    from airflow.listeners import hookimpl

    @hookimpl
    def on_task_instance_success(self, previous_state: Any, task_instance: Any) -> None:
        task = task_instance.task
        self.lineage[task_instance.task_id] = task.get_openlineage_facets_on_complete(task_instance)


@pytest.fixture
def capture() -> Iterator[CaptureLineage]:
    from tests.compat import get_listener_manager

    listener = CaptureLineage()
    manager = get_listener_manager()
    manager.add_listener(listener)
    yield listener
    manager.pm.unregister(listener)


def asset_events(uri: str) -> list[dict[str, Any]]:
    """The extras of the Asset events recorded for the Asset declared as ``Asset(uri=uri)``.

    Looked up by the Asset's name, which Airflow keeps as given on every line (the name defaults to
    the URI). The stored ``uri`` column differs on 3.0: see :func:`stored_uri`.
    """
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(AssetEvent, AssetModel.uri).join(AssetModel, AssetEvent.asset_id == AssetModel.id)
        found = rows.filter(AssetModel.name == uri).all()
        assert {stored for _, stored in found} <= {stored_uri(uri)}
        return [dict(event.extra or {}) for event, _ in found]


def stored_uri(uri: str) -> str:
    """The ``uri`` Airflow records for ``Asset(uri=uri)``.

    An IMS org id ends in ``@AdobeOrg``, so in ``aep://{org_id}/...`` the part before ``@`` parses as
    RFC 3986 user info. Airflow 3.0's Asset URI normalization drops user info with a UserWarning
    ("An Asset URI should not contain auth info"), keeping the name as given; 3.1 drops it only when
    a password is present (apache/airflow#51877, fixed by apache/airflow#57650). The event is
    recorded on every line; on 3.0 its Asset's ``uri`` lacks the org id's first part.
    """
    if AIRFLOW_V_3_1_PLUS:
        return uri
    scheme, _, rest = uri.partition("://")
    netloc, slash, path = rest.partition("/")
    return f"{scheme}://{netloc.rpartition('@')[2]}{slash}{path}"


def run_dag(load_dag: Any, dag_id: str, flow_id: str, deferrable: bool = False) -> Any:
    dag = load_dag(dag_id, source=DAG_SOURCE.format(dag_id=dag_id, flow_id=flow_id, deferrable=deferrable))
    dag_run = dag.test(logical_date=pendulum.datetime(2026, 1, 5, tz="UTC"))
    assert dag_run.state == "success"
    return dag, dag_run


@pytest.mark.parametrize("deferrable", [False, True])
def test_ingest_dag_reports_lineage_and_emits_the_dataset_asset(
    deferrable: bool, flowservice_emulator: Any, load_dag: Any, capture: CaptureLineage
) -> None:
    hook = FlowServiceHook()
    flow_id = create_table_flow(hook)
    namespace = f"aep://{hook.credentials.org_id}/{hook.credentials.sandbox}"
    dag_id = f"lineage_ingest_{int(deferrable)}"
    dag, dag_run = run_dag(load_dag, dag_id, flow_id, deferrable)

    # 1. What the OpenLineage listener gets, in the task's own process.
    seen = capture.lineage["ingest"]
    assert [(d.namespace, d.name) for d in seen.inputs] == [("aep-source://google-big-query", "sales.orders")]
    assert [(d.namespace, d.name) for d in seen.outputs] == [(namespace, DATASET)]
    assert seen.outputs[0].outputFacets["outputStatistics"].rowCount is not None

    # 2. The method called later on the finished task instance (from the metadata DB).
    ti = dag_run.get_task_instance("ingest")
    ti.task = dag.get_task("ingest")
    later = ti.task.get_openlineage_facets_on_complete(ti)
    assert [(d.namespace, d.name) for d in later.outputs] == [(namespace, DATASET)]
    assert later.run_facets["externalQuery"].externalQueryId == seen.run_facets["externalQuery"].externalQueryId

    # 3. The Asset event, recorded through the task's AssetAlias outlet.
    # (the session's DB holds other tests' events for the same dataset: keep this flow's)
    events = [e for e in asset_events(f"{namespace}/{DATASET}") if e["flow_id"] == flow_id]
    assert len(events) == 1
    assert events[0]["run_id"] == later.run_facets["externalQuery"].externalQueryId


def test_without_the_provider_the_dag_runs_and_lineage_is_none(
    flowservice_emulator: Any, load_dag: Any, capture: CaptureLineage, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(sys.modules):
        if name.startswith(("airflow.providers.openlineage.extractors", "openlineage")):
            monkeypatch.delitem(sys.modules, name)
    for name in ("airflow.providers.openlineage.extractors", "openlineage"):
        monkeypatch.setitem(sys.modules, name, None)
    hook = FlowServiceHook()
    flow_id = create_table_flow(hook)
    _, dag_run = run_dag(load_dag, "lineage_absent", flow_id)
    assert capture.lineage == {"ingest": None}
    # Assets need only Airflow: the event is still emitted.
    namespace = f"aep://{hook.credentials.org_id}/{hook.credentials.sandbox}"
    assert [e["flow_id"] for e in asset_events(f"{namespace}/{DATASET}") if e["flow_id"] == flow_id] == [flow_id]
    assert dag_run.get_task_instance("ingest").state == "success"
