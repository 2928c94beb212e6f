"""AutoML engine: detect the task, preview a request, search models within a time budget."""

from app.ml.training.errors import (
    TrainingCancelled,
    TrainingError,
    TrainingFailed,
    TrainingRejected,
)
from app.ml.training.families import FAMILIES
from app.ml.training.metrics import CLASSIFICATION_METRICS, DEFAULT_METRIC, REGRESSION_METRICS
from app.ml.training.preview import preview_training
from app.ml.training.request import KeptModel, SearchRequest, SearchResult
from app.ml.training.search import run_search
from app.ml.training.task import detect_task

__all__ = [
    "CLASSIFICATION_METRICS",
    "DEFAULT_METRIC",
    "FAMILIES",
    "REGRESSION_METRICS",
    "KeptModel",
    "SearchRequest",
    "SearchResult",
    "TrainingCancelled",
    "TrainingError",
    "TrainingFailed",
    "TrainingRejected",
    "detect_task",
    "preview_training",
    "run_search",
]
