"""Dataflows as code against the emulator: the example file, the Airflow connections it references, a hook."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

EXAMPLE_FILE = Path(__file__).resolve().parents[2] / "example_dags" / "dataflows.yaml"
MAILCHIMP_CONN = {
    "conn_type": "http",
    "host": "https://us6.api.mailchimp.com/3.0/",
    "login": "acme",
    "password": "mc-secret-key",
}
S3_CONN = {"conn_type": "aws", "login": "AKIAEXAMPLE", "password": "s3-secret-value"}


@pytest.fixture
def example_spec() -> dict[str, Any]:
    """The example file, loaded (a fresh copy per test, to edit)."""
    import yaml

    return copy.deepcopy(yaml.safe_load(EXAMPLE_FILE.read_text()))


@pytest.fixture
def dac(flowservice_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The emulator, with the credentials connections of the example file defined; returns the emulator."""
    from airflow_flowservice.dataflows.catalog import clear_spec_cache

    monkeypatch.setenv("AIRFLOW_CONN_MAILCHIMP", json.dumps(MAILCHIMP_CONN))
    monkeypatch.setenv("AIRFLOW_CONN_AEP_EXPORT_S3", json.dumps(S3_CONN))
    clear_spec_cache()
    return flowservice_emulator


@pytest.fixture
def hook(dac: Any) -> Any:
    from airflow_flowservice.hooks.flowservice import FlowServiceHook

    return FlowServiceHook()
