"""The Flow Service emulator (``python -m airflow_flowservice.testing.emulator --port 8081``).

Layout (docs/emulator.md, "Where things live"): ``server.py`` (``FlowServiceEmulator``), ``app.py``
(the resources, registered in one place), ``routers/<resource>.py`` over ``stores/<resource>.py``,
``state.py`` (what the stores share), ``gateway.py`` (faults, request log).
"""

from __future__ import annotations

from .app import build_app
from .clock import Clock
from .faults import FaultInjector, FaultRule
from .gateway import ConnectionDropped
from .paths import API_PREFIX, IMS_PATH
from .requestlog import RequestLog, RequestRecord
from .server import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_ORG_ID,
    DEFAULT_SANDBOX,
    FlowServiceEmulator,
)

__all__ = [
    "API_PREFIX",
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "DEFAULT_ORG_ID",
    "DEFAULT_SANDBOX",
    "IMS_PATH",
    "Clock",
    "ConnectionDropped",
    "FaultInjector",
    "FaultRule",
    "FlowServiceEmulator",
    "RequestLog",
    "RequestRecord",
    "build_app",
]
