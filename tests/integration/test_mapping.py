"""Data Prep mapping sets through Airflow (``dag.test()`` via ``run_dag_file``) against the emulator: the CSV-from-S3
example built by operators and by its dataflows-as-code file, a flow moved to a new version of its mapping, and the
checks that refuse a dataflow before anything is created."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from airflow_flowservice.testing.dags import DagRunFailedError, run_dag_file

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parents[2] / "example_dags"
SCHEMA = "https://ns.adobe.com/acme/schemas/570630b91eb9d5cf5db0436756abb110d02912917a67da2d"
CONVERSION = "/data/foundation/conversion"
JAN_4, JAN_5 = 1767484800, 1767571200
S3 = {"conn_type": "aws", "login": "AKIAACME", "password": "acme-s3-secret"}
WRITES = ("POST", "PUT", "PATCH", "DELETE")


@pytest.fixture
def acme_s3(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_ACME_S3", json.dumps(S3))


def hook() -> Any:
    from airflow_flowservice.hooks.flowservice import FlowServiceHook

    return FlowServiceHook()


def writes(emu: Any) -> list[str]:
    """Every request that changes something (Flow Service and Conversion Service), validation excluded."""
    return [
        f"{r.method} {r.path}"
        for r in emu.requests
        if r.method in WRITES and r.path != "/ims/token/v3" and not r.path.endswith(("/validate", "/preview"))
    ]


def the_flow(name: str) -> Any:
    from airflow_flowservice.kinds import EntityKind

    (flow,) = hook().find_entities_by_name(EntityKind.FLOW, name)
    return hook().get_flow(flow.id)


def test_the_example_built_by_operators(flowservice_emulator: Any, acme_s3: None) -> None:
    emu = flowservice_emulator
    run_dag_file(EXAMPLES / "csv_from_s3.py", dag_id="csv_from_s3", logical_date="2026-01-05")
    # preview first (nothing created), then base, source, target, the mapping set, the flow, and the window's run
    assert [w for w in writes(emu) if w != "POST /runs"] == [
        "POST /connections",
        "POST /sourceConnections",
        "POST /targetConnections",
        f"POST {CONVERSION}/mappingSets",
        "POST /flows",
    ]
    flow = the_flow("ACME customers from S3")
    _, mapping_id, version = flow.mapping
    stored = hook().get_mapping_set(mapping_id, version)
    assert (version, stored.output_schema_id, len(stored.mappings)) == (0, SCHEMA, 5)
    (run,) = hook().list_runs(flow.id)
    assert (run.window(), run.status) == ((JAN_4, JAN_5), "success")
    # the next day's run reuses the dataflow and its mapping set: no second set
    emu.requests.clear()
    run_dag_file(EXAMPLES / "csv_from_s3.py", dag_id="csv_from_s3", logical_date="2026-01-06")
    assert writes(emu) == ["POST /runs"]
    assert the_flow("ACME customers from S3").mapping == (0, mapping_id, 0)


def test_the_example_built_by_its_dataflows_as_code_file(flowservice_emulator: Any, acme_s3: None) -> None:
    from airflow_flowservice.as_code.plan import make_plan
    from airflow_flowservice.as_code.spec_file import load_spec

    dags = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    shutil.copy(EXAMPLES / "csv_from_s3.yaml", dags / "csv_from_s3.yaml")  # the DAG reads the file beside it
    run_dag_file(EXAMPLES / "csv_from_s3.py", dag_id="csv_from_s3_as_code")
    flow = the_flow("ACME customers from S3 (dataflows as code)")
    _, mapping_id, version = flow.mapping
    assert [m.destination for m in hook().get_mapping_set(mapping_id, version).mappings] == [
        "_acme.customerId",
        "person.name.firstName",
        "person.name.lastName",
        "personalEmail.address",
        "_acme.loyalty.tier",
    ]
    assert not make_plan(hook(), load_spec(EXAMPLES / "csv_from_s3.yaml")).has_changes


MOVE_DAG = """
import pendulum
from airflow.sdk import DAG
from airflow_flowservice.operators import FlowServiceCreateMappingSetOperator, FlowServicePreviewMappingOperator

with DAG("move_mapping", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")):
    move = FlowServiceCreateMappingSetOperator(
        task_id="move",
        flow_id="{{ var.value.customers_flow }}",
        output_schema_id="%(schema)s",
        mappings=[
            {"source_type": "ATTRIBUTE", "source": "first_name", "destination": "person.name.firstName"},
            {"source_type": "EXPRESSION", "source": "upper(tier)", "destination": "_acme.loyalty.tier"},
        ],
    )
    FlowServicePreviewMappingOperator(
        task_id="preview",
        mapping_id=move.output["mapping_id"],
        mapping_version=move.output["mapping_version"],
        rows=[{"first_name": "Ada", "tier": "gold"}],
        fail_on_errors=True,
    )
"""


def test_a_flow_moved_to_a_new_version_of_its_mapping(
    flowservice_emulator: Any, acme_s3: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    emu = flowservice_emulator
    run_dag_file(EXAMPLES / "csv_from_s3.py", dag_id="csv_from_s3", logical_date="2026-01-05")
    flow = the_flow("ACME customers from S3")
    monkeypatch.setenv("AIRFLOW_VAR_CUSTOMERS_FLOW", flow.id)
    emu.requests.clear()
    dag_file = tmp_path / "move_mapping.py"
    dag_file.write_text(MOVE_DAG % {"schema": SCHEMA})
    run = run_dag_file(dag_file)
    _, mapping_id, _ = flow.mapping
    assert writes(emu) == [f"PUT {CONVERSION}/mappingSets/{mapping_id}", f"PATCH /flows/{flow.id}"]
    (patch,) = emu.calls(method="PATCH")
    assert patch.body == [
        {
            "op": "replace",
            "path": "/transformations/0",
            "value": {"name": "Mapping", "params": {"mappingId": mapping_id, "mappingVersion": "1"}},
        }
    ]
    assert the_flow("ACME customers from S3").mapping == (0, mapping_id, 1)
    # the preview task read the new version (by the ids the move task pushed) and mapped its row without error
    assert [ti.state for ti in run.get_task_instances() if ti.task_id == "preview"] == ["success"]
    (read,) = [r for r in emu.calls(method="GET", path_prefix=f"{CONVERSION}/mappingSets/") if r.query]
    assert read.query == "version=1"
    (previewed,) = emu.calls(method="POST", path_prefix=f"{CONVERSION}/mappingSets/preview")
    assert [m["source"] for m in previewed.body["mappingSet"]["mappings"]] == ["first_name", "upper(tier)"]
    # run again: the latest version already holds these mappings and the flow uses it: nothing is written
    emu.requests.clear()
    run_dag_file(dag_file)
    assert writes(emu) == []


REFUSED_DAG = """
import json, os
import pendulum
from airflow.sdk import DAG
from airflow_flowservice.operators import FlowServiceCreateDataflowOperator


# Writes its task's error down (Airflow 3.0's failure callbacks do not always get the exception).
class Recorded(FlowServiceCreateDataflowOperator):

    def execute(self, context):
        try:
            return super().execute(context)
        except Exception as exc:
            with open(os.environ["MAPPING_ERRORS"], "a") as out:
                out.write(json.dumps([self.task_id, str(exc)]) + "\\n")
            raise


CONFIG = {
    "source_connection": {"name": "customers.csv", "connection_spec_id": "ecadc60c-7455-4d87-84dc-2a0e293d997b",
                          "data": {"format": "delimited"}, "params": {"path": "/acme/customers.csv"}},
    "target_connection": {"name": "Customers", "connection_spec_id": "c604ff05-7f1a-43c0-8e18-33bf874cb11c",
                          "params": {"dataSetId": "6155e3a9bd13651949515f14"}},
    "mapping": {"output_schema": "%(schema)s", "mappings": [
        {"source_type": "ATTRIBUTE", "source": "first_name", "destination": "person.name.firstName"},
        {"source_type": "ATTRIBUTE", "source": "nick", "destination": "person.name.nickname"},
        {"source_type": "EXPRESSION", "source": "concat(first_name, ", "destination": "person.name.fullName"},
    ]},
    "flow": {"name": "Customers", "flow_spec_name": "CloudStorageToAEP",
             "schedule_params": {"start_time": 1767225600, "frequency": "once"}},
}
GOOD_MAPPING = {"output_schema": "%(schema)s", "mappings": CONFIG["mapping"]["mappings"][:1]}

with DAG("refused", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
         default_args={"retries": 0}):
    Recorded(task_id="bad_mappings", config=CONFIG)
    Recorded(
        task_id="export_spec_by_name",
        config={**CONFIG, "mapping": GOOD_MAPPING,
                "flow": {**CONFIG["flow"], "flow_spec_name": "Amazon S3 Dataset Export"}},
    )
"""


def test_a_dataflow_is_refused_before_anything_is_created(
    flowservice_emulator: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    errors_file = tmp_path / "errors.jsonl"
    monkeypatch.setenv("MAPPING_ERRORS", str(errors_file))
    dag_file = tmp_path / "refused.py"
    dag_file.write_text(REFUSED_DAG % {"schema": SCHEMA})
    with pytest.raises(DagRunFailedError, match="bad_mappings failed, export_spec_by_name failed"):
        run_dag_file(dag_file)
    errors = dict(json.loads(line) for line in errors_file.read_text().splitlines())
    assert errors["bad_mappings"] == (
        "config.mapping.mappings[1] (ATTRIBUTE 'nick' -> person.name.nickname): The destination path "
        f"'person.name.nickname' is not a field of the schema {SCHEMA}; config.mapping.mappings[2] (EXPRESSION "
        "'concat(first_name,' -> person.name.fullName): Invalid expression 'concat(first_name,': expected a value, "
        "found the end of the expression at position 18 (the mapping set does not validate)"
    )
    # the flow spec is found by name, so it is read (the only calls): it lists no Mapping transformation
    assert errors["export_spec_by_name"] == (
        "config.mapping: the flow spec 269ba276-16fc-47db-92b0-c1049a3c131f (Amazon S3 Dataset Export) lists no "
        "Mapping transformation (transformationSpecs), so its flows take no mapping set; remove the mapping, or use "
        "a flow spec that maps data into a dataset (e.g. CloudStorageToAEP)"
    )
    assert writes(flowservice_emulator) == []
