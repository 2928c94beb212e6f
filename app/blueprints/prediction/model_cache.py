"""Loaded models, kept per process in a bounded LRU cache (loading costs 0.2-3 s).

Nothing on the hot path talks to the MLflow store once a model is cached. A deleted
model is evicted; a model's files never change after training, so nothing else is.
Each cached model also keeps its card: what predicting needs from its database row
(inputs, classes, task), which never changes after training either, so a prediction
reads only the row's owner and file location (its JSON columns are not decoded again).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select

from app.errors import NotFound
from app.extensions import db
from app.ml.fast_predict import fast_model
from app.models import TrainedModel

DEFAULT_SIZE = 16


@dataclass(frozen=True)
class ModelCard:
    """The immutable part of a model's row that predicting needs."""

    id: int
    user_id: int
    task: str
    features: list
    classes: list | None
    model_uri: str | None
    files_sha256: str | None


class ModelCache:
    def __init__(self, size: int = DEFAULT_SIZE):
        self.size = size
        self._models: OrderedDict[tuple[int, str], object] = OrderedDict()
        self._cards: OrderedDict[tuple[int, str | None], ModelCard] = OrderedDict()
        self._lock = threading.Lock()

    def card(self, user_id: int, model_id: int) -> ModelCard:
        """The model's card if `user_id` owns it (NotFound otherwise): one narrow query when cached."""
        row = db.session.execute(select(TrainedModel.user_id, TrainedModel.model_uri)
                                 .where(TrainedModel.id == model_id)).first()
        if row is None or row.user_id != user_id:
            raise NotFound("No such model.")
        key = (model_id, row.model_uri)
        with self._lock:
            card = self._cards.get(key)
            if card is not None:
                self._cards.move_to_end(key)
                return card
        model = db.session.get(TrainedModel, model_id)
        if model is None or model.user_id != user_id:
            raise NotFound("No such model.")
        card = ModelCard(model.id, model.user_id, model.task, model.features, model.classes,
                         model.model_uri, model.files_sha256)
        with self._lock:
            self._cards[(model_id, model.model_uri)] = card
            while len(self._cards) > self.size * 8:  # cards are small
                self._cards.popitem(last=False)
        return card

    def get(self, model_id: int, uri: str, load):
        key = (model_id, uri)
        with self._lock:
            if key in self._models:
                self._models.move_to_end(key)
                return self._models[key]
        loaded = load(uri)  # outside the lock: loading is slow and other models keep serving
        fast_model(loaded)  # its few-row form, compiled once here rather than on a request
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
            for key in [k for k in self._cards if k[0] == model_id]:
                del self._cards[key]

    def __len__(self) -> int:
        return len(self._models)


def model_cache() -> ModelCache:
    return current_app.extensions["model_cache"]


def init_model_cache(app) -> None:
    app.extensions["model_cache"] = ModelCache(int(app.config.get("MODEL_CACHE_SIZE", DEFAULT_SIZE)))
