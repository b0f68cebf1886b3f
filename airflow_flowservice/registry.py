"""The provider's public classes, each with the module that defines it: the one list of them.

``airflow_flowservice.operators``, ``.sensors`` and ``.triggers`` import their classes lazily from it
(a DAG file that uses one operator loads only that operator's module), ``get_provider_info`` lists its
modules for Airflow, and the API reference (``docs/api``) documents them. A new public class is one
line here (``tests/unit/test_registry.py`` checks that the lazy imports, the type-checking imports,
the provider info and the reference agree with it). Light: imports nothing.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

PACKAGE = "airflow_flowservice"

HOOKS: Mapping[str, str] = {
    "FlowServiceHook": f"{PACKAGE}.hooks.flowservice",
}

OPERATORS: Mapping[str, str] = {
    "FlowServiceCreateBaseConnectionOperator": f"{PACKAGE}.operators.entities",
    "FlowServiceCreateSourceConnectionOperator": f"{PACKAGE}.operators.entities",
    "FlowServiceCreateTargetConnectionOperator": f"{PACKAGE}.operators.entities",
    "FlowServiceCreateFlowOperator": f"{PACKAGE}.operators.entities",
    "FlowServiceCreateDataflowOperator": f"{PACKAGE}.operators.dataflow",
    "FlowServicePublishOperator": f"{PACKAGE}.operators.publish",
    "FlowServiceUpdateOperator": f"{PACKAGE}.operators.update",
    "FlowServiceDeleteOperator": f"{PACKAGE}.operators.lifecycle",
    "FlowServiceSetFlowStateOperator": f"{PACKAGE}.operators.lifecycle",
    "FlowServiceTriggerRunOperator": f"{PACKAGE}.operators.runs",
    "FlowServiceRetriggerRunOperator": f"{PACKAGE}.operators.runs",
    "FlowServiceListExportableDatasetsOperator": f"{PACKAGE}.operators.dataset_export",
    "FlowServiceDatasetExportOperator": f"{PACKAGE}.operators.dataset_export",
    "FlowServiceExploreOperator": f"{PACKAGE}.operators.explore",
    "FlowServiceApplyOperator": f"{PACKAGE}.operators.as_code",
    "FlowServiceCreateMappingSetOperator": f"{PACKAGE}.operators.mapping",
    "FlowServicePreviewMappingOperator": f"{PACKAGE}.operators.mapping",
}

SENSORS: Mapping[str, str] = {
    "FlowServiceRunSensor": f"{PACKAGE}.sensors.run",
}

TRIGGERS: Mapping[str, str] = {
    "FlowServiceRunTrigger": f"{PACKAGE}.triggers.run",
    "FlowServiceRunEventTrigger": f"{PACKAGE}.triggers.run_event",
}

EXTRA_LINKS: Mapping[str, str] = {
    "FlowServiceRunLink": f"{PACKAGE}.links",
}

#: Every public class, by kind (the order of the API reference).
PUBLIC: Mapping[str, Mapping[str, str]] = {
    "hooks": HOOKS,
    "operators": OPERATORS,
    "sensors": SENSORS,
    "triggers": TRIGGERS,
    "extra-links": EXTRA_LINKS,
}


def modules(classes: Mapping[str, str]) -> list[str]:
    """The modules defining ``classes``, sorted, each once."""
    return sorted(set(classes.values()))


def lazy_getattr(package: str, classes: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package`` that imports each of ``classes`` from its module on first use."""

    def __getattr__(name: str) -> Any:
        module = classes.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(module), name)

    return __getattr__
