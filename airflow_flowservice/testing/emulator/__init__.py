"""The Flow Service emulator (``python -m airflow_flowservice.testing.emulator --port 8081``)."""

from __future__ import annotations

from .app import API_PREFIX, IMS_PATH, ConnectionDropped, build_app
from .clock import Clock
from .control import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_ORG_ID,
    DEFAULT_SANDBOX,
    FlowServiceEmulator,
)
from .faults import FaultInjector, FaultRule
from .requestlog import RequestLog, RequestRecord

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
