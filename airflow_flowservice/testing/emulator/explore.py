"""Explore responses (``GET /connections/{id}/explore``): deterministic fake content per source type."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

from . import catalog
from .errors import FlowServiceError


def _bad(code: str, message: str) -> FlowServiceError:
    return FlowServiceError(code, "Bad Request", message)


def decode_source_params(raw: str) -> dict[str, Any]:
    """Decode the base64 JSON ``sourceParams`` (standard or URL-safe alphabet, padding optional)."""
    text = raw.strip()
    padded = text + "=" * (-len(text) % 4)
    try:
        decoded = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
        data = json.loads(decoded.decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise _bad(
            "1389-400",
            "An error occurred while parsing the provided base64-encoded string. Please provide a valid "
            "encoded "
            "filter string and try again.",
        ) from exc
    if not isinstance(data, dict):
        raise _bad("1389-400", "The decoded sourceParams must be a JSON object.")
    return data


def _hex(seed: str, n: int) -> str:
    return hashlib.md5(seed.encode()).hexdigest()[:n]


def mailchimp_preview(campaign_id: str, rows: int = 3) -> list[dict[str, Any]]:
    """Email-activity rows for ``campaign_id``, as in Adobe's Mailchimp source guide (deterministic)."""
    list_id = _hex("list" + campaign_id, 10)
    emails: list[dict[str, Any]] = []
    for i in range(rows):
        email_id = _hex(f"{campaign_id}:{i}", 32)
        base = "https://us6.api.mailchimp.com/3.0"
        schema = "https://us6.api.mailchimp.com/schema/3.0/Definitions"
        emails.append(
            {
                "campaign_id": campaign_id,
                "list_id": list_id,
                "list_is_active": True,
                "email_id": email_id,
                "email_address": f"user{int(email_id[:6], 16) % 100000}@example.com",
                "_links": [
                    {
                        "rel": "parent",
                        "href": f"{base}/reports/{campaign_id}/email-activity",
                        "method": "GET",
                        "targetSchema": f"{schema}/Reports/EmailActivity/CollectionResponse.json",
                    },
                    {
                        "rel": "self",
                        "href": f"{base}/reports/{campaign_id}/email-activity/{email_id}",
                        "method": "GET",
                        "targetSchema": f"{schema}/Reports/EmailActivity/Response.json",
                    },
                    {
                        "rel": "member",
                        "href": f"{base}/lists/{list_id}/members/{email_id}",
                        "method": "GET",
                        "targetSchema": f"{schema}/Lists/Members/Response.json",
                    },
                ],
            }
        )
    return [{"emails": emails}]


MAILCHIMP_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "emails": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "campaign_id": {"type": "string"},
                    "list_id": {"type": "string"},
                    "list_is_active": {"type": "boolean"},
                    "email_id": {"type": "string"},
                    "email_address": {"type": "string"},
                },
            },
        }
    },
}

_DELIMITED_COLUMNS = [
    {"name": "id", "type": "string"},
    {"name": "email", "type": "string"},
    {"name": "firstName", "type": "string"},
    {"name": "lastName", "type": "string"},
    {"name": "updatedAt", "type": "string"},
]

_TABLE_COLUMNS = [
    {"name": "TestID", "type": "string", "xdm": {"type": "string"}},
    {"name": "Name", "type": "string", "xdm": {"type": "string"}},
    {
        "name": "Datefield",
        "type": "string",
        "meta:xdmType": "date-time",
        "xdm": {"type": "string", "format": "date-time"},
    },
    {"name": "Amount", "type": "double", "xdm": {"type": "number"}},
]


def _rows(seed: str, columns: list[dict[str, Any]], n: int = 5) -> list[dict[str, Any]]:
    rows = []
    for i in range(n):
        h = _hex(f"{seed}:{i}", 8)
        row: dict[str, Any] = {}
        for col in columns:
            if col["type"] == "double":
                row[col["name"]] = round(int(h, 16) % 100000 / 100, 2)
            elif col["name"].lower() in ("updatedat", "datefield"):
                row[col["name"]] = f"2024-01-{(i % 28) + 1:02d}T00:00:00Z"
            else:
                row[col["name"]] = f"{col['name'].lower()}-{h}"
        rows.append(row)
    return rows


def explore(spec: dict[str, Any], params: dict[str, str]) -> Any:
    """The explore response for a connection of ``spec`` and the query ``params``."""
    object_type = params.get("objectType", "").strip().lower()
    spec_id = spec["id"]
    if "exploreSpec" not in spec:
        raise _bad(
            "1336-400",
            f"Explore connection is not supported for connection spec ID: {spec_id}. Please provide "
            "supported "
            "connection spec id and try again.",
        )
    if not object_type:
        raise _bad(
            "1334-400",
            "The query param : objectType cannot be empty. Please provide valid objectType and try again.",
        )
    explore_type = spec["exploreSpec"].get("type")
    if explore_type == "Resource":  # REST sources (Mailchimp)
        if object_type != "rest":
            raise _bad(
                "1358-400",
                "The provided param 'objectType' is invalid. Please provide a valid objectType and try again.",
            )
        raw = params.get("sourceParams")
        source_params = decode_source_params(raw) if raw else {}
        campaign = str(source_params.get("campaignId", "")) or "c66a200cda"
        result: dict[str, Any] = {"format": params.get("fileType", "json"), "schema": MAILCHIMP_SCHEMA}
        if params.get("preview", "").lower() == "true":
            result["data"] = mailchimp_preview(campaign)
        return result
    obj = params.get("object", "")
    if explore_type == "FileSystem":
        if object_type == "root":
            return [
                {
                    "type": "folder",
                    "name": "acme",
                    "path": "/acme",
                    "canPreview": False,
                    "canFetchSchema": False,
                },
                {
                    "type": "folder",
                    "name": "exports",
                    "path": "/exports",
                    "canPreview": False,
                    "canFetchSchema": False,
                },
            ]
        if object_type == "folder":
            if not obj:
                raise _bad(
                    "1337-400",
                    "The object cannot be empty for objectType=folder. Please provide valid object and try again.",
                )
            base = obj.rstrip("/")
            return [
                {"type": "file", "name": n, "path": f"{base}/{n}", "canPreview": True, "canFetchSchema": True}
                for n in ("account.csv", "contacts.csv", "orders.csv")
            ]
        if object_type == "file":
            if not obj:
                raise _bad(
                    "1337-400",
                    "The object cannot be empty for objectType=file. Please provide valid object and try again.",
                )
            result = {"format": "delimited", "schema": {"columns": _DELIMITED_COLUMNS}}
            if params.get("preview", "").lower() == "true":
                result["data"] = _rows(obj, _DELIMITED_COLUMNS)
            return result
        raise _bad(
            "1358-400",
            "The provided param 'objectType' is invalid. Please provide a valid objectType and try again.",
        )
    if explore_type == "Table":
        if object_type == "root":
            return [
                {"type": "table", "name": n, "path": p, "canPreview": True, "canFetchSchema": True}
                for n, p in (("Mytable", "test1.Mytable"), ("Customers", "test1.Customers"))
            ]
        if object_type == "table":
            if not obj:
                raise _bad(
                    "1337-400",
                    "The object cannot be empty for objectType=table. Please provide valid object and try again.",
                )
            result = {"format": "flat", "schema": {"columns": _TABLE_COLUMNS}}
            if params.get("preview", "").lower() == "true":
                result["data"] = _rows(obj, _TABLE_COLUMNS)
            return result
        raise _bad(
            "1358-400",
            "The provided param 'objectType' is invalid. Please provide a valid objectType and try again.",
        )
    raise _bad("1336-400", f"Explore connection is not supported for connection spec ID: {spec_id}.")


def activation_datasets(datasets: list[dict[str, Any]], params: dict[str, str]) -> dict[str, Any]:
    """``GET /connectionSpecs/{data lake source}/configs?outputType=activationDatasets&outputField=datasets``.

    ``start``/``limit`` page the list (``pageInfo.end`` is the index of the last item returned).
    ``properties`` (a Catalog Service parameter) is accepted but, as in Adobe's dataset-export guide response, the full
    dataset objects are returned.
    """
    if params.get("outputType") != "activationDatasets" or params.get("outputField") != "datasets":
        raise _bad(
            "1359-400",
            "The param outputType=activationDatasets and outputField=datasets is missing in the request. "
            "Please "
            "provide a valid outputType and outputField and try again.",
        )
    try:
        start = int(params.get("start", "0"))
        limit = int(params.get("limit", "20"))
    except ValueError as exc:
        raise _bad("1312-400", "The provided param value is not a valid input for property=start/limit.") from exc
    if start < 0 or limit < 1:
        raise _bad(
            "1394-400",
            "The minimum value for a parameter limit is one. Please provide a valid limit and try again.",
        )
    items = [dict(ds) for ds in datasets[start : start + limit]]
    return {
        "items": items,
        "pageInfo": {
            "start": start,
            "end": start + len(items) - 1 if items else start,
            "total": len(datasets),
            "hasNext": start + len(items) < len(datasets),
        },
    }


__all__ = ["activation_datasets", "catalog", "decode_source_params", "explore", "mailchimp_preview"]
