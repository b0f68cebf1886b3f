"""Runs: POST /runs rules, lifecycle on the manual clock, metrics, outcomes, re-trigger, schedules."""

from __future__ import annotations

import time
from typing import Any

import pytest

from airflow_flowservice.testing import FlowServiceEmulator

from .conftest import T0, Api, flow_error_code, make_s3_chain, make_table_flow

DAY = 86400


def _run(api: Api, flow: str, start: int = T0 - DAY, end: int = T0, **extra: Any) -> str:
    params: dict[str, Any] = {"startTime": str(T0), "windowStartTime": str(start), "windowEndTime": str(end)}
    params.update(extra)
    return str(api.ok("POST", "/runs", 201, json={"flowId": flow, "params": params})["id"])


def _status(api: Api, run: str) -> str:
    return str(api.item(f"/runs/{run}")["metrics"]["statusSummary"]["status"])


def test_lifecycle_on_manual_clock(api: Api) -> None:
    flow = make_s3_chain(api)["flow"]
    run = _run(api, flow)
    first = api.item(f"/runs/{run}")
    assert first["metrics"] == {"statusSummary": {"status": "scheduled"}}
    assert first["activities"] == []
    assert first["params"] == {
        "startTime": str(T0),
        "windowStartTime": str(T0 - DAY),
        "windowEndTime": str(T0),
    }
    assert first["createdAt"] == T0 * 1000 and first["flowId"] == flow
    assert "lastRunDetails" not in api.item(f"/flows/{flow}")

    api.emu.clock.advance(1.0)
    second = api.item(f"/runs/{run}")
    assert second["metrics"]["statusSummary"]["status"] == "inProgress"
    assert second["metrics"]["durationSummary"] == {"startedAtUTC": T0 * 1000 + 1000}
    assert second["etag"] != first["etag"]
    assert api.item(f"/flows/{flow}")["lastRunDetails"] == {
        "id": run,
        "state": "inProgress",
        "startedAtUTC": T0 * 1000 + 1000,
    }

    api.emu.clock.advance(1.0)
    done = api.item(f"/runs/{run}")
    metrics = done["metrics"]
    assert metrics["statusSummary"] == {"status": "success"}
    assert metrics["durationSummary"] == {
        "startedAtUTC": T0 * 1000 + 1000,
        "completedAtUTC": T0 * 1000 + 2000,
    }
    assert metrics["recordSummary"] == {
        "inputRecordCount": 1440,
        "outputRecordCount": 1440,
        "failedRecordCount": 0,
    }
    assert metrics["sizeSummary"] == {"inputBytes": 1440 * 512, "outputBytes": 1440 * 384}
    assert metrics["fileSummary"]["inputFileCount"] == 2
    assert [a["name"] for a in done["activities"]] == ["Copy Activity", "Promotion Activity"]
    assert done["activities"][0]["durationSummary"]["extensions"] == {
        "windowStart": (T0 - DAY) * 1000,
        "windowEnd": T0 * 1000,
    }
    assert done["updatedAt"] == T0 * 1000 + 2000
    assert api.item(f"/flows/{flow}")["lastRunDetails"] == {
        "id": run,
        "state": "success",
        "startedAtUTC": T0 * 1000 + 1000,
        "completedAtUTC": T0 * 1000 + 2000,
    }
    # deterministic: the same window gives the same metrics
    run2 = _run(api, flow)
    api.emu.clock.advance(5)
    assert api.item(f"/runs/{run2}")["metrics"]["recordSummary"] == metrics["recordSummary"]


def test_future_start_time_delays_the_run(api: Api) -> None:
    flow = make_s3_chain(api)["flow"]
    run = str(
        api.ok(
            "POST",
            "/runs",
            201,
            json={
                "flowId": flow,
                "params": {"startTime": T0 + 100, "windowStartTime": T0 - 60, "windowEndTime": T0},
            },
        )["id"]
    )
    api.emu.clock.advance(50)
    assert _status(api, run) == "scheduled"
    api.emu.clock.advance(51)
    assert _status(api, run) == "inProgress"


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"windowStartTime": T0, "windowEndTime": T0 - 1}, "1381-400"),
        ({"windowStartTime": T0}, "1384-400"),
        ({"windowStartTime": "yesterday", "windowEndTime": T0}, "1384-400"),
        ({"windowStartTime": T0 - 1, "windowEndTime": T0, "startTime": "now"}, "1384-400"),
        ({}, "1384-400"),
    ],
)
def test_run_param_errors(api: Api, params: dict[str, Any], code: str) -> None:
    flow = make_s3_chain(api)["flow"]
    r = api.post("/runs", json={"flowId": flow, "params": params})
    assert r.status_code == 400 and flow_error_code(r) == code, r.text


def test_run_flow_errors(api: Api) -> None:
    r = api.post("/runs", json={"flowId": "missing", "params": {"windowStartTime": 0, "windowEndTime": 1}})
    assert r.status_code == 404 and flow_error_code(r) == "1439-404"
    r = api.post("/runs", json={"params": {"windowStartTime": 0, "windowEndTime": 1}})
    assert r.status_code == 400 and flow_error_code(r) == "1446-400"
    recurring = make_s3_chain(api, schedule={"startTime": T0, "frequency": "hour", "interval": 1})["flow"]
    r = api.post("/runs", json={"flowId": recurring, "params": {"windowStartTime": 0, "windowEndTime": 1}})
    assert r.status_code == 400 and flow_error_code(r) == "1386-400"
    assert "frequency=hour" in r.json()["report"]["detailed-message"]
    once = make_s3_chain(api, name="once")["flow"]
    api.ok("POST", f"/flows/{once}/action?op=disable")
    r = api.post("/runs", json={"flowId": once, "params": {"windowStartTime": 0, "windowEndTime": 1}})
    assert r.status_code == 400 and flow_error_code(r) == "1380-400"


def test_delta_column_rules(api: Api) -> None:
    flow = make_table_flow(api)["flow"]
    r = api.post("/runs", json={"flowId": flow, "params": {"windowStartTime": T0 - 60, "windowEndTime": T0}})
    assert r.status_code == 400 and flow_error_code(r) == "1383-400"
    etag = api.item(f"/flows/{flow}")["etag"]
    _run(api, flow, deltaColumn={"name": "updatedAt"})
    got = api.item(f"/flows/{flow}")
    assert got["transformations"][0] == {"name": "Copy", "params": {"deltaColumn": {"name": "updatedAt"}}}
    assert got["etag"] != etag  # the flow was patched
    _run(api, flow)  # not needed any more
    _run(api, flow, deltaColumn={"name": "updatedAt"})  # the same column is fine
    r = api.post(
        "/runs",
        json={
            "flowId": flow,
            "params": {"windowStartTime": T0 - 60, "windowEndTime": T0, "deltaColumn": {"name": "DOB"}},
        },
    )
    assert r.status_code == 400 and flow_error_code(r) == "1382-400"
    # file-based sources ignore deltaColumn and never need it
    s3 = make_s3_chain(api)["flow"]
    _run(api, s3)


def test_table_flow_creation_delta_rules(api: Api) -> None:
    flow = make_table_flow(api, frequency="minute")["flow"]
    assert api.item(f"/flows/{flow}")["transformations"][0]["params"]["deltaColumn"]["name"] == "updatedAt"
    chain = make_table_flow(api)
    body = {
        "name": "bad",
        "flowSpec": {"id": "14518937-270c-4525-bdec-c2ba7cce3860", "version": "1.0"},
        "sourceConnectionIds": [chain["source"]],
        "targetConnectionIds": [chain["target"]],
        "scheduleParams": {"startTime": T0, "frequency": "once"},
        "transformations": [{"name": "Copy", "params": {"deltaColumn": {"name": "x"}}}],
    }
    r = api.post("/flows", json=body)
    assert r.status_code == 400 and flow_error_code(r) == "1369-400"
    body["scheduleParams"] = {"startTime": T0, "frequency": "hour", "interval": 1}
    body["transformations"] = []
    r = api.post("/flows", json=body)
    assert r.status_code == 400 and flow_error_code(r) == "1367-400"


def test_outcomes(api: Api) -> None:
    flow = make_s3_chain(api)["flow"]
    other = make_s3_chain(api, name="other")["flow"]
    api.emu.run_outcome(flow_id=flow, kind="failed")
    failed = _run(api, flow)
    ok_other = _run(api, other)
    api.emu.run_outcome(kind="failed_records", failed_records=7, times=1)
    partial = _run(api, other)
    ok_again = _run(api, other)
    api.emu.clock.advance(3)
    got = api.item(f"/runs/{failed}")
    assert got["metrics"]["statusSummary"]["status"] == "failed"
    assert got["metrics"]["statusSummary"]["errors"][0]["code"] == "CONNECTOR-1001-500"
    assert got["metrics"]["recordSummary"]["failedInfo"][0]["code"] == "2200"
    assert api.item(f"/flows/{flow}")["lastRunDetails"]["state"] == "failed"
    assert _status(api, ok_other) == "success"
    part = api.item(f"/runs/{partial}")["metrics"]
    assert part["statusSummary"]["status"] == "success"
    assert part["statusSummary"]["errors"][0]["code"] == "CONNECTOR-2001-500"
    assert part["recordSummary"]["failedRecordCount"] == 7
    assert part["recordSummary"]["outputRecordCount"] == 1440 - 7
    assert api.item(f"/runs/{ok_again}")["metrics"]["recordSummary"]["failedRecordCount"] == 0
    # still failing for the flow until changed
    assert _status(api, _run(api, flow)) in ("scheduled",)
    api.emu.clock.advance(3)
    assert [
        it["metrics"]["statusSummary"]["status"]
        for it in api.ok("GET", "/runs", params={"property": f"flowId=={flow}"})["items"]
    ] == ["failed", "failed"]
    api.emu.run_outcome(flow_id=flow, kind="success")
    fine = _run(api, flow)
    api.emu.clock.advance(3)
    assert _status(api, fine) == "success"


def test_re_trigger(api: Api) -> None:
    flow = make_s3_chain(api)["flow"]
    api.emu.run_outcome(flow_id=flow, kind="failed", times=1)
    failed = _run(api, flow)
    r = api.post(f"/runs/{failed}/action?op=RE_TRIGGER")
    assert r.status_code == 400 and flow_error_code(r) == "1387-400"  # still scheduled
    api.emu.clock.advance(3)
    again = api.ok("POST", f"/runs/{failed}/action?op=RE_TRIGGER")
    assert set(again) == {"id", "etag"} and again["id"] != failed
    new = api.item(f"/runs/{again['id']}")
    assert new["params"] == api.item(f"/runs/{failed}")["params"]
    assert new["parentFlowRunId"] == failed
    api.emu.clock.advance(3)
    assert _status(api, again["id"]) == "success"
    r = api.post(f"/runs/{again['id']}/action?op=re-trigger")
    assert r.status_code == 400 and flow_error_code(r) == "1387-400"  # successful with records
    zero = _run(api, flow, start=T0, end=T0)
    api.emu.clock.advance(3)
    assert api.item(f"/runs/{zero}")["metrics"]["recordSummary"]["inputRecordCount"] == 0
    assert api.ok("POST", f"/runs/{zero}/action?op=re-trigger")["id"] != zero
    r = api.post(f"/runs/{zero}/action?op=cancel")
    assert r.status_code == 400 and flow_error_code(r) == "1401-400"
    api.ok("POST", f"/flows/{flow}/action?op=disable")
    r = api.post(f"/runs/{zero}/action?op=RE_TRIGGER")
    assert r.status_code == 400 and flow_error_code(r) == "1388-400"
    assert api.post("/runs/missing/action?op=RE_TRIGGER").status_code == 404


def test_runs_list_filters(api: Api) -> None:
    flow = make_s3_chain(api)["flow"]
    other = make_s3_chain(api, name="other")["flow"]
    first = _run(api, flow)
    api.emu.clock.advance(10)
    api.emu.run_outcome(flow_id=flow, kind="failed", times=1)
    second = _run(api, flow)
    third = _run(api, other)
    api.emu.clock.advance(1.5)  # second and third are inProgress, first is done

    def ids(*props: str, **extra: str) -> list[str]:
        return [it["id"] for it in api.ok("GET", "/runs", params={"property": list(props), **extra})["items"]]

    assert ids(f"flowId=={flow}") == [second, first]  # most recent first
    assert ids("state==inProgress") == [third, second]
    assert ids(f"flowId=={flow}", "metrics.statusSummary.status==Success") == [first]
    assert ids(f"createdAt>={(T0 + 10) * 1000}") == [third, second]
    assert ids(f"flowId=={flow}", orderby="+createdAt") == [first, second]
    api.emu.clock.advance(5)
    assert ids(f"flowId=={flow}", "metrics.statusSummary.status==Failed") == [second]
    assert api.ok("GET", "/runs", params={"count": "true", "property": f"flowId=={flow}"}) == {"count": 2}


def test_runs_page_size_is_capped(api: Api) -> None:
    flow = make_s3_chain(api)["flow"]
    for _ in range(105):
        _run(api, flow)
    page = api.ok("GET", "/runs", params={"limit": "500"})
    assert len(page["items"]) == 100 and "next" in page["_links"]
    rest = api.ok("GET", page["_links"]["next"]["href"])
    assert len(rest["items"]) == 5 and rest["_links"] == {}
    page = api.ok("GET", "/runs")
    assert len(page["items"]) == 50


def test_scheduled_flow_produces_runs(api: Api) -> None:
    chain = make_s3_chain(api, schedule={"startTime": T0 + 600, "frequency": "minute", "interval": 15})
    flow = chain["flow"]
    assert api.ok("GET", "/runs", params={"property": f"flowId=={flow}"})["items"] == []
    api.emu.clock.advance(600)
    runs = api.ok("GET", "/runs", params={"property": f"flowId=={flow}"})["items"]
    assert len(runs) == 1
    assert runs[0]["params"] == {"windowStartTime": T0 + 600 - 900, "windowEndTime": T0 + 600}
    api.emu.clock.advance(3600)
    runs = api.ok("GET", "/runs", params={"property": f"flowId=={flow}"})["items"]
    assert len(runs) == 5
    windows = sorted(r["params"]["windowEndTime"] for r in runs)
    assert windows == [T0 + 600 + i * 900 for i in range(5)]
    assert all(r["metrics"]["statusSummary"]["status"] == "success" for r in runs[1:])
    assert api.item(f"/flows/{flow}")["lastRunDetails"]["state"] in ("success", "inProgress")
    # disabled flows produce nothing; enabling again resumes from the current time (no catch-up flood)
    api.ok("POST", f"/flows/{flow}/action?op=disable")
    api.emu.clock.advance(3 * 3600)
    assert len(api.ok("GET", "/runs", params={"property": f"flowId=={flow}"})["items"]) == 5
    api.ok("POST", f"/flows/{flow}/action?op=enable")
    assert len(api.ok("GET", "/runs", params={"property": f"flowId=={flow}"})["items"]) == 6


def test_scheduled_flow_catch_up_is_capped(api: Api) -> None:
    flow = make_s3_chain(api, schedule={"startTime": T0, "frequency": "minute", "interval": 15})["flow"]
    api.emu.clock.advance(30 * DAY)
    api.token = api.fetch_token()  # 30 days later the token has expired, as it would
    assert api.ok("GET", "/runs", params={"count": "true", "property": f"flowId=={flow}"}) == {"count": 100}
    runs = api.ok("GET", "/runs", params={"property": f"flowId=={flow}", "limit": "100"})["items"]
    assert runs[0]["params"]["windowEndTime"] == T0 + 30 * DAY  # the most recent windows are kept


def test_real_clock_runs_finish() -> None:
    with FlowServiceEmulator(run_timeline=(0.05, 0.1)) as emu:
        api = Api(emu)
        flow = make_s3_chain(api)["flow"]
        now = int(emu.clock.now())
        run = api.ok(
            "POST",
            "/runs",
            201,
            json={"flowId": flow, "params": {"windowStartTime": now - 3600, "windowEndTime": now}},
        )["id"]
        deadline = time.monotonic() + 10
        status = _status(api, run)
        while status != "success" and time.monotonic() < deadline:
            time.sleep(0.05)
            status = _status(api, run)
        assert status == "success"
        api.close()


def _pages(api: Api, params: list[tuple[str, str]]) -> list[list[str]]:
    """Run ids of every page of ``GET /runs`` with ``params``, following the continuation links."""
    pages: list[list[str]] = []
    body = api.ok("GET", "/runs", params=params)
    while True:
        pages.append([it["id"] for it in body["items"]])
        href = (body.get("_links") or {}).get("next", {}).get("href")
        if not href:
            return pages
        body = api.ok("GET", href)


def test_indexed_listing_pages_by_creation_time(api: Api) -> None:
    flow = make_s3_chain(api)["flow"]
    other = make_s3_chain(api, name="S3 flow without runs")["flow"]
    windows = [(T0 - (k + 1) * DAY, T0 - k * DAY) for k in range(250)]
    ids = api.emu.seed_runs(flow, windows, sandbox=api.sandbox, created_from_ms=T0 * 1000)
    newest_first = list(reversed(ids))
    pages = _pages(api, [("property", f"flowId=={flow}"), ("limit", "100")])
    assert [len(p) for p in pages] == [100, 100, 50]
    assert [i for p in pages for i in p] == newest_first
    since = T0 * 1000 + 200  # created_from_ms + k: the runs k >= 200
    assert _pages(api, [("property", f"flowId=={flow}"), ("property", f"createdAt>={since}")]) == [newest_first[:50]]
    assert _pages(api, [("property", f"flowId=={flow}"), ("property", f"createdAt>{since}")]) == [newest_first[:49]]
    window = [("property", f"createdAt>={T0 * 1000 + 10}"), ("property", f"createdAt<{T0 * 1000 + 20}")]
    assert _pages(api, [("property", f"flowId=={flow}"), *window]) == [newest_first[230:240]]
    assert api.ok("GET", "/runs", params=[("property", f"flowId=={flow}"), ("count", "true")]) == {"count": 250}
    # a filter the index does not serve (status) takes the general path and agrees with it
    everything = _pages(api, [("property", f"flowId=={flow}"), ("property", "state!=bogus"), ("limit", "100")])
    assert [i for p in everything for i in p] == newest_first
    assert _pages(api, [("property", f"flowId=={other}")]) == [[]]


def test_runs_by_a_hundred_ids_in_one_call(api: Api) -> None:
    flow = make_s3_chain(api)["flow"]
    windows = [(T0 - (k + 1) * DAY, T0 - k * DAY) for k in range(150)]
    ids = api.emu.seed_runs(flow, windows, sandbox=api.sandbox, created_from_ms=T0 * 1000)
    wanted = [*ids[25:125], "00000000-0000-0000-0000-000000000000"]  # 100 runs and one that does not exist
    body = api.ok("GET", "/runs", params=[("property", "id==" + ",".join(wanted)), ("limit", "100")])
    assert [it["id"] for it in body["items"]] == list(reversed(ids[25:125]))
    assert body["_links"] == {}


class _NoScan(dict[str, dict[str, Any]]):
    """A run table that fails any walk over it: reading a flow must use the flow's own index."""

    def __iter__(self) -> Any:
        raise AssertionError("walked every run")

    def values(self) -> Any:
        raise AssertionError("walked every run")

    def items(self) -> Any:
        raise AssertionError("walked every run")


def test_last_run_details_reads_the_flow_index(api: Api) -> None:
    flow = make_s3_chain(api)["flow"]
    other = make_table_flow(api)["flow"]
    early = _run(api, flow, startTime=str(T0 + 10))
    later = _run(api, flow, T0 - 2 * DAY, T0 - DAY, startTime=str(T0 + 20))
    future = _run(api, flow, T0 - 3 * DAY, T0 - 2 * DAY, startTime=str(T0 + 100))
    _run(api, other, startTime=str(T0 + 30), deltaColumn={"name": "updated_at"})  # another flow's newer run
    tables = api.emu.stores.runs.tables((api.emu.org_id, api.sandbox))
    tables.runs = _NoScan(tables.runs)
    assert "lastRunDetails" not in api.item(f"/flows/{flow}")  # every run still scheduled
    api.emu.clock.advance(40.0)
    details = api.item(f"/flows/{flow}")["lastRunDetails"]  # the latest started, not the latest created
    assert details == {
        "id": later,
        "state": "success",
        "startedAtUTC": (T0 + 21) * 1000,
        "completedAtUTC": (T0 + 22) * 1000,
    }
    api.emu.clock.advance(61.0)
    assert api.item(f"/flows/{flow}")["lastRunDetails"]["id"] == future
    tables.drop(future)
    tables.drop(later)
    assert api.item(f"/flows/{flow}")["lastRunDetails"]["id"] == early
