"""Airflow's exception types, applied where Airflow is: the errors no retry can heal fail the task at once.

The layers below (the hook, the HTTP core, the run and dataflow rules) know nothing of Airflow: they
raise :class:`~airflow_flowservice.exceptions.FlowServiceError` subclasses. A task that raises one of
:data:`~airflow_flowservice.exceptions.FAILS_WITHOUT_RETRY` (a bad argument or connection, a run judged
failed, a window with two runs) must fail without using its retries, which Airflow's task runner does
for an ``AirflowFailException``. :class:`FailsWithoutRetry`, a base of every operator and sensor of the
provider, re-raises those errors as an instance of a subclass of both: the same class name, message and
attributes, so ``except FlowServiceConfigError`` still catches it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from airflow_flowservice._compat import AirflowFailException
from airflow_flowservice.exceptions import FAILS_WITHOUT_RETRY, FlowServiceError

F = TypeVar("F", bound=Callable[..., Any])

#: The task methods whose errors reach Airflow's task runner.
TASK_METHODS = ("execute", "execute_complete", "poke")

_TWINS: dict[type[FlowServiceError], type[FlowServiceError]] = {}


def for_airflow(error: BaseException) -> BaseException:
    """``error`` as the task runner must see it: one no retry can heal is also an ``AirflowFailException``."""
    if not isinstance(error, FAILS_WITHOUT_RETRY) or isinstance(error, AirflowFailException):
        return error
    cls = type(error)
    twin = _TWINS.get(cls)
    if twin is None:
        twin = _TWINS[cls] = type(cls.__name__, (cls, AirflowFailException), {"__module__": cls.__module__})
    failing = twin.__new__(twin)
    failing.__dict__.update(error.__dict__)
    failing.args = error.args
    failing.__cause__, failing.__context__ = error.__cause__, error.__context__  # the same chain in the log
    failing.__suppress_context__ = error.__suppress_context__
    return failing.with_traceback(error.__traceback__)


def fails_without_retry(method: F) -> F:
    """Wrap a task method so that :func:`for_airflow` applies to what it raises."""
    if getattr(method, "_flowservice_fails_without_retry", False):
        return method

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except FAILS_WITHOUT_RETRY as error:
            failing = for_airflow(error)
        raise failing  # outside the handler: the error's own chain, not the handler's, is kept

    wrapper._flowservice_fails_without_retry = True  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


class FailsWithoutRetry:
    """Mixin of the provider's operators and sensors: their task methods fail without retry when no retry can help.

    Each subclass's own ``execute``, ``execute_complete`` and ``poke`` are wrapped by
    :func:`fails_without_retry` when the class is created.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in TASK_METHODS:
            method = cls.__dict__.get(name)
            if callable(method):
                setattr(cls, name, fails_without_retry(method))
