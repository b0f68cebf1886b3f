"""Import name that Airflow 3.3 derives from this distribution's name; the provider is ``airflow_flowservice``.

With ``[core] load_examples = True`` (Airflow's default), Airflow 3.3 looks for an ``example_dags``
folder in every installed provider. It finds the provider's module by turning the distribution name
into an import name (``airflow-provider-flowservice`` -> ``airflow_provider_flowservice``; see
``_add_provider_example_dags_to_bundle`` in ``airflow/dag_processing/bundles/manager.py`` and
apache/airflow#66305), and logs a ``ModuleNotFoundError`` traceback in every Airflow command when
that module does not exist. This module exists so the import succeeds. It is a plain module, not a
package (no ``__path__``), so Airflow adds no example-DAG bundle: the example DAGs of this provider
live in the repository's ``example_dags/`` and need connections, so they are not loaded into
every Airflow that installs the provider.
"""
