"""Routes of the events resource: the I/O Events Journaling API (a registration's journal of notifications).

``GET /events/organizations/{consumerOrgId}/integrations/{integrationId}/{registrationId}`` with
``since`` / ``latest`` / ``limit``: ``200 {"events", "_page": {"last", "count"}}`` or, at the end of the
journal, ``204`` with ``retry-after``; both with ``Link: <...?since=...>; rel="next"`` (absolute, ``limit``
kept). The checks are the Journaling API's: ``Authorization: Bearer``, ``x-api-key``, ``x-ims-org-id``.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from ..dependencies import reply, request_id, store_of
from ..paths import EVENTS_PREFIX
from ..stores.auth import TokenAuthority
from ..stores.events import EventStore

router = APIRouter(prefix=EVENTS_PREFIX)
Events = Annotated[EventStore, Depends(store_of("events"))]
Auth = Annotated[TokenAuthority, Depends(store_of("auth"))]


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


@router.get("/organizations/{consumer_org_id}/integrations/{integration_id}/{registration_id}")
async def read_journal(
    consumer_org_id: str,
    integration_id: str,
    registration_id: str,
    request: Request,
    events: Events,
    auth: Auth,
) -> Response:
    auth.check_journal_headers({k.lower(): v for k, v in request.headers.items()})
    params = request.query_params
    page = events.read(
        consumer_org_id,
        integration_id,
        registration_id,
        since=params.get("since"),
        latest=params.get("latest"),
        limit=params.get("limit"),
    )
    journal_url = str(request.base_url).rstrip("/") + request.url.path.rstrip("/")
    query = f"since={quote(page.next_since, safe=':')}"
    if params.get("limit") is not None:
        query += f"&limit={int(params['limit'])}"
    headers = {"Link": f'<{journal_url}?{query}>; rel="next"'}
    rid = request_id(request)
    if not page.events:
        headers["retry-after"] = _seconds(events.retry_after)
        return Response(status_code=204, headers={**headers, "x-request-id": rid})
    body = {"events": page.events, "_page": {"last": page.next_since, "count": len(page.events)}}
    return reply(body, 200, rid, headers)
