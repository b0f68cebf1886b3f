"""The runs layer: what happens to one on-demand run, as plain functions and small classes.

- :mod:`.windows`: the window of a run, from the DAG run's data interval unless given;
- :mod:`.start`: starting a window's run exactly once (adopting a run that already exists);
- :mod:`.judge`: statuses, metrics and the failed-records policy;
- :mod:`.poll`: the two poll loops, in the worker (sync) and in the triggerer (async);
- :mod:`.wait`: the one wait path the run operators and the sensor share (announce, judge,
  poll or defer, resume).

Nothing here imports the hook at run time: callers pass theirs in.
"""
