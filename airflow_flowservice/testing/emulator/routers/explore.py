"""Routes of the explore resource: what a base connection's source holds, and its configs."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.responses import Response

from ..dependencies import ApiCall, ApiRouter, reply, store_of
from ..paths import API_PREFIX
from ..stores.explore import ExploreStore

router = ApiRouter(prefix=API_PREFIX)
Explore = Annotated[ExploreStore, Depends(store_of("explore"))]


@router.get("/connections/{connection_id}/explore")
async def explore_connection(connection_id: str, ctx: ApiCall, explore: Explore) -> Response:
    return reply(explore.explore(ctx.caller, connection_id, ctx.qdict()), 200, ctx.request_id)


@router.get("/connections/{connection_id}/configs")
async def connection_configs(connection_id: str, ctx: ApiCall, explore: Explore) -> Response:
    return reply(explore.connection_configs(ctx.caller, connection_id, ctx.qdict()), 200, ctx.request_id)


@router.get("/connectionSpecs/{spec_id}/explore")
async def explore_connection_spec(spec_id: str, ctx: ApiCall, explore: Explore) -> Response:
    return reply(explore.spec_explore(spec_id), 200, ctx.request_id)
