"""What differs between the Airflow 3 lines this provider supports (3.0, 3.1, 3.2, 3.3), in one place.

Names that moved between minors come through ``airflow.providers.common.compat.sdk``, as the official
providers import them (type checkers see Airflow 3.3's ``airflow.sdk``). What only newer Airflow has
is detected at run time, with a working fallback:

=====================================  =====  ==================================================
feature                                since  fallback on older lines
=====================================  =====  ==================================================
``BaseHook.aget_connection``           3.1    the sync ``get_connection`` in a worker thread
``airflow.sdk.log.amask_secret``       3.3    the sync ``mask_secret`` (3.0-3.2 add the mask in
                                              process and never block on the supervisor)
task state store (``ResumableJobMixin``) 3.3  none needed: a retried try finds its run by window
asset state store of event triggers    3.3    ``AssetStateStore.of`` is ``None``: a restarted
(``AssetStateStore``)                         event trigger starts from now
``airflow.dag_processing.dagbag``      3.3    ``airflow.models.dagbag.DagBag`` (testing helpers
                                              only: ``testing.dags.run_dag_file``)
=====================================  =====  ==================================================

Nothing else in the package imports a name whose place differs between these lines.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.sdk import (
        AssetAlias,
        BaseHook,
        BaseOperator,
        BaseOperatorLink,
        BaseSensorOperator,
        Connection,
        conf,
    )
    from airflow.sdk.exceptions import AirflowFailException, AirflowNotFoundException
    from airflow.sdk.execution_time.xcom import XCom
else:
    from airflow.providers.common.compat.sdk import (
        AirflowFailException,
        AirflowNotFoundException,
        AssetAlias,
        BaseHook,
        BaseOperator,
        BaseOperatorLink,
        BaseSensorOperator,
        Connection,
        XCom,
        conf,
    )

__all__ = [
    "AirflowFailException",
    "AirflowNotFoundException",
    "AssetAlias",
    "AssetStateStore",
    "BaseHook",
    "BaseOperator",
    "BaseOperatorLink",
    "BaseSensorOperator",
    "Connection",
    "XCom",
    "aconnection_extra",
    "aget_connection",
    "amask_secret",
    "conf",
    "connection_extra",
    "dag_bag_of_file",
    "mask_secret",
    "maskable",
    "min_mask_length",
]


def min_mask_length() -> int:
    """Airflow's ``[logging] min_length_masked_secret``: shorter values are never masked.

    Airflow's masker checks the length of a value before its name: handed a shorter value, even one it
    would not mask by name (a sandbox ``dev``), it masks nothing and logs a yellow ``Skipping masking for a
    secret as it's too short`` in the task log. So nothing shorter is handed to it from here.
    """
    return conf.getint("logging", "min_length_masked_secret", fallback=5)


def maskable(value: Any, minimum: int | None = None) -> Any:
    """``value`` without the strings Airflow's masker would skip (and warn about): ``None`` when nothing is left.

    Dicts keep their keys (the masker masks a value by its key's name), lists their items.
    """
    shortest = min_mask_length() if minimum is None else minimum
    if isinstance(value, str):
        return value if len(value) >= shortest else None
    if isinstance(value, dict):
        kept = {k: v for k, v in ((k, maskable(v, shortest)) for k, v in value.items()) if v is not None}
        return kept or None
    if isinstance(value, (list, tuple)):
        items = [v for v in (maskable(v, shortest) for v in value) if v is not None]
        return items or None
    return None


def mask_secret(value: Any, name: str | None = None) -> None:
    """Register ``value`` with Airflow's secret masker (every supported line has the sync call).

    Strings too short to be masked (:func:`min_mask_length`) are left out: Airflow would mask nothing and
    log a warning in the task log.
    """
    from airflow.sdk.log import mask_secret as _mask_secret

    kept = maskable(value)
    if kept is not None:
        _mask_secret(kept, name)


async def amask_secret(value: Any, name: str | None = None) -> None:
    """Register ``value`` with the masker without blocking the event loop (``amask_secret`` on 3.3+).

    Leaves out what :func:`mask_secret` leaves out.
    """
    from airflow.sdk import log

    kept = maskable(value)
    if kept is None:
        return
    masker = getattr(log, "amask_secret", None)
    if masker is not None:
        await masker(kept, name)
    else:  # 3.0-3.2: the sync call only adds the mask in this process
        log.mask_secret(kept, name)


def _parse_extra(conn: Connection) -> Any:
    """The connection's extra, parsed (``{}`` when unset); a ``ValueError`` names what is wrong."""
    import json

    if not conn.extra:
        return {}
    try:
        return json.loads(conn.extra)
    except json.JSONDecodeError as exc:
        raise ValueError(f"extra is not valid JSON ({exc})") from None


def connection_extra(conn: Connection) -> Any:
    """The connection's extras, each registered with the masker as ``extra_dejson`` does, minus its warning.

    ``Connection.extra_dejson`` hands the whole dict to the masker, which warns about every value shorter
    than :func:`min_mask_length` whatever its key (the sandbox ``dev`` of every Flow Service connection);
    here those values are left out of the masker's hands (it would not mask them either). Raises
    ``ValueError`` for an extra that is not JSON.
    """
    extra = _parse_extra(conn)
    mask_secret(extra)
    return extra


async def aconnection_extra(conn: Connection) -> Any:
    """:func:`connection_extra` without blocking the event loop (``aextra_dejson``'s masking on 3.3+)."""
    extra = _parse_extra(conn)
    await amask_secret(extra)
    return extra


async def aget_connection(hook: BaseHook, conn_id: str) -> Connection:
    """The connection, read without blocking the event loop (``BaseHook.aget_connection`` on 3.1+)."""
    getter = getattr(type(hook), "aget_connection", None)
    if getter is not None:
        conn: Connection = await getter(conn_id)
        return conn
    return await asyncio.to_thread(hook.get_connection, conn_id)


# A 3.3+ triggerer refuses a single-asset read when several assets share one trigger (triggers are
# deduplicated by class path and arguments), with a ValueError naming "concrete inlets and outlets".
_SEVERAL_ASSETS = "concrete inlets and outlets"


class AssetStateStore:
    """The asset state store of an event trigger (Airflow 3.3+), as ``load``/``save`` of one JSON value.

    Build it with :meth:`of`: ``None`` where the store does not exist (Airflow 3.0-3.2, or a trigger
    run outside a triggerer). When several assets share the trigger there is no single place for
    the value: the first :meth:`load` logs a warning and the store then keeps nothing.

    :param accessors: the ``asset_state_store`` the triggerer set on the trigger.
    :param key: the key of the value in the store.
    :param log: where the warning goes.
    """

    def __init__(self, accessors: Any, key: str, log: Any) -> None:
        self.accessors = accessors
        self.key = key
        self.log = log
        self.enabled = True

    @classmethod
    def of(cls, trigger: object, key: str, log: Any) -> AssetStateStore | None:
        """The store the triggerer injected into ``trigger``, or ``None`` (before 3.3: no store)."""
        accessors = getattr(trigger, "asset_state_store", None)
        return None if accessors is None else cls(accessors, key, log)

    async def load(self) -> Any:
        """The stored value (``None`` if nothing is stored)."""
        try:
            return await self.accessors.aget(self.key)
        except ValueError as exc:
            if _SEVERAL_ASSETS not in str(exc):
                raise
            self.enabled = False
            self.log.warning(
                "Several assets share this trigger, so it keeps no state: a triggerer restart starts from now (%s)",
                exc,
            )
            return None

    async def save(self, value: Any) -> None:
        """Store ``value`` (nothing when several assets share the trigger)."""
        if self.enabled:
            await self.accessors.aset(self.key, value)


def dag_bag_of_file(path: str) -> Any:
    """A ``DagBag`` of one DAG file, without Airflow's example DAGs.

    ``DagBag`` is ``airflow.dag_processing.dagbag.DagBag`` on 3.3 (which loads the example DAGs as
    bundles, not through it) and ``airflow.models.dagbag.DagBag`` with ``include_examples`` before.
    """
    import importlib
    import inspect

    try:
        module = importlib.import_module("airflow.dag_processing.dagbag")
    except ImportError:
        module = importlib.import_module("airflow.models.dagbag")
    dag_bag: Any = module.DagBag
    if "include_examples" in inspect.signature(dag_bag).parameters:
        return dag_bag(dag_folder=path, include_examples=False)
    return dag_bag(dag_folder=path)
