"""What the tests import from Airflow where its place differs between the supported lines (3.0-3.3).

The same fallbacks as ``airflow_flowservice/_compat.py``, for test-only names.
"""

from __future__ import annotations

try:  # Airflow 3.2+
    from airflow.dag_processing.dagbag import DagBag
except ImportError:  # Airflow 3.0, 3.1
    from airflow.models.dagbag import DagBag  # type: ignore[no-redef,attr-defined,unused-ignore]

try:  # Airflow 3.2+
    from airflow.sdk.serde import deserialize, serialize
except ImportError:  # Airflow 3.0, 3.1
    from airflow.serialization.serde import deserialize, serialize  # type: ignore[no-redef,unused-ignore]

from airflow.providers.common.compat.sdk import get_listener_manager

__all__ = ["DagBag", "deserialize", "get_listener_manager", "serialize"]
