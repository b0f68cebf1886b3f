"""Data Prep mapping sets: the connection's conversion_url, the hook's calls (sync and async) against the emulator
in-process, the client's rules on them (retries, errors, id checks), the domain functions and the operators."""

from __future__ import annotations

import json
from typing import Any

import pytest
from airflow.sdk import Connection

from airflow_flowservice.client import RetryPolicy
from airflow_flowservice.exceptions import (
    FlowServiceConfigError,
    FlowServiceConflictError,
    FlowServiceNotFoundError,
    FlowServiceServerError,
)
from airflow_flowservice.hooks.connection import credentials_from_connection
from airflow_flowservice.hooks.flowservice import FlowServiceHook
from airflow_flowservice.inputs import MappingSetInput
from airflow_flowservice.models import EntityKind, Mapping, MappingSet
from airflow_flowservice.testing.flows import create_table_flow
from airflow_flowservice.validation import validate_input

SCHEMA = "https://ns.adobe.com/acme/schemas/570630b91eb9d5cf5db0436756abb110d02912917a67da2d"
CONVERSION = "/data/foundation/conversion"
MAPPINGS = [
    {"sourceType": "ATTRIBUTE", "source": "first_name", "destination": "person.name.firstName"},
    {"sourceType": "EXPRESSION", "source": "lower(email)", "destination": "personalEmail.address"},
]
FAST = RetryPolicy(max_attempts=3, initial_delay=0.01, max_delay=0.02, jitter=0.0)


def body(mappings: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "outputSchema": {"schemaRef": {"id": SCHEMA, "contentType": "application/vnd.adobe.xed-full+json;version=1"}},
        "mappings": mappings if mappings is not None else MAPPINGS,
    }


def wanted(mappings: list[dict[str, Any]] | None = None) -> MappingSetInput:
    return validate_input(MappingSetInput, {"output_schema": SCHEMA, "mappings": mappings or MAPPINGS})


def conversion_calls(emu: Any, method: str | None = None) -> list[str]:
    return [f"{r.method} {r.path}" for r in emu.calls(method=method, path_prefix=CONVERSION)]


@pytest.fixture
def hook(flowservice_emulator: Any) -> FlowServiceHook:
    return FlowServiceHook(retry_policy=FAST)


# -- the connection --------------------------------------------------------------------------------


def conn(**extra: Any) -> Connection:
    base: dict[str, Any] = {"org_id": "ORG1@AdobeOrg", "sandbox": "dev", **extra}
    return Connection(conn_id="fs", conn_type="adobe_flowservice", login="cid", password="s", extra=json.dumps(base))


def test_the_conversion_url_is_the_api_urls_sibling_unless_given() -> None:
    assert credentials_from_connection(conn()).conversion_url == "https://platform.adobe.io/data/foundation/conversion"
    stage = conn(api_url="https://platform-stage.adobe.io/data/foundation/flowservice/")
    assert (
        credentials_from_connection(stage).conversion_url
        == "https://platform-stage.adobe.io/data/foundation/conversion"
    )
    given = conn(api_url="https://gw.example.com/fs", conversion_url="https://gw.example.com/dataprep")
    assert credentials_from_connection(given).conversion_url == "https://gw.example.com/dataprep"
    assert credentials_from_connection(conn(api_url="https://gw.example.com/fs")).conversion_url is None
    with pytest.raises(FlowServiceConfigError, match="extra 'conversion_url' is 'https://x/\\\\nconversion'"):
        credentials_from_connection(conn(conversion_url="https://x/\nconversion"))


def test_without_a_conversion_url_a_call_is_a_config_error_and_no_call(
    flowservice_emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    emu = flowservice_emulator
    extra = {"org_id": emu.org_id, "sandbox": "dev", "ims_url": emu.ims_url, "api_url": emu.base_url + "/fs"}
    uri = json.dumps(
        {"conn_type": "adobe_flowservice", "login": emu.client_id, "password": emu.client_secret, "extra": extra}
    )
    monkeypatch.setenv("AIRFLOW_CONN_ELSEWHERE", uri)
    with pytest.raises(FlowServiceConfigError, match="Connection 'elsewhere' has no extra 'conversion_url'"):
        FlowServiceHook("elsewhere").validate_mapping_set(body())
    assert list(emu.requests) == []


# -- the hook's calls ------------------------------------------------------------------------------


def test_create_get_validate_preview_update(hook: FlowServiceHook, flowservice_emulator: Any) -> None:
    check = hook.validate_mapping_set(body([*MAPPINGS, {**MAPPINGS[0], "destination": "person.nickname"}]))
    assert [c.ok for c in check.validation_response] == [True, True, False]
    assert check.validation_response[2].errors[0].reason.startswith("The destination path 'person.nickname'")
    ref = hook.create_mapping_set(body())
    assert ref.version == 0
    stored = hook.get_mapping_set(ref.id)
    assert stored.output_schema_id == SCHEMA
    assert [m.key()[:3] for m in stored.mappings] == [("ATTRIBUTE", "first_name", "person.name.firstName"), (
        "EXPRESSION", "lower(email)", "personalEmail.address")]  # fmt: skip
    updated = hook.update_mapping_set(ref.id, body(MAPPINGS[:1]))
    assert updated.version == 1 and len(updated.mappings) == 1
    assert len(hook.get_mapping_set(ref.id, version=0).mappings) == 2
    (row,) = hook.preview_mapping_set(body(), [{"first_name": "Ada", "email": "ADA@X.ORG"}])
    assert row.data == {"person": {"name": {"firstName": "Ada"}}, "personalEmail": {"address": "ada@x.org"}}
    assert conversion_calls(flowservice_emulator) == [
        f"POST {CONVERSION}/mappingSets/validate",
        f"POST {CONVERSION}/mappingSets",
        f"GET {CONVERSION}/mappingSets/{ref.id}",
        f"PUT {CONVERSION}/mappingSets/{ref.id}",
        f"GET {CONVERSION}/mappingSets/{ref.id}",
        f"POST {CONVERSION}/mappingSets/preview",
    ]
    assert [r.query for r in flowservice_emulator.calls(method="GET", path_prefix=CONVERSION)] == ["", "version=0"]


async def test_the_async_methods(hook: FlowServiceHook) -> None:
    ref = await hook.acreate_mapping_set(body())
    assert (await hook.avalidate_mapping_set(body())).validation_response[0].ok
    updated = await hook.aupdate_mapping_set(ref.id, body(MAPPINGS[:1]))
    assert updated.version == 1
    assert len((await hook.aget_mapping_set(ref.id, 0)).mappings) == 2
    assert (await hook.aget_mapping_set(ref.id)).version == 1
    (row,) = await hook.apreview_mapping_set(body(MAPPINGS[:1]), [{"first_name": "Ada"}])
    assert row.data == {"person": {"name": {"firstName": "Ada"}}}


def test_reads_and_checks_are_retried_creates_and_puts_are_not(
    hook: FlowServiceHook, flowservice_emulator: Any
) -> None:
    emu = flowservice_emulator
    emu.faults.add(method="POST", path=f"{CONVERSION}/mappingSets/validate", status=503, times=1)
    assert hook.validate_mapping_set(body()).validation_response[0].ok
    emu.faults.add(method="POST", path=f"{CONVERSION}/mappingSets", status=503, times=1)
    with pytest.raises(FlowServiceServerError):
        hook.create_mapping_set(body())  # may have been applied: never blindly re-sent
    emu.faults.add(method="POST", path=f"{CONVERSION}/mappingSets", kind="rate_limit", retry_after=0, times=1)
    ref = hook.create_mapping_set(body())  # a 429 was not applied: sent again
    emu.faults.add(method="PUT", path=f"{CONVERSION}/mappingSets/*", status=502, times=1)
    with pytest.raises(FlowServiceServerError):
        hook.update_mapping_set(ref.id, body())
    assert conversion_calls(emu) == [
        f"POST {CONVERSION}/mappingSets/validate",
        f"POST {CONVERSION}/mappingSets/validate",
        f"POST {CONVERSION}/mappingSets",
        f"POST {CONVERSION}/mappingSets",
        f"POST {CONVERSION}/mappingSets",
        f"PUT {CONVERSION}/mappingSets/{ref.id}",
    ]


def test_same_token_refreshed_once_on_a_401(hook: FlowServiceHook, flowservice_emulator: Any) -> None:
    hook.find_flow_spec("CloudStorageToAEP")  # a Flow Service call, then Conversion Service ones: one token
    ref = hook.create_mapping_set(body())
    assert [r.path for r in flowservice_emulator.requests].count("/ims/token/v3") == 1
    flowservice_emulator.expire_tokens()
    assert hook.get_mapping_set(ref.id).id == ref.id
    assert [r.path for r in flowservice_emulator.requests if r.path == "/ims/token/v3"] == ["/ims/token/v3"] * 2


def test_errors_and_id_checks(hook: FlowServiceHook, flowservice_emulator: Any) -> None:
    with pytest.raises(FlowServiceNotFoundError) as missing:
        hook.get_mapping_set("0" * 32)
    assert (missing.value.status, missing.value.code) == (404, "1003-404") and missing.value.request_id
    flowservice_emulator.requests.clear()
    for bad in ("../flows", "a,b", "x y"):
        with pytest.raises(FlowServiceConfigError, match=r"mapping_set_id: .* is not an id that fits in a URL path"):
            hook.get_mapping_set(bad)
    with pytest.raises(FlowServiceConfigError, match="mapping_version: must be a whole number >= 0"):
        hook.get_mapping_set("0" * 32, -1)
    assert list(flowservice_emulator.requests) == []  # refused before any call, the token's included


def test_the_models_read_both_spellings() -> None:
    assert Mapping.model_validate({"sourceType": "text/x.schema-path"}).source_type == "ATTRIBUTE"
    assert Mapping.model_validate({"sourceType": "text/x.aep-xl"}).source_type == "EXPRESSION"
    assert Mapping.model_validate({"sourceType": "static"}).source_type == "STATIC"
    stored = MappingSet.model_validate({"id": "x", "createdDate": "2020-11-25T19:40:24.123Z", "mappings": []})
    assert stored.version == 0 and stored.created_date == "2020-11-25T19:40:24.123Z"
    from airflow_flowservice.hooks.flowservice import _preview_rows

    # the spec's one object and the guide's list of them
    assert [r.data for r in _preview_rows({"data": {"a": 1}, "errors": None})] == [{"a": 1}]
    assert [r.data for r in _preview_rows([{"data": {"a": 1}}, {"data": {"b": 2}}])] == [{"a": 1}, {"b": 2}]


# -- domain ----------------------------------------------------------------------------------------


def test_check_names_each_bad_mapping_and_adobes_reason(hook: FlowServiceHook) -> None:
    from airflow_flowservice.dataflows.mapping import check_mapping_set

    bad = wanted([MAPPINGS[0], {**MAPPINGS[1], "source": "lower(email"}, {**MAPPINGS[0], "destination": "person.x"}])
    with pytest.raises(FlowServiceConfigError) as info:
        check_mapping_set(hook, bad, where="config.mapping.mappings")
    assert info.value.message == (
        "config.mapping.mappings[1] (EXPRESSION 'lower(email' -> personalEmail.address): Invalid expression "
        "'lower(email': expected ')', found the end of the expression at position 11; "
        "config.mapping.mappings[2] (ATTRIBUTE 'first_name' -> person.x): The destination path 'person.x' is not a "
        f"field of the schema {SCHEMA} (the mapping set does not validate)"
    )
    unknown = validate_input(MappingSetInput, {"output_schema": SCHEMA + "x", "mappings": MAPPINGS})
    with pytest.raises(FlowServiceConfigError, match="mappings: the Conversion Service refused the mapping set: The "):
        check_mapping_set(hook, unknown)


def test_moving_a_flows_mapping_is_put_then_patch_and_safe_to_repeat(
    hook: FlowServiceHook, flowservice_emulator: Any
) -> None:
    from airflow_flowservice.dataflows.mapping import create_mapping_set, mapping_transformation, move_flow_mapping

    first = create_mapping_set(hook, wanted())
    flow_id = create_table_flow(hook, transformations=[mapping_transformation(first.id, first.version)])
    flowservice_emulator.requests.clear()
    moved = move_flow_mapping(hook, flow_id, wanted(MAPPINGS[:1]))
    assert (moved.mapping.id, moved.mapping.version, moved.flow_patched) == (first.id, 1, True)
    writes = [f"{r.method} {r.path}" for r in flowservice_emulator.requests if r.method in ("PUT", "PATCH", "POST")]
    assert writes == [
        f"POST {CONVERSION}/mappingSets/validate",
        f"PUT {CONVERSION}/mappingSets/{first.id}",
        f"PATCH /flows/{flow_id}",
    ]
    patch = flowservice_emulator.calls(method="PATCH")[0].body
    assert patch == [{"op": "replace", "path": "/transformations/0", "value": mapping_transformation(first.id, 1)}]
    again = move_flow_mapping(hook, flow_id, wanted(MAPPINGS[:1]))
    assert (again.mapping.version, again.mapping.created, again.flow_patched) == (1, False, False)
    # a flow without a Mapping gets a new set, added to its transformations
    plain = create_table_flow(hook, transformations=[])
    added = move_flow_mapping(hook, plain, wanted())
    assert added.mapping.created and added.mapping.id != first.id
    assert hook.get_flow(plain).transformations == [mapping_transformation(added.mapping.id, 0)]


def test_a_flow_changed_meanwhile_is_not_overwritten(
    hook: FlowServiceHook, flowservice_emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_flowservice.dataflows.mapping import create_mapping_set, mapping_transformation, move_flow_mapping

    first = create_mapping_set(hook, wanted())
    flow_id = create_table_flow(hook, transformations=[mapping_transformation(first.id, 0)])
    stale = hook.get_flow(flow_id).etag
    hook.patch_entity(EntityKind.FLOW, flow_id, [{"op": "replace", "path": "/description", "value": "x"}], stale)
    with pytest.raises(FlowServiceConflictError, match="changed since etag"):
        move_flow_mapping(hook, flow_id, wanted(MAPPINGS[:1]), etag=stale)
    assert hook.get_mapping_set(first.id).version == 0  # refused before the PUT
    # the flow changes between the read and the PATCH: a 412, reported with what exists
    real_get_flow = hook.get_flow
    reads = iter([real_get_flow(flow_id)])
    hook.patch_entity(
        EntityKind.FLOW, flow_id, [{"op": "replace", "path": "/description", "value": "y"}], real_get_flow(flow_id).etag
    )
    monkeypatch.setattr(hook, "get_flow", lambda fid: next(reads, None) or real_get_flow(fid))
    with pytest.raises(FlowServiceConflictError) as info:
        move_flow_mapping(hook, flow_id, wanted(MAPPINGS[:1]))
    assert info.value.status == 412
    assert f"mapping set {first.id} version 1 exists, the flow was not re-pointed to it; re-run to move it" in str(
        info.value
    )
    assert hook.get_flow(flow_id).mapping == (0, first.id, 0)


# -- operators -------------------------------------------------------------------------------------


class FakeTI:
    def __init__(self) -> None:
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = value


def run(op: Any) -> tuple[Any, FakeTI]:
    ti = FakeTI()
    return op.execute({"ti": ti}), ti


def test_the_create_operator_validates_first_and_pushes_the_ids(flowservice_emulator: Any) -> None:
    from airflow_flowservice.operators import FlowServiceCreateMappingSetOperator

    snake = [{"source_type": "ATTRIBUTE", "source": "first_name", "destination": "person.name.firstName"}]
    result, ti = run(FlowServiceCreateMappingSetOperator(task_id="m", output_schema_id=SCHEMA, mappings=snake))
    assert set(result) == {"mapping_id", "mapping_version"} and result["mapping_version"] == 0
    assert ti.xcom == result
    assert conversion_calls(flowservice_emulator, "POST") == [
        f"POST {CONVERSION}/mappingSets/validate",
        f"POST {CONVERSION}/mappingSets",
    ]
    flowservice_emulator.requests.clear()
    bad = [{**snake[0], "destination": "person.name.nickname"}]
    with pytest.raises(
        FlowServiceConfigError, match=r"^mappings\[0\] \(ATTRIBUTE 'first_name' -> person.name.nickname\)"
    ):
        run(FlowServiceCreateMappingSetOperator(task_id="m", output_schema_id=SCHEMA, mappings=bad))
    assert conversion_calls(flowservice_emulator, "POST") == [
        f"POST {CONVERSION}/mappingSets/validate"
    ]  # nothing created
    flowservice_emulator.requests.clear()
    run(FlowServiceCreateMappingSetOperator(task_id="m", output_schema_id=SCHEMA, mappings=snake, validate=False))
    assert conversion_calls(flowservice_emulator, "POST") == [f"POST {CONVERSION}/mappingSets"]


def test_the_preview_operator(flowservice_emulator: Any) -> None:
    from airflow_flowservice.operators import FlowServicePreviewMappingOperator

    rows = {
        "rows": [{"first_name": "Ada", "email": "ADA@X.ORG"}, {"email": "b@x.org"}],
        "row_count": 2,
    }  # explore's output
    result, _ = run(
        FlowServicePreviewMappingOperator(task_id="p", rows=rows, output_schema_id=SCHEMA, mappings=MAPPINGS)
    )
    assert result == {
        "rows": [
            {"person": {"name": {"firstName": "Ada"}}, "personalEmail": {"address": "ada@x.org"}},
            {"personalEmail": {"address": "b@x.org"}},
        ],
        "errors": [],
        "row_count": 2,
    }
    ref = FlowServiceHook().create_mapping_set(body([{**MAPPINGS[1], "source": "to_integer(email)"}]))
    by_id = FlowServicePreviewMappingOperator(task_id="p", rows=rows, mapping_id=ref.id, mapping_version=0)
    result, _ = run(by_id)
    assert [e["row"] for e in result["errors"]] == [0, 1] and "Cannot map the value" in result["errors"][0]["reason"]
    strict = FlowServicePreviewMappingOperator(task_id="p", rows=rows, mapping_id=ref.id, fail_on_errors=True)
    with pytest.raises(FlowServiceConfigError, match=r"^rows: 2 mapping error\(s\): row 0 \(to_integer\(email\)"):
        run(strict)
