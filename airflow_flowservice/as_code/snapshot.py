"""Export existing dataflows to a dataflows-as-code file, such that planning that file shows no change.

A flow's ``Mapping`` transformation becomes the dataflow's ``mapping`` section (the mapping set at the
version the flow uses: output schema and mappings).

Credentials are never exported: a base connection's auth becomes a reference to an Airflow
connection (``credentials.conn_id``, by default ``flowservice_<base connection name>``) and a map of
its auth params to that connection's fields, where the one secret of the auth spec goes to the
password and the others to extras. Create that Airflow connection before a plan needs to re-create
the base connection.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_flowservice.as_code.spec_file import SpecFile, parse_spec
from airflow_flowservice.dataflows.catalog import connection_spec
from airflow_flowservice.exceptions import FlowServiceConfigError
from airflow_flowservice.models import BaseConnection, EntityKind, Flow, MappingSet, SourceOrTargetConnection

if TYPE_CHECKING:
    from airflow_flowservice.hooks.flowservice import FlowServiceHook

_SCHEDULE_KEYS = {"startTime": "start_time", "timeUnit": "time_unit"}
_LOGIN_NAMES = {"username", "userid", "user", "login", "clientid", "accesskey", "s3accesskey"}


def credentials_conn_id(base_name: str) -> str:
    """The default Airflow connection id for a base connection's credentials."""
    slug = re.sub(r"[^a-z0-9]+", "_", base_name.lower()).strip("_")
    return f"flowservice_{slug or 'credentials'}"


def _credentials(hook: FlowServiceHook, base: BaseConnection, conn_ids: Mapping[str, str]) -> dict[str, Any]:
    auth = base.auth or {}
    names = [str(n) for n in (auth.get("params") or {})]
    secret: set[str] = set()
    spec = connection_spec(hook, base.connection_spec.id, field="base_connection.connection_spec_id")
    chosen = next((a for a in spec.auth_spec if a.name == auth.get("specName")), None)
    if chosen is not None:
        props = chosen.spec.get("properties") or {}
        secret = {str(n) for n, p in props.items() if isinstance(p, dict) and p.get("format") == "password"}
        names = names or [str(n) for n in props]
    fields: dict[str, str] = {}
    for name in names:
        if name in secret and "password" not in fields.values():
            fields[name] = "password"
        elif name.lower() in _LOGIN_NAMES and "login" not in fields.values():
            fields[name] = "login"
        else:
            fields[name] = f"extra.{name}"
    conn_id = conn_ids.get(base.id) or conn_ids.get(str(base.name)) or credentials_conn_id(str(base.name))
    return {"conn_id": conn_id, "fields": fields} if fields else {"conn_id": conn_id}


def _common(entity: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"name": entity.name}
    if entity.description:
        out["description"] = entity.description
    return out


def _connection(conn: SourceOrTargetConnection) -> dict[str, Any]:
    out = _common(conn)
    out["connection_spec_id"] = conn.connection_spec.id
    if conn.connection_spec.version and conn.connection_spec.version != "1.0":
        out["connection_spec_version"] = conn.connection_spec.version
    if conn.data:
        out["data"] = conn.data
    if conn.params:
        out["params"] = conn.params
    return out


def _schedule(flow: Flow) -> dict[str, Any] | None:
    raw = (flow.model_dump(by_alias=True, exclude_none=True, mode="json").get("scheduleParams")) or None
    if not raw:
        return None
    return {
        _SCHEDULE_KEYS.get(k, k): v
        for k, v in raw.items()
        if k in ("startTime", "timeUnit", "frequency", "interval", "backfill")
    }


def _mapping(mapping_set: MappingSet) -> dict[str, Any]:
    """A mapping set version as the file's ``mapping`` section."""
    ref = mapping_set.output_schema.schema_ref if mapping_set.output_schema else None
    schema: dict[str, Any] = {"id": ref.id if ref else None}
    if ref is not None and ref.content_type:
        schema["content_type"] = ref.content_type
    mappings = []
    for m in mapping_set.mappings:
        item: dict[str, Any] = {"source_type": m.source_type, "source": m.source, "destination": m.destination}
        item.update({k: v for k, v in (("name", m.name), ("description", m.description)) if v})
        mappings.append(item)
    return {"output_schema": schema, "mappings": mappings}


def export_dataflow(hook: FlowServiceHook, flow_id: str, conn_ids: Mapping[str, str]) -> dict[str, Any]:
    """One dataflow of the file, read from the service (a flow with one source and one target connection)."""
    flow = hook.get_flow(flow_id)
    if len(flow.source_connection_ids) != 1 or len(flow.target_connection_ids) != 1:
        raise FlowServiceConfigError(
            f"flow_id: flow {flow_id} has {len(flow.source_connection_ids)} source and "
            f"{len(flow.target_connection_ids)} target connections; the file describes dataflows with one of each"
        )
    parts: dict[str, Any] = {}
    base: BaseConnection | None = None
    for part, kind, conn_id in (
        ("source_connection", EntityKind.SOURCE_CONNECTION, flow.source_connection_ids[0]),
        ("target_connection", EntityKind.TARGET_CONNECTION, flow.target_connection_ids[0]),
    ):
        conn = hook.get_entity(kind, conn_id)
        assert isinstance(conn, SourceOrTargetConnection)
        parts[part] = _connection(conn)
        parent = conn.parent_base_connection_id
        if parent:
            found = hook.get_entity(EntityKind.BASE_CONNECTION, parent)
            # One base connection per dataflow, linked by connection spec; any other is named by id.
            if (
                base is None
                and isinstance(found, BaseConnection)
                and found.connection_spec.id == conn.connection_spec.id
            ):
                base = found
            else:
                parts[part]["base_connection_id"] = parent
    out: dict[str, Any] = {"name": flow.name}
    if flow.is_draft:
        out["draft"] = True
    if base is not None:
        base_out = _common(base)
        base_out["connection_spec_id"] = base.connection_spec.id
        spec_name = (base.auth or {}).get("specName")
        if spec_name:
            base_out["auth_spec_name"] = spec_name
            base_out["credentials"] = _credentials(hook, base, conn_ids)
        out["base_connection"] = base_out
    out.update(parts)
    transformations = list(flow.transformations)
    uses = flow.mapping
    if uses is not None:  # the flow's mapping set, as the file's mapping section (plan compares it there)
        out["mapping"] = _mapping(hook.get_mapping_set(uses[1], uses[2]))
        del transformations[uses[0]]
    flow_out = _common(flow)
    flow_out["flow_spec_id"] = flow.flow_spec.id
    if transformations:
        flow_out["transformations"] = transformations
    schedule = _schedule(flow)
    if schedule:
        flow_out["schedule_params"] = schedule
    out["flow"] = flow_out
    return out


def export_dataflows(
    hook: FlowServiceHook, flow_ids: Sequence[str], credentials_conn_ids: Mapping[str, str] | None = None
) -> SpecFile:
    """The file describing ``flow_ids`` (validated, as ``plan`` will read it).

    :param credentials_conn_ids: base connection id or name -> Airflow connection id holding its
        credentials (default :func:`credentials_conn_id` of its name).
    """
    data = {"version": 1, "dataflows": [export_dataflow(hook, i, credentials_conn_ids or {}) for i in flow_ids]}
    return parse_spec(data, "exported dataflows")
