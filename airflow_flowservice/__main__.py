"""``python -m airflow_flowservice``: the ``flowservice`` console script (see :mod:`airflow_flowservice.cli`)."""

from __future__ import annotations

from airflow_flowservice.cli import main

raise SystemExit(main())
