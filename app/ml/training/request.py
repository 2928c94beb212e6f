"""The search request and result types, with every field bounded."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from app.ml.training.errors import TrainingRejected
from app.ml.training.families import FAMILIES, too_many_rows
from app.ml.training.metrics import DEFAULT_METRIC, metrics_for

MIN_BUDGET_S, MAX_BUDGET_S = 5, 3600
MAX_CANDIDATES = 500


@dataclass
class SearchRequest:
    """A training request as plain values (API.md, POST /training-jobs)."""

    target: str
    task: str | None = None
    metric: str | None = None
    time_budget_s: float = 60
    max_candidates: int | None = None
    families: list[str] | None = None
    seed: int = 0
    exclude_columns: list[str] | None = None
    test_size: float = 0.2
    tags: dict = field(default_factory=dict)  # user, dataset, version: copied to every run
    registered_name: str | None = None  # Model Registry name for the champion
    # After the held-out measurement, refit the kept models on all rows when time allows.
    refit_full: bool = True

    def checked(self, task: str, n_rows: int = 0) -> str:
        """Validate bounds for the resolved task (and `n_rows` training rows, when given);
        return the metric to optimise."""
        errors: dict[str, list[str]] = {}
        if not MIN_BUDGET_S <= self.time_budget_s <= MAX_BUDGET_S:
            errors["time_budget_s"] = [f"must be between {MIN_BUDGET_S} and {MAX_BUDGET_S}"]
        if self.max_candidates is not None and not 1 <= self.max_candidates <= MAX_CANDIDATES:
            errors["max_candidates"] = [f"must be between 1 and {MAX_CANDIDATES}"]
        metric = self.metric or DEFAULT_METRIC[task]
        if metric not in metrics_for(task):
            errors["metric"] = [f"must be one of {', '.join(metrics_for(task))} for {task}"]
        unknown = sorted(set(self.families or []) - set(FAMILIES[task]))
        if unknown:
            errors["models"] = [f"unknown for {task}: {', '.join(unknown)}; "
                                f"choose from {', '.join(FAMILIES[task])}"]
        elif self.families:
            reasons = [too_many_rows(FAMILIES[task][n], n_rows) for n in self.families]
            if all(reasons):
                errors["models"] = [r for r in reasons if r]
        if not 0.05 <= self.test_size <= 0.5:
            errors["test_size"] = ["must be between 0.05 and 0.5"]
        if not isinstance(self.seed, int) or not 0 <= self.seed < 2**32:
            errors["seed"] = ["must be an integer between 0 and 2**32 - 1"]
        if errors:
            raise TrainingRejected("The training request is not valid.", errors)
        return metric


@dataclass
class KeptModel:
    """The refitted best model of one family (or the ensemble) and everything shown about it."""

    family: str
    algorithm: str
    pipeline: object
    params: dict
    cv_score: float
    cv_metrics: dict
    fit_time_s: float
    test_metrics: dict = field(default_factory=dict)
    test_score: float | None = None
    baseline: dict = field(default_factory=dict)
    verdict: str = ""
    charts: dict = field(default_factory=dict)
    feature_importance: list = field(default_factory=list)
    trained_rows: int = 0
    fit_power: float = 1.0  # its family's (see Family.fit_power)
    # True when the pipeline was refitted on dev + held-out rows after its held-out metrics
    # were measured (those metrics describe the dev-rows fit); refit_note says why not.
    refit_full: bool = False
    refit_note: str = ""
    model_uri: str | None = None
    run_id: str | None = None


@dataclass
class SearchResult:
    """Everything a finished search returns; `models` is keyed by family name."""

    task: str
    reason: str
    metric: str
    greater_is_better: bool
    leaderboard: list[dict]
    models: dict[str, KeptModel]
    best_family: str
    features: list[dict]
    excluded: list[dict]
    classes: list | None
    class_weight: str | None
    warnings: list[str]
    candidates: list[dict]
    n_train: int
    n_test: int
    dropped_missing_target: int
    elapsed_s: float
    stopped_by_deadline: bool
    parent_run_id: str | None = None
    registered_name: str | None = None
    registered_version: str | None = None
    input_example: pd.DataFrame | None = None

    @property
    def best(self) -> KeptModel:
        return self.models[self.best_family]


def natural(value: float, metric: str, greater_is_better: bool) -> float | None:
    """Back from the internal higher-is-better score to the metric's own units."""
    if value is None or not np.isfinite(value):
        return None
    return float(value if greater_is_better else -value)
