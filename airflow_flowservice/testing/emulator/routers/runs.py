"""Routes of the runs resource: ``/runs`` (on-demand runs, their status and metrics) and re-trigger."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.responses import Response

from ..dependencies import ApiCall, ApiRouter, reply, store_of
from ..paths import API_PREFIX
from ..stores.runs import RunStore

router = ApiRouter(prefix=API_PREFIX)
Runs = Annotated[RunStore, Depends(store_of("runs"))]


@router.get("/runs")
async def list_runs(ctx: ApiCall, runs: Runs) -> Response:
    return reply(runs.list_runs(ctx.caller, ctx.query), 200, ctx.request_id)


@router.post("/runs")
async def create_run(ctx: ApiCall, runs: Runs) -> Response:
    # The official spec (CreateFlowRunResponse) answers a bare {id, etag} with 201; Adobe's on-demand
    # ingestion guide shows the same pair wrapped in {"items": [...]}: the store answers the one chosen
    # (emu.run_create_envelope). Clients accept both.
    return reply(runs.create(ctx.caller, ctx.body), 201, ctx.request_id)


@router.get("/runs/{run_id}")
async def get_run(run_id: str, ctx: ApiCall, runs: Runs) -> Response:
    return reply(runs.retrieve(ctx.caller, run_id), 200, ctx.request_id)


@router.post("/runs/{run_id}/action")
async def run_action(run_id: str, ctx: ApiCall, runs: Runs) -> Response:
    return reply(runs.action(ctx.caller, run_id, ctx.q("op"), ctx.if_match), 200, ctx.request_id)


router.not_implemented(
    "PUT",
    "/runs/{run_id}",
    "it is a provider-side (connector authoring) operation; the catalog is fixed.",
)
