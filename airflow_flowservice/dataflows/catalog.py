"""Connection specs and flow specs, read once per process (catalog data: safe to cache and to lose).

A spec id that the service does not know is a config error naming the operator argument.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from airflow_flowservice.exceptions import FlowServiceConfigError, FlowServiceNotFoundError
from airflow_flowservice.models import ConnectionSpec, FlowSpec

if TYPE_CHECKING:
    from airflow_flowservice.hooks.flowservice import FlowServiceHook


_SPECS: dict[tuple[str, str, str], ConnectionSpec | FlowSpec] = {}
_SPECS_LOCK = threading.Lock()


def clear_spec_cache() -> None:
    """Forget every cached connection spec and flow spec."""
    with _SPECS_LOCK:
        _SPECS.clear()


def _cached(hook: FlowServiceHook, key: tuple[str, str], load: Callable[[], ConnectionSpec | FlowSpec]) -> Any:
    full = (hook.credentials.api_url, *key)
    with _SPECS_LOCK:
        found = _SPECS.get(full)
    if found is None:
        found = load()
        with _SPECS_LOCK:
            _SPECS[full] = found
    return found


def connection_spec(hook: FlowServiceHook, spec_id: str, field: str = "connection_spec_id") -> ConnectionSpec:
    """``GET /connectionSpecs/{id}`` (once per process); an unknown id is a config error naming ``field``."""

    def load() -> ConnectionSpec:
        try:
            return hook.get_connection_spec(spec_id)
        except FlowServiceNotFoundError as exc:
            raise FlowServiceConfigError(
                f"{field}: no connection spec has id {spec_id} (the service answered 404); "
                "check the id against GET /connectionSpecs"
            ) from exc

    spec: ConnectionSpec = _cached(hook, ("connectionSpecs", spec_id), load)
    return spec


def flow_spec(
    hook: FlowServiceHook, *, spec_id: str | None = None, name: str | None = None, field: str = "flow_spec"
) -> FlowSpec:
    """A flow spec by id (``GET /flowSpecs/{id}``) or by name (``?property=name=="..."``), once per process."""

    def load() -> FlowSpec:
        try:
            if spec_id is not None:
                return hook.get_flow_spec(spec_id)
            return hook.find_flow_spec(str(name))
        except FlowServiceNotFoundError as exc:
            what = f"id {spec_id}" if spec_id is not None else f"name {name!r}"
            raise FlowServiceConfigError(
                f"{field}: no flow spec has {what} (the service answered 404); check it against GET /flowSpecs"
            ) from exc

    key = ("flowSpecs", spec_id) if spec_id is not None else ("flowSpecs:name", str(name))
    spec: FlowSpec = _cached(hook, key, load)
    return spec


def check_draft_supported(spec: ConnectionSpec | FlowSpec, what: str) -> None:
    """Fail (config error on ``draft``) unless ``attributes.isDraftModeSupported`` is true on the spec."""
    if not spec.is_draft_mode_supported:
        raise FlowServiceConfigError(
            f"draft: the {what} spec {spec.id} ({spec.name}) does not support drafts "
            "(attributes.isDraftModeSupported is not true); create it with draft=False"
        )
