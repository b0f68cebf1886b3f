"""Bad input, through Airflow: every case fails with the exact message the user sees, and makes no API call.

All cases are independent tasks of one DAG (``bad_input``), run once with ``dag.test()`` against the
emulator; a second DAG (``bad_input_control``) holds one well-formed input only the service can refuse, to
show that the per-task request log does see calls. A failure callback records
each task's exception; the emulator's request log (token endpoint included) is split by the time each
task ran. Inputs Airflow templates are given as Jinja (``"{{ 'not a date' }}"``, ``"{{ params.empty }}"``
with the DAG param ``empty=""``), so what is checked is the *rendered* value.

docs/bad-input.md lists the same table: keep them identical.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from airflow_flowservice.testing import FlowServiceEmulator
from tests.bad_input.conftest import DagOutcome, conn_json, run_dag_source

pytestmark = pytest.mark.integration

FLOW = "2edc08ac-4df5-4fe6-936f-81a19ce92f5c"  # a well-formed id: no case may get as far as looking it up
JAN1, JAN2 = 1704067200, 1704153600  # 2024-01-01 / 2024-01-02 00:00 UTC
WINDOW = f"window_start={JAN1}, window_end={JAN2}"
SPEC_EXAMPLE = "'c604ff05-7f1a-43c0-8e18-33bf874cb11c'"
S3 = "destination='amazon_s3', dataset_ids=['5ef3e3259ad2a1191ab7dd7d'], name='Nightly export', "
S3_TARGET = "target={'bucket_name': 'aep-exports', 'path': 'exports'}"
S3_SCHEDULE = "schedule={'time_unit': 'hour', 'interval': 3, 'start_time': 1704067200}"
LIVE_FLOW = (
    f"name='Orders', flow_spec_name='CloudStorageToAEP', source_connection_ids=['{FLOW}'], "
    f"target_connection_ids=['{FLOW}']"
)
ZERO_LENGTH_FIX = (
    "the DAG's timetable gives runs a zero-length data interval (Airflow 3's default for cron schedules such as "
    "'@daily' is CronTriggerTimetable, whose data_interval_start == data_interval_end). Schedule the DAG with "
    "airflow.timetables.interval.CronDataIntervalTimetable('@daily', timezone='UTC') or "
    "DeltaDataIntervalTimetable(timedelta(days=1)), or pass window_start and window_end"
)


SCHEMA = "https://ns.adobe.com/acme/schemas/570630b91eb9d5cf5db0436756abb110d02912917a67da2d"
FIRST_NAME = "[{'source_type': 'ATTRIBUTE', 'source': 'first_name', 'destination': 'person.name.firstName'}]"
S3_EXPORT_FLOW = "269ba276-16fc-47db-92b0-c1049a3c131f"
MAILCHIMP = "c8ce8c8c-37fb-4162-9fbf-c2f181e04a7a"

SEGMENT_RULE = (
    "use letters, digits, '-', '_', '.' or '~' only, at most 256 (no '/', '..', ',', spaces or control characters)"
)


def not_a_path_segment(name: str, value: str) -> str:
    """The hook's message for an id that cannot be one URL path segment (checked where requests are built)."""
    return f"{name}: {value!r} is not an id that fits in a URL path: {SEGMENT_RULE}"


@dataclass(frozen=True)
class Case:
    """One bad input: a task ``operator(task_id=id, <args>)`` and the message it must fail with."""

    id: str
    operator: str
    args: str
    message: str
    error: str = "FlowServiceConfigError"


CASES: list[Case] = [
    # -- run windows (FlowServiceTriggerRunOperator) -------------------------------------------------------
    Case(
        "window_not_a_date",
        "Trigger",
        f"flow_id='{FLOW}', window_start=\"{{{{ 'not a date' }}}}\", window_end={JAN2}",
        "window_start: must be epoch seconds (e.g. 1700000000) or an ISO 8601 date-time with a time zone "
        "(got 'not a date')",
    ),
    Case(
        "window_rendered_empty",
        "Trigger",
        f"flow_id='{FLOW}', window_start={JAN1}, window_end='{{{{ params.empty }}}}'",
        "window_end: must be epoch seconds (e.g. 1700000000) or an ISO 8601 date-time with a time zone (got '')",
    ),
    Case(
        "window_without_time_zone",
        "Trigger",
        f"flow_id='{FLOW}', window_start='2024-01-01T00:00:00', window_end={JAN2}",
        "window_start: '2024-01-01T00:00:00' has no time zone; give epoch seconds or an ISO 8601 date-time with an "
        "offset (e.g. '2024-05-01T00:00:00+00:00')",
    ),
    Case(
        "window_in_milliseconds",
        "Trigger",
        f"flow_id='{FLOW}', window_start='{{{{ data_interval_start.int_timestamp * 1000 }}}}', window_end={JAN2}",
        "window_start: 1704153600000 looks like milliseconds; Flow Service wants epoch seconds here (use 1704153600)",
    ),
    Case(
        "window_negative",
        "Trigger",
        f"flow_id='{FLOW}', window_start=-86400, window_end={JAN2}",
        "window_start: must be epoch seconds, not negative (got -86400)",
    ),
    Case(
        "window_reversed",
        "Trigger",
        f"flow_id='{FLOW}', window_start={JAN2}, window_end={JAN1}",
        f"window_end: must be after window_start (got window_start={JAN2}, window_end={JAN1}); swap them",
    ),
    Case(
        "window_empty",
        "Trigger",
        f"flow_id='{FLOW}', window_start={JAN1}, window_end='2024-01-01T00:00:00+00:00'",
        f"window_end: must be after window_start (both are {JAN1}); widen the window",
    ),
    Case(
        "window_only_start",
        "Trigger",
        f"flow_id='{FLOW}', window_start={JAN1}",
        "window_start/window_end: give both, or neither to use the data interval",
    ),
    Case(
        "window_zero_length_interval",
        "Trigger",
        f"flow_id='{FLOW}'",
        f"window: empty data interval {JAN2}..{JAN2}: {ZERO_LENGTH_FIX}",
    ),
    # -- delta column and failure policy ---------------------------------------------------------------------
    Case(
        "delta_column_unknown_key",
        "Trigger",
        f"flow_id='{FLOW}', {WINDOW}, delta_column={{'name': 'updated_at', 'format': 'epoch'}}",
        "delta_column: must be a column name or {'name': ..., 'dateFormat'?: ..., 'timezone'?: ...} "
        "(got {'name': 'updated_at', 'format': 'epoch'})",
    ),
    Case(
        "delta_column_not_a_name",
        "Trigger",
        f"flow_id='{FLOW}', {WINDOW}, delta_column=['updated_at']",
        "delta_column: must be a column name or a dict (got ['updated_at'])",
    ),
    Case(
        "max_failed_records_negative",
        "Trigger",
        f"flow_id='{FLOW}', {WINDOW}, max_failed_records=-1",
        "max_failed_records: must be an integer >= 0 (got -1)",
    ),
    Case(
        "max_failed_ratio_percent",
        "Trigger",
        f"flow_id='{FLOW}', {WINDOW}, max_failed_ratio=5",
        "max_failed_ratio: must be a number between 0 and 1 (got 5)",
    ),
    Case(
        "start_time_garbage",
        "Trigger",
        f"flow_id='{FLOW}', {WINDOW}, start_time=\"{{{{ 'soon' }}}}\"",
        "start_time: must be epoch seconds (e.g. 1700000000) or an ISO 8601 date-time with a time zone (got 'soon')",
    ),
    Case(
        "retrigger_run_id_rendered_empty",
        "Retrigger",
        "run_id='{{ params.empty }}'",
        "run_id: is empty; pass the id of the failed run to re-trigger",
    ),
    # -- the run sensor -----------------------------------------------------------------------------------------
    Case(
        "sensor_run_id_and_flow_id",
        "Sensor",
        f"run_id='{FLOW}', flow_id='{FLOW}'",
        "run_id/flow_id: give exactly one (flow_id finds the run of a window)",
    ),
    Case(
        "sensor_created_after_garbage",
        "Sensor",
        f"flow_id='{FLOW}', created_after=\"{{{{ 'yesterday' }}}}\"",
        "created_after: must be epoch seconds (e.g. 1700000000) or an ISO 8601 date-time with a time zone "
        "(got 'yesterday')",
    ),
    # -- ids and kinds ------------------------------------------------------------------------------------------
    Case(
        "set_state_flow_id_not_uuid",
        "SetState",
        "flow_id='orders flow', state='enabled'",
        f"flow_id: 'orders flow' is not a Flow Service entity id: give its UUID, e.g. {SPEC_EXAMPLE}",
    ),
    Case(
        "set_state_unknown_state",
        "SetState",
        f"flow_id='{FLOW}', state='on'",
        "state: must be 'enabled' or 'disabled' (got 'on')",
    ),
    Case(
        "delete_entity_id_rendered_empty",
        "Delete",
        "entity_id='{{ params.empty }}'",
        f"entity_id: '' is not a Flow Service entity id: give its UUID, e.g. {SPEC_EXAMPLE}",
    ),
    Case(
        "delete_nothing_given",
        "Delete",
        "",
        "entity_id: give exactly one of entity_id or dataflow_ids",
    ),
    Case(
        "delete_dataflow_ids_unknown_key",
        "Delete",
        f"dataflow_ids={{'flow': '{FLOW}'}}",
        "dataflow_ids: unknown key(s) flow; use base_connection_id, source_connection_id, target_connection_id, "
        "flow_id",
    ),
    Case(
        "publish_unknown_kind",
        "Publish",
        f"entity_id='{FLOW}', kind='pipelines'",
        "kind: must be one of flows, connections, sourceConnections, targetConnections (got 'pipelines')",
    ),
    Case(
        "publish_two_targets",
        "Publish",
        f"flow_id='{FLOW}', entity_id='{FLOW}'",
        "flow_id: give exactly one of flow_id, entity_id (with kind) or dataflow_ids (got flow_id and entity_id)",
    ),
    Case(
        "publish_dataflow_ids_empty",
        "Publish",
        "dataflow_ids={'flow_id': None}",
        "dataflow_ids: holds no id; pass create_dataflow.output",
    ),
    # -- JSON Patch updates ---------------------------------------------------------------------------------------
    Case(
        "update_path_not_a_pointer",
        "Update",
        f"entity_id='{FLOW}', ops=[{{'op': 'replace', 'path': 'name', 'value': 'x'}}]",
        "ops[0].path: must be a JSON pointer starting with '/', e.g. '/scheduleParams/interval' (got 'name')",
    ),
    Case(
        "update_unknown_op",
        "Update",
        f"entity_id='{FLOW}', ops=[{{'op': 'set', 'path': '/name', 'value': 'x'}}]",
        "ops[0].op: must be 'add', 'replace' or 'remove' (got 'set')",
    ),
    Case(
        "update_no_ops",
        "Update",
        f"entity_id='{FLOW}', ops=[]",
        "ops: must not be empty",
    ),
    Case(
        "update_schedule_every_5_minutes",
        "Update",
        f"entity_id='{FLOW}', ops=[{{'op': 'replace', 'path': '/scheduleParams', "
        "'value': {'start_time': 1704067200, 'frequency': 'minute', 'interval': 5}}]",
        "ops.scheduleParams.interval: must be at least 15 when frequency is 'minute' (got 5)",
    ),
    Case(
        "update_schedule_of_a_connection",
        "Update",
        f"entity_id='{FLOW}', kind='sourceConnections', "
        "ops=[{'op': 'replace', 'path': '/scheduleParams/interval', 'value': 2}]",
        "ops: only flows have /scheduleParams (kind is sourceConnections)",
    ),
    # -- specs, names and bodies of new entities ---------------------------------------------------------------
    Case(
        "base_connection_spec_by_name",
        "Base",
        "name='ACME S3', connection_spec_id='Amazon S3'",
        f"connection_spec_id: 'Amazon S3' is not a spec id: give its UUID, e.g. {SPEC_EXAMPLE}",
    ),
    Case(
        "base_connection_if_exists",
        "Base",
        "name='ACME S3', connection_spec_id='ecadc60c-7455-4d87-84dc-2a0e293d997b', if_exists='update'",
        "if_exists: must be 'reuse' or 'fail' (got 'update')",
    ),
    Case(
        "source_name_rendered_empty",
        "Source",
        "name='{{ params.empty }}', connection_spec_id='ecadc60c-7455-4d87-84dc-2a0e293d997b'",
        "name: must not be empty; give the entity a name unique in the sandbox",
    ),
    Case(
        "target_base_connection_id_not_uuid",
        "Target",
        "name='Lake', connection_spec_id='c604ff05-7f1a-43c0-8e18-33bf874cb11c', base_connection_id='my account'",
        f"base_connection_id: 'my account' is not a Flow Service entity id: give its UUID, e.g. {SPEC_EXAMPLE}",
    ),
    Case(
        "target_extra_body_sets_name",
        "Target",
        "name='Lake', connection_spec_id='c604ff05-7f1a-43c0-8e18-33bf874cb11c', extra_body={'name': 'Other'}",
        "extra_body: sets 'name', which the operator builds from its own arguments; use those arguments instead",
    ),
    Case(
        "flow_spec_id_and_name",
        "Flow",
        f"{LIVE_FLOW}, flow_spec_id='9753525b-82c7-4dce-8a9b-5ccfce2b9876', "
        "schedule_params={'start_time': 1704067200, 'frequency': 'once'}",
        "flow_spec_id: give exactly one of flow_spec_id (a UUID) or flow_spec_name (e.g. 'CloudStorageToAEP')",
    ),
    # -- source flow schedules -----------------------------------------------------------------------------------
    Case(
        "schedule_interval_rendered_not_a_number",
        "Flow",
        f"{LIVE_FLOW}, schedule_params={{'start_time': 1704067200, 'frequency': 'hour', "
        "'interval': \"{{ 'every' }}\"}",
        "schedule_params.interval: must be a whole number (got 'every')",
    ),
    Case(
        "schedule_frequency_daily",
        "Flow",
        f"{LIVE_FLOW}, schedule_params={{'start_time': 1704067200, 'frequency': \"{{{{ 'daily' }}}}\", 'interval': 1}}",
        "schedule_params.frequency: must be one of once, minute, hour, day, week (got 'daily')",
    ),
    Case(
        "schedule_start_time_ds",
        "Flow",
        f"{LIVE_FLOW}, schedule_params={{'start_time': '{{{{ ds }}}}', 'frequency': 'once'}}",
        "schedule_params.start_time: must be epoch seconds (e.g. 1700000000) or an ISO 8601 date-time with a time "
        "zone (got '2024-01-02')",
    ),
    Case(
        "schedule_missing_on_live_flow",
        "Flow",
        LIVE_FLOW,
        "schedule_params: a live flow needs a schedule, e.g. {'start_time': 1700000000, 'frequency': 'once'}; or "
        "create it with draft=True",
    ),
    # -- dataset export: destinations, targets, schedules -----------------------------------------------------
    Case(
        "export_destination_rendered",
        "Export",
        f"{S3_TARGET}, {S3_SCHEDULE}, destination=\"{{{{ 'S3' }}}}\", dataset_ids=['5ef3e3259ad2a1191ab7dd7d'], "
        "name='Nightly export', destination_conn_id='creds_s3'",
        "destination 'S3' is not a known export destination; use one of: adls_gen2, amazon_s3, azure_blob, "
        "data_landing_zone, google_cloud_storage, sftp",
    ),
    Case(
        "export_auth_spec_name",
        "Export",
        f"{S3}{S3_TARGET}, {S3_SCHEDULE}, destination_conn_id='creds_s3', auth_spec_name='Secret Key'",
        "auth_spec_name 'Secret Key' is not an auth method of Amazon S3; use one of 'Access Key'",
    ),
    Case(
        "export_bucket_name",
        "Export",
        f"{S3}{S3_SCHEDULE}, destination_conn_id='creds_s3', target={{'bucket_name': 'My_Bucket', 'path': 'x'}}",
        "target.bucket_name: bucket_name 'My_Bucket' is not a valid bucket name: 3-63 lower-case letters, digits, "
        "'.' or '-', starting and ending with a letter or digit",
    ),
    Case(
        "export_container_name",
        "Export",
        "destination='azure_blob', dataset_ids=['5ef3e3259ad2a1191ab7dd7d'], name='Nightly export', "
        f"{S3_SCHEDULE}, destination_conn_id='creds_s3', target={{'container': 'aep--exports', 'path': 'x'}}",
        "target.container: container 'aep--exports' is not a valid Azure container name: 3-63 lower-case letters, "
        "digits and single '-'",
    ),
    Case(
        "export_target_without_path",
        "Export",
        f"{S3}{S3_SCHEDULE}, destination_conn_id='creds_s3', target={{'bucket_name': 'aep-exports'}}",
        "target.path: is required",
    ),
    Case(
        "export_target_unknown_field",
        "Export",
        f"{S3}{S3_SCHEDULE}, destination_conn_id='creds_s3', "
        "target={'bucket_name': 'aep-exports', 'path': 'x', 'folder': 'y'}",
        "target.folder: unknown field; check the spelling (fields are snake_case, e.g. connection_spec_id)",
    ),
    Case(
        "export_file_type_csv",
        "Export",
        f"{S3}{S3_SCHEDULE}, destination_conn_id='creds_s3', "
        "target={'bucket_name': 'aep-exports', 'path': 'x', 'file_type': 'CSV'}",
        "target.file_type: Input should be 'JSON' or 'PARQUET' (got 'CSV')",
    ),
    Case(
        "export_schedule_start_in_ms",
        "Export",
        f"{S3}{S3_TARGET}, destination_conn_id='creds_s3', "
        "schedule={'time_unit': 'day', 'interval': 1, 'start_time': '{{ data_interval_end.int_timestamp * 1000 }}'}",
        "schedule.start_time: 1704153600000 looks like milliseconds; Flow Service wants epoch seconds here "
        "(use 1704153600)",
    ),
    Case(
        "export_name_rendered_blank",
        "Export",
        "destination='amazon_s3', dataset_ids=['5ef3e3259ad2a1191ab7dd7d'], name=\"{{ ' ' }}\", "
        f"{S3_TARGET}, {S3_SCHEDULE}, destination_conn_id='creds_s3'",
        "name: is empty; give the export flow a name",
    ),
    Case(
        "explore_source_params_empty",
        "Explore",
        f"base_connection_id='{FLOW}', source_params={{}}",
        "source_params: must be a non-empty dict such as {'campaignId': '...'} (got {})",
    ),
    Case(
        "explore_base_connection_rendered_empty",
        "Explore",
        "base_connection_id='{{ params.empty }}', source_params={'campaignId': 'c66a200cda'}",
        "base_connection_id: is empty; pass the id of the source's base connection",
    ),
    # -- the Flow Service connection (credentials, org, sandbox) -----------------------------------------------
    Case(
        "conn_without_sandbox",
        "SetState",
        f"flow_id='{FLOW}', state='enabled', flowservice_conn_id='fs_no_sandbox'",
        "Connection 'fs_no_sandbox' has no extra 'sandbox': add \"sandbox\": \"<name>\" to the extra (there is no "
        "default: name the production sandbox explicitly).",
    ),
    Case(
        "conn_empty_sandbox",
        "Trigger",
        f"flow_id='{FLOW}', {WINDOW}, flowservice_conn_id='fs_empty_sandbox'",
        "Connection 'fs_empty_sandbox' has no extra 'sandbox': add \"sandbox\": \"<name>\" to the extra (there is "
        "no default: name the production sandbox explicitly).",
    ),
    Case(
        "conn_upper_case_sandbox",
        "Publish",
        f"flow_id='{FLOW}', flowservice_conn_id='fs_upper_sandbox'",
        "Connection 'fs_upper_sandbox' extra 'sandbox' is 'Prod': sandbox names are all lower case.",
    ),
    Case(
        "conn_without_org",
        "Delete",
        f"entity_id='{FLOW}', flowservice_conn_id='fs_no_org'",
        "Connection 'fs_no_org' has no extra 'org_id': add \"org_id\": \"<ORG_ID>@AdobeOrg\" to the extra.",
    ),
    Case(
        "conn_org_not_adobe",
        "Sensor",
        f"run_id='{FLOW}', flowservice_conn_id='fs_bad_org'",
        "Connection 'fs_bad_org' extra 'org_id' is 'ACME': an IMS org id ends with '@AdobeOrg'.",
    ),
    Case(
        "conn_without_secret",
        "Explore",
        f"base_connection_id='{FLOW}', source_params={{'campaignId': 'c1'}}, flowservice_conn_id='fs_no_secret'",
        "Connection 'fs_no_secret' has no password (client secret): set password to the Developer Console client "
        "secret.",
    ),
    Case(
        "conn_without_client_id",
        "List",
        "flowservice_conn_id='fs_no_login'",
        "Connection 'fs_no_login' has no login (client id): set login to the Developer Console client id (API key).",
    ),
    # -- ids, connections, export credentials and schedules (found as gaps, fixed in the operators) ---------
    Case(
        "flow_id_rendered_empty",
        "Trigger",
        f"flow_id='{{{{ params.empty }}}}', {WINDOW}",
        f"flow_id: '' is not a Flow Service entity id: give its UUID, e.g. {SPEC_EXAMPLE}",
    ),
    Case(
        "flow_id_not_uuid",
        "Trigger",
        f"flow_id='orders flow', {WINDOW}",
        f"flow_id: 'orders flow' is not a Flow Service entity id: give its UUID, e.g. {SPEC_EXAMPLE}",
    ),
    Case(
        "delta_column_blank",
        "Trigger",
        f"flow_id='{FLOW}', {WINDOW}, delta_column=\"{{{{ ' ' }}}}\"",
        "delta_column: must be a column name or a dict (got ' ')",
    ),
    Case(
        "max_failed_ratio_text",
        "Trigger",
        f"flow_id='{FLOW}', {WINDOW}, max_failed_ratio='1%'",
        "max_failed_ratio: must be a number between 0 and 1 (got '1%')",
    ),
    Case(
        "sensor_run_id_not_uuid",
        "Sensor",
        "run_id='last run'",
        f"run_id: 'last run' is not a Flow Service entity id: give its UUID, e.g. {SPEC_EXAMPLE}",
    ),
    Case(
        "export_creds_without_login",
        "Export",
        f"{S3}{S3_TARGET}, {S3_SCHEDULE}, destination_conn_id='creds_no_login'",
        "destination_conn_id: connection 'creds_no_login' has no login for auth param 's3AccessKey'; set it on the "
        "connection",
    ),
    Case(
        "export_schedule_weekly",
        "Export",
        f"{S3}{S3_TARGET}, destination_conn_id='creds_s3', "
        "schedule={'time_unit': 'week', 'interval': 1, 'start_time': 1704067200}",
        "schedule.time_unit: Input should be 'hour' or 'day' (got 'week')",
    ),
    Case(
        "conn_not_defined",
        "SetState",
        f"flow_id='{FLOW}', state='disabled', flowservice_conn_id='fs_missing'",
        "flowservice_conn_id: connection 'fs_missing' is not defined; create it (connection type adobe_flowservice) "
        "or pass the id of an existing one",
    ),
    Case(
        "export_dataset_without_id",
        "Export",
        f"destination='amazon_s3', dataset_ids=[{{'name': 'AAM Devices'}}], name='Nightly export', {S3_TARGET}, "
        f"{S3_SCHEDULE}, destination_conn_id='creds_s3'",
        "dataset_ids: {'name': 'AAM Devices'} has no dataset id; give dataset ids, or dicts with 'id' as "
        "FlowServiceListExportableDatasetsOperator returns",
    ),
    # -- hardening: wait settings, delta_column content, non-finite numbers, ids in URLs, connection values ---
    Case(
        "trigger_poll_interval_zero",
        "Trigger",
        f"flow_id='{FLOW}', {WINDOW}, poll_interval=0",
        "poll_interval: must be a positive, finite number of seconds (got 0)",
    ),
    Case(
        "trigger_poll_interval_negative",
        "Trigger",
        f"flow_id='{FLOW}', {WINDOW}, poll_interval=-5",
        "poll_interval: must be a positive, finite number of seconds (got -5)",
    ),
    Case(
        "trigger_poll_interval_inf",
        "Trigger",
        f"flow_id='{FLOW}', {WINDOW}, poll_interval=float('inf')",
        "poll_interval: must be a positive, finite number of seconds (got inf)",
    ),
    Case(
        "trigger_poll_interval_nan",
        "Trigger",
        f"flow_id='{FLOW}', {WINDOW}, poll_interval=float('nan')",
        "poll_interval: must be a positive, finite number of seconds (got nan)",
    ),
    Case(
        "trigger_poll_interval_text",
        "Trigger",
        f"flow_id='{FLOW}', {WINDOW}, poll_interval='30'",
        "poll_interval: must be a positive, finite number of seconds (got '30')",
    ),
    Case(
        "trigger_timeout_zero",
        "Trigger",
        f"flow_id='{FLOW}', {WINDOW}, timeout=0",
        "timeout: must be a positive, finite number of seconds (got 0)",
    ),
    Case(
        "trigger_timeout_inf",
        "Trigger",
        f"flow_id='{FLOW}', {WINDOW}, timeout=float('inf')",
        "timeout: must be a positive, finite number of seconds (got inf)",
    ),
    Case(
        "trigger_timeout_none",
        "Trigger",
        f"flow_id='{FLOW}', {WINDOW}, timeout=None",
        "timeout: must be a positive, finite number of seconds (got None)",
    ),
    Case(
        "trigger_timeout_deferrable_nan",
        "Trigger",
        f"flow_id='{FLOW}', {WINDOW}, timeout=float('nan'), deferrable=True",
        "timeout: must be a positive, finite number of seconds (got nan)",
    ),
    Case(
        "retrigger_poll_interval_negative",
        "Retrigger",
        f"run_id='{FLOW}', poll_interval=-1",
        "poll_interval: must be a positive, finite number of seconds (got -1)",
    ),
    Case(
        "retrigger_timeout_inf",
        "Retrigger",
        f"run_id='{FLOW}', timeout=float('inf')",
        "timeout: must be a positive, finite number of seconds (got inf)",
    ),
    Case(
        "sensor_poke_interval_zero",
        "Sensor",
        f"run_id='{FLOW}', poke_interval=0",
        "poke_interval: must be a positive, finite number of seconds (got 0.0)",
    ),
    Case(
        "sensor_timeout_zero",
        "Sensor",
        f"run_id='{FLOW}', timeout=0",
        "timeout: must be a positive, finite number of seconds (got 0.0)",
    ),
    Case(
        "sensor_run_id_traversal",
        "Sensor",
        f"run_id='../runs/{FLOW}'",
        "run_id: '../runs/2edc08ac-4df5-4fe6-936f-81a19ce92f5c' is not a Flow Service entity id: "
        "give its UUID, e.g. 'c604ff05-7f1a-43c0-8e18-33bf874cb11c'",
    ),
    Case(
        "delta_column_nul",
        "Trigger",
        f"flow_id='{FLOW}', {WINDOW}, delta_column='updated\\x00at'",
        "delta_column: holds a control character, line break or NUL; give the column name as it i"
        "s (got 'updated\\x00at')",
    ),
    Case(
        "delta_column_newline",
        "Trigger",
        f"flow_id='{FLOW}', {WINDOW}, delta_column='updated\\nat'",
        "delta_column: holds a control character, line break or NUL; give the column name as it i"
        "s (got 'updated\\nat')",
    ),
    Case(
        "delta_column_too_long",
        "Trigger",
        f"flow_id='{FLOW}', {WINDOW}, delta_column='x' * 300",
        "delta_column: is 300 characters long; at most 256 (got 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…",
    ),
    Case(
        "delta_column_name_not_a_string",
        "Trigger",
        f"flow_id='{FLOW}', {WINDOW}, delta_column={{'name': 5}}",
        "delta_column.name: must be a string (got int 5)",
    ),
    Case(
        "delta_column_date_format_newline",
        "Trigger",
        f"flow_id='{FLOW}', {WINDOW}, delta_column={{'name': 'updated_at', 'dateFormat': 'yyyy\\nMM'}}",
        "delta_column.dateFormat: holds a control character, line break or NUL; give the column n"
        "ame as it is (got 'yyyy\\nMM')",
    ),
    Case(
        "delta_column_timezone_too_long",
        "Trigger",
        f"flow_id='{FLOW}', {WINDOW}, delta_column={{'name': 'updated_at', 'timezone': 'U' * 257}}",
        "delta_column.timezone: is 257 characters long; at most 256 (got 'UUUUUUUUUUUUUUUUUUUUUUU"
        "UUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUU"
        "UUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUU"
        "…",
    ),
    Case(
        "delta_column_number",
        "Trigger",
        f"flow_id='{FLOW}', {WINDOW}, delta_column=5",
        "delta_column: must be a column name or a dict (got 5)",
    ),
    Case(
        "max_failed_ratio_nan",
        "Trigger",
        f"flow_id='{FLOW}', {WINDOW}, max_failed_ratio=float('nan')",
        "max_failed_ratio: must be a number between 0 and 1 (got nan)",
    ),
    Case(
        "max_failed_records_inf",
        "Trigger",
        f"flow_id='{FLOW}', {WINDOW}, max_failed_records=float('inf')",
        "max_failed_records: must be an integer >= 0 (got inf)",
    ),
    Case(
        "set_state_flow_id_traversal",
        "SetState",
        f"flow_id='../flows/{FLOW}', state='enabled'",
        "flow_id: '../flows/2edc08ac-4df5-4fe6-936f-81a19ce92f5c' is not a Flow Service entity id"
        ": give its UUID, e.g. 'c604ff05-7f1a-43c0-8e18-33bf874cb11c'",
    ),
    Case(
        "trigger_flow_id_comma",
        "Trigger",
        f"flow_id='{FLOW},{FLOW}', {WINDOW}",
        "flow_id: '2edc08ac-4df5-4fe6-936f-81a19ce92f5c,2edc08ac-4df5-4fe6-936f-81a19ce92f5c' is "
        "not a Flow Service entity id: give its UUID, e.g. 'c604ff05-7f1a-43c0-8e18-33bf874cb11c'",
    ),
    Case(
        "trigger_flow_id_one_megabyte",
        "Trigger",
        f"flow_id='a' * 1_000_000, {WINDOW}",
        "flow_id: 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa… is not a Flow Service entity id: give its UUID, e.g. "
        "'c604ff05-7f1a-43c0-8e18-33bf874cb11c'",
    ),
    Case(
        "sensor_run_id_with_slash",
        "Sensor",
        f"run_id='{FLOW}/action'",
        "run_id: '2edc08ac-4df5-4fe6-936f-81a19ce92f5c/action' is not a Flow Service entity id: g"
        "ive its UUID, e.g. 'c604ff05-7f1a-43c0-8e18-33bf874cb11c'",
    ),
    Case(
        "sensor_flow_id_comma",
        "Sensor",
        f"flow_id='{FLOW},{FLOW}'",
        "flow_id: '2edc08ac-4df5-4fe6-936f-81a19ce92f5c,2edc08ac-4df5-4fe6-936f-81a19ce92f5c' is "
        "not a Flow Service entity id: give its UUID, e.g. 'c604ff05-7f1a-43c0-8e18-33bf874cb11c'",
    ),
    Case(
        "delete_entity_id_control_char",
        "Delete",
        "entity_id='2edc08ac\\x07-4df5-4fe6-936f-81a19ce92f5c'",
        "entity_id: '2edc08ac\\x07-4df5-4fe6-936f-81a19ce92f5c' is not a Flow Service entity id: g"
        "ive its UUID, e.g. 'c604ff05-7f1a-43c0-8e18-33bf874cb11c'",
    ),
    Case(
        "retrigger_run_id_traversal",
        "Retrigger",
        f"run_id='../flows/{FLOW}'",
        not_a_path_segment("run_id", f"../flows/{FLOW}"),
    ),
    Case(
        "retrigger_run_id_comma",
        "Retrigger",
        f"run_id='{FLOW},{FLOW}'",
        not_a_path_segment("run_id", f"{FLOW},{FLOW}"),
    ),
    Case(
        "publish_entity_id_traversal",
        "Publish",
        f"entity_id='../connections/{FLOW}', kind='flows'",
        "entity_id: '../connections/2edc08ac-4df5-4fe6-936f-81a19ce92f5c' is not a Flow Service e"
        "ntity id: give its UUID, e.g. 'c604ff05-7f1a-43c0-8e18-33bf874cb11c'",
    ),
    Case(
        "update_entity_id_comma",
        "Update",
        f"entity_id='{FLOW},x', ops=[{{'op': 'replace', 'path': '/name', 'value': 'x'}}]",
        "entity_id: '2edc08ac-4df5-4fe6-936f-81a19ce92f5c,x' is not a Flow Service entity id: giv"
        "e its UUID, e.g. 'c604ff05-7f1a-43c0-8e18-33bf874cb11c'",
    ),
    Case(
        "explore_base_connection_traversal",
        "Explore",
        "base_connection_id='../flows', source_params={'campaignId': 'c1'}",
        not_a_path_segment("base_connection_id", "../flows"),
    ),
    Case(
        "delete_dataflow_ids_flow_comma",
        "Delete",
        f"dataflow_ids={{'flow_id': '{FLOW},{FLOW}'}}",
        "dataflow_ids.flow_id: '2edc08ac-4df5-4fe6-936f-81a19ce92f5c,2edc08ac-4df5-4fe6-936f-81a1"
        "9ce92f5c' is not a Flow Service entity id: give its UUID, e.g. 'c604ff05-7f1a-43c0-8e18-"
        "33bf874cb11c'",
    ),
    Case(
        "base_connection_name_comma",
        "Base",
        "name='ACME, S3', connection_spec_id='ecadc60c-7455-4d87-84dc-2a0e293d997b'",
        "name: 'ACME, S3' contains ',', which the API's name filter reads as OR; remove it",
    ),
    Case(
        "source_name_newline",
        "Source",
        "name='Orders\\nsource', connection_spec_id='ecadc60c-7455-4d87-84dc-2a0e293d997b'",
        "name: 'Orders\\nsource' contains a control character; remove it",
    ),
    Case(
        "conn_sandbox_non_ascii",
        "SetState",
        f"flow_id='{FLOW}', state='enabled', flowservice_conn_id='fs_sandbox_accent'",
        "Connection 'fs_sandbox_accent' extra 'sandbox' is 'prød': it may hold only printable ASC"
        "II characters (no accents, control characters or line breaks).",
    ),
    Case(
        "conn_sandbox_line_break",
        "Trigger",
        f"flow_id='{FLOW}', {WINDOW}, flowservice_conn_id='fs_sandbox_newline'",
        "Connection 'fs_sandbox_newline' extra 'sandbox' is 'prod\\nx': it may hold only printable"
        " ASCII characters (no accents, control characters or line breaks).",
    ),
    Case(
        "conn_org_non_ascii",
        "Delete",
        f"entity_id='{FLOW}', flowservice_conn_id='fs_org_accent'",
        "Connection 'fs_org_accent' extra 'org_id' is 'ÄCME@AdobeOrg': it may hold only printable"
        " ASCII characters (no accents, control characters or line breaks).",
    ),
    Case(
        "conn_org_control_char",
        "Sensor",
        f"run_id='{FLOW}', flowservice_conn_id='fs_org_control'",
        "Connection 'fs_org_control' extra 'org_id' is 'ACME\\x01@AdobeOrg': it may hold only prin"
        "table ASCII characters (no accents, control characters or line breaks).",
    ),
    Case(
        "conn_client_id_header_injection",
        "Publish",
        f"flow_id='{FLOW}', flowservice_conn_id='fs_login_newline'",
        "Connection 'fs_login_newline' login (client id) is 'client\\r\\nX-Evil: 1': it may hold on"
        "ly printable ASCII characters (no accents, control characters or line breaks).",
    ),
    Case(
        "conn_client_id_non_ascii",
        "List",
        "flowservice_conn_id='fs_login_accent'",
        "Connection 'fs_login_accent' login (client id) is 'clïent': it may hold only printable A"
        "SCII characters (no accents, control characters or line breaks).",
    ),
    Case(
        "conn_extra_list",
        "SetState",
        f"flow_id='{FLOW}', state='enabled', flowservice_conn_id='fs_extra_list'",
        "Connection 'fs_extra_list' extra is a JSON list, not an object: give a JSON object such "
        'as {"org_id": "<ORG_ID>@AdobeOrg", "sandbox": "prod"}.',
    ),
    Case(
        "conn_extra_string",
        "Trigger",
        f"flow_id='{FLOW}', {WINDOW}, flowservice_conn_id='fs_extra_string'",
        "Connection 'fs_extra_string' extra is a JSON str, not an object: give a JSON object such"
        ' as {"org_id": "<ORG_ID>@AdobeOrg", "sandbox": "prod"}.',
    ),
    Case(
        "conn_extra_number",
        "Explore",
        f"base_connection_id='{FLOW}', source_params={{'campaignId': 'c1'}}, flowservice_conn_id='fs_extra_number'",
        "Connection 'fs_extra_number' extra is a JSON int, not an object: give a JSON object such"
        ' as {"org_id": "<ORG_ID>@AdobeOrg", "sandbox": "prod"}.',
    ),
    # -- Data Prep mapping sets ---------------------------------------------------------------------------
    Case(
        "mapping_unknown_source_type",
        "Mapping",
        f"output_schema_id='{SCHEMA}', mappings=[{{'source_type': 'COLUMN', 'source': 'first_name', "
        "'destination': 'person.name.firstName'}]",
        "mappings[0].source_type: must be one of ATTRIBUTE, EXPRESSION, STATIC (got 'COLUMN')",
    ),
    Case(
        "mapping_no_mappings",
        "Mapping",
        f"output_schema_id='{SCHEMA}', mappings=[]",
        "mappings: must not be empty",
    ),
    Case(
        "mapping_schema_not_an_id",
        "Mapping",
        f"output_schema_id='Customers', mappings={FIRST_NAME}",
        f"output_schema_id: must be the XDM schema's $id, a URI such as '{SCHEMA}' (got 'Customers')",
    ),
    Case(
        "mapping_destination_twice",
        "Mapping",
        f"output_schema_id='{SCHEMA}', mappings={FIRST_NAME} * 2",
        "mappings: [0] and [1] both map to 'person.name.firstName'; a destination takes one mapping",
    ),
    Case(
        "mapping_destination_with_space",
        "Mapping",
        f"output_schema_id='{SCHEMA}', mappings=[{{'source_type': 'ATTRIBUTE', 'source': 'first_name', "
        "'destination': 'person.first name'}]",
        "mappings[0].destination: must be an XDM field path of the output schema such as 'person.name.firstName' "
        "(got 'person.first name')",
    ),
    Case(
        "mapping_flow_id_traversal",
        "Mapping",
        f"output_schema_id='{SCHEMA}', mappings={FIRST_NAME}, flow_id='../flows/{FLOW}'",
        f"flow_id: '../flows/{FLOW}' is not a Flow Service entity id: give its UUID, e.g. {SPEC_EXAMPLE}",
    ),
    Case(
        "mapping_conversion_url_unknown",
        "Mapping",
        f"output_schema_id='{SCHEMA}', mappings={FIRST_NAME}, flowservice_conn_id='fs_api_url_elsewhere'",
        "Connection 'fs_api_url_elsewhere' has no extra 'conversion_url', and its api_url "
        "'http://127.0.0.1:9/flows' does not end with /flowservice, so the Data Prep (Conversion Service) URL "
        'cannot be derived: add "conversion_url": "https://platform.adobe.io/data/foundation/conversion" (or '
        "your gateway's equivalent) to the extra.",
    ),
    Case(
        "preview_no_mapping_set",
        "Preview",
        "rows=[{'first_name': 'Ada'}]",
        "mappings: give either mappings (with output_schema_id) or mapping_id (an existing mapping set)",
    ),
    Case(
        "preview_too_many_rows",
        "Preview",
        f"rows=[{{'first_name': 'Ada'}}] * 101, output_schema_id='{SCHEMA}', mappings={FIRST_NAME}",
        "rows: at most 100 sample rows can be previewed (got 101)",
    ),
    Case(
        "preview_mapping_id_traversal",
        "Preview",
        "rows=[{'first_name': 'Ada'}], mapping_id='../flows'",
        "mapping_id: '../flows' is not a mapping set id: give the 32-character id POST /mappingSets returned, "
        "e.g. 'e7c80e4c0d8f4a98a7d400b4e178b635'",
    ),
    Case(
        "dataflow_mapping_on_export_flow",
        "Dataflow",
        "config={**CSV_DATAFLOW, 'flow': {**CSV_DATAFLOW['flow'], 'flow_spec_name': None, "
        f"'flow_spec_id': '{S3_EXPORT_FLOW}'}}}}",
        f"config.mapping: the flow spec {S3_EXPORT_FLOW} (Amazon S3 dataset export) lists no Mapping transformation "
        "(transformationSpecs), so its flows take no mapping set; remove the mapping, or use a flow spec that maps "
        "data into a dataset (e.g. CloudStorageToAEP)",
    ),
    Case(
        "dataflow_mapping_mailchimp",
        "Dataflow",
        "config={**CSV_DATAFLOW, 'source_connection': {**CSV_DATAFLOW['source_connection'], "
        f"'connection_spec_id': '{MAILCHIMP}'}}}}",
        "config.mapping: Data Prep is not supported for Mailchimp Campaign sources (Adobe's Mailchimp Campaign "
        "source guide); remove the mapping",
    ),
    Case(
        "dataflow_mapping_twice",
        "Dataflow",
        "config={**CSV_DATAFLOW, 'flow': {**CSV_DATAFLOW['flow'], 'transformations': [{'name': 'Mapping', "
        "'params': {'mappingId': 'e7c80e4c0d8f4a98a7d400b4e178b635', 'mappingVersion': '0'}}]}}",
        "config.mapping: flow.transformations already has a Mapping transformation; give the mapping in one place "
        "(remove it from flow.transformations)",
    ),
    Case(
        "flow_mapping_on_export_flow",
        "Flow",
        f"name='Export', flow_spec_id='{S3_EXPORT_FLOW}', source_connection_ids=['{FLOW}'], "
        f"target_connection_ids=['{FLOW}'], {S3_SCHEDULE.replace('schedule=', 'schedule_params=')}, "
        "transformations=[{'name': 'Mapping', 'params': {'mappingId': 'e7c80e4c0d8f4a98a7d400b4e178b635'}}]",
        f"transformations: the flow spec {S3_EXPORT_FLOW} (Amazon S3 dataset export) lists no Mapping transformation "
        "(transformationSpecs), so its flows take no mapping set; remove the mapping, or use a flow spec that maps "
        "data into a dataset (e.g. CloudStorageToAEP)",
    ),
    Case(
        "conn_api_url_non_ascii",
        "Delete",
        f"entity_id='{FLOW}', flowservice_conn_id='fs_api_url_accent'",
        "Connection 'fs_api_url_accent' extra 'api_url' is 'http://127.0.0.1:9/ünïcode': it may hold only "
        "printable ASCII characters (no accents, control characters or line breaks).",
    ),
]

# A well-formed input that only the service can refuse (an unknown flow): proves the per-task request log
# does see calls, so the "no call" checks above can fail.
CONTROL: list[Case] = [
    Case("control_unknown_flow", "SetState", f"flow_id='{FLOW}', state='disabled'", "(the service answers 404)"),
]

HEADER = """
import pendulum
from airflow.sdk import DAG
from airflow_flowservice.operators import (
    FlowServiceCreateBaseConnectionOperator as Base,
    FlowServiceCreateDataflowOperator as Dataflow,
    FlowServiceCreateFlowOperator as Flow,
    FlowServiceCreateMappingSetOperator as Mapping,
    FlowServiceCreateSourceConnectionOperator as Source,
    FlowServiceCreateTargetConnectionOperator as Target,
    FlowServiceDatasetExportOperator as Export,
    FlowServiceDeleteOperator as Delete,
    FlowServiceExploreOperator as Explore,
    FlowServiceListExportableDatasetsOperator as List,
    FlowServicePreviewMappingOperator as Preview,
    FlowServicePublishOperator as Publish,
    FlowServiceRetriggerRunOperator as Retrigger,
    FlowServiceSetFlowStateOperator as SetState,
    FlowServiceTriggerRunOperator as Trigger,
    FlowServiceUpdateOperator as Update,
)
from airflow_flowservice.sensors import FlowServiceRunSensor as Sensor

# A CSV file from S3 into the data lake with a mapping (the cases change one part of it).
CSV_DATAFLOW = {{
    "source_connection": {{"name": "customers.csv", "connection_spec_id": "ecadc60c-7455-4d87-84dc-2a0e293d997b",
                          "data": {{"format": "delimited"}}, "params": {{"path": "/acme/customers.csv"}}}},
    "target_connection": {{"name": "Customers", "connection_spec_id": "c604ff05-7f1a-43c0-8e18-33bf874cb11c",
                          "params": {{"dataSetId": "6155e3a9bd13651949515f14"}}}},
    "mapping": {{"output_schema": "{schema}", "mappings": {first_name}}},
    "flow": {{"name": "Customers", "flow_spec_name": "CloudStorageToAEP",
             "schedule_params": {{"start_time": 1704067200, "frequency": "once"}}}},
}}

with DAG(
    "{dag_id}",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    params={{"empty": ""}},
    default_args={{"on_failure_callback": record_failure, "retries": 0}},
):
"""


def dag_source(dag_id: str, cases: list[Case]) -> str:
    """One DAG, one independent task per case (no dependencies between them)."""
    lines = [HEADER.format(dag_id=dag_id, schema=SCHEMA, first_name=FIRST_NAME)]
    for case in cases:
        sep = ", " if case.args else ""
        lines.append(f"    {case.operator}(task_id={case.id!r}{sep}{case.args})\n")
    return "".join(lines)


def _connections(emu: FlowServiceEmulator) -> dict[str, str]:
    s3 = '{"conn_type": "aws", "login": "AKIAEXAMPLE", "password": "s3-secret-value"}'
    return {
        "AIRFLOW_CONN_FLOWSERVICE_DEFAULT": conn_json(emu),
        "AIRFLOW_CONN_FS_NO_SANDBOX": conn_json(emu, extra={"sandbox": None}),
        "AIRFLOW_CONN_FS_EMPTY_SANDBOX": conn_json(emu, extra={"sandbox": ""}),
        "AIRFLOW_CONN_FS_UPPER_SANDBOX": conn_json(emu, extra={"sandbox": "Prod"}),
        "AIRFLOW_CONN_FS_NO_ORG": conn_json(emu, extra={"org_id": None}),
        "AIRFLOW_CONN_FS_BAD_ORG": conn_json(emu, extra={"org_id": "ACME"}),
        "AIRFLOW_CONN_FS_NO_SECRET": conn_json(emu, password=None),
        "AIRFLOW_CONN_FS_NO_LOGIN": conn_json(emu, login=None),
        "AIRFLOW_CONN_CREDS_S3": s3,
        "AIRFLOW_CONN_CREDS_NO_LOGIN": '{"conn_type": "aws", "password": "s3-secret-value"}',
        "AIRFLOW_CONN_FS_SANDBOX_ACCENT": conn_json(emu, extra={"sandbox": "prød"}),
        "AIRFLOW_CONN_FS_SANDBOX_NEWLINE": conn_json(emu, extra={"sandbox": "prod\nx"}),
        "AIRFLOW_CONN_FS_ORG_ACCENT": conn_json(emu, extra={"org_id": "ÄCME@AdobeOrg"}),
        "AIRFLOW_CONN_FS_ORG_CONTROL": conn_json(emu, extra={"org_id": "ACME\x01@AdobeOrg"}),
        "AIRFLOW_CONN_FS_LOGIN_NEWLINE": conn_json(emu, login="client\r\nX-Evil: 1"),
        "AIRFLOW_CONN_FS_LOGIN_ACCENT": conn_json(emu, login="clïent"),
        "AIRFLOW_CONN_FS_EXTRA_LIST": conn_raw_extra(emu, "[1, 2]"),
        "AIRFLOW_CONN_FS_EXTRA_STRING": conn_raw_extra(emu, '"prod"'),
        "AIRFLOW_CONN_FS_EXTRA_NUMBER": conn_raw_extra(emu, "42"),
        "AIRFLOW_CONN_FS_API_URL_ACCENT": conn_json(emu, extra={"api_url": "http://127.0.0.1:9/ünïcode"}),
        "AIRFLOW_CONN_FS_API_URL_ELSEWHERE": conn_json(emu, extra={"api_url": "http://127.0.0.1:9/flows"}),
    }


def conn_raw_extra(emu: FlowServiceEmulator, extra: str) -> str:
    """The emulator's connection with ``extra`` given as this raw JSON text (valid JSON, but not an object)."""
    conn = {"conn_type": "adobe_flowservice", "login": emu.client_id, "password": emu.client_secret, "extra": extra}
    return json.dumps(conn)


@pytest.fixture(scope="module")
def outcomes(
    module_emulator: FlowServiceEmulator, module_env: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, DagOutcome]:
    """Both DAGs, each run once; each outcome holds the request log of its own run."""
    for key, value in _connections(module_emulator).items():
        module_env.setenv(key, value)
    tmp = tmp_path_factory.mktemp("bad_input")
    result: dict[str, DagOutcome] = {}
    for dag_id, cases in (("bad_input", CASES), ("bad_input_control", CONTROL)):
        module_emulator.requests.clear()
        outcome = run_dag_source(dag_id, dag_source(dag_id, cases), Path(tmp))
        outcome.requests = module_emulator.requests.snapshot()
        result[dag_id] = outcome
    return result


def _check(outcome: DagOutcome, case: Case) -> None:
    assert outcome.states[case.id] == "failed", outcome.states[case.id]
    assert outcome.errors[case.id] == (case.error, case.message)
    assert outcome.requests_during(case.id) == []


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_fails_with_its_message_and_no_call(case: Case, outcomes: dict[str, DagOutcome]) -> None:
    _check(outcomes["bad_input"], case)


def test_the_whole_bad_input_dag_made_no_call(outcomes: dict[str, DagOutcome]) -> None:
    outcome = outcomes["bad_input"]
    assert set(outcome.errors) == {c.id for c in CASES}  # every task failed, and reported why
    assert outcome.requests == []  # token endpoint included


def test_the_request_log_does_record_calls(outcomes: dict[str, DagOutcome]) -> None:
    """The per-task request check can fail: a task that reaches the service is seen doing so."""
    control = outcomes["bad_input_control"]
    assert control.states["control_unknown_flow"] == "failed"
    assert control.errors["control_unknown_flow"][0] == "FlowServiceNotFoundError"
    assert f"POST /flows/{FLOW}/action" in control.requests_during("control_unknown_flow")


# -- checked when the operator is built (DAG parse time) -----------------------------------------------------


def test_trigger_without_run_or_flow_is_refused_when_built() -> None:
    from airflow_flowservice.triggers import FlowServiceRunTrigger

    with pytest.raises(ValueError, match="needs run_id") as info:
        FlowServiceRunTrigger(end_time=0.0, flow_id=FLOW)
    assert str(info.value) == "FlowServiceRunTrigger needs run_id, or flow_id and created_after_ms"


def test_misspelled_argument_is_refused_when_built() -> None:
    from airflow.sdk import DAG

    from airflow_flowservice.operators.runs import FlowServiceTriggerRunOperator

    with DAG("parse_time"), pytest.raises(TypeError) as info:
        FlowServiceTriggerRunOperator(task_id="t", flow_id=FLOW, max_failed_percent=1)
    assert str(info.value) == (
        "Invalid arguments were passed to FlowServiceTriggerRunOperator (task_id: t). Invalid arguments were:\n"
        "**kwargs: {'max_failed_percent': 1}"
    )


def test_docs_list_every_case_with_its_message() -> None:
    """docs/bad-input.md is the same table: every case id with its exact message (``|`` escaped)."""
    docs = (Path(__file__).resolve().parents[2] / "docs" / "bad-input.md").read_text()
    rows = {line.split(" | ")[0].strip("| `"): line for line in docs.splitlines() if line.startswith("| `")}
    rows = {key: line for key, line in rows.items() if "(" not in key}  # the parse-time rows are not tasks
    assert set(rows) == {c.id for c in CASES}
    for case in CASES:
        message = case.message if case.error == "FlowServiceConfigError" else f"{case.error}: {case.message}"
        assert message.replace("|", "\\|") in rows[case.id], case.id
