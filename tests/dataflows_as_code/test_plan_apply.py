"""export -> plan -> apply against the emulator, through the ``flowservice`` console script and the layer below it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from airflow_flowservice.as_code.apply import apply_plan
from airflow_flowservice.as_code.plan import make_plan
from airflow_flowservice.as_code.spec_file import load_spec
from airflow_flowservice.cli import main
from airflow_flowservice.exceptions import FlowServiceConfigError, FlowServiceError, FlowServicePlanStaleError
from airflow_flowservice.models import EntityKind

from .conftest import EXAMPLE_FILE, MAILCHIMP_CONN, S3_CONN

pytestmark = pytest.mark.integration

S3_SOURCE = "ecadc60c-7455-4d87-84dc-2a0e293d997b"
CLOUD_STORAGE_TO_AEP = "9753525b-82c7-4dce-8a9b-5ccfce2b9876"


def write(tmp_path: Path, spec: dict[str, Any], name: str = "dataflows.yaml") -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return str(path)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def apply_file(spec: Any, hook: Any, prune: bool = False) -> Any:
    loaded = load_spec(spec)
    return apply_plan(hook, loaded, make_plan(hook, loaded, prune=prune))


def test_export_plan_delete_apply_plan(dac: Any, hook: Any, tmp_path: Path, capsys: Any) -> None:
    code, out, _ = run(capsys, "apply", str(EXAMPLE_FILE), "--auto-approve")
    assert code == 0, out
    assert "8 to create" in out
    flows = {f.name: f.id for f in hook.iter_entities(EntityKind.FLOW)}
    exported = tmp_path / "exported.yaml"
    argv = ["export", "-o", str(exported)]
    for flow_id in flows.values():
        argv += ["--flow-id", flow_id]
    argv += ["--credentials-conn-id", "Mailchimp account (dataflows as code)=mailchimp"]
    assert run(capsys, *argv)[0] == 0
    text = exported.read_text()
    for secret in (MAILCHIMP_CONN["password"], S3_CONN["password"]):
        assert secret not in text
    data = yaml.safe_load(text)
    bases = {d["base_connection"]["name"]: d["base_connection"]["credentials"] for d in data["dataflows"]}
    assert bases["Mailchimp account (dataflows as code)"]["conn_id"] == "mailchimp"
    assert bases["AEP datasets to Amazon S3 account (dataflows as code)"]["fields"] == {
        "s3AccessKey": "login",
        "s3SecretKey": "password",
    }

    code, out, err = run(capsys, "plan", str(exported), "--detailed-exitcode")
    assert code == 0, out + err
    assert "No changes" in out

    mailchimp = flows["Mailchimp campaign dataflow (dataflows as code)"]
    hook.delete_entity(EntityKind.FLOW, mailchimp)
    code, out, _ = run(capsys, "plan", str(exported), "--detailed-exitcode")
    assert code == 2, out
    assert "create    Mailchimp campaign dataflow (dataflows as code).flow" in out
    assert "1 to create, 0 to update" in out

    code, out, _ = run(capsys, "apply", str(exported), "--auto-approve")
    assert code == 0, out
    assert run(capsys, "plan", str(exported), "--detailed-exitcode")[0] == 0
    # the flow was created once again, linked to the connections that were still there
    (new,) = hook.find_entities_by_name(EntityKind.FLOW, "Mailchimp campaign dataflow (dataflows as code)")
    assert new.id != mailchimp
    (source,) = hook.find_entities_by_name(
        EntityKind.SOURCE_CONNECTION, "Mailchimp campaign c66a200cda (dataflows as code)"
    )
    assert new.source_connection_ids == [source.id]


def test_second_apply_changes_nothing(dac: Any, tmp_path: Path, capsys: Any) -> None:
    assert run(capsys, "apply", str(EXAMPLE_FILE), "--auto-approve")[0] == 0
    writes = len([r for r in dac.requests if r.method in ("POST", "PATCH", "DELETE") and r.path != "/ims/token/v3"])
    code, out, _ = run(capsys, "apply", str(EXAMPLE_FILE), "--auto-approve")
    assert code == 0
    assert "No changes" in out
    after = len([r for r in dac.requests if r.method in ("POST", "PATCH", "DELETE") and r.path != "/ims/token/v3"])
    assert after == writes


def test_update_is_a_json_patch_with_if_match(
    dac: Any, hook: Any, example_spec: dict[str, Any], capsys: Any, tmp_path: Path
) -> None:
    apply_file(example_spec, hook)
    before = {f.name: f for f in hook.iter_entities(EntityKind.FLOW)}
    flow = example_spec["dataflows"][0]["flow"]
    flow["schedule_params"]["interval"] = 30
    flow["description"] = "every half hour"
    example_spec["dataflows"][0]["target_connection"]["params"]["dataSetId"] = "6155e3a9bd13651949515f15"
    path = write(tmp_path, example_spec)
    code, out, _ = run(capsys, "plan", path, "--detailed-exitcode", "--json")
    assert code == 2
    import json

    changes = {(c["dataflow"], c["part"]): c for c in json.loads(out)["changes"]}
    flow_change = changes[("mailchimp-campaign", "flow")]
    assert flow_change["action"] == "update"
    assert flow_change["etag"] == before[flow["name"]].etag
    assert flow_change["ops"] == [
        {"op": "replace", "path": "/description", "value": "every half hour"},
        {"op": "replace", "path": "/scheduleParams/interval", "value": 30},
    ]
    target = changes[("mailchimp-campaign", "target_connection")]
    assert target["ops"] == [{"op": "replace", "path": "/params/dataSetId", "value": "6155e3a9bd13651949515f15"}]
    assert {c["action"] for k, c in changes.items() if k[1] not in ("flow", "target_connection")} == {"unchanged"}

    assert run(capsys, "apply", path, "--auto-approve")[0] == 0
    patches = dac.calls(method="PATCH")
    assert len(patches) == 2
    flow_patch = next(p for p in patches if p.path.startswith("/flows/"))
    assert flow_patch.body == flow_change["ops"]  # sent with If-Match: the emulator answers 412 to a stale one
    assert hook.get_entity(EntityKind.FLOW, flow_change["id"]).schedule_params.interval == 30
    assert run(capsys, "plan", path, "--detailed-exitcode")[0] == 0


def test_replace_where_a_field_cannot_be_patched(
    dac: Any, hook: Any, example_spec: dict[str, Any], capsys: Any, tmp_path: Path
) -> None:
    result = apply_file(example_spec, hook)
    old = result.ids["mailchimp-campaign"]
    base = example_spec["dataflows"][0]["base_connection"]
    base["auth_spec_name"] = "oAuth2RefreshCode"
    base["credentials"] = {"conn_id": "mailchimp", "fields": {"accessToken": "password"}}
    path = write(tmp_path, example_spec)
    code, out, _ = run(capsys, "plan", path, "--detailed-exitcode")
    assert code == 2
    # the base connection cannot be patched to another auth spec; what links to it is replaced with it
    assert "replace   mailchimp-campaign.base_connection" in out
    assert "auth.specName is 'Basic Authentication', wanted 'oAuth2RefreshCode'" in out
    assert "replace   mailchimp-campaign.source_connection" in out
    assert "replace   mailchimp-campaign.flow" in out
    assert "unchanged mailchimp-campaign.target_connection" in out
    assert "3 to replace" in out

    assert run(capsys, "apply", path, "--auto-approve")[0] == 0
    deletes = [r.path for r in dac.calls(method="DELETE")]
    assert deletes == [
        f"/flows/{old['flow_id']}",
        f"/sourceConnections/{old['source_connection_id']}",
        f"/connections/{old['base_connection_id']}",
    ]
    (base_now,) = hook.find_entities_by_name(EntityKind.BASE_CONNECTION, base["name"])
    assert base_now.auth["specName"] == "oAuth2RefreshCode"
    assert run(capsys, "plan", path, "--detailed-exitcode")[0] == 0


def test_prune_deletes_flows_not_in_the_file(
    dac: Any, hook: Any, example_spec: dict[str, Any], capsys: Any, tmp_path: Path
) -> None:
    result = apply_file(example_spec, hook)
    s3 = result.ids["datasets-to-s3"]
    example_spec["dataflows"] = example_spec["dataflows"][:1]
    path = write(tmp_path, example_spec)
    code, out, _ = run(capsys, "plan", path, "--detailed-exitcode")
    assert code == 0 and "No changes" in out  # without --prune, other flows are not the file's business
    code, out, _ = run(capsys, "plan", path, "--detailed-exitcode", "--prune")
    assert code == 2
    assert "4 to delete" in out
    assert run(capsys, "apply", path, "--auto-approve", "--prune")[0] == 0
    deletes = [r.path for r in dac.calls(method="DELETE")]
    assert deletes == [
        f"/flows/{s3['flow_id']}",
        f"/sourceConnections/{s3['source_connection_id']}",
        f"/targetConnections/{s3['target_connection_id']}",
        f"/connections/{s3['base_connection_id']}",
    ]
    assert run(capsys, "plan", path, "--detailed-exitcode", "--prune")[0] == 0


def _draft_spec() -> dict[str, Any]:
    return {
        "version": 1,
        "dataflows": [
            {
                "name": "s3-csv",
                "draft": True,
                "base_connection": {
                    "name": "S3 account (dac)",
                    "connection_spec_id": S3_SOURCE,
                    "auth_spec_name": "Access Key",
                    "credentials": {
                        "conn_id": "aep_export_s3",
                        "fields": {"s3AccessKey": "login", "s3SecretKey": "password"},
                    },
                },
                "source_connection": {
                    "name": "S3 csv (dac)",
                    "connection_spec_id": S3_SOURCE,
                    "data": {"format": "delimited"},
                    "params": {"path": "/bucket/data.csv"},
                },
                "target_connection": {
                    "name": "S3 csv dataset (dac)",
                    "connection_spec_id": "c604ff05-7f1a-43c0-8e18-33bf874cb11c",
                    "data": {
                        "schema": {
                            "id": "https://ns.adobe.com/tenant/schemas/abc",
                            "version": "application/vnd.adobe.xed-full+json;version=1",
                        }
                    },
                    "params": {"dataSetId": "6155e3a9bd13651949515f14"},
                },
                "flow": {
                    "name": "S3 csv flow (dac)",
                    "flow_spec_id": CLOUD_STORAGE_TO_AEP,
                    "schedule_params": {"start_time": 1893456000, "frequency": "hour", "interval": 1},
                },
            }
        ],
    }


def test_drafts_then_publish(dac: Any, hook: Any, capsys: Any, tmp_path: Path) -> None:
    spec = _draft_spec()
    result = apply_file(spec, hook)
    ids = result.ids["s3-csv"]
    for key, kind in (("base_connection_id", EntityKind.BASE_CONNECTION), ("flow_id", EntityKind.FLOW)):
        assert hook.get_entity(kind, ids[key]).is_draft
    assert all(
        "?mode=draft" in f"?{r.query}" or r.query == "mode=draft"
        for r in dac.calls(method="POST")
        if r.path != "/ims/token/v3"
    )
    path = write(tmp_path, spec)
    assert run(capsys, "plan", path, "--detailed-exitcode")[0] == 0

    spec["dataflows"][0]["draft"] = False
    spec["dataflows"][0]["flow"]["schedule_params"]["interval"] = 2
    path = write(tmp_path, spec)
    code, out, _ = run(capsys, "plan", path, "--detailed-exitcode")
    assert code == 2
    assert "publish   s3-csv.base_connection" in out
    assert "update    s3-csv.flow" in out  # patched while a draft, then published
    code, out, _ = run(capsys, "apply", path, "--auto-approve")
    assert code == 0, out
    actions = [
        r for r in dac.requests if r.method in ("PATCH", "POST") and (r.method == "PATCH" or r.path.endswith("/action"))
    ]
    assert actions[0].method == "PATCH"
    assert [r.path.split("/")[1] for r in actions[1:]] == [
        "connections",
        "sourceConnections",
        "targetConnections",
        "flows",
    ]
    for key, kind in (("base_connection_id", EntityKind.BASE_CONNECTION), ("flow_id", EntityKind.FLOW)):
        assert not hook.get_entity(kind, ids[key]).is_draft
    assert run(capsys, "plan", path, "--detailed-exitcode")[0] == 0

    # a live dataflow cannot go back to being a draft: replaced
    spec["dataflows"][0]["draft"] = True
    code, out, _ = run(capsys, "plan", write(tmp_path, spec), "--detailed-exitcode")
    assert code == 2 and "it is live and the file wants a draft" in out


def test_412_stops_with_plan_again(dac: Any, hook: Any, example_spec: dict[str, Any]) -> None:
    result = apply_file(example_spec, hook)
    example_spec["dataflows"][0]["flow"]["schedule_params"]["interval"] = 30
    spec = load_spec(example_spec)
    plan = make_plan(hook, spec)
    flow_id = result.ids["mailchimp-campaign"]["flow_id"]
    current = hook.get_entity(EntityKind.FLOW, flow_id)
    hook.patch_entity(
        EntityKind.FLOW,
        flow_id,
        [{"op": "replace", "path": "/description", "value": "edited in the UI"}],
        str(current.etag),
    )
    with pytest.raises(FlowServicePlanStaleError, match="changed since plan, plan again") as info:
        apply_plan(hook, spec, plan)
    assert info.value.status == 412
    replan = make_plan(hook, spec)
    (flow_change,) = [c for c in replan.changes if c.part == "flow" and c.dataflow == "mailchimp-campaign"]
    assert {"op": "remove", "path": "/description"} in flow_change.ops
    apply_plan(hook, spec, replan)
    assert not make_plan(hook, spec).has_changes


def test_failure_mid_apply_reports_and_rerun_converges(dac: Any, hook: Any, capsys: Any) -> None:
    dac.faults.add("POST", "/flows", "status", status=400, times=1)
    code, out, err = run(capsys, "apply", str(EXAMPLE_FILE), "--auto-approve")
    assert code == 1
    assert "applied before the failure: created mailchimp-campaign.base_connection" in err
    assert "created mailchimp-campaign.target_connection" in err
    assert "run plan and apply again" in err
    code, out, _ = run(capsys, "plan", str(EXAMPLE_FILE), "--detailed-exitcode")
    assert code == 2
    assert "unchanged mailchimp-campaign.source_connection" in out  # left over, found by name
    assert "5 to create" in out
    assert run(capsys, "apply", str(EXAMPLE_FILE), "--auto-approve")[0] == 0
    assert run(capsys, "plan", str(EXAMPLE_FILE), "--detailed-exitcode")[0] == 0
    assert len(list(hook.iter_entities(EntityKind.SOURCE_CONNECTION))) == 2


def test_errors_name_the_file_the_path_and_the_field(tmp_path: Path, example_spec: dict[str, Any], capsys: Any) -> None:
    example_spec["dataflows"][1]["flow"]["schedule_params"]["interval"] = 5
    path = write(tmp_path, example_spec)
    code, _, err = run(capsys, "plan", path)
    assert code == 1
    assert f"{path}: dataflows[1].flow.schedule_params.interval: 5 is not an export interval" in err

    example_spec = yaml.safe_load(EXAMPLE_FILE.read_text())
    example_spec["dataflows"][0]["base_connection"]["auth_params"] = {"password": "hunter22"}
    with pytest.raises(FlowServiceConfigError) as info:
        load_spec(example_spec)
    assert "dataflows[0].base_connection.auth_params: secrets never go in the file" in str(info.value)
    assert "hunter22" not in str(info.value)

    del example_spec["dataflows"][0]["base_connection"]["auth_params"]
    example_spec["dataflows"][0]["flow"]["flow_spec"] = "x"
    with pytest.raises(FlowServiceConfigError, match=r"dataflows\[0\]\.flow\.flow_spec: unknown field"):
        load_spec(example_spec)

    bad = tmp_path / "bad.yaml"
    bad.write_text("dataflows: [\n")
    assert run(capsys, "plan", str(bad))[0] == 1


def test_apply_without_a_terminal_needs_auto_approve(dac: Any, capsys: Any, monkeypatch: Any) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    code, _, err = run(capsys, "apply", str(EXAMPLE_FILE))
    assert code == 1 and "--auto-approve" in err
    assert not dac.calls(method="POST", path_prefix="/flows")


def test_plan_fails_on_a_duplicate_name(dac: Any, hook: Any, example_spec: dict[str, Any]) -> None:
    apply_file(example_spec, hook)
    spec = load_spec(example_spec)
    flow = example_spec["dataflows"][0]["flow"]
    # a second flow with the same name (made outside the file) makes the match ambiguous
    first = hook.find_entities_by_name(EntityKind.FLOW, flow["name"])[0]
    hook.create_entity(
        EntityKind.FLOW,
        {
            "name": flow["name"],
            "flowSpec": {"id": flow["flow_spec_id"], "version": "1.0"},
            "sourceConnectionIds": first.source_connection_ids,
            "targetConnectionIds": first.target_connection_ids,
            "scheduleParams": {"startTime": 1893456000, "frequency": "once"},
        },
    )
    with pytest.raises(FlowServiceError, match=r"dataflows\[0\]\.flow\.name: 2 flows are named"):
        make_plan(hook, spec)


class _TI:
    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


def test_operator_plans_only_or_applies_and_pushes_plan_and_ids(
    dac: Any, hook: Any, example_spec: dict[str, Any]
) -> None:
    from airflow_flowservice.operators import FlowServiceApplyOperator

    ti = _TI()
    planned = FlowServiceApplyOperator(task_id="plan", spec=example_spec, plan_only=True).execute({"ti": ti})  # type: ignore[arg-type]
    assert planned["plan"]["counts"] == {"create": 8}
    assert planned["ids"] == {} and planned["applied"] == []
    assert ti.pushed["plan"] == planned["plan"]
    assert not [c for c in dac.calls(method="POST") if c.path != "/ims/token/v3"]

    applied = FlowServiceApplyOperator(task_id="apply", spec=example_spec).execute({"ti": ti})  # type: ignore[arg-type]
    assert set(applied["ids"]) == {"mailchimp-campaign", "datasets-to-s3"}
    assert ti.pushed["ids"] == applied["ids"]
    again = FlowServiceApplyOperator(task_id="again", spec=example_spec, plan_only=True).execute({"ti": ti})  # type: ignore[arg-type]
    assert not again["plan"]["has_changes"]
    assert again["ids"] == applied["ids"]

    with pytest.raises(FlowServiceConfigError, match="spec: must be a file path or a dict"):
        FlowServiceApplyOperator(task_id="bad", spec=42)  # type: ignore[arg-type]


def test_python_dash_m_runs_the_console_script(tmp_path: Path) -> None:
    import subprocess
    import sys

    bad = tmp_path / "dataflows.yaml"
    bad.write_text("version: 2\n")
    done = subprocess.run(
        [sys.executable, "-m", "airflow_flowservice", "plan", str(bad), "--detailed-exitcode"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert f"Error: {bad}: version:" in done.stderr
