"""Apache Airflow provider for the Adobe Experience Platform Flow Service API."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

CONN_TYPE = "adobe_flowservice"
DEFAULT_CONN_ID = "flowservice_default"


def get_provider_info() -> dict[str, Any]:
    """Describe the provider to Airflow's ProvidersManager (entry point ``apache_airflow_provider``)."""
    return {
        "package-name": "airflow-provider-flowservice",
        "name": "Adobe Experience Platform Flow Service",
        "description": "Build AEP source and dataset-export dataflows (drafts, publish), trigger on-demand "
        "runs per data interval and wait on their completion metrics.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "Adobe Experience Platform Flow Service",
                "external-doc-url": "https://developer.adobe.com/experience-platform-apis/references/flow-service/",
                "tags": ["service"],
            }
        ],
        "connection-types": [
            {
                "connection-type": CONN_TYPE,
                "hook-class-name": "airflow_flowservice.hooks.flowservice.FlowServiceHook",
                "hook-name": "Adobe Experience Platform Flow Service",
                "ui-field-behaviour": {
                    "hidden-fields": ["host", "port", "schema"],
                    "relabeling": {"login": "Client ID (API key)", "password": "Client secret"},
                    "placeholders": {
                        "login": "Developer Console OAuth Server-to-Server client id",
                        "password": "Developer Console client secret",
                        "extra": '{"org_id": "ABC123@AdobeOrg", "sandbox": "dev"}',
                    },
                },
                "conn-fields": {
                    "org_id": {
                        "label": "IMS organization id",
                        "description": "Sent as x-gw-ims-org-id, e.g. 5C1328435BF324E90A49402A@AdobeOrg.",
                        "schema": {"type": "string", "pattern": "^.+@AdobeOrg$"},
                    },
                    "sandbox": {
                        "label": "Sandbox name",
                        "description": "Sent as x-sandbox-name (all lower case). Required: there is no "
                        "silent default to the production sandbox.",
                        "schema": {"type": "string", "minLength": 1},
                    },
                    "scopes": {
                        "label": "OAuth scopes",
                        "description": "Comma-separated scopes for the client_credentials token.",
                        "schema": {
                            "type": ["string", "null"],
                            "default": "openid,session,AdobeID,read_organizations,"
                            "additional_info.projectedProductContext",
                        },
                    },
                    "ims_url": {
                        "label": "IMS token URL",
                        "description": "OAuth token endpoint. Point it at the bundled emulator for tests.",
                        "schema": {
                            "type": ["string", "null"],
                            "format": "url",
                            "default": "https://ims-na1.adobelogin.com/ims/token/v3",
                        },
                    },
                    "api_url": {
                        "label": "Flow Service base URL",
                        "description": "Flow Service API base URL. Point it at the emulator for tests.",
                        "schema": {
                            "type": ["string", "null"],
                            "format": "url",
                            "default": "https://platform.adobe.io/data/foundation/flowservice",
                        },
                    },
                },
            }
        ],
        "operators": [
            {
                "integration-name": "Adobe Experience Platform Flow Service",
                "python-modules": [
                    f"airflow_flowservice.operators.{m}"
                    for m in (
                        "apply",
                        "dataflow",
                        "entities",
                        "explore",
                        "export",
                        "lifecycle",
                        "publish",
                        "runs",
                        "update",
                    )
                ],
            }
        ],
        "extra-links": ["airflow_flowservice.links.FlowServiceRunLink"],
    }
