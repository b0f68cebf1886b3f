"""Template rendering of the provider's operators and sensors: one message for a run without a data interval.

A DAG run triggered without a logical date (the UI's and the REST API's default in Airflow 3) has no
``data_interval_start``/``data_interval_end`` in its context. A template that reads them would fail in
Jinja (``'data_interval_end' is undefined``, after a traceback of the renderer); :class:`DataIntervalTemplates`
checks first and fails the task, without retry, with the message the run operator gives when it has no
window (:data:`~airflow_flowservice.runs.windows.NO_INTERVAL_WHY`), naming the arguments that read it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

#: A Jinja expression or statement that reads the data interval (``{{ data_interval_end.int_timestamp }}``).
_READS_INTERVAL = re.compile(r"\{[{%][^}]*\bdata_interval_(?:start|end)\b")


def interval_readers(task: Any) -> list[str]:
    """The template fields of ``task`` whose (not yet rendered) value reads the data interval, in order."""
    return [
        name
        for name in task.template_fields
        if any(_READS_INTERVAL.search(t) for t in _texts(getattr(task, name, None)))
    ]


def _texts(value: Any, depth: int = 0) -> Iterator[str]:
    """Every string in ``value`` (nested dicts, lists, tuples and sets of a template field)."""
    if depth > 10:
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _texts(item, depth + 1)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            yield from _texts(item, depth + 1)


def no_interval_message(fields: list[str]) -> str:
    """The config error of a task whose ``fields`` template a data interval the DAG run does not have."""
    from airflow_flowservice.runs.windows import NO_INTERVAL_WHY

    names = "/".join(fields)
    return (
        f"{names}: this DAG run has no data interval, and {names} templates it (data_interval_start or "
        f"data_interval_end). {NO_INTERVAL_WHY}. Trigger the run with a logical date, schedule the DAG with a "
        "data-interval timetable (CronDataIntervalTimetable or DeltaDataIntervalTimetable), or template "
        f"{names} from what every run has (e.g. {{{{ dag_run.run_after }}}})"
    )


class DataIntervalTemplates:
    """Mixin of the provider's operators and sensors: a template reading a missing data interval is a config error.

    The error is raised before Airflow renders anything, as an ``AirflowFailException`` (no retry can give the
    run a data interval; :mod:`airflow_flowservice.operators.failures`).
    """

    def render_template_fields(self, context: Any, jinja_env: Any = None) -> None:
        if context.get("data_interval_start") is None or context.get("data_interval_end") is None:
            fields = interval_readers(self)
            if fields:
                from airflow_flowservice.exceptions import FlowServiceConfigError
                from airflow_flowservice.operators.failures import for_airflow

                raise for_airflow(FlowServiceConfigError(no_interval_message(fields)))
        super().render_template_fields(context, jinja_env)  # type: ignore[misc]
