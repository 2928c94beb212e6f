"""Account erasure beyond datasets: jobs, models, prediction logs and everything in MLflow.

Registered with add_account_eraser, so deleting an account (by its owner or an admin)
runs it before the user row goes. MLflow runs are found by the `user` tag every run of a
training job carries and by the run ids our rows recorded; they, their logged models,
their registered model versions and their artifact folders are removed for good (the
SQL store's hard delete, as `mlflow gc` does), not just marked deleted.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

from flask import current_app
from sqlalchemy import select

from app import storage
from app.extensions import db
from app.models import Job, PredictionLog, TrainedModel, User
from app.telemetry import forget_model

log = logging.getLogger(__name__)
USER_TAG = "user"  # app.blueprints.training.job tags every run with the owner's id
OUTPUT_KEYS = ("output_path", "output_paths")  # files a job wrote under DATA_DIR (batch scoring)


def erase_models_and_jobs(user: User) -> None:
    """Every job, model, prediction log and MLflow trace of `user` (flushes; the caller commits)."""
    from app import jobs

    user_jobs = list(db.session.scalars(select(Job).where(Job.user_id == user.id)))
    for job in user_jobs:
        if job.is_active:
            with contextlib.suppress(Exception):  # it may end on its own meanwhile
                jobs.cancel(job)
    models = list(db.session.scalars(select(TrainedModel).where(TrainedModel.user_id == user.id)))
    run_ids = {m.mlflow_run_id for m in models if m.mlflow_run_id}
    run_ids |= {(j.result or {}).get("mlflow_run_id") for j in user_jobs} - {None}
    model_uris = {m.model_uri for m in models if m.model_uri}
    for job in user_jobs:
        _remove_outputs(job.request or {}, job.result or {})
    db.session.execute(db.delete(PredictionLog).where(PredictionLog.user_id == user.id))
    db.session.execute(db.delete(TrainedModel).where(TrainedModel.user_id == user.id))
    db.session.execute(db.update(Job).where(Job.retry_of_id.in_([j.id for j in user_jobs]))
                       .values(retry_of_id=None))
    db.session.execute(db.delete(Job).where(Job.user_id == user.id))
    _sweep_user_rows(user)
    db.session.flush()
    cache = current_app.extensions.get("model_cache")
    for model in models:
        if cache is not None:
            cache.evict(model.id)
        forget_model(model.id)
    if (run_ids or models or user_jobs) and _store_exists(current_app.config):
        erase_tracking(current_app.config, user.id, run_ids, model_uris)  # runs come only from jobs


def _sweep_user_rows(user: User) -> None:
    """Rows of any other table keyed by user_id (features added later included), children first."""
    for table in reversed(db.metadata.sorted_tables):
        if table.name != User.__tablename__ and "user_id" in table.c:
            db.session.execute(table.delete().where(table.c.user_id == user.id))


def _remove_outputs(request: dict, result: dict) -> None:
    """Files a job wrote under DATA_DIR: its folder (batch scoring) and any output paths."""
    folder = request.get("folder")
    if isinstance(folder, str) and folder:
        with contextlib.suppress(ValueError):
            storage.remove_tree(folder)
    for key in OUTPUT_KEYS:
        value = result.get(key)
        for rel in value if isinstance(value, list) else [value]:
            if isinstance(rel, str) and rel:
                with contextlib.suppress(ValueError):
                    storage.remove_file(storage.absolute(rel))


def _store_exists(config) -> bool:
    uri = config["MLFLOW_TRACKING_URI"]
    return not uri.startswith("sqlite:///") or Path(uri.removeprefix("sqlite:///")).exists()


def erase_tracking(config, user_id: int, run_ids: set[str], model_uris: set[str] = frozenset()) -> dict:
    """Remove the user's runs (and their child runs), logged models, registry entries, artifacts."""
    from mlflow import MlflowClient
    from mlflow.entities import ViewType

    uri = config["MLFLOW_TRACKING_URI"]
    root = Path(config["MLFLOW_ARTIFACT_ROOT"]).resolve()
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment_ids = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ALL)]
    if not experiment_ids:
        return {"runs": 0, "logged_models": 0, "model_versions": 0}
    runs = {r.info.run_id: r for r in _all(client.search_runs, experiment_ids,
                                           filter_string=f"tags.{USER_TAG} = '{int(user_id)}'",
                                           run_view_type=ViewType.ALL)}
    for run_id in set(run_ids) - set(runs):
        with contextlib.suppress(Exception):  # already gone
            runs[run_id] = client.get_run(run_id)
    for parent in list(runs):  # candidates and kept models are children of the job's run
        for child in _all(client.search_runs, experiment_ids,
                          filter_string=f"tags.`mlflow.parentRunId` = '{parent}'", run_view_type=ViewType.ALL):
            runs.setdefault(child.info.run_id, child)
    logged = [m for m in _all(client.search_logged_models, experiment_ids)
              if m.source_run_id in runs or f"models:/{m.model_id}" in model_uris]
    logged_ids = {m.model_id for m in logged}
    versions = _erase_registry(client, set(runs), logged_ids)
    tracking_store = client._tracking_client.store
    folders = [_artifact_folder(m.artifact_location, root) for m in logged]
    folders += [_artifact_folder(r.info.artifact_uri, root) for r in runs.values()]
    for model in logged:
        if hasattr(tracking_store, "_hard_delete_logged_model"):
            tracking_store._hard_delete_logged_model(model.model_id)
        else:  # a remote store: marked deleted; its `mlflow gc` removes it for good
            client.delete_logged_model(model.model_id)
    for run_id in runs:
        if hasattr(tracking_store, "_hard_delete_run"):
            tracking_store._hard_delete_run(run_id)
        else:
            client.delete_run(run_id)
    for folder in folders:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
    return {"runs": len(runs), "logged_models": len(logged), "model_versions": versions}


def _erase_registry(client, run_ids: set[str], logged_ids: set[str]) -> int:
    """Delete the user's model versions; a registered model left with none goes entirely."""
    mine = [v for v in _all(client.search_model_versions)
            if v.run_id in run_ids or (getattr(v, "model_id", None) in logged_ids)]
    names = {v.name for v in mine}
    for name in names:
        versions = list(_all(client.search_model_versions, filter_string=f"name = '{_quote(name)}'"))
        if all(v.run_id in run_ids or getattr(v, "model_id", None) in logged_ids for v in versions):
            client.delete_registered_model(name)  # its versions, aliases and tags with it
        else:
            for v in versions:
                if v.run_id in run_ids or getattr(v, "model_id", None) in logged_ids:
                    client.delete_model_version(name, v.version)
    return len(mine)


def _quote(name: str) -> str:
    return name.replace("'", "\\'")


def _all(search, *args, **kwargs):
    """Every page of an MLflow search."""
    token = None
    while True:
        page = search(*args, page_token=token, **kwargs)
        yield from page
        token = page.token
        if not token:
            return


def local_path(uri: str | None) -> Path | None:
    """The local folder of a file: URI or plain path; None for remote stores."""
    if not uri:
        return None
    if uri.startswith("file:"):
        return Path(unquote(urlparse(uri).path))
    if "://" in uri or uri.startswith(("models:", "runs:")):
        return None
    return Path(uri)


def _artifact_folder(uri: str | None, root: Path) -> Path | None:
    """The run's or logged model's own folder (the parent of .../artifacts), if under our root."""
    path = local_path(uri)
    if path is None:
        return None
    path = path.resolve()
    if path.name == "artifacts":
        path = path.parent
    if root not in path.parents:
        log.warning("erasure: artifact folder %s is outside the artifact root; left alone", path)
        return None
    return path
