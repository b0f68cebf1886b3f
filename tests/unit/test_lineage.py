"""Lineage: dataset naming, OpenLineage facets of ingest and export operators, and the provider's absence."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from airflow_flowservice import lineage
from airflow_flowservice.hooks.flowservice import FlowServiceHook
from airflow_flowservice.inputs import target_params_model
from airflow_flowservice.lineage import LineageDataset
from airflow_flowservice.operators.dataset_export import FlowServiceDatasetExportOperator
from airflow_flowservice.operators.runs import FlowServiceRetriggerRunOperator, FlowServiceTriggerRunOperator
from airflow_flowservice.specs import DESTINATIONS
from airflow_flowservice.testing.flows import create_table_flow, start_run

ORG = "ACME0123456789@AdobeOrg"
DATASETS = ["5ef3e325582424191b1beb42", "5ef3e3259ad2a1191ab7dd7d"]  # eligible in the emulator (seed 003)

# Per destination: credentials connection, target params, auth spec, expected (namespace, name).
EXPORTS: dict[str, tuple[dict[str, Any] | None, dict[str, Any], str | None, tuple[str, str]]] = {
    "amazon_s3": (
        {"conn_type": "aws", "login": "AKIAEXAMPLE", "password": "s3-secret"},
        {"bucket_name": "aep-exports", "path": "exports/aep"},
        None,
        ("s3://aep-exports", "exports/aep"),
    ),
    "google_cloud_storage": (
        {"conn_type": "generic", "login": "GOOGKEY", "password": "gcs-secret"},
        {"bucket_name": "aep-exports", "path": "exports"},
        None,
        ("gs://aep-exports", "exports"),
    ),
    "azure_blob": (
        {"conn_type": "generic", "password": "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=k"},
        {"container": "aep-exports", "path": "exports/daily"},
        None,
        ("wasbs://aep-exports@acct.blob.core.windows.net", "exports/daily"),
    ),
    "adls_gen2": (
        {
            "conn_type": "generic",
            "login": "sp-id",
            "password": "sp-key",
            "extra": {"url": "https://acct.dfs.core.windows.net", "tenant": "t"},
        },
        {"path": "lake/exports/aep"},
        None,
        ("abfss://lake@acct.dfs.core.windows.net", "exports/aep"),
    ),
    "data_landing_zone": (None, {"path": "exports"}, None, ("aep-dlz://{org}/{sandbox}", "exports")),
    "sftp": (
        {"conn_type": "sftp", "host": "sftp.example.com", "login": "aep", "extra": {"ssh_key": "key"}},
        {"path": "/upload/aep"},
        "SFTP with SSH Key",
        ("sftp://sftp.example.com", "/upload/aep"),
    ),
}


class FakeTI:
    """The parts of a task instance the operators and the lineage methods use."""

    def __init__(self, task_id: str, xcoms: dict[str, Any] | None = None) -> None:
        self.task_id = task_id
        self.xcoms = dict(xcoms or {})

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcoms[key] = value

    def xcom_pull(self, task_ids: str, key: str) -> Any:
        assert task_ids == self.task_id
        return self.xcoms.get(key)


def api_calls(emu: Any, since: int = 0) -> list[tuple[str, str]]:
    """Flow Service requests logged after the first ``since`` ones (token requests left out)."""
    return [(r.method, r.path) for r in emu.calls()[since:] if not r.path.startswith("/ims/")]


def names(datasets: Any) -> list[tuple[str, str]]:
    return [(d.namespace, d.name) for d in datasets]


# -- naming -------------------------------------------------------------------------------------


def test_aep_dataset_naming_and_uri() -> None:
    ds = lineage.aep_dataset(ORG, "dev", "6155e3a9bd13651949515f14")
    assert (ds.namespace, ds.name, ds.kind) == (f"aep://{ORG}/dev", "6155e3a9bd13651949515f14", "aep_dataset")
    assert ds.uri == f"aep://{ORG}/dev/6155e3a9bd13651949515f14"


@pytest.mark.parametrize(
    ("spec", "params", "expected"),
    [
        ("google-big-query", {"tableName": "sales.orders"}, ("aep-source://google-big-query", "sales.orders")),
        ("Mailchimp Campaign", {"campaignId": "c-42"}, ("aep-source://mailchimp-campaign", "c-42")),
        (
            "amazon-s3",
            {"path": "/bucket/in/file.csv", "type": "file"},
            ("aep-source://amazon-s3", "/bucket/in/file.csv"),
        ),
        ("Some REST API", {"region": "eu", "limit": 10}, ("aep-source://some-rest-api", "limit=10&region=eu")),
        ("Some REST API", {}, ("aep-source://some-rest-api", "sourceConnections/sc-1")),
    ],
)
def test_source_naming(spec: str, params: dict[str, Any], expected: tuple[str, str]) -> None:
    ds = lineage.source_dataset(spec, params, "sourceConnections/sc-1")
    assert (ds.namespace, ds.name) == expected
    assert ds.kind == "source"


@pytest.mark.parametrize("key", sorted(EXPORTS))
def test_destination_naming(key: str) -> None:
    conn, target, _, (namespace, name) = EXPORTS[key]
    dest = DESTINATIONS[key]
    params = target_params_model(dest).model_validate(target).to_params()
    auth: dict[str, Any] = {}
    if conn is not None:
        auth = {"connectionString": conn.get("password"), "url": (conn.get("extra") or {}).get("url")}
        auth["domain"] = conn.get("host")
    ds = lineage.destination_dataset(dest, params, auth, ORG, "dev")
    assert (ds.namespace, ds.name) == (namespace.format(org=ORG, sandbox="dev"), name)
    assert ds.uri == f"{ds.namespace}/{name.lstrip('/')}"


def test_destination_naming_without_the_account_or_host() -> None:
    """When the base connection's non-secret facts are unknown, the location keeps what the target knows."""
    blob = DESTINATIONS["azure_blob"]
    assert lineage.destination_dataset(blob, {"container": "c1", "path": "x"}, {}, ORG, "dev").namespace == "wasbs://c1"
    adls = DESTINATIONS["adls_gen2"]
    ds = lineage.destination_dataset(adls, {"path": "fs/a/b"}, {}, ORG, "dev")
    assert (ds.namespace, ds.name) == ("abfss://fs", "a/b")


def test_azure_account_from_connection_string() -> None:
    assert lineage.azure_account("AccountName=a1;AccountKey=k;EndpointSuffix=core.chinacloudapi.cn") == (
        "a1",
        "core.chinacloudapi.cn",
    )
    assert lineage.azure_account("AccountKey=k") is None
    assert lineage.azure_account(None) is None


def test_slug() -> None:
    assert lineage.slug("Google BigQuery") == "google-bigquery"
    assert lineage.slug("  Data Lake (v2) ") == "data-lake-v2"


# -- facets: ingest -------------------------------------------------------------------------------


def test_ingest_facets_from_xcom(flowservice_emulator: Any) -> None:
    hook = FlowServiceHook()
    flow_id = create_table_flow(hook)
    creds = hook.credentials
    mark = len(flowservice_emulator.calls())
    op = FlowServiceTriggerRunOperator(task_id="ingest", flow_id="{{ not rendered }}")
    metrics = {"run_id": "run-1", "flow_id": flow_id, "records_written": 90, "bytes_written": 2048, "files_written": 1}
    result = op.get_openlineage_facets_on_complete(FakeTI("ingest", {"metrics": metrics}))
    assert result is not None
    assert names(result.inputs) == [("aep-source://google-big-query", "sales.orders")]
    assert names(result.outputs) == [(f"aep://{creds.org_id}/{creds.sandbox}", "6155e3a9bd13651949515f14")]
    stats = result.outputs[0].outputFacets["outputStatistics"]
    assert (stats.rowCount, stats.size, stats.fileCount) == (90, 2048, 1)
    query = result.run_facets["externalQuery"]
    assert (query.externalQueryId, query.source) == ("run-1", f"aep://{creds.org_id}/{creds.sandbox}")
    # The flow id came from XCom (the template is never used); reads: flow, source, its spec, target.
    calls = api_calls(flowservice_emulator, mark)
    assert [m for m, _ in calls] == ["GET"] * 4
    assert calls[0] == ("GET", f"/flows/{flow_id}")
    assert any(path.startswith("/connectionSpecs/") for _, path in calls)


def test_ingest_facets_read_the_flow_once(flowservice_emulator: Any) -> None:
    """Starting the run reads no flow; lineage reads it once, then keeps it for the task's life."""
    hook = FlowServiceHook()
    flow_id = create_table_flow(hook)
    op = FlowServiceTriggerRunOperator(
        task_id="ingest",
        flow_id=flow_id,
        window_start=1767225600,
        window_end=1767312000,
        delta_column="updated_at",
        wait_for_completion=False,
    )
    ti = FakeTI("ingest")
    mark = len(flowservice_emulator.calls())
    run_id = op.execute({"ti": ti})  # type: ignore[arg-type]
    assert not any(path.startswith("/flows") for _, path in api_calls(flowservice_emulator, mark))
    mark = len(flowservice_emulator.calls())
    result = op.get_openlineage_facets_on_complete(ti)
    assert result is not None
    assert names(result.outputs)[0][1] == "6155e3a9bd13651949515f14"
    assert "outputStatistics" not in result.outputs[0].outputFacets  # no metrics without waiting
    assert result.run_facets["externalQuery"].externalQueryId == run_id
    assert [path for _, path in api_calls(flowservice_emulator, mark) if path.startswith("/flows")] == [
        f"/flows/{flow_id}"
    ]
    mark = len(flowservice_emulator.calls())
    assert op.get_openlineage_facets_on_complete(ti) is not None
    assert not any(path.startswith("/flows") for _, path in api_calls(flowservice_emulator, mark))


def test_retrigger_operator_finds_the_flow_from_the_run(flowservice_emulator: Any) -> None:
    hook = FlowServiceHook()
    flow_id = create_table_flow(hook)
    run_id, _ = start_run(
        hook, flow_id, 1767225600, 1767312000, start_time=1767225600, delta_column={"name": "updated_at"}
    )
    op = FlowServiceRetriggerRunOperator(task_id="again", run_id=run_id)
    result = op.get_openlineage_facets_on_complete(FakeTI("again", {"run_id": run_id}))
    assert result is not None
    assert names(result.inputs) == [("aep-source://google-big-query", "sales.orders")]


# -- facets: export -------------------------------------------------------------------------------


def _export_op(key: str, monkeypatch: pytest.MonkeyPatch) -> FlowServiceDatasetExportOperator:
    conn, target, auth_spec, _ = EXPORTS[key]
    conn_id = None
    if conn is not None:
        conn_id = f"lineage_{key}"
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
    return FlowServiceDatasetExportOperator(
        task_id="export",
        destination=key,
        dataset_ids=[{"id": DATASETS[1], "name": "b"}, {"id": DATASETS[0], "name": "a"}],
        target=target,
        schedule={"time_unit": "hour", "interval": 6, "start_time": 1767225600},
        name=f"Lineage to {key}",
        destination_conn_id=conn_id,
        auth_spec_name=auth_spec,
    )


@pytest.mark.parametrize("key", sorted(EXPORTS))
def test_export_operator_facets_make_no_api_call(
    key: str, flowservice_emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    op = _export_op(key, monkeypatch)
    creds = FlowServiceHook().credentials
    mark = len(flowservice_emulator.calls())
    result = op.get_openlineage_facets_on_complete(FakeTI("export"))
    assert result is not None
    sandbox_ns = f"aep://{creds.org_id}/{creds.sandbox}"
    assert names(result.inputs) == [(sandbox_ns, DATASETS[0]), (sandbox_ns, DATASETS[1])]
    namespace, name = EXPORTS[key][3]
    assert names(result.outputs) == [(namespace.format(org=creds.org_id, sandbox=creds.sandbox), name)]
    assert api_calls(flowservice_emulator, mark) == []


@pytest.mark.parametrize("key", ["amazon_s3", "sftp", "adls_gen2", "data_landing_zone"])
def test_run_operator_on_an_export_flow(key: str, flowservice_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The run operator's lineage of an export flow names what the export operator's does."""
    export = _export_op(key, monkeypatch)
    ids = export.execute({"ti": FakeTI("export")})  # type: ignore[arg-type]
    expected = export.get_openlineage_facets_on_complete(FakeTI("export"))
    assert expected is not None
    mark = len(flowservice_emulator.calls())
    op = FlowServiceTriggerRunOperator(task_id="run", flow_id=str(ids["flow_id"]))
    result = op.get_openlineage_facets_on_complete(FakeTI("run", {"run_id": "r-1"}))
    assert result is not None
    assert names(result.inputs) == names(expected.inputs)
    assert names(result.outputs) == names(expected.outputs)
    # flow + source + target (+ the base connection where the host/account lives); no spec read.
    reads = api_calls(flowservice_emulator, mark)
    assert len(reads) == (4 if key in lineage.NEEDS_BASE_AUTH else 3)
    assert not any(path.startswith("/connectionSpecs") for _, path in reads)


# -- absence of the provider -----------------------------------------------------------------------


# The provider's package stays importable (Airflow's providers manager loads its provider info from
# the installed distribution's entry point); what our code imports from it, and the client, do not.
BLOCKED = ("airflow.providers.openlineage.extractors", "openlineage")


@pytest.fixture
def without_openlineage(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every import of the OpenLineage provider's extractors and of its client fail, as when not installed."""
    for name in list(sys.modules):
        if name.startswith(BLOCKED):
            monkeypatch.delitem(sys.modules, name)
    for name in BLOCKED:
        monkeypatch.setitem(sys.modules, name, None)


def test_methods_return_none_without_the_provider(without_openlineage: None, monkeypatch: pytest.MonkeyPatch) -> None:
    assert lineage.openlineage_available() is False
    assert (
        lineage.to_operator_lineage(lineage.FlowLineage(outputs=[LineageDataset("s3://b", "k", "destination")])) is None
    )
    run_op = FlowServiceTriggerRunOperator(task_id="run", flow_id="f")
    assert run_op.get_openlineage_facets_on_complete(FakeTI("run")) is None
    assert _export_op("amazon_s3", monkeypatch).get_openlineage_facets_on_complete(FakeTI("export")) is None


def test_operators_import_without_the_provider(tmp_path: Any) -> None:
    """A fresh interpreter where the provider cannot be imported still imports and builds the operators."""
    code = (
        "import sys\n"
        f"for name in {BLOCKED!r}:\n"
        "    sys.modules[name] = None\n"
        "from airflow_flowservice.operators.runs import FlowServiceTriggerRunOperator\n"
        "from airflow_flowservice.operators.dataset_export import FlowServiceDatasetExportOperator\n"
        "op = FlowServiceTriggerRunOperator(task_id='t', flow_id='f', asset_alias='aep')\n"
        "assert op.get_openlineage_facets_on_complete(None) is None\n"
        "assert not any(m.startswith(('openlineage', 'airflow.providers.openlineage.extractors')) and sys.modules[m]"
        " for m in sys.modules)\n"
        "print('ok', [type(o).__name__ for o in op.outlets])\n"
    )
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "ok ['AssetAlias']"
