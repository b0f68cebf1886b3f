"""Operator input validation (airflow_flowservice.inputs and .validation): every error names the field and the fix."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pendulum
import pytest

from airflow_flowservice.exceptions import FlowServiceConfigError
from airflow_flowservice.inputs import (
    BaseConnectionInput,
    DataflowConfig,
    FlowInput,
    ScheduleParamsInput,
    SourceConnectionInput,
    validate_ops,
)
from airflow_flowservice.models import EntityKind
from airflow_flowservice.validation import (
    check_entity_id,
    check_if_exists,
    parse_kind,
    to_epoch_seconds,
    validate_input,
)

AZURE = "be5ec48c-5b78-49d5-b8fa-7c89ec4569b8"
DATA_LAKE = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"
FLOW_SPEC = "9753525b-82c7-4dce-8a9b-5ccfce2b9876"
CONN_ID = "26b53912-1005-49f0-b539-12100559f0e2"


def error_of(model: Any, data: Any, **kwargs: Any) -> str:
    with pytest.raises(FlowServiceConfigError) as info:
        validate_input(model, data, **kwargs)
    return info.value.message


# -- schedule ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        (
            {"start_time": 1700000000, "frequency": "minute", "interval": 5},
            "interval: must be at least 15 when frequency is 'minute' (got 5)",
        ),
        (
            {"start_time": 1700000000, "frequency": "once", "interval": 1},
            "interval: not allowed with frequency 'once' (got 1); remove it or pick a recurring frequency "
            "(minute, hour, day, week)",
        ),
        (
            {"start_time": 1700000000, "frequency": "once", "backfill": True},
            "backfill: not allowed with frequency 'once'; remove it",
        ),
        (
            {"start_time": 1700000000, "frequency": "yearly", "interval": 1},
            "frequency: must be one of once, minute, hour, day, week (got 'yearly')",
        ),
        (
            {"start_time": 1700000000, "frequency": "day"},
            "interval: is required with frequency 'day' (e.g. interval=1 runs every day)",
        ),
        (
            {"start_time": 1700000000, "frequency": "hour", "interval": 0},
            "interval: must be at least 1 for frequency 'hour' (got 0)",
        ),
        (
            {"start_time": 1700000000000, "frequency": "once"},
            "start_time: 1700000000000 looks like milliseconds; Flow Service wants epoch seconds here (use 1700000000)",
        ),
        (
            {"startTime": "1700000000000", "frequency": "once"},
            "start_time: 1700000000000 looks like milliseconds; Flow Service wants epoch seconds here (use 1700000000)",
        ),
        (
            {"start_time": "2024-05-01", "frequency": "once"},
            "start_time: must be epoch seconds (e.g. 1700000000) or an ISO 8601 date-time with a time zone "
            "(got '2024-05-01')",
        ),
        (
            {"start_time": datetime(2024, 5, 1), "frequency": "once"},
            "start_time: the datetime 2024-05-01T00:00:00 has no time zone; give an aware datetime "
            "(pendulum.datetime(..., tz='UTC')) or epoch seconds",
        ),
        ({"start_time": True, "frequency": "once"}, "start_time: must be epoch seconds, e.g. 1700000000 (got True)"),
        ({"start_time": -5, "frequency": "once"}, "start_time: must be epoch seconds, not negative (got -5)"),
        ({"frequency": "once"}, "start_time: is required"),
        (
            {"start_time": 1, "frequency": "once", "every": 2},
            "every: unknown field; check the spelling (fields are snake_case, e.g. connection_spec_id)",
        ),
    ],
)
def test_bad_schedules_name_the_field_and_the_fix(schedule: dict[str, Any], message: str) -> None:
    assert error_of(ScheduleParamsInput, schedule) == message


def test_schedule_accepts_api_spelling_strings_and_datetimes() -> None:
    parsed = validate_input(
        ScheduleParamsInput,
        {"startTime": pendulum.datetime(2024, 1, 1, tz="UTC"), "frequency": "Day", "interval": "1", "backfill": "true"},
    )
    assert parsed.to_api() == {"startTime": 1704067200, "frequency": "day", "interval": 1, "backfill": True}
    once = validate_input(ScheduleParamsInput, {"start_time": "2024-01-01T01:00:00+01:00", "frequency": "once"})
    assert once.to_api() == {"startTime": 1704067200, "frequency": "once"}
    minute = validate_input(ScheduleParamsInput, {"start_time": "1700000000", "frequency": "minute", "interval": 15})
    assert minute.to_api() == {"startTime": 1700000000, "frequency": "minute", "interval": 15}


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (1700000000, 1700000000),
        ("1700000000", 1700000000),
        (1700000000.9, 1700000000),
        (datetime(2024, 1, 1, tzinfo=timezone.utc), 1704067200),
        ("2024-01-01T00:00:00Z", 1704067200),
        (99_999_999_999, 99_999_999_999),
    ],
)
def test_to_epoch_seconds(value: Any, seconds: int) -> None:
    assert to_epoch_seconds(value) == seconds


def test_schedule_error_inside_a_dataflow_config_carries_the_whole_path() -> None:
    config = {
        "source_connection": {"name": "s", "connection_spec_id": AZURE},
        "target_connection": {"name": "t", "connection_spec_id": DATA_LAKE},
        "flow": {
            "name": "f",
            "flow_spec_id": FLOW_SPEC,
            "schedule_params": {"start_time": 1700000000, "frequency": "minute", "interval": 1},
        },
    }
    assert error_of(DataflowConfig, config, prefix="config", context={"draft": True}) == (
        "config.flow.schedule_params.interval: must be at least 15 when frequency is 'minute' (got 1)"
    )


# -- ids, names, if_exists, kinds -------------------------------------------------------------------


def test_spec_ids_must_be_uuids() -> None:
    assert error_of(SourceConnectionInput, {"name": "s", "connection_spec_id": "azure-file-storage"}) == (
        "connection_spec_id: 'azure-file-storage' is not a spec id: give its UUID, e.g. "
        "'c604ff05-7f1a-43c0-8e18-33bf874cb11c'"
    )
    upper = validate_input(SourceConnectionInput, {"name": "s", "connection_spec_id": AZURE.upper()})
    assert upper.connection_spec_id == AZURE


def test_names_must_be_non_empty_and_filterable() -> None:
    assert error_of(SourceConnectionInput, {"name": "  ", "connection_spec_id": AZURE}) == (
        "name: must not be empty; give the entity a name unique in the sandbox"
    )
    assert error_of(SourceConnectionInput, {"name": 'a "b"', "connection_spec_id": AZURE}) == (
        "name: 'a \"b\"' contains '\"', which the API's name filter cannot match; remove it"
    )


def test_several_problems_are_reported_together() -> None:
    message = error_of(
        SourceConnectionInput,
        {"name": "", "connection_spec_id": "x", "params": 3},
        rename={"params": "connection_params"},
    )
    assert message == (
        "name: must not be empty; give the entity a name unique in the sandbox; "
        "connection_spec_id: 'x' is not a spec id: give its UUID, e.g. 'c604ff05-7f1a-43c0-8e18-33bf874cb11c'; "
        "connection_params: must be a dict (a JSON object) (got 3)"
    )


def test_if_exists_kind_and_entity_ids() -> None:
    assert check_if_exists("reuse") == "reuse"
    with pytest.raises(FlowServiceConfigError, match=r"^if_exists: must be 'reuse' or 'fail' \(got 'skip'\)$"):
        check_if_exists("skip")
    assert parse_kind("sourceConnections") is EntityKind.SOURCE_CONNECTION
    assert parse_kind("flow") is EntityKind.FLOW
    assert parse_kind("base_connection") is EntityKind.BASE_CONNECTION
    with pytest.raises(FlowServiceConfigError, match="kind: must be one of flows, connections"):
        parse_kind("runs")
    assert check_entity_id(CONN_ID.upper(), "flow_id") == CONN_ID
    with pytest.raises(FlowServiceConfigError, match=r"^flow_id: None is not a Flow Service entity id"):
        check_entity_id(None, "flow_id")


def test_extra_body_cannot_override_managed_fields() -> None:
    assert (
        error_of(
            BaseConnectionInput, {"name": "b", "connection_spec_id": AZURE, "extra_body": {"auth": {}, "labels": []}}
        )
        == "extra_body: sets 'auth', which the operator builds from its own arguments; use those arguments instead"
    )


# -- flows and dataflows ----------------------------------------------------------------------------


def test_live_flow_needs_connections_and_schedule_draft_does_not() -> None:
    flow = {"name": "f", "flow_spec_name": "CloudStorageToAEP"}
    assert error_of(FlowInput, flow, context={"draft": False}) == (
        "source_connection_ids: a live flow needs at least one; give the id(s) or create it with draft=True"
    )
    assert error_of(FlowInput, {**flow, "source_connection_ids": CONN_ID, "target_connection_ids": [CONN_ID]}) == (
        "schedule_params: a live flow needs a schedule, e.g. {'start_time': 1700000000, 'frequency': 'once'}; "
        "or create it with draft=True"
    )
    draft = validate_input(FlowInput, flow, context={"draft": True})
    assert draft.to_body(FLOW_SPEC) == {"name": "f", "flowSpec": {"id": FLOW_SPEC, "version": "1.0"}}


def test_flow_spec_by_id_or_name_not_both() -> None:
    message = "flow_spec_id: give exactly one of flow_spec_id (a UUID) or flow_spec_name (e.g. 'CloudStorageToAEP')"
    assert error_of(FlowInput, {"name": "f"}, context={"draft": True}) == message
    both = {"name": "f", "flow_spec_id": FLOW_SPEC, "flow_spec_name": "CloudStorageToAEP"}
    assert error_of(FlowInput, both, context={"draft": True}) == message


def test_transformations_must_be_name_and_params() -> None:
    flow = {"name": "f", "flow_spec_id": FLOW_SPEC, "transformations": [{"name": "Mapping"}]}
    assert error_of(FlowInput, flow, context={"draft": True}) == (
        "transformations: item 0 must be {'name': ..., 'params': {...}}, e.g. "
        "{'name': 'Mapping', 'params': {'mappingId': '...', 'mappingVersion': '0'}}"
    )


def _dataflow(**parts: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "base_connection": {"name": "b", "connection_spec_id": AZURE, "auth_spec_name": "Basic Authentication"},
        "source_connection": {"name": "s", "connection_spec_id": AZURE},
        "target_connection": {"name": "t", "connection_spec_id": DATA_LAKE},
        "flow": {"name": "f", "flow_spec_name": "CloudStorageToAEP"},
    }
    config.update(parts)
    return config


def test_dataflow_links_the_base_connection_by_connection_spec() -> None:
    cfg = validate_input(DataflowConfig, _dataflow(), context={"draft": True})
    assert cfg.base_users() == ["source_connection"]
    unmatched = _dataflow(base_connection={"name": "b", "connection_spec_id": FLOW_SPEC})
    assert error_of(DataflowConfig, unmatched, prefix="config", context={"draft": True}) == (
        f"config.base_connection: its connection_spec_id {FLOW_SPEC} matches neither source_connection nor "
        "target_connection; a base connection serves the connection of the same spec"
    )
    twice = _dataflow(source_connection={"name": "s", "connection_spec_id": AZURE, "base_connection_id": CONN_ID})
    assert error_of(DataflowConfig, twice, prefix="config", context={"draft": True}) == (
        "config.source_connection: has a base_connection_id and the config also creates base_connection; give only one"
    )


def test_dataflow_fills_the_flow_links_itself() -> None:
    config = _dataflow(flow={"name": "f", "flow_spec_name": "CloudStorageToAEP", "source_connection_ids": [CONN_ID]})
    assert error_of(DataflowConfig, config, prefix="config", context={"draft": True}) == (
        "config.flow: source_connection_ids is filled in by the operator with the new connection ids; remove it"
    )


def test_dataflow_missing_part() -> None:
    config = _dataflow()
    del config["target_connection"]
    assert error_of(DataflowConfig, config, prefix="config", context={"draft": True}) == (
        "config.target_connection: is required"
    )


# -- JSON Patch ---------------------------------------------------------------------------------------


def test_patch_ops_are_checked() -> None:
    with pytest.raises(FlowServiceConfigError) as info:
        validate_ops(
            [
                {"op": "REPLACE", "path": "scheduleParams"},
                {"op": "remove", "path": "/x", "value": 1},
                {"op": "add", "path": "/a"},
                {"op": "move", "path": "/a", "value": 1},
            ]
        )
    assert info.value.message == (
        "ops[0].path: must be a JSON pointer starting with '/', e.g. '/scheduleParams/interval' "
        "(got 'scheduleParams'); ops[1].value: is not allowed with op 'remove'; "
        "ops[2].value: is required with op 'add'; ops[3].op: must be 'add', 'replace' or 'remove' (got 'move')"
    )
    with pytest.raises(FlowServiceConfigError, match=r"^ops: must not be empty$"):
        validate_ops([])
    (op,) = validate_ops({"op": "Replace", "path": "/name", "value": None})
    assert op.to_api() == {"op": "replace", "path": "/name", "value": None}
