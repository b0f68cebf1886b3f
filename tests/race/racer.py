"""One Airflow worker of the race: starts a window's run at given instants, in its own process.

``python -m tests.race.racer <flow_id> <plan.json>`` imports the provider, touches
``<plan.json>.ready``, waits for ``<plan.json>`` and reads from it a list of
``{"at": epoch_seconds, "start": s, "end": e}`` and, for each, waits until ``at`` then runs
``FlowServiceTriggerRunOperator.execute`` for that window (``wait_for_completion=False``), as a
Celery worker would (a fresh operator per window). The connection comes from
``AIRFLOW_CONN_FLOWSERVICE_DEFAULT``. One JSON line per window in ``<plan.json>.out``:
``{"start": s, "ok": true, "run_id": ...}`` or ``{"start": s, "ok": false, "error": class name,
"message": ...}``, plus ``"late"`` if the instant had passed.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from airflow_flowservice._compat import AirflowFailException
from airflow_flowservice.operators.runs import FlowServiceTriggerRunOperator


class _TI:
    def xcom_push(self, key: str, value: Any) -> None:
        pass


def main(flow_id: str, plan_path: str) -> None:
    Path(plan_path + ".ready").touch()  # imports done: the parent writes the plan once both racers are ready
    while not Path(plan_path).exists():
        time.sleep(0.01)
    with open(plan_path) as f:
        plan = json.load(f)
    out = open(plan_path + ".out", "w")  # noqa: SIM115 - one line per window, flushed as written
    for step in plan:
        op = FlowServiceTriggerRunOperator(
            task_id="ingest",
            flow_id=flow_id,
            window_start=step["start"],
            window_end=step["end"],
            delta_column="updated_at",
            wait_for_completion=False,
        )
        delay = step["at"] - time.time()
        late = delay < 0
        if not late:
            time.sleep(delay)
        try:
            run_id = op.execute({"ti": _TI()})  # type: ignore[arg-type]
            line: dict[str, Any] = {"start": step["start"], "ok": True, "run_id": run_id}
        except Exception as exc:  # every outcome is reported to the parent, which judges it
            line = {
                "start": step["start"],
                "ok": False,
                "error": type(exc).__name__,
                "fails_without_retry": isinstance(exc, AirflowFailException),
                "message": str(exc),
            }
        out.write(json.dumps({**line, "late": late}) + "\n")
        out.flush()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
