"""One integration test against a real MLflow SQLite store (created once per session)."""

import os
import shutil
from pathlib import Path

import pytest
from mlflow import MlflowClient

from app.ml.tracking import CHAMPION, MlflowTracker, ModelLoadRefused, load_model
from app.ml.training import SearchRequest, run_search


def _empty_store(path: Path) -> None:
    """Copy an empty MLflow SQLite store from a per-version cache (creating one runs every
    migration, ~15 s on the shared machine), creating the cached copy the first time."""
    import mlflow

    cache = Path.home() / ".cache" / "csv-analyzer-tests" / f"mlflow-{mlflow.__version__}.db"
    if not cache.exists():
        cache.parent.mkdir(parents=True, exist_ok=True)
        scratch = cache.with_suffix(f".{os.getpid()}.tmp")
        MlflowClient(tracking_uri=f"sqlite:///{scratch}").search_experiments()
        scratch.replace(cache)
    shutil.copyfile(cache, path)


@pytest.fixture(scope="session")
def mlflow_tracker(tmp_path_factory):
    root = tmp_path_factory.mktemp("mlflow")
    _empty_store(root / "mlflow.db")
    return MlflowTracker(f"sqlite:///{root}/mlflow.db", root / "artifacts")


def test_models_are_logged_registered_and_reload_with_the_same_predictions(
        frame, kinds, mlflow_tracker):
    # 100 cities: more than one-hot takes, so the models hold a (seeded) target encoder
    frame["city"] = [f"city{i % 100}" for i in range(len(frame))]
    kinds["city"] = "categorical"
    request = SearchRequest(target="label", time_budget_s=60, max_candidates=3,
                            families=["logistic_regression", "decision_tree"],
                            tags={"user": "u1", "dataset": "9", "version": "1"},
                            registered_name="dataset-9-label")
    result = run_search(frame, kinds, request, on_progress=lambda p: None,
                        should_stop=lambda: False, tracker=mlflow_tracker)
    client, uri = mlflow_tracker.client, mlflow_tracker.tracking_uri
    rows = frame.drop(columns=["label"]).head(25)
    expected = list(result.best.pipeline.predict(rows))
    assert list(load_model(result.best.model_uri, uri).predict(rows)) == expected
    champion = load_model("models:/dataset-9-label@champion", uri)
    assert list(champion.predict(rows)) == expected
    version = client.get_model_version_by_alias("dataset-9-label", CHAMPION)
    assert str(version.version) == result.registered_version
    children = client.search_runs(
        [mlflow_tracker.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{result.parent_run_id}'")
    assert len(children) == len(result.candidates) + len(result.models)
    assert all(run.data.tags["dataset"] == "9" for run in children)
    parent = client.get_run(result.parent_run_id)
    assert parent.info.status == "FINISHED"


def test_a_ridge_of_log_target_on_yeo_johnson_numbers_reloads_with_the_same_predictions(
        frame, kinds, mlflow_tracker):
    from app.ml.training.candidates import fit_limited, make_pipeline
    from app.ml.training.families import REGRESSORS
    from app.ml.training.preprocessing import category_cardinality

    ridge = REGRESSORS["ridge"]
    features = {k: v for k, v in kinds.items() if k not in ("amount", "label")}
    X = frame[list(features)]
    pipe = make_pipeline(ridge, {**ridge.defaults, "numeric": "power", "target": "log"}, 0,
                         features, category_cardinality(X, features), "regression")
    fit_limited(pipe, X, frame["amount"].to_numpy())
    parent = mlflow_tracker.start_job("shaped ridge", {}, {"user": "u1"})
    _, uri = mlflow_tracker.log_model(parent, "ridge", pipe, X.head(5), {}, {}, {"user": "u1"})
    reloaded = load_model(uri, mlflow_tracker.tracking_uri)
    assert list(reloaded.predict(X.head(25))) == list(pipe.predict(X.head(25)))


def test_an_svm_with_its_probabilities_reloads_through_mlflow_with_the_same_ones(
        frame, kinds, mlflow_tracker):
    """Its Platt sigmoids are sklearn types outside skops' defaults: trusted by name."""
    from app.ml.training.candidates import fit_limited, make_pipeline
    from app.ml.training.families import CLASSIFIERS
    from app.ml.training.preprocessing import category_cardinality

    svm = CLASSIFIERS["support_vector_machine"]
    features = {k: v for k, v in kinds.items() if k not in ("amount", "label")}
    X = frame[list(features)]
    pipe = make_pipeline(svm, svm.defaults, 0, features, category_cardinality(X, features),
                         "classification")
    fit_limited(pipe, X, frame["label"].to_numpy(dtype=object))
    parent = mlflow_tracker.start_job("svm", {}, {"user": "u1"})
    _, uri = mlflow_tracker.log_model(parent, "svm", pipe, X.head(5), {}, {}, {"user": "u1"})
    reloaded = load_model(uri, mlflow_tracker.tracking_uri)
    assert (reloaded.predict_proba(X.head(25)) == pipe.predict_proba(X.head(25))).all()


def test_untrusted_types_are_refused(tmp_path):
    import skops.io

    path = tmp_path / "model.skops"
    skops.io.dump({"f": print}, path)  # a builtin function is not on our allow-list
    with pytest.raises(ModelLoadRefused):
        load_model(str(path))
