"""Routes of the conversion resource (Data Prep, the Conversion Service) under ``/data/foundation/conversion``:
mapping sets (``/mappingSets``, with ``validate`` and ``preview``) and the expression language
(``/languages/el``). The gateway's checks are the Flow Service routes' own (``ApiCall``).

Requests to these paths are logged, and matched by fault rules, with their full path
(``/data/foundation/conversion/mappingSets``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.responses import Response

from ..dependencies import ApiCall, ApiRouter, reply, store_of
from ..paths import CONVERSION_PREFIX
from ..stores.conversion import ConversionStore

router = ApiRouter(prefix=CONVERSION_PREFIX)
Conversion = Annotated[ConversionStore, Depends(store_of("conversion"))]


@router.get("/mappingSets")
async def list_mapping_sets(ctx: ApiCall, conversion: Conversion) -> Response:
    return reply(conversion.list_sets(ctx.caller, ctx.qdict()), 200, ctx.request_id)


@router.post("/mappingSets")
async def create_mapping_set(ctx: ApiCall, conversion: Conversion) -> Response:
    # The spec and Adobe's guide both answer a create with 200 (not 201).
    return reply(conversion.create(ctx.caller, ctx.body), 200, ctx.request_id)


@router.post("/mappingSets/validate")
async def validate_mapping_set(ctx: ApiCall, conversion: Conversion) -> Response:
    return reply(conversion.validate(ctx.caller, ctx.body), 200, ctx.request_id)


@router.post("/mappingSets/preview")
async def preview_mapping_set(ctx: ApiCall, conversion: Conversion) -> Response:
    return reply(conversion.preview(ctx.caller, ctx.body), 200, ctx.request_id)


@router.get("/mappingSets/{mapping_set_id}")
async def get_mapping_set(mapping_set_id: str, ctx: ApiCall, conversion: Conversion) -> Response:
    found = conversion.get(ctx.caller, mapping_set_id, ctx.q("version"), ctx.q("expandSchema") == "true")
    return reply(found, 200, ctx.request_id)


@router.put("/mappingSets/{mapping_set_id}")
async def put_mapping_set(mapping_set_id: str, ctx: ApiCall, conversion: Conversion) -> Response:
    return reply(conversion.put(ctx.caller, mapping_set_id, ctx.body), 200, ctx.request_id)


@router.get("/mappingSets/{mapping_set_id}/mappings")
async def list_mappings(mapping_set_id: str, ctx: ApiCall, conversion: Conversion) -> Response:
    return reply(conversion.mappings(ctx.caller, mapping_set_id), 200, ctx.request_id)


@router.get("/mappingSets/{mapping_set_id}/mappings/{mapping_id}")
async def get_mapping(mapping_set_id: str, mapping_id: str, ctx: ApiCall, conversion: Conversion) -> Response:
    return reply(conversion.mappings(ctx.caller, mapping_set_id, mapping_id), 200, ctx.request_id)


@router.post("/languages/el/validate")
async def validate_expression(ctx: ApiCall, conversion: Conversion) -> Response:
    return reply(conversion.validate_expression(ctx.body), 200, ctx.request_id)


@router.get("/languages/el/functions")
async def list_functions(ctx: ApiCall, conversion: Conversion) -> Response:
    return reply(conversion.functions(), 200, ctx.request_id)


@router.get("/languages/el/operators")
async def list_operators(ctx: ApiCall, conversion: Conversion) -> Response:
    return reply(conversion.operators(), 200, ctx.request_id)
