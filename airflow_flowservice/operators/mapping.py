"""Data Prep mapping sets: create one (or move a flow to a new version of its own), and preview one on sample rows.

A mapping set (the Conversion Service, ``/data/foundation/conversion/mappingSets``) maps source fields to
the XDM schema of the dataset a source flow ingests into; the flow names it in its ``Mapping``
transformation. See https://experienceleague.adobe.com/en/docs/experience-platform/data-prep/api/mapping-set
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_flowservice.operators.arguments import argument
from airflow_flowservice.operators.base import FlowServiceBaseOperator
from airflow_flowservice.specs import DEFAULT_SCHEMA_CONTENT_TYPE as _CONTENT_TYPE

if TYPE_CHECKING:
    from airflow.sdk import Context


class FlowServiceCreateMappingSetOperator(FlowServiceBaseOperator):
    """
    Create a Data Prep mapping set from source fields to an XDM schema, or move a flow to a new version of its own.

    The mappings are validated first (``POST /mappingSets/validate``): a mapping that does not
    validate fails the task, naming each bad mapping and Adobe's reason, and nothing is created. Then
    ``POST /mappingSets`` creates the set (version 0).

    With ``flow_id``, the flow's mapping changes instead: its mapping set gets the mappings as a new
    version (``PUT /mappingSets/{id}``; a new set when the flow has none), then the flow's ``Mapping``
    transformation is patched to it (``PATCH /flows/{id}`` on ``/transformations/{i}`` under
    ``If-Match``). Safe to re-run: a set whose latest version already holds the mappings gets no new
    version, a flow already on it is not patched. A flow changed meanwhile (HTTP 412) is not
    overwritten: the task fails saying what exists.

    Returns ``{"mapping_id", "mapping_version"}`` (also pushed as XCom keys of those names).
    """

    template_fields_renderers: ClassVar[dict[str, str]] = {"mappings": "json"}
    input_model: ClassVar[str] = "CreateMappingSetInput"

    output_schema_id: str = argument(
        "the ``$id`` of the XDM schema of the dataset the flow ingests into, e.g. "
        '``"https://ns.adobe.com/acme/schemas/570630b91eb9d5cf5db0436756abb110d02912917a67da2d"``.'
    )
    mappings: Sequence[Mapping[str, Any]] = argument(
        '``[{"source_type": "ATTRIBUTE", "source": "first_name", "destination": "person.name.firstName"}, ...]``: '
        "``source_type`` ``ATTRIBUTE`` (a source field), ``EXPRESSION`` (e.g. ``lower(email)``) or ``STATIC`` (a "
        "value); ``destination`` an XDM field path of the schema; ``name`` and ``description`` optional "
        "(``sourceType`` spelling accepted)."
    )
    validate: bool = argument(
        "validate the mappings (``POST /mappingSets/validate``) before creating anything.",
        True,
        templated=False,
        validated=False,
    )
    output_schema_content_type: str = argument("``outputSchema.schemaRef.contentType``.", _CONTENT_TYPE)
    flow_id: str | None = argument(
        "a flow whose mapping to move to these mappings (a new version of its mapping set) instead of creating "
        "a set. Default none.",
        None,
        validated=False,
    )
    flow_etag: str | None = argument(
        "with ``flow_id``: the flow's etag the change was planned against, with its quotes (default: the one "
        "read first).",
        None,
        validated=False,
    )

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_flowservice import inputs
        from airflow_flowservice.dataflows.mapping import create_mapping_set, move_flow_mapping
        from airflow_flowservice.validation import check_entity_id, validate_input

        wanted = validate_input(inputs.CreateMappingSetInput, self.model_input()).to_mapping_set()
        if self.flow_id is None:
            result = create_mapping_set(self.hook, wanted, validate=self.validate).to_xcom()
            self.log.info("Created mapping set %s, version %s", result["mapping_id"], result["mapping_version"])
        else:
            flow_id = check_entity_id(self.flow_id, "flow_id")
            etag = _quoted(self.flow_etag)
            moved = move_flow_mapping(self.hook, flow_id, wanted, etag=etag, validate=self.validate)
            result = moved.mapping.to_xcom()
            self.log.info(
                "Flow %s maps with mapping set %s version %s (%s)",
                flow_id,
                result["mapping_id"],
                result["mapping_version"],
                "flow patched" if moved.flow_patched else "it already did",
            )
        ti = context["ti"]
        for key, value in result.items():
            ti.xcom_push(key=key, value=value)
        return result


def _quoted(etag: str | None) -> str | None:
    """An etag as If-Match sends it: with its double quotes (Adobe's "Update dataflows" guide); bare accepted."""
    if etag is None or not str(etag).strip():
        return None
    text = str(etag).strip()
    return text if text.startswith('"') else f'"{text}"'


class FlowServicePreviewMappingOperator(FlowServiceBaseOperator):
    """
    Map sample rows with a Data Prep mapping set and return the XDM output (``POST /mappingSets/preview``).

    Give the mappings (with ``output_schema_id``), or ``mapping_id`` (and ``mapping_version``) of an
    existing set. Nothing is created. Returns ``{"rows": [<XDM record per sample row>], "errors":
    [{"row", "source", "destination", "reason"}], "row_count": n}``; with ``fail_on_errors`` a row that
    does not map fails the task, naming the row and Adobe's reason.
    """

    template_fields_renderers: ClassVar[dict[str, str]] = {"rows": "json", "mappings": "json"}
    input_model: ClassVar[str] = "PreviewMappingInput"

    rows: Sequence[Mapping[str, Any]] | Mapping[str, Any] = argument(
        'sample source records, e.g. ``[{"first_name": "Ada", "email": "ADA@EXAMPLE.COM"}]`` (at most 100), or the '
        "output of :class:`~airflow_flowservice.operators.FlowServiceExploreOperator` (its ``rows``)."
    )
    mappings: Sequence[Mapping[str, Any]] | None = argument(
        "the mappings, as :class:`FlowServiceCreateMappingSetOperator` takes them. Give these or ``mapping_id``.",
        None,
    )
    output_schema_id: str | None = argument("with ``mappings``: the ``$id`` of the XDM schema. Default none.", None)
    output_schema_content_type: str = argument("``outputSchema.schemaRef.contentType``.", _CONTENT_TYPE)
    mapping_id: str | None = argument(
        "an existing mapping set to preview, e.g. ``create_mapping.output['mapping_id']``. Default none.", None
    )
    mapping_version: int | None = argument("with ``mapping_id``: its version. Default the latest.", None)
    fail_on_errors: bool = argument(
        "fail the task when a row does not map (default: report the errors).", False, templated=False, validated=False
    )

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_flowservice import inputs
        from airflow_flowservice.dataflows.mapping import preview_mapping
        from airflow_flowservice.exceptions import FlowServiceConfigError
        from airflow_flowservice.validation import validate_input

        inp = validate_input(inputs.PreviewMappingInput, self.model_input())
        result = preview_mapping(self.hook, inp)
        errors = result["errors"]
        self.log.info("Preview: %d rows mapped, %d errors", result["row_count"], len(errors))
        for error in errors:
            self.log.warning("row %(row)s: %(source)s -> %(destination)s: %(reason)s", error)
        if errors and self.fail_on_errors:
            shown = "; ".join(f"row {e['row']} ({e['source']} -> {e['destination']}): {e['reason']}" for e in errors)
            raise FlowServiceConfigError(f"rows: {len(errors)} mapping error(s): {shown}")
        return result
