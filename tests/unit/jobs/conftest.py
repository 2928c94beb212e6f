"""Fixtures for the job framework: a user, job rows in any state, fast settings."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.models.user import utcnow


@pytest.fixture
def app(make_config):
    """The app with fast job settings and no job processes started by refresh()."""
    from app import create_app
    from app.extensions import db

    app = create_app(make_config(
        JOB_HEARTBEAT_INTERVAL_S=0.1, JOB_HEARTBEAT_TIMEOUT_S=5.0, JOB_PROGRESS_MIN_INTERVAL_S=0.5,
        JOB_CANCEL_GRACE_S=0.5, JOB_KILL_GRACE_S=0.5, JOB_MAX_CONCURRENT=0,
    ))
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def user_id(make_user):
    return make_user()[0]


@pytest.fixture
def make_job(app, user_id):
    """Insert a job row directly: make_job(status="running", heartbeat_age_s=60, ...)."""
    from app.extensions import db
    from app.jobs.service import request_key
    from app.models.job import Job

    def factory(kind="unit_echo", request=None, status="queued", heartbeat_age_s=None, **fields):
        request = request if request is not None else {"n": 1}
        now = utcnow()
        if heartbeat_age_s is not None:
            fields.setdefault("heartbeat_at", now - timedelta(seconds=heartbeat_age_s))
            fields.setdefault("started_at", now - timedelta(seconds=heartbeat_age_s))
        with app.app_context():
            job = Job(user_id=user_id, kind=kind, request=request, status=status,
                      request_key=request_key(user_id, kind, request), **fields)
            db.session.add(job)
            db.session.commit()
            return job.id
    return factory
