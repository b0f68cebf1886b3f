"""Flow Service operators. Imported lazily (``airflow_flowservice.registry``): parsing a DAG loads only what it uses."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_flowservice.registry import OPERATORS, lazy_getattr

__all__ = sorted(OPERATORS)
__getattr__ = lazy_getattr(__name__, OPERATORS)

if TYPE_CHECKING:  # for type checkers and IDEs; tests/unit/test_registry.py keeps it equal to the registry
    from airflow_flowservice.operators.as_code import FlowServiceApplyOperator
    from airflow_flowservice.operators.dataflow import FlowServiceCreateDataflowOperator
    from airflow_flowservice.operators.dataset_export import (
        FlowServiceDatasetExportOperator,
        FlowServiceListExportableDatasetsOperator,
    )
    from airflow_flowservice.operators.entities import (
        FlowServiceCreateBaseConnectionOperator,
        FlowServiceCreateFlowOperator,
        FlowServiceCreateSourceConnectionOperator,
        FlowServiceCreateTargetConnectionOperator,
    )
    from airflow_flowservice.operators.explore import FlowServiceExploreOperator
    from airflow_flowservice.operators.lifecycle import FlowServiceDeleteOperator, FlowServiceSetFlowStateOperator
    from airflow_flowservice.operators.mapping import (
        FlowServiceCreateMappingSetOperator,
        FlowServicePreviewMappingOperator,
    )
    from airflow_flowservice.operators.publish import FlowServicePublishOperator
    from airflow_flowservice.operators.runs import FlowServiceRetriggerRunOperator, FlowServiceTriggerRunOperator
    from airflow_flowservice.operators.update import FlowServiceUpdateOperator
