"""The provider in a real Airflow deployment: scheduler, triggerer, dag-processor and api-server.

Each scenario counts, from the emulator, the ``POST /runs`` it caused and the runs per window, and
adds what it measured to the session's summary (printed at the end, run with ``-s`` to see it live).
"""

from __future__ import annotations

import json
import os
import signal
import time
from datetime import datetime, timezone
from typing import Any

import psutil
import pytest

from tests.deployment.conftest import RACE_POOL, Deployment
from tests.deployment.scenarios import (
    HOUR,
    JAN1_2024,
    instant,
    logical_date,
    manual_window,
    one_run_per_window,
    window,
)

pytestmark = pytest.mark.deployment


def test_deferrable_task_completes_through_the_triggerer(deployment: Deployment, measured: list[str]) -> None:
    dep, flow_id = deployment, deployment.flows["flow_deferred"]
    started = time.monotonic()
    run_id = dep.trigger("deploy_deferred", "deferred_h1", logical_date(1))
    deferred = dep.wait_deferred("deploy_deferred", run_id, "ingest")
    to_deferred = time.monotonic() - started
    (run,) = dep.runs(flow_id)
    dep.wait_for_log("deploy_deferred", run_id, "ingest", 1, f"Run {run.id} status: ")  # the trigger polls
    polling = time.monotonic() - started
    finish = time.monotonic()
    dep.finish_runs()
    dag_run = dep.wait_dag_run("deploy_deferred", run_id)
    resumed = time.monotonic() - finish
    assert dag_run["state"] == "success"
    ti = dep.task_instance("deploy_deferred", run_id, "ingest")
    assert ti["try_number"] == deferred["try_number"] == 1
    log = dep.task_log("deploy_deferred", run_id, "ingest", 1)
    assert f"Run {run.id} status: success" in log  # logged by the trigger, in the triggerer process
    assert "XCom not found" not in log
    assert len(dep.run_posts(flow_id)) == 1
    one_run_per_window(dep, flow_id, {manual_window(1)})
    measured.append(
        f"deferrable: trigger -> deferred {to_deferred:.1f}s -> trigger polling {polling:.1f}s; run finished -> task "
        f"success {resumed:.1f}s; "
        f"1 try, 1 POST /runs, 1 run for 1 window"
    )


def test_triggerer_restart_mid_wait_loses_nothing(deployment: Deployment, measured: list[str]) -> None:
    dep, flow_id = deployment, deployment.flows["flow_deferred"]
    run_id = dep.trigger("deploy_deferred", "deferred_h2", logical_date(2))
    dep.wait_deferred("deploy_deferred", run_id, "ingest")
    (run,) = (r for r in dep.runs(flow_id) if r.window() == manual_window(2))
    dep.wait_for_log("deploy_deferred", run_id, "ingest", 1, f"Run {run.id} status: ")  # the trigger polls
    stopping = time.monotonic()
    code = dep.stop("triggerer", signal.SIGTERM)
    stopped = time.monotonic() - stopping
    dep.finish_runs()  # the run finishes while no triggerer is running
    restarting = time.monotonic()
    dep.start("triggerer")
    dag_run = dep.wait_dag_run("deploy_deferred", run_id, logs=("triggerer",))
    recovered = time.monotonic() - restarting
    assert dag_run["state"] == "success"
    ti = dep.task_instance("deploy_deferred", run_id, "ingest")
    assert ti["try_number"] == 1  # resumed from the deferral, not retried
    log = dep.task_log("deploy_deferred", run_id, "ingest", 1)
    assert f"Run {run.id} status: success" in log
    assert len(dep.run_posts(flow_id)) == 2  # one per window in this flow (this and the previous scenario)
    one_run_per_window(dep, flow_id, {manual_window(1), manual_window(2)})
    measured.append(
        f"triggerer restart: SIGTERM -> exit {stopped:.1f}s (code {code}); new triggerer start -> task success "
        f"{recovered:.1f}s; 1 try, 1 POST /runs for the window"
    )


def test_task_killed_mid_wait_is_retried_and_adopts_its_run(deployment: Deployment, measured: list[str]) -> None:
    dep, flow_id = deployment, deployment.flows["flow_worker"]
    run_id = dep.trigger("deploy_worker", "worker_h3", logical_date(3))

    def polling() -> dict[str, Any] | None:
        ti = dep.task_instance("deploy_worker", run_id, "ingest")
        return ti if ti["state"] == "running" and ti.get("pid") and dep.run_posts(flow_id) else None

    ti = dep.wait_for("the task to poll its run in the worker", polling)
    scheduler = dep.procs["scheduler"].pid
    assert scheduler in [p.pid for p in psutil.Process(ti["pid"]).parents()]  # a task process of this deployment
    killed = time.monotonic()
    os.kill(ti["pid"], signal.SIGKILL)
    retry = dep.wait_for(
        "the second try to poll the run",
        lambda: (
            (t := dep.task_instance("deploy_worker", run_id, "ingest"))["try_number"] == 2
            and t["state"] == "running"
            and t
        ),
    )
    to_retry = time.monotonic() - killed
    dep.finish_runs()
    dag_run = dep.wait_dag_run("deploy_worker", run_id)
    assert dag_run["state"] == "success"
    assert retry["try_number"] == dep.task_instance("deploy_worker", run_id, "ingest")["try_number"] == 2
    (run,) = dep.runs(flow_id)
    second = dep.task_log("deploy_worker", run_id, "ingest", 2)
    assert f"Adopted run {run.id}, already created for this window" in second
    assert len(dep.run_posts(flow_id)) == 1
    one_run_per_window(dep, flow_id, {manual_window(3)})
    measured.append(
        f"SIGKILL task mid-wait: kill -> try 2 running {to_retry:.1f}s; try 2 adopted run, 1 POST /runs, "
        "1 run for 1 window"
    )


def create_backfill(dep: Deployment, args: list[str], retry_behavior: str) -> int:
    """``airflow backfill create``; returns how many attempts it took.

    On SQLite, the command fails now and then with "database is locked" while it creates or clears
    its DAG runs, when another component commits meanwhile (Airflow recommends SQLite for
    development only). Then the partial backfill is cancelled (its queued runs turn ``failed``) and
    the command is run again with ``--reprocess-behavior retry_behavior``, which picks those runs up.
    The DAG is paused meanwhile, so that no partial backfill's run starts.
    """
    dep.set_paused("deploy_backfill", True)
    try:
        for attempt in range(1, 4):
            before = {b["id"] for b in dep.get("/backfills", dag_id="deploy_backfill")["backfills"]}
            extra = [] if attempt == 1 else ["--reprocess-behavior", retry_behavior]
            created = dep.airflow("backfill", "create", *args, *extra)
            if created.returncode == 0:
                return attempt
            output = created.stdout + created.stderr
            assert "database is locked" in output and attempt < 3, output[-3000:]
            for partial in dep.get("/backfills", dag_id="deploy_backfill")["backfills"]:
                if partial["id"] not in before and not partial["completed_at"]:
                    response = dep.api.put(f"/backfills/{partial['id']}/cancel")
                    assert response.status_code == 200, response.text
        raise AssertionError("unreachable")
    finally:
        dep.set_paused("deploy_backfill", False)


def test_backfill_then_reprocess_adopts_every_run(deployment: Deployment, measured: list[str]) -> None:
    dep, flow_id = deployment, deployment.flows["flow_backfill"]
    hours = (4, 5, 6)
    args = ["--dag-id", "deploy_backfill", "--from-date", logical_date(4), "--to-date", logical_date(6)]

    def dag_runs() -> list[dict[str, Any]]:
        runs: list[dict[str, Any]] = dep.get("/dags/deploy_backfill/dagRuns", run_type="backfill")["dag_runs"]
        return runs

    def done() -> bool:
        runs = dag_runs()
        backfills = dep.get("/backfills", dag_id="deploy_backfill")["backfills"]
        return (
            len(runs) == len(hours)
            and all(r["state"] == "success" for r in runs)
            and all(b["completed_at"] for b in backfills)
        )

    started = time.monotonic()
    attempts = create_backfill(dep, args, retry_behavior="failed")
    dep.wait_for("the backfill's DAG runs", lambda: len(dag_runs()) == len(hours))
    for dag_run in dag_runs():  # every window's run started, and waited on in the triggerer ...
        dep.wait_deferred("deploy_backfill", dag_run["dag_run_id"], "ingest")
    dep.finish_runs()  # ... until now
    dep.wait_for("the backfill to finish", done, timeout=240)
    first = time.monotonic() - started
    assert len(dep.run_posts(flow_id)) == 3
    one_run_per_window(dep, flow_id, {window(h) for h in hours})
    tries = {r["dag_run_id"]: dep.task_instance("deploy_backfill", r["dag_run_id"], "ingest") for r in dag_runs()}

    started = time.monotonic()
    reprocess_from = datetime.now(timezone.utc)

    def ran_again(run_id: str) -> bool:
        # The reprocess ran this window's task again: its (latest) try started after the reprocess was
        # asked for. The try number is no proof: a DAG run that a retried `backfill create` (SQLite
        # lock) re-created starts again at try 1.
        ti = dep.task_instance("deploy_backfill", run_id, "ingest")
        started_at = ti.get("start_date")
        return bool(started_at) and instant(started_at) >= reprocess_from.timestamp()

    attempts_again = create_backfill(dep, [*args, "--reprocess-behavior", "completed"], retry_behavior="completed")
    dep.wait_for(
        "the reprocess to finish",
        lambda: done() and all(ran_again(run_id) for run_id in tries),
        timeout=240,
    )
    again = time.monotonic() - started
    assert len(dep.run_posts(flow_id)) == 3  # 0 new POST /runs: every window's run was adopted
    one_run_per_window(dep, flow_id, {window(h) for h in hours})
    for run_id in tries:
        ti = dep.task_instance("deploy_backfill", run_id, "ingest")
        log = dep.task_log("deploy_backfill", run_id, "ingest", ti["try_number"])
        assert "already created for this window" in log
        assert "judging it now, without deferring" in log  # finished runs: no trip through the triggerer
    measured.append(
        f"backfill of 3 windows {first:.1f}s ({attempts} attempt(s) of `backfill create`), 3 POST /runs; "
        f"reprocess (completed) {again:.1f}s ({attempts_again} attempt(s)), 0 new POST /runs, 3 runs adopted "
        "without deferring; 1 run per window"
    )


def test_errors_that_cannot_succeed_fail_with_one_try(deployment: Deployment, measured: list[str]) -> None:
    dep = deployment
    dep.emulator("POST", "/run-outcome", json={"flow_id": dep.flows["flow_failing"], "kind": "failed"})
    started = time.monotonic()
    run_id = dep.trigger("deploy_errors", "manual_no_logical_date", None)  # what the UI's Trigger button sends
    dag_run = dep.wait_dag_run("deploy_errors", run_id, tick=True)  # the failing run finishes
    took = time.monotonic() - started
    assert dag_run["state"] == "failed"
    assert dag_run["logical_date"] is None
    for task_id in ("no_window", "failed_run"):
        ti = dep.task_instance("deploy_errors", run_id, task_id)
        assert (ti["state"], ti["try_number"]) == ("failed", 1), ti  # retries=2, none used
    no_window = dep.task_log("deploy_errors", run_id, "no_window", 1)
    assert "window_start/window_end: this DAG run has no data interval" in no_window
    assert "Pass window_start and window_end" in no_window
    assert "XCom not found" not in no_window  # the try ended before any run existed
    failed = dep.task_log("deploy_errors", run_id, "failed_run", 1)
    assert "CONNECTOR-1001-500" in failed
    assert len(dep.run_posts(dep.flows["flow_failing"])) == 1
    assert not [b for b in dep.run_posts(dep.flows["flow_deferred"]) if b["params"].get("windowEndTime") is None]
    one_run_per_window(dep, dep.flows["flow_failing"], {window(0)})
    measured.append(
        f"errors (manual run, logical_date null): config error and failed run each failed with 1 of 3 tries in "
        f"{took:.1f}s; 1 POST /runs (the failed run's)"
    )


TEST_CONNECTION_CASES = [
    ("valid", {}, True, "Connected to Flow Service as org EMULATOR0000000000000000@AdobeOrg, sandbox 'dev'."),
    ("bad secret", {"password": "wrong"}, False, "Bad client id or secret"),
    ("no sandbox", {"extra": {"sandbox": None}}, False, "has no extra 'sandbox'"),
    ("bad org id", {"extra": {"org_id": "acme"}}, False, "an IMS org id ends with '@AdobeOrg'"),
    ("unreachable", {"extra": {"api_url": "http://127.0.0.1:9/x", "ims_url": "http://127.0.0.1:9/t"}}, False, "Host"),
]


def test_test_connection_through_the_rest_api(deployment: Deployment, measured: list[str]) -> None:
    dep = deployment
    with dep.hook_env() as hook:
        conn = hook.get_connection("flowservice_default")
        base = {"login": conn.login, "password": conn.password, "extra": conn.extra_dejson}
    results = []
    for name, change, ok, message in TEST_CONNECTION_CASES:
        extra = {k: v for k, v in {**base["extra"], **change.get("extra", {})}.items() if v is not None}
        body = {
            "connection_id": "flowservice_form",
            "conn_type": "adobe_flowservice",
            "login": change.get("login", base["login"]),
            "password": change.get("password", base["password"]),
            "extra": json.dumps(extra),
        }
        started = time.monotonic()
        response = dep.api.post("/connections/test", json=body)
        results.append(f"{name} {time.monotonic() - started:.2f}s")
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["status"] is ok, (name, answer)
        assert message in answer["message"], (name, answer)
        assert "emulator-secret" not in answer["message"]
    measured.append("Test connection (REST): " + ", ".join(results))


def test_exactly_one_run_per_window_across_the_session(deployment: Deployment, measured: list[str]) -> None:
    dep = deployment
    totals = []
    for name, flow_id in dep.flows.items():
        per_window = dep.runs_per_window(flow_id)
        assert set(per_window.values()) <= {1}, (name, per_window)
        assert len(dep.run_posts(flow_id)) == len(per_window), name
        totals.append(f"{name} {len(per_window)}")
    measured.append("runs per window: 1 everywhere (" + ", ".join(totals) + f"); session {dep.elapsed():.0f}s")


#: How many windows the race scenario races (each by two DAGs); benchmark runs set more (BENCHMARKS.md §6).
RACE_WINDOWS = int(os.environ.get("FLOWSERVICE_RACE_WINDOWS", "20"))
RACE_DAGS = ("deploy_race_a", "deploy_race_b")
RACE_BATCH = 20


def test_two_dags_starting_one_window_at_once_start_one_run(deployment: Deployment, measured: list[str]) -> None:
    """Two DAGs start the same flow's windows at the same moment, in a pool of one slot.

    As a manual run next to the scheduled one, or two DAGs that feed one flow, do. Both DAG runs of a
    window are triggered back to back; ``POST /runs`` is slowed by 200 ms so that, without the pool,
    one task's look-up would pass before the other's run exists (``tests/race`` shows every window
    duplicated that way). The scheduler grants the pool's slot to one task at a time: the first starts
    the window's run, the second adopts it, and no window gets two runs.
    """
    dep, flow_id = deployment, deployment.flows["flow_race"]
    response = dep.call("POST", "/pools", json={"name": RACE_POOL, "slots": 1, "include_deferred": False})
    assert response.status_code in (200, 201, 409), response.text  # 409: created by a request sent again
    latency = dep.emulator("POST", "/faults", json={"method": "POST", "path": "/runs", "kind": "latency", "delay": 0.2})
    hours = range(1, RACE_WINDOWS + 1)
    dag_runs: list[dict[str, Any]] = []
    triggered = 0.0
    try:
        started = time.monotonic()
        for first in range(1, RACE_WINDOWS + 1, RACE_BATCH):  # at most 2 x 20 DAG runs at a time (SQLite)
            batch = range(first, min(first + RACE_BATCH, RACE_WINDOWS + 1))
            triggering = time.monotonic()
            for hour in batch:
                date = datetime.fromtimestamp(JAN1_2024 + hour * HOUR, timezone.utc).isoformat()
                for dag_id in RACE_DAGS:
                    dep.trigger(dag_id, f"race_h{hour}", date)
            triggered = max(triggered, (time.monotonic() - triggering) / len(batch))

            def finished(batch: range = batch) -> list[dict[str, Any]] | None:
                runs = [dep.get(f"/dags/{dag_id}/dagRuns/race_h{hour}") for hour in batch for dag_id in RACE_DAGS]
                return runs if all(r["state"] in ("success", "failed") for r in runs) else None

            dag_runs += dep.wait_for("the racing DAG runs to finish", finished, timeout=120 + 15 * len(batch))
        took = time.monotonic() - started
    finally:
        dep.emulator("DELETE", f"/faults/{latency['id']}")
    failed = [f"{r['dag_id']}/{r['dag_run_id']}" for r in dag_runs if r["state"] != "success"]
    logs = {
        (dag_id, hour): dep.task_log(dag_id, f"race_h{hour}", "ingest", 1) for hour in hours for dag_id in RACE_DAGS
    }
    assert not failed, "\n".join(logs[(k.split("/")[0], int(k.rsplit("_h", 1)[1]))][-3000:] for k in failed)
    assert len(dep.run_posts(flow_id)) == RACE_WINDOWS
    one_run_per_window(dep, flow_id, {manual_window(hour) for hour in hours})
    gaps = []
    for hour in hours:
        a, b = (dep.task_instance(dag_id, f"race_h{hour}", "ingest") for dag_id in RACE_DAGS)
        assert a["pool"] == b["pool"] == RACE_POOL
        first, second = sorted((a, b), key=lambda ti: str(ti["start_date"]))
        gap = instant(second["start_date"]) - instant(first["end_date"])
        assert gap >= 0, f"window {hour}: the two tasks overlapped ({first} / {second})"  # one slot: never both
        gaps.append(gap)
        starters = [dag_id for dag_id in RACE_DAGS if "Started run" in logs[(dag_id, hour)]]
        adopters = [dag_id for dag_id in RACE_DAGS if "already created for this window" in logs[(dag_id, hour)]]
        assert (len(starters), len(adopters)) == (1, 1), f"window {hour}: started by {starters}, adopted by {adopters}"
    gaps.sort()
    measured.append(
        f"race: {RACE_WINDOWS} windows each triggered by 2 DAGs within {1000 * triggered:.0f} ms, "
        f"POST /runs slowed 200 ms, pool of 1 slot: {RACE_WINDOWS} POST /runs, 0 duplicates, every window started "
        f"by one task and adopted by the other; slot handed on after {gaps[len(gaps) // 2]:.1f}s (median); "
        f"{2 * RACE_WINDOWS} tasks in {took:.0f}s"
    )
