"""The flow-run notifications Experience Platform publishes through Adobe I/O Events, in Adobe's two shapes.

Experience League, "Flow run notifications" (``help/sources/notifications.md``): a run's notification is
classified ``sources_flow_run_success`` or ``sources_flow_run_failure``. The page's **success** example is
``{"event_id", "event": {<the run>, "header": {"_adobeio": {"imsOrgId", "providerMetadata", "eventCode"}}}}``;
its **failure** example uses another envelope, a list of ``{"messages": [{"msgType": "eventNotification",
..., "_eventNotificationMeta": {"category", "type": "sources_flow_run_failed"}, "value": {<the run>}}]}``
with no event id. The emulator answers both as the page shows them, with the run document as
``GET /runs/{id}`` returns it (``sandboxName``, ``imsOrgId``, ``sandboxId`` included).

A success with failed records under the threshold (partial ingestion) is a success whose run lists
its errors, as the page says.
"""

from __future__ import annotations

import uuid
from typing import Any

#: The event codes of a registration's subscription ("Experience Platform Source's Flow Run Succeeded / Failed").
SUCCESS_CODE = "sources_flow_run_success"
FAILURE_CODE = "sources_flow_run_failure"
EVENT_CODES = (SUCCESS_CODE, FAILURE_CODE)
#: The ``_eventNotificationMeta.type`` of Adobe's failure example (not the subscription's code).
FAILURE_TYPE = "sources_flow_run_failed"


def event_code(run: dict[str, Any]) -> str:
    """The code of a finished run's notification: ``failed`` is a failure, anything else a success."""
    status = (run.get("metrics") or {}).get("statusSummary", {}).get("status")
    return FAILURE_CODE if status == "failed" else SUCCESS_CODE


def notification(run: dict[str, Any], written_ms: int) -> Any:
    """The notification of a finished run (its public document), written to the journal at ``written_ms``."""
    if event_code(run) == FAILURE_CODE:
        return failure_notification(run, written_ms)
    return success_notification(run, written_ms)


def success_notification(run: dict[str, Any], written_ms: int) -> dict[str, Any]:
    """Adobe's success example: the run's fields, then the timing fields and the ``header`` of the example."""
    event = dict(run)
    event["slaCreatedAt"] = written_ms
    event["processStartTime"] = written_ms
    event["header"] = {
        "_adobeio": {
            "imsOrgId": run.get("imsOrgId"),
            "providerMetadata": "aep_observability_catalog_events",
            "eventCode": SUCCESS_CODE,
        }
    }
    event["transformedTime"] = written_ms
    return {"event_id": str(uuid.uuid4()), "event": event}


def failure_notification(run: dict[str, Any], written_ms: int) -> list[dict[str, Any]]:
    """Adobe's failure example: ``[{"messages": [{... "value": <the run>}]}]`` (no event id, as the example)."""
    message = {
        "msgType": "eventNotification",
        "version": "1.0",
        "timestamp": written_ms,
        "imsOrgId": run.get("imsOrgId"),
        "schema": {"name": "run-notification", "version": "1.0"},
        "provider": "FlowService",
        "_eventNotificationMeta": {"category": "Platform Notifications", "type": FAILURE_TYPE},
        "value": dict(run),
    }
    return [{"messages": [message]}]
