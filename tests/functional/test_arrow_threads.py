"""Arrow's CPU pool is sized by the app, not by OMP_NUM_THREADS (which web processes set to 1)."""

import os

import pyarrow as pa
import pytest

from app import create_app
from app.extensions import db


@pytest.fixture
def restore_arrow_pool():
    before = pa.cpu_count()
    yield
    pa.set_cpu_count(before)


def _created(config):
    app = create_app(config)
    with app.app_context():
        db.engine.dispose()
    return pa.cpu_count()


def test_every_core_by_default_even_after_arrow_sized_itself_from_openmp(make_config, monkeypatch,
                                                                           restore_arrow_pool):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setattr(os, "cpu_count", lambda: 6)
    pa.set_cpu_count(1)  # what Arrow makes of OMP_NUM_THREADS=1 in a gunicorn worker
    assert _created(make_config()) == 6


def test_arrow_threads_setting(make_config, restore_arrow_pool):
    pa.set_cpu_count(1)
    assert _created(make_config(ARROW_THREADS=3)) == 3


@pytest.mark.parametrize(("config", "arrow"), [({"JOB_THREADS": 1}, 1), ({"JOB_THREADS": 3, "ARROW_THREADS": 2}, 2)])
def test_a_job_process_bounds_arrow_by_its_job_threads(restore_arrow_pool, config, arrow):
    """create_app gives Arrow every core; a job limited to JOB_THREADS keeps Arrow within it too
    (unless ARROW_THREADS says otherwise)."""
    from threadpoolctl import threadpool_info, threadpool_limits

    from app.jobs.settings import use_job_threads

    pa.set_cpu_count(6)
    with threadpool_limits(None):  # undo the global limit after the test
        assert use_job_threads(config) == config["JOB_THREADS"]
        assert pa.cpu_count() == arrow
        assert all(pool["num_threads"] == config["JOB_THREADS"] for pool in threadpool_info())
