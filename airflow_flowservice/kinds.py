"""The kinds of entity a dataflow is made of (a plain enum: operators import it at DAG parse time)."""

from __future__ import annotations

from enum import Enum


class EntityKind(str, Enum):
    """The four kinds of entity a dataflow is made of, with their collection paths."""

    BASE_CONNECTION = "connections"
    SOURCE_CONNECTION = "sourceConnections"
    TARGET_CONNECTION = "targetConnections"
    FLOW = "flows"

    @property
    def path(self) -> str:
        """Collection path relative to the API base, e.g. ``/sourceConnections``."""
        return f"/{self.value}"

    @property
    def label(self) -> str:
        """Human name used in messages ("source connection")."""
        return self.name.replace("_", " ").lower()
