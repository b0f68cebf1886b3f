"""A page of an Adobe I/O Events journal, read as Experience Platform flow-run notifications.

The Journaling API (Adobe I/O Events, "Journaling API" guide) answers a read with
``{"events": [{"position", "event"}], "_page": {"last", "count"}}`` and a ``Link: <...>; rel="next"``
header to follow; at the end of the journal it answers ``204 No Content`` with ``retry-after``
(seconds) and a ``next`` link equal to the request. Each ``event`` here is a notification of the
"Platform notifications" provider for a source dataflow run (Experience League, "Flow run
notifications"): the success example is ``{"event_id", "event": {<the run>, "header": {"_adobeio":
{"eventCode": "sources_flow_run_success"}}}}``, while the failure example of the same page uses another
envelope (``[{"messages": [{"_eventNotificationMeta": {"type": ...}, "value": {<the run>}}]}]``). Both
are read here, defensively: an entry whose run cannot be found is kept (raw) with ``run`` ``None``.

Knows nothing of Airflow.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

from airflow_flowservice.client import Answer
from airflow_flowservice.exceptions import FlowServiceError

#: The event codes of the flow-run notifications (Adobe's page says ``..._failure``; its failure example
#: carries ``sources_flow_run_failed``: both are read as a failure).
SUCCESS_CODES = frozenset({"sources_flow_run_success"})
FAILURE_CODES = frozenset({"sources_flow_run_failure", "sources_flow_run_failed"})

_LINK = re.compile(r"<([^>]*)>\s*((?:;\s*[^;,]*)*)")
_REL = re.compile(r"""rel\s*=\s*"?([^";]+)"?""")


@dataclass(frozen=True)
class JournalEvent:
    """One event of a journal page, read as a flow-run notification.

    :param position: its position in the journal (opaque).
    :param event_id: its unique id: the notification's ``event_id`` when it has one, else one derived
        from the run and the event code (the same notification delivered twice keeps its id).
    :param code: the event code (``sources_flow_run_success`` ...), ``""`` when absent.
    :param run: the run document the notification carries (``id``, ``flowId``, ``metrics`` ...), or ``None``.
    :param raw: the event as the journal gave it.
    """

    position: str
    event_id: str
    code: str
    run: Mapping[str, Any] | None
    raw: Any = field(repr=False, compare=False)

    @property
    def run_id(self) -> str | None:
        return str(self.run["id"]) if self.run is not None and self.run.get("id") else None

    @property
    def flow_id(self) -> str | None:
        return str(self.run["flowId"]) if self.run is not None and self.run.get("flowId") else None


@dataclass(frozen=True)
class JournalPage:
    """What one journal read gave: its events, the ``next`` link to read on, and how long to wait first.

    :param events: the page's events, in the journal's order (empty at the end of the journal).
    :param next_url: the ``rel=next`` link (absolute), or ``None`` when the answer had none.
    :param retry_after: seconds to wait before the next read (``204`` at the end of the journal), or ``None``.
    :param last: the position of the page's last event (``_page.last``), or ``None``.
    """

    events: list[JournalEvent]
    next_url: str | None
    retry_after: float | None
    last: str | None = None


def links(header: str | None, base: str) -> dict[str, str]:
    """The links of an HTTP ``Link`` header (RFC 8288), by relation, made absolute against ``base``."""
    found: dict[str, str] = {}
    for target, params in _LINK.findall(header or ""):
        rel = _REL.search(params)
        for name in rel.group(1).split() if rel else []:
            found.setdefault(name.lower(), urljoin(base, target.strip()))
    return found


def parse_journal_answer(answer: Answer, url: str) -> JournalPage:
    """The :class:`JournalPage` of a journal read of ``url``; a body that is not a journal page raises."""
    headers = {k.lower(): v for k, v in answer.headers.items()}
    retry = headers.get("retry-after")
    retry_after = float(retry) if retry is not None and retry.strip().replace(".", "", 1).isdigit() else None
    next_url = links(headers.get("link"), url).get("next")
    if answer.status == 204 or not answer.content:
        return JournalPage([], next_url, retry_after)
    try:
        body = json.loads(answer.content)
    except ValueError as exc:
        raise FlowServiceError(f"GET {url}: the journal answered a body that is not JSON ({exc})") from None
    items = body.get("events") if isinstance(body, Mapping) else None
    if not isinstance(items, list):
        raise FlowServiceError(f"GET {url}: the journal answered no 'events' list")
    events = [_event(item) for item in items if isinstance(item, Mapping) and item.get("position") is not None]
    page = body.get("_page")
    last = page.get("last") if isinstance(page, Mapping) else None
    return JournalPage(events, next_url, retry_after, str(last) if last is not None else None)


def _event(item: Mapping[str, Any]) -> JournalEvent:
    raw = item.get("event")
    run, code, given_id = _notification(raw)
    event_id = given_id or _derived_id(run, code, raw)
    return JournalEvent(str(item["position"]), event_id, code, run, raw)


def _notification(raw: Any) -> tuple[Mapping[str, Any] | None, str, str | None]:
    """``(run, event code, event id)`` of a notification in either of Adobe's envelopes."""
    if isinstance(raw, list):  # the failure example: [{"messages": [...]}]
        for part in raw:
            found = _notification(part)
            if found[0] is not None:
                return found
        return None, "", None
    if not isinstance(raw, Mapping):
        return None, "", None
    for message in raw.get("messages") or ():
        if isinstance(message, Mapping) and _is_run(message.get("value")):
            meta = message.get("_eventNotificationMeta")
            code = meta.get("type") if isinstance(meta, Mapping) else None
            return message["value"], str(code or ""), _text(raw.get("event_id") or message.get("id"))
    inner = raw.get("event") if _is_run(raw.get("event")) else raw.get("data") if _is_run(raw.get("data")) else None
    if inner is None and _is_run(raw):
        inner = raw
    if inner is None:
        return None, _code(raw), _text(raw.get("event_id"))
    return inner, _code(inner) or _code(raw), _text(raw.get("event_id"))


def _is_run(value: Any) -> bool:
    return isinstance(value, Mapping) and bool(value.get("id")) and ("flowId" in value or "metrics" in value)


def _code(value: Mapping[str, Any]) -> str:
    header = value.get("header")
    adobeio = header.get("_adobeio") if isinstance(header, Mapping) else None
    code = adobeio.get("eventCode") if isinstance(adobeio, Mapping) else None
    return str(code or value.get("type") or "")


def _text(value: Any) -> str | None:
    return str(value) if value else None


def _derived_id(run: Mapping[str, Any] | None, code: str, raw: Any) -> str:
    """An id for a notification that carries none: the same run and code give the same id."""
    basis = f"{run.get('id')}:{code}" if run is not None else json.dumps(raw, sort_keys=True, default=str)
    return "derived-" + hashlib.sha256(basis.encode()).hexdigest()[:32]
