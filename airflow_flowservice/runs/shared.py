"""Tasks an event loop's triggers share, and whose log their lines belong to.

Airflow's triggerer routes a log line to a trigger's log by context variables that it binds in the
trigger's own asyncio task (``trigger_id``, ``ti_id``, ...). A task started from inside a trigger
copies that trigger's context, so a task that serves every trigger of the loop (the run poller, a
journal reader) would write every line into the log of the trigger that happened to start it. So:

- a shared task starts in an empty context (:func:`start_shared_task`): what it logs for itself
  goes to the triggerer's own log;
- a line about one wait or watch is written in the context that wait or watch registered from
  (:func:`registration_context`, then ``context.run(log.info, ...)``; for listeners called back by a
  shared task, :class:`ListenerContexts`), so it lands in that task's log.

A context is copied once per registration, never per round.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def start_shared_task(coro: Coroutine[Any, Any, T], name: str) -> asyncio.Task[T]:
    """``coro`` as a task of the running loop, in an empty context (no trigger's log context)."""
    loop = asyncio.get_running_loop()
    return contextvars.Context().run(loop.create_task, coro, name=name)


def registration_context() -> contextvars.Context:
    """The caller's context, to write the lines about what it registers in (its trigger's log)."""
    return contextvars.copy_context()


class ListenerContexts:
    """The context each listener of a shared task registered from, to call it back in."""

    def __init__(self) -> None:
        self._contexts: dict[int, contextvars.Context] = {}  # id(listener) -> its registration context

    def add(self, listener: object) -> None:
        """Remember the caller's context for ``listener`` (call it where the listener registers)."""
        self._contexts[id(listener)] = registration_context()

    def discard(self, listener: object) -> None:
        self._contexts.pop(id(listener), None)

    def run(self, listener: object, method: str, *args: Any) -> Any:
        """``listener.<method>(*args)`` in the context it registered from (an empty one if unknown)."""
        context = self._contexts.get(id(listener)) or contextvars.Context()
        return context.run(getattr(listener, method), *args)
