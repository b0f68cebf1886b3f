"""The dataflow layer: what the entity operators do, as plain functions taking a hook.

- :mod:`.catalog`: connection and flow specs, cached per process;
- :mod:`.credentials`: auth checks and auth params read from Airflow connections (masked);
- :mod:`.ensure`: create-or-reuse of one entity, and the checks before each create;
- :mod:`.create`: a whole dataflow from one config;
- :mod:`.publish`: publishing drafts in dependency order;
- :mod:`.delete`: deleting in reverse dependency order;
- :mod:`.preview`: rows and columns of an explore preview.

Nothing here imports Airflow or the hook at run time: the operators pass their hook in.
"""
