"""Import every module that adds routes to the monitoring blueprints, then hand them out."""

from __future__ import annotations

import importlib
import pkgutil

from app.blueprints import monitoring
from app.blueprints.monitoring.blueprints import api_bp, bp

ROUTE_MODULES = ("views", "api", "drift_views", "drift_api")


def load() -> tuple:
    """Import the route modules that exist (each registers its routes on import)."""
    present = {m.name for m in pkgutil.iter_modules(monitoring.__path__)}
    for name in ROUTE_MODULES:
        if name in present:
            importlib.import_module(f"app.blueprints.monitoring.{name}")
    return bp, api_bp
