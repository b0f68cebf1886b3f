"""The base every Flow Service operator stands on: connection id and a lazily built hook.

Import rule for operator and sensor modules: at module level only ``airflow.sdk``,
``airflow_flowservice.exceptions``, ``.kinds``, ``.links``, ``.ui`` and this module; the hook, the client,
the pydantic models and the dataflow and runs layers are imported inside the methods that run at execute
time. DAG files are parsed in fresh processes over and over, and these imports would cost ~40 ms a
parse (BENCHMARKS.md, section 3).
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow_flowservice import DEFAULT_CONN_ID
from airflow_flowservice._compat import BaseOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_flowservice.client import RetryPolicy
    from airflow_flowservice.hooks.flowservice import FlowServiceHook


class FlowServiceBaseOperator(BaseOperator):
    """
    Base class of the Flow Service operators.

    :param flowservice_conn_id: Airflow connection of type ``adobe_flowservice``.
        Default ``flowservice_default``.
    :param api_retry_policy: retry limits for the API calls this task makes
        (:class:`~airflow_flowservice.client.RetryPolicy`); ``None`` keeps the client's defaults.
        Named so as not to clash with Airflow's own task ``retry_policy``.
    """

    ui_color = "#fa0f00"  # Adobe red

    def __init__(
        self,
        *,
        flowservice_conn_id: str = DEFAULT_CONN_ID,
        api_retry_policy: RetryPolicy | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.flowservice_conn_id = flowservice_conn_id
        self.api_retry_policy = api_retry_policy

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
