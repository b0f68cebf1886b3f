"""Routes of the control resource: the admin endpoints under ``/_emulator`` (no authentication, not logged).

They steer what a Python test steers through ``FlowServiceEmulator``: fault rules, the request log,
the clock, run outcomes, tokens, datasets, a flow's run history, the I/O Events journals (registrations,
delivery rules, expiry, retry-after, their events), reset, and a summary of the state.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from ..dependencies import reply, store_of
from ..errors import FlowServiceError
from ..paths import ADMIN_PREFIX
from ..stores.control import ControlStore

router = APIRouter(prefix=ADMIN_PREFIX)
Control = Annotated[ControlStore, Depends(store_of("control"))]


async def _body_of(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise FlowServiceError("1000-400", "Bad Request", "admin endpoints take a JSON object")
    return data


# ---- fault rules -----------------------------------------------------------------------------------


@router.get("/faults")
async def list_faults(control: Control) -> Response:
    return reply({"faults": [r.as_dict() for r in control.state.faults.rules]})


@router.post("/faults")
async def add_fault(request: Request, control: Control) -> Response:
    """The keyword arguments of ``emu.faults.add`` as JSON; answers the rule (the fields its kind uses)."""
    data = await _body_of(request)
    try:
        rule = control.state.faults.add(**data)
    except (TypeError, ValueError) as exc:
        return reply({"error": str(exc)}, 400)
    return reply(rule.as_dict(), 201)


@router.delete("/faults")
async def clear_faults(control: Control) -> Response:
    control.state.faults.clear()
    return Response(status_code=204)


@router.delete("/faults/{rule_id}")
async def remove_fault(rule_id: str, control: Control) -> Response:
    return Response(status_code=204 if control.state.faults.remove(rule_id) else 404)


# ---- request log and clock -------------------------------------------------------------------------


@router.get("/requests")
async def list_requests(request: Request, control: Control) -> Response:
    method = request.query_params.get("method")
    prefix = request.query_params.get("path_prefix")
    return reply({"requests": [r.as_dict() for r in control.state.requests.filter(method, prefix)]})


@router.delete("/requests")
async def clear_requests(control: Control) -> Response:
    control.state.requests.clear()
    return Response(status_code=204)


@router.get("/clock")
async def get_clock(control: Control) -> Response:
    return reply({"now": control.state.clock.now(), "mode": control.state.clock.mode})


@router.post("/clock")
async def move_clock(request: Request, control: Control) -> Response:
    """``{"set": epoch}`` and/or ``{"advance": seconds}``."""
    data = await _body_of(request)
    clock = control.state.clock
    if "set" in data:
        clock.set(float(data["set"]))
    if "advance" in data:
        clock.advance(float(data["advance"]))
    return reply({"now": clock.now(), "mode": clock.mode})


# ---- runs ------------------------------------------------------------------------------------------


@router.post("/run-outcome")
async def set_run_outcome(request: Request, control: Control) -> Response:
    data = await _body_of(request)
    try:
        rule = control.runs.outcomes.set(
            data.get("flow_id"),
            str(data.get("kind", "failed")),
            int(data.get("failed_records", 5)),
            data.get("times"),
        )
    except (TypeError, ValueError) as exc:
        return reply({"error": str(exc)}, 400)
    return reply(rule.as_dict(), 201)


@router.get("/runs")
async def list_flow_runs(request: Request, control: Control) -> Response:
    """``?flow_id=`` (``&sandbox=``, ``&org_id=``): ``{"flow_id", "runs": [{id, window, status, created_at}]}``."""
    params = request.query_params
    flow_id = params.get("flow_id")
    if not flow_id:
        return reply({"error": "need flow_id: GET /_emulator/runs?flow_id=<id>[&sandbox=<name>]"}, 400)
    runs = control.flow_runs(flow_id, org_id=params.get("org_id"), sandbox=params.get("sandbox"))
    if runs is None:
        org_id, sandbox = control.key(params.get("org_id"), params.get("sandbox"))
        return reply({"error": f"no flow {flow_id} in {org_id}/{sandbox}"}, 404)
    return reply({"flow_id": flow_id, "runs": runs})


@router.post("/runs")
async def seed_runs(request: Request, control: Control) -> Response:
    """``{"flow_id", "windows": [[start, end], ...], "sandbox"?, "org_id"?}``: finished past runs of a flow."""
    data = await _body_of(request)
    try:
        ids = control.seed_runs(
            str(data["flow_id"]),
            [(int(w[0]), int(w[1])) for w in data["windows"]],
            org_id=data.get("org_id"),
            sandbox=data.get("sandbox"),
        )
    except (KeyError, TypeError, ValueError) as exc:
        return reply({"error": f"need flow_id and windows [[start, end], ...]: {exc}"}, 400)
    return reply({"ids": ids}, 201)


# ---- I/O Events journals ----------------------------------------------------------------------------


def _journal_url(request: Request, path: str) -> str:
    return str(request.base_url).rstrip("/") + path


@router.get("/registrations")
async def list_registrations(request: Request, control: Control) -> Response:
    found = control.events.registrations()
    return reply({"registrations": [{**r.as_dict(), "journal_url": _journal_url(request, r.path)} for r in found]})


@router.post("/registrations")
async def add_registration(request: Request, control: Control) -> Response:
    """``{"registration_id"?, "integration_id"?, "consumer_org_id"?, "event_codes"?}`` -> 201 the registration."""
    data = await _body_of(request)
    try:
        found = control.events.add_registration(
            data.get("registration_id"),
            integration_id=data.get("integration_id"),
            consumer_org_id=data.get("consumer_org_id"),
            event_codes=data.get("event_codes"),
        )
    except (TypeError, ValueError) as exc:
        return reply({"error": str(exc)}, 400)
    return reply({**found.as_dict(), "journal_url": _journal_url(request, found.path)}, 201)


@router.get("/events")
async def journal_events(request: Request, control: Control) -> Response:
    """``?registration_id=``: the registration, its delivery rules, end position and the events its journal keeps."""
    registration_id = request.query_params.get("registration_id")
    try:
        described = control.events.describe(registration_id)
        kept = control.events.events(registration_id)
    except KeyError as exc:
        return reply({"error": str(exc.args[0])}, 404)
    return reply({**described, "journal_url": _journal_url(request, described["path"]), "events": kept})


@router.post("/events/{kind}")
async def journal_control(kind: str, request: Request, control: Control) -> Response:
    """``drop`` / ``duplicate`` / ``reorder`` ``{"n", "flow_id"?, "registration_id"?}`` -> 201 the rule;
    ``expire`` ``{"registration_id"?}`` and ``clear-rules`` -> 204; ``retry-after`` ``{"seconds"}`` -> 200."""
    data = await _body_of(request)
    events = control.events
    try:
        if kind in ("drop", "duplicate", "reorder"):
            n = int(data.get("n", 2 if kind == "reorder" else 1))
            rule = events.add_rule(kind, n, data.get("flow_id"), data.get("registration_id"))
            return reply(rule.as_dict(), 201)
        if kind == "expire":
            events.expire(data.get("registration_id"))
        elif kind == "clear-rules":
            events.clear_rules(data.get("registration_id"))
        elif kind == "retry-after":
            events.set_retry_after(float(data["seconds"]))
            return reply({"retry_after": events.retry_after})
        else:
            return reply({"error": f"unknown journal control {kind!r}"}, 404)
    except KeyError as exc:
        return reply({"error": f"missing or unknown: {exc.args[0]}"}, 404 if kind != "retry-after" else 400)
    except (TypeError, ValueError) as exc:
        return reply({"error": str(exc)}, 400)
    return Response(status_code=204)


# ---- tokens, datasets, XDM schemas, reset, state ------------------------------------------------------------------


@router.post("/expire-tokens")
async def expire_tokens(control: Control) -> Response:
    control.auth.expire_all()
    return Response(status_code=204)


@router.post("/datasets")
async def seed_datasets(request: Request, control: Control) -> Response:
    """``{"datasets": [...]}`` (or the list alone): the datasets of the data lake source's configs."""
    raw = await request.body()
    data = json.loads(raw) if raw.strip() else []
    if isinstance(data, dict):
        data = data.get("datasets", [])
    control.catalog.seed_datasets(list(data))
    return Response(status_code=204)


@router.get("/schemas")
async def list_xdm_schemas(control: Control) -> Response:
    """The XDM schemas mapping sets may map into: ``{"schemas": [{id, title, fields, datasets}]}``."""
    found = control.catalog.list_xdm_schemas()
    return reply(
        {"schemas": [{"id": s.id, "title": s.title, "fields": s.fields, "datasets": s.datasets} for s in found]}
    )


@router.post("/schemas")
async def add_xdm_schema(request: Request, control: Control) -> Response:
    """``{"id": <$id>, "fields": {<path>: <JSON type>}, "title"?, "datasets"?}``: a schema mapping sets may map into."""
    data = await _body_of(request)
    try:
        control.catalog.add_xdm_schema(
            str(data["id"]), dict(data["fields"]), str(data.get("title") or ""), data.get("datasets")
        )
    except (KeyError, TypeError, ValueError) as exc:
        return reply({"error": f"need id and fields {{path: type}}: {exc}"}, 400)
    return Response(status_code=204)


@router.post("/reset")
async def reset(control: Control) -> Response:
    control.reset()
    return Response(status_code=204)


@router.get("/state")
async def describe(control: Control) -> Response:
    return reply(control.describe())
