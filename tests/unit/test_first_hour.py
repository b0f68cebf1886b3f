"""The first hour of a user in the Airflow UI (issue 28): the connection form, masking, links, dates, templates.

The browser side (the form as Airflow 3.3 renders it, the run link on the Details tab) is checked in the
deployment tier (``tests/deployment/test_first_hour.py``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from datetime import datetime, timezone
from typing import Any

import pytest

from airflow_flowservice import get_provider_info
from airflow_flowservice.auth import DEFAULT_API_URL, DEFAULT_IMS_URL, DEFAULT_SCOPES
from airflow_flowservice.exceptions import FlowServiceConfigError
from airflow_flowservice.hooks.connection import credentials_from_connection
from airflow_flowservice.ui import run_url

ORG = "ABC123@AdobeOrg"
FLOW = "c9cef9cb-c934-4467-8ef9-cbc934546741"
RUN = "9830305a-985f-47d0-b030-5a985fd7d004"


def _conn(**extra: Any) -> Any:
    from airflow_flowservice._compat import Connection

    return Connection(
        conn_id="fs",
        conn_type="adobe_flowservice",
        login="cid",
        password="client-secret-value",
        extra=json.dumps({"org_id": ORG, "sandbox": "dev", **extra}),
    )


# -- the connection form: defaults are suggestions, never values ------------------------------------------


def test_form_defaults_are_suggestions_not_values_written_into_the_extra() -> None:
    fields = get_provider_info()["connection-types"][0]["conn-fields"]
    for name, default in (("scopes", DEFAULT_SCOPES), ("ims_url", DEFAULT_IMS_URL), ("api_url", DEFAULT_API_URL)):
        schema = fields[name]["schema"]
        assert "default" not in schema, name  # Airflow's form would write it into every saved extra
        assert schema["examples"] == [default], name  # the one suggestion the form offers
        assert default in fields[name]["description"], name
        assert "null" in schema["type"], name  # an empty field is allowed: it means the default


def test_airflow_gives_the_form_no_value_for_a_defaulted_field() -> None:
    """What the api-server hands the UI for our extra fields (Airflow's own conversion): no value to save."""
    from airflow.providers_manager import ProvidersManager

    widgets = ProvidersManager().connection_form_widgets
    if "extra__adobe_flowservice__scopes" not in widgets:
        pytest.skip("this Airflow does not build connection forms from provider info's conn-fields")
    for name in ("scopes", "ims_url", "api_url", "ui_tenant"):
        field = widgets[f"extra__adobe_flowservice__{name}"].field
        assert field["value"] is None, (name, field)
        assert field["schema"]["title"], name


def test_an_extra_without_the_defaulted_keys_means_the_defaults() -> None:
    creds = credentials_from_connection(_conn())
    assert (creds.scopes, creds.ims_url, creds.api_url, creds.ui_tenant) == (
        DEFAULT_SCOPES,
        DEFAULT_IMS_URL,
        DEFAULT_API_URL,
        None,
    )
    # what a form saves for a field left empty: null
    creds = credentials_from_connection(_conn(scopes=None, ims_url=None, api_url=None, ui_tenant=None))
    assert (creds.scopes, creds.ims_url, creds.api_url, creds.ui_tenant) == (
        DEFAULT_SCOPES,
        DEFAULT_IMS_URL,
        DEFAULT_API_URL,
        None,
    )


def test_ui_tenant_is_read_and_checked() -> None:
    assert credentials_from_connection(_conn(ui_tenant=" acme ")).ui_tenant == "acme"
    with pytest.raises(FlowServiceConfigError, match="extra 'ui_tenant' is 'acme/x': give the name after '@'"):
        credentials_from_connection(_conn(ui_tenant="acme/x"))


def test_an_extra_that_is_not_json_is_a_config_error() -> None:
    conn = _conn()
    conn.extra = "{not json"
    with pytest.raises(FlowServiceConfigError, match="Connection 'fs' extra is not valid JSON"):
        credentials_from_connection(conn)


# -- links ----------------------------------------------------------------------------------------------


def test_run_links_of_sources_and_destinations() -> None:
    assert run_url(ORG, "dev", FLOW, RUN) == (
        f"https://experience.adobe.com/#/@{ORG}/sname:dev/platform/source/dataflows/{FLOW}/activity/{RUN}"
    )
    assert run_url(ORG, "dev", FLOW, RUN, tenant="acme") == (
        f"https://experience.adobe.com/#/@acme/sname:dev/platform/source/dataflows/{FLOW}/activity/{RUN}"
    )
    assert run_url(ORG, "prod", FLOW, RUN, tenant="acme", destination=True) == (
        f"https://experience.adobe.com/#/@acme/sname:prod/platform/destination/browse/{FLOW}"
    )


def test_destination_flows_are_told_apart() -> None:
    from types import SimpleNamespace

    from airflow_flowservice.specs import DESTINATIONS, is_destination_flow

    s3 = DESTINATIONS["amazon_s3"].flow_spec_id
    marked = SimpleNamespace(inherited_attributes={"properties": {"isDestinationFlow": True}}, flow_spec=None)
    by_spec = SimpleNamespace(inherited_attributes=None, flow_spec=SimpleNamespace(id=s3))
    source = SimpleNamespace(inherited_attributes={}, flow_spec=SimpleNamespace(id="14518937-270c-4525"))
    assert [is_destination_flow(f) for f in (marked, by_spec, source)] == [True, True, False]


# -- dates ----------------------------------------------------------------------------------------------


def test_instants_read_as_dates_with_the_epoch_alongside() -> None:
    from airflow_flowservice.validation import describe_instant, iso_utc

    assert iso_utc(1796635608) == "2026-12-07T09:26:48Z"
    assert describe_instant(1796635608) == "2026-12-07T09:26:48Z (1796635608)"
    assert datetime.fromisoformat(iso_utc(0).replace("Z", "+00:00")) == datetime(1970, 1, 1, tzinfo=timezone.utc)


def test_plan_shows_the_date_of_a_schedule_start_time() -> None:
    from airflow_flowservice.as_code.plan import _when

    assert _when({"op": "replace", "path": "/scheduleParams/startTime", "value": 1796635608}) == (
        "  (2026-12-07T09:26:48Z)"
    )
    assert _when({"op": "replace", "path": "/scheduleParams/interval", "value": 3}) == ""


# -- masking: nothing of ours makes Airflow warn "too short to mask" ---------------------------------------

_MASKING_PROBE = textwrap.dedent(
    """
    import json, logging, sys
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(levelname)s %(message)s")
    from airflow_flowservice._compat import Connection
    conn = Connection(conn_id="fs", conn_type="adobe_flowservice", login="cid", password="client-secret-value",
                      extra=json.dumps({"org_id": "ABC123@AdobeOrg", "sandbox": "dev",
                                        "client_secret_extra": "a-long-secret-value"}))
    if sys.argv[1] == "extra_dejson":      # Airflow's own accessor: the control
        conn.extra_dejson
    elif sys.argv[1] == "hook":            # the provider's way to read our connection
        from airflow_flowservice.hooks.flowservice import credentials_from_connection
        print("sandbox", credentials_from_connection(conn).sandbox)
    elif sys.argv[1] == "auth_params":     # a source's credentials connection with a short value
        from airflow_flowservice._compat import mask_secret
        mask_secret("acme", "project")
        mask_secret("abc", "password")
    try:
        from airflow.sdk._shared.secrets_masker import redact
    except ImportError:  # Airflow < 3.2
        from airflow.sdk.execution_time.secrets_masker import redact
    print("redacted", redact("token a-long-secret-value"))
    """
)


def _probe(mode: str) -> str:
    """The probe's output (stdout and stderr: Airflow's structlog writes its warnings to either)."""
    # Outside unit-test mode: Airflow's unit-test configuration does not set up the masker as deployments do.
    env = {k: v for k, v in os.environ.items() if k != "AIRFLOW__CORE__UNIT_TEST_MODE"}
    done = subprocess.run(
        [sys.executable, "-c", _MASKING_PROBE, mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, done.stdout
    return done.stdout


def test_airflow_warns_on_short_extras_and_the_provider_does_not_make_it() -> None:
    control = _probe("extra_dejson")
    if "too short" not in control:
        pytest.skip("this Airflow's masker does not warn about short values")
    assert "Skipping masking for a secret as it's too short" in control  # the sandbox "dev" does it
    for mode in ("hook", "auth_params"):
        assert "too short" not in _probe(mode), mode
    hook = _probe("hook")
    assert "sandbox dev" in hook
    assert "redacted token ***" in hook  # a sensitive extra is still masked, by its key's name


# -- one message for a run without a data interval --------------------------------------------------------


def _tasks() -> dict[str, Any]:
    from airflow.sdk import DAG

    from airflow_flowservice.operators import (
        FlowServiceCreateFlowOperator,
        FlowServiceDatasetExportOperator,
        FlowServiceTriggerRunOperator,
    )
    from airflow_flowservice.sensors import FlowServiceRunSensor

    with DAG("no_interval", schedule=None, start_date=datetime(2026, 1, 1, tzinfo=timezone.utc)):
        return {
            "export": FlowServiceDatasetExportOperator(
                task_id="export",
                destination="amazon_s3",
                dataset_ids=["5ef3e3259ad2a1191ab7dd7d"],
                target={"bucket_name": "b", "path": "p"},
                schedule={"time_unit": "hour", "interval": 3, "start_time": "{{ data_interval_end.int_timestamp }}"},
                destination_conn_id="s3",
                name="export",
            ),
            "flow": FlowServiceCreateFlowOperator(
                task_id="flow",
                name="f",
                flow_spec_id="spec",
                source_connection_ids=["s"],
                target_connection_ids=["t"],
                schedule_params={"start_time": "{{ data_interval_end.int_timestamp }}", "frequency": "once"},
            ),
            "sensor": FlowServiceRunSensor(
                task_id="sensor", flow_id=FLOW, created_after="{{ data_interval_end.int_timestamp }}"
            ),
            "run": FlowServiceTriggerRunOperator(
                task_id="run", flow_id=FLOW, window_start="{{ data_interval_start }}", window_end="{{ ds }}"
            ),
        }


@pytest.mark.parametrize(
    ("task", "field"), [("export", "schedule"), ("flow", "schedule_params"), ("sensor", "created_after")]
)
def test_templating_a_missing_data_interval_gives_the_run_operators_message(task: str, field: str) -> None:
    from airflow_flowservice._compat import AirflowFailException
    from airflow_flowservice.runs.windows import NO_INTERVAL_WHY

    op = _tasks()[task]
    with pytest.raises(FlowServiceConfigError) as raised:
        op.render_template_fields({"dag_run": None, "ti": None})  # a run triggered with logical_date null
    message = str(raised.value)
    assert message.startswith(f"{field}: this DAG run has no data interval, and {field} templates it")
    assert NO_INTERVAL_WHY in message
    assert "Trigger the run with a logical date" in message
    assert isinstance(raised.value, AirflowFailException)  # no retry can give the run a data interval


def test_templates_render_as_usual_with_a_data_interval() -> None:
    import pendulum

    end = pendulum.datetime(2026, 1, 2, tz="UTC")
    op = _tasks()["export"]
    op.render_template_fields({"data_interval_start": end.subtract(days=1), "data_interval_end": end})
    assert op.schedule["start_time"] == str(end.int_timestamp)


def test_a_templated_run_window_names_its_field() -> None:
    op = _tasks()["run"]
    with pytest.raises(FlowServiceConfigError, match=r"^window_start: this DAG run has no data interval"):
        op.render_template_fields({})
