"""Routes of the catalog resource: ``/connectionSpecs``, ``/flowSpecs`` and the data lake's dataset configs."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.responses import Response

from ..dependencies import ApiCall, ApiRouter, reply, store_of
from ..paths import API_PREFIX
from ..stores.catalog import CatalogStore

router = ApiRouter(prefix=API_PREFIX)
Catalog = Annotated[CatalogStore, Depends(store_of("catalog"))]


@router.get("/connectionSpecs")
async def list_connection_specs(ctx: ApiCall, catalog: Catalog) -> Response:
    return reply(catalog.list_specs("connectionSpecs", ctx.query), 200, ctx.request_id)


@router.get("/connectionSpecs/{spec_id}")
async def get_connection_spec(spec_id: str, ctx: ApiCall, catalog: Catalog) -> Response:
    return reply(catalog.retrieve_spec("connectionSpecs", spec_id), 200, ctx.request_id)


@router.get("/connectionSpecs/{spec_id}/configs")
async def connection_spec_configs(spec_id: str, ctx: ApiCall, catalog: Catalog) -> Response:
    return reply(catalog.dataset_configs(spec_id, ctx.qdict()), 200, ctx.request_id)


@router.get("/flowSpecs")
async def list_flow_specs(ctx: ApiCall, catalog: Catalog) -> Response:
    return reply(catalog.list_specs("flowSpecs", ctx.query), 200, ctx.request_id)


@router.get("/flowSpecs/{spec_id}")
async def get_flow_spec(spec_id: str, ctx: ApiCall, catalog: Catalog) -> Response:
    return reply(catalog.retrieve_spec("flowSpecs", spec_id), 200, ctx.request_id)


_PROVIDER_SIDE = "it is a provider-side (connector authoring) operation; the catalog is fixed."
router.not_implemented("POST", "/flowSpecs/search", "use GET /flowSpecs?property=.")
router.not_implemented("POST", "/connectionSpecs", _PROVIDER_SIDE)
router.not_implemented("PUT", "/connectionSpecs/{spec_id}", _PROVIDER_SIDE)
router.not_implemented("POST", "/flowSpecs", _PROVIDER_SIDE)
router.not_implemented("PUT", "/flowSpecs/{spec_id}", _PROVIDER_SIDE)
