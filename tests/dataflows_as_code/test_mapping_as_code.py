"""A dataflow's ``mapping`` (Data Prep mapping set) in a dataflows-as-code file, through the ``flowservice`` console
script against the emulator: plan, apply, unchanged once applied, a changed mapping as the next version with the
flow re-pointed, export, and a mapping that does not validate."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from airflow_flowservice.cli import main
from airflow_flowservice.models import EntityKind

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[2] / "example_dags" / "csv_from_s3.yaml"
FLOW_NAME = "ACME customers from S3 (dataflows as code)"
BASE_NAME = "ACME customers S3 account (dataflows as code)"
CONVERSION = "/data/foundation/conversion"
WRITES = ("POST", "PUT", "PATCH", "DELETE")


@pytest.fixture
def spec() -> dict[str, Any]:
    return copy.deepcopy(yaml.safe_load(EXAMPLE.read_text()))


@pytest.fixture
def csv(dac: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The emulator with the example file's S3 credentials connection."""
    monkeypatch.setenv("AIRFLOW_CONN_ACME_S3", json.dumps({"conn_type": "aws", "login": "AKIA", "password": "s3cr3t"}))
    return dac


def write(tmp_path: Path, spec: dict[str, Any], name: str = "csv.yaml") -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return str(path)


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def writes(emu: Any) -> list[str]:
    return [
        f"{r.method} {r.path}"
        for r in emu.requests
        if r.method in WRITES and r.path != "/ims/token/v3" and not r.path.endswith("/validate")
    ]


def the_flow(hook: Any) -> Any:
    (flow,) = hook.find_entities_by_name(EntityKind.FLOW, FLOW_NAME)
    return hook.get_flow(flow.id)


def test_plan_apply_then_unchanged(csv: Any, hook: Any, capsys: Any) -> None:
    code, out, _ = cli(capsys, "plan", str(EXAMPLE), "--detailed-exitcode")
    assert code == 2
    assert "  + create    customers-csv.mapping\n      POST /mappingSets (version 0)" in out
    assert "Plan: 5 to create, 0 to update" in out
    assert writes(csv) == []  # plan changes nothing
    code, out, _ = cli(capsys, "apply", str(EXAMPLE), "--auto-approve")
    assert code == 0, out
    assert [w for w in writes(csv)] == [
        "POST /connections",
        "POST /sourceConnections",
        "POST /targetConnections",
        f"POST {CONVERSION}/mappingSets",
        "POST /flows",
    ]
    flow = the_flow(hook)
    _, mapping_id, version = flow.mapping
    assert version == 0 and f"created customers-csv.mapping {mapping_id} (version 0)" in out
    code, out, _ = cli(capsys, "plan", str(EXAMPLE), "--detailed-exitcode")
    assert code == 0 and "No changes" in out
    assert f"unchanged customers-csv.mapping {mapping_id}" in out


def test_a_changed_mapping_is_the_next_version_and_the_flow_is_re_pointed(
    csv: Any, hook: Any, spec: dict[str, Any], tmp_path: Path, capsys: Any
) -> None:
    assert cli(capsys, "apply", str(EXAMPLE), "--auto-approve")[0] == 0
    flow = the_flow(hook)
    _, mapping_id, _ = flow.mapping
    spec["dataflows"][0]["mapping"]["mappings"][4]["source"] = "silver"
    path = write(tmp_path, spec)
    code, out, _ = cli(capsys, "plan", path, "--detailed-exitcode", "--json")
    assert code == 2
    changes = {c["part"]: c for c in json.loads(out)["changes"]}
    assert {p: c["action"] for p, c in changes.items()} == {
        "base_connection": "unchanged",
        "source_connection": "unchanged",
        "target_connection": "unchanged",
        "mapping": "update",
        "flow": "update",
    }
    assert changes["mapping"]["kind"] == "mappingSets" and changes["mapping"]["version"] == 0
    assert changes["mapping"]["reasons"] == [
        "mappings differ (not wanted: bronze -> _acme.loyalty.tier; new: silver -> _acme.loyalty.tier)"
    ]
    assert changes["flow"]["etag"] == flow.etag
    assert changes["flow"]["ops"] == [
        {
            "op": "replace",
            "path": "/transformations/0",
            "value": {"name": "Mapping", "params": {"mappingId": mapping_id, "mappingVersion": "(the new version)"}},
        }
    ]
    csv.requests.clear()
    code, out, _ = cli(capsys, "apply", path, "--auto-approve")
    assert code == 0, out
    assert writes(csv) == [f"PUT {CONVERSION}/mappingSets/{mapping_id}", f"PATCH /flows/{flow.id}"]
    (patch,) = csv.calls(method="PATCH")
    assert patch.body[0]["value"]["params"] == {"mappingId": mapping_id, "mappingVersion": "1"}
    assert the_flow(hook).mapping == (0, mapping_id, 1)
    assert hook.get_mapping_set(mapping_id).mappings[4].source == "silver"
    assert cli(capsys, "plan", path, "--detailed-exitcode")[0] == 0


def test_an_apply_stopped_before_the_flow_is_finished_without_another_version(
    csv: Any, hook: Any, spec: dict[str, Any], tmp_path: Path, capsys: Any
) -> None:
    assert cli(capsys, "apply", str(EXAMPLE), "--auto-approve")[0] == 0
    flow = the_flow(hook)
    _, mapping_id, _ = flow.mapping
    spec["dataflows"][0]["mapping"]["mappings"][4]["source"] = "silver"
    path = write(tmp_path, spec)
    csv.faults.add(method="PATCH", path=f"/flows/{flow.id}", status=503, times=5)
    code, _, err = cli(capsys, "apply", path, "--auto-approve")
    assert (
        code == 1 and f"applied before the failure: updated customers-csv.mapping {mapping_id} (version 0 -> 1)" in err
    )
    csv.faults.clear()
    csv.requests.clear()
    code, out, _ = cli(capsys, "plan", path, "--detailed-exitcode")
    assert code == 2 and f"unchanged customers-csv.mapping {mapping_id}" in out  # version 1 holds the file's mappings
    assert cli(capsys, "apply", path, "--auto-approve")[0] == 0
    assert writes(csv) == [f"PATCH /flows/{flow.id}"]  # no third version
    assert the_flow(hook).mapping == (0, mapping_id, 1)


def test_a_flow_changed_since_the_plan_is_not_overwritten(
    csv: Any, hook: Any, spec: dict[str, Any], tmp_path: Path
) -> None:
    from airflow_flowservice.as_code.apply import apply_plan
    from airflow_flowservice.as_code.plan import make_plan
    from airflow_flowservice.as_code.spec_file import load_spec
    from airflow_flowservice.exceptions import FlowServicePlanStaleError

    assert main(["apply", str(EXAMPLE), "--auto-approve"]) == 0
    spec["dataflows"][0]["mapping"]["mappings"][4]["source"] = "silver"
    loaded = load_spec(spec)
    plan = make_plan(hook, loaded)
    flow = the_flow(hook)
    hook.patch_entity(EntityKind.FLOW, flow.id, [{"op": "replace", "path": "/description", "value": "x"}], flow.etag)
    with pytest.raises(FlowServicePlanStaleError, match="changed since plan, plan again"):
        apply_plan(hook, loaded, plan)
    assert the_flow(hook).mapping[2] == 0  # still on the old version


def test_a_mapping_added_to_a_flow_without_one(
    csv: Any, hook: Any, spec: dict[str, Any], tmp_path: Path, capsys: Any
) -> None:
    mapping = spec["dataflows"][0].pop("mapping")
    assert cli(capsys, "apply", write(tmp_path, spec), "--auto-approve")[0] == 0
    assert the_flow(hook).mapping is None
    spec["dataflows"][0]["mapping"] = mapping
    path = write(tmp_path, spec, "with-mapping.yaml")
    code, out, _ = cli(capsys, "plan", path, "--detailed-exitcode")
    assert code == 2 and "create    customers-csv.mapping" in out and "update    customers-csv.flow" in out
    assert cli(capsys, "apply", path, "--auto-approve")[0] == 0
    (transformation,) = the_flow(hook).transformations
    assert transformation["name"] == "Mapping" and transformation["params"]["mappingVersion"] == "0"
    assert cli(capsys, "plan", path, "--detailed-exitcode")[0] == 0


def test_export_writes_the_mapping_back(csv: Any, hook: Any, tmp_path: Path, capsys: Any) -> None:
    assert cli(capsys, "apply", str(EXAMPLE), "--auto-approve")[0] == 0
    exported = tmp_path / "exported.yaml"
    flow = the_flow(hook)
    argv = ["export", "--flow-id", flow.id, "-o", str(exported), "--credentials-conn-id", f"{BASE_NAME}=acme_s3"]
    assert cli(capsys, *argv)[0] == 0
    (dataflow,) = yaml.safe_load(exported.read_text())["dataflows"]
    original = yaml.safe_load(EXAMPLE.read_text())["dataflows"][0]["mapping"]
    assert dataflow["mapping"]["output_schema"]["id"] == original["output_schema"]["id"]
    assert dataflow["mapping"]["mappings"] == original["mappings"]
    assert "transformations" not in dataflow["flow"]  # the Mapping transformation is the mapping section
    code, out, _ = cli(capsys, "plan", str(exported), "--detailed-exitcode")
    assert code == 0 and "No changes" in out


def test_a_mapping_that_does_not_validate_fails_the_plan(
    csv: Any, spec: dict[str, Any], tmp_path: Path, capsys: Any
) -> None:
    mappings = spec["dataflows"][0]["mapping"]["mappings"]
    mappings[1]["destination"] = "person.name.nickname"
    mappings[3]["source"] = "lower(trim(email)"
    path = write(tmp_path, spec, "bad.yaml")
    code, out, err = cli(capsys, "plan", path)
    assert code == 1 and out == ""
    assert err == (
        f"Error: {path}: dataflows[0].mapping.mappings[1] (ATTRIBUTE 'first_name' -> person.name.nickname): "
        "The destination path 'person.name.nickname' is not a field of the schema "
        "https://ns.adobe.com/acme/schemas/570630b91eb9d5cf5db0436756abb110d02912917a67da2d; "
        "dataflows[0].mapping.mappings[3] (EXPRESSION 'lower(trim(email)' -> personalEmail.address): Invalid "
        "expression 'lower(trim(email)': expected ')', found the end of the expression at position 17 (the mapping "
        "set does not validate)\n"
    )
    mappings[3]["source_type"] = "COLUMN"
    code, _, err = cli(capsys, "plan", write(tmp_path, spec, "worse.yaml"))
    assert code == 1
    assert "worse.yaml: dataflows[0].mapping.mappings[3].source_type: must be one of ATTRIBUTE, EXPRESSION, " in err
    assert writes(csv) == []
