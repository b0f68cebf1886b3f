"""Benchmark 7: 1,000 deferred run waits over 100 flows, woken by the I/O Events journal or by polling.

Two phases, each against its own emulator process (its CLI; ``--journal`` gives the connection the
emulator's journal): the same 1,000 runs (10 per flow over 100 flows) finishing at staggered times, and
1,000 ``FlowServiceRunTrigger.run()`` generators iterated to their event on ONE event loop, as the
triggerer does. Counted from each emulator's request log: ``GET /runs`` calls (the waits' reads) and
journal reads (``GET /events/...``) per poll interval; measured on the loop: the event-loop lag while
waiting (a 10 ms probe's overshoot), and the time from a run's end (its ``completedAtUTC``) to its
trigger's event.

Run: ``python benchmarks/bench_7_journal_waits.py [--quick]``.
"""

from __future__ import annotations

import asyncio
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common as c
from bench_2_deferred_waits import (
    RUN_TIMELINE,
    Phase,
    close_client,
    completed_at,
    create_runs,
    lag_stats,
    trigger_phase,
)

from airflow_flowservice.runs.journal import PAGE_LIMIT


@dataclass
class Sizes:
    waits: int
    flows: int
    poll: float
    lead: float
    span: float


FULL = Sizes(waits=1000, flows=100, poll=5.0, lead=5.0, span=40.0)
QUICK = Sizes(waits=100, flows=10, poll=1.0, lead=3.0, span=6.0)


@dataclass
class Result:
    source: str
    phase: Phase
    fired: int
    runs_calls: int
    journal_calls: int
    empty_reads: int  # journal reads answered 204 (nothing new)
    other_calls: dict[str, int]
    intervals: float
    latency: list[float]


def one_source(sizes: Sizes, journal: bool) -> Result:
    label = "journal" if journal else "poll"
    with c.start_emulator_process(run_timeline=RUN_TIMELINE, journal=journal) as emu:
        loop = asyncio.new_event_loop()
        try:
            ready_at = time.time() + 2.0 + sizes.waits * 0.015
            per_flow = max(1, sizes.waits // sizes.flows)
            run_ids, _ = asyncio.run(
                create_runs(sizes.waits, ready_at + sizes.lead, sizes.span, f"b7-{label}", per_flow=per_flow)
            )
            asyncio.set_event_loop(loop)
            time.sleep(max(0.0, ready_at - time.time()))
            emu.clear_requests()
            end_time = time.time() + sizes.lead + sizes.span + 120
            c.log(f"bench 7 [{label}]: {len(run_ids)} triggers over {sizes.flows} flows on one loop")
            started = time.monotonic()
            phase, info = loop.run_until_complete(
                trigger_phase(run_ids, sizes.poll, end_time, census_after=sizes.poll * 0.6)
            )
            seconds = time.monotonic() - started
            records = emu.requests()
            finished = completed_at(run_ids)
            loop.run_until_complete(close_client())
        finally:
            loop.close()
    fired: dict[str, Any] = info["fired"]
    runs_calls = sum(1 for r in records if r["method"] == "GET" and r["path"].startswith("/runs"))
    journal_calls = sum(1 for r in records if r["method"] == "GET" and r["path"].startswith("/events/"))
    empty_reads = sum(
        1 for r in records if r["method"] == "GET" and r["path"].startswith("/events/") and r["status"] == 204
    )
    other: dict[str, int] = {}
    for r in records:
        if not (r["path"].startswith("/runs") or r["path"].startswith("/events/")):
            key = f"{r['method']} {r['path'].split('/')[1] if '/' in r['path'] else r['path']}"
            other[key] = other.get(key, 0) + 1
    return Result(
        source=label,
        phase=phase,
        fired=len(fired),
        runs_calls=runs_calls,
        journal_calls=journal_calls,
        empty_reads=empty_reads,
        other_calls=other,
        intervals=max(1.0, seconds / sizes.poll),
        latency=[fired[r][0] - finished[r] for r in run_ids if r in fired and r in finished],
    )


def report(sizes: Sizes, poll: Result, journal: Result) -> str:
    rows = []
    for label, value in (
        ("`GET /runs` calls per poll interval", lambda r: f"{r.runs_calls / r.intervals:.2f} ({r.runs_calls})"),
        ("journal reads per poll interval", lambda r: f"{r.journal_calls / r.intervals:.2f} ({r.journal_calls})"),
        ("of which empty (204) per poll interval", lambda r: f"{r.empty_reads / r.intervals:.2f} ({r.empty_reads})"),
        ("event-loop lag p99, waiting", lambda r: c.fmt_ms(lag_stats(r.phase.waiting())[1])),
        ("event-loop lag max, waiting", lambda r: c.fmt_ms(lag_stats(r.phase.waiting())[2])),
        (
            "run finished -> trigger fired, p50 / p99",
            lambda r: f"{c.fmt_ms(c.percentile(r.latency, 50), 0)} / {c.fmt_ms(c.percentile(r.latency, 99), 0)}",
        ),
        ("waits fired", lambda r: f"{r.fired} of {sizes.waits}"),
    ):
        rows.append([label, value(poll), value(journal)])
    # The journal's point: Flow Service's run listing is read a tenth as often (the safety poll), the run ends
    # coming from I/O Events instead. Its own reads: one per round, more only when a page comes back full
    # (runs/journal.PAGE_LIMIT events: a backlog). Rounds are 1.0-1.1 poll intervals apart (jitter).
    runs_ratio = (journal.runs_calls / journal.intervals) / max(poll.runs_calls / poll.intervals, 1e-9)
    reads_per_interval = journal.journal_calls / journal.intervals
    # One read per round, plus one per full page: the waits' runs give one event each.
    read_bound = (journal.intervals + math.ceil(sizes.waits / PAGE_LIMIT)) / journal.intervals
    lines = [
        f"## 7. {sizes.waits:,} deferred waits over {sizes.flows} flows: I/O Events journal vs polling",
        "",
        f"The same {sizes.waits:,} runs ({sizes.waits // sizes.flows} per flow) finishing over {sizes.span:g} s from"
        f" {sizes.lead:g} s after the waits start, waited for by {sizes.waits:,} `FlowServiceRunTrigger`s"
        f" (`poll_interval={sizes.poll:g}`) on one event loop; each source against its own emulator process. With"
        " the journal, each wait's run is read once when the wait starts, the waits' runs are read all together"
        " every 10th round (the safety poll), each flow once (to tell source from export flows), and the runs'"
        f" ends come from the journal: a round reads one page (`limit={PAGE_LIMIT}`) and hands its events over; a"
        " full page is followed at once (a backlog), a shorter one or a 204 ends the round. Calls per interval ="
        " calls / (the phase's seconds / the interval).",
        "",
        c.md_table(["figure", "polling", "journal"], rows),
        "",
        f"Other calls: polling {poll.other_calls or 'none'}; journal {journal.other_calls or 'none'}.",
        "",
        c.summary_marker(
            "7. journal waits",
            f"{sizes.waits:,} waits over {sizes.flows} flows: Flow Service `GET /runs` per interval, journal vs"
            " polling, <= 0.2x",
            f"{runs_ratio:.2f}x ({journal.runs_calls / journal.intervals:.2f} vs"
            f" {poll.runs_calls / poll.intervals:.2f})",
            runs_ratio <= 0.2,
        ),
        c.summary_marker(
            "7. journal waits",
            "journal reads per interval <= 1 + the full pages' (one event per run, 100 a page)",
            f"{reads_per_interval:.2f} <= {read_bound:.2f} ({journal.journal_calls} reads, {journal.empty_reads}"
            f" of them 204, for {sizes.waits:,} runs)",
            reads_per_interval <= read_bound,
        ),
        c.summary_marker(
            "7. journal waits",
            "run finished -> trigger fired, p50, journal vs polling",
            f"{c.fmt_ms(c.percentile(journal.latency, 50), 0)} vs {c.fmt_ms(c.percentile(poll.latency, 50), 0)}",
            None,
        ),
    ]
    return "\n".join(lines)


def main() -> int:
    args = c.parse_args(__doc__ or "")
    sizes = QUICK if args.quick else FULL
    c.setup_airflow_home()
    import airflow_flowservice.triggers.run  # noqa: F401 - imported before anything is measured

    poll = one_source(sizes, journal=False)
    journal = one_source(sizes, journal=True)
    print(report(sizes, poll, journal))
    if poll.fired != sizes.waits or journal.fired != sizes.waits:
        c.log(f"bench 7: not every trigger fired (polling {poll.fired}, journal {journal.fired})")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
