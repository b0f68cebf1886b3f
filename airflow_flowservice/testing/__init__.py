"""Testing helpers shipped with the provider: the Flow Service emulator and its pytest plugin.

>>> from airflow_flowservice.testing import FlowServiceEmulator
>>> with FlowServiceEmulator() as emu:  # doctest: +SKIP
...     print(emu.connection_uri())

Nothing in the provider's production modules imports this package.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .emulator import ConnectionDropped, FaultRule, FlowServiceEmulator, RequestRecord

__all__ = ["ConnectionDropped", "FaultRule", "FlowServiceEmulator", "RequestRecord"]


def __getattr__(name: str) -> Any:
    """The emulator's names, imported on first use (so the pytest plugin costs nothing until used)."""
    if name in __all__:
        return getattr(importlib.import_module(".emulator", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
