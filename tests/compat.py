"""What the tests import from Airflow where its place differs between the supported lines (3.0-3.3).

The same fallbacks as ``airflow_flowservice/_compat.py``, for test-only names.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from airflow import __version__ as AIRFLOW_VERSION
from airflow.providers.common.compat.sdk import get_listener_manager
from packaging.version import Version

try:  # Airflow 3.2+
    from airflow.dag_processing.dagbag import DagBag
except ImportError:  # Airflow 3.0, 3.1
    from airflow.models.dagbag import DagBag  # type: ignore[no-redef,attr-defined,unused-ignore]

try:  # Airflow 3.2+
    from airflow.sdk.serde import deserialize, serialize
except ImportError:  # Airflow 3.0, 3.1
    from airflow.serialization.serde import deserialize, serialize  # type: ignore[no-redef,unused-ignore]

# Airflow 3.0 drops the user info of an Asset URI (anything before "@" in the authority); 3.1+ only a password.
AIRFLOW_V_3_1_PLUS = Version(Version(AIRFLOW_VERSION).base_version) >= Version("3.1.0")


class AssetEvents(Mapping[Any, list[Any]]):
    """A task's ``triggering_asset_events`` as Airflow hands it: a mapping looked up by equality with the asset.

    An ``Asset`` is not hashable on Airflow 3.0, so a ``{asset: events}`` dict only works on 3.1+; Airflow's
    own accessor (a ``Mapping``) finds an asset by equality, as this does, and also iterates (``.values()``).
    """

    def __init__(self, asset: Any, events: list[Any]) -> None:
        self._asset, self._events = asset, events

    def __getitem__(self, asset: Any) -> list[Any]:
        if asset == self._asset:
            return self._events
        raise KeyError(asset)

    def __iter__(self) -> Iterator[Any]:
        return iter([self._asset])

    def __len__(self) -> int:
        return 1


__all__ = ["AIRFLOW_V_3_1_PLUS", "AssetEvents", "DagBag", "deserialize", "get_listener_manager", "serialize"]
