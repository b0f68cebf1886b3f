"""Entity operators through Airflow (``dag.test()``) against the Flow Service emulator.

Drafts created with ``mode=draft``; publish order in the request log; a 5xx on the flow publish then a
re-run that finishes without duplicates; ``if_exists`` both ways; a 412; every validation error,
each with its exact message and no (or no writing) call to the service.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pendulum
import pytest

from airflow_flowservice.dataflows.catalog import clear_spec_cache
from airflow_flowservice.hooks.flowservice import FlowServiceHook
from airflow_flowservice.models import EntityKind
from airflow_flowservice.testing import FlowServiceEmulator

pytestmark = pytest.mark.integration

S3 = "ecadc60c-7455-4d87-84dc-2a0e293d997b"
AZURE = "be5ec48c-5b78-49d5-b8fa-7c89ec4569b8"
DATA_LAKE = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"
MAILCHIMP = "c8ce8c8c-37fb-4162-9fbf-c2f181e04a7a"
DLZ = "10440537-2a7b-4583-ac39-ed38d4b848e8"
UNKNOWN_SPEC = "00000000-1111-2222-3333-444444444444"
KINDS = ("connections", "sourceConnections", "targetConnections", "flows")


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[FlowServiceEmulator]:
    """A started emulator wired to ``flowservice_default``; specs are read afresh (counts are exact)."""
    clear_spec_cache()
    emu = FlowServiceEmulator(run_timeline=(0.2, 0.5))
    emu.start()
    for key, value in emu.connection_env().items():
        monkeypatch.setenv(key, value)
    try:
        yield emu
    finally:
        emu.stop()


def run(dag: Any, day: int = 1) -> Any:
    return dag.test(logical_date=pendulum.datetime(2024, 1, day, tz="UTC"))


def states(dagrun: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dagrun.get_task_instances()}


def log_lines(emu: FlowServiceEmulator) -> list[str]:
    """The request log as ``METHOD path[?query]`` lines, a space in the query written ``+`` (as httpx >= 0.28
    writes it; 0.27, our floor, writes ``%20``: the same to a server)."""
    return [f"{r.method} {r.path}" + (f"?{r.query.replace('%20', '+')}" if r.query else "") for r in emu.requests]


def with_placeholders(lines: list[str], base: Any, source: Any, target: Any, flow: Any) -> list[str]:
    """Request log lines with the dataflow's ids shown as ``{B}``, ``{S}``, ``{T}`` and ``{F}``."""
    for letter, entity in {"B": base, "S": source, "T": target, "F": flow}.items():
        lines = [line.replace(entity.id, f"{{{letter}}}") for line in lines]
    return lines


def entities_of(kind: str) -> list[Any]:
    return list(FlowServiceHook().iter_entities(EntityKind(kind)))


def failures(capsys: pytest.CaptureFixture[str]) -> list[str]:
    """``ExceptionClass: message`` lines the failed tasks logged.

    Airflow 3.1+ logs ``airflow_flowservice.exceptions.X: message``; 3.0's rich tracebacks end with the
    bare ``X: message`` (one line: see :func:`unwrapped_tracebacks`).
    """
    out = capsys.readouterr()
    lines = (out.out + out.err).splitlines()
    qualified = [
        line.removeprefix("airflow_flowservice.exceptions.")
        for line in lines
        if line.startswith("airflow_flowservice.exceptions.")
    ]
    return qualified or [line for line in lines if re.match(r"FlowService\w*Error: ", line)]


@pytest.fixture(autouse=True)
def unwrapped_tracebacks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Airflow 3.0 renders task tracebacks with rich, which wraps them at the console width (80 columns
    when the output is not a terminal); rich reads ``COLUMNS``, so a wide one keeps each message on one
    line. Later lines print plain tracebacks and ignore it."""
    monkeypatch.setenv("COLUMNS", "10000")


# -- the example DAG: drafts, inspect, publish ----------------------------------------------------------


def test_example_dag_creates_drafts_and_publishes_in_dependency_order(
    load_dag: Callable[..., Any], emulator: FlowServiceEmulator
) -> None:
    dag = load_dag("draft_and_publish", example="draft_and_publish.py")
    dagrun = run(dag)
    assert states(dagrun) == dict.fromkeys(("create_drafts", "inspect", "publish", "report_ids"), "success")
    requests = list(emulator.requests)
    lines = log_lines(emulator)

    creates = [r for r in requests if r.method == "POST" and r.path.lstrip("/") in KINDS]
    assert [(r.path, r.query, r.status) for r in creates] == [(f"/{kind}", "mode=draft", 201) for kind in KINDS]
    base, source, target, flow = (entities_of(kind)[0] for kind in KINDS)
    assert creates[1].body["baseConnectionId"] == base.id
    assert creates[3].body["sourceConnectionIds"] == [source.id]
    assert creates[3].body["targetConnectionIds"] == [target.id]
    assert creates[3].body["flowSpec"]["id"] == "9753525b-82c7-4dce-8a9b-5ccfce2b9876"

    publishes = [line for line in lines if line.endswith("/action?op=publish")]
    assert publishes == [
        f"POST /connections/{base.id}/action?op=publish",
        f"POST /sourceConnections/{source.id}/action?op=publish",
        f"POST /targetConnections/{target.id}/action?op=publish",
        f"POST /flows/{flow.id}/action?op=publish",
    ]
    assert [e.state for e in (base, source, target, flow)] == ["enabled"] * 4

    # The whole run: 1 token + 8 writes of the chain (4 creates, 4 publishes) + the reads around them.
    assert with_placeholders(lines, base, source, target, flow) == [
        "POST /ims/token/v3",
        # create_drafts: every spec check before the first create (draft support, auth)
        f"GET /connectionSpecs/{S3}",
        f"GET /connectionSpecs/{DATA_LAKE}",
        "GET /flowSpecs?property=name%3D%3D%22CloudStorageToAEP%22",
        # create_drafts: an if_exists lookup for the roots (base, target), then the creates; the source
        # (on the new base) and the flow (on the new connections) cannot exist yet, so are not looked up
        "GET /connections?property=name%3D%3D%22ACME+S3+base+connection%22",
        "POST /connections?mode=draft",
        "POST /sourceConnections?mode=draft",
        "GET /targetConnections?property=name%3D%3D%22ACME+S3+target+connection%22",
        "POST /targetConnections?mode=draft",
        "POST /flows?mode=draft",
        # inspect (the example's own reads)
        "GET /connections/{B}",
        "GET /sourceConnections/{S}",
        "GET /targetConnections/{T}",
        "GET /flows/{F}",
        # publish: read the states, then publish in order
        "GET /flows/{F}",
        "GET /sourceConnections/{S}",
        "GET /targetConnections/{T}",
        "GET /connections/{B}",
        "POST /connections/{B}/action?op=publish",
        "POST /sourceConnections/{S}/action?op=publish",
        "POST /targetConnections/{T}/action?op=publish",
        "POST /flows/{F}/action?op=publish",
    ]


def test_rerun_after_a_failed_flow_publish_finishes_without_duplicates(
    load_dag: Callable[..., Any], emulator: FlowServiceEmulator
) -> None:
    emulator.faults.add(method="POST", path="/flows/*/action", kind="status", status=503, times=1)
    dag = load_dag("draft_and_publish", example="draft_and_publish.py")
    first = run(dag, day=1)
    assert states(first)["publish"] == "failed"
    assert {kind: [e.state for e in entities_of(kind)] for kind in KINDS} == {
        "connections": ["enabled"],
        "sourceConnections": ["enabled"],
        "targetConnections": ["enabled"],
        "flows": ["draft"],
    }

    emulator.requests.clear()
    second = run(dag, day=2)
    assert states(second) == dict.fromkeys(("create_drafts", "inspect", "publish", "report_ids"), "success")
    assert {kind: len(entities_of(kind)) for kind in KINDS} == dict.fromkeys(KINDS, 1)
    writes = [line for line in log_lines(emulator) if line.startswith(("POST /c", "POST /s", "POST /t", "POST /f"))]
    (flow,) = entities_of("flows")
    assert writes == [f"POST /flows/{flow.id}/action?op=publish"]
    assert flow.state == "enabled"


# -- if_exists ---------------------------------------------------------------------------------------------

IF_EXISTS_DAG = f"""
import pendulum
from airflow.sdk import DAG
from airflow_flowservice.operators import FlowServiceCreateTargetConnectionOperator as Target

with DAG("if_exists_dag", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC")):
    common = dict(name="Accounts dataset", connection_params={{"dataSetId": "5ef3e324052581191aa6a466"}})
    first = Target(task_id="first", connection_spec_id="{DATA_LAKE}", **common)
    again = Target(task_id="again", connection_spec_id="{DATA_LAKE}", if_exists="reuse", **common)
    strict = Target(task_id="strict", connection_spec_id="{DATA_LAKE}", if_exists="fail", **common)
    clash = Target(task_id="clash", connection_spec_id="{DLZ}", **common)
    first >> again >> [strict, clash]
"""


def test_if_exists_reuse_and_fail(
    load_dag: Callable[..., Any], emulator: FlowServiceEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    dagrun = run(load_dag("if_exists_dag", source=IF_EXISTS_DAG))
    assert states(dagrun) == {"first": "success", "again": "success", "strict": "failed", "clash": "failed"}
    (target,) = entities_of("targetConnections")
    first, again = (dagrun.get_task_instance(t) for t in ("first", "again"))
    assert first.xcom_pull(task_ids="first") == again.xcom_pull(task_ids="again") == target.id
    assert again.xcom_pull(task_ids="again", key="created") is False
    assert len(emulator.calls("POST", "/targetConnections")) == 1
    assert sorted(failures(capsys)) == [
        f"FlowServiceEntityExistsError: a target connection named 'Accounts dataset' already exists (id "
        f"{target.id}) and if_exists='fail'; choose another name, delete it, or use if_exists='reuse'",
        f"FlowServiceEntityExistsError: a target connection named 'Accounts dataset' already exists but cannot be "
        f"reused (id {target.id}: connectionSpec.id is {DATA_LAKE}, wanted {DLZ}); choose another name or delete "
        "the existing one",
    ]


# -- update: 412 ---------------------------------------------------------------------------------------------

UPDATE_DAG = f"""
import pendulum
from airflow.sdk import DAG
from airflow_flowservice.operators import FlowServiceCreateTargetConnectionOperator, FlowServiceUpdateOperator

with DAG("update_dag", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC")):
    create = FlowServiceCreateTargetConnectionOperator(
        task_id="create", name="Orders dataset", connection_spec_id="{DATA_LAKE}",
        description="v1", connection_params={{"dataSetId": "5ef3e3259ad2a1191ab7dd7d"}},
    )
    bump = FlowServiceUpdateOperator(
        task_id="bump", kind="targetConnections", entity_id=create.output,
        ops=[{{"op": "replace", "path": "/description", "value": "changed elsewhere"}}],
    )
    stale = FlowServiceUpdateOperator(
        task_id="stale", kind="targetConnections", entity_id=create.output, etag=create.output["etag"],
        ops=[{{"op": "replace", "path": "/description", "value": "v2"}}],
    )
    create >> bump >> stale
"""


def test_update_with_a_stale_etag_gets_412_and_reports_the_change(
    load_dag: Callable[..., Any], emulator: FlowServiceEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    dagrun = run(load_dag("update_dag", source=UPDATE_DAG))
    assert states(dagrun) == {"create": "success", "bump": "success", "stale": "failed"}
    (target,) = entities_of("targetConnections")
    assert target.description == "changed elsewhere"
    patches = emulator.calls("PATCH")
    assert [r.status for r in patches] == [200, 412]
    pulled_etag = dagrun.get_task_instance("create").xcom_pull(task_ids="create", key="etag")
    # Airflow's XCom round trip may hand the etag back without its double quotes; If-Match re-quotes it.
    created_etag = '"' + pulled_etag.strip('"') + '"'
    expected = (
        f"FlowServiceConflictError: PATCH /targetConnections/{target.id} HTTP 412 [1404-412]: target connection "
        f"{target.id} changed since etag {created_etag} (now {target.etag}, updated by emulator-client@AdobeID): "
        "/description is now 'changed elsewhere'. Nothing was written: re-read it and re-apply the ops if still "
        "wanted (request id "
    )
    *cause, reported = failures(capsys)
    assert reported.startswith(expected), f"\n{reported}\n{expected}"
    assert cause and "does not match the current version" in cause[-1]


# -- publish a whole dataflow from its ids: one call per part ------------------------------------------------

CHAIN_DAG = f"""
import pendulum
from airflow.sdk import DAG
from airflow_flowservice.operators import FlowServiceCreateDataflowOperator, FlowServicePublishOperator

with DAG("chain_dag", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC")):
    create = FlowServiceCreateDataflowOperator(
        task_id="create",
        draft=True,
        config={{
            "base_connection": {{"name": "Chain base", "connection_spec_id": "{S3}", "auth_spec_name": "Assume Role",
                                 "auth_params": {{"roleArn": "arn:aws:iam::123456789012:role/aep"}}}},
            "source_connection": {{"name": "Chain source", "connection_spec_id": "{S3}",
                                   "data": {{"format": "delimited"}},
                                   "params": {{"path": "/b/a.csv", "type": "file"}}}},
            "target_connection": {{"name": "Chain target", "connection_spec_id": "{DATA_LAKE}",
                                   "params": {{"dataSetId": "5ef3e324052581191aa6a466"}}}},
            "flow": {{"name": "Chain flow", "flow_spec_name": "CloudStorageToAEP",
                      "schedule_params": {{"start_time": 1704067200, "frequency": "once"}}}},
        }},
    )
    publish = FlowServicePublishOperator(task_id="publish", dataflow_ids=create.output)
    create >> publish
"""


def test_publishing_a_new_dataflow_from_its_ids_costs_one_call_per_part(
    load_dag: Callable[..., Any], emulator: FlowServiceEmulator
) -> None:
    dagrun = run(load_dag("chain_dag", source=CHAIN_DAG))
    assert states(dagrun) == {"create": "success", "publish": "success"}
    base, source, target, flow = (entities_of(kind)[0] for kind in KINDS)
    lines = log_lines(emulator)[:-4]  # the last 4 lines are the reads of entities_of() above
    assert with_placeholders(lines, base, source, target, flow) == [
        "POST /ims/token/v3",
        f"GET /connectionSpecs/{S3}",
        f"GET /connectionSpecs/{DATA_LAKE}",
        "GET /flowSpecs?property=name%3D%3D%22CloudStorageToAEP%22",
        "GET /connections?property=name%3D%3D%22Chain+base%22",
        "POST /connections?mode=draft",
        "POST /sourceConnections?mode=draft",
        "GET /targetConnections?property=name%3D%3D%22Chain+target%22",
        "POST /targetConnections?mode=draft",
        "POST /flows?mode=draft",
        "POST /connections/{B}/action?op=publish",
        "POST /sourceConnections/{S}/action?op=publish",
        "POST /targetConnections/{T}/action?op=publish",
        "POST /flows/{F}/action?op=publish",
    ]
    assert [e.state for e in (base, source, target, flow)] == ["enabled"] * 4
    published = dagrun.get_task_instance("publish").xcom_pull(task_ids="publish")
    assert published["published"] == [base.id, source.id, target.id, flow.id]


def test_a_refused_publish_is_read_back_skipped_if_published_and_reported_if_still_a_draft(
    load_dag: Callable[..., Any], emulator: FlowServiceEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    dag = load_dag("chain_dag", source=CHAIN_DAG)
    # First run: the target connection's publish is refused while it is still a draft.
    emulator.faults.add(method="POST", path="/targetConnections/*/action", kind="status", status=400, times=1)
    first = run(dag, day=1)
    assert states(first) == {"create": "success", "publish": "failed"}
    base, source, target, flow = (entities_of(kind)[0] for kind in KINDS)
    assert [e.state for e in (base, source, target, flow)] == ["enabled", "enabled", "draft", "draft"]
    *_cause, reported = [line for line in failures(capsys) if line.startswith("FlowServiceBadRequestError")]
    assert reported.startswith(f"FlowServiceBadRequestError: POST /targetConnections/{target.id}/action HTTP 400")
    assert f"(published before it: {base.id}, {source.id}) (request id " in reported, reported

    # Second run: the base connection's publish is refused, but it is published: read back and skipped.
    emulator.faults.add(method="POST", path="/connections/*/action", kind="status", status=400, times=1)
    emulator.requests.clear()
    second = run(dag, day=2)
    assert states(second) == {"create": "success", "publish": "success"}
    assert {kind: len(entities_of(kind)) for kind in KINDS} == dict.fromkeys(KINDS, 1)
    assert [e.state for e in (entities_of(kind)[0] for kind in KINDS)] == ["enabled"] * 4
    published = second.get_task_instance("publish").xcom_pull(task_ids="publish")
    assert published["already_published"] == [base.id]
    assert published["published"] == [source.id, target.id, flow.id]
    assert f"GET /connections/{base.id}" in log_lines(emulator)
