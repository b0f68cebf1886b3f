"""Flow Service operators. Imported lazily so that parsing a DAG loads only what it uses."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_MODULES = {
    "FlowServiceCreateBaseConnectionOperator": "entities",
    "FlowServiceCreateSourceConnectionOperator": "entities",
    "FlowServiceCreateTargetConnectionOperator": "entities",
    "FlowServiceCreateFlowOperator": "entities",
    "FlowServiceCreateDataflowOperator": "dataflow",
    "FlowServicePublishOperator": "publish",
    "FlowServiceUpdateOperator": "update",
    "FlowServiceDeleteOperator": "lifecycle",
    "FlowServiceSetFlowStateOperator": "lifecycle",
    "FlowServiceTriggerRunOperator": "runs",
    "FlowServiceRetriggerRunOperator": "runs",
    "FlowServiceListExportableDatasetsOperator": "export",
    "FlowServiceDatasetExportOperator": "export",
    "FlowServiceExploreOperator": "explore",
    "FlowServiceApplyOperator": "apply",
}

__all__ = sorted(_MODULES)

if TYPE_CHECKING:
    from airflow_flowservice.operators.apply import FlowServiceApplyOperator
    from airflow_flowservice.operators.dataflow import FlowServiceCreateDataflowOperator
    from airflow_flowservice.operators.entities import (
        FlowServiceCreateBaseConnectionOperator,
        FlowServiceCreateFlowOperator,
        FlowServiceCreateSourceConnectionOperator,
        FlowServiceCreateTargetConnectionOperator,
    )
    from airflow_flowservice.operators.explore import FlowServiceExploreOperator
    from airflow_flowservice.operators.export import (
        FlowServiceDatasetExportOperator,
        FlowServiceListExportableDatasetsOperator,
    )
    from airflow_flowservice.operators.lifecycle import FlowServiceDeleteOperator, FlowServiceSetFlowStateOperator
    from airflow_flowservice.operators.publish import FlowServicePublishOperator
    from airflow_flowservice.operators.runs import FlowServiceRetriggerRunOperator, FlowServiceTriggerRunOperator
    from airflow_flowservice.operators.update import FlowServiceUpdateOperator


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
