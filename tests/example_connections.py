"""The connections the example DAGs and the doc blocks read besides ``flowservice_default``.

The cloud storage and Mailchimp credentials a dataflow's base connection takes from Airflow
(``auth_params_from_conn_id``); the emulator takes any. One table for the integration and docs tiers.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

CREDENTIALS: dict[str, dict[str, Any]] = {
    "AIRFLOW_CONN_AEP_EXPORT_S3": {"conn_type": "aws", "login": "AKIAEXAMPLE", "password": "s3-secret-value"},
    "AIRFLOW_CONN_ACME_S3": {"conn_type": "aws", "login": "AKIAACME", "password": "acme-s3-secret"},
    "AIRFLOW_CONN_AEP_BIGQUERY": {
        "conn_type": "generic",
        "login": "client",
        "password": "client-secret",
        "extra": {"project": "acme", "refresh_token": "refresh-token"},
    },
    "AIRFLOW_CONN_MAILCHIMP": {
        "conn_type": "http",
        "host": "https://us6.api.mailchimp.com/3.0/",
        "login": "a",
        "password": "mc-key",
    },
}


def set_credentials(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Every connection of :data:`CREDENTIALS` in this process's environment (and so a shell block's)."""
    env = {name: json.dumps(conn) for name, conn in CREDENTIALS.items()}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env
