"""One FastAPI router per resource (``<resource>.router``), each over the store of the same name in
``stores/``; ``app.ROUTERS`` includes them all."""
