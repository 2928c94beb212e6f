"""Request statistics: batched writes, one row per process and minute, summed across processes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app import create_app


@pytest.fixture(autouse=True)
def one_minute(monkeypatch):
    """Every request of a test falls in one minute (a test crossing a minute would write two rows)."""
    from app.blueprints.monitoring import request_stats

    now = request_stats.epoch_minute()
    monkeypatch.setattr(request_stats, "epoch_minute", lambda moment=None: now)


def rows_and_total(app):
    from app.extensions import db
    from app.models import RequestStat

    with app.app_context():
        return (db.session.scalar(select(func.count()).select_from(RequestStat)),
                db.session.scalar(select(func.coalesce(func.sum(RequestStat.count), 0))))


def test_requests_are_written_in_batches_not_one_by_one(app, client):
    from app.blueprints.monitoring.request_stats import flush

    for _ in range(4):
        client.get("/auth/login")
    assert rows_and_total(app) == (0, 0)  # nothing written by the requests themselves
    with app.app_context():
        assert flush() == 1
    assert rows_and_total(app) == (1, 4)
    client.get("/auth/login")
    with app.app_context():
        flush()
        assert flush() == 0  # nothing changed since
    assert rows_and_total(app) == (1, 5)  # the process's row is overwritten with the new total


def test_health_metrics_and_static_are_not_counted(app, client):
    from app.blueprints.monitoring.request_stats import flush

    for path in ("/healthz", "/readyz", "/metrics", "/static/css/app.css"):
        client.get(path)
    with app.app_context():
        flush()
    assert rows_and_total(app) == (0, 0)


def test_two_processes_sharing_one_database_are_summed(app, client, make_config, make_user):
    """Two app instances (as two gunicorn workers) each write their own rows; readers add them up."""
    from app.blueprints.monitoring import service
    from app.blueprints.monitoring.request_stats import flush, stats_buffer
    from app.extensions import db
    from app.models import User

    other = create_app(make_config())
    other_client = other.test_client()
    user_id, _ = make_user(admin=True)
    for _ in range(3):
        client.get("/auth/login")
    for _ in range(2):
        other_client.get("/auth/login")
    other_client.get("/no-such-page")
    with other.app_context():
        stats_buffer().add_prediction(user_id, 41, 10, 12.0)
    for each in (app, other):
        with each.app_context():
            flush()
    rows, total = rows_and_total(app)
    assert rows == 3 and total == 6  # login in each process, the 404 in the second

    with app.app_context():
        figures = service.http_figures(None)
        assert figures["requests"] == 6 and figures["errors_4xx"] == 1
        assert sum(m["requests"] for m in figures["series"]) == 6
        admin = db.session.get(User, user_id)
        assert service.http_figures(admin)["requests"] == 0  # those were anonymous
    with other.app_context():
        assert service.http_figures(None)["requests"] == 6  # the same from the other process
        db.session.remove()
        db.engine.dispose()


def test_a_reader_sees_its_own_process_before_the_write(app, client, make_user):
    from app.blueprints.monitoring import service
    from app.blueprints.monitoring.request_stats import flush

    client.get("/auth/login")
    with app.app_context():
        flush()
    client.get("/auth/login")  # written row + newer total in memory: counted once, with the new total
    client.get("/auth/register")  # only in memory
    with app.app_context():
        assert service.http_figures(None)["requests"] == 3


def test_old_rows_are_pruned(app):
    from app.blueprints.monitoring.request_stats import prune
    from app.extensions import db
    from app.models import RequestStat
    from app.models.user import utcnow

    with app.app_context():
        for age in (timedelta(days=8), timedelta(minutes=5)):
            db.session.add(RequestStat(minute=utcnow() - age, url_rule="/", method="GET", status_class=2,
                                       count=1, sum_ms=1.0, max_ms=1.0, buckets=[1]))
        db.session.commit()
        prune(7)
        assert db.session.scalar(select(func.count()).select_from(RequestStat)) == 1


def test_a_forked_worker_starts_without_its_parents_cells(monkeypatch):
    """gunicorn --preload forks after the app is built: a child must not write its parent's counts again."""
    import os

    from app.blueprints.monitoring.request_stats import StatsBuffer

    buffer = StatsBuffer()
    buffer.add_request(None, "/", "GET", 200, 5.0)
    assert len(buffer.pending("requests")) == 1
    parent = os.getpid()
    monkeypatch.setattr(os, "getpid", lambda: parent + 1)
    assert buffer.pending("requests") == []
    buffer.add_request(None, "/", "GET", 500, 5.0)
    (_, row_id, values), = buffer.pending("requests")
    assert row_id is None and values["count"] == 1 and values["status_class"] == 5


def test_predictions_outside_a_request_belong_to_the_models_owner(app, make_user):
    """Batch scoring runs as a job: no request, so the owner is read from the model."""
    from app.blueprints.monitoring.request_stats import record_prediction, stats_buffer
    from tests.functional.test_metrics_api import add_rows

    user, _ = make_user(admin=False)
    (model,) = add_rows(app, user, models=1)
    with app.app_context():
        record_prediction(model, 250, 1.5)
        (_, _, values), = stats_buffer().pending("predictions")
    assert values["user_id"] == user and values["model_id"] == model and values["rows"] == 250
    assert values["calls"] == 1 and values["max_ms"] == 1500


def test_a_process_that_served_nothing_exits_quietly_without_tables(make_config, tmp_path, caplog):
    """A CLI command or script builds the app, serves nothing and exits: the exit hook has
    nothing to write and must not touch the database (here one with no tables at all)."""
    from app.blueprints.monitoring.request_stats import write_at_exit

    config = make_config(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'never-migrated.db'}")
    write_at_exit(create_app(config))
    assert "could not write request statistics" not in caplog.text
