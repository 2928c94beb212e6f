"""The training pages through the test client: train form and preview, job status, models, experiments."""

from __future__ import annotations

import hashlib

import pytest

from tests.conftest import csrf_token_from

HX = {"HX-Request": "true"}


@pytest.fixture
def user(client, make_user, login):
    make_user()
    login()
    return client


@pytest.fixture
def token(user):
    return csrf_token_from(user.get("/").text)


@pytest.fixture
def penguins(user, token):
    """The shipped sample dataset (Palmer penguins), loaded as the home page's button does."""
    r = user.post("/datasets/sample", data={"csrf_token": token})
    assert r.status_code == 303
    return int(r.headers["Location"].rsplit("/", 1)[1])


def post_hx(client, url, token, data=None):
    return client.post(url, data=data or {}, headers={**HX, "X-CSRFToken": token})


def is_page(html: str) -> bool:
    return "<html" in html


def add_job(app, user_id: int, dataset_id: int, status: str = "succeeded", **fields) -> dict:
    """A training job and, when it succeeded, two kept models: rows written directly (no training)."""
    from app.extensions import db
    from app.models import Job, TrainedModel
    from app.models.user import utcnow

    with app.app_context():
        request = {"dataset_id": dataset_id, "version": 1, "target": "species", "time_budget_s": 15,
                   "seed": 0, "task": None, "metric": None, "models": None, "exclude_columns": []}
        job = Job(user_id=user_id, kind="training", status=status, request=request,
                  request_key=hashlib.sha256(f"{status}{fields}".encode()).hexdigest(), time_budget_s=15,
                  started_at=utcnow(), heartbeat_at=utcnow(), worker="elsewhere", **fields)
        db.session.add(job)
        db.session.flush()
        ids = []
        if status == "succeeded":
            for family, algorithm, score in (("logistic_regression", "Logistic regression", 0.97),
                                             ("decision_tree", "Decision tree", 0.91)):
                model = TrainedModel(
                    user_id=user_id, job_id=job.id, dataset_id=dataset_id, version=1, family=family,
                    algorithm=algorithm, task="classification", target="species", metric="accuracy",
                    features=[{"name": "island", "kind": "categorical"}], classes=["Adelie", "Gentoo"],
                    metrics={"accuracy": score, "log_loss": 0.2}, cv_score=score - 0.01, test_score=score,
                    baseline={"accuracy": 0.55, "log_loss": 0.69}, verdict="Much better than guessing.",
                    feature_importance=[{"feature": "island", "importance": 0.3}],
                    charts={"confusion_matrix": {"labels": ["Adelie", "Gentoo"], "matrix": [[30, 1], [2, 25]]},
                            "roc_curve": [{"class": "Gentoo", "fpr": [0, 0.1, 1], "tpr": [0, 0.9, 1]}]},
                    fit_time_s=0.4, trained_rows=270, mlflow_run_id="abc123", is_champion=score > 0.95)
                db.session.add(model)
                db.session.flush()
                ids.append(model.id)
            job.finished_at = utcnow()
            job.progress = {"fraction": 1.0, "candidates_done": 6, "best_score": 0.97}
            job.result = {"task": "classification", "reason": "text labels → classification",
                          "metric": "accuracy", "best_model_id": ids[0], "mlflow_run_id": "parent-run-1",
                          "warnings": [], "leaderboard": [
                              {"model_id": ids[0], "family": "logistic_regression", "algorithm": "Logistic regression",
                               "cv_score": 0.96, "test_score": 0.97, "fit_time_s": 0.4},
                              {"model_id": ids[1], "family": "decision_tree", "algorithm": "Decision tree",
                               "cv_score": 0.9, "test_score": 0.91, "fit_time_s": 0.1}]}
        db.session.commit()
        return {"job": job.id, "models": ids}


@pytest.fixture
def user_id(app):
    from app.models import User

    with app.app_context():
        from app.extensions import db

        return db.session.query(User).filter_by(email="ada@example.com").one().id


# --- train page and preview -------------------------------------------------------------------

def test_train_page_lists_the_columns_and_is_linked_from_the_dataset(user, penguins):
    page = user.get(f"/datasets/{penguins}/train")
    assert page.status_code == 200 and is_page(page.text)
    assert '<option value="species"' in page.text and 'name="time_budget_s"' in page.text
    assert f'href="/datasets/{penguins}/train"' in user.get(f"/datasets/{penguins}").text


def test_preview_fragment_says_which_task_and_why(user, token, penguins):
    r = post_hx(user, f"/datasets/{penguins}/train/preview", token, {"target": "species"})
    assert r.status_code == 200 and not is_page(r.text)
    assert "HX-Request" in r.headers["Vary"]
    assert 'id="detected-task">classification<' in r.text
    assert "→ classification" in r.text  # the reason
    assert 'id="class-balance"' in r.text and "Adelie" in r.text
    assert 'id="task-options" hx-swap-oob="true"' in r.text and 'value="logistic_regression"' in r.text

    r = post_hx(user, f"/datasets/{penguins}/train/preview", token, {"target": "body_mass_g"})
    assert 'id="detected-task">regression<' in r.text and 'value="ridge"' in r.text
    assert 'id="class-balance"' not in r.text


def test_preview_keeps_the_choices_and_overrides(user, token, penguins):
    r = post_hx(user, f"/datasets/{penguins}/train/preview", token,
                {"target": "species", "exclude_columns": "island", "models": "decision_tree", "metric": "f1_macro"})
    assert 'value="island" checked' in r.text and "excluded by you" in r.text
    assert 'value="decision_tree" id="family-decision_tree" checked' in r.text
    assert '<option value="f1_macro" selected>' in r.text
    r = post_hx(user, f"/datasets/{penguins}/train/preview", token, {"target": "year", "task": "regression"})
    assert 'id="detected-task">regression<' in r.text and "chosen by you" in r.text


def test_preview_refusal_is_a_422_fragment_with_the_reason(user, token, penguins):
    r = post_hx(user, f"/datasets/{penguins}/train/preview", token, {"target": "species", "task": "regression"})
    assert r.status_code == 422 and not is_page(r.text)
    assert 'id="preview-error"' in r.text and "numeric target" in r.text


def test_preview_without_javascript_renders_the_page(user, token, penguins):
    r = user.get(f"/datasets/{penguins}/train?target=species")
    assert is_page(r.text) and 'id="detected-task">classification<' in r.text
    r = user.post(f"/datasets/{penguins}/train/preview", data={"target": "species", "csrf_token": token})
    assert r.status_code == 200 and is_page(r.text) and "→ classification" in r.text


def test_posts_need_the_csrf_token(user, penguins, app, user_id):
    assert user.post(f"/datasets/{penguins}/train/preview", data={"target": "species"}, headers=HX).status_code == 400
    assert user.post(f"/datasets/{penguins}/train", data={"target": "species"}, headers=HX).status_code == 400
    ids = add_job(app, user_id, penguins)
    assert user.post(f"/models/{ids['models'][1]}/promote").status_code == 400
    assert user.post(f"/models/{ids['models'][1]}/delete").status_code == 400


def test_start_refusal_without_javascript_shows_the_form_again(user, token, penguins):
    r = user.post(f"/datasets/{penguins}/train",
                  data={"target": "species", "metric": "r2", "time_budget_s": "15", "csrf_token": token})
    assert r.status_code == 422 and is_page(r.text) and 'id="start-result"' in r.text
    assert '<option value="species" selected>' in r.text


def test_start_refusals_show_in_place(user, token, penguins):
    r = post_hx(user, f"/datasets/{penguins}/train", token,
                {"target": "species", "metric": "r2", "time_budget_s": "15"})
    assert r.status_code == 422 and not is_page(r.text) and "error-message" in r.text
    r = post_hx(user, f"/datasets/{penguins}/train", token, {"target": "species", "time_budget_s": "2"})
    assert r.status_code == 422 and "Time budget: Must be greater than or equal to 5" in r.text


def test_start_opens_the_job_and_a_twin_links_to_it(user, token, penguins, tracking):
    data = {"target": "species", "time_budget_s": "30", "models": "decision_tree"}
    r = post_hx(user, f"/datasets/{penguins}/train", token, data)
    assert r.status_code == 200, r.text
    job_url = r.headers["HX-Redirect"]
    assert job_url.startswith("/jobs/")
    twin = post_hx(user, f"/datasets/{penguins}/train", token, data)
    if twin.status_code == 409:  # still queued or running (the usual case)
        assert f'href="{job_url}"' in twin.text
        cancelled = post_hx(user, f"{job_url}/cancel", token)
        assert cancelled.status_code in (200, 409)
        if cancelled.status_code == 200:  # the final state: no trigger, a Retry button
            assert not is_page(cancelled.text) and 'data-status="cancelled"' in cancelled.text
            assert "hx-trigger" not in cancelled.text and 'id="retry-button"' in cancelled.text
            retried = post_hx(user, f"{job_url}/retry", token)
            assert retried.headers["HX-Redirect"].startswith("/jobs/") and retried.headers["HX-Redirect"] != job_url
            post_hx(user, f"{retried.headers['HX-Redirect']}/cancel", token)
    else:  # it already finished: a new job is fine
        assert twin.status_code == 200


# --- job page ---------------------------------------------------------------------------------

def test_running_job_polls_itself_and_the_fragment_alone_for_htmx(user, app, user_id, penguins):
    job_id = add_job(app, user_id, penguins, status="running",
                     progress={"fraction": 0.4, "candidates_done": 3, "best_score": 0.9512,
                               "remaining_s": 8.0, "message": "Trying random forest"})["job"]
    page = user.get(f"/jobs/{job_id}")
    assert is_page(page.text) and 'hx-trigger="load delay:1s"' in page.text
    fragment = user.get(f"/jobs/{job_id}", headers=HX)
    assert not is_page(fragment.text) and "HX-Request" in fragment.headers["Vary"]
    html = fragment.text
    assert 'hx-trigger="load delay:1s"' in html and 'hx-target="this"' in html and 'hx-swap="outerHTML"' in html
    assert 'value="40"' in html and 'id="candidates-done">3<' in html and "0.9512" in html
    assert "8.0 s" in html and "Trying random forest" in html and 'id="cancel-button"' in html
    restore = user.get(f"/jobs/{job_id}", headers={**HX, "HX-History-Restore-Request": "true"})
    assert is_page(restore.text)


def test_finished_job_shows_the_leaderboard_without_polling(user, app, user_id, penguins):
    ids = add_job(app, user_id, penguins)
    html = user.get(f"/jobs/{ids['job']}", headers=HX).text
    assert "hx-trigger" not in html and 'id="leaderboard"' in html
    assert f'href="/models/{ids["models"][0]}"' in html and f'href="/models/{ids["models"][1]}"' in html
    assert "0.9700" in html and 'id="retry-button"' not in html


def test_failed_job_offers_retry(user, app, user_id, penguins, token):
    job_id = add_job(app, user_id, penguins, status="failed", error="Every candidate failed.")["job"]
    html = user.get(f"/jobs/{job_id}").text
    assert "Every candidate failed." in html and 'id="retry-button"' in html and "hx-trigger" not in html


def test_another_users_job_and_models_are_404(client, app, make_user, login, penguins, user_id, token):
    ids = add_job(app, user_id, penguins)
    client.post("/auth/logout", data={"csrf_token": token})
    make_user("bob@example.com")
    login("bob@example.com")
    bob = csrf_token_from(client.get("/").text)
    model = ids["models"][0]
    for url in (f"/jobs/{ids['job']}", f"/models/{model}", f"/models/{model}/export",
                f"/datasets/{penguins}/train"):
        assert client.get(url).status_code == 404, url
    for url in (f"/jobs/{ids['job']}/cancel", f"/jobs/{ids['job']}/retry", f"/models/{model}/promote",
                f"/models/{model}/delete", f"/datasets/{penguins}/train/preview"):
        assert post_hx(client, url, bob, {"target": "species"}).status_code == 404, url
    assert "Logistic regression" not in client.get("/models").text
    assert "parent-run-1" not in client.get("/experiments").text


# --- models and experiments -------------------------------------------------------------------

def test_models_list_and_model_page(user, app, user_id, penguins):
    ids = add_job(app, user_id, penguins)
    listing = user.get("/models").text
    assert "Logistic regression" in listing and "Decision tree" in listing and "champion" in listing
    html = user.get(f"/models/{ids['models'][0]}").text
    assert "Much better than guessing." in html and 'id="confusion-matrix"' in html
    assert "data-training-chart=" in html and 'id="importance-chart"' in html
    assert '<section id="predict">' in html and 'id="predict-unavailable"' in html  # no saved files: no form
    assert f'href="/models/{ids["models"][0]}/export"' not in html  # no saved files: no export link


def test_promote_and_delete(user, app, user_id, penguins, token):
    ids = add_job(app, user_id, penguins)
    second = ids["models"][1]
    r = post_hx(user, f"/models/{second}/promote", token)
    assert r.headers["HX-Redirect"] == f"/models/{second}"
    assert 'id="champion-badge"' in user.get(f"/models/{second}").text
    assert 'id="champion-badge"' not in user.get(f"/models/{ids['models'][0]}").text
    r = user.post(f"/models/{second}/delete", data={"csrf_token": token})
    assert r.status_code == 303 and r.headers["Location"].endswith("/models")
    assert user.get(f"/models/{second}").status_code == 404
    assert 'id="champion-badge"' in user.get(f"/models/{ids['models'][0]}").text


def test_experiments_compare_the_best_models(user, app, user_id, penguins):
    ids = add_job(app, user_id, penguins)
    html = user.get("/experiments").text
    assert "parent-run-1" in html and f'href="/jobs/{ids["job"]}"' in html
    assert "data-chart=" in html and "Logistic regression" in html and "127.0.0.1:5000" in html


def test_pages_need_login(client):
    for url in ("/models", "/experiments", "/jobs/1", "/models/1", "/datasets/1/train"):
        assert client.get(url).status_code == 302, url


def test_a_family_not_offered_for_this_many_rows_is_shown_disabled_with_its_limit(
        user, token, penguins, monkeypatch):
    import dataclasses

    from app.ml.training.families import FAMILIES
    r = post_hx(user, f"/datasets/{penguins}/train/preview", token, {"target": "species"})
    assert 'id="family-k_nearest_neighbors" >' in r.text and "offered up to" not in r.text
    knn = FAMILIES["classification"]["k_nearest_neighbors"]
    monkeypatch.setitem(FAMILIES["classification"], "k_nearest_neighbors",
                        dataclasses.replace(knn, max_rows=100))
    r = post_hx(user, f"/datasets/{penguins}/train/preview", token, {"target": "species"})
    assert 'id="family-k_nearest_neighbors" disabled>' in r.text
    assert "k-nearest neighbours <small class=\"muted\">(offered up to 100 rows)</small>" in r.text
    assert 'id="family-logistic_regression" >' in r.text
