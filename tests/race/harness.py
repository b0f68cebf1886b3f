"""The race of two Airflow workers on one flow and window, shared by the test and benchmark 6.

Two OS processes (``tests.race.racer``) import the provider, say they are ready, then each starts
the same windows at instants a few milliseconds apart (seeded; which process goes first varies).
The emulator serves them over HTTP on a port, as a deployment's workers reach the Flow Service;
runs per window are then counted in the emulator.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airflow_flowservice.hooks.flowservice import FlowServiceHook
from airflow_flowservice.testing import FlowServiceEmulator
from airflow_flowservice.testing.flows import create_table_flow

ROOT = Path(__file__).resolve().parents[2]
HOUR = 3600
JAN1 = 1767225600  # 2026-01-01T00:00:00Z
MAX_SKEW = 0.005  # the racers start each window at most 5 ms apart


@dataclass
class RaceResult:
    """What the repetitions left in the service and what each task reported."""

    repetitions: int
    runs_per_window: Counter[int] = field(default_factory=Counter)  # window start -> runs in the service
    outcomes: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # window start -> both tasks' lines
    wall: float = 0.0

    @property
    def duplicates(self) -> int:
        """Windows that got more than one run."""
        return sum(1 for n in self.runs_per_window.values() if n > 1)

    @property
    def missing(self) -> int:
        """Windows that got no run."""
        return self.repetitions - len(self.runs_per_window)

    @property
    def silent_duplicates(self) -> int:
        """Windows with more than one run where every task reported success."""
        return sum(
            1
            for start, n in self.runs_per_window.items()
            if n > 1 and all(line["ok"] for line in self.outcomes.get(start, []))
        )

    @property
    def late(self) -> int:
        """Task starts that missed their instant (the racers were not ready): not a race any more."""
        return sum(1 for lines in self.outcomes.values() for line in lines if line["late"])

    def failures(self) -> list[dict[str, Any]]:
        return [line for lines in self.outcomes.values() for line in lines if not line["ok"]]


def race(emu: FlowServiceEmulator, *, repetitions: int, seed: int = 18, gap: float = 1.0) -> RaceResult:
    """Race two worker processes on ``repetitions`` windows of one new flow; count runs per window."""
    env = {**os.environ, **emu.connection_env(), "PYTHONPATH": str(ROOT)}
    hook = FlowServiceHook()
    flow_id = create_table_flow(hook)
    rng = random.Random(seed)
    windows = [(JAN1 + i * HOUR, JAN1 + (i + 1) * HOUR) for i in range(repetitions)]
    offsets = [
        (0.0, rng.uniform(0, MAX_SKEW)) if rng.random() < 0.5 else (rng.uniform(0, MAX_SKEW), 0.0) for _ in windows
    ]
    workdir = Path(tempfile.mkdtemp(prefix="flowservice-race-"))
    procs: list[subprocess.Popen[str]] = []
    for worker in range(2):
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.race.racer",
                    flow_id,
                    str(workdir / f"plan{worker}.json"),
                ],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                text=True,
            )
        )
    deadline = time.monotonic() + 120
    while not all((workdir / f"plan{w}.json.ready").exists() for w in range(2)):
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs), "a racer did not start"
        time.sleep(0.05)
    base = time.time() + 2.0  # time to read the plan and build the first operator
    for worker in range(2):
        plan = [{"at": base + i * gap + offsets[i][worker], "start": s, "end": e} for i, (s, e) in enumerate(windows)]
        tmp = workdir / f"plan{worker}.tmp"
        tmp.write_text(json.dumps(plan))
        tmp.rename(workdir / f"plan{worker}.json")  # atomic: a racer never reads half a plan
    result = RaceResult(repetitions)
    began = time.monotonic()
    for worker, proc in enumerate(procs):
        proc.wait(timeout=60 + repetitions * gap * 3)
        assert proc.returncode == 0, f"racer exited with {proc.returncode}"
        for raw in (workdir / f"plan{worker}.json.out").read_text().splitlines():
            line = json.loads(raw)
            result.outcomes.setdefault(line["start"], []).append(line)
    result.wall = time.monotonic() - began
    windows_of_runs = [run.window() for run in hook.list_runs(flow_id)]
    result.runs_per_window = Counter(w[0] for w in windows_of_runs if w is not None)
    return result
