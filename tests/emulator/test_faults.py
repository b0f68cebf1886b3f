"""Fault injection, observed from an httpx client; the request log; the admin endpoints."""

from __future__ import annotations

import email.utils
import time
from typing import Any

import httpx
import pytest

from airflow_flowservice.testing import ConnectionDropped, FlowServiceEmulator

from .conftest import T0, Api, make_s3_chain


def _run_body(flow: str) -> dict[str, Any]:
    return {"flowId": flow, "params": {"windowStartTime": T0 - 60, "windowEndTime": T0}}


def test_status_fault_n_times(api: Api) -> None:
    flow = make_s3_chain(api)["flow"]
    api.emu.faults.add(method="POST", path="/runs", kind="status", status=503, times=2)
    statuses = [api.post("/runs", json=_run_body(flow)).status_code for _ in range(3)]
    assert statuses == [503, 503, 201]
    r = api.get("/runs")
    assert len(r.json()["items"]) == 1  # the faulted calls changed nothing
    calls = api.emu.calls(method="POST", path_prefix="/runs")
    assert [c.status for c in calls] == [503, 503, 201]
    assert calls[0].fault == "status" and calls[2].fault is None
    assert calls[2].body == _run_body(flow)


def test_status_fault_body_shape(api: Api) -> None:
    api.emu.faults.add(method="GET", path="/flows", status=500)
    r = api.get("/flows")
    assert r.status_code == 500
    assert r.json()["type"] == "https://ns.adobe.com/aep/errors/FLOW-1005-500"
    assert r.headers["x-request-id"]


@pytest.mark.parametrize("retry_after", ["2", 7, "http-date"])
def test_rate_limit(api: Api, retry_after: Any) -> None:
    flow = make_s3_chain(api)["flow"]
    if retry_after == "http-date":
        retry_after = email.utils.formatdate(T0 + 30, usegmt=True)
    api.emu.faults.add(method="GET", path="/runs/*", kind="rate_limit", times=1, retry_after=retry_after)
    run = api.ok("POST", "/runs", 201, json=_run_body(flow))["id"]
    r = api.get(f"/runs/{run}")
    assert r.status_code == 429
    assert r.headers["retry-after"] == str(retry_after)
    assert r.json() == {"error_code": "429050", "message": "Too many requests"}
    assert api.get(f"/runs/{run}").status_code == 200
    assert api.get("/runs").status_code == 200  # /runs does not match /runs/*


def test_latency(api: Api) -> None:
    api.emu.faults.add(method="*", path="*", kind="latency", delay=0.2)
    started = time.monotonic()
    assert api.get("/flows").status_code == 200
    assert time.monotonic() - started >= 0.19
    assert api.emu.calls()[-1].fault == "latency"
    rule = api.emu.faults.rules[0]
    assert rule.times is None and rule.hits == 1
    api.emu.faults.clear()
    assert api.emu.faults.rules == []


def test_drop_after_apply(api: Api) -> None:
    flow = make_s3_chain(api)["flow"]
    api.emu.faults.add(method="POST", path="/runs", kind="drop_after_apply", times=1)
    with pytest.raises(httpx.RemoteProtocolError):
        api.post("/runs", json=_run_body(flow))
    # the state change happened: the run exists, a client must look it up instead of re-sending
    runs = api.ok("GET", "/runs", params={"property": f"flowId=={flow}"})["items"]
    assert len(runs) == 1
    assert runs[0]["params"] == _run_body(flow)["params"]
    rec = api.emu.calls(method="POST", path_prefix="/runs")[0]
    assert rec.status == "dropped" and rec.fault == "drop_after_apply"
    api.ok("POST", "/runs", 201, json=_run_body(flow))  # the next one is fine


async def test_asgi_transport_and_drop(emu: FlowServiceEmulator) -> None:
    """``emu.app`` also works in-process through ``httpx.ASGITransport`` (async clients)."""
    form = {
        "grant_type": "client_credentials",
        "client_id": emu.client_id,
        "client_secret": emu.client_secret,
    }
    transport = httpx.ASGITransport(app=emu.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://emulator") as client:
        r = await client.post("/ims/token/v3", data=form)
        assert r.status_code == 200
        headers = {
            "Authorization": f"Bearer {r.json()['access_token']}",
            "x-api-key": emu.client_id,
            "x-gw-ims-org-id": emu.org_id,
            "x-sandbox-name": "dev",
        }
        r = await client.get("/data/foundation/flowservice/flowSpecs", headers=headers)
        assert r.status_code == 200 and r.json()["items"]
        emu.faults.add(method="POST", path="/ims/token/v3", kind="drop_after_apply")
        with pytest.raises(ConnectionDropped):
            await client.post("/ims/token/v3", data=form)


def test_token_expired_fault(api: Api) -> None:
    api.emu.faults.add(method="GET", path="/flows", kind="token_expired", times=1)
    r = api.get("/flows")
    assert r.status_code == 401 and r.json() == {
        "error_code": "401013",
        "message": "Oauth token is not valid",
    }
    assert api.get("/flows").status_code == 200


def test_ims_faults(emu: FlowServiceEmulator) -> None:
    emu.faults.add(method="POST", path="/ims/token/v3", status=503)
    form = {
        "grant_type": "client_credentials",
        "client_id": emu.client_id,
        "client_secret": emu.client_secret,
    }
    assert httpx.post(emu.ims_url, data=form).status_code == 503
    assert httpx.post(emu.ims_url, data=form).status_code == 200


def test_probabilistic_faults_are_seeded(emu: FlowServiceEmulator) -> None:
    def pattern() -> list[int]:
        emu.reset()
        emu.faults.add(method="GET", path="/flows", status=503, times=None, probability=0.3, seed=42)
        api = Api(emu)
        try:
            return [api.get("/flows").status_code for _ in range(30)]
        finally:
            api.close()

    first = pattern()
    assert first == pattern()
    assert 0 < first.count(503) < 30


def test_glob_and_method_matching(api: Api) -> None:
    flow = make_s3_chain(api)["flow"]
    api.emu.faults.add(method="post", path="/flows/*/action", status=502, times=None)
    assert api.post(f"/flows/{flow}/action?op=disable").status_code == 502
    assert api.get(f"/flows/{flow}").status_code == 200
    assert api.post("/runs", json=_run_body(flow)).status_code == 201


def test_request_log(api: Api) -> None:
    api.emu.requests.clear()
    api.get("/flows", params={"limit": "5"})
    api.post("/connections", json={"name": "x"})
    recs = api.emu.calls()
    assert [(r.method, r.path, r.query, r.status) for r in recs] == [
        ("GET", "/flows", "limit=5", 200),
        ("POST", "/connections", "", 400),
    ]
    assert recs[1].body == {"name": "x"}
    assert recs[0].time == T0
    assert api.emu.calls(method="GET") == recs[:1]
    assert len(api.emu.requests) == 2 and api.emu.requests[0] == recs[0]


def test_admin_endpoints(api: Api) -> None:
    emu = api.emu
    admin = httpx.Client(base_url=emu.base_url + "/_emulator")
    try:
        r = admin.post("/faults", json={"method": "GET", "path": "/flows", "kind": "status", "status": 500, "times": 1})
        assert r.status_code == 201 and r.json()["kind"] == "status"
        assert len(admin.get("/faults").json()["faults"]) == 1
        assert api.get("/flows").status_code == 500
        assert admin.post("/faults", json={"kind": "bogus"}).status_code == 400
        assert admin.delete("/faults").status_code == 204
        assert admin.get("/faults").json()["faults"] == []

        logged = admin.get("/requests", params={"path_prefix": "/flows"}).json()["requests"]
        assert [entry["status"] for entry in logged] == [500]
        assert not any(entry["path"].startswith("/_emulator") for entry in admin.get("/requests").json()["requests"])
        assert admin.delete("/requests").status_code == 204
        assert admin.get("/requests").json()["requests"] == []

        assert admin.post("/clock", json={"advance": 60}).json()["now"] == T0 + 60
        assert admin.post("/clock", json={"set": T0}).json()["now"] == T0
        assert admin.get("/clock").json() == {"now": T0, "mode": "manual"}

        flow = make_s3_chain(api)["flow"]
        assert admin.post("/run-outcome", json={"flow_id": flow, "kind": "failed"}).status_code == 201
        run = api.ok("POST", "/runs", 201, json=_run_body(flow))["id"]
        emu.clock.advance(3)
        assert api.item(f"/runs/{run}")["metrics"]["statusSummary"]["status"] == "failed"

        state = admin.get("/state").json()
        assert state["org_id"] == emu.org_id and state["scopes"][f"{emu.org_id}/dev"]["flows"] == 1

        assert admin.post("/expire-tokens").status_code == 204
        assert api.get("/flows").status_code == 401
        api.token = api.fetch_token()

        assert (
            admin.post("/datasets", json={"datasets": [{"id": "d1", "name": "one", "state": "ENABLED"}]}).status_code
            == 204
        )
        cfg = api.ok(
            "GET",
            "/connectionSpecs/23598e46-f560-407b-88d5-ea6207e49db0/configs",
            params={"outputType": "activationDatasets", "outputField": "datasets"},
        )
        assert cfg["items"] == [{"id": "d1", "name": "one", "state": "ENABLED"}]

        assert admin.post("/reset").status_code == 204
        assert api.ok("GET", "/flows")["items"] == []
    finally:
        admin.close()
