"""Dataset export to cloud storage (seed 003): list eligible datasets, export them to a destination."""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_flowservice.operators.base import FlowServiceBaseOperator

if TYPE_CHECKING:
    from airflow.sdk import Context


class FlowServiceListExportableDatasetsOperator(FlowServiceBaseOperator):
    """
    List the datasets that can be exported to a cloud storage destination.

    Reads every page of the data lake source's ``activationDatasets`` configs (seed 003) and returns
    ``[{"id", "name", "state"}, ...]`` (the XCom value), optionally filtered.

    :param name_pattern: keep datasets whose name matches this glob, case-insensitively,
        e.g. ``"AAM *"`` (templated). Default: all.
    :param states: keep datasets in one of these states, e.g. ``["ENABLED"]``. Default: all.
    :param page_size: datasets per page requested. Default 20 (as in seed 003).
    """

    template_fields: Sequence[str] = ("name_pattern",)

    def __init__(
        self,
        *,
        name_pattern: str | None = None,
        states: Sequence[str] | None = None,
        page_size: int = 20,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.name_pattern = name_pattern
        self.states = states
        self.page_size = page_size

    def execute(self, context: Context) -> list[dict[str, Any]]:
        wanted_states = {s.upper() for s in self.states} if self.states else None
        pattern = self.name_pattern.lower() if self.name_pattern else None
        found: list[dict[str, Any]] = []
        total = 0
        for dataset in self.hook.iter_exportable_datasets(page_size=self.page_size):
            total += 1
            if pattern is not None and not fnmatch.fnmatchcase((dataset.name or "").lower(), pattern):
                continue
            if wanted_states is not None and (dataset.state or "").upper() not in wanted_states:
                continue
            found.append({"id": dataset.id, "name": dataset.name, "state": dataset.state})
        self.log.info("%d of %d exportable datasets match: %s", len(found), total, [d["name"] for d in found[:20]])
        return found
