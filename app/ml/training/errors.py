"""Domain errors of the training engine, each with an HTTP-ish status and a human message."""

from __future__ import annotations

from app.ml.errors import ServiceError


class TrainingError(ServiceError):
    """Base class: `status` maps to HTTP, `message` is shown to the user, `errors` gives details."""

    status = 500


class TrainingRejected(TrainingError):
    """The request cannot be trained (unknown target, one class, no usable feature...): 422."""

    status = 422


class TrainingFailed(TrainingError):
    """Every candidate failed, or the search produced nothing usable in time."""

    status = 500


class TrainingCancelled(TrainingError):
    """should_stop() asked to stop before any candidate finished."""

    status = 409
