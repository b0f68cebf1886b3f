"""Testing helpers shipped with the provider: the Flow Service emulator and its pytest plugin.

>>> from airflow_flowservice.testing import FlowServiceEmulator
>>> with FlowServiceEmulator() as emu:  # doctest: +SKIP
...     print(emu.connection_uri())

Nothing in the provider's production modules imports this package. The names are imported lazily:
pytest loads the plugin module of this package in every session where the provider is installed,
and that must not start FastAPI imports.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_NAMES = frozenset({"ConnectionDropped", "FaultRule", "FlowServiceEmulator", "RequestRecord"})

__all__ = sorted(_NAMES)

if TYPE_CHECKING:
    from .emulator import (
        ConnectionDropped,
        FaultRule,
        FlowServiceEmulator,
        RequestRecord,
    )


def __getattr__(name: str) -> Any:
    if name not in _NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.emulator"), name)
