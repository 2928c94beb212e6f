"""SQLAlchemy models, one module per feature."""

from app.models.dataset import Dataset, DatasetVersion
from app.models.drift import DriftReference
from app.models.job import Job
from app.models.request_stats import PredictionStat, RequestStat
from app.models.trained_model import PredictionLog, TrainedModel
from app.models.user import ApiToken, User, UserSession

__all__ = [
    "ApiToken", "Dataset", "DatasetVersion", "DriftReference", "Job", "PredictionLog",
    "PredictionStat", "RequestStat", "TrainedModel", "User", "UserSession",
]
