"""Loaded models, kept per process in a bounded LRU cache (loading costs 0.2-3 s).

Nothing on the hot path talks to the MLflow store once a model is cached. A deleted
model is evicted; a model's files never change after training, so nothing else is.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from flask import current_app

DEFAULT_SIZE = 16


class ModelCache:
    def __init__(self, size: int = DEFAULT_SIZE):
        self.size = size
        self._models: OrderedDict[tuple[int, str], object] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, model_id: int, uri: str, load):
        key = (model_id, uri)
        with self._lock:
            if key in self._models:
                self._models.move_to_end(key)
                return self._models[key]
        loaded = load(uri)  # outside the lock: loading is slow and other models keep serving
        with self._lock:
            self._models[key] = loaded
            self._models.move_to_end(key)
            while len(self._models) > self.size:
                self._models.popitem(last=False)
        return loaded

    def evict(self, model_id: int) -> None:
        with self._lock:
            for key in [k for k in self._models if k[0] == model_id]:
                del self._models[key]

    def __len__(self) -> int:
        return len(self._models)


def model_cache() -> ModelCache:
    return current_app.extensions["model_cache"]


def init_model_cache(app) -> None:
    app.extensions["model_cache"] = ModelCache(int(app.config.get("MODEL_CACHE_SIZE", DEFAULT_SIZE)))
