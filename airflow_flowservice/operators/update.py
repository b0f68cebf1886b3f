"""Update an entity with JSON-Patch operations under ``If-Match`` (optimistic concurrency, no blind overwrite)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_flowservice.exceptions import FlowServiceConfigError, FlowServiceConflictError
from airflow_flowservice.kinds import EntityKind
from airflow_flowservice.operators.arguments import argument
from airflow_flowservice.operators.base import FlowServiceBaseOperator, push_ref

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_flowservice.inputs import PatchOp
    from airflow_flowservice.models import Entity

SCHEDULE = "/scheduleParams"
_MISSING = object()


def pointer_get(doc: Any, path: str) -> Any:
    """The value at a JSON pointer (``/scheduleParams/interval``, ``/transformations/0``), or a marker."""
    node = doc
    for raw in path.split("/")[1:]:
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return _MISSING
    return node


def _show(value: Any) -> str:
    return "(absent)" if value is _MISSING else repr(value)


def patched_schedule(current: Mapping[str, Any] | None, ops: Sequence[PatchOp]) -> dict[str, Any] | None:
    """The flow's ``scheduleParams`` after the ops that touch it (``None`` when none does)."""
    touching = [op for op in ops if op.path == SCHEDULE or op.path.startswith(SCHEDULE + "/")]
    if not touching:
        return None
    schedule: dict[str, Any] = dict(current or {})
    for op in touching:
        if op.path == SCHEDULE:
            schedule = dict(op.value) if op.op != "remove" and isinstance(op.value, Mapping) else {}
            continue
        key = op.path[len(SCHEDULE) + 1 :]
        if op.op == "remove":
            schedule.pop(key, None)
        else:
            schedule[key] = op.value
    return schedule


class FlowServiceUpdateOperator(FlowServiceBaseOperator):
    """
    Apply JSON-Patch operations to a flow or connection, only if it has not changed meanwhile.

    Sends ``PATCH /{kind}/{id}`` with ``If-Match: <etag>``. The etag is the one given (e.g. pulled
    from the XCom of the task that created the entity) or, when none is given, the one read just
    before. When the entity changed in between (HTTP 412, or a newer etag than the given one),
    nothing is written: the entity is read again and the task fails with the old and new etag and
    the values at the patched paths. A patched flow schedule is validated like a new one.
    Returns the id; pushes XCom ``id`` and the new ``etag``.

    """

    template_fields_renderers = {"ops": "json"}

    entity_id: str = argument("id of the entity to update.")
    ops: Sequence[Mapping[str, Any]] | Mapping[str, Any] = argument(
        'JSON-Patch operations, e.g. ``[{"op": "replace", "path": "/scheduleParams/frequency", "value": "day"}]``; '
        "``op`` is ``add``, ``replace`` or ``remove`` and ``path`` starts with ``/``."
    )
    kind: str = argument(
        "``flows`` (default), ``connections`` (base), ``sourceConnections`` or ``targetConnections``.", "flows"
    )
    etag: str | None = argument(
        "the etag the ops were written against, with its quotes, e.g. ``'\"1a00-...\"'`` (e.g. "
        '``create_flow.output["etag"]``). Default: the etag read first.',
        None,
    )

    def execute(self, context: Context) -> str:
        from airflow_flowservice.inputs import ScheduleParamsInput, validate_ops
        from airflow_flowservice.validation import check_entity_id, parse_kind, validate_input

        kind = parse_kind(self.kind)
        entity_id = check_entity_id(self.entity_id, "entity_id")
        ops = validate_ops(self.ops)
        given_etag = self._given_etag()
        full_schedule = next((op for op in ops if op.path == SCHEDULE and op.op != "remove"), None)
        if full_schedule is not None:
            validate_input(ScheduleParamsInput, full_schedule.value, prefix="ops.scheduleParams")
        touches_schedule = patched_schedule(None, ops) is not None
        if touches_schedule and kind != EntityKind.FLOW:
            raise FlowServiceConfigError(f"ops: only flows have /scheduleParams (kind is {kind.value})")

        snapshot: Entity | None = None
        if given_etag is None or touches_schedule:
            snapshot = self.hook.get_entity(kind, entity_id)
            if given_etag is not None and snapshot.etag != given_etag:
                raise self._conflict(kind, entity_id, given_etag, None, snapshot, ops)
        if touches_schedule and snapshot is not None:
            ops = self._checked_schedule_ops(snapshot, ops)
        etag = given_etag or (snapshot.etag if snapshot is not None else None)
        if not etag:
            raise FlowServiceConfigError(f"etag: the {kind.label} {entity_id} has no etag to send as If-Match")
        try:
            ref = self.hook.patch_entity(kind, entity_id, [op.to_api() for op in ops], etag)
        except FlowServiceConflictError as exc:
            current = self.hook.get_entity(kind, entity_id)
            raise self._conflict(kind, entity_id, etag, snapshot, current, ops, cause=exc) from exc
        self.log.info("Updated %s %s (%d ops): etag %s -> %s", kind.label, entity_id, len(ops), etag, ref.etag)
        push_ref(context, ref.id, ref.etag)
        return ref.id

    def _given_etag(self) -> str | None:
        if self.etag is None or (isinstance(self.etag, str) and not self.etag.strip()):
            return None
        if not isinstance(self.etag, str):
            raise FlowServiceConfigError(f"etag: must be a string such as '\"1a00...\"' (got {self.etag!r})")
        text = self.etag.strip()
        # If-Match carries the etag with its double quotes (Adobe's "Update dataflows" guide); accept it bare too.
        return text if text.startswith('"') else f'"{text}"'

    def _checked_schedule_ops(self, snapshot: Entity, ops: list[PatchOp]) -> list[PatchOp]:
        """Validate the schedule as it will be after the ops; send its normalised values.

        The error names the JSON pointer to fix (``ops: after the ops, /scheduleParams/interval: ...``)
        and, for a flow made recurring without an interval (a ``once`` flow has none), the op to add.
        """
        from pydantic import ValidationError

        from airflow_flowservice.inputs import ScheduleParamsInput
        from airflow_flowservice.validation import config_error

        current = snapshot.model_dump(by_alias=True, exclude_none=True).get("scheduleParams")
        merged = patched_schedule(current, ops)
        try:
            checked = ScheduleParamsInput.model_validate(merged).to_api()
        except ValidationError as exc:
            error = config_error(
                exc, prefix="ops: after the ops, /scheduleParams", rename={"start_time": "startTime"}, separator="/"
            )
            frequency = str((merged or {}).get("frequency", "")).lower()
            if (merged or {}).get("interval") is None and frequency not in ("", "once"):
                example = 15 if frequency == "minute" else 1
                hint = {"op": "add", "path": SCHEDULE + "/interval", "value": example}
                error = FlowServiceConfigError(f"{error.message}; add {hint} to the ops")
            raise error from None
        out: list[PatchOp] = []
        for op in ops:
            if op.op != "remove" and op.path == SCHEDULE:
                op = op.model_copy(update={"value": checked})
            elif op.op != "remove" and op.path.startswith(SCHEDULE + "/"):
                key = op.path[len(SCHEDULE) + 1 :]
                if key in checked:
                    op = op.model_copy(update={"value": checked[key]})
            out.append(op)
        return out

    @staticmethod
    def _conflict(
        kind: EntityKind,
        entity_id: str,
        sent_etag: str,
        before: Entity | None,
        now: Entity,
        ops: Sequence[PatchOp],
        cause: FlowServiceConflictError | None = None,
    ) -> FlowServiceConflictError:
        """A 412 report: old vs new etag, and the values at the patched paths (before -> now)."""
        now_doc = now.model_dump(by_alias=True, exclude_none=True)
        before_doc = before.model_dump(by_alias=True, exclude_none=True) if before else None
        changes: list[str] = []
        for path in dict.fromkeys(op.path for op in ops):
            new = pointer_get(now_doc, path)
            if before_doc is None:
                changes.append(f"{path} is now {_show(new)}")
                continue
            old = pointer_get(before_doc, path)
            if old != new:
                changes.append(f"{path}: {_show(old)} -> {_show(new)}")
        if not changes:
            changes.append("the patched paths are unchanged; other fields changed")
        updated_by = (now.model_extra or {}).get("updatedBy")
        who = f", updated by {updated_by}" if updated_by else ""
        message = (
            f"{kind.label} {entity_id} changed since etag {sent_etag} (now {now.etag}{who}): "
            f"{'; '.join(changes)}. Nothing was written: re-read it and re-apply the ops if still wanted"
        )
        if cause is None:  # found by reading, before any PATCH was sent
            return FlowServiceConflictError(message)
        return FlowServiceConflictError(
            message,
            status=cause.status,
            code=cause.code,
            request_id=cause.request_id,
            method="PATCH",
            path=f"{kind.path}/{entity_id}",
        )
