"""Job state writes are short transactions: 20 jobs beating at once get no "database is locked".

On SQLite (embedded mode) this relies on WAL and the busy timeout set by create_app;
on PostgreSQL (TEST_POSTGRES_URL) the same writes race on row conditions only.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import unit_job_functions  # noqa: F401  (registers the unit_* kinds)
from sqlalchemy import func, select

from app.extensions import db
from app.jobs import store
from app.jobs.worker import recover_once
from app.models.job import Job

WRITERS = 20


def test_twenty_jobs_claim_beat_and_finish_at_once(app, make_job):
    ids = [make_job(kind="unit_echo", request={"n": i}) for i in range(WRITERS)]
    with app.app_context():
        engine = db.engine
        if engine.dialect.name == "sqlite":
            with engine.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
                assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000

        def one_job(job_id: int) -> bool:
            assert store.claim(engine, job_id, f"w{job_id}@host")
            for beat in range(10):
                assert store.beat(engine, job_id, {"fraction": beat / 10, "candidates_done": beat})
            return store.finish(engine, job_id, "succeeded", result={"ok": True})

        def recoverer(_):
            for _ in range(5):
                recover_once(app)  # reads and conditional writes beside the beats

        with ThreadPoolExecutor(max_workers=WRITERS + 1) as pool:
            recovering = pool.submit(recoverer, None)
            finished = list(pool.map(one_job, ids))
            recovering.result()
        assert finished == [True] * WRITERS
        done = db.session.scalar(select(func.count()).where(Job.id.in_(ids), Job.status == "succeeded"))
        assert done == WRITERS
