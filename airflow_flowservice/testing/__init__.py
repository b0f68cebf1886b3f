"""Testing helpers shipped with the provider: the Flow Service emulator and its pytest plugin.

>>> from airflow_flowservice.testing import FlowServiceEmulator
>>> with FlowServiceEmulator() as emu:  # doctest: +SKIP
...     print(emu.connection_uri())

Nothing in the provider's production modules imports this package.
"""

from __future__ import annotations

from .emulator import (
    ConnectionDropped,
    FaultRule,
    FlowServiceEmulator,
    RequestRecord,
)

__all__ = ["ConnectionDropped", "FaultRule", "FlowServiceEmulator", "RequestRecord"]
