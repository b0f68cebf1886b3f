"""Credentials of base connections: checked against the connection spec's auth specs, read from Airflow
connections so that DAG files hold no secrets, and registered with Airflow's secret masker.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from airflow_flowservice.exceptions import FlowServiceConfigError
from airflow_flowservice.models import ConnectionSpec

if TYPE_CHECKING:
    from airflow_flowservice.hooks.flowservice import FlowServiceHook

log = logging.getLogger(__name__)


def check_auth(spec: ConnectionSpec, auth_spec_name: str | None, params: Mapping[str, Any]) -> None:
    """Check ``auth`` against the spec: the ``specName`` exists and every required param is given.

    Secret params (``format: password`` in the auth spec) are registered with Airflow's masker.
    Param names are matched case-insensitively, as Adobe's own drafts example needs (it sends ``userId``
    for the spec's ``userid``); a case difference is logged.
    """
    label = f"connection spec {spec.id} ({spec.name})"
    if not spec.auth_spec:
        if auth_spec_name is not None or params:
            raise FlowServiceConfigError(
                f"auth_spec_name: {label} takes no credentials; remove auth_spec_name and auth_params"
            )
        return
    names = [a.name for a in spec.auth_spec]
    if auth_spec_name is None:
        raise FlowServiceConfigError(f"auth_spec_name: is required; {label} accepts {_quoted(names)}")
    chosen = next((a for a in spec.auth_spec if a.name == auth_spec_name), None)
    if chosen is None:
        raise FlowServiceConfigError(
            f"auth_spec_name: {auth_spec_name!r} is not an auth spec of {label}; use one of {_quoted(names)}"
        )
    given = {str(k).lower(): str(k) for k, v in params.items() if v is not None and v != ""}
    missing = [p for p in chosen.required_params if p.lower() not in given]
    if missing:
        raise FlowServiceConfigError(
            f"auth_params: missing {_quoted(missing)}, required by auth spec {auth_spec_name!r} of {label}; "
            "add them to auth_params or to the Airflow connection named by auth_params_from_conn_id"
        )
    for required in chosen.required_params:
        if given[required.lower()] != required:
            log.warning("auth param %r is spelled %r in the connection spec", given[required.lower()], required)
    properties = chosen.spec.get("properties") or {}
    secret = {str(n).lower() for n, p in properties.items() if isinstance(p, dict) and p.get("format") == "password"}
    for key, value in params.items():
        if str(key).lower() in secret and isinstance(value, str):
            _mask(value, str(key))


def _quoted(items: Iterable[str]) -> str:
    return ", ".join(repr(i) for i in items)


def _mask(value: str, name: str) -> None:
    from airflow_flowservice._compat import mask_secret

    mask_secret(value, name)


DEFAULT_AUTH_FIELDS: dict[str, str] = {"username": "login", "password": "password"}
"""Default ``auth_conn_fields``: login -> ``username``, password -> ``password``; every extra key is
passed under its own name, and the host (when set) as ``host``."""


def auth_params_from_connection(
    hook: FlowServiceHook,
    conn_id: str,
    fields: Mapping[str, str] | None = None,
    field: str = "auth_params_from_conn_id",
) -> dict[str, Any]:
    """Auth params read from an Airflow connection, so that DAG files hold no secrets.

    :param conn_id: the Airflow connection holding the credentials (any connection type).
    :param fields: auth param -> connection field: ``login``, ``password``, ``host``, ``schema``,
        ``port`` or ``extra.<key>``, e.g. ``{"userid": "login", "password": "password",
        "host": "extra.endpoint"}``. Default: :data:`DEFAULT_AUTH_FIELDS` plus every extra key.
    :param field: the operator argument that named the connection, for error messages.
    Every value but the login and the host is registered with Airflow's secret masker (but those too short
    for it to mask, :func:`~airflow_flowservice._compat.mask_secret`).
    """
    from airflow_flowservice._compat import connection_extra

    conn = hook.defined_connection(conn_id, field)
    try:
        extra = connection_extra(conn)  # masked as extra_dejson masks it, without the "too short" warning
    except ValueError as exc:
        raise FlowServiceConfigError(f"{field}: connection {conn_id!r} {exc}; give a JSON object") from None
    if not isinstance(extra, dict):
        raise FlowServiceConfigError(f"{field}: connection {conn_id!r} extra is not a JSON object; give one")
    if fields is None:
        params: dict[str, Any] = {name: getattr(conn, src) for name, src in DEFAULT_AUTH_FIELDS.items()}
        params = {k: v for k, v in params.items() if v not in (None, "")}
        if conn.host:
            params["host"] = conn.host
        params.update(extra)
    else:
        params = {}
        for name, source in fields.items():
            if source.startswith("extra."):
                value = extra.get(source.removeprefix("extra."))
            elif source in ("login", "password", "host", "schema", "port"):
                value = getattr(conn, source)
            else:
                raise FlowServiceConfigError(
                    f"auth_conn_fields: {source!r} (for {name!r}) is not a connection field; use login, password, "
                    "host, schema, port or extra.<key>"
                )
            if value in (None, ""):
                raise FlowServiceConfigError(
                    f"{field}: connection {conn_id!r} has no {source} for auth param {name!r}; set it on the "
                    "connection"
                    + ("" if field == "destination_conn_id" else " or map another field in auth_conn_fields")
                )
            params[name] = value
    public = {"login", "host"}
    sources = dict(fields) if fields is not None else {**DEFAULT_AUTH_FIELDS, "host": "host"}
    for name, value in params.items():
        if isinstance(value, str) and sources.get(name, "extra") not in public:
            _mask(value, name)
    return params
