"""The XDM schemas of the catalog's datasets: each schema's field paths and types (what Data Prep maps into).

A data table of the catalog (``CatalogStore.xdm_schema``). Mapping sets name their output schema by
``$id``; the Conversion Service checks every ``destination`` against the field paths here and types
a preview's output with them. The schemas follow the XDM Individual Profile fields of Adobe's examples
(``person.name.firstName``, ``personalEmail.address``...). Tests and users add their own with
``FlowServiceEmulator.add_xdm_schema`` (or ``POST /_emulator/schemas``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

XDM_TYPES = ("string", "integer", "number", "boolean", "object", "array")

#: The examples' schema (seed 004's target connection, with the tenant ``acme``): a customer profile.
ACME_PROFILE_SCHEMA = "https://ns.adobe.com/acme/schemas/570630b91eb9d5cf5db0436756abb110d02912917a67da2d"
#: The sample schema of Adobe's mapping-set guide (tenant ``acme``).
SAMPLE_SCHEMA = "https://ns.adobe.com/acme/schemas/89abc189258b1cb1a816d8f2b2341a6d98000ed8f4008305"
#: The schema of the orders dataset of ``airflow_flowservice.testing.flows.create_table_flow``.
ORDERS_SCHEMA = "https://ns.adobe.com/acme/schemas/orders"

_PROFILE_FIELDS: dict[str, str] = {
    "_id": "string",
    "person.name.firstName": "string",
    "person.name.lastName": "string",
    "person.name.middleName": "string",
    "person.name.fullName": "string",
    "person.birthDate": "string",
    "person.birthYear": "integer",
    "person.gender": "string",
    "personalEmail.address": "string",
    "personalEmail.primary": "boolean",
    "mobilePhone.number": "string",
    "homeAddress.street1": "string",
    "homeAddress.city": "string",
    "homeAddress.postalCode": "string",
    "homeAddress.country": "string",
    "_acme.customerId": "string",
    "_acme.loyalty.tier": "string",
    "_acme.loyalty.points": "integer",
}

_SAMPLE_FIELDS: dict[str, str] = {
    "_id": "string",
    "personID": "string",
    "person.name.firstName": "string",
    "person.name.lastName": "string",
    "person.name.middleName": "string",
    "person.name.fullName": "string",
    "person.name.suffix": "string",
    "person.birthDate": "string",
    "person.birthYear": "integer",
    "person.gender": "string",
    "person.nationality": "string",
    "repositoryCreatedBy": "string",
    "repositoryLastModifiedBy": "string",
}

_ORDERS_FIELDS: dict[str, str] = {
    "_id": "string",
    "_acme.order.id": "string",
    "_acme.order.customerId": "string",
    "_acme.order.total": "number",
    "_acme.order.currency": "string",
    "_acme.order.updatedAt": "string",
}


@dataclass
class XdmSchema:
    """One XDM schema: its ``$id``, title, leaf field paths with their JSON types, and the datasets using it."""

    id: str
    title: str
    fields: dict[str, str]
    datasets: list[str] = field(default_factory=list)

    def json_schema(self) -> dict[str, Any]:
        """The schema as nested JSON-schema ``properties`` (``GET /mappingSets/{id}?expandSchema=true``)."""
        root: dict[str, Any] = {"title": self.title, "type": "object", "properties": {}, "$id": self.id}
        for path, kind in self.fields.items():
            node = root
            *parents, leaf = path.split(".")
            for part in parents:
                node = node["properties"].setdefault(part, {"type": "object", "properties": {}})
            node["properties"][leaf] = {"type": kind}
        return root


def default_schemas() -> list[XdmSchema]:
    """The schemas the emulator starts with (and returns to on reset)."""
    return [
        XdmSchema(ACME_PROFILE_SCHEMA, "ACME customer profile", dict(_PROFILE_FIELDS), ["6155e3a9bd13651949515f14"]),
        XdmSchema(SAMPLE_SCHEMA, "A sample schema", dict(_SAMPLE_FIELDS)),
        XdmSchema(ORDERS_SCHEMA, "ACME orders", dict(_ORDERS_FIELDS)),
    ]
