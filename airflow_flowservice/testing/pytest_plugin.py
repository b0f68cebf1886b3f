"""pytest plugin (entry point ``pytest11: flowservice``): fixtures that start the Flow Service emulator.

- ``flowservice_emulator`` (function scope): a started :class:`~airflow_flowservice.testing.FlowServiceEmulator`
  with a fast run timeline; ``AIRFLOW_CONN_FLOWSERVICE_DEFAULT`` points at it for the duration of the test.
- ``flowservice_emulator_session`` (session scope): one emulator for the whole session; call
  ``emu.reset()`` between tests if they must not see each other's entities.

Installed, the provider registers this module under the name ``flowservice``: there is nothing to
add to the pytest command line (``-p no:flowservice`` disables it). Do not also pass
``-p airflow_flowservice.testing.pytest_plugin`` then: pytest refuses to register one module under
two names ("Plugin already registered under a different name"). That form is for a checkout that is
on ``sys.path`` but not installed. pytest loads this module in every session of an environment that
has the provider, so it imports nothing beyond pytest until a test uses a fixture.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # the emulator (FastAPI, uvicorn) is imported only when a fixture is used
    from airflow_flowservice.testing.emulator import FlowServiceEmulator

FAST_RUN_TIMELINE = (0.2, 0.5)


@pytest.fixture
def flowservice_emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[FlowServiceEmulator]:
    """A started emulator (real clock, runs finish within 0.5 s) wired to ``flowservice_default``."""
    from airflow_flowservice.testing.emulator import FlowServiceEmulator

    emu = FlowServiceEmulator(run_timeline=FAST_RUN_TIMELINE)
    emu.start()
    try:
        for key, value in emu.connection_env().items():
            monkeypatch.setenv(key, value)
        yield emu
    finally:
        emu.stop()


@pytest.fixture(scope="session")
def flowservice_emulator_session() -> Iterator[FlowServiceEmulator]:
    """One started emulator for the whole session.

    No environment variable is set; use ``emu.connection_env()``.
    """
    from airflow_flowservice.testing.emulator import FlowServiceEmulator

    emu = FlowServiceEmulator(run_timeline=FAST_RUN_TIMELINE)
    emu.start()
    try:
        yield emu
    finally:
        emu.stop()
