"""The catalog's data tables: connection specs, flow specs (the real ids of Adobe's documentation) and datasets.

Everything here is plain JSON-ready data, read through :class:`.catalog.CatalogStore`. Keys starting
with ``_`` are emulator-private and are stripped before a spec is returned by the API.

Connection specs
  - be5ec48c-... Azure File Storage (source, drafts supported; verbatim from Adobe's drafts guide)
  - ecadc60c-... Amazon S3 (source, drafts supported; listed by CloudStorageToAEP in Adobe's drafts guide)
  - 23598e46-... Data Lake source for dataset export (Adobe's dataset-export guide; ``activationDatasets`` configs)
  - c604ff05-... Data Lake target (Adobe's drafts and Mailchimp guides)
  - 4fce964d / 6d6b59bf / be2c3209 / 10440537 / c5d93acb / 36965a81: the six dataset-export
    destinations of Adobe's dataset-export guide (Amazon S3, Azure Blob, ADLS Gen2, Data Landing Zone, GCS, SFTP)
  - c8ce8c8c-... Mailchimp Campaign (source, Adobe's Mailchimp source guide; Basic Authentication and oAuth2RefreshCode)
  - 3c9b37f8-... Google BigQuery (table-based database source, used with CRMToAEP; its runs
    need a ``deltaColumn``)
Flow specs
  - 9753525b-... CloudStorageToAEP (verbatim from Adobe's drafts guide)
  - 6499120c-... RestStorageToAEP (Mailchimp, Adobe's Mailchimp source guide)
  - 14518937-... CRMToAEP (table-based sources)
  - the six dataset-export flow specs of Adobe's dataset-export guide
"""

from __future__ import annotations

import copy
from typing import Any

JSON_SCHEMA = "http://json-schema.org/draft-07/schema#"
SOURCES_PROVIDER_ID = "0ed90a81-07f4-4586-8190-b40eccef1c5a"
DESTINATIONS_PROVIDER_ID = "14e34fac-d307-11e9-bb65-2a2ae2dbcce4"

AZURE_FILE_STORAGE = "be5ec48c-5b78-49d5-b8fa-7c89ec4569b8"
AMAZON_S3_SOURCE = "ecadc60c-7455-4d87-84dc-2a0e293d997b"
DATA_LAKE_SOURCE = "23598e46-f560-407b-88d5-ea6207e49db0"
DATA_LAKE_TARGET = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"
MAILCHIMP_CAMPAIGN = "c8ce8c8c-37fb-4162-9fbf-c2f181e04a7a"
GOOGLE_BIGQUERY = "3c9b37f8-13a6-43d8-bad3-b863b941fedd"

S3_DESTINATION = "4fce964d-3f37-408f-9778-e597338a21ee"
AZURE_BLOB_DESTINATION = "6d6b59bf-fb58-4107-9064-4d246c0e5bb2"
ADLS_GEN2_DESTINATION = "be2c3209-53bc-47e7-ab25-145db8b873e1"
DLZ_DESTINATION = "10440537-2a7b-4583-ac39-ed38d4b848e8"
GCS_DESTINATION = "c5d93acb-ea8b-4b14-8f53-02138444ae99"
SFTP_DESTINATION = "36965a81-b1c6-401b-99f8-22508f1e6a26"

CLOUD_STORAGE_TO_AEP = "9753525b-82c7-4dce-8a9b-5ccfce2b9876"
REST_STORAGE_TO_AEP = "6499120c-0b15-42dc-936e-847ea3c24d72"
CRM_TO_AEP = "14518937-270c-4525-bdec-c2ba7cce3860"

S3_EXPORT_FLOW = "269ba276-16fc-47db-92b0-c1049a3c131f"
AZURE_BLOB_EXPORT_FLOW = "95bd8965-fc8a-4119-b9c3-944c2c2df6d2"
ADLS_GEN2_EXPORT_FLOW = "17be2013-2549-41ce-96e7-a70363bec293"
DLZ_EXPORT_FLOW = "cd2fc47e-e838-4f38-a581-8fff2f99b63a"
GCS_EXPORT_FLOW = "585c15c4-6cbf-4126-8f87-e26bff78b657"
SFTP_EXPORT_FLOW = "354d6aad-4754-46e4-a576-1b384561c440"

#: Destination connection spec id -> dataset-export flow spec id (Adobe's dataset-export guide table).
DATASET_EXPORT_FLOW_SPECS: dict[str, str] = {
    S3_DESTINATION: S3_EXPORT_FLOW,
    AZURE_BLOB_DESTINATION: AZURE_BLOB_EXPORT_FLOW,
    ADLS_GEN2_DESTINATION: ADLS_GEN2_EXPORT_FLOW,
    DLZ_DESTINATION: DLZ_EXPORT_FLOW,
    GCS_DESTINATION: GCS_EXPORT_FLOW,
    SFTP_DESTINATION: SFTP_EXPORT_FLOW,
}

_PERMISSIONS_SOURCE = {
    "manage": [{"@type": "lowLevel", "name": "EnterpriseSource", "permissions": ["write"]}],
    "view": [{"@type": "lowLevel", "name": "EnterpriseSource", "permissions": ["read"]}],
}
_PERMISSIONS_DESTINATION = {
    "manage": [{"@type": "lowLevel", "name": "ManageDestinations", "permissions": ["write"]}],
    "view": [{"@type": "lowLevel", "name": "ViewDestinations", "permissions": ["read"]}],
}


def _auth(name: str, type_: str, description: str, props: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "name": name,
        "type": type_,
        "spec": {
            "$schema": JSON_SCHEMA,
            "type": "object",
            "description": description,
            "properties": props,
            "required": required,
        },
    }


def _str(description: str, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "description": description, **extra}


_FILE_EXPLORE_SPEC: dict[str, Any] = {
    "name": "FileSystem",
    "type": "FileSystem",
    "requestSpec": {
        "$schema": JSON_SCHEMA,
        "type": "object",
        "description": "defines explorable objects",
        "properties": {"objectType": {"type": "string", "enum": ["file", "folder", "root"]}},
        "allOf": [
            {
                "if": {"properties": {"objectType": {"enum": ["file"]}}},
                "then": {
                    "properties": {
                        "object": {
                            "type": "string",
                            "description": "defines file to get schema or preview of.",
                        },
                        "fileType": {"type": "string", "enum": ["delimited"]},
                        "preview": {"type": "boolean"},
                    },
                    "required": ["object", "fileType"],
                },
            },
            {
                "if": {"properties": {"objectType": {"enum": ["folder"]}}},
                "then": {"properties": {"object": {"type": "string"}}, "required": ["object"]},
            },
        ],
    },
    "responseSpec": {
        "root": {
            "$schema": JSON_SCHEMA,
            "type": "array",
            "description": "lists tables/items under the database/container requested.",
            "items": {
                "type": "object",
                "properties": {
                    "type": {"type": "string", "description": "defines type of an item."},
                    "name": {"type": "string", "description": "defines display name of an item."},
                    "path": {"type": "string", "description": "defines path of an item."},
                    "canPreview": {
                        "type": "boolean",
                        "default": False,
                        "description": "defines whether an item is previewable or not.",
                    },
                    "canFetchSchema": {
                        "type": "boolean",
                        "default": False,
                        "description": "defines whether schema can be fetched for an item or not.",
                    },
                },
            },
        },
        "folder": {
            "$schema": JSON_SCHEMA,
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "type": {"type": "string"},
                    "name": {"type": "string"},
                    "path": {"type": "string"},
                    "canPreview": {"type": "boolean", "default": False},
                    "canFetchSchema": {"type": "boolean", "default": False},
                },
            },
        },
        "file": {
            "delimited": {
                "$schema": JSON_SCHEMA,
                "type": "object",
                "properties": {
                    "format": {"type": "string"},
                    "schema": {
                        "type": "object",
                        "properties": {
                            "columns": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "properties": {"name": {"type": "string"}, "type": {"type": "string"}},
                                },
                            }
                        },
                    },
                    "data": {"type": "array", "items": {"type": "object"}},
                },
            }
        },
    },
}

_CLOUD_STORAGE_SOURCE_SPEC_PROPS: dict[str, Any] = {
    "path": {
        "type": "string",
        "description": "input path for copying files, can be a folder path, file path or a wildcard pattern",
    },
    "recursive": {
        "type": "boolean",
        "description": "indicates recursive copy in case of folder or wild card path, default is false",
    },
}


def _cloud_source_spec(doc_key: str, icon: str) -> dict[str, Any]:
    return {
        "name": "CloudStorage",
        "type": "CloudStorage",
        "spec": {
            "$schema": JSON_SCHEMA,
            "type": "object",
            "properties": copy.deepcopy(_CLOUD_STORAGE_SOURCE_SPEC_PROPS),
            "required": ["path"],
        },
        "attributes": {
            "uiAttributes": {
                "documentationLink": f"http://www.adobe.com/go/sources-{doc_key}-en",
                "isSource": True,
                "category": {"key": "cloudStorage"},
                "icon": {"key": icon},
                "description": {"key": f"{icon}Description"},
                "label": {"key": f"{icon}Label"},
            }
        },
    }


AZURE_FILE_STORAGE_SPEC: dict[str, Any] = {
    "id": AZURE_FILE_STORAGE,
    "name": "azure-file-storage",
    "providerId": SOURCES_PROVIDER_ID,
    "version": "1.0",
    "authSpec": [
        _auth(
            "Basic Authentication",
            "basicAuthentication",
            "defines auth params",
            {
                "host": _str("Specifies the Azure File Storage endpoint."),
                "userid": _str("Specify the user to access the Azure File Storage."),
                "password": _str("Specify the storage access key", format="password"),
            },
            ["host", "userid", "password"],
        )
    ],
    "sourceSpec": _cloud_source_spec("azure-file-storage", "azureFileStorage"),
    "exploreSpec": copy.deepcopy(_FILE_EXPLORE_SPEC),
    "attributes": {
        "category": "Cloud Storage",
        "connectorName": "Azure File Storage",
        "isSource": True,
        "isDraftModeSupported": True,
        "uiAttributes": {"apiFeatures": {"explorePaginationSupported": False}},
    },
    "permissionsInfo": copy.deepcopy(_PERMISSIONS_SOURCE),
}

AMAZON_S3_SOURCE_SPEC: dict[str, Any] = {
    "id": AMAZON_S3_SOURCE,
    "name": "amazon-s3",
    "providerId": SOURCES_PROVIDER_ID,
    "version": "1.0",
    "authSpec": [
        _auth(
            "Access Key",
            "KeyBased",
            "defines auth params required for connecting to amazon-s3",
            {
                "s3AccessKey": _str("Access key id"),
                "s3SecretKey": _str("Secret access key for the user account", format="password"),
                "serviceUrl": _str("The endpoint of the S3 service (optional)."),
                "s3SessionToken": _str("Session token (optional).", format="password"),
            },
            ["s3AccessKey", "s3SecretKey"],
        ),
        _auth(
            "Assume Role",
            "RoleBased",
            "defines auth params required for connecting to amazon-s3 with an IAM role",
            {"roleArn": _str("The ARN of the role to assume.")},
            ["roleArn"],
        ),
    ],
    "sourceSpec": _cloud_source_spec("amazon-s3", "amazonS3"),
    "exploreSpec": copy.deepcopy(_FILE_EXPLORE_SPEC),
    "attributes": {
        "category": "Cloud Storage",
        "connectorName": "Amazon S3",
        "isSource": True,
        "isDraftModeSupported": True,
        "uiAttributes": {"apiFeatures": {"explorePaginationSupported": False}},
    },
    "permissionsInfo": copy.deepcopy(_PERMISSIONS_SOURCE),
}

DATA_LAKE_SOURCE_SPEC: dict[str, Any] = {
    "id": DATA_LAKE_SOURCE,
    "name": "Data Lake",
    "providerId": DESTINATIONS_PROVIDER_ID,
    "version": "1.0",
    "authSpec": [],
    "sourceSpec": {
        "name": "Data Lake datasets",
        "type": "DataLake",
        "spec": {
            "$schema": JSON_SCHEMA,
            "type": "object",
            "properties": {
                "datasets": {
                    "type": "array",
                    "description": "datasets to activate",
                    "items": {
                        "type": "object",
                        "properties": {"dataSetId": {"type": "string"}, "name": {"type": "string"}},
                        "required": ["dataSetId"],
                    },
                }
            },
            "required": ["datasets"],
        },
    },
    "attributes": {
        "category": "Data Lake",
        "connectorName": "Data Lake",
        "isSource": True,
        "isDraftModeSupported": False,
        "configs": {"outputTypes": ["activationDatasets"], "outputFields": ["datasets"]},
    },
    "permissionsInfo": copy.deepcopy(_PERMISSIONS_DESTINATION),
    "_requiresBaseConnection": False,
}

DATA_LAKE_TARGET_SPEC: dict[str, Any] = {
    "id": DATA_LAKE_TARGET,
    "name": "Data Lake",
    "providerId": SOURCES_PROVIDER_ID,
    "version": "1.0",
    "authSpec": [],
    "targetSpec": {
        "name": "Data Lake",
        "type": "DataLake",
        "spec": {
            "$schema": JSON_SCHEMA,
            "type": "object",
            "properties": {"dataSetId": {"type": "string", "description": "The id of the target dataset."}},
            "required": ["dataSetId"],
        },
        "attributes": {"uiAttributes": {"isDestination": True, "category": "dataLake", "label": "Data Lake"}},
    },
    "attributes": {
        "category": "Data Lake",
        "connectorName": "Data Lake",
        "isDestination": True,
        "isDraftModeSupported": True,
    },
    "permissionsInfo": copy.deepcopy(_PERMISSIONS_SOURCE),
    "_requiresBaseConnection": False,
}

# --- Dataset-export destinations (Adobe's dataset-export guide) ------------------------------------------------------

_DATASET_CONDITION = {"field": "flowSpec.attributes._workflow", "operator": "CONTAINS", "value": "DATASETS"}
_NOT_DATASET_CONDITION = {
    "field": "flowSpec.attributes._workflow",
    "operator": "NOT_CONTAINS",
    "value": "DATASETS",
}


def _export_target_props(location_props: dict[str, Any], compression: list[str]) -> dict[str, Any]:
    props = dict(location_props)
    props["fileType"] = {
        "conditional": dict(_NOT_DATASET_CONDITION),
        "title": "File Type",
        "description": "Select file format (not applicable to dataset destinations)",
        "type": "string",
        "enum": ["CSV", "JSON", "PARQUET"],
    }
    props["datasetFileType"] = {
        "conditional": dict(_DATASET_CONDITION),
        "title": "File Type",
        "description": "Select file format",
        "type": "string",
        "enum": ["JSON", "PARQUET"],
    }
    props["csvOptions"] = {
        "conditional": dict(_NOT_DATASET_CONDITION),
        "title": "CSV Options",
        "description": "Select CSV options (not applicable to dataset destinations)",
        "type": "object",
    }
    props["compression"] = {
        "title": "Compression format",
        "description": "Select the desired file compression format.",
        "type": "string",
        "enum": compression,
    }
    return props


def _destination_spec(
    spec_id: str,
    name: str,
    auth: list[dict[str, Any]],
    location_props: dict[str, Any],
    location_required: list[str],
    compression: list[str] | None = None,
) -> dict[str, Any]:
    return {
        "id": spec_id,
        "name": name,
        "providerId": DESTINATIONS_PROVIDER_ID,
        "version": "1.0",
        "authSpec": auth,
        "encryptionSpecs": [],
        "targetSpec": {
            "name": "User based target",
            "type": "UserNamespace",
            "spec": {
                "$schema": JSON_SCHEMA,
                "type": "object",
                "properties": _export_target_props(location_props, compression or ["NONE", "GZIP"]),
                "required": [*location_required, "datasetFileType", "compression", "fileType"],
            },
        },
        "attributes": {
            "category": "Cloud Storage",
            "connectorName": name,
            "isDestination": True,
            "isDraftModeSupported": False,
        },
        "permissionsInfo": copy.deepcopy(_PERMISSIONS_DESTINATION),
    }


_S3_PATH_PATTERN = "^[0-9a-zA-Z\\/\\!\\-_\\.\\*\\''\\(\\)]*((\\%SEGMENT_(NAME|ID)\\%)?\\/?)+$"

S3_DESTINATION_SPEC = _destination_spec(
    S3_DESTINATION,
    "Amazon S3",
    [
        _auth(
            "Access Key",
            "KeyBased",
            "Defines auth params required for connecting to amazon-s3",
            {
                "s3AccessKey": {
                    "description": "Access key id",
                    "type": "string",
                    "pattern": "^[A-Z2-7]{20}$",
                },
                "s3SecretKey": {
                    "description": "Secret access key for the user account",
                    "type": "string",
                    "format": "password",
                    "pattern": "^[A-Za-z0-9\\/\\+]{40}$",
                },
            },
            ["s3SecretKey", "s3AccessKey"],
        )
    ],
    {
        "bucketName": {"title": "Bucket name", "description": "Bucket name", "type": "string"},
        "path": {
            "title": "Folder path",
            "description": "Output path for copying files",
            "type": "string",
            "pattern": _S3_PATH_PATTERN,
        },
    },
    ["bucketName", "path"],
)

AZURE_BLOB_DESTINATION_SPEC = _destination_spec(
    AZURE_BLOB_DESTINATION,
    "Azure Blob Storage",
    [
        _auth(
            "ConnectionString",
            "ConnectionString",
            "Connection String for Azure Blob based destinations",
            {
                "connectionString": {
                    "description": "connection string for login",
                    "type": "string",
                    "format": "password",
                }
            },
            ["connectionString"],
        )
    ],
    {
        "path": {
            "title": "Folder path",
            "description": "Output path (relative) indicating where to upload the data",
            "type": "string",
        },
        "container": {
            "title": "Container",
            "description": "Container within the storage where to upload the data",
            "type": "string",
        },
    },
    ["container", "path"],
)

ADLS_GEN2_DESTINATION_SPEC = _destination_spec(
    ADLS_GEN2_DESTINATION,
    "Azure Data Lake Gen2",
    [
        _auth(
            "Azure Service Principal Auth",
            "AzureServicePrincipal",
            "defines auth params required for connecting to ADLSGen2 using service principal",
            {
                "url": {"description": "Endpoint for Azure Data Lake Storage Gen2.", "type": "string"},
                "servicePrincipalId": {
                    "description": "Service Principal Id to connect to ADLSGen2.",
                    "type": "string",
                },
                "servicePrincipalKey": {
                    "description": "Service Principal Key to connect to ADLSGen2.",
                    "type": "string",
                    "format": "password",
                },
                "tenant": {"description": "Tenant information(domain name or tenant ID).", "type": "string"},
            },
            ["servicePrincipalKey", "url", "tenant", "servicePrincipalId"],
        )
    ],
    {
        "path": {
            "title": "Folder path",
            "description": "Enter the path to your Azure Data Lake Storage folder",
            "type": "string",
        }
    },
    ["path"],
)

DLZ_DESTINATION_SPEC = _destination_spec(
    DLZ_DESTINATION,
    "Data Landing Zone",
    [],
    {
        "path": {
            "title": "Folder path",
            "description": "Enter the path to your Azure Data Lake Storage folder",
            "type": "string",
        }
    },
    ["path"],
)

GCS_DESTINATION_SPEC = _destination_spec(
    GCS_DESTINATION,
    "Google Cloud Storage",
    [
        _auth(
            "Google Cloud Storage authentication credentials",
            "GoogleCloudStorageAuth",
            "defines auth params required for connecting to google cloud storage connector.",
            {
                "accessKeyId": {"description": "Access Key Id for the user account", "type": "string"},
                "secretAccessKey": {
                    "description": "Secret Access Key for the user account",
                    "type": "string",
                    "format": "password",
                },
            },
            ["accessKeyId", "secretAccessKey"],
        )
    ],
    {
        "bucketName": {"title": "Bucket name", "description": "Bucket name", "type": "string"},
        "path": {
            "title": "Folder path",
            "description": "Output path for copying files",
            "type": "string",
            "pattern": _S3_PATH_PATTERN,
        },
    },
    ["bucketName", "path"],
)

SFTP_DESTINATION_SPEC = _destination_spec(
    SFTP_DESTINATION,
    "SFTP",
    [
        _auth(
            "SFTP with Password",
            "SFTP",
            "defines auth params required for connecting to sftp locations with a password",
            {
                "domain": {"description": "Domain of server", "type": "string"},
                "username": {"description": "Username", "type": "string"},
                "password": {"description": "Password", "type": "string", "format": "password"},
            },
            ["password", "domain", "username"],
        ),
        _auth(
            "SFTP with SSH Key",
            "SFTP",
            "defines auth params required for connecting to sftp locations using SSH Key",
            {
                "domain": {"description": "Domain of server", "type": "string"},
                "username": {"description": "Username", "type": "string"},
                "sshKey": {
                    "description": "Base64 string of the private SSH key",
                    "type": "string",
                    "format": "password",
                    "contentEncoding": "base64",
                },
            },
            ["sshKey", "domain", "username"],
        ),
    ],
    {"remotePath": {"title": "Folder path", "description": "Enter your folder path", "type": "string"}},
    ["remotePath"],
    compression=["GZIP", "NONE"],
)

# --- Mailchimp Campaign (Adobe's Mailchimp source guide) ---------------------------------------

MAILCHIMP_CAMPAIGN_SPEC: dict[str, Any] = {
    "id": MAILCHIMP_CAMPAIGN,
    "name": "Mailchimp Campaign",
    "providerId": SOURCES_PROVIDER_ID,
    "version": "1.0",
    "authSpec": [
        _auth(
            "Basic Authentication",
            "BasicAuthentication",
            "defines auth params required for connecting to rest service.",
            {
                "authorizationTestUrl": _str("Authorization test url to validate the credentials (optional)."),
                "username": _str("Username to connect mailchimp endpoint."),
                "password": _str("Password to connect mailchimp endpoint.", format="password"),
            },
            ["username", "password"],
        ),
        _auth(
            "oAuth2RefreshCode",
            "OAuth2RefreshCode",
            "defines auth params required for connecting to rest service.",
            {
                "authorizationTestUrl": _str("Authorization test url to validate the accessToken (optional)."),
                "accessToken": _str("Access Token of mailchimp endpoint.", format="password"),
            },
            ["accessToken"],
        ),
    ],
    "sourceSpec": {
        "name": "Mailchimp Campaign",
        "type": "Rest",
        "spec": {
            "$schema": JSON_SCHEMA,
            "type": "object",
            "description": "defines static and user input parameters to fetch resource values.",
            "properties": {
                "campaignId": {
                    "type": "string",
                    "description": "The campaign id for which you want to fetch the email activity.",
                }
            },
            "required": ["campaignId"],
        },
        "attributes": {
            "uiAttributes": {
                "isSource": True,
                "isPreview": True,
                "isBeta": False,
                "category": {"key": "marketingAutomation"},
                "icon": {"key": "mailchimpCampaign"},
                "description": {"key": "mailchimpCampaignDescription"},
                "label": {"key": "mailchimpCampaignLabel"},
            }
        },
    },
    "exploreSpec": {
        "name": "Resource",
        "type": "Resource",
        "requestSpec": {
            "$schema": JSON_SCHEMA,
            "type": "object",
            "properties": {
                "objectType": {"type": "string", "enum": ["rest"]},
                "object": {"type": "string"},
                "fileType": {"type": "string", "enum": ["json"]},
                "preview": {"type": "boolean"},
                "sourceParams": {"type": "string", "description": "base64 encoded JSON of the source params"},
            },
            "required": ["objectType"],
        },
        "responseSpec": {
            "rest": {
                "$schema": JSON_SCHEMA,
                "type": "object",
                "properties": {
                    "format": {"type": "string"},
                    "schema": {"type": "object"},
                    "data": {"type": "array"},
                },
            }
        },
    },
    "attributes": {
        "category": "Marketing Automation",
        "connectorName": "Mailchimp Campaign",
        "isSource": True,
        "isDraftModeSupported": False,
        "uiAttributes": {"apiFeatures": {"explorePaginationSupported": False}},
    },
    "permissionsInfo": copy.deepcopy(_PERMISSIONS_SOURCE),
}

# --- Google BigQuery (table-based source) ---------------------------------------------------------

GOOGLE_BIGQUERY_SPEC: dict[str, Any] = {
    "id": GOOGLE_BIGQUERY,
    "name": "google-big-query",
    "providerId": SOURCES_PROVIDER_ID,
    "version": "1.0",
    "authSpec": [
        _auth(
            "Basic Authentication",
            "OAuth2RefreshToken",
            "defines auth params required for connecting to Google BigQuery",
            {
                "project": _str("The project id of the default BigQuery project."),
                "clientId": _str("ID value used to generate the refresh token."),
                "clientSecret": _str("Password value used to generate the refresh token.", format="password"),
                "refreshToken": _str("The refresh token obtained from Google.", format="password"),
                "largeResultsDataSetId": _str("A pre-created BigQuery dataset id (optional)."),
            },
            ["project", "clientId", "clientSecret", "refreshToken"],
        )
    ],
    "sourceSpec": {
        "name": "Database",
        "type": "Table",
        "spec": {
            "$schema": JSON_SCHEMA,
            "type": "object",
            "description": "defines the table to copy",
            "properties": {"tableName": {"type": "string", "description": "The table (dataset.table) to copy."}},
            "required": ["tableName"],
        },
        "attributes": {
            "uiAttributes": {
                "isSource": True,
                "category": {"key": "database"},
                "icon": {"key": "googleBigQuery"},
                "description": {"key": "googleBigQueryDescription"},
                "label": {"key": "googleBigQueryLabel"},
            }
        },
    },
    "exploreSpec": {
        "name": "Table",
        "type": "Table",
        "requestSpec": {
            "$schema": JSON_SCHEMA,
            "type": "object",
            "properties": {
                "objectType": {"type": "string", "enum": ["root", "table"]},
                "object": {"type": "string"},
                "preview": {"type": "boolean"},
            },
        },
        "responseSpec": {},
    },
    "attributes": {
        "category": "Database",
        "connectorName": "Google BigQuery",
        "isSource": True,
        "isDraftModeSupported": True,
        "uiAttributes": {"apiFeatures": {"explorePaginationSupported": False}},
    },
    "permissionsInfo": copy.deepcopy(_PERMISSIONS_SOURCE),
    "_tableBased": True,
}

CONNECTION_SPECS: list[dict[str, Any]] = [
    AZURE_FILE_STORAGE_SPEC,
    AMAZON_S3_SOURCE_SPEC,
    DATA_LAKE_SOURCE_SPEC,
    DATA_LAKE_TARGET_SPEC,
    S3_DESTINATION_SPEC,
    AZURE_BLOB_DESTINATION_SPEC,
    ADLS_GEN2_DESTINATION_SPEC,
    DLZ_DESTINATION_SPEC,
    GCS_DESTINATION_SPEC,
    SFTP_DESTINATION_SPEC,
    MAILCHIMP_CAMPAIGN_SPEC,
    GOOGLE_BIGQUERY_SPEC,
]

# --- Flow specs -----------------------------------------------------------------------------------

_OPTION_SPEC: dict[str, Any] = {
    "name": "OptionSpec",
    "spec": {
        "$schema": JSON_SCHEMA,
        "type": "object",
        "properties": {
            "errorDiagnosticsEnabled": {
                "title": "Error diagnostics.",
                "description": "Flag to enable detailed and sample error diagnostics summary.",
                "type": "boolean",
                "default": False,
            },
            "partialIngestionPercent": {
                "title": "Partial ingestion threshold.",
                "description": "Percentage which defines the threshold of errors allowed before the run is "
                "marked "
                "as failed.",
                "type": "number",
                "exclusiveMinimum": 0,
            },
        },
    },
}

_MAPPING_TRANSFORMATION: dict[str, Any] = {
    "name": "Mapping",
    "spec": {
        "$schema": JSON_SCHEMA,
        "type": "object",
        "description": "defines various params required for different mapping from source to target",
        "properties": {"mappingId": {"type": "string"}, "mappingVersion": {"type": "string"}},
    },
}

_PERIODIC_SCHEDULE: dict[str, Any] = {
    "name": "PeriodicSchedule",
    "type": "Periodic",
    "spec": {
        "$schema": JSON_SCHEMA,
        "type": "object",
        "properties": {
            "startTime": {"description": "epoch time", "type": "integer"},
            "frequency": {"type": "string", "enum": ["once", "minute", "hour", "day", "week"]},
            "interval": {"type": "integer"},
            "backfill": {"type": "boolean", "default": True},
        },
        "required": ["startTime", "frequency"],
        "if": {"properties": {"frequency": {"const": "once"}}},
        "then": {"allOf": [{"not": {"required": ["interval"]}}, {"not": {"required": ["backfill"]}}]},
        "else": {
            "required": ["interval"],
            "if": {"properties": {"frequency": {"const": "minute"}}},
            "then": {"properties": {"interval": {"minimum": 15}}},
            "else": {"properties": {"interval": {"minimum": 1}}},
        },
    },
}

_SOURCE_FLOW_ATTRIBUTES: dict[str, Any] = {
    "isSourceFlow": True,
    "flacValidationSupported": True,
    "isDraftModeSupported": True,
    "frequency": "batch",
    "notification": {"category": "sources", "flowRun": {"enabled": True}},
}

CLOUD_STORAGE_TO_AEP_SPEC: dict[str, Any] = {
    "id": CLOUD_STORAGE_TO_AEP,
    "name": "CloudStorageToAEP",
    "providerId": SOURCES_PROVIDER_ID,
    "version": "1.0",
    "sourceConnectionSpecIds": [
        "b3ba5556-48be-44b7-8b85-ff2b69b46dc4",
        "ecadc60c-7455-4d87-84dc-2a0e293d997b",
        "b7829c2f-2eb0-4f49-a6ee-55e33008b629",
        "4c10e202-c428-4796-9208-5f1f5732b1cf",
        "fb2e94c9-c031-467d-8103-6bd6e0a432f2",
        "32e8f412-cdf7-464c-9885-78184cb113fd",
        "b7bf2577-4520-42c9-bae9-cad01560f7bc",
        "998b8ae3-cec0-43b7-8abe-40b1eb4ee069",
        "be5ec48c-5b78-49d5-b8fa-7c89ec4569b8",
        "54e221aa-d342-4707-bcff-7a4bceef0001",
        "c85f9425-fb21-426c-ad0b-405e9bd8a46c",
        "26f526f2-58f4-4712-961d-e41bf1ccc0e8",
    ],
    "targetConnectionSpecIds": [DATA_LAKE_TARGET],
    "optionSpec": copy.deepcopy(_OPTION_SPEC),
    "transformationSpecs": [
        copy.deepcopy(_MAPPING_TRANSFORMATION),
        {
            "name": "Encryption",
            "spec": {
                "$schema": JSON_SCHEMA,
                "type": "object",
                "description": "defines various params required for encrypted data ingestion",
                "properties": {
                    "publicKeyId": {
                        "type": "string",
                        "description": "publicKeyId returned in encryptionKey creation API. One must use the "
                        "publicKeyId corresponding to the same publicKey they used for encrypting the files",
                    }
                },
            },
        },
    ],
    "scheduleSpec": copy.deepcopy(_PERIODIC_SCHEDULE),
    "attributes": copy.deepcopy(_SOURCE_FLOW_ATTRIBUTES),
    "permissionsInfo": copy.deepcopy(_PERMISSIONS_SOURCE),
}

REST_STORAGE_TO_AEP_SPEC: dict[str, Any] = {
    "id": REST_STORAGE_TO_AEP,
    "name": "RestStorageToAEP",
    "providerId": SOURCES_PROVIDER_ID,
    "version": "1.0",
    "sourceConnectionSpecIds": [MAILCHIMP_CAMPAIGN],
    "targetConnectionSpecIds": [DATA_LAKE_TARGET],
    "optionSpec": copy.deepcopy(_OPTION_SPEC),
    "transformationSpecs": [copy.deepcopy(_MAPPING_TRANSFORMATION)],
    "scheduleSpec": copy.deepcopy(_PERIODIC_SCHEDULE),
    "attributes": {**copy.deepcopy(_SOURCE_FLOW_ATTRIBUTES), "isDraftModeSupported": False},
    "permissionsInfo": copy.deepcopy(_PERMISSIONS_SOURCE),
}

CRM_TO_AEP_SPEC: dict[str, Any] = {
    "id": CRM_TO_AEP,
    "name": "CRMToAEP",
    "providerId": SOURCES_PROVIDER_ID,
    "version": "1.0",
    "sourceConnectionSpecIds": [GOOGLE_BIGQUERY],
    "targetConnectionSpecIds": [DATA_LAKE_TARGET],
    "optionSpec": copy.deepcopy(_OPTION_SPEC),
    "transformationSpecs": [
        {
            "name": "Copy",
            "spec": {
                "$schema": JSON_SCHEMA,
                "type": "object",
                "properties": {
                    "deltaColumn": {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string"},
                            "dateFormat": {"type": "string"},
                            "timezone": {"type": "string"},
                        },
                        "required": ["name"],
                    }
                },
                "required": ["deltaColumn"],
            },
        },
        copy.deepcopy(_MAPPING_TRANSFORMATION),
    ],
    "scheduleSpec": copy.deepcopy(_PERIODIC_SCHEDULE),
    "attributes": copy.deepcopy(_SOURCE_FLOW_ATTRIBUTES),
    "permissionsInfo": copy.deepcopy(_PERMISSIONS_SOURCE),
}


def _export_flow_spec(flow_spec_id: str, destination_id: str, destination_name: str) -> dict[str, Any]:
    return {
        "id": flow_spec_id,
        "name": f"{destination_name} Dataset Export",
        "providerId": DESTINATIONS_PROVIDER_ID,
        "version": "1.0",
        "sourceConnectionSpecIds": [DATA_LAKE_SOURCE],
        "targetConnectionSpecIds": [destination_id],
        "transformationSpecs": [],
        "scheduleSpec": {
            "name": "PeriodicSchedule",
            "type": "Periodic",
            "spec": {
                "$schema": JSON_SCHEMA,
                "type": "object",
                "properties": {
                    "startTime": {"description": "UNIX timestamp start time (in seconds)", "type": "integer"},
                    "timeUnit": {"type": "string", "enum": ["hour", "day"]},
                    "interval": {"type": "integer"},
                },
                "required": ["startTime", "timeUnit", "interval"],
                "if": {"properties": {"timeUnit": {"const": "hour"}}},
                "then": {"properties": {"interval": {"enum": [3, 6, 9, 12, 24]}}},
                "else": {"properties": {"interval": {"enum": [1]}}},
            },
        },
        "attributes": {
            "isDestinationFlow": True,
            "_workflow": "DATASETS",
            "isDraftModeSupported": False,
            "frequency": "batch",
            "notification": {"category": "destinations", "flowRun": {"enabled": True}},
        },
        "permissionsInfo": copy.deepcopy(_PERMISSIONS_DESTINATION),
    }


FLOW_SPECS: list[dict[str, Any]] = [
    CLOUD_STORAGE_TO_AEP_SPEC,
    REST_STORAGE_TO_AEP_SPEC,
    CRM_TO_AEP_SPEC,
    _export_flow_spec(S3_EXPORT_FLOW, S3_DESTINATION, "Amazon S3"),
    _export_flow_spec(AZURE_BLOB_EXPORT_FLOW, AZURE_BLOB_DESTINATION, "Azure Blob Storage"),
    _export_flow_spec(ADLS_GEN2_EXPORT_FLOW, ADLS_GEN2_DESTINATION, "Azure Data Lake Gen2"),
    _export_flow_spec(DLZ_EXPORT_FLOW, DLZ_DESTINATION, "Data Landing Zone"),
    _export_flow_spec(GCS_EXPORT_FLOW, GCS_DESTINATION, "Google Cloud Storage"),
    _export_flow_spec(SFTP_EXPORT_FLOW, SFTP_DESTINATION, "SFTP"),
]


# --- Datasets for the activationDatasets configs listing (Adobe's dataset-export guide) ------------------------------

_SEED_DATASETS: list[tuple[str, str]] = [
    ("5ef3e324052581191aa6a466", "AAM Authenticated Profiles Meta Data"),
    ("5ef3e3259ad2a1191ab7dd7d", "AAM Devices Data"),
    ("5ef3e325582424191b1beb42", "AAM Devices Profile Meta Data"),
    ("5ef3e328582424191b1beb44", "AAM Realtime"),
    ("5ef3e328fe742a191b2b3ea5", "AAM Realtime Profile Updates"),
]


def default_datasets(total: int = 25) -> list[dict[str, Any]]:
    """A deterministic dataset list: the five datasets of Adobe's dataset-export guide, then generated ones."""
    datasets: list[dict[str, Any]] = []
    for i in range(total):
        if i < len(_SEED_DATASETS):
            ds_id, name = _SEED_DATASETS[i]
            state = "DRAFT"
            description = "Activation profile export dataset"
        else:
            ds_id = f"6{i:03d}a1b2c3d4e5f6a7b8c9d0"[:24]
            name = f"Emulator Dataset {i:02d}"
            state = "ENABLED" if i % 4 else "DISABLED"
            description = "Dataset shipped with the Flow Service emulator"
        datasets.append(
            {
                "id": ds_id,
                "name": name,
                "description": description,
                "fileDescription": {"persisted": True, "containerFormat": "parquet", "format": "parquet"},
                "aspect": "production",
                "state": state,
            }
        )
    return datasets
