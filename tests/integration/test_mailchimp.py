"""The Mailchimp campaign workflow (seed 004) from its example DAG, for both auth types."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pendulum
import pytest

from airflow_flowservice.specs import MAILCHIMP_CAMPAIGN_SPEC_ID, MAILCHIMP_FLOW_SPEC_ID

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[2] / "example_dags" / "mailchimp_campaigns.py"
CONN = {"conn_type": "http", "host": "https://us6.api.mailchimp.com/3.0/", "login": "acme", "password": "mc-secret-key"}


@pytest.mark.parametrize(
    ("auth", "params"),
    [
        (
            "Basic Authentication",
            {"authorizationTestUrl": CONN["host"], "username": "acme", "password": "mc-secret-key"},
        ),
        ("oAuth2RefreshCode", {"accessToken": "mc-secret-key"}),
    ],
)
def test_mailchimp_workflow_end_to_end(
    auth: str, params: dict[str, str], flowservice_emulator: Any, load_dag: Any, monkeypatch: Any
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_MAILCHIMP", json.dumps(CONN))
    source = EXAMPLE.read_text().replace('AUTH = "Basic Authentication"', f"AUTH = {auth!r}")
    assert f"AUTH = {auth!r}" in source
    dag = load_dag("mailchimp_campaigns", source=source)
    assert dag.test(logical_date=pendulum.now("UTC")).state == "success"

    log = [(r.method, r.path) for r in flowservice_emulator.requests if r.path != "/ims/token/v3"]
    posts = {r.path: r.body for r in flowservice_emulator.calls(method="POST")}
    base = posts["/connections"]
    assert base["connectionSpec"]["id"] == MAILCHIMP_CAMPAIGN_SPEC_ID
    assert base["auth"] == {"specName": auth, "params": params}
    assert posts["/sourceConnections"]["params"] == {"campaignId": "c66a200cda"}
    assert posts["/sourceConnections"]["data"] == {"format": "json"}
    assert posts["/targetConnections"]["data"]["format"] == "parquet_xdm"
    flow = posts["/flows"]
    assert flow["flowSpec"]["id"] == MAILCHIMP_FLOW_SPEC_ID
    assert flow["scheduleParams"]["frequency"] == "minute"
    assert flow["scheduleParams"]["interval"] == 15

    (explore,) = [r for r in flowservice_emulator.requests if r.path.endswith("/explore")]
    encoded = dict(parse_qsl(explore.query))["sourceParams"]
    assert json.loads(base64.b64decode(encoded)) == {"campaignId": "c66a200cda"}

    (patch,) = flowservice_emulator.calls(method="PATCH")
    assert patch.body == [
        {"op": "replace", "path": "/scheduleParams/frequency", "value": "hour"},
        {"op": "replace", "path": "/scheduleParams/interval", "value": 1},
    ]
    deletes = [path.split("/")[1] for method, path in log if method == "DELETE"]
    assert deletes[0] == "flows"  # the flow goes first, then its connections and the account
    assert "connections" in deletes
    assert flowservice_emulator.calls(method="GET", path_prefix="/runs")
