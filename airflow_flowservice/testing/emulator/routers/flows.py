"""Routes of the flows resource: ``/flows`` (dataflows), and their actions (publish, enable, disable)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.responses import Response

from ..dependencies import ApiCall, ApiRouter, reply, store_of
from ..paths import API_PREFIX
from ..stores.flows import FLOWS, FlowStore

router = ApiRouter(prefix=API_PREFIX)
Flows = Annotated[FlowStore, Depends(store_of("flows"))]


@router.get("/flows")
async def list_flows(ctx: ApiCall, flows: Flows) -> Response:
    return reply(flows.list_entities(ctx.caller, FLOWS, ctx.query), 200, ctx.request_id)


@router.post("/flows")
async def create_flow(ctx: ApiCall, flows: Flows) -> Response:
    created = flows.create(ctx.caller, ctx.body, ctx.draft)
    return reply(created, 201, ctx.request_id, {"Location": f"{API_PREFIX}/flows/{created['id']}"})


@router.get("/flows/{flow_id}")
async def get_flow(flow_id: str, ctx: ApiCall, flows: Flows) -> Response:
    return reply(flows.retrieve(ctx.caller, FLOWS, flow_id), 200, ctx.request_id)


@router.patch("/flows/{flow_id}")
async def patch_flow(flow_id: str, ctx: ApiCall, flows: Flows) -> Response:
    return reply(flows.patch(ctx.caller, FLOWS, flow_id, ctx.body, ctx.if_match), 200, ctx.request_id)


@router.delete("/flows/{flow_id}")
async def delete_flow(flow_id: str, ctx: ApiCall, flows: Flows) -> Response:
    flows.delete(ctx.caller, FLOWS, flow_id)
    return Response(status_code=204, headers={"x-request-id": ctx.request_id})


@router.post("/flows/{flow_id}/action")
async def flow_action(flow_id: str, ctx: ApiCall, flows: Flows) -> Response:
    return reply(flows.action(ctx.caller, FLOWS, flow_id, ctx.q("op"), ctx.if_match), 200, ctx.request_id)


router.not_implemented("POST", "/flows/search", "use GET /flows?property=.")
