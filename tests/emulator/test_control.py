"""The control resource's newer admin endpoints: a flow's runs, seeded history, and fault-rule echoes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from airflow_flowservice.testing import FlowServiceEmulator

from .conftest import T0, Api, make_s3_chain

DAY = 86400


@pytest.fixture
def admin(emu: FlowServiceEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emu.base_url + "/_emulator") as client:
        yield client


def _run(api: Api, flow: str, start: int, end: int, **params: Any) -> str:
    body = {"flowId": flow, "params": {"windowStartTime": start, "windowEndTime": end, **params}}
    return str(api.ok("POST", "/runs", 201, json=body)["id"])


def test_admin_lists_a_flows_runs_as_the_emulator_knows_them(api: Api, admin: httpx.Client) -> None:
    flow = make_s3_chain(api)["flow"]
    other = make_s3_chain(api, name="other")["flow"]
    first = _run(api, flow, T0 - 2 * DAY, T0 - DAY)
    api.emu.clock.advance(1.5)  # first: inProgress
    api.emu.run_outcome(flow_id=flow, kind="failed", times=1)
    second = _run(api, flow, T0 - DAY, T0)
    _run(api, other, T0 - DAY, T0)  # another flow's run is not listed

    answer = admin.get("/runs", params={"flow_id": flow}).json()
    assert answer == {
        "flow_id": flow,
        "runs": [
            {"id": first, "window": [T0 - 2 * DAY, T0 - DAY], "status": "inProgress", "created_at": T0},
            {"id": second, "window": [T0 - DAY, T0], "status": "scheduled", "created_at": T0 + 1.5},
        ],
    }
    api.emu.clock.advance(5)
    assert [r["status"] for r in admin.get("/runs", params={"flow_id": flow}).json()["runs"]] == ["success", "failed"]
    assert api.emu.flow_runs(flow) == admin.get("/runs", params={"flow_id": flow}).json()["runs"]
    assert not any(call.path.startswith("/_emulator") for call in api.emu.calls())  # admin calls are not logged


def test_admin_runs_listing_needs_a_known_flow(api: Api, admin: httpx.Client) -> None:
    r = admin.get("/runs")
    assert r.status_code == 400 and "flow_id" in r.json()["error"]
    r = admin.get("/runs", params={"flow_id": "no-such-flow"})
    assert r.status_code == 404 and "no-such-flow" in r.json()["error"]
    with pytest.raises(KeyError, match="no-such-flow"):
        api.emu.flow_runs("no-such-flow")
    flow = make_s3_chain(api)["flow"]
    assert admin.get("/runs", params={"flow_id": flow}).json() == {"flow_id": flow, "runs": []}
    # another sandbox does not have the flow
    assert admin.get("/runs", params={"flow_id": flow, "sandbox": "prod"}).status_code == 404


def test_admin_lists_the_runs_of_a_deleted_flow(api: Api, admin: httpx.Client) -> None:
    chain = make_s3_chain(api)
    run = _run(api, chain["flow"], T0 - DAY, T0)
    api.ok("DELETE", f"/flows/{chain['flow']}", 204)
    assert [r["id"] for r in admin.get("/runs", params={"flow_id": chain["flow"]}).json()["runs"]] == [run]


def test_admin_lists_scheduled_runs_once_they_are_due(api: Api, admin: httpx.Client) -> None:
    flow = make_s3_chain(api, schedule={"startTime": T0 + 60, "frequency": "minute", "interval": 15})["flow"]
    assert admin.get("/runs", params={"flow_id": flow}).json()["runs"] == []
    api.emu.clock.advance(60 + 15 * 60)
    runs = admin.get("/runs", params={"flow_id": flow}).json()["runs"]
    assert [r["window"] for r in runs] == [[T0 + 60 - 900, T0 + 60], [T0 + 60, T0 + 960]]
    assert [r["created_at"] for r in runs] == [T0 + 60, T0 + 960]


def test_admin_seeds_history_in_the_emulators_sandbox(api: Api, admin: httpx.Client) -> None:
    """``POST /_emulator/runs`` without a sandbox seeds the one of ``emu.connection_uri()``, as ``emu.seed_runs``."""
    flow = make_s3_chain(api)["flow"]
    windows = [[T0 - 3 * DAY, T0 - 2 * DAY], [T0 - 2 * DAY, T0 - DAY]]
    r = admin.post("/runs", json={"flow_id": flow, "windows": windows})
    assert r.status_code == 201
    ids = r.json()["ids"]
    listed = admin.get("/runs", params={"flow_id": flow}).json()["runs"]
    assert [(x["id"], x["window"], x["status"]) for x in listed] == [
        (ids[0], windows[0], "success"),
        (ids[1], windows[1], "success"),
    ]
    assert [x["created_at"] for x in listed] == [T0 - 2 * DAY + 60, T0 - DAY + 60]
    assert {run["id"] for run in api.ok("GET", "/runs", params={"property": f"flowId=={flow}"})["items"]} == set(ids)


def test_fault_rule_echoes_name_only_what_their_kind_uses(admin: httpx.Client) -> None:
    latency = admin.post("/faults", json={"method": "POST", "path": "/runs", "kind": "latency", "delay": 0.2})
    assert latency.status_code == 201
    assert latency.json() == {
        "id": latency.json()["id"],
        "method": "POST",
        "path": "/runs",
        "kind": "latency",
        "times": None,
        "delay": 0.2,
        "probability": 1.0,
        "seed": None,
        "hits": 0,
    }
    rate_limit = admin.post("/faults", json={"kind": "rate_limit", "retry_after": "3"}).json()
    assert rate_limit["retry_after"] == "3" and "status" not in rate_limit and "delay" not in rate_limit
    status = admin.post("/faults", json={"kind": "status", "status": 502}).json()
    assert status["status"] == 502 and "retry_after" not in status and "delay" not in status
    for kind in ("drop_after_apply", "token_expired"):
        rule = admin.post("/faults", json={"kind": kind}).json()
        assert not {"status", "retry_after", "delay"} & set(rule)
    listed = admin.get("/faults").json()["faults"]
    assert listed[0] == latency.json() and [r["kind"] for r in listed][1:3] == ["rate_limit", "status"]
