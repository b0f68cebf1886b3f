"""Benchmark 6: two worker processes start the same flow's windows a few milliseconds apart.

What happens when a manual run, a second DAG or an overlapping backfill starts the same window as
the scheduled run on another worker, repeated over many windows. Two OS processes (each one
Airflow worker) run ``FlowServiceTriggerRunOperator.execute`` for the same 100 windows of one flow,
each window's two starts at most 5 ms apart (seeded), against the emulator on a port with 50 ms
added to ``POST /runs``. Runs per window are counted in the emulator. Harness shared with
``tests/race`` (``tests/race/harness.py``). Targets: no silent duplicate (a window with two runs
where both tasks reported success) and no window without a run; without a pool (``docs/runs.md``)
duplicates themselves are expected, and reported by a failed task.

Then the same race where it is prevented: the deployment tier's scenario
(``tests/deployment/test_deployment.py::test_two_dags_starting_one_window_at_once_start_one_run``)
with the real scheduler, two DAGs on one flow, both DAG runs of each window triggered back to back,
``POST /runs`` slowed by 200 ms, and every task in one pool of one slot. Target: 0 duplicates.

Run: ``python benchmarks/bench_6_race.py [--quick]`` (``--quick``: 20 windows).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import common as c

FULL = 100
QUICK = 20


def main() -> int:
    args = c.parse_args(__doc__ or "")
    windows = QUICK if args.quick else FULL
    c.setup_airflow_home()
    from tests.race.harness import race

    with c.start_emulator(run_timeline=(0.2, 0.5)) as emu:
        emu.faults.add("POST", "/runs", "latency", delay=0.05)
        result = race(emu, repetitions=windows)
    failed = result.failures()
    reported = sum(
        1 for start, n in result.runs_per_window.items() if n > 1 and any(not x["ok"] for x in result.outcomes[start])
    )
    ok = result.silent_duplicates == 0 and result.missing == 0
    rows = [
        ["windows (2 racing tasks each)", windows],
        ["windows with exactly one run", sum(1 for n in result.runs_per_window.values() if n == 1)],
        ["windows with more than one run (duplicates)", result.duplicates],
        ["... reported by a failed task naming every run id", reported],
        ["... silent (every task reported success)", result.silent_duplicates],
        ["windows without a run", result.missing],
        ["failed tasks (AirflowFailException)", sum(1 for x in failed if x["error"] == "AirflowFailException")],
        ["other failures", sum(1 for x in failed if x["error"] != "AirflowFailException")],
        ["starts that missed their instant (machine load; those windows did not race)", result.late],
        ["wall time", f"{result.wall:.1f} s"],
    ]
    print(f"## 6. Race: two workers start the same {windows} windows at most 5 ms apart\n")
    print((__doc__ or "").split("\n\n")[1].replace("\n", " ") + "\n")
    print(c.md_table(["figure", "value"], rows))
    print()
    print(
        c.summary_marker(
            "6. race",
            f"0 silent duplicates, 0 windows without a run ({windows} windows, 2 workers)",
            f"{result.duplicates} duplicates, {result.silent_duplicates} silent, {result.missing} missing",
            ok,
        )
    )
    pooled_ok = pooled_race(windows)
    return 0 if ok and pooled_ok else 1


def pooled_race(windows: int) -> bool:
    """The deployment tier's race scenario on ``windows`` windows; its figures as a table row."""
    env = {**os.environ, "FLOWSERVICE_RACE_WINDOWS": str(windows)}
    test = "tests/deployment/test_deployment.py::test_two_dags_starting_one_window_at_once_start_one_run"
    cmd = [sys.executable, "-m", "pytest", test, "-q", "-s", "-p", "no:cacheprovider", "-m", "deployment"]
    proc = subprocess.run(cmd, cwd=c.ROOT, env=env, capture_output=True, text=True, check=False)
    output = (proc.stdout + proc.stderr).splitlines()
    figures = [line.split("race: ", 1)[1] for line in output if line.startswith("[deployment] race:")]
    ok = proc.returncode == 0 and bool(figures)
    print(f"### Prevented: two DAGs, {windows} windows, a pool of one slot, the real scheduler\n")
    print((__doc__ or "").split("\n\n")[2].replace("\n", " ") + "\n")
    if ok:
        print(f"Measured: {figures[0]}.\n")
    else:
        print("The scenario failed:\n\n```\n" + "\n".join((proc.stdout + proc.stderr).splitlines()[-40:]) + "\n```\n")
    print(
        c.summary_marker(
            "6. race",
            f"pool of one slot, real scheduler: 0 duplicates ({windows} windows, 2 DAGs)",
            figures[0].split(", 0 duplicates")[0] + ", 0 duplicates" if ok else "failed",
            ok,
        )
    )
    return ok


if __name__ == "__main__":
    sys.exit(main())
