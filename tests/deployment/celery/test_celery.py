"""The provider on a distributed Airflow: CeleryExecutor, PostgreSQL, Redis, two schedulers, workers and triggerers.

Run with ``python3 dev.py celery`` (conftest.py). Each scenario counts, from the emulator, the
``POST /runs`` it caused and the runs per window, and adds its figures to the session's summary.
"""

from __future__ import annotations

import itertools
import signal
import statistics
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import psutil
import pytest

from tests.deployment.celery.conftest import HEARTBEAT_TIMEOUT, POOL, CeleryDeployment
from tests.deployment.scenarios import instant, logical_date, manual_window, one_run_per_window

pytestmark = [pytest.mark.deployment, pytest.mark.celery]

#: Windows each race scenario races (each by two DAGs, one on each worker's queue).
WINDOWS = 10
#: ``POST /runs`` is slowed this much (s) in both races: without a pool, a task's look-up then passes before the
#: other task's run exists whenever the two tasks of a window start less than this apart. The workers start them
#: 1-5 s apart on a busy 2-core machine (each has 4 slots, and the windows queue behind each other): with 0.2 s no
#: window raced, and the pooled race would prove nothing.
LATENCY = 3.0
#: How many of a duplicated window's two tasks report it (fail naming both run ids). The race DAGs do not wait
#: (wait_for_completion=False): only the later task, whose check after its own POST /runs sees both runs, can
#: (a task that waits in the worker reports it too; docs/runs.md, "Which of the two tasks fails").
REPORTERS_PER_DUPLICATE = 1


@dataclass
class Race:
    """Two DAGs on one flow; for each window, both DAG runs triggered back to back through the REST API."""

    dep: CeleryDeployment
    dags: tuple[str, str]
    hours: range = range(1, WINDOWS + 1)

    @staticmethod
    def run_id(hour: int) -> str:
        return f"race_h{hour}"

    def trigger(self) -> None:
        """Both DAG runs of a window at once (two REST calls in flight), one window after the other."""
        with ThreadPoolExecutor(max_workers=2) as pool:
            for hour in self.hours:
                calls = [pool.submit(self.dep.trigger, dag, self.run_id(hour), logical_date(hour)) for dag in self.dags]
                for call in calls:
                    call.result()

    def dag_runs(self) -> list[dict[str, Any]]:
        wanted = {self.run_id(hour) for hour in self.hours}
        return [
            run
            for dag_id in self.dags
            for run in self.dep.get(f"/dags/{dag_id}/dagRuns", limit=100)["dag_runs"]
            if run["dag_run_id"] in wanted
        ]

    def finished(self) -> list[dict[str, Any]] | None:
        runs = self.dag_runs()
        done = len(runs) == 2 * len(self.hours) and all(r["state"] in ("success", "failed") for r in runs)
        return runs if done else None

    def task_instances(self) -> dict[tuple[str, int], dict[str, Any]]:
        return {
            (dag_id, hour): self.dep.task_instance(dag_id, self.run_id(hour), "ingest")
            for hour in self.hours
            for dag_id in self.dags
        }

    def logs(self) -> dict[tuple[str, int], str]:
        return {(dag_id, hour): self.dep.task_log(dag_id, self.run_id(hour), "ingest", 1) for dag_id, hour in self}

    def __iter__(self) -> Any:
        return iter([(dag_id, hour) for hour in self.hours for dag_id in self.dags])

    def spacing(self, dag_runs: list[dict[str, Any]]) -> str:
        """How far apart the api-server created the two DAG runs of a window (their ``queued_at``)."""
        created = {(r["dag_id"], r["dag_run_id"]): instant(r["queued_at"]) for r in dag_runs}
        gaps = [
            abs(created[(self.dags[0], self.run_id(h))] - created[(self.dags[1], self.run_id(h))]) for h in self.hours
        ]
        return f"{1000 * statistics.median(gaps):.0f} ms apart (median; max {1000 * max(gaps):.0f} ms)"


def slow_run_starts(dep: CeleryDeployment) -> dict[str, Any]:
    """Slow every ``POST /runs`` by :data:`LATENCY` (the emulator's latency fault); returns the rule to delete."""
    rule: dict[str, Any] = dep.emulator(
        "POST", "/faults", json={"method": "POST", "path": "/runs", "kind": "latency", "delay": LATENCY}
    )
    return rule


def queued_by(dep: CeleryDeployment, scheduler: str, dags: tuple[str, ...]) -> int:
    """How many task instances of ``dags`` the scheduler sent to Celery (its executor's "queued" event, one each)."""
    return len(
        [
            line
            for line in dep.log_lines(scheduler, "Received executor event with state queued for task instance")
            if any(f"TaskInstanceKey(dag_id='{dag_id}'" in line for dag_id in dags)
        ]
    )


def test_pool_of_one_slot_holds_across_two_schedulers(celery_deployment: CeleryDeployment, measured: list[str]) -> None:
    """Two schedulers, two DAGs on one flow and window, a pool of one slot: 0 duplicates, one scheduler stopped mid-way.

    The schedulers take the pool's row lock (``SELECT ... FOR UPDATE`` on PostgreSQL) before they queue a
    task, so at most one task of the pool is queued or running at a time, whichever scheduler queued it.
    """
    dep, flow_id = celery_deployment, celery_deployment.flows["flow_pool"]
    dep.ensure_running("scheduler-a", "scheduler-b")
    response = dep.call("POST", "/pools", json={"name": POOL, "slots": 1, "include_deferred": False})
    assert response.status_code in (200, 201, 409), response.text  # 409: created by a request sent again
    race = Race(dep, ("celery_pool_a", "celery_pool_b"))
    latency = slow_run_starts(dep)
    tokens = dep.token_requests()
    try:
        started = time.monotonic()
        race.trigger()

        def half_done() -> bool:
            return sum(r["state"] == "success" for r in race.dag_runs()) >= WINDOWS

        dep.wait_for("half of the pooled tasks to finish", half_done, timeout=240)
        before_stop = {name: queued_by(dep, name, race.dags) for name in ("scheduler-a", "scheduler-b")}
        stopping = time.time()
        code = dep.stop("scheduler-a", signal.SIGTERM)
        stopped = time.time() - stopping
        dag_runs = dep.wait_for("the pooled DAG runs to finish", race.finished, timeout=300)
        took = time.monotonic() - started
    finally:
        dep.emulator("DELETE", f"/faults/{latency['id']}")
    token_calls = dep.token_requests() - tokens  # before this test's own reads below
    tis, logs = race.task_instances(), race.logs()
    failed = [f"{r['dag_id']}/{r['dag_run_id']}" for r in dag_runs if r["state"] != "success"]
    assert not failed, "\n".join(logs[(k.split("/")[0], int(k.rsplit("_h", 1)[1]))][-3000:] for k in failed)
    assert len(dep.run_posts(flow_id)) == WINDOWS
    one_run_per_window(dep, flow_id, {manual_window(hour) for hour in race.hours})
    for hour in race.hours:
        starters = [dag for dag in race.dags if "Started run" in logs[(dag, hour)]]
        adopters = [dag for dag in race.dags if "already created for this window" in logs[(dag, hour)]]
        assert (len(starters), len(adopters)) == (1, 1), f"window {hour}: started by {starters}, adopted by {adopters}"
    # One slot: no two of the 20 tasks ever overlapped, whichever scheduler queued them.
    ordered = sorted(tis.values(), key=lambda ti: instant(ti["start_date"]))
    assert all(ti["pool"] == POOL for ti in ordered)
    gaps = [instant(b["start_date"]) - instant(a["end_date"]) for a, b in itertools.pairwise(ordered)]
    assert min(gaps) >= 0, f"two tasks of the pool overlapped: {min(gaps):.3f}s"
    after = [ti for ti in ordered if instant(ti["start_date"]) >= stopping]
    assert after, "no task started after scheduler-a was stopped"
    freed = max([stopping, *(instant(ti["end_date"]) for ti in ordered if instant(ti["start_date"]) < stopping)])
    handover = instant(after[0]["start_date"]) - freed
    queued = {name: queued_by(dep, name, race.dags) for name in ("scheduler-a", "scheduler-b")}
    assert queued["scheduler-a"] == before_stop["scheduler-a"]  # stopped: it queued nothing more
    assert queued["scheduler-b"] > before_stop["scheduler-b"]  # the other carried on
    assert token_calls == 2 * WINDOWS  # each Celery task is a process of its own: one token request each
    measured.append(
        f"celery pool race: {WINDOWS} windows x 2 DAGs (one per worker queue), each pair's DAG runs created "
        f"{race.spacing(dag_runs)}, POST /runs slowed {LATENCY:.1f}s, pool of 1 slot, 2 schedulers: "
        f"{WINDOWS} POST /runs, 0 duplicates, each window started by one task and adopted by the other, no two "
        f"tasks overlapped; slot handed on after {statistics.median(gaps):.1f}s median, {max(gaps):.1f}s max; "
        f"scheduler-a SIGTERMed after {sum(before_stop.values())} tasks queued (exit {stopped:.1f}s, code {code}), "
        f"scheduler-b carried on ({len(after)} tasks; first {handover:.1f}s after the slot was free); tasks queued "
        f"by a/b: {queued['scheduler-a']}/{queued['scheduler-b']}; {token_calls} IMS token requests for "
        f"{2 * WINDOWS} tasks; {2 * WINDOWS} tasks in {took:.0f}s"
    )


def test_without_a_pool_every_duplicated_window_is_reported(
    celery_deployment: CeleryDeployment, measured: list[str]
) -> None:
    """The same race in ``default_pool``: windows get two runs, and each such window is reported by a failed task."""
    dep, flow_id = celery_deployment, celery_deployment.flows["flow_race"]
    dep.ensure_running("scheduler-a", "scheduler-b")
    race = Race(dep, ("celery_race_a", "celery_race_b"))
    latency = slow_run_starts(dep)
    try:
        started = time.monotonic()
        race.trigger()
        dag_runs = dep.wait_for("the racing DAG runs to finish", race.finished, timeout=300)
        took = time.monotonic() - started
    finally:
        dep.emulator("DELETE", f"/faults/{latency['id']}")
    states = {(r["dag_id"], int(r["dag_run_id"].rsplit("_h", 1)[1])): r["state"] for r in dag_runs}
    logs = race.logs()
    run_ids: dict[tuple[int, int], list[str]] = {}
    for run in dep.runs(flow_id):
        if (w := run.window()) is not None:
            run_ids.setdefault(w, []).append(run.id)
    assert set(run_ids) == {manual_window(hour) for hour in race.hours}  # no window left without a run
    assert len(dep.run_posts(flow_id)) == sum(len(ids) for ids in run_ids.values())
    duplicated, silent = [], 0
    for hour in race.hours:
        ids = run_ids[manual_window(hour)]
        assert len(ids) <= 2, (hour, ids)
        if len(ids) == 1:  # one task started the run, the other adopted it: both succeed
            assert {states[(dag, hour)] for dag in race.dags} == {"success"}, (hour, states)
            continue
        duplicated.append(hour)
        reporters = [
            dag
            for dag in race.dags
            if states[(dag, hour)] == "failed" and all(run_id in logs[(dag, hour)] for run_id in ids)
        ]
        assert len(reporters) >= REPORTERS_PER_DUPLICATE, f"window {hour} ({ids}) reported by {reporters}"
        silent += sum(states[(dag, hour)] == "success" for dag in race.dags)
    assert duplicated, f"no window raced: the two tasks of each window started more than {LATENCY}s apart"
    for dag, hour in race:
        assert "Not in a pool of its own" in logs[(dag, hour)], f"{dag} h{hour}: no advice line in default_pool"
    measured.append(
        f"celery race without a pool: {WINDOWS} windows x 2 DAGs, DAG runs created {race.spacing(dag_runs)}, POST "
        f"/runs slowed {LATENCY:.1f}s: {len(duplicated)} of {WINDOWS} windows got 2 runs, each reported by a "
        f"failed task naming both run ids; in {silent} of them the other DAG run succeeded; every other window "
        f"started once and adopted once; {2 * WINDOWS} tasks in {took:.0f}s"
    )


def test_celery_worker_killed_mid_wait_retry_adopts_the_run(
    celery_deployment: CeleryDeployment, measured: list[str]
) -> None:
    """SIGKILL a Celery worker (its pool, the task's supervisor and the task) while its task waits for the run."""
    dep, flow_id = celery_deployment, celery_deployment.flows["flow_worker"]
    dep.ensure_running("worker-a", "scheduler-a", "scheduler-b")
    run_id = dep.trigger("celery_worker", "worker_h3", logical_date(3))
    dep.wait_for("the run to be started", lambda: dep.run_posts(flow_id), logs=("worker-a",))
    (run,) = dep.runs(flow_id)
    dep.wait_for_log("celery_worker", run_id, "ingest", 1, f"Run {run.id} status: ")  # polling in the worker
    ti = dep.task_instance("celery_worker", run_id, "ingest")
    assert (ti["state"], ti["try_number"], ti["queue"]) == ("running", 1, "flowservice_a"), ti
    worker = psutil.Process(dep.procs["worker-a"].pid)
    assert ti["pid"] in [p.pid for p in worker.children(recursive=True)]  # the task process runs under worker-a
    killed = time.monotonic()
    dep.stop("worker-a", signal.SIGKILL)  # the worker's process group, then every descendant
    assert not psutil.pid_exists(ti["pid"])
    restarting = time.monotonic()
    ready = len(dep.log_lines("worker-a", " ready."))
    dep.start("worker-a")  # as a service manager restarts it
    dep.wait_for("worker-a to be ready again", lambda: len(dep.log_lines("worker-a", " ready.")) > ready)
    restarted = time.monotonic() - restarting

    def retried() -> dict[str, Any] | None:
        now = dep.task_instance("celery_worker", run_id, "ingest")
        return now if now["try_number"] == 2 and now["state"] == "running" else None

    dep.wait_for("the second try to run", retried, timeout=HEARTBEAT_TIMEOUT + 120, logs=("scheduler-a", "worker-a"))
    to_retry = time.monotonic() - killed
    dep.finish_runs()
    dag_run = dep.wait_dag_run("celery_worker", run_id)
    assert dag_run["state"] == "success"
    tries = dep.get(f"/dags/celery_worker/dagRuns/{run_id}/taskInstances/ingest/tries")["task_instances"]
    assert [(t["try_number"], t["state"]) for t in tries] == [(1, "failed"), (2, "success")], tries
    assert dep.task_instance("celery_worker", run_id, "ingest")["try_number"] == 2
    second = dep.task_log("celery_worker", run_id, "ingest", 2)
    assert f"Adopted run {run.id}, already created for this window" in second
    assert len(dep.run_posts(flow_id)) == 1
    one_run_per_window(dep, flow_id, {manual_window(3)})
    measured.append(
        f"celery worker SIGKILLed mid-wait (task polling in the worker): restarted and ready in {restarted:.1f}s; "
        f"try 2 running {to_retry:.1f}s after the kill (task heartbeat timeout {HEARTBEAT_TIMEOUT}s); try 2 adopted "
        "the run: 1 POST /runs, 1 run for the window"
    )


def test_triggerer_stopped_its_waits_move_to_the_other(
    celery_deployment: CeleryDeployment, measured: list[str]
) -> None:
    """Deferred waits on two triggerers; SIGTERM the one holding the most: its waits move to the other and finish."""
    dep, flow_id = celery_deployment, celery_deployment.flows["flow_deferred"]
    dep.ensure_running("triggerer-a", "triggerer-b", "scheduler-a", "scheduler-b")
    hours = range(1, 7)
    run_ids = [dep.trigger("celery_deferred", f"deferred_h{hour}", logical_date(hour)) for hour in hours]
    for run_id in run_ids:
        dep.wait_deferred("celery_deferred", run_id, "ingest")
    runs = {run.window(): run.id for run in dep.runs(flow_id)}
    flow_run = {run_id: runs[manual_window(hour)] for run_id, hour in zip(run_ids, hours, strict=True)}

    def placed() -> dict[str, dict[str, Any]] | None:
        tis = {run_id: dep.task_instance("celery_deferred", run_id, "ingest") for run_id in run_ids}
        return tis if all(ti["state"] == "deferred" and ti["triggerer_job"] for ti in tis.values()) else None

    tis = dep.wait_for("every wait to be on a triggerer", placed)
    holders = Counter(dep.component_of_job(ti["triggerer_job"]["id"]) for ti in tis.values())
    victim = holders.most_common(1)[0][0]
    (survivor,) = {"triggerer-a", "triggerer-b"} - {victim}
    moving = [run_id for run_id, ti in tis.items() if dep.component_of_job(ti["triggerer_job"]["id"]) == victim]
    for run_id in run_ids:  # every trigger polls its run
        dep.wait_for_log("celery_deferred", run_id, "ingest", 1, f"Run {flow_run[run_id]} status: ")
    tokens = dep.token_requests()
    stopping = time.monotonic()
    code = dep.stop(victim, signal.SIGTERM)
    stopped = time.monotonic() - stopping
    survivor_job = dep.job_ids[survivor]

    def moved() -> bool:
        now = [dep.task_instance("celery_deferred", run_id, "ingest") for run_id in moving]
        return all((ti["triggerer_job"] or {}).get("id") == survivor_job for ti in now)

    dep.wait_for(f"the waits of {victim} to move to {survivor}", moved, timeout=120, logs=(survivor,))
    reassigned = time.monotonic() - stopping

    def polled_again(run_id: str) -> bool:
        folder = dep.home / "logs" / "dag_id=celery_deferred" / f"run_id={run_id}" / "task_id=ingest"
        trigger_log = folder / f"attempt=1.log.trigger.{survivor_job}.log"
        return trigger_log.exists() and f"Run {flow_run[run_id]} status: " in trigger_log.read_text(errors="replace")

    dep.wait_for(f"{survivor} to poll the moved waits", lambda: all(polled_again(r) for r in moving), logs=(survivor,))
    polling = time.monotonic() - stopping
    taken_over = dep.token_requests() - tokens
    finishing = time.monotonic()
    dep.finish_runs()
    for run_id in run_ids:
        assert dep.wait_dag_run("celery_deferred", run_id)["state"] == "success"
    resumed = time.monotonic() - finishing
    resume_tokens = dep.token_requests() - tokens - taken_over
    assert resume_tokens == 0  # the resumed tasks judged the run the trigger sent: no token, no call
    for run_id in run_ids:
        assert dep.task_instance("celery_deferred", run_id, "ingest")["try_number"] == 1  # resumed, not retried
    assert len(dep.run_posts(flow_id)) == len(hours)
    one_run_per_window(dep, flow_id, {manual_window(hour) for hour in hours})
    measured.append(
        f"celery triggerers: {len(run_ids)} deferred waits ({dict(sorted(holders.items()))}); {victim} SIGTERMed "
        f"(exit {stopped:.1f}s, code {code}): its {len(moving)} waits reassigned to {survivor} in {reassigned:.1f}s, "
        f"polling there {polling:.1f}s after the SIGTERM ({taken_over} IMS token request(s) by {survivor}); runs "
        f"finished -> all {len(run_ids)} tasks success in {resumed:.1f}s, 1 try each, 0 IMS token requests to "
        f"resume; 1 POST /runs per window"
    )
