"""One store per resource (the state and rules of the Flow Service), sharing one ``state.EmulatorState``.

The routers of the same names in ``routers/`` map HTTP to these stores; ``app.build_stores`` builds
and wires them.
"""
