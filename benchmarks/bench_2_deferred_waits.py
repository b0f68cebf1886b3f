"""Benchmark 2: 1,000 concurrent deferred run waits (FlowServiceRunTrigger) on one asyncio event loop.

The emulator runs in a separate process (its CLI), so its CPU use is not on the measured loop. N runs
are created with ``startTime`` values spread over ``span`` seconds, so they finish at staggered
times. Then, on ONE event loop, N ``FlowServiceRunTrigger.run()`` async generators are iterated to
their first event, each in its own task, as Airflow's triggerer does. A probe task measures event
loop lag (a 10 ms sleep's overshoot) and samples this process's RSS. The baseline, on the same loop
in the same process, holds N plain coroutines polling with ``asyncio.sleep(poll_interval)``.

Run: ``python benchmarks/bench_2_deferred_waits.py [--quick]``.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common as c

PROBE_INTERVAL = 0.010
RSS_EVERY = 0.25
RUN_TIMELINE = (1.0, 2.0)  # the emulator: inProgress 1 s after startTime, finished 2 s after it
DAY = 86400
WINDOW_BASE = 1577836800  # 2020-01-01T00:00:00Z: windows are far in the past
RUNS_PER_FLOW = 100

LAG_TARGET = 0.050
RSS_TARGET = 100 * 2**20
CALLS_TARGET = 1.0


@dataclass
class Sizes:
    runs: int
    poll: float
    lead: float  # seconds between the waits starting and the first run finishing
    span: float  # the runs finish spread over this many seconds
    baseline: float  # seconds the baseline coroutines are held


FULL = Sizes(runs=1000, poll=5.0, lead=5.0, span=40.0, baseline=20.0)
QUICK = Sizes(runs=100, poll=1.0, lead=3.0, span=6.0, baseline=4.0)


@dataclass
class Probe:
    """Event loop lag (overshoot of a short sleep) and RSS samples, while ``running``."""

    lags: list[float] = field(default_factory=list)
    starts: list[float] = field(default_factory=list)  # perf_counter when each lag sample's sleep began
    rss: list[int] = field(default_factory=list)
    running: bool = True

    async def run(self) -> None:
        last_rss = 0.0
        while self.running:
            t0 = time.perf_counter()
            await asyncio.sleep(PROBE_INTERVAL)
            self.lags.append(max(0.0, time.perf_counter() - t0 - PROBE_INTERVAL))
            self.starts.append(t0)
            if t0 - last_rss >= RSS_EVERY:
                self.rss.append(c.rss_bytes())
                last_rss = t0


@dataclass
class Phase:
    lags: list[float]
    lag_at: list[float]  # when each lag sample began, seconds after the phase started
    rss_start: int
    rss_peak: int
    rss_end: int
    seconds: float
    gc_spans: list[tuple[float, float]] = field(default_factory=list)  # full (gen 2) collections: (start, seconds)

    @property
    def growth(self) -> int:
        return self.rss_peak - self.rss_start

    @property
    def gc_pauses(self) -> list[float]:
        return [seconds for _, seconds in self.gc_spans]

    def during_gc(self, i: int) -> bool:
        """Whether lag sample ``i`` (its sleep and overshoot) overlapped a full garbage collection."""
        start, end = self.lag_at[i], self.lag_at[i] + PROBE_INTERVAL + self.lags[i]
        return any(g < end and g + d > start for g, d in self.gc_spans)


async def _measure(body: Any) -> Phase:
    """Run ``body()`` (a coroutine function) with the probe alongside."""
    gc.collect()
    probe = Probe()
    spans: list[tuple[float, float]] = []
    started: list[float] = []

    def on_gc(phase: str, info: dict[str, Any]) -> None:  # times the interpreter's full collections
        if info["generation"] != 2:
            return
        if phase == "start":
            started[:] = [time.perf_counter()]
        elif started:
            spans.append((started[0], time.perf_counter() - started[0]))

    gc.callbacks.append(on_gc)
    rss_start = c.rss_bytes()
    probe_task = asyncio.get_running_loop().create_task(probe.run())
    t0 = time.perf_counter()
    try:
        await body()
    finally:
        gc.callbacks.remove(on_gc)
    seconds = time.perf_counter() - t0
    probe.running = False
    await probe_task
    rss_end = c.rss_bytes()
    peak = max([rss_start, rss_end, *probe.rss])
    lag_at = [t - t0 for t in probe.starts]
    return Phase(probe.lags, lag_at, rss_start, peak, rss_end, seconds, [(g - t0, d) for g, d in spans])


async def baseline_phase(n: int, poll: float, duration: float) -> Phase:
    """N coroutines that poll nothing: ``asyncio.sleep(poll)`` until ``duration`` has passed."""

    async def sleeper(deadline: float) -> None:
        while time.monotonic() < deadline:
            await asyncio.sleep(poll)

    async def body() -> None:
        deadline = time.monotonic() + duration
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.create_task(sleeper(deadline)) for _ in range(n)))

    return await _measure(body)


async def trigger_phase(run_ids: list[str], poll: float, end_time: float) -> tuple[Phase, dict[str, Any]]:
    """N FlowServiceRunTrigger.run() generators, each iterated to its first event in its own task."""
    from airflow_flowservice.hooks.flowservice import FlowServiceHook
    from airflow_flowservice.triggers.run import FlowServiceRunTrigger

    fired: dict[str, Any] = {}
    started: dict[str, float] = {}

    async def run_trigger(trigger: FlowServiceRunTrigger) -> None:
        assert trigger.run_id is not None
        started[trigger.run_id] = time.time()
        agen = trigger.run()
        try:
            async for event in agen:  # the triggerer takes the first event, then cleans the trigger up
                fired[trigger.run_id] = (time.time(), event.payload)
                break
        finally:
            await agen.aclose()
        await trigger.cleanup()

    async def body() -> None:
        loop = asyncio.get_running_loop()
        triggers = [FlowServiceRunTrigger(run_id=r, end_time=end_time, poll_interval=poll) for r in run_ids]
        await asyncio.gather(*(loop.create_task(run_trigger(t)) for t in triggers))

    phase = await _measure(body)
    client = await FlowServiceHook().get_async_client()
    await client.aclose()
    return phase, {"fired": fired, "started": started}


async def create_runs(n: int, first_finish: float, span: float, label: str) -> tuple[list[str], dict[str, int]]:
    """N runs over ``ceil(n / 100)`` flows, the i-th finishing near ``first_finish + i * span / n``."""
    from airflow_flowservice.hooks.flowservice import FlowServiceHook
    from airflow_flowservice.testing.flows import create_table_flow

    hook = FlowServiceHook()
    flows = [create_table_flow(hook, name=f"bench2-{label}-{k}") for k in range(math.ceil(n / RUNS_PER_FLOW))]
    client = await hook.get_async_client()
    sem = asyncio.Semaphore(16)
    start_times: dict[str, int] = {}

    async def one(i: int) -> str:
        flow_id = flows[i // RUNS_PER_FLOW]
        window = WINDOW_BASE + (i % RUNS_PER_FLOW) * DAY
        start = int(first_finish + i * span / n - RUN_TIMELINE[1])
        params = {
            "startTime": str(start),
            "windowStartTime": str(window),
            "windowEndTime": str(window + DAY),
            "deltaColumn": {"name": "updated_at"},
        }
        async with sem:
            body = await client.request("POST", "/runs", json={"flowId": flow_id, "params": params})
        run_id = str((body.get("items") or [body])[0]["id"])
        start_times[run_id] = start
        return run_id

    try:
        ids = list(await asyncio.gather(*(one(i) for i in range(n))))
    finally:
        await client.aclose()
    return ids, start_times


def completed_at(run_ids: list[str]) -> dict[str, float]:
    """``durationSummary.completedAtUTC`` of each run, in epoch seconds (read after the measurement)."""
    from airflow_flowservice.client import unwrap_items
    from airflow_flowservice.hooks.flowservice import FlowServiceHook

    hook = FlowServiceHook()
    out: dict[str, float] = {}
    for run_id in run_ids:
        item = unwrap_items(hook.client.request("GET", f"/runs/{run_id}"))[0]
        done = (item.get("metrics") or {}).get("durationSummary", {}).get("completedAtUTC")
        if done is not None:  # a run still going (its trigger ended early) has no completion time
            out[run_id] = float(done) / 1000.0
    return out


def lag_stats(lags: list[float]) -> tuple[float, float, float]:
    return c.percentile(lags, 50), c.percentile(lags, 99), max(lags) if lags else math.nan


def mib(value: float) -> str:
    return f"{value / 2**20:.1f} MiB"


@dataclass
class Round:
    """One measured round of N triggers, analysed."""

    phase: Phase
    n: int
    fired: int
    statuses: dict[str, int]
    calls_max: float
    calls_mean: float
    total_calls: int
    list_calls: int  # GET /runs?property=id==... calls, each reading up to 100 runs
    calls_per_interval: float  # those calls per poll interval over the wait (N waits: ceil(N / 100) expected)
    mean_gap: float
    other: dict[str, int]
    latency: list[float]
    already_finished: int
    late: float


def wait_round(emu: c.EmulatorProcess, loop: asyncio.AbstractEventLoop, sizes: Sizes, label: str) -> Round:
    """Create N staggered runs, then wait for all of them with N triggers on ``loop``; analyse the log."""
    # Runs are created on a throw-away loop (its client is closed with it); the waits start at ready_at.
    ready_at = time.time() + 2.0 + sizes.runs * 0.01
    t0 = time.perf_counter()
    run_ids, _ = asyncio.run(create_runs(sizes.runs, ready_at + sizes.lead, sizes.span, label))
    asyncio.set_event_loop(loop)
    c.log(f"bench 2 [{label}]: created {len(run_ids)} runs in {time.perf_counter() - t0:.1f}s")
    late = time.time() - ready_at
    if late < 0:
        time.sleep(-late)
    emu.clear_requests()
    end_time = time.time() + sizes.lead + sizes.span + 120
    c.log(f"bench 2 [{label}]: {len(run_ids)} triggers on one loop")
    phase, info = loop.run_until_complete(trigger_phase(run_ids, sizes.poll, end_time))
    records = emu.requests()
    finished = completed_at(run_ids)
    return analyse(sizes, phase, info, records, finished, run_ids, max(0.0, late))


def analyse(
    sizes: Sizes,
    phase: Phase,
    info: dict[str, Any],
    records: list[dict[str, Any]],
    finished: dict[str, float],
    run_ids: list[str],
    late: float,
) -> Round:
    fired: dict[str, Any] = info["fired"]
    started: dict[str, float] = info["started"]
    statuses: dict[str, int] = {}
    for _, payload in fired.values():
        statuses[payload["status"]] = statuses.get(payload["status"], 0) + 1
    gets: dict[str, list[float]] = {}
    other: dict[str, int] = {}
    list_calls: list[float] = []  # GET /runs?property=id==a,b,c (the shared poller's reads)
    for r in records:
        if r["method"] == "GET" and r["path"].startswith("/runs/") and r["path"].count("/") == 2:
            gets.setdefault(r["path"][len("/runs/") :], []).append(float(r["time"]))
        elif r["method"] == "GET" and r["path"] == "/runs" and "id==" in unquote(r["query"]):
            list_calls.append(float(r["time"]))
            for key, value in parse_qsl(r["query"]):
                if key == "property" and value.startswith("id=="):
                    for run_id in value[4:].split(","):
                        gets.setdefault(run_id, []).append(float(r["time"]))
        else:
            key = f"{r['method']} {r['path'] if not r['path'].startswith('/runs/') else '/runs/{id}/...'}"
            other[key] = other.get(key, 0) + 1
    per_run: list[float] = []  # calls / poll intervals started (1 + wait / poll)
    gaps: list[float] = []
    for run_id in run_ids:
        if run_id not in fired:
            continue
        calls = sorted(gets.get(run_id, []))
        wait = fired[run_id][0] - started[run_id]
        per_run.append(len(calls) / (1 + wait / sizes.poll))
        gaps += [b - a for a, b in itertools.pairwise(calls)]
    return Round(
        phase=phase,
        n=len(run_ids),
        fired=len(fired),
        statuses=statuses,
        calls_max=max(per_run) if per_run else math.nan,
        calls_mean=sum(per_run) / len(per_run) if per_run else math.nan,
        total_calls=sum(len(v) for v in gets.values()),
        list_calls=len(list_calls),
        calls_per_interval=len(list_calls) / max(1.0, (max(list_calls) - min(list_calls)) / sizes.poll + 1)
        if list_calls
        else math.nan,
        mean_gap=sum(gaps) / len(gaps) if gaps else math.nan,
        other=other,
        latency=[fired[r][0] - finished[r] for r in run_ids if r in fired and r in finished],
        already_finished=sum(1 for r in run_ids if r in finished and r in started and finished[r] <= started[r]),
        late=late,
    )


def main() -> int:
    args = c.parse_args(__doc__ or "")
    sizes = QUICK if args.quick else FULL
    c.setup_airflow_home()
    with c.start_emulator_process(run_timeline=RUN_TIMELINE) as emu:
        c.log(f"bench 2: emulator pid {emu.pid} at {emu.base_url}; {sizes}")
        import airflow_flowservice.triggers.run  # noqa: F401 - imported before any RSS is measured

        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            c.log(f"bench 2: baseline, {sizes.runs} asyncio.sleep-polling coroutines for {sizes.baseline}s")
            base = loop.run_until_complete(baseline_phase(sizes.runs, sizes.poll, sizes.baseline))
            trig = wait_round(emu, loop, sizes, "provider")
        finally:
            loop.close()
    print(report(sizes, base, trig))
    if trig.fired != trig.n or trig.statuses.get("success", 0) != trig.n:
        c.log(f"bench 2: not every trigger fired success: {trig.statuses}")
        return 1
    return 0


def lag_diagnosis(sizes: Sizes, base: Phase, phase: Phase, p99: float, worst: float) -> str:
    """Why the lag target was missed, from this run's samples: start-up, the garbage collector, or polling."""
    if not phase.lags:
        return "**Lag target missed**: the probe took no sample."
    startup = sizes.poll / 10  # every trigger's first poll is due within this
    over = [i for i, lag in enumerate(phase.lags) if lag >= LAG_TARGET]
    at_gc = [i for i in over if phase.during_gc(i)]
    at_startup = [i for i in over if phase.lag_at[i] < startup]
    i_max = max(range(len(phase.lags)), key=phase.lags.__getitem__)
    when = phase.lag_at[i_max]
    gc_max = max(phase.gc_pauses, default=0.0)
    text = (
        f"**Lag target missed**: p99 {c.fmt_ms(p99)}, max {c.fmt_ms(worst)} (baseline max"
        f" {c.fmt_ms(max(base.lags, default=math.nan))}). From this run's samples: the max came {when:.1f} s after the"
        " waits started ("
        + (f"start-up: every first poll is due within {startup:g} s" if when < startup else "after start-up")
        + ("; during a full garbage collection" if phase.during_gc(i_max) else "; outside any full garbage collection")
        + f"). {len(over)} of {len(phase.lags)} probe samples reached 50 ms: {len(at_gc)} overlapped one of the"
        f" {len(phase.gc_spans)} full (gen 2) garbage collections of the waits (longest {c.fmt_ms(gc_max)}),"
        f" {len(at_startup)} fell in the first {startup:g} s."
    )
    rest = [i for i in over if i not in at_gc and i not in at_startup]
    if at_gc:
        text += (
            f" The collector's share ({len(at_gc)}): a full collection scans every object of the process (Airflow's"
            f" modules and the {sizes.runs} waits) and holds the loop meanwhile; a triggerer process could"
            " `gc.freeze()` its start-up objects to shorten full collections."
        )
    if len(at_startup) > len(set(at_startup) & set(at_gc)):
        text += (
            f" Start-up's share: the burst of {sizes.runs} first polls due within {startup:g} s, their requests"
            " and responses handled back to back on the loop."
        )
    if rest:
        text += (
            f" {len(rest)} happened neither during a full collection nor at start-up: the loop was busy handling"
            " polls (or the shared machine took the CPU away)."
        )
    return text


def report(sizes: Sizes, base: Phase, trig: Round) -> str:
    n = sizes.runs
    b50, b99, bmax = lag_stats(base.lags)
    t50, t99, tmax = lag_stats(trig.phase.lags)
    growth = trig.phase.growth
    ok_calls = trig.calls_max <= CALLS_TARGET
    ok_p99, ok_max = t99 < LAG_TARGET, tmax < LAG_TARGET
    ok_rss = growth < RSS_TARGET

    def lat(r: Round) -> str:
        return f"{c.fmt_ms(c.percentile(r.latency, 50), 0)} / {c.fmt_ms(c.percentile(r.latency, 99), 0)}"

    rows = [
        [
            "GET /runs?property=id==... calls per poll interval (all waits together)",
            f"{trig.calls_per_interval:.2f}",
            "-",
            "-",
            f"<= ceil(N / 100) = {math.ceil(trig.n / 100)}",
            f"{c.verdict(trig.calls_per_interval <= math.ceil(trig.n / 100) * 1.2)} ({trig.list_calls} calls)",
        ],
        [
            "reads of a run per poll interval (max over runs; mean)",
            f"{trig.calls_max:.3f}; {trig.calls_mean:.3f}",
            "-",
            "-",
            "<= 1",
            f"{c.verdict(ok_calls)} ({trig.calls_max:.3f})",
        ],
        ["event-loop lag p50", c.fmt_ms(t50, 2), c.fmt_ms(b50, 2), c.fmt_ratio(t50, b50), "-", "-"],
        [
            "event-loop lag p99",
            c.fmt_ms(t99),
            c.fmt_ms(b99),
            c.fmt_ratio(t99, b99),
            "< 50 ms",
            f"{c.verdict(ok_p99)} ({c.fmt_ms(t99)})",
        ],
        [
            "event-loop lag max",
            c.fmt_ms(tmax),
            c.fmt_ms(bmax),
            c.fmt_ratio(tmax, bmax),
            "< 50 ms",
            f"{c.verdict(ok_max)} ({c.fmt_ms(tmax)})",
        ],
        [
            "longest full garbage collection (gen 2) during the waits; count",
            f"{c.fmt_ms(max(trig.phase.gc_pauses, default=0.0))}; {len(trig.phase.gc_pauses)}",
            f"{c.fmt_ms(max(base.gc_pauses, default=0.0))}; {len(base.gc_pauses)}",
            "-",
            "-",
            "-",
        ],
        [
            "RSS growth during the waits (peak - start)",
            mib(growth),
            mib(base.growth),
            f"+{mib(growth - base.growth)}",
            "< 100 MB",
            f"{c.verdict(ok_rss)} ({mib(growth)})",
        ],
        [
            "run finished -> trigger fired, p50 / p99",
            lat(trig),
            "-",
            f"poll interval {sizes.poll * 1000:.0f} ms",
            "-",
            "-",
        ],
        [
            f"wall time of the waits (last run finishes at {sizes.lead + sizes.span:g} s)",
            f"{trig.phase.seconds:.1f} s",
            "-",
            "-",
            "-",
            "-",
        ],
    ]
    notes = []
    for label, r in (("triggers", trig),):
        notes.append(
            f"- {label}: {r.fired} of {r.n} triggers fired ("
            + ", ".join(f"{k}: {v}" for k, v in sorted(r.statuses.items()))
            + f"); {r.total_calls} `GET /runs/{{id}}` (mean {r.total_calls / max(1, r.n):.1f} per run, mean gap"
            f" between two polls of a run {c.fmt_ms(r.mean_gap, 0)} for a {sizes.poll * 1000:.0f} ms interval);"
            " other calls: "
            + (", ".join(f"`{k}` x {v}" for k, v in sorted(r.other.items())) or "none")
            + f"; runs already finished when their wait started: {r.already_finished}"
            + (f"; waits started {r.late:.1f} s late" if r.late > 0.5 else "")
            + "."
        )
    lines = [
        "## 2. 1,000 concurrent deferred run waits" if n == 1000 else f"## 2. {n:,} concurrent deferred run waits",
        "",
        f"One process, ONE asyncio event loop: {n} `FlowServiceRunTrigger(run_id=..., poll_interval={sizes.poll:g})`"
        " instances, each `run()` async generator iterated to its first event in its own task (what Airflow's"
        " triggerer does), all created at the same moment (a triggerer restart, or a backfill deferring together),"
        " against the emulator started from its CLI in a separate process (its CPU use is not on the measured loop)."
        f" The {n} runs ({math.ceil(n / RUNS_PER_FLOW)} flow(s) x up to {RUNS_PER_FLOW} windows) finish at"
        f" staggered times: the first {sizes.lead:g} s after the waits start, the last {sizes.lead + sizes.span:g} s"
        f" after (run `startTime` spread over {sizes.span:g} s, 1 s steps). A probe task on the same loop sleeps"
        f" {PROBE_INTERVAL * 1000:.0f} ms and records the overshoot (event-loop lag), and samples RSS (psutil) every"
        f" {RSS_EVERY:g} s. Calls are counted from the emulator's request log. Baseline, same loop and process,"
        f" measured first: {n} coroutines polling nothing (`await asyncio.sleep({sizes.poll:g})`) for"
        f" {sizes.baseline:g} s. Trigger logging is at Airflow's WARNING level (the per-status INFO lines are"
        " filtered).",
        "",
        "What keeps the loop responsive (the provider's code, not the benchmark's): the triggers share ONE async"
        " client per event loop and credentials (one token, one connection pool), which sends at most"
        " `MAX_IN_FLIGHT` = 20 requests at once and queues the rest on an `asyncio.Semaphore` (queueing thousands"
        " of requests inside httpcore's pool costs O(queued x connections) per event on the loop:"
        " encode/httpcore#1035); and each trigger polls first within a tenth of its interval, then every"
        " interval plus up to 10 %, so waits deferred together do not poll in lockstep.",
        "",
        "Calls per poll interval = a run's GET count / (1 + its wait / poll interval), the wait running from the"
        " trigger's start to its event. A trigger that polls at most once per interval scores <= 1 whatever its"
        " first-poll delay: k polls, the first at or after the start and each later one at least an interval after"
        " the one before, take at least (k - 1) intervals, so k <= 1 + wait / interval. A duplicate or retried"
        " poll pushes it above 1; the mean is below 1 because each trigger's first poll is delayed by up to a"
        " tenth of the interval and its pauses are up to 10 % longer.",
        "",
        c.md_table(
            [
                "figure",
                f"{n} triggers (provider)",
                f"baseline ({n} sleepers)",
                "ratio / delta",
                "target",
                "result",
            ],
            rows,
        ),
        "",
        *notes,
    ]
    if not (ok_p99 and ok_max):
        lines += ["", lag_diagnosis(sizes, base, trig.phase, t99, tmax)]
    lines += [
        "",
        c.summary_marker(
            "2. deferred waits", "GET /runs/{id} per run per poll interval <= 1", f"{trig.calls_max:.3f}", ok_calls
        ),
        c.summary_marker(
            "2. deferred waits",
            "event-loop lag p99 < 50 ms",
            f"{c.fmt_ms(t99)} (baseline {c.fmt_ms(b99)})",
            ok_p99,
        ),
        c.summary_marker(
            "2. deferred waits",
            "event-loop lag max < 50 ms",
            f"{c.fmt_ms(tmax)} (baseline {c.fmt_ms(bmax)})",
            ok_max,
        ),
        c.summary_marker(
            "2. deferred waits", "RSS growth < 100 MB", f"{mib(growth)} (baseline {mib(base.growth)})", ok_rss
        ),
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
