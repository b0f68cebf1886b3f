"""Routes of the auth resource: the IMS token endpoint (``POST /ims/token/v3``)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from ..dependencies import reply, request_id, store_of
from ..paths import IMS_PATH
from ..stores.auth import TokenAuthority

router = APIRouter()
Auth = Annotated[TokenAuthority, Depends(store_of("auth"))]


@router.post(IMS_PATH)
async def issue_token(request: Request, auth: Auth) -> Response:
    """``client_credentials``, form-encoded (the parameters are also accepted in the query string)."""
    form = dict(parse_qsl(request.url.query, keep_blank_values=True))
    raw = await request.body()
    if raw:
        form.update(dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)))
    return reply(auth.issue(form), 200, request_id(request))
