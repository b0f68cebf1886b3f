"""DAG files import the operators at every parse: the heavy modules must wait until a task runs.

A structural check (which modules got imported), not a timing check: timings are in BENCHMARKS.md §3.
"""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = [
    "airflow_flowservice.models",
    "airflow_flowservice.inputs",
    "airflow_flowservice.validation",
    "airflow_flowservice.dataflows",
    "airflow_flowservice.hooks.flowservice",
    "airflow_flowservice.client",
    "airflow_flowservice.auth",
    "airflow_flowservice.lineage",
    "airflow_flowservice.runs",
    "airflow_flowservice.triggers.run",
]
# All a DAG file may load of the provider: the operator and sensor modules and the light modules they stand on.
LIGHT = {
    "airflow_flowservice",
    "airflow_flowservice.exceptions",
    "airflow_flowservice.kinds",
    "airflow_flowservice.registry",
    "airflow_flowservice.links",
    "airflow_flowservice.ui",
    "airflow_flowservice._compat",
    "airflow_flowservice.specs",
    "airflow_flowservice.operators",
    "airflow_flowservice.sensors",
    "airflow_flowservice.sensors.run",
}

PROBE = """
import json, sys
import airflow.sdk
import airflow_flowservice.operators as operators
import airflow_flowservice.sensors as sensors
classes = [getattr(operators, name) for name in operators.__all__] + [sensors.FlowServiceRunSensor]
with airflow.sdk.DAG("parse_probe", schedule=None):
    operators.FlowServiceTriggerRunOperator(task_id="ingest", flow_id="{{ var.value.flow }}", deferrable=True)
    operators.FlowServiceCreateDataflowOperator(task_id="dataflow", config={"flow": {}}, draft=True)
    sensors.FlowServiceRunSensor(task_id="wait", flow_id="{{ var.value.flow }}", deferrable=True)
loaded = sorted(m for m in sys.modules if m.startswith("airflow_flowservice"))
print(json.dumps({"classes": len(classes), "loaded": loaded}))
"""


def test_parsing_a_dag_imports_no_heavy_module() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True).stdout
    probe = json.loads(out.strip().splitlines()[-1])
    assert probe["classes"] == 18  # the 17 public operators and the sensor were really imported
    assert "airflow_flowservice.operators.runs" in probe["loaded"]
    assert [m for m in HEAVY if m in probe["loaded"]] == []
    assert [m for m in probe["loaded"] if m not in LIGHT and not m.startswith("airflow_flowservice.operators.")] == []


def test_the_pytest_plugin_loads_neither_airflow_nor_the_emulator() -> None:
    """pytest loads the plugin in every session where the package is installed: it must cost nothing."""
    probe = (
        "import json, sys\n"
        "import airflow_flowservice.testing.pytest_plugin\n"
        "heavy = ('airflow', 'fastapi', 'uvicorn', 'httpx', 'pydantic', 'airflow_flowservice.testing.emulator')\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in heavy or m.startswith(heavy[-1]))))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert json.loads(out.strip().splitlines()[-1]) == []


def test_an_airflow_older_than_3_0_is_refused_at_import() -> None:
    probe = (
        "import importlib.metadata as md\n"
        "real = md.version\n"
        "md.version = lambda name: '2.10.5' if name == 'apache-airflow-core' else real(name)\n"
        "import airflow_flowservice\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode != 0
    assert (
        "RuntimeError: The package airflow-provider-flowservice:0.1.0 needs Apache Airflow 3.0.0+ (this is 2.10.5)"
        in result.stderr
    )
