"""Routes of the connections resource: ``/connections``, ``/sourceConnections``, ``/targetConnections``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.responses import Response

from ..dependencies import ApiCall, ApiRouter, reply, store_of
from ..paths import API_PREFIX
from ..stores.connections import BASE, ConnectionStore

router = ApiRouter(prefix=API_PREFIX)
Connections = Annotated[ConnectionStore, Depends(store_of("connections"))]


def _collection_routes(collection: str) -> None:
    """List, create, retrieve, PATCH, delete and publish of one of the three collections."""

    @router.get(f"/{collection}")
    async def list_(ctx: ApiCall, connections: Connections) -> Response:
        return reply(connections.list_entities(ctx.caller, collection, ctx.query), 200, ctx.request_id)

    @router.post(f"/{collection}")
    async def create(ctx: ApiCall, connections: Connections) -> Response:
        created = connections.create(ctx.caller, collection, ctx.body, ctx.draft)
        location = f"{API_PREFIX}/{collection}/{created['id']}"
        return reply(created, 201, ctx.request_id, {"Location": location})

    @router.get(f"/{collection}/{{connection_id}}")
    async def get(connection_id: str, ctx: ApiCall, connections: Connections) -> Response:
        return reply(connections.retrieve(ctx.caller, collection, connection_id), 200, ctx.request_id)

    @router.patch(f"/{collection}/{{connection_id}}")
    async def patch(connection_id: str, ctx: ApiCall, connections: Connections) -> Response:
        updated = connections.patch(ctx.caller, collection, connection_id, ctx.body, ctx.if_match)
        return reply(updated, 200, ctx.request_id)

    @router.delete(f"/{collection}/{{connection_id}}")
    async def delete(connection_id: str, ctx: ApiCall, connections: Connections) -> Response:
        connections.delete(ctx.caller, collection, connection_id)
        return Response(status_code=204, headers={"x-request-id": ctx.request_id})

    @router.post(f"/{collection}/{{connection_id}}/action")
    async def action(connection_id: str, ctx: ApiCall, connections: Connections) -> Response:
        result = connections.action(ctx.caller, collection, connection_id, ctx.q("op"), ctx.if_match)
        return reply(result, 200, ctx.request_id)


for _collection in ConnectionStore.collections:
    _collection_routes(_collection)


@router.get(f"/{BASE}/{{connection_id}}/test")
async def test_connection(connection_id: str, ctx: ApiCall, connections: Connections) -> Response:
    return reply(connections.test(ctx.caller, connection_id), 200, ctx.request_id)


router.not_implemented("POST", "/connections/search", "use GET /connections?property=.")
