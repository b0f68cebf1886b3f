"""Entity operators against a scripted Flow Service (httpx.MockTransport): the paths an emulator run
does not reach easily (adopting after an ambiguous create, 412 reports, auth from a connection)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from airflow.sdk import Connection

from airflow_flowservice.client import FlowServiceClient, RetryPolicy
from airflow_flowservice.dataflows.catalog import clear_spec_cache
from airflow_flowservice.exceptions import (
    FlowServiceConfigError,
    FlowServiceConflictError,
    FlowServiceEntityExistsError,
    FlowServiceNotFoundError,
    FlowServiceServerError,
)
from airflow_flowservice.hooks.flowservice import FlowServiceHook
from airflow_flowservice.operators.entities import (
    FlowServiceCreateBaseConnectionOperator,
    FlowServiceCreateSourceConnectionOperator,
)
from airflow_flowservice.operators.lifecycle import FlowServiceDeleteOperator, FlowServiceSetFlowStateOperator
from airflow_flowservice.operators.publish import FlowServicePublishOperator
from airflow_flowservice.operators.update import FlowServiceUpdateOperator
from tests.unit.fake_service import CREDS, FakeService, reply

AZURE = "be5ec48c-5b78-49d5-b8fa-7c89ec4569b8"
BASE = "f9377f50-607a-4818-b77f-50607a181860"
SOURCE = "26b53912-1005-49f0-b539-12100559f0e2"
TARGET = "dbc5c132-bc2a-4625-85c1-32bc2a262558"
FLOW = "c9751426-dff8-49b0-965f-50defcf4187b"
ETAG_1 = '"1a0037e4-0000-0200-0000-602e06f60000"'
ETAG_2 = '"2b0037e4-0000-0200-0000-602e06f60000"'

AZURE_SPEC = {
    "id": AZURE,
    "name": "azure-file-storage",
    "authSpec": [
        {
            "name": "Basic Authentication",
            "spec": {
                "properties": {
                    "host": {"type": "string"},
                    "userid": {"type": "string"},
                    "password": {"type": "string", "format": "password"},
                },
                "required": ["host", "userid", "password"],
            },
        }
    ],
    "attributes": {"isDraftModeSupported": True},
}


class FakeTI:
    def __init__(self) -> None:
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = value


Route = Callable[[httpx.Request], httpx.Response]


class Router(FakeService):
    """FakeService answering by ``"METHOD /path"`` (path relative to the API base); unrouted calls fail."""

    def __init__(self) -> None:
        super().__init__()
        self.routes: dict[str, list[Route]] = {}
        self.calls: list[str] = []

    def on(self, key: str, *responders: Route) -> None:
        self.routes.setdefault(key, []).extend(responders)

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == "ims.test":
            return super().handler(request)
        path = request.url.path.removeprefix("/data/foundation/flowservice")
        key = f"{request.method} {path}"
        # A space in the query as httpx >= 0.28 writes it ("+"; 0.27, our floor, writes "%20": the same to a server).
        query = request.url.query.decode().replace("%20", "+")
        self.calls.append(f"{key}?{query}" if query else key)
        queue = self.routes.get(key)
        if not queue:
            return httpx.Response(599, json={"message": f"unrouted {key}"})
        return queue.pop(0)(request) if len(queue) > 1 else queue[0](request)


@pytest.fixture
def service() -> Router:
    clear_spec_cache()
    return Router()


def make_hook(service: Router) -> FlowServiceHook:
    hook = FlowServiceHook(retry_policy=RetryPolicy(max_attempts=1))
    hook.__dict__["credentials"] = CREDS
    hook.__dict__["client"] = FlowServiceClient(CREDS, transport=service.transport, sleep=lambda _: None)
    return hook


def run(op: Any, service: Router) -> tuple[Any, FakeTI]:
    op.__dict__["hook"] = make_hook(service)
    ti = FakeTI()
    return op.execute({"ti": ti}), ti


def items(*entities: dict[str, Any]) -> Route:
    return reply(200, {"items": list(entities)})


# -- create ---------------------------------------------------------------------------------------


def test_create_base_connection_takes_auth_from_an_airflow_connection(
    service: Router, monkeypatch: pytest.MonkeyPatch
) -> None:
    masked: list[str] = []
    monkeypatch.setattr("airflow.sdk.log.mask_secret", lambda value, name=None: masked.append(value))
    account = Connection(
        conn_id="azure_files",
        conn_type="generic",
        login="acme-user",
        password="very-secret-key",
        extra=json.dumps({"host": "acme.file.core.windows.net"}),
    )
    monkeypatch.setattr(FlowServiceHook, "get_connection", classmethod(lambda cls, conn_id: account))
    sent: list[Any] = []

    def created(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return httpx.Response(201, json={"id": BASE, "etag": ETAG_1})

    service.on("GET /connections", items())
    service.on(f"GET /connectionSpecs/{AZURE}", items(AZURE_SPEC))
    service.on("POST /connections", created)
    op = FlowServiceCreateBaseConnectionOperator(
        task_id="base",
        name="ACME base",
        connection_spec_id=AZURE,
        auth_spec_name="Basic Authentication",
        auth_params_from_conn_id="azure_files",
        auth_conn_fields={"userid": "login", "password": "password", "host": "extra.host"},
        draft=True,
    )
    result, ti = run(op, service)
    assert result == BASE
    assert ti.xcom == {"id": BASE, "etag": ETAG_1, "created": True}
    assert sent[0]["auth"] == {
        "specName": "Basic Authentication",
        "params": {"userid": "acme-user", "password": "very-secret-key", "host": "acme.file.core.windows.net"},
    }
    assert "very-secret-key" in masked and "acme-user" not in masked
    assert service.calls == [
        "GET /connections?property=name%3D%3D%22ACME+base%22",
        f"GET /connectionSpecs/{AZURE}",
        "POST /connections?mode=draft",
    ]


def test_missing_auth_param_fails_before_creating(service: Router) -> None:
    service.on("GET /connections", items())
    service.on(f"GET /connectionSpecs/{AZURE}", items(AZURE_SPEC))
    op = FlowServiceCreateBaseConnectionOperator(
        task_id="base",
        name="ACME base",
        connection_spec_id=AZURE,
        auth_spec_name="Basic Authentication",
        auth_params={"host": "h", "userId": "u"},
    )
    with pytest.raises(FlowServiceConfigError) as info:
        run(op, service)
    assert info.value.message == (
        "auth_params: missing 'password', required by auth spec 'Basic Authentication' of connection spec "
        f"{AZURE} (azure-file-storage); add them to auth_params or to the Airflow connection named by "
        "auth_params_from_conn_id"
    )
    assert not [c for c in service.calls if c.startswith("POST")]


def test_unknown_auth_spec_name_lists_the_choices(service: Router) -> None:
    service.on("GET /connections", items())
    service.on(f"GET /connectionSpecs/{AZURE}", items(AZURE_SPEC))
    op = FlowServiceCreateBaseConnectionOperator(
        task_id="base", name="b", connection_spec_id=AZURE, auth_spec_name="OAuth", auth_params={}
    )
    with pytest.raises(FlowServiceConfigError) as info:
        run(op, service)
    assert info.value.message == (
        f"auth_spec_name: 'OAuth' is not an auth spec of connection spec {AZURE} (azure-file-storage); "
        "use one of 'Basic Authentication'"
    )


def test_a_create_answered_5xx_is_adopted_when_it_was_applied(service: Router) -> None:
    existing = {"id": SOURCE, "name": "src", "connectionSpec": {"id": AZURE}, "baseConnectionId": BASE}
    service.on("GET /sourceConnections", items(), items(existing))
    service.on("POST /sourceConnections", reply(502, {"error_code": "502", "message": "Bad gateway"}))
    op = FlowServiceCreateSourceConnectionOperator(
        task_id="src", name="src", connection_spec_id=AZURE, base_connection_id=BASE
    )
    result, ti = run(op, service)
    assert result == SOURCE and ti.xcom["created"] is True
    assert [c.split("?")[0] for c in service.calls] == [
        "GET /sourceConnections",
        "POST /sourceConnections",
        "GET /sourceConnections",
    ]


def test_a_create_answered_5xx_and_not_applied_raises(service: Router) -> None:
    service.on("GET /sourceConnections", items())
    service.on("POST /sourceConnections", reply(503, {"error_code": "503", "message": "Unavailable"}))
    op = FlowServiceCreateSourceConnectionOperator(task_id="src", name="src", connection_spec_id=AZURE)
    with pytest.raises(FlowServiceServerError):
        run(op, service)
    assert [c.split("?")[0] for c in service.calls].count("POST /sourceConnections") == 1


def test_reuse_refuses_a_connection_of_another_base(service: Router) -> None:
    other = "aaaaaaaa-607a-4818-b77f-50607a181860"
    existing = {"id": SOURCE, "name": "src", "connectionSpec": {"id": AZURE}, "baseConnectionId": other}
    service.on("GET /sourceConnections", items(existing))
    op = FlowServiceCreateSourceConnectionOperator(
        task_id="src", name="src", connection_spec_id=AZURE, base_connection_id=BASE
    )
    with pytest.raises(FlowServiceEntityExistsError) as info:
        run(op, service)
    assert info.value.message == (
        f"a source connection named 'src' already exists but cannot be reused (id {SOURCE}: baseConnectionId is "
        f"{other}, wanted {BASE}); choose another name or delete the existing one"
    )


# -- update -------------------------------------------------------------------------------------------


def _flow(etag: str, frequency: str, interval: int) -> dict[str, Any]:
    return {
        "id": FLOW,
        "name": "flow",
        "etag": etag,
        "state": "enabled",
        "updatedBy": "someone@AdobeID",
        "flowSpec": {"id": "9753525b-82c7-4dce-8a9b-5ccfce2b9876"},
        "scheduleParams": {"startTime": "1700000000", "frequency": frequency, "interval": str(interval)},
    }


def test_update_412_rereads_and_reports_what_changed(service: Router) -> None:
    service.on(f"GET /flows/{FLOW}", items(_flow(ETAG_1, "day", 1)), items(_flow(ETAG_2, "hour", 2)))
    service.on(f"PATCH /flows/{FLOW}", reply(412, {"type": "https://ns.adobe.com/aep/errors/FLOW-1404-412"}))
    op = FlowServiceUpdateOperator(
        task_id="upd", entity_id=FLOW, ops=[{"op": "replace", "path": "/scheduleParams/interval", "value": 3}]
    )
    with pytest.raises(FlowServiceConflictError) as info:
        run(op, service)
    assert info.value.message == (
        f"flow {FLOW} changed since etag {ETAG_1} (now {ETAG_2}, updated by someone@AdobeID): "
        "/scheduleParams/interval: 1 -> 2. Nothing was written: re-read it and re-apply the ops if still wanted"
    )
    assert info.value.code == "1404-412"
    assert service.calls == [f"GET /flows/{FLOW}", f"PATCH /flows/{FLOW}", f"GET /flows/{FLOW}"]


def test_update_with_a_given_etag_patches_at_once_and_validates_merged_schedule(service: Router) -> None:
    sent: list[Any] = []

    def patched(request: httpx.Request) -> httpx.Response:
        sent.append((request.headers["If-Match"], json.loads(request.content)))
        return httpx.Response(200, json={"id": FLOW, "etag": ETAG_2})

    service.on(f"PATCH /flows/{FLOW}", patched)
    op = FlowServiceUpdateOperator(
        task_id="upd", entity_id=FLOW, etag=ETAG_1, ops=[{"op": "replace", "path": "/name", "value": "renamed"}]
    )
    result, ti = run(op, service)
    assert result == FLOW and ti.xcom == {"id": FLOW, "etag": ETAG_2}
    assert sent == [(ETAG_1, [{"op": "replace", "path": "/name", "value": "renamed"}])]
    assert service.calls == [f"PATCH /flows/{FLOW}"]


def test_update_rejects_a_schedule_the_patch_would_break(service: Router) -> None:
    service.on(f"GET /flows/{FLOW}", items(_flow(ETAG_1, "day", 1)))
    op = FlowServiceUpdateOperator(
        task_id="upd", entity_id=FLOW, ops=[{"op": "replace", "path": "/scheduleParams/frequency", "value": "minute"}]
    )
    with pytest.raises(FlowServiceConfigError) as info:
        run(op, service)
    assert info.value.message == (
        "ops: after the ops, /scheduleParams/interval: must be at least 15 when frequency is 'minute' (got 1)"
    )
    assert service.calls == [f"GET /flows/{FLOW}"]


def test_update_making_a_once_flow_daily_names_the_op_to_add(service: Router) -> None:
    once = _flow(ETAG_1, "once", 1)
    once["scheduleParams"] = {"startTime": "1700000000", "frequency": "once"}
    service.on(f"GET /flows/{FLOW}", items(once))
    op = FlowServiceUpdateOperator(
        task_id="upd", entity_id=FLOW, ops=[{"op": "replace", "path": "/scheduleParams/frequency", "value": "day"}]
    )
    with pytest.raises(FlowServiceConfigError) as info:
        run(op, service)
    assert info.value.message == (
        "ops: after the ops, /scheduleParams/interval: is required with frequency 'day' (e.g. interval=1 runs "
        "every day); add {'op': 'add', 'path': '/scheduleParams/interval', 'value': 1} to the ops"
    )
    assert service.calls == [f"GET /flows/{FLOW}"]


def test_update_making_a_once_flow_daily_with_its_interval_patches_both(service: Router) -> None:
    once = _flow(ETAG_1, "once", 1)
    once["scheduleParams"] = {"startTime": "1700000000", "frequency": "once"}
    service.on(f"GET /flows/{FLOW}", items(once))
    sent: list[Any] = []

    def patched(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return httpx.Response(200, json={"id": FLOW, "etag": ETAG_2})

    service.on(f"PATCH /flows/{FLOW}", patched)
    ops = [
        {"op": "replace", "path": "/scheduleParams/frequency", "value": "day"},
        {"op": "add", "path": "/scheduleParams/interval", "value": "1"},
    ]
    result, _ = run(FlowServiceUpdateOperator(task_id="upd", entity_id=FLOW, ops=ops), service)
    assert result == FLOW
    assert sent == [
        [
            {"op": "replace", "path": "/scheduleParams/frequency", "value": "day"},
            {"op": "add", "path": "/scheduleParams/interval", "value": 1},
        ]
    ]


def test_update_with_a_stale_given_etag_fails_without_writing(service: Router) -> None:
    service.on(f"GET /flows/{FLOW}", items(_flow(ETAG_2, "day", 1)))
    op = FlowServiceUpdateOperator(
        task_id="upd",
        entity_id=FLOW,
        etag=ETAG_1,
        ops=[{"op": "replace", "path": "/scheduleParams/interval", "value": 2}],
    )
    with pytest.raises(
        FlowServiceConflictError,
        match=r"^flow \S+ changed since etag .* /scheduleParams/interval is now 1\. Nothing was written",
    ):
        run(op, service)
    assert service.calls == [f"GET /flows/{FLOW}"]


# -- publish, delete, state ----------------------------------------------------------------------------


def test_publish_skips_published_parts_and_does_not_read_their_bases(service: Router) -> None:
    flow = {
        "id": FLOW,
        "state": "draft",
        "flowSpec": {"id": AZURE},
        "sourceConnectionIds": [SOURCE],
        "targetConnectionIds": [TARGET],
    }
    service.on(f"GET /flows/{FLOW}", items(flow))
    service.on(
        f"GET /sourceConnections/{SOURCE}",
        items({"id": SOURCE, "state": "enabled", "connectionSpec": {"id": AZURE}, "baseConnectionId": BASE}),
    )
    service.on(
        f"GET /targetConnections/{TARGET}", items({"id": TARGET, "state": "draft", "connectionSpec": {"id": AZURE}})
    )
    service.on(f"POST /targetConnections/{TARGET}/action", reply(200, {"id": TARGET, "etag": ETAG_1}))
    service.on(f"POST /flows/{FLOW}/action", reply(200, {"id": FLOW, "etag": ETAG_2}))
    result, ti = run(FlowServicePublishOperator(task_id="pub", flow_id=FLOW), service)
    assert result == {"id": FLOW, "etag": ETAG_2, "published": [TARGET, FLOW], "already_published": [SOURCE]}
    assert ti.xcom == {"id": FLOW, "etag": ETAG_2}
    assert service.calls == [
        f"GET /flows/{FLOW}",
        f"GET /sourceConnections/{SOURCE}",
        f"GET /targetConnections/{TARGET}",
        f"POST /targetConnections/{TARGET}/action?op=publish",
        f"POST /flows/{FLOW}/action?op=publish",
    ]


def test_delete_missing_flow(service: Router) -> None:
    service.on(f"DELETE /flows/{FLOW}", reply(404, {"title": "Not Found", "type": "x/FLOW-1404-404"}))
    steps, _ = run(FlowServiceDeleteOperator(task_id="del", entity_id=FLOW, missing_ok=True), service)
    assert steps == [{"kind": "flows", "id": FLOW, "action": "already deleted", "reason": ""}]
    with pytest.raises(FlowServiceNotFoundError, match="404"):
        run(FlowServiceDeleteOperator(task_id="del2", entity_id=FLOW), service)


def test_set_flow_state(service: Router) -> None:
    service.on(f"POST /flows/{FLOW}/action", reply(200, {"id": FLOW, "etag": ETAG_2}))
    result, ti = run(FlowServiceSetFlowStateOperator(task_id="off", flow_id=FLOW, state="disabled"), service)
    assert result == FLOW and ti.xcom["etag"] == ETAG_2
    assert service.calls == [f"POST /flows/{FLOW}/action?op=disable"]
    with pytest.raises(FlowServiceConfigError, match=r"^state: must be 'enabled' or 'disabled' \(got 'paused'\)$"):
        run(FlowServiceSetFlowStateOperator(task_id="bad", flow_id=FLOW, state="paused"), service)
