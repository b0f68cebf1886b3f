"""Known connection-spec and flow-spec ids, and the dataset-export destinations (light: no pydantic).

The ids are those of Adobe's documentation: the Flow Service API guides
(https://experienceleague.adobe.com/en/docs/experience-platform/sources/api-tutorials/create-dataflows/overview)
and the dataset-export guide
(https://experienceleague.adobe.com/en/docs/experience-platform/destinations/api/export-datasets).
Each export destination has a connection spec, a flow spec, the auth methods it accepts (and which
Airflow-connection field fills each auth param), and the kind of target params it takes (the
pydantic models are in :mod:`airflow_flowservice.inputs`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Literal

DATA_LAKE_SOURCE_SPEC_ID = "23598e46-f560-407b-88d5-ea6207e49db0"
DATA_LAKE_TARGET_SPEC_ID = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"
MAILCHIMP_CAMPAIGN_SPEC_ID = "c8ce8c8c-37fb-4162-9fbf-c2f181e04a7a"
MAILCHIMP_FLOW_SPEC_ID = "6499120c-0b15-42dc-936e-847ea3c24d72"
CLOUD_STORAGE_TO_AEP_FLOW_SPEC_NAME = "CloudStorageToAEP"
AMAZON_S3_SOURCE_SPEC_ID = "ecadc60c-7455-4d87-84dc-2a0e293d997b"
GOOGLE_BIGQUERY_SPEC_ID = "3c9b37f8-13a6-43d8-bad3-b863b941fedd"
CRM_TO_AEP_FLOW_SPEC_ID = "14518937-270c-4525-bdec-c2ba7cce3860"

# Seed 003: export schedules run every 3, 6, 9, 12 or 24 hours, or daily (interval 1).
EXPORT_HOUR_INTERVALS = (3, 6, 9, 12, 24)


class ExportFileType(str, Enum):
    """``datasetFileType`` of an export."""

    JSON = "JSON"
    PARQUET = "PARQUET"


class ExportCompression(str, Enum):
    """``compression`` of exported files."""

    NONE = "NONE"
    GZIP = "GZIP"


BUCKET_NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")
CONTAINER_NAME_PATTERN = re.compile(r"^[a-z0-9](?!.*--)[a-z0-9\-]{1,61}[a-z0-9]$")

TargetParamsKind = Literal["folder", "bucket", "container", "sftp"]
"""Which target params a destination takes: a folder only, a bucket, a blob container, or an SFTP path."""

ConnField = Literal["login", "password", "host"] | str
"""Where an auth param comes from in an Airflow connection: ``login``, ``password``, ``host`` or
``extra.<key>``."""


@dataclass(frozen=True)
class AuthMethod:
    """One auth spec (``specName``) of a connection spec, and where each of its params comes from."""

    spec_name: str
    params_from: dict[str, ConnField]
    secret_params: frozenset[str] = frozenset()


@dataclass(frozen=True)
class DestinationSpec:
    """A cloud-storage destination of dataset exports."""

    key: str
    name: str
    connection_spec_id: str
    flow_spec_id: str
    target_params: TargetParamsKind
    auth_methods: tuple[AuthMethod, ...] = field(default=())

    def auth_method(self, spec_name: str | None) -> AuthMethod | None:
        """The named auth method (the first one when ``spec_name`` is None); None for no-auth (DLZ)."""
        if not self.auth_methods:
            return None
        if spec_name is None:
            return self.auth_methods[0]
        for method in self.auth_methods:
            if method.spec_name == spec_name:
                return method
        names = ", ".join(repr(m.spec_name) for m in self.auth_methods)
        raise ValueError(f"auth_spec_name {spec_name!r} is not an auth method of {self.name}; use one of {names}")


DESTINATIONS: dict[str, DestinationSpec] = {
    spec.key: spec
    for spec in (
        DestinationSpec(
            key="amazon_s3",
            name="Amazon S3",
            connection_spec_id="4fce964d-3f37-408f-9778-e597338a21ee",
            flow_spec_id="269ba276-16fc-47db-92b0-c1049a3c131f",
            target_params="bucket",
            auth_methods=(
                AuthMethod(
                    "Access Key",
                    {"s3AccessKey": "login", "s3SecretKey": "password"},
                    frozenset({"s3SecretKey"}),
                ),
            ),
        ),
        DestinationSpec(
            key="azure_blob",
            name="Azure Blob Storage",
            connection_spec_id="6d6b59bf-fb58-4107-9064-4d246c0e5bb2",
            flow_spec_id="95bd8965-fc8a-4119-b9c3-944c2c2df6d2",
            target_params="container",
            auth_methods=(
                AuthMethod("ConnectionString", {"connectionString": "password"}, frozenset({"connectionString"})),
            ),
        ),
        DestinationSpec(
            key="adls_gen2",
            name="Azure Data Lake Gen 2 (ADLS Gen2)",
            connection_spec_id="be2c3209-53bc-47e7-ab25-145db8b873e1",
            flow_spec_id="17be2013-2549-41ce-96e7-a70363bec293",
            target_params="folder",
            auth_methods=(
                AuthMethod(
                    "Azure Service Principal Auth",
                    {
                        "servicePrincipalId": "login",
                        "servicePrincipalKey": "password",
                        "url": "extra.url",
                        "tenant": "extra.tenant",
                    },
                    frozenset({"servicePrincipalKey"}),
                ),
            ),
        ),
        DestinationSpec(
            key="data_landing_zone",
            name="Data Landing Zone (DLZ)",
            connection_spec_id="10440537-2a7b-4583-ac39-ed38d4b848e8",
            flow_spec_id="cd2fc47e-e838-4f38-a581-8fff2f99b63a",
            target_params="folder",
        ),
        DestinationSpec(
            key="google_cloud_storage",
            name="Google Cloud Storage",
            connection_spec_id="c5d93acb-ea8b-4b14-8f53-02138444ae99",
            flow_spec_id="585c15c4-6cbf-4126-8f87-e26bff78b657",
            target_params="bucket",
            auth_methods=(
                AuthMethod(
                    "Google Cloud Storage authentication credentials",
                    {"accessKeyId": "login", "secretAccessKey": "password"},
                    frozenset({"secretAccessKey"}),
                ),
            ),
        ),
        DestinationSpec(
            key="sftp",
            name="SFTP",
            connection_spec_id="36965a81-b1c6-401b-99f8-22508f1e6a26",
            flow_spec_id="354d6aad-4754-46e4-a576-1b384561c440",
            target_params="sftp",
            auth_methods=(
                AuthMethod(
                    "SFTP with Password",
                    {"domain": "host", "username": "login", "password": "password"},
                    frozenset({"password"}),
                ),
                AuthMethod(
                    "SFTP with SSH Key",
                    {"domain": "host", "username": "login", "sshKey": "extra.ssh_key"},
                    frozenset({"sshKey"}),
                ),
            ),
        ),
    )
}


#: The flow specs of dataset exports: Adobe I/O Events publishes no flow-run notifications for their runs
#: (its "Platform notifications" provider has the runs of source dataflows).
EXPORT_FLOW_SPEC_IDS = frozenset(spec.flow_spec_id for spec in DESTINATIONS.values())


def get_destination(key: str) -> DestinationSpec:
    """Look a destination up by key; the error lists the known keys."""
    try:
        return DESTINATIONS[key]
    except KeyError:
        known = ", ".join(sorted(DESTINATIONS))
        raise ValueError(f"destination {key!r} is not a known export destination; use one of: {known}") from None


MAILCHIMP_AUTH_METHODS = (
    AuthMethod(
        "Basic Authentication",
        {"authorizationTestUrl": "host", "username": "login", "password": "password"},
        frozenset({"password"}),
    ),
    AuthMethod("oAuth2RefreshCode", {"accessToken": "password"}, frozenset({"accessToken"})),
)


# -- Data Prep (mapping sets) ---------------------------------------------------------------------------

MAPPING_TRANSFORMATION = "Mapping"
"""The flow transformation that points a source flow at a mapping set (``transformationSpecs[].name``)."""

DEFAULT_SCHEMA_CONTENT_TYPE = "application/vnd.adobe.xed-full+json;version=1"
"""``outputSchema.schemaRef.contentType`` of a mapping set, as Adobe's mapping-set guide sends it."""


def flow_specs_without_mapping() -> dict[str, str]:
    """Flow spec id -> name, for the flow specs known (without reading them) to list no ``Mapping``
    transformation: the dataset-export flow specs (they map nothing into a dataset)."""
    return {d.flow_spec_id: f"{d.name} dataset export" for d in DESTINATIONS.values()}


#: Sources whose dataflows take no mapping: seed 004 (Mailchimp Campaign) says Data Prep does not support it.
DATA_PREP_UNSUPPORTED_SOURCES: dict[str, str] = {MAILCHIMP_CAMPAIGN_SPEC_ID: "Mailchimp Campaign"}


def is_destination_flow(flow: Any) -> bool:
    """Whether a flow (:class:`~airflow_flowservice.models.Flow`) is a destination dataflow (exports data).

    Flow Service marks destination dataflows with ``inheritedAttributes.properties.isDestinationFlow``
    (Adobe's destinations API reference); a flow without the mark is one if its flow spec is a dataset
    export's.
    """
    inherited = getattr(flow, "inherited_attributes", None) or {}
    properties = inherited.get("properties") if isinstance(inherited, dict) else None
    if isinstance(properties, dict) and "isDestinationFlow" in properties:
        return properties["isDestinationFlow"] is True
    spec = getattr(flow, "flow_spec", None)
    return getattr(spec, "id", None) in EXPORT_FLOW_SPEC_IDS
