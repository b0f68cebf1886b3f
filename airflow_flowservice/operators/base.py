"""The base every Flow Service operator stands on: connection id and a lazily built hook.

Import rule for operator and sensor modules: at module level only ``airflow.sdk`` and the light modules
(``exceptions``, ``kinds``, ``links``, ``ui``, ``registry``, ``operators.arguments``, ``.failures``,
``.templating``, ``.waiting`` and this one); the hook, the client, the pydantic models and the dataflow and runs layers
are imported inside the methods that run at execute time. DAG files are parsed in fresh processes over
and over (``tests/unit/test_import_cost.py`` holds the rule; BENCHMARKS.md section 3 measures the cost).
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow_flowservice import DEFAULT_CONN_ID
from airflow_flowservice._compat import BaseOperator
from airflow_flowservice.operators.arguments import DeclaredArguments, argument
from airflow_flowservice.operators.failures import FailsWithoutRetry
from airflow_flowservice.operators.templating import DataIntervalTemplates

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_flowservice.client import RetryPolicy
    from airflow_flowservice.hooks.flowservice import FlowServiceHook


class FlowServiceBaseOperator(DeclaredArguments, FailsWithoutRetry, DataIntervalTemplates, BaseOperator):
    """
    Base class of the Flow Service operators.

    Its subclasses declare their arguments once, as class attributes
    (:mod:`airflow_flowservice.operators.arguments`), fail without retry on the errors no retry can
    heal (:mod:`airflow_flowservice.operators.failures`), and a template of theirs that reads the data
    interval of a DAG run without one fails with the run operator's message
    (:mod:`airflow_flowservice.operators.templating`).
    """

    ui_color = "#fa0f00"  # Adobe red

    flowservice_conn_id: str = argument(
        "Airflow connection of type ``adobe_flowservice``.", DEFAULT_CONN_ID, templated=False, validated=False
    )
    api_retry_policy: RetryPolicy | None = argument(
        "retry limits for the API calls this task makes (:class:`~airflow_flowservice.client.RetryPolicy`); "
        "``None`` keeps the client's defaults. Named so as not to clash with Airflow's own task ``retry_policy``.",
        None,
        templated=False,
        validated=False,
    )

    @cached_property
    def hook(self) -> FlowServiceHook:
        """The hook of this task's connection (built on first use, at execute time)."""
        from airflow_flowservice.hooks.flowservice import FlowServiceHook

        return FlowServiceHook(flowservice_conn_id=self.flowservice_conn_id, retry_policy=self.api_retry_policy)


def push_ref(context: Context, entity_id: str, etag: str | None, **more: Any) -> None:
    """Push XCom ``id`` and ``etag`` (and any ``more`` keys) of the entity a task created or changed."""
    ti = context["ti"]
    ti.xcom_push(key="id", value=entity_id)
    ti.xcom_push(key="etag", value=etag)
    for key, value in more.items():
        ti.xcom_push(key=key, value=value)
