"""Hardening through the public API (hook, trigger, operators) against the emulator: ids that would
leave their path segment or widen a filter, token fetches under a failing IMS, header values httpx
cannot send, wait settings, failure semantics, and the emulator's paging as Adobe documents it."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from airflow_flowservice.client import FlowServiceClient, RetryPolicy
from airflow_flowservice.exceptions import (
    ECHO_LIMIT,
    FlowServiceConfigError,
    FlowServiceError,
    FlowServiceRunFailedError,
    FlowServiceServerError,
    FlowServiceTransportError,
)
from airflow_flowservice.hooks.connection import credentials_from_connection
from airflow_flowservice.hooks.flowservice import FlowServiceHook
from airflow_flowservice.kinds import EntityKind
from airflow_flowservice.testing.flows import create_table_flow, start_run
from airflow_flowservice.triggers.run import FlowServiceRunTrigger

pytestmark = pytest.mark.integration

FLOW = "2edc08ac-4df5-4fe6-936f-81a19ce92f5c"
RULE = "use letters, digits, '-', '_', '.' or '~' only, at most 256 (no '/', '..', ',', spaces or control characters)"


def _path_message(name: str, value: str) -> str:
    return f"{name}: {value!r} is not an id that fits in a URL path: {RULE}"


@pytest.mark.parametrize(
    ("call", "name", "value"),
    [
        (lambda h, v: h.delete_entity(EntityKind.FLOW, v), "entity_id", f"../flows/{FLOW}"),
        (lambda h, v: h.get_flow(v), "flow_id", f"{FLOW}/../../connections"),
        (lambda h, v: h.get_run(v), "run_id", "a\nb"),
        (lambda h, v: h.list_runs(v), "flow_id", f"{FLOW},{FLOW}"),
        (lambda h, v: h.list_runs(v, created_since_ms=0), "flow_id", f"{FLOW},x"),
        (lambda h, v: h.post_run(v, {}), "flow_id", f"{FLOW}/x"),
        (lambda h, v: h.retrigger_run(v), "run_id", "."),
        (lambda h, v: h.entity_action(EntityKind.SOURCE_CONNECTION, v, "enable"), "entity_id", "a/b"),
        (lambda h, v: h.patch_entity(EntityKind.FLOW, v, [], '"e"'), "entity_id", ".."),
        (lambda h, v: h.get_connection_spec(v), "spec_id", "x?y=1"),
        (lambda h, v: h.explore_preview(v, {"a": 1}), "base_connection_id", "%2e%2e"),
    ],
)
def test_hook_refuses_ids_that_leave_their_segment_and_sends_nothing(
    call: Any, name: str, value: str, flowservice_emulator: Any
) -> None:
    hook = FlowServiceHook()
    with pytest.raises(FlowServiceConfigError) as info:
        call(hook, value)
    assert str(info.value) == _path_message(name, value)
    assert list(flowservice_emulator.requests) == []  # not even a token


def test_the_traversal_that_deleted_a_flow_now_deletes_nothing(flowservice_emulator: Any) -> None:
    hook = FlowServiceHook()
    flow_id = create_table_flow(hook)
    flowservice_emulator.requests.clear()
    with pytest.raises(FlowServiceConfigError, match="entity_id: "):
        hook.delete_entity(EntityKind.SOURCE_CONNECTION, f"../flows/{flow_id}")
    assert hook.get_flow(flow_id).id == flow_id
    assert flowservice_emulator.calls(method="DELETE") == []


def test_requests_built_elsewhere_are_checked_where_they_are_built(flowservice_emulator: Any) -> None:
    client = FlowServiceHook().client
    with pytest.raises(FlowServiceConfigError, match=r"^request path '/flows/\.\./runs': every path segment"):
        client.request("DELETE", "/flows/../runs")
    with pytest.raises(
        FlowServiceConfigError, match=r"^property: .flowId==a,flowId==b. holds a control character, or a .,."
    ):
        client.request("GET", "/runs", params=[("property", "flowId==a,flowId==b")])
    assert list(flowservice_emulator.requests) == []


def test_a_failing_ims_gets_one_retry_budget(flowservice_emulator: Any) -> None:
    flowservice_emulator.faults.add("POST", "/ims/token/v3", "status", status=503, times=None)
    hook = FlowServiceHook()
    client = FlowServiceClient(hook.credentials, retry_policy=RetryPolicy(max_attempts=5), sleep=lambda s: None)
    with pytest.raises(FlowServiceServerError):
        client.request("GET", "/flows")
    tokens = [r for r in flowservice_emulator.requests if "/ims/" in r.path]
    assert len(tokens) == 5  # was 25: five token attempts inside each of five request attempts
    assert flowservice_emulator.calls(method="GET", path_prefix="/flows") == []


def test_a_dead_ims_fails_after_one_retry_budget(flowservice_emulator: Any) -> None:
    creds = FlowServiceHook().credentials
    dead = type(creds)(**{**creds.__dict__, "ims_url": "http://127.0.0.1:9/ims/token/v3"})
    waits: list[float] = []
    client = FlowServiceClient(dead, retry_policy=RetryPolicy(max_attempts=5, jitter=0), sleep=waits.append)
    began = time.monotonic()
    with pytest.raises(FlowServiceTransportError, match="could not connect"):
        client.request("POST", "/runs", json={}, retry_safe=False)
    assert waits == [1.0, 2.0, 4.0, 8.0]  # one budget: 4 backoffs for 5 attempts, not 24
    assert time.monotonic() - began < 5


@pytest.mark.parametrize(
    ("field", "extra", "login", "shown"),
    [
        ("extra 'sandbox'", {"sandbox": "prød"}, "cid", "'prød'"),
        ("extra 'org_id'", {"org_id": "ORG\r\n@AdobeOrg"}, "cid", "'ORG\\r\\n@AdobeOrg'"),
        ("login (client id)", {}, "cïd", "'cïd'"),
        ("login (client id)", {}, "c\x00d", "'c\\x00d'"),
    ],
)
def test_header_values_httpx_cannot_send_fail_the_connection_check(
    field: str, extra: dict[str, str], login: str, shown: str, flowservice_emulator: Any
) -> None:
    from airflow.sdk import Connection

    base = {"org_id": flowservice_emulator.org_id, "sandbox": flowservice_emulator.sandbox, **extra}
    conn = Connection(conn_id="fs", conn_type="adobe_flowservice", login=login, password="s", extra=json.dumps(base))
    message = (
        f"Connection 'fs' {field} is {shown}: it may hold only printable ASCII characters (no accents, "
        "control characters or line breaks)."
    )
    with pytest.raises(FlowServiceConfigError) as info:
        credentials_from_connection(conn)
    assert str(info.value) == message


def test_local_errors_are_config_errors_never_retried_nor_may_have_been_applied(flowservice_emulator: Any) -> None:
    client = FlowServiceHook().client
    waits: list[float] = []
    client._sleep = waits.append
    with pytest.raises(FlowServiceConfigError) as info:
        client.request("POST", "/runs", json={}, headers={"x-note": "caf\u00e9\n"}, retry_safe=False)
    assert "nothing was sent" in str(info.value) and "may have been applied" not in str(info.value)
    assert waits == []
    assert flowservice_emulator.calls(method="POST", path_prefix="/runs") == []


def test_connection_extra_that_is_not_an_object(flowservice_emulator: Any) -> None:
    from airflow.sdk import Connection

    conn = Connection(conn_id="fs", conn_type="adobe_flowservice", login="c", password="s", extra="[1, 2]")
    with pytest.raises(FlowServiceConfigError) as info:
        credentials_from_connection(conn)
    assert str(info.value) == (
        "Connection 'fs' extra is a JSON list, not an object: give a JSON object such as "
        '{"org_id": "<ORG_ID>@AdobeOrg", "sandbox": "prod"}.'
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"end_time": float("inf")}, "end_time: must be a positive, finite number of seconds (got inf)"),
        ({"end_time": "tomorrow"}, "end_time: must be a positive, finite number of seconds (got 'tomorrow')"),
        ({"end_time": 1e9, "poll_interval": 0}, "poll_interval: must be a positive, finite number of seconds (got 0)"),
        (
            {"end_time": 1e9, "poll_interval": float("nan")},
            "poll_interval: must be a positive, finite number of seconds (got nan)",
        ),
    ],
)
def test_trigger_checks_its_wait_settings(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(FlowServiceConfigError) as info:
        FlowServiceRunTrigger(run_id=FLOW, **kwargs)
    assert str(info.value) == message


def test_config_and_run_failed_errors_fail_without_retry() -> None:
    """Raised by a task they are AirflowFailExceptions too; the HTTP core knows nothing of Airflow."""
    from airflow_flowservice._compat import AirflowFailException
    from airflow_flowservice.operators.failures import for_airflow

    for error in (FlowServiceConfigError("x: bad"), FlowServiceRunFailedError("run r failed")):
        as_raised = for_airflow(error)
        assert isinstance(as_raised, AirflowFailException) and isinstance(as_raised, type(error))
        assert (str(as_raised), type(as_raised).__name__) == (str(error), type(error).__name__)
        assert not issubclass(type(error), AirflowFailException)
    transient = FlowServiceServerError("503", status=503)
    assert for_airflow(transient) is transient  # transient: Airflow may retry


def test_echoed_input_is_capped(flowservice_emulator: Any) -> None:
    with pytest.raises(FlowServiceConfigError) as info:
        FlowServiceHook().get_flow("a" * 1_000_000)
    text = str(info.value)
    assert len(text) < 2 * ECHO_LIMIT + 200
    assert "'" + "a" * (ECHO_LIMIT - 1) + "…" in text  # the quoted id, cut at ECHO_LIMIT characters
    assert len(str(FlowServiceError("x " * 5000))) <= 2001


def test_next_href_carries_only_the_token_and_aepp_style_paging_works(flowservice_emulator: Any) -> None:
    hook = FlowServiceHook()
    flow_id = create_table_flow(hook)
    for day in range(3):
        start_run(hook, flow_id, 86400 * (day + 1), 86400 * (day + 2), start_time=0, delta_column={"name": "u"})
    creds, token = hook.credentials, hook.client.token()
    headers = {"Authorization": f"Bearer {token}", "x-api-key": creds.client_id, "x-gw-ims-org-id": creds.org_id}
    headers["x-sandbox-name"] = creds.sandbox
    seen: list[str] = []
    params: list[tuple[str, str]] = [("property", f"flowId=={flow_id}"), ("limit", "1")]
    with httpx.Client(base_url=creds.api_url, headers=headers) as http:
        while True:
            body = http.get("/runs", params=params).raise_for_status().json()
            seen += [item["id"] for item in body["items"]]
            href = body["_links"].get("next", {}).get("href")
            if not href:
                break
            query = parse_qsl(urlsplit(href).query)
            assert urlsplit(href).path == "/runs" and [k for k, _ in query] == ["continuationToken"]
            # what Adobe's Python SDK (aepp) sends next: the token and a bare 'property'
            params = [*query, ("property", "")]
    assert len(seen) == 3 and len(set(seen)) == 3


def test_trigger_refuses_ids_that_leave_their_segment() -> None:
    with pytest.raises(FlowServiceConfigError) as info:
        FlowServiceRunTrigger(run_id=f"{FLOW},{FLOW}", end_time=1e9)
    assert str(info.value) == _path_message("run_id", f"{FLOW},{FLOW}")
