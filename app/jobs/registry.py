"""Job functions by kind: plain importable functions of (job_id, ctx).

A job process finds its function again by import path, so any backend (a
spawned child, a Celery worker) can run a kind registered by a module it imports.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

JobFunction = Callable[..., "dict | None"]


@dataclass(frozen=True)
class Registered:
    kind: str
    function: JobFunction
    path: str  # "package.module:function"


_REGISTRY: dict[str, Registered] = {}


class UnknownJobKind(LookupError):
    status = 500

    def __init__(self, kind: str):
        super().__init__(f"No job function is registered for kind {kind!r}.")
        self.message = str(self)


def job_function(kind: str) -> Callable[[JobFunction], JobFunction]:
    """Register `fn(job_id, ctx) -> dict | None` as the function that runs jobs of `kind`."""

    def register(fn: JobFunction) -> JobFunction:
        if "<locals>" in fn.__qualname__:
            raise ValueError("A job function must be importable: define it at module level.")
        _REGISTRY[kind] = Registered(kind, fn, f"{fn.__module__}:{fn.__qualname__}")
        return fn

    return register


def registered(kind: str) -> Registered:
    try:
        return _REGISTRY[kind]
    except KeyError:
        raise UnknownJobKind(kind) from None


def kinds() -> list[str]:
    return sorted(_REGISTRY)


def load(path: str) -> JobFunction:
    """Import the function at "module:qualname" (in a job process)."""
    module_name, _, qualname = path.partition(":")
    target = importlib.import_module(module_name)
    for part in qualname.split("."):
        target = getattr(target, part)
    return target
