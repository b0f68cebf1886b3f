"""Preview a source's data before building a dataflow on it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_flowservice.exceptions import FlowServiceConfigError
from airflow_flowservice.operators.arguments import argument
from airflow_flowservice.operators.base import FlowServiceBaseOperator

if TYPE_CHECKING:
    from airflow.sdk import Context


class FlowServiceExploreOperator(FlowServiceBaseOperator):
    """
    Preview the data a REST source (e.g. a Mailchimp campaign) would ingest.

    Calls ``GET /connections/{base_connection_id}/explore?objectType=rest&preview=true`` with the
    source params base64-encoded as ``sourceParams`` (Adobe's Mailchimp source guides), and returns
    ``{"rows": [...], "columns": [{"name", "type"}], "row_count": n}`` (also the XCom value).

    """

    base_connection_id: str = argument("id of the source's base connection.")
    source_params: dict[str, Any] = argument(
        'the params identifying the object to preview, e.g. ``{"campaignId": "c66a200cda"}``.'
    )
    object_name: str = argument("``object`` query param.", "json", templated=False)
    file_type: str = argument("``fileType`` query param.", "json", templated=False)
    max_rows: int = argument("keep at most this many preview rows in the result (XCom size).", 100, templated=False)

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_flowservice.dataflows.preview import infer_columns, preview_rows

        if not str(self.base_connection_id or "").strip():
            raise FlowServiceConfigError("base_connection_id: is empty; pass the id of the source's base connection")
        if not isinstance(self.source_params, dict) or not self.source_params:
            raise FlowServiceConfigError(
                f"source_params: must be a non-empty dict such as {{'campaignId': '...'}} (got {self.source_params!r})"
            )
        body = self.hook.explore_preview(
            self.base_connection_id, self.source_params, object_name=self.object_name, file_type=self.file_type
        )
        rows = preview_rows(body)
        columns = infer_columns(rows)
        self.log.info(
            "Preview of %s: %d rows, columns %s",
            self.source_params,
            len(rows),
            ", ".join(f"{c['name']}:{c['type']}" for c in columns),
        )
        return {"rows": rows[: self.max_rows], "columns": columns, "row_count": len(rows)}
