"""Apache Airflow provider for the Adobe Experience Platform Flow Service API."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

MIN_AIRFLOW_VERSION = "3.0.0"


def _check_airflow_version() -> None:
    """Refuse to load on an Airflow older than the supported minimum, as the official providers do."""
    import re
    from importlib.metadata import PackageNotFoundError, version

    try:  # the installed distribution's metadata: no need to import Airflow (the pytest plugin loads this)
        airflow_version = version("apache-airflow-core")
    except PackageNotFoundError:
        from airflow import __version__ as airflow_version
    release = tuple(int(part) for part in re.findall(r"\d+", airflow_version)[:3])
    minimum = tuple(int(part) for part in MIN_AIRFLOW_VERSION.split("."))
    if release < minimum:
        raise RuntimeError(
            f"The package airflow-provider-flowservice:{__version__} needs Apache Airflow {MIN_AIRFLOW_VERSION}+ "
            f"(this is {airflow_version}); upgrade Airflow or pin an older provider"
        )


_check_airflow_version()

from airflow_flowservice import registry  # noqa: E402  (after the version check: the registry imports nothing)

CONN_TYPE = "adobe_flowservice"
# The connection's defaults (the HTTP core's; auth.py imports nothing of Airflow, and nothing heavy).
DEFAULT_SCOPES = "openid,session,AdobeID,read_organizations,additional_info.projectedProductContext"
DEFAULT_IMS_URL = "https://ims-na1.adobelogin.com/ims/token/v3"
DEFAULT_API_URL = "https://platform.adobe.io/data/foundation/flowservice"
DEFAULT_CONN_ID = "flowservice_default"
INTEGRATION = "Adobe Experience Platform Flow Service"


def _module_lists() -> dict[str, list[dict[str, Any]]]:
    """The ``hooks``, ``operators``, ``sensors`` and ``triggers`` entries, from the registry of public classes."""
    return {
        kind: [{"integration-name": INTEGRATION, "python-modules": registry.modules(classes)}]
        for kind, classes in (
            ("hooks", registry.HOOKS),
            ("operators", registry.OPERATORS),
            ("sensors", registry.SENSORS),
            ("triggers", registry.TRIGGERS),
        )
    }


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
                    # Defaults are not values: a field without a "default" writes nothing into the extra, and an
                    # extra without the key means the default (credentials_from_connection). Airflow 3.3's form
                    # has no free placeholder for extra fields: "examples" shows the default as the one
                    # suggestion of the field (with the placeholder "Start typing to see options").
                    "scopes": {
                        "label": "OAuth scopes",
                        "description": "Comma-separated scopes for the client_credentials token. Leave empty "
                        f"for the default: {DEFAULT_SCOPES}.",
                        "schema": {"type": ["string", "null"], "examples": [DEFAULT_SCOPES]},
                    },
                    "ims_url": {
                        "label": "IMS token URL",
                        "description": "OAuth token endpoint; point it at the bundled emulator for tests. Leave "
                        f"empty for the default: {DEFAULT_IMS_URL}.",
                        "schema": {"type": ["string", "null"], "format": "url", "examples": [DEFAULT_IMS_URL]},
                    },
                    "events_journal_url": {
                        "label": "I/O Events journal URL",
                        "description": "Optional: the journal URL of an Adobe I/O Events registration for "
                        "Experience Platform's flow-run notifications (https://events-va6.adobe.io/events/"
                        "organizations/...); event triggers and deferred waits then read it instead of polling.",
                        "schema": {"type": ["string", "null"], "format": "url"},
                    },
                    "api_url": {
                        "label": "Flow Service base URL",
                        "description": "Flow Service API base URL; point it at the emulator for tests. Leave "
                        f"empty for the default: {DEFAULT_API_URL}.",
                        "schema": {"type": ["string", "null"], "format": "url", "examples": [DEFAULT_API_URL]},
                    },
                    "ui_tenant": {
                        "label": "Experience Platform UI tenant",
                        "description": "The name after '@' in your Experience Platform address "
                        "(https://experience.adobe.com/#/@<tenant>/sname:<sandbox>/platform/home), used in "
                        "the tasks' run links. Leave empty to use the IMS org id.",
                        "schema": {"type": ["string", "null"], "pattern": "^[A-Za-z0-9._-]*$"},
                    },
                    "conversion_url": {
                        "label": "Data Prep (Conversion Service) base URL",
                        "description": "Mapping sets API base URL. Leave empty: it is the Flow Service base URL "
                        "with /flowservice replaced by /conversion.",
                        "schema": {"type": ["string", "null"], "format": "url"},
                    },
                },
            }
        ],
        **_module_lists(),
        "extra-links": [f"{module}.{name}" for name, module in registry.EXTRA_LINKS.items()],
    }
