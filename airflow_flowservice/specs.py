"""Known connection-spec and flow-spec ids, with the typed parameters each one takes.

Ids come from the product pages (seeds 000-004). Each dataset-export destination of seed 003 has a
connection spec, a flow spec, the auth methods it accepts (and which Airflow-connection field fills
each auth param), and a pydantic model of its target-connection params, so a wrong bucket name or
path fails before any API call.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

DATA_LAKE_SOURCE_SPEC_ID = "23598e46-f560-407b-88d5-ea6207e49db0"
DATA_LAKE_TARGET_SPEC_ID = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"
MAILCHIMP_CAMPAIGN_SPEC_ID = "c8ce8c8c-37fb-4162-9fbf-c2f181e04a7a"
MAILCHIMP_FLOW_SPEC_ID = "6499120c-0b15-42dc-936e-847ea3c24d72"
CLOUD_STORAGE_TO_AEP_FLOW_SPEC_NAME = "CloudStorageToAEP"

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


_BAD_PATH = re.compile(r"(^|/)\.\.(/|$)|\\|//|[\x00-\x1f]")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")
_CONTAINER = re.compile(r"^[a-z0-9](?!.*--)[a-z0-9\-]{1,61}[a-z0-9]$")


def check_folder_path(value: str, *, field_name: str, absolute: bool = False) -> str:
    """A folder path inside the destination: ``folder/subfolder`` (SFTP: ``/folder/subfolder``)."""
    text = value.strip()
    if not text:
        raise ValueError(f"{field_name} is empty; give a folder such as 'exports/aep'")
    if _BAD_PATH.search(text):
        raise ValueError(
            f"{field_name} {value!r} is not a valid folder path: no '..' segments, backslashes, '//' or "
            "control characters"
        )
    if text.startswith("/") and not absolute:
        raise ValueError(f"{field_name} {value!r} must be relative to the bucket/container: drop the leading '/'")
    return text.rstrip("/") or "/"


class ExportTargetParams(BaseModel):
    """What every export target connection takes: a folder, a file type and a compression."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    path: str = Field(description="Folder inside the bucket/container, e.g. 'exports/aep'.")
    file_type: ExportFileType = ExportFileType.JSON
    compression: ExportCompression = ExportCompression.NONE

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        return check_folder_path(value, field_name="path")

    def to_params(self) -> dict[str, Any]:
        """The ``params`` of the target-connection body (seed 003)."""
        return {
            "mode": "Server-to-server",
            "path": self.path,
            "compression": self.compression.value,
            "datasetFileType": self.file_type.value,
        }


class BucketTargetParams(ExportTargetParams):
    """Amazon S3 / Google Cloud Storage: ``bucket_name`` plus a folder."""

    bucket_name: str = Field(description="Bucket name, e.g. 'my-aep-exports'.")

    @field_validator("bucket_name")
    @classmethod
    def _bucket(cls, value: str) -> str:
        if not _BUCKET.match(value):
            raise ValueError(
                f"bucket_name {value!r} is not a valid bucket name: 3-63 lower-case letters, digits, '.' or '-', "
                "starting and ending with a letter or digit"
            )
        return value

    def to_params(self) -> dict[str, Any]:
        return {**super().to_params(), "bucketName": self.bucket_name}


class ContainerTargetParams(ExportTargetParams):
    """Azure Blob Storage: ``container`` plus a folder."""

    container: str = Field(description="Blob container name, e.g. 'aep-exports'.")

    @field_validator("container")
    @classmethod
    def _container(cls, value: str) -> str:
        if not _CONTAINER.match(value):
            raise ValueError(
                f"container {value!r} is not a valid Azure container name: 3-63 lower-case letters, digits and "
                "single '-'"
            )
        return value

    def to_params(self) -> dict[str, Any]:
        return {**super().to_params(), "container": self.container}


class SftpTargetParams(ExportTargetParams):
    """SFTP: the remote folder (sent as ``remotePath``); may be absolute."""

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        return check_folder_path(value, field_name="path", absolute=True)

    def to_params(self) -> dict[str, Any]:
        params = super().to_params()
        params["remotePath"] = params.pop("path")
        return params


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
    """A dataset-export destination of seed 003."""

    key: str
    name: str
    connection_spec_id: str
    flow_spec_id: str
    target_params: type[ExportTargetParams]
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
            target_params=BucketTargetParams,
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
            target_params=ContainerTargetParams,
            auth_methods=(
                AuthMethod("ConnectionString", {"connectionString": "password"}, frozenset({"connectionString"})),
            ),
        ),
        DestinationSpec(
            key="adls_gen2",
            name="Azure Data Lake Gen 2 (ADLS Gen2)",
            connection_spec_id="be2c3209-53bc-47e7-ab25-145db8b873e1",
            flow_spec_id="17be2013-2549-41ce-96e7-a70363bec293",
            target_params=ExportTargetParams,
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
            target_params=ExportTargetParams,
        ),
        DestinationSpec(
            key="google_cloud_storage",
            name="Google Cloud Storage",
            connection_spec_id="c5d93acb-ea8b-4b14-8f53-02138444ae99",
            flow_spec_id="585c15c4-6cbf-4126-8f87-e26bff78b657",
            target_params=BucketTargetParams,
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
            target_params=SftpTargetParams,
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


class ExportSchedule(BaseModel):
    """``scheduleParams`` of a dataset-export flow (seed 003): ``timeUnit`` hour or day, not ``frequency``.

    Every 3, 6, 9, 12 or 24 hours (``time_unit="hour"``), or daily (``time_unit="day"``, interval 1),
    from ``start_time`` (epoch seconds, an aware datetime or an ISO 8601 string). Without
    ``start_time`` the schedule starts when it is validated, i.e. when the task runs: Adobe's export
    flow requires a ``startTime`` ("UNIX timestamp start time (in seconds)", dataset export API
    tutorial), and "from now on, every 3 hours" is what a schedule without one means.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    time_unit: Literal["hour", "day"] = "hour"
    interval: int = 3
    start_time: int = Field(default_factory=lambda: int(time.time()))

    @field_validator("start_time", mode="before")
    @classmethod
    def _seconds(cls, value: Any) -> int:
        from airflow_flowservice.params import to_epoch_seconds

        return to_epoch_seconds(value)

    @field_validator("interval")
    @classmethod
    def _interval(cls, value: int, info: ValidationInfo) -> int:
        if "time_unit" not in info.data:  # time_unit itself was refused: its error says it all
            return value
        unit = info.data["time_unit"]
        if unit == "hour" and value not in EXPORT_HOUR_INTERVALS:
            allowed = ", ".join(str(i) for i in EXPORT_HOUR_INTERVALS)
            raise ValueError(f"{value} is not an export interval; with time_unit 'hour' use one of {allowed}")
        if unit == "day" and value != 1:
            raise ValueError(f"{value} is not allowed with time_unit 'day': daily exports use interval 1")
        return value

    def to_api(self) -> dict[str, Any]:
        """The flow's ``scheduleParams`` body."""
        return {"timeUnit": self.time_unit, "interval": self.interval, "startTime": self.start_time}
