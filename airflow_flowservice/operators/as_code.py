"""Dataflows as code in a DAG: plan (and apply) a file of dataflows, as ``flowservice plan|apply`` does."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from airflow_flowservice.exceptions import FlowServiceConfigError
from airflow_flowservice.operators.arguments import argument
from airflow_flowservice.operators.base import FlowServiceBaseOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_flowservice.as_code.spec_file import SpecFile


class FlowServiceApplyOperator(FlowServiceBaseOperator):
    """
    Make the service match a dataflows-as-code file: plan, then apply (unless ``plan_only``).

    The file (YAML, see docs/dataflows-as-code.md) describes dataflows: base, source and target
    connections by name, their specs, params, schedule, transformations, draft or live. Secrets are
    never in it: a base connection's ``credentials`` name the Airflow connection holding them.
    The plan lists, per entity, create, update (the JSON Patch, sent with ``If-Match``), replace,
    publish, delete (with ``prune``) or unchanged; apply carries it out in dependency order. An
    entity changed between plan and apply fails the task ("changed since plan, plan again"); a
    failure part-way says what was applied, and the next try converges.

    Returns ``{"plan": {...}, "ids": {dataflow: {"base_connection_id", "source_connection_id",
    "target_connection_id", "flow_id"}}, "applied": [...]}`` and pushes XCom ``plan`` and ``ids``.

    """

    spec: str | os.PathLike[str] | Mapping[str, Any] = argument(
        "the file's path (relative paths are read from the DAG file's folder) or its content as a dict."
    )
    prune: bool = argument(
        "also delete the flows of the sandbox that the file does not hold (with their connections).",
        False,
        templated=False,
    )
    plan_only: bool = argument("only plan; ``ids`` then holds the entities that exist.", False, templated=False)

    def prepare_arguments(self, values: dict[str, Any], kwargs: dict[str, Any]) -> None:
        """``spec`` is a path or a dict, checked when the DAG is parsed."""
        if not isinstance(values["spec"], (str, os.PathLike, Mapping)):
            raise FlowServiceConfigError(
                f"spec: must be a file path or a dict (got {type(values['spec']).__name__}); e.g. spec='dataflows.yaml'"
            )

    def _spec(self) -> SpecFile:
        from airflow_flowservice.as_code.spec_file import load_spec

        if isinstance(self.spec, Mapping):
            return load_spec(self.spec)
        path = os.fspath(self.spec)
        if not os.path.isabs(path):
            fileloc = getattr(getattr(self, "dag", None), "fileloc", None)
            if fileloc:
                path = os.path.join(os.path.dirname(fileloc), path)
        return load_spec(path)

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_flowservice.as_code.apply import apply_plan
        from airflow_flowservice.as_code.plan import make_plan

        spec = self._spec()
        plan = make_plan(self.hook, spec, prune=self.prune)
        self.log.info("Plan:\n%s", plan.render())
        applied: list[str] = []
        if self.plan_only or not plan.has_changes:
            ids: dict[str, dict[str, str]] = {}
            for change in plan.changes:
                if change.dataflow is not None and change.id and change.action != "replace":
                    ids.setdefault(change.dataflow, {})[f"{change.part}_id"] = change.id
        else:
            result = apply_plan(self.hook, spec, plan)
            ids, applied = result.ids, result.done
            self.log.info("Applied %d action(s): %s", len(applied), "; ".join(applied))
        ti = context["ti"]
        ti.xcom_push(key="plan", value=plan.to_dict())
        ti.xcom_push(key="ids", value=ids)
        return {"plan": plan.to_dict(), "ids": ids, "applied": applied}
