"""Experiment tracking behind a port: an MLflow adapter and an in-memory one for tests.

A job is a parent run; each candidate a child run; each kept model a child run holding the
model (skops format, never pickle). The overall best is registered with alias `champion`.
Models are loaded with our own allow-list of types, never the list stored in the model.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import itertools
import os
import re
import tempfile
import threading
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from app.ml.errors import ServiceError

CHAMPION = "champion"
# Every type a saved model may contain beyond skops' defaults: what our pipelines are made of.
TRUSTED_TYPES = frozenset({
    "app.ml.training.transformers.InputCaster",
    "app.ml.training.transformers.LogTarget",
    "app.ml.training.transformers.SupportVectorClassifier",
    "app.ml.training.transformers.WeightedEnsemble",
    "functools.partial",
    "numpy.dtype",
    "sklearn.calibration._CalibratedClassifier",  # the SVM's probabilities (Platt scaling)
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.model_selection._split.KFold",  # a target encoder's seeded splitter
    "sklearn.model_selection._split.StratifiedKFold",
    "sklearn.tree._tree.Tree",
    "sklearn.utils.validation.check_array",
})


class ModelLoadRefused(ServiceError):
    """A model file holds a type we do not trust; it is not loaded."""

    status = 422

    def __init__(self, types: list[str]):
        super().__init__(f"The model contains untrusted types: {', '.join(types)}.")


def registered_model_name(dataset_id: Any, target: str) -> str:
    """One Model Registry name per dataset and target (safe characters only)."""
    return f"dataset-{dataset_id}-{re.sub(r'[^A-Za-z0-9_.-]+', '_', target)[:60]}"


class Tracker(Protocol):
    """What the training engine needs from experiment tracking."""

    def start_job(self, name: str, params: dict, tags: dict) -> str: ...
    def log_candidate(self, parent_id: str, name: str, params: dict, metrics: dict,
                      tags: dict) -> str: ...
    def log_model(self, parent_id: str, family: str, model: Any, input_example: pd.DataFrame,
                  metrics: dict, params: dict, tags: dict) -> tuple[str, str]: ...
    def register(self, model_uri: str, name: str) -> str: ...
    def set_champion(self, name: str, version: str) -> None: ...
    def end_job(self, parent_id: str, status: str, metrics: dict) -> None: ...


class InMemoryTracker:
    """Keeps runs, models and the registry in dicts (unit tests, dry runs)."""

    def __init__(self):
        self.runs: dict[str, dict] = {}
        self.models: dict[str, Any] = {}
        self.registry: dict[str, list[str]] = {}
        self.aliases: dict[tuple[str, str], str] = {}
        self._ids = itertools.count(1)

    def _run(self, parent, name, params, metrics, tags) -> str:
        run_id = f"run-{next(self._ids)}"
        self.runs[run_id] = {"parent": parent, "name": name, "params": dict(params),
                             "metrics": dict(metrics), "tags": dict(tags), "status": "RUNNING"}
        return run_id

    def start_job(self, name, params, tags):
        return self._run(None, name, params, {}, tags)

    def log_candidate(self, parent_id, name, params, metrics, tags):
        run_id = self._run(parent_id, name, params, metrics, tags)
        self.runs[run_id]["status"] = "FINISHED"
        return run_id

    def log_model(self, parent_id, family, model, input_example, metrics, params, tags):
        run_id = self.log_candidate(parent_id, f"best {family}", params, metrics, tags)
        uri = f"memory://{run_id}/model"
        self.models[uri] = model
        return run_id, uri

    def register(self, model_uri, name):
        versions = self.registry.setdefault(name, [])
        versions.append(model_uri)
        version = str(len(versions))
        self.set_champion(name, version)
        return version

    def set_champion(self, name, version):
        self.aliases[(name, CHAMPION)] = version

    def end_job(self, parent_id, status, metrics):
        self.runs[parent_id]["status"] = status
        self.runs[parent_id]["metrics"].update(metrics)

    def load_model(self, uri: str):
        return self.models[uri]


def _plain_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Input example with plain dtypes MLflow's schema understands (nullable → float/object)."""
    out = {}
    for name, col in frame.items():
        if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
            out[name] = col.astype("float64")
        elif pd.api.types.is_datetime64_any_dtype(col):
            out[name] = col.astype(str).astype(object)
        else:
            out[name] = col.astype(object).where(col.notna(), None)
    return pd.DataFrame(out)


def pip_requirements() -> list[str]:
    """Exact versions of what a saved model needs (explicit: MLflow's inference is slow)."""
    from importlib.metadata import version
    return [f"{pkg}=={version(pkg)}" for pkg in
            ("scikit-learn", "skops", "numpy", "pandas", "scipy", "mlflow")]


class MlflowTracker:
    """MLflow adapter: SQLite (or any) tracking store, explicit artifact root, skops models."""

    _lock = threading.Lock()  # the fluent log_model API keeps global state

    def __init__(self, tracking_uri: str, artifact_root: str | os.PathLike,
                 experiment: str = "csv-analyzer"):
        from mlflow import MlflowClient
        self.tracking_uri = tracking_uri
        self.client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        exp = self.client.get_experiment_by_name(experiment)
        if exp is None:
            # A tracking server keeps the artifacts itself (--serve-artifacts: mlflow-artifacts:/...,
            # reachable from every machine); a local path would only exist on this one.
            location = None if is_server_uri(tracking_uri) else \
                (Path(artifact_root).resolve() / experiment).as_uri()
            self.experiment_id = self.client.create_experiment(experiment, artifact_location=location)
        else:
            self.experiment_id = exp.experiment_id
        self._requirements = pip_requirements()

    def _run(self, parent, name, params, metrics, tags) -> str:
        from mlflow.entities import Metric, Param
        all_tags = {k: str(v) for k, v in tags.items()}
        if parent:
            all_tags["mlflow.parentRunId"] = parent
        run = self.client.create_run(self.experiment_id, run_name=name, tags=all_tags)
        run_id = run.info.run_id
        self.client.log_batch(
            run_id,
            metrics=[Metric(k, float(v), 0, 0) for k, v in metrics.items()
                     if v is not None and np.isfinite(v)],
            params=[Param(k, str(v)[:6000]) for k, v in params.items()])
        return run_id

    def start_job(self, name, params, tags):
        return self._run(None, name, params, {}, tags)

    def log_candidate(self, parent_id, name, params, metrics, tags):
        run_id = self._run(parent_id, name, params, metrics, tags)
        self.client.set_terminated(run_id, "FINISHED")
        return run_id

    def log_model(self, parent_id, family, model, input_example, metrics, params, tags):
        import mlflow
        import mlflow.sklearn
        from mlflow.models import infer_signature
        run_id = self._run(parent_id, f"best {family}", params, metrics, tags)
        example = _plain_frame(input_example)
        signature = infer_signature(example, model.predict(input_example))
        with self._lock:
            previous = mlflow.get_tracking_uri()
            mlflow.set_tracking_uri(self.tracking_uri)
            try:
                with mlflow.start_run(run_id=run_id):
                    info = mlflow.sklearn.log_model(
                        model, name="model", serialization_format="skops",
                        skops_trusted_types=sorted(TRUSTED_TYPES), signature=signature,
                        input_example=example, pip_requirements=self._requirements)
            except OSError as exc:
                if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                    from app.ml.errors import ServiceError

                    raise ServiceError("The server is out of storage space, so the model was not saved. "
                                       "Try again later or ask the administrator to free space.",
                                       status=507) from exc
                raise
            finally:
                mlflow.set_tracking_uri(previous)
        return run_id, info.model_uri

    def register(self, model_uri, name):
        from mlflow.exceptions import MlflowException
        with contextlib.suppress(MlflowException):  # already registered
            self.client.create_registered_model(name)
        model_id = model_uri.removeprefix("models:/") if model_uri.startswith("models:/m-") \
            else None
        logged = self.client.get_logged_model(model_id) if model_id else None
        # The registry resolves models:/ sources through the global tracking URI, so pass the
        # model's own artifact location instead.
        version = self.client.create_model_version(
            name, source=logged.artifact_location if logged else model_uri,
            run_id=logged.source_run_id if logged else None, model_id=model_id)
        self.set_champion(name, version.version)
        return str(version.version)

    def set_champion(self, name, version):
        self.client.set_registered_model_alias(name, CHAMPION, str(version))

    def end_job(self, parent_id, status, metrics):
        from mlflow.entities import Metric
        if metrics:
            self.client.log_batch(parent_id, metrics=[
                Metric(k, float(v), 0, 0) for k, v in metrics.items() if v is not None])
        self.client.set_terminated(parent_id, status)

    def load_model(self, uri: str):
        return load_model(uri, self.tracking_uri)


class ModelTampered(ServiceError):
    """The model's files are not those recorded when it was saved: nothing was loaded."""

    status = 503

    def __init__(self, uri: str):
        super().__init__("This model's files changed since it was saved, so it was not loaded. Retrain it.")
        self.uri = uri


def directory_digest(folder: Path) -> str:
    """SHA-256 over every file's relative path and bytes, in a fixed order."""
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + b"\0")
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        digest.update(b"\0")
    return digest.hexdigest()


def model_digest(uri: str, tracking_uri: str | None = None) -> str:
    """The digest of a saved model's files, recorded at training and checked at every load."""
    import mlflow.artifacts
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(mlflow.artifacts.download_artifacts(
            artifact_uri=artifact_location(uri, tracking_uri), dst_path=tmp, tracking_uri=tracking_uri))
        return directory_digest(local if local.is_dir() else local.parent)


def load_model(uri: str, tracking_uri: str | None = None, expected_sha256: str | None = None):
    """Load a model logged by MlflowTracker (runs:/, models:/, file paths) with our allow-list.

    With `expected_sha256`, the downloaded files must match the digest recorded at training
    (ModelTampered otherwise, before anything is read). The skops file is checked against
    TRUSTED_TYPES before anything is constructed; the trusted list written in the model's
    own MLmodel file is ignored.
    """
    import mlflow.artifacts
    import skops.io
    location = artifact_location(uri, tracking_uri)
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=location, dst_path=tmp,
                                                         tracking_uri=tracking_uri))
        if expected_sha256 and directory_digest(local if local.is_dir() else local.parent) != expected_sha256:
            raise ModelTampered(uri)
        files = [local] if local.is_file() else list(local.rglob("*.skops"))
        if not files:
            raise FileNotFoundError(f"no skops model file under {uri}")
        untrusted = skops.io.get_untrusted_types(file=files[0])
        refused = sorted(set(untrusted) - TRUSTED_TYPES)
        if refused:
            raise ModelLoadRefused(refused)
        return skops.io.load(files[0], trusted=untrusted)


def is_server_uri(tracking_uri: str | None) -> bool:
    """An MLflow tracking server (http, https), not a store this process opens itself."""
    return bool(tracking_uri) and tracking_uri.split(":", 1)[0].lower() in ("http", "https")


def artifact_location(uri: str, tracking_uri: str | None) -> str:
    """models:/ URIs resolved through *our* store (MLflow would use the global tracking URI)."""
    if not uri.startswith("models:/"):
        return uri
    from mlflow import MlflowClient
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    ref = uri.removeprefix("models:/").strip("/")
    if ref.startswith("m-"):
        return client.get_logged_model(ref).artifact_location
    if "@" in ref:
        name, alias = ref.split("@", 1)
        version = client.get_model_version_by_alias(name, alias)
    else:
        name, number = ref.rsplit("/", 1)
        version = client.get_model_version(name, number)
    if version.model_id:
        return client.get_logged_model(version.model_id).artifact_location
    return version.source
